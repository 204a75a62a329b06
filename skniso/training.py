"""The one training loop shared by every skniso estimator.

Estimators inherit :class:`TrainedModuleMixin` and fill in hooks:

* ``_training_step(module, indices, data, generator)`` returns a dict of losses
  whose ``"loss"`` entry is minimised (the module is in eval mode when the same
  hook computes a validation loss, so dropout-like terms should follow
  ``module.training``);
* optionally ``_configure_optimizer(module)``, ``_validation_loss(module,
  indices, data)``, ``_modules_to_compile(module)`` and ``_on_step_end(record)``.

The loop samples batches of indices from a local generator and steps AdamW under
a warmup-then-cosine learning rate.  Around that it offers what users of a deep
learning estimator expect: progress output, a validation split with early
stopping, gradient clipping, mixed precision, ``torch.compile``, warm starts,
``partial_fit``, checkpoints that resume the same run, divergence handling, clean
Ctrl-C, and data-parallel training when a ``torch.distributed`` process group is
initialised (under ``torchrun``).

Fitting is atomic: if it fails (bad input, divergence) the estimator is restored
to the state it had before ``fit`` was called.  A KeyboardInterrupt during the
optimisation is the exception: training stops, and the estimator is fitted with
the steps done so far.
"""

import contextlib
import copy
import hashlib
import inspect
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np
import torch

from .utils import resolve_device, warn_device_fallback

# The loop's clock (history times and max_time); a module attribute so tests can replace it.
_clock = time.perf_counter

__all__ = [
    "TrainedModuleMixin",
    "warmup_cosine_lr",
    "DivergenceError",
    "DivergenceWarning",
    "TrainingInterruptedWarning",
    "TRAINING_PARAMETERS_DOC",
]

CHECKPOINT_FORMAT = 1

_PRECISIONS = {"32": None, "bf16": torch.bfloat16, "16-mixed": torch.float16}

# Parameters that may change between an interrupted run and its resumption.
_RUN_CONTROL_PARAMETERS = frozenset({
    "verbose", "checkpoint_path", "checkpoint_interval", "max_steps", "warm_start",
    "device", "compile", "on_divergence", "n_iter_no_change", "max_time",
})

# The loop's parameters beyond max_steps, batch_size, lr, weight_decay, warmup_steps,
# device, random_state and verbose, in the order every estimator takes them.
_LOOP_PARAMETERS = (
    "validation_fraction", "n_iter_no_change", "tol", "validation_interval", "grad_clip_norm",
    "warm_start", "checkpoint_path", "checkpoint_interval", "on_divergence", "precision",
    "compile", "max_time",
)

# An estimator documents the parameters of _LOOP_PARAMETERS with this line in its
# docstring's Parameters section; TrainedModuleMixin puts TRAINING_PARAMETERS_DOC there.
_TRAINING_PARAMETERS_PLACEHOLDER = "%(training_parameters)s"

