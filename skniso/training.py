"""The one training loop shared by every skniso estimator.

Estimators inherit :class:`TrainedModuleMixin` and fill in two hooks:

* ``_training_step(module, indices, data, generator)`` returns a dict of losses
  whose ``"loss"`` entry is minimised;
* optionally ``_configure_optimizer(module)`` and ``_on_step_end(record)``.

The loop itself is plain: sample a batch of indices from a local generator, step
AdamW under a warmup-then-cosine learning rate, record a row of ``history_``.
Fitting is atomic: if anything fails (bad input, divergence, Ctrl-C) the
estimator is restored to the state it had before ``fit`` was called.
"""

import contextlib
import copy
import inspect
import math
import sys
import time

import numpy as np
import torch

from .utils import resolve_device, warn_device_fallback

__all__ = ["TrainedModuleMixin", "warmup_cosine_lr", "DivergenceError"]


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss."""


def warmup_cosine_lr(step, *, peak, warmup_steps, total_steps, final_ratio=0.1):
    """Learning rate at ``step``: linear warmup to ``peak``, then cosine decay.

    The cosine runs from ``peak`` at the end of warmup to ``final_ratio * peak``
    at ``total_steps`` (the reference's warmup-cosine schedule, compressed to
    the run's length).
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return peak * (final_ratio + (1.0 - final_ratio) * cosine)


class TrainedModuleMixin:
    """Shared fitting machinery for estimators built around torch modules.

    Subclasses declare the names of their fitted ``nn.Module`` attributes in
    ``_module_attributes`` so that pickling can move them to the CPU.
    """

    _module_attributes = ()

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

    def _on_step_end(self, record):
        """Called after every optimiser step with that step's history row."""
        if self.verbose and (
            record["step"] % max(1, self.max_steps // 20) == 0
            or record["step"] == self.max_steps
        ):
            parts = " ".join(
                f"{key}={value:.4g}"
                for key, value in record.items()
                if key not in ("step",)
            )
            print(f"[{type(self).__name__}] step {record['step']}/{self.max_steps} {parts}",
                  file=sys.stderr, flush=True)

    # -- the loop ------------------------------------------------------------
    def _train(self, module, data, n_samples, generator):
        """Run ``max_steps`` optimiser steps and return the history (list of dicts)."""
        optimizer = self._configure_optimizer(module)
        history = []
        start = time.perf_counter()
        batch_size = min(self.batch_size, n_samples)
        module.train()
        for step in range(self.max_steps):
            lr = warmup_cosine_lr(
                step,
                peak=self.lr,
                warmup_steps=min(self.warmup_steps, self.max_steps // 2),
                total_steps=self.max_steps,
            )
            for group in optimizer.param_groups:
                # A group may ask for a fixed fraction of the schedule (fine-tuning).
                group["lr"] = lr * group.get("lr_scale", 1.0)
            indices = torch.randperm(n_samples, generator=generator)[:batch_size]
            try:
                losses = self._training_step(module, indices, data, generator)
            except torch.linalg.LinAlgError as exc:  # an SVD of non-finite values
                raise DivergenceError(self._divergence_message(step, "non-finite")) from exc
            loss = losses["loss"]
            if not torch.isfinite(loss):
                raise DivergenceError(self._divergence_message(step, loss.item()))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            record = {"step": step + 1, "lr": lr}
            record.update(
                (key, float(value.detach()))
                for key, value in losses.items()
                if torch.is_tensor(value) and value.dim() == 0
            )
            record["time"] = time.perf_counter() - start
            history.append(record)
            self._on_step_end(record)
        module.eval()
        return history

    def _divergence_message(self, step, loss):
        return (
            f"{type(self).__name__} diverged at step {step + 1}: the loss is {loss}; "
            f"lower lr (now {self.lr}) or check the inputs"
        )

    @contextlib.contextmanager
    def _atomic_fit(self):
        """Restore the estimator's previous state if fitting fails for any reason."""
        previous = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise

    def _check_training_params(self):
        for name in ("max_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.warmup_steps, (int, np.integer)) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}")
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating, np.integer)) or not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")

    # -- persistence ---------------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__()
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
