"""EquivariantClassifier: an O(K)-invariant vector-neuron head on NIso latents."""

import numbers
import re

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classification import LogitOutputsMixin, encode_class_labels
from .nn.init import build_module
from .nn.vector_neurons import OrthNet
from .training import TrainedModuleMixin
from .transformer import DEFAULT_N_COMPONENTS
from .utils import flatten_samples, torch_generator

__all__ = ["EquivariantClassifier"]

_LATENT_NAME = re.compile(r"^k(\d+)_c(\d+)$")


class EquivariantClassifier(LogitOutputsMixin, TrainedModuleMixin, ClassifierMixin, BaseEstimator):
    """Classify eigenspace latents with a head that is invariant to O(K).

    Each sample is a matrix X ∈ R^{K×C} on whose rows the orthogonal group acts,
    as NIso's isometries τ act on eigenspace latents.  The head is the
    reference's smooth vector-neuron network (method.md §7): equivariant layers
    built from channel mixing and inner products over K, then an invariant Gram
    matrix readout and an MLP.  Its predictions are exactly unchanged when any
    orthogonal matrix multiplies the K axis.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        K, the size of the axis O(K) acts on.  ``"auto"``: from the shape of 3-D
        input (n, K, C); from feature names ``k{i}_c{j}`` (a DataFrame from
        ``NeuralIsometryTransformer.set_output(transform="pandas")``); otherwise
        the transformer's default K = 32.  Set it explicitly when the transformer
        in front of it uses another ``n_components``.
    width : int, default=128
        Channels of the equivariant layers.
    n_layers : int, default=2
        Depth of the equivariant trunk (reference homNIST: 2).
    gram_channels : int, default=64
        Channels whose Gram matrix forms the invariant features.
    readout_width : int or None, default=None
        Hidden width of the final MLP; None is 4 × the Gram feature count, as the
        reference.
    max_steps : int, default=1000
    batch_size : int, default=64
    lr : float, default=1e-3
    weight_decay : float, default=1e-4
    warmup_steps : int, default=50
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : OrthNet
    latent_shape_ : tuple of int
        (K, C).
    scale_ : ndarray of shape (C,)
        Per-channel root-mean-square of the training latents (an O(K)-invariant
        normalisation applied before the head).
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    """

    _module_attributes = ("module_",)

    def __init__(
        self,
        n_components="auto",
        *,
        width=128,
        n_layers=2,
        gram_channels=64,
        readout_width=None,
        max_steps=1000,
        batch_size=64,
        lr=1e-3,
        weight_decay=1e-4,
        warmup_steps=50,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _check_params(self):
        self._check_training_params()
        for name in ("width", "n_layers", "gram_channels"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.readout_width is not None and (
            not isinstance(self.readout_width, numbers.Integral) or self.readout_width < 1
        ):
            raise ValueError(f"readout_width must be a positive integer or None, got {self.readout_width!r}")
        if self.n_components != "auto" and (
            not isinstance(self.n_components, numbers.Integral)
            or isinstance(self.n_components, bool)
            or self.n_components < 1
        ):
            raise ValueError(f"n_components must be 'auto' or a positive integer, got {self.n_components!r}")

    def _infer_k(self, X, shape):
        if len(shape) == 3:
            if self.n_components not in ("auto", shape[1]):
                raise ValueError(
                    f"X has K={shape[1]} rows per sample but n_components={self.n_components}"
                )
            return shape[1]
        if self.n_components != "auto":
            return self.n_components
        names = getattr(X, "columns", None)
        if names is not None:
            parsed = [_LATENT_NAME.match(str(name)) for name in names]
            if parsed and all(parsed):
                return max(int(m.group(1)) for m in parsed) + 1
        return DEFAULT_N_COMPONENTS

    def fit(self, X, y):
        """Fit the invariant head.

        Parameters
        ----------
        X : array-like of shape (n, K·C) or (n, K, C)
            Eigenspace latents, e.g. ``NeuralIsometryTransformer().transform``.
        y : array-like of shape (n,)
            Class labels of any hashable type.

        Returns
        -------
        self
        """
        with self._atomic_fit():
            self._check_params()
            X_flat, shape = flatten_samples(X, max_ndim=3)
            k = self._infer_k(X, shape)
            X_flat, y = validate_data(self, X_flat, y, dtype=np.float32)
            if X_flat.shape[1] % k:
                raise ValueError(
                    f"X has {X_flat.shape[1]} features, which is not a multiple of "
                    f"n_components={k}: set n_components to the K of the latents"
                )
            latents = X_flat.reshape(X_flat.shape[0], k, -1)
            classes, targets = encode_class_labels(y, type(self).__name__)
            # RMS per channel over samples and K: invariant to O(K) on each sample.
            scale = np.sqrt(np.mean(latents.astype(np.float64) ** 2, axis=(0, 1)))
            scale = np.where(scale > 1e-12, scale, 1.0).astype(np.float32)
            device = self._fit_device()
            generator = torch_generator(self.random_state)
            n_channels = latents.shape[2]
            module = build_module(
                lambda: OrthNet(
                    n_channels,
                    len(classes),
                    width=self.width,
                    n_layers=self.n_layers,
                    gram_channels=self.gram_channels,
                    readout_width=self.readout_width,
                ),
                generator,
                device,
            )
            data = (torch.from_numpy(latents / scale), targets)
            history = self._train(module, data, latents.shape[0], generator)
            self.classes_ = classes
            self.module_ = module
            self.latent_shape_ = latents.shape[1:]
            self.scale_ = scale
            self.history_ = history
            self.device_ = device
        return self

    def _training_step(self, module, indices, data, generator):
        latents, targets = data
        device = self._train_device(module)
        logits = module(latents[indices].to(device))
        loss = torch.nn.functional.cross_entropy(logits, targets[indices].to(device))
        return {"loss": loss}

    @staticmethod
    def _train_device(module):
        return next(module.parameters()).device

    def _logits(self, X):
        check_is_fitted(self)
        X_flat, _ = flatten_samples(X, max_ndim=3)
        X_flat = validate_data(self, X_flat, dtype=np.float32, reset=False)
        latents = X_flat.reshape(X_flat.shape[0], *self.latent_shape_) / self.scale_
        self.module_.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, latents.shape[0], 512):
                batch = torch.from_numpy(np.ascontiguousarray(latents[start:start + 512]))
                outputs.append(self.module_(batch.to(self.device_)).cpu())
        return torch.cat(outputs).numpy() if outputs else np.empty((0, len(self.classes_)))