TRAINING_PARAMETERS_DOC = """\
validation_fraction : float in (0, 1) or None, default=None
        Hold out this fraction of the training samples; their loss is evaluated
        every ``validation_interval`` steps, training stops once it has not
        improved by ``tol`` for ``n_iter_no_change`` evaluations, and the best
        weights are restored.  Ignored by ``partial_fit``.
    n_iter_no_change : int, default=10
        Evaluations without improvement before early stopping.
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as improvement.
    validation_interval : int, default=100
        Steps between validation evaluations.
    grad_clip_norm : float or None, default=None
        Clip the gradients' global L2 norm to this value before each step.
    warm_start : bool, default=False
        If fitted, ``fit`` continues the same run (weights, optimiser and random
        state) up to ``max_steps`` steps in total instead of starting afresh.
    checkpoint_path : str, path-like or None, default=None
        Save the run (weights, optimiser, random state, step, history) here every
        ``checkpoint_interval`` steps and at the end.  If the file exists when
        ``fit`` starts, training resumes from it and continues the same run; a
        checkpoint written by other parameters or data is refused (so give each
        fit its own path, and none inside a parameter search).
    checkpoint_interval : int, default=500
        Steps between checkpoints.
    on_divergence : {"raise", "restore"}, default="raise"
        On a non-finite loss or gradient: ``"raise"`` a :class:`DivergenceError`
        naming the step (a previous fit is kept), or ``"restore"``: stop, keep
        the last finite state and warn with a :class:`DivergenceWarning`.
    precision : {"32", "bf16", "16-mixed"}, default="32"
        Training precision: float32, bfloat16 autocast (CPU or GPU), or float16
        autocast with gradient scaling (CUDA only).  Weights stay float32 and
        inference runs in float32.
    compile : bool or dict, default=False
        ``torch.compile`` the modules for training; a dict is passed to
        ``torch.compile`` as keyword arguments (``{"mode": "max-autotune"}``).
        The compiled wrappers are dropped after ``fit``, so pickles hold plain
        modules and inference runs eagerly.
    max_time : float or None, default=None
        Stop after this many seconds of training in one ``fit`` call, even
        before ``max_steps`` (the learning-rate schedule still follows
        ``max_steps``).  For fixed time budgets; the number of steps then depends
        on the machine, so such a fit is not reproducible step for step.
        ``stop_reason_`` is ``"max_time"``, and ``warm_start`` can continue it."""


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss."""


class DivergenceWarning(UserWarning):
    """Training diverged and the last finite state was kept (``on_divergence="restore"``)."""


class TrainingInterruptedWarning(UserWarning):
    """A KeyboardInterrupt stopped training; the model holds the steps done so far."""


def warmup_cosine_lr(step, *, peak, warmup_steps, total_steps, final_ratio=0.1):
    """Learning rate at ``step``: linear warmup to ``peak``, then cosine decay.

    The cosine runs from ``peak`` at the end of warmup to ``final_ratio * peak``
    at ``total_steps`` (the reference's warmup-cosine schedule, compressed to
    the run's length), and stays there beyond it.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return peak * (final_ratio + (1.0 - final_ratio) * cosine)


def _cpu_copy(state):
    """A detached CPU copy of a (nested) state dict."""
    if torch.is_tensor(state):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {key: _cpu_copy(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu_copy(value) for value in state)
    return copy.deepcopy(state)


def _data_digest(data):
    """A fingerprint of the training tensors, so a checkpoint is only resumed on its data."""
    digest = hashlib.blake2b(digest_size=16)
    for tensor in data if isinstance(data, (tuple, list)) else (data,):
        array = np.ascontiguousarray(tensor.detach().cpu().numpy())
        digest.update(str((array.shape, array.dtype)).encode())
        digest.update(array.data)
    return digest.hexdigest()


def _distributed_world():
    """(rank, world size) of an initialised torch.distributed group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _scalar_losses(losses, world):
    """The scalar entries of a step's losses as floats, averaged over distributed ranks."""
    names = [key for key, value in losses.items() if torch.is_tensor(value) and value.dim() == 0]
    values = torch.stack([losses[key].detach().float() for key in names])
    if world > 1:
        # Each rank saw its share of the batch: the mean is the global batch's loss.
        torch.distributed.all_reduce(values)
        values = values / world
    return dict(zip(names, values.tolist()))


class _StepModule(torch.nn.Module):
    """Runs the estimator's training step as ``forward`` so that DDP can wrap it."""

    def __init__(self, module, step):
        super().__init__()
        self.module = module
        self.step = step
        self.inputs = None

    def forward(self):
        return self.step(self.module, *self.inputs)


class _ProgressLog:
    """A tqdm bar and a compact table of about 20 rows on stderr (``verbose > 0``)."""

    def __init__(self, name, start, total, enabled):
        self.enabled = enabled
        self.total = total
        self.every = max(1, total // 20)
        self.columns = None
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.write = tqdm.write
            self.bar = tqdm(total=total, initial=start, desc=name, file=sys.stderr,
                            leave=False, dynamic_ncols=True)

    def update(self, record):
        if not self.enabled:
            return
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
        step = record["step"]
        if step % self.every == 0 or step >= self.total or "validation_loss" in record:
            self._row(record)

    def note(self, text):
        if self.enabled:
            self.write(text, file=sys.stderr)

    def _row(self, record):
        if self.columns is None:
            self.columns = [key for key in record if key not in ("step", "lr", "time")]
            if "validation_loss" not in self.columns:
                self.columns.append("validation_loss")
            self.columns += ["lr", "time"]
            self.widths = [max(len(key), 10) for key in self.columns]
            self.step_width = 2 * len(str(self.total)) + 1
            header = " ".join(key.rjust(w) for key, w in zip(self.columns, self.widths))
            self.note(f"{'step'.rjust(self.step_width)} {header}")
        cells = []
        for key, width in zip(self.columns, self.widths):
            value = record.get(key)
            if value is None:
                text = "-"
            elif key == "time":
                text = f"{value:.1f}s"
            else:
                text = f"{value:.4g}"
            cells.append(text.rjust(width))
        step = f"{record['step']}/{self.total}".rjust(self.step_width)
        self.note(f"{step} {' '.join(cells)}")

    def close(self):
        if self.bar is not None:
            self.bar.close()


class TrainedModuleMixin:
    """Shared fitting machinery for estimators built around torch modules.

    Subclasses declare the names of their fitted ``nn.Module`` attributes in
    ``_module_attributes`` (the first one is the module that is trained) so that
    pickling can move them to the CPU.  They take every training parameter as
    a keyword of ``__init__`` (max_steps, batch_size, lr, weight_decay,
    warmup_steps, device, random_state, verbose, then the loop's options in the
    order of :data:`TRAINING_PARAMETERS_DOC`), and document the loop's options
    with the line ``%(training_parameters)s`` in their docstring, which is
    replaced by that block when the class is created.

    The loop does not check the training parameters itself: subclasses merge
    :data:`skniso._validation.TRAINING_PARAMETER_CONSTRAINTS` into their
    ``_parameter_constraints`` and validate them when fitting starts
    (``_fit_context``; ``partial_fit`` calls ``_validate_params`` every time).
    """

    _module_attributes = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and _TRAINING_PARAMETERS_PLACEHOLDER in cls.__doc__:
            cls.__doc__ = cls.__doc__.replace(_TRAINING_PARAMETERS_PLACEHOLDER, TRAINING_PARAMETERS_DOC)

    # -- hooks ---------------------------------------------------------------
    def _configure_optimizer(self, module):
        return torch.optim.AdamW(
            module.parameters(),
            lr=self.lr,
            betas=(0.9, 0.999),
            eps=1e-8,
            weight_decay=self.weight_decay,
        )

    def _training_step(self, module, indices, data, generator):  # pragma: no cover
        raise NotImplementedError

    def _validation_loss(self, module, indices, data):
        """Mean loss of the training step over ``indices``, in eval mode, without gradients.

        A fixed generator makes any random draws of the step (views drawn by a
        transform, say) the same at every evaluation, so evaluations compare.
        """
        generator = torch.Generator().manual_seed(0)
        total = 0.0
        with torch.no_grad():
            for chunk in indices.split(self.batch_size):
                losses = self._training_step(module, chunk, data, generator)
                total += float(losses["loss"]) * len(chunk)
        return total / len(indices)

    def _modules_to_compile(self, module):
        """The submodules ``compile=True`` compiles (whole-module by default)."""
        return [module]

    def _on_step_end(self, record):
        """Called after every optimiser step with that step's history row."""

    # -- parameters ----------------------------------------------------------
    def _training_options(self):
        """The loop's parameters (those of :data:`TRAINING_PARAMETERS_DOC`) by name.

        Every estimator takes them all; models pickled before an estimator took
        some get their defaults from ``__setstate__``.
        """
        return {name: getattr(self, name) for name in _LOOP_PARAMETERS}

    # -- starting or continuing a run -----------------------------------------
    def _continues_run(self, partial):
        """Whether this fit continues the fitted run (``partial_fit`` or ``warm_start``)."""
        fitted = getattr(self, self._module_attributes[0], None)
        return fitted is not None and (partial or self.warm_start)

    def _start_module(self, build, layout, device, *, partial=False):
        """The module to train: the fitted one when continuing a run, else ``build()``.

        A run continues under ``warm_start=True`` and in ``partial_fit``, provided
        the estimator is fitted; ``layout`` describes the data (shapes, classes)
        and must match the fitted one.
        """
        if not self._continues_run(partial):
            return build()
        fitted = getattr(self, self._module_attributes[0])
        if layout != getattr(self, "_fit_layout_signature", layout):
            raise ValueError(
                f"cannot continue training on data of another layout: the model was fitted "
                f"on {self._fit_layout_signature}, this data is {layout}; set warm_start=False "
                "to start afresh"
            )
        return fitted.to(device)

    # -- the loop ------------------------------------------------------------
    def _train(self, module, data, n_samples, generator, *, layout=None, partial=False):
        """Optimise ``module`` and return the history (list of dicts).

        Sets ``n_steps_``, ``stop_reason_``, ``best_validation_loss_`` and
        ``best_step_``, and keeps the run's state for warm starts.
        """
        options = self._training_options()
        device = next(module.parameters()).device
        rank, world = _distributed_world()
        state, history, continuing = self._initial_run_state(module, generator, partial)

        precision = _PRECISIONS[options["precision"]]
        if options["precision"] == "16-mixed" and device.type != "cuda":
            raise ValueError(
                "precision='16-mixed' needs a CUDA device (float16 autocast with gradient "
                f"scaling); the model is on {device.type}: use precision='bf16' or '32'"
            )
        if world > 1 and self.batch_size % world:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by the {world} distributed "
                "processes, which each take an equal share of every batch"
            )
        optimizer = self._configure_optimizer(module)
        scaler = torch.amp.GradScaler(device.type, enabled=options["precision"] == "16-mixed")
        checkpoint_path = options["checkpoint_path"]
        fingerprint = None
        if checkpoint_path is not None:
            fingerprint = self._fingerprint(data, n_samples)
            if not continuing and os.path.exists(checkpoint_path):
                state, history = self._load_checkpoint(checkpoint_path, fingerprint, module)
                continuing = True
        if continuing:
            # Pickles made with warm_start=False carry no optimiser state: start it afresh.
            if state.get("optimizer") is not None:
                optimizer.load_state_dict(state["optimizer"])
            if state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            generator.set_state(state["generator"])

        train_indices, valid_indices = None, None
        if options["validation_fraction"] is not None and not partial:
            train_indices, valid_indices = self._validation_split(
                options["validation_fraction"], n_samples, state["seed"]
            )
        n_train = n_samples if train_indices is None else len(train_indices)
        batch_size = min(self.batch_size, n_train)
        if world > 1:
            batch_size -= batch_size % world

        start_step = state["step"]
        if partial:
            end_step = start_step + max(1, math.ceil(n_samples / batch_size))
        else:
            end_step = self.max_steps
        if state["stopped"] == "early_stopping" and not partial:
            end_step = start_step
        if continuing and end_step <= start_step:
            warnings.warn(
                f"{type(self).__name__} already ran {start_step} steps of max_steps={self.max_steps}"
                + (" and stopped early" if state["stopped"] == "early_stopping" else "")
                + "; nothing to continue (raise max_steps to train longer)",
                UserWarning,
                stacklevel=4,
            )

        autocast = (
            (lambda: torch.autocast(device.type, dtype=precision))
            if precision is not None else contextlib.nullcontext
        )
        log = _ProgressLog(type(self).__name__, start_step, end_step, bool(self.verbose) and rank == 0)
        step = start_step
        stop_reason = "max_steps" if state["stopped"] is None else state["stopped"]
        started = _clock()
        elapsed_before = history[-1]["time"] if history else 0.0
        module.train()
        try:
            compiled = self._modules_to_compile(module) if options["compile"] else []
            compile_options = options["compile"] if isinstance(options["compile"], dict) else {}
            for sub in compiled:
                sub.compile(**compile_options)
            step_fn, step_generator = self._training_step, generator
            if world > 1:
                # All ranks draw the same global batch from ``generator``; a rank's
                # own draws (views, dropout) come from a generator of its own.
                step_generator = torch.Generator().manual_seed(
                    (state["seed"] * 1000003 + 7919 * (rank + 1) + start_step) % (2**63)
                )
                wrapper = _StepModule(module, self._training_step)
                ddp = torch.nn.parallel.DistributedDataParallel(
                    wrapper, device_ids=[device.index] if device.type == "cuda" else None
                )

                def distributed_step(_, indices, data, step_generator):
                    wrapper.inputs = (indices.chunk(world)[rank], data, step_generator)
                    return ddp()

                step_fn = distributed_step
            while step < end_step:
                lr = warmup_cosine_lr(
                    step,
                    peak=self.lr,
                    warmup_steps=min(self.warmup_steps, self.max_steps // 2),
                    total_steps=self.max_steps,
                )
                for group in optimizer.param_groups:
                    # A group may ask for a fixed fraction of the schedule (fine-tuning).
                    group["lr"] = lr * group.get("lr_scale", 1.0)
                draw = torch.randperm(n_train, generator=generator)[:batch_size]
                indices = draw if train_indices is None else train_indices[draw]
                scalars, grad_norm, problem = self._optimizer_step(
                    module, optimizer, scaler, lambda: step_fn(module, indices, data, step_generator),
                    autocast, world, options,
                )
                if problem is not None:
                    if options["on_divergence"] == "raise":
                        raise DivergenceError(self._divergence_message(step, problem))
                    optimizer.zero_grad(set_to_none=True)
                    warnings.warn(
                        self._divergence_message(step, problem)
                        + f"; stopped and kept the state after step {step}",
                        DivergenceWarning,
                        stacklevel=4,
                    )
                    stop_reason = "divergence"
                    break
                step += 1
                record = {"step": step, "lr": lr}
                record.update(scalars)
                if grad_norm is not None:
                    record["grad_norm"] = grad_norm
                if valid_indices is not None and (step % options["validation_interval"] == 0 or step == end_step):
                    if self._evaluate(module, valid_indices, data, state, step, record, options):
                        stop_reason = "early_stopping"
                record["time"] = elapsed_before + _clock() - started
                history.append(record)
                log.update(record)
                self._on_step_end(record)
                if stop_reason == "early_stopping":
                    log.note(f"early stopping at step {step}: no improvement over "
                             f"{state['best_loss']:.4g} (step {state['best_step']}) for "
                             f"{options['n_iter_no_change']} evaluations")
                    break
                if self._out_of_time(options["max_time"], started, world, device) and step < end_step:
                    stop_reason = "max_time"
                    log.note(f"stopped at step {step}: max_time={options['max_time']} s reached")
                    break
                if checkpoint_path is not None and step % options["checkpoint_interval"] == 0 and step < end_step:
                    state["step"] = step
                    self._save_checkpoint(checkpoint_path, module, optimizer, scaler, generator,
                                          state, history, fingerprint, rank)
        except KeyboardInterrupt:
            if step == start_step and not continuing:
                raise  # nothing trained: the atomic fit restores the previous state
            stop_reason = "interrupted"
            warnings.warn(
                f"{type(self).__name__}: KeyboardInterrupt after step {step} of {end_step}; "
                f"training stopped and the model holds the state after step {step}"
                + (" (best validation weights restored)" if state["best_module"] is not None else ""),
                TrainingInterruptedWarning,
                stacklevel=4,
            )
        finally:
            log.close()
            for sub in module.modules():
                if getattr(sub, "_compiled_call_impl", None) is not None:
                    sub._compiled_call_impl = None  # never pickle the compiled wrapper
            optimizer.zero_grad(set_to_none=True)
            module.eval()

        if state["best_module"] is not None and state["best_step"] != step:
            module.load_state_dict(state["best_module"])
        bad = [name for name, p in module.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(
                f"{type(self).__name__}: parameters {bad[:3]} became non-finite by step {step}; "
                f"lower lr (now {self.lr}), set grad_clip_norm, or use on_divergence='restore'"
            )
        state["step"] = step
        state["stopped"] = stop_reason if stop_reason == "early_stopping" else None
        if checkpoint_path is not None and stop_reason in ("max_steps", "early_stopping", "max_time") and step > start_step:
            self._save_checkpoint(checkpoint_path, module, optimizer, scaler, generator,
                                  state, history, fingerprint, rank)
        self._remember_run(state, optimizer, scaler, generator, layout, stop_reason)
        return history

    @staticmethod
    def _out_of_time(max_time, started, world, device):
        """Whether the fit's time budget is spent; distributed ranks decide together."""
        if max_time is None:
            return False
        out = _clock() - started >= max_time
        if world > 1:
            # Clocks differ between ranks: stop when any rank is out of time, all at the same step.
            flag = torch.tensor([float(out)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            out = bool(flag.item())
        return out

    def _remember_run(self, state, optimizer, scaler, generator, layout, stop_reason):
        """Keep what a warm start or ``partial_fit`` needs, and set the run's attributes.

        CPU copies, so that pickles stay free of device tensors.
        """
        self._run_state = {
            "step": state["step"], "seed": state["seed"], "stopped": state["stopped"],
            "best_loss": state["best_loss"], "best_step": state["best_step"],
            "bad_evaluations": state["bad_evaluations"], "best_module": None,
            "optimizer": _cpu_copy(optimizer.state_dict()),
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "generator": generator.get_state(),
        }
        if layout is not None:
            self._fit_layout_signature = layout
        self.n_steps_ = state["step"]
        self.stop_reason_ = stop_reason
        self.best_validation_loss_ = state["best_loss"]
        self.best_step_ = state["best_step"]

    def _initial_run_state(self, module, generator, partial):
        """``(state, history, continuing)``: the fitted run's when ``module`` continues it."""
        fitted = getattr(self, self._module_attributes[0], None)
        if module is fitted and hasattr(self, "_run_state"):
            state = dict(self._run_state)
            if not partial:
                # A warm start is a new request to train: fresh early-stopping bookkeeping.
                state.update(stopped=None, best_loss=None, best_step=None, bad_evaluations=0)
            return state, list(self.history_), True
        state = {"step": 0, "seed": generator.initial_seed(), "stopped": None, "best_loss": None,
                 "best_step": None, "bad_evaluations": 0, "best_module": None}
        return state, [], False

    def _optimizer_step(self, module, optimizer, scaler, run_step, autocast, world, options):
        """One forward, backward and update.

        Returns ``(scalar losses, gradient norm or None, problem)``; when
        ``problem`` describes a non-finite loss or gradient, no update was made.
        """
        try:
            with autocast():
                losses = run_step()
        except torch.linalg.LinAlgError:  # an SVD of non-finite values
            return {}, None, "non-finite"
        scalars = _scalar_losses(losses, world)
        if not math.isfinite(scalars["loss"]):
            return scalars, None, scalars["loss"]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["loss"]).backward()
        grad_norm = None
        # "restore" needs the norm to catch a non-finite gradient before it reaches the weights.
        if options["grad_clip_norm"] is not None or options["on_divergence"] == "restore":
            scaler.unscale_(optimizer)
            clip = options["grad_clip_norm"]
            # The norm of what the optimiser updates: frozen parts (fine-tuning) do not count.
            updated = [p for group in optimizer.param_groups for p in group["params"]]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(updated, clip if clip is not None else math.inf))
            # With gradient scaling, overflowing steps are expected: the scaler skips them.
            if not scaler.is_enabled() and not math.isfinite(grad_norm):
                return scalars, grad_norm, f"finite, but its gradient norm is {grad_norm}"
        scaler.step(optimizer)
        scaler.update()
        return scalars, grad_norm, None

    @staticmethod
    def _validation_split(fraction, n_samples, seed):
        """(training indices, validation indices), drawn from the run's seed.

        The split has a generator of its own, so the training batches are those
        of a run without validation, and a resumed or continued run holds out
        the same samples.
        """
        n_valid = int(math.ceil(fraction * n_samples))
        if n_valid >= n_samples:
            raise ValueError(
                f"validation_fraction={fraction} leaves no training samples out of {n_samples}"
            )
        split = torch.Generator().manual_seed((seed * 2654435761 + 97) % (2**63))
        order = torch.randperm(n_samples, generator=split)
        return order[n_valid:], order[:n_valid]

    def _evaluate(self, module, valid_indices, data, state, step, record, options):
        """Record the validation loss; return True when training should stop early."""
        module.eval()
        try:
            loss = self._validation_loss(module, valid_indices, data)
        finally:
            module.train()
        record["validation_loss"] = loss
        best = state["best_loss"]
        improved = best is None or loss < best - options["tol"]
        state["bad_evaluations"] = 0 if improved else state["bad_evaluations"] + 1
        if best is None or loss < best:
            state["best_loss"], state["best_step"] = loss, step
            state["best_module"] = {k: v.detach().clone() for k, v in module.state_dict().items()}
        return state["bad_evaluations"] >= options["n_iter_no_change"]

    def _divergence_message(self, step, loss):
        return (
            f"{type(self).__name__} diverged at step {step + 1}: the loss is {loss}; "
            f"lower lr (now {self.lr}) or check the inputs"
        )

    # -- checkpoints ---------------------------------------------------------
    def _fingerprint(self, data, n_samples):
        """What a checkpoint must share with this fit to be resumed by it."""
        params = {
            name: repr(value)
            for name, value in self.get_params(deep=False).items()
            if name not in _RUN_CONTROL_PARAMETERS
            and (value is None or isinstance(value, (bool, numbers.Number, str, tuple)))
        }
        return {"estimator": type(self).__name__, "params": params,
                "n_samples": int(n_samples), "data": _data_digest(data)}

    def _save_checkpoint(self, path, module, optimizer, scaler, generator, state, history,
                         fingerprint, rank):
        if rank != 0:
            return
        payload = {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": fingerprint,
            "module": _cpu_copy(module.state_dict()),
            "optimizer": _cpu_copy(optimizer.state_dict()),
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "generator": generator.get_state(),
            "state": {key: state[key] for key in
                      ("step", "seed", "stopped", "best_loss", "best_step", "bad_evaluations")},
            "best_module": None if state["best_module"] is None else _cpu_copy(state["best_module"]),
            "history": history,
        }
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        temporary = f"{os.fspath(path)}.tmp"
        torch.save(payload, temporary)
        os.replace(temporary, path)  # never leaves a half-written checkpoint

    def _load_checkpoint(self, path, fingerprint, module):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"checkpoint_path={os.fspath(path)!r} is not a readable skniso checkpoint: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} has format {payload.get('format') if isinstance(payload, dict) else None!r}; "
                f"this version reads format {CHECKPOINT_FORMAT}"
            )
        saved = payload["fingerprint"]
        if saved != fingerprint:
            differing = sorted(
                name for name in set(saved["params"]) | set(fingerprint["params"])
                if saved["params"].get(name) != fingerprint["params"].get(name)
            )
            differing += [key for key in ("estimator", "n_samples", "data") if saved[key] != fingerprint[key]]
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} was written by a fit with other parameters or data "
                f"(differing: {', '.join(differing)}); delete it or choose another checkpoint_path"
            )
        module.load_state_dict(payload["module"])
        device = next(module.parameters()).device
        state = dict(payload["state"])
        state["optimizer"] = payload["optimizer"]
        state["scaler"] = payload["scaler"]
        state["generator"] = payload["generator"]
        best = payload["best_module"]
        state["best_module"] = None if best is None else {k: v.to(device) for k, v in best.items()}
        return state, list(payload["history"])

    @contextlib.contextmanager
    def _atomic_fit(self):
        """Restore the estimator's previous state if fitting fails.

        A KeyboardInterrupt inside the optimisation does not reach here: the loop
        stops and the fit completes with the steps done so far.
        """
        previous = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise

    # -- persistence ---------------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__()
        run = state.get("_run_state")
        if run is not None and run.get("optimizer") is not None and not state.get("warm_start", False):
            # Adam's moments would double or triple the pickle; only a model meant to
            # continue (warm_start=True) keeps them.  partial_fit after loading
            # restarts the optimiser's statistics.
            state["_run_state"] = dict(run, optimizer=None)
        for name in self._module_attributes:
            module = state.get(name)
            if module is not None and any(
                p.device.type != "cpu" for p in module.parameters()
            ):
                state[name] = copy.deepcopy(module).to("cpu")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        # Parameters added after a model was pickled take their defaults.
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not param.empty and name not in self.__dict__:
                self.__dict__[name] = param.default
        device = self.__dict__.get("device_")
        if device is None:
            return
        if device.type == "cuda" and not torch.cuda.is_available():
            warn_device_fallback(device)
            self.device_ = torch.device("cpu")
        for name in self._module_attributes:
            module = self.__dict__.get(name)
            if module is not None:
                module.to(self.device_)

    def _fit_device(self):
        return resolve_device(self.device)
