"""EquivariantClassifier: an O(K)-invariant vector-neuron head on NIso latents."""

import re

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classification import LogitOutputsMixin, encode_class_labels
from ._validation import TRAINING_PARAMETER_CONSTRAINTS, check_finite_output, non_negative_int, positive_int
from .nn.init import build_module
from .nn.vector_neurons import OrthNet
from .training import TrainedModuleMixin
from .transformer import DEFAULT_N_COMPONENTS
from .utils import flatten_samples, torch_generator

__all__ = ["EquivariantClassifier"]

_LATENT_NAME = re.compile(r"^k(\d+)_c(\d+)$")
_LATENT_LAYOUT = "(n_samples, K, C) or (n_samples, K*C)"


def infer_latent_k(n_components, X, shape):
    """K, the size of the axis O(K) acts on, for latents ``X`` of input shape ``shape``.

    3-D input (n, K, C) gives K (and must agree with an explicit
    ``n_components``); for 2-D input an explicit ``n_components`` wins, then the
    feature names ``k{i}_c{j}`` of a DataFrame from
    ``NeuralIsometryTransformer.set_output(transform="pandas")``, then the
    transformer's default K.
    """
    if len(shape) == 3:
        if n_components not in ("auto", shape[1]):
            raise ValueError(f"X has K={shape[1]} rows per sample but n_components={n_components}")
        return shape[1]
    if n_components != "auto":
        return n_components
    names = getattr(X, "columns", None)
    if names is not None:
        parsed = [_LATENT_NAME.match(str(name)) for name in names]
        if parsed and all(parsed):
            return max(int(m.group(1)) for m in parsed) + 1
    return DEFAULT_N_COMPONENTS


def reshape_latents(X_flat, k):
    """Rows of K·C values as (n, K, C) latents, or a ValueError if K does not divide them."""
    if X_flat.shape[1] % k:
        raise ValueError(
            f"X has {X_flat.shape[1]} features, which is not a multiple of "
            f"n_components={k}: set n_components to the K of the latents"
        )
    return X_flat.reshape(X_flat.shape[0], k, -1)


def channel_scale(latents):
    """Root-mean-square of each channel of (n, K, C) latents over samples and K, as float32.

    Invariant to an orthogonal matrix on each sample's K axis, so dividing by it
    keeps the head's invariance; channels that are all zero get 1.
    """
    scale = np.sqrt(np.mean(np.asarray(latents, dtype=np.float64) ** 2, axis=(0, 1)))
    return np.where(scale > 1e-12, scale, 1.0).astype(np.float32)


def fitted_latents(estimator, X, dtype):
    """``X`` validated against the fitted ``estimator.latent_shape_``, as (n, K, C)."""
    k, c = estimator.latent_shape_
    layouts = f"(n, {k}, {c}) or (n, {k * c})"
    X_flat, shape = flatten_samples(X, max_ndim=3, expected=layouts)
    if len(shape) == 3 and tuple(shape[1:]) != (k, c):
        raise ValueError(
            f"X has samples of shape {tuple(shape[1:])}, but {type(estimator).__name__} was "
            f"fitted on latents of shape ({k}, {c}): expected X of shape {layouts}"
        )
    return validate_data(estimator, X_flat, dtype=dtype, reset=False).reshape(-1, k, c)


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
        Depth of the equivariant trunk: each of its two MLPs has
        ``n_layers // 2 + 1`` norm + neuron layers (reference homNIST: 2, as
        described; the reference code runs the equivalent of 0, see
        :class:`skniso.nn.OrthNet`).
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
        When > 0, a progress bar and a compact table of losses on stderr.
    %(training_parameters)s

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
    n_steps_ : int
    stop_reason_ : str
    best_validation_loss_, best_step_ : float, int or None
    device_ : torch.device
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    """

    _module_attributes = ("module_",)

    # Samples per forward pass at inference (bounds device memory).
    _inference_batch_size = 512

    _parameter_constraints = {
        "n_components": [StrOptions({"auto"}), positive_int],
        "width": [positive_int],
        "n_layers": [non_negative_int],
        "gram_channels": [positive_int],
        "readout_width": [positive_int, None],
        **TRAINING_PARAMETER_CONSTRAINTS,
    }

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

    @_fit_context(prefer_skip_nested_validation=True)
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
        return self._fit(X, y, partial=False)

    def partial_fit(self, X, y, classes=None):
        """Continue the run for one pass over ``X`` (about n/batch_size steps).

        The first call initialises the head as ``fit`` does; later calls keep
        the weights, optimiser, random state and the latent scaling ``scale_``.

        Parameters
        ----------
        X : array-like of shape (n, K·C) or (n, K, C)
        y : array-like of shape (n,)
        classes : array-like or None, default=None
            Every class of the whole training set; needed on the first call
            when ``y`` does not hold them all.

        Returns
        -------
        self
        """
        # Every call validates, not only the first as _fit_context would:
        # set_params may have changed a parameter since the last one.
        self._validate_params()
        return self._fit(X, y, partial=True, classes=classes)

    def _fit(self, X, y, partial, classes=None):
        with self._atomic_fit():
            X_flat, shape = flatten_samples(X, max_ndim=3, expected=_LATENT_LAYOUT)
            k = infer_latent_k(self.n_components, X, shape)
            continuing = self._continues_run(partial)
            X_flat, y = validate_data(self, X_flat, y, dtype=np.float32, reset=not continuing)
            latents = reshape_latents(X_flat, k)
            hint = "; pass every class through classes= on the first partial_fit" if partial else ""
            all_classes, targets = encode_class_labels(
                y, type(self).__name__, self.classes_ if continuing else classes, hint
            )
            if continuing:
                scale = self.scale_
            else:
                scale = channel_scale(latents)
            device = self._fit_device()
            generator = torch_generator(self.random_state)
            n_channels = latents.shape[2]
            layout = {"latent_shape": latents.shape[1:], "classes": len(all_classes)}

            def build():
                return build_module(lambda: self._new_module(n_channels, len(all_classes)), generator, device)

            module = self._start_module(build, layout, device, partial=partial)
            data = (torch.from_numpy(latents / scale), targets)
            history = self._train(
                module, data, latents.shape[0], generator, layout=layout, partial=partial
            )
            self.classes_ = all_classes
            self.module_ = module
            self.latent_shape_ = latents.shape[1:]
            self.scale_ = scale
            self.history_ = history
            self.device_ = device
        return self

    def _new_module(self, n_channels, n_classes):
        return OrthNet(
            n_channels,
            n_classes,
            width=self.width,
            n_layers=self.n_layers,
            gram_channels=self.gram_channels,
            readout_width=self.readout_width,
        )

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
        latents = fitted_latents(self, X, np.float32) / self.scale_
        self.module_.eval()
        outputs = []
        size = self._inference_batch_size
        with torch.no_grad():
            for start in range(0, latents.shape[0], size):
                batch = torch.from_numpy(np.ascontiguousarray(latents[start:start + size]))
                logits = self.module_(batch.to(self.device_))
                check_finite_output([logits], [batch], start, self)
                outputs.append(logits.cpu())
        return torch.cat(outputs).numpy() if outputs else np.empty((0, len(self.classes_)))

