"""FineTunedClassifier: a NIso encoder and an O(K)-invariant head trained jointly."""

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._classification import LogitOutputsMixin, encode_class_labels
from .classifier import channel_scale
from ._validation import TRAINING_PARAMETER_CONSTRAINTS, non_negative_int, non_negative_real, positive_int
from .nn.init import build_module
from .nn.vector_neurons import OrthNet
from .training import TrainedModuleMixin
from .transformer import NeuralIsometryTransformer
from .utils import flatten_samples, torch_generator

__all__ = ["FineTunedClassifier"]


class _EncoderWithHead(nn.Module):
    """Observations → eigenspace latents ΦᵀM E(x) → per-channel scale → invariant head."""

    def __init__(self, model, head, scale):
        super().__init__()
        self.model = model
        self.head = head
        self.register_buffer("scale", scale)

    def forward(self, x):
        return self.head(self.model.to_eigenspace(x) / self.scale)


class FineTunedClassifier(LogitOutputsMixin, TrainedModuleMixin, ClassifierMixin, BaseEstimator):
    """Fine-tune a NIso encoder together with an O(K)-invariant classifier head.

    The paper's SHREC'11 protocol: a :class:`NeuralIsometryTransformer` is
    pre-trained on related views, then its encoder (and, unless frozen, its
    operator's Φ and M) is trained further together with the vector-neuron
    head of :class:`EquivariantClassifier` on labelled observations.  The head
    sees Ê(x) = ΦᵀM E(x), so its predictions stay exactly invariant to any
    orthogonal map of the K axis, while the encoder adapts to the labels.

    Parameters
    ----------
    transformer : NeuralIsometryTransformer or None, default=None
        The encoder to fine-tune; None is ``NeuralIsometryTransformer()``.
        Unless ``prefit``, a clone is fitted on the ``X`` given to ``fit``:
        pairs (n, 2, C, *spatial), or single observations when the transformer
        has a ``pair_transform`` (e.g. :class:`skniso.datasets.RandomMobius`).
    prefit : bool, default=False
        Use the already fitted ``transformer`` (a copy of it; the original is
        left untouched) instead of fitting a clone.
    train_encoder : bool, default=True
        False freezes the encoder, as the reference code's stop-gradient does
        (the paper says the encoder is unfrozen).
    train_operator : bool, default=True
        False freezes the operator's mass and eigenfunctions.
    encoder_lr_scale : float, default=0.1
        Learning rate of the pre-trained parts, as a fraction of ``lr``.
    augment : callable or None, default=None
        ``augment(x, generator=g)`` applied to every training batch (e.g.
        :class:`skniso.datasets.RandomMobius`, for a fresh Möbius map of each
        shape at every step).
    width, n_layers, gram_channels, readout_width :
        The head, as in :class:`EquivariantClassifier`.
    max_steps : int, default=1000
    batch_size : int, default=32
    lr : float, default=1e-3
        Peak learning rate of the head.
    weight_decay : float, default=1e-4
    warmup_steps : int, default=50
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds the head, the batches and ``augment``, and the pre-training when
        the transformer's own ``random_state`` is None.
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    transformer_ : NeuralIsometryTransformer
        The pre-trained transformer, before fine-tuning.
    module_ : torch.nn.Module
        The fine-tuned encoder, operator and head.
    classes_ : ndarray of shape (n_classes,)
    scale_ : ndarray of shape (C,)
        Per-channel RMS of the pre-trained latents, fixed before fine-tuning.
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int
    """

    _module_attributes = ("module_",)

    _parameter_constraints = {
        "transformer": [NeuralIsometryTransformer, None],
        "prefit": ["boolean"],
        "train_encoder": ["boolean"],
        "train_operator": ["boolean"],
        "encoder_lr_scale": [non_negative_real],
        "augment": [callable, None],
        "width": [positive_int],
        "n_layers": [non_negative_int],
        "gram_channels": [positive_int],
        "readout_width": [positive_int, None],
        **TRAINING_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        transformer=None,
        *,
        prefit=False,
        train_encoder=True,
        train_operator=True,
        encoder_lr_scale=0.1,
        augment=None,
        width=128,
        n_layers=2,
        gram_channels=64,
        readout_width=None,
        max_steps=1000,
        batch_size=32,
        lr=1e-3,
        weight_decay=1e-4,
        warmup_steps=50,
        device="auto",
        random_state=None,
        verbose=0,
        validation_fraction=None,
        n_iter_no_change=10,
        tol=1e-4,
        validation_interval=100,
        grad_clip_norm=None,
        warm_start=False,
        checkpoint_path=None,
        checkpoint_interval=500,
        on_divergence="raise",
        precision="32",
        compile=False,
        max_time=None,
    ):
        self.transformer = transformer
        self.prefit = prefit
        self.train_encoder = train_encoder
        self.train_operator = train_operator
        self.encoder_lr_scale = encoder_lr_scale
        self.augment = augment
        self.width = width
        self.n_layers = n_layers
        self.gram_channels = gram_channels
        self.readout_width = readout_width
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.validation_interval = validation_interval
        self.grad_clip_norm = grad_clip_norm
        self.warm_start = warm_start
        self.checkpoint_path = checkpoint_path
        self.checkpoint_interval = checkpoint_interval
        self.on_divergence = on_divergence
        self.precision = precision
        self.compile = compile
        self.max_time = max_time

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # -- fitting --------------------------------------------------------------
    def _pretrained(self, X):
        if self.prefit:
            if self.transformer is None:
                raise ValueError("prefit=True needs a fitted transformer, got transformer=None")
            check_is_fitted(self.transformer)
            return copy.deepcopy(self.transformer)
        base = clone(NeuralIsometryTransformer() if self.transformer is None else self.transformer)
        if base.random_state is None and self.random_state is not None:
            # One seed makes the whole fit repeatable, pre-training included.
            base.set_params(random_state=int(torch_generator(self.random_state).initial_seed() % 2**31))
        return base.fit(X)

    # Not skipping nested validation: fit may fit the transformer it holds.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Pre-train (unless ``prefit``), then fine-tune encoder and head jointly.

        With ``warm_start=True`` a fitted classifier continues its fine-tuning
        run (no new pre-training) on data of the fitted layout and classes.

        Parameters
        ----------
        X : array-like
            Pairs (n, V, C, *spatial) or single observations (n, C, *spatial),
            as the transformer takes them; the head is trained on the first view.
        y : array-like of shape (n,)

        Returns
        -------
        self
        """
        with self._atomic_fit():
            X_flat, shape = flatten_samples(X)
            continuing = self._continues_run(partial=False)
            X_flat, y = validate_data(self, X_flat, y, dtype=np.float32, reset=not continuing)
            X = X_flat.reshape(X_flat.shape[0], *shape[1:]) if len(shape) > 2 else X_flat
            classes, targets = encode_class_labels(
                y, type(self).__name__, self.classes_ if continuing else None
            )
            # No new pre-training when continuing: the run goes on with the fitted parts.
            transformer = self.transformer_ if continuing else self._pretrained(X)
            observations = transformer._inference_views(X)[:, 0]
            if continuing:
                scale = self.scale_
            else:
                latents = transformer.transform(observations)
                scale = channel_scale(latents.reshape(len(observations), *transformer.latent_shape_))

            device = self._fit_device()
            generator = torch_generator(self.random_state)
            layout = {"observation_shape": observations.shape[1:], "classes": len(classes)}

            def build():
                head = build_module(
                    lambda: OrthNet(transformer.latent_shape_[1], len(classes), width=self.width,
                                    n_layers=self.n_layers, gram_channels=self.gram_channels,
                                    readout_width=self.readout_width),
                    generator, device,
                )
                model = copy.deepcopy(transformer.model_).to(device)
                return _EncoderWithHead(model, head, torch.from_numpy(scale).to(device))

            module = self._start_module(build, layout, device)
            data = (torch.from_numpy(np.ascontiguousarray(observations)), targets)
            history = self._train(module, data, observations.shape[0], generator, layout=layout)

            self.transformer_ = transformer
            self.module_ = module
            self.classes_ = classes
            self.scale_ = scale
            self.history_ = history
            self.device_ = device
        return self

    def _configure_optimizer(self, module):
        pretrained = []
        if self.encoder_lr_scale > 0:  # a zero rate freezes both, as the flags do
            if self.train_encoder:
                pretrained += list(module.model.encoder.parameters())
            if self.train_operator:
                pretrained += list(module.model.operator.parameters())
        groups = [{"params": list(module.head.parameters()), "lr_scale": 1.0}]
        if pretrained:
            groups.append({"params": pretrained, "lr_scale": float(self.encoder_lr_scale)})
        # The decoder and every frozen part stay out of the optimiser, so that
        # weight decay leaves them as they were too, and get no gradient: none
        # is computed for them, and none piles up in their .grad to swell the
        # norm that grad_clip_norm clips.
        module.model.requires_grad_(False)
        for parameter in pretrained:
            parameter.requires_grad_(True)
        return torch.optim.AdamW(groups, lr=self.lr, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=self.weight_decay)

    def _training_step(self, module, indices, data, generator):
        observations, targets = data
        device = module.scale.device
        batch = observations[indices]
        if self.augment is not None:
            batch = self.augment(batch, generator=generator)
        logits = module(batch.to(device))
        return {"loss": torch.nn.functional.cross_entropy(logits, targets[indices].to(device))}

    # -- inference ------------------------------------------------------------
    def _observations(self, X):
        """First views (n, C, *spatial) of pairs or single observations."""
        check_is_fitted(self)
        X_flat, shape = flatten_samples(X)
        if X_flat.ndim == 2 and X_flat.shape[1] == self.n_features_in_:
            X_flat = validate_data(self, X_flat, dtype=np.float32, reset=False)
        else:  # single observations after fitting on pairs: the transformer checks them
            X_flat = check_array(X_flat, dtype=np.float32)
        X = X_flat.reshape(X_flat.shape[0], *shape[1:]) if len(shape) > 2 else X_flat
        return self.transformer_._inference_views(X)[:, 0]

    def _logits(self, X):
        observations = self._observations(X)
        self.module_.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, observations.shape[0], 256):
                batch = torch.from_numpy(np.ascontiguousarray(observations[start:start + 256]))
                outputs.append(self.module_(batch.to(self.device_)).cpu())
        return torch.cat(outputs).numpy() if outputs else np.empty((0, len(self.classes_)))

    def eigenspace_latents(self, X):
        """Fine-tuned eigenspace latents ΦᵀM E(x), shape (n, K, C).

        (Not named ``transform``: sklearn would then take the classifier for a transformer.)
        """
        observations = self._observations(X)
        self.module_.eval()
        with torch.no_grad():
            batch = torch.from_numpy(np.ascontiguousarray(observations)).to(self.device_)
            return self.module_.model.to_eigenspace(batch).cpu().numpy()
