"""Shared estimator code of the grid classifiers: input layout, fit, predict."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._classification import LogitOutputsMixin, encode_class_labels
from ..nn.init import build_module
from ..training import TrainedModuleMixin
from ..utils import flatten_samples, torch_generator

_AXES = {2: "(n, C, H, W)", 3: "(n, C, D, H, W)"}


def check_positive_int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_widths(name, value):
    widths = tuple(value) if isinstance(value, (tuple, list)) else None
    if not widths or not all(
        isinstance(w, numbers.Integral) and not isinstance(w, bool) and w > 0 for w in widths
    ):
        raise ValueError(f"{name} must be a non-empty tuple of positive integers, got {value!r}")


def recalibrate_batch_norm(module, inputs, batch_size, max_batches=64):
    """Set every batch norm's running statistics to averages over the training data.

    The running averages kept during training lag behind weights that move
    quickly; evaluating with them can differ badly from the batch statistics the
    network was trained with.  One pass over (up to ``max_batches`` batches of)
    the training inputs in training mode, with cumulative averaging, fixes that
    (the "precise batch norm" recipe).  Nothing else changes: no gradients.
    """
    norms = [m for m in module.modules() if hasattr(m, "running_mean") and hasattr(m, "reset_running_stats")]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    device = next(module.parameters()).device
    module.train()
    try:
        with torch.no_grad():
            # Whole batches only: a batch of one has no batch statistics.
            n_batches = min(max(len(inputs) // batch_size, 1), max_batches)
            size = min(batch_size, len(inputs))
            for start in range(0, n_batches * size, size):
                module(inputs[start:start + size].to(device))
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        module.eval()


def _standardized(grids, mean, std):
    return np.ascontiguousarray((grids - mean) / std, dtype=np.float32)


class GridClassifierBase(LogitOutputsMixin, TrainedModuleMixin, ClassifierMixin, BaseEstimator):
    """A classifier of images or volumes built around one torch module.

    Subclasses set ``_spatial_dims`` and implement ``_check_network_params()``
    and ``_network(in_channels, spatial_shape, n_classes)``, which returns a
    module factory mapping (B, C, *spatial) to (B, n_classes) logits.

    Input is (n, C, *spatial); 2-D rows are un-flattened by ``input_shape``, or
    without it read as ``n_features`` channels of a single grid point (which is
    what scikit-learn's tabular checks feed).  Each channel is standardised with
    the training set's mean and standard deviation over samples and grid points,
    which rotations and translations leave unchanged.
    """

    _module_attributes = ("module_",)
    _spatial_dims = 2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _check_params(self):
        self._check_training_params()
        self._check_network_params()
        if self.input_shape is not None:
            shape = tuple(self.input_shape) if isinstance(self.input_shape, (tuple, list)) else ()
            if len(shape) != self._spatial_dims + 1 or not all(
                isinstance(s, numbers.Integral) and s > 0 for s in shape
            ):
                raise ValueError(
                    f"input_shape must be (C, {', '.join('DHW'[-self._spatial_dims:])}) with positive "
                    f"sizes, got {self.input_shape!r}"
                )

    def _observation_shape(self, shape, n_features):
        """The (C, *spatial) of one sample from X's shape and ``input_shape``."""
        dims = self._spatial_dims
        if self.input_shape is not None:
            obs = tuple(int(s) for s in self.input_shape)
            if int(np.prod(obs)) != n_features:
                raise ValueError(
                    f"X has {n_features} features per sample, but input_shape={obs} holds {int(np.prod(obs))}"
                )
            return obs
        if len(shape) == dims + 2:
            return tuple(int(s) for s in shape[1:])
        if len(shape) == 2:
            return (n_features,) + (1,) * dims
        raise ValueError(
            f"{type(self).__name__} expects X of shape {_AXES[dims]}, or 2-D rows with "
            f"input_shape; got shape {tuple(shape)}"
        )

    def fit(self, X, y):
        """Fit the network on labelled grids.

        Parameters
        ----------
        X : array-like
            Shape (n, C, *spatial), or (n, features) with ``input_shape``.
        y : array-like of shape (n,)

        Returns
        -------
        self
        """
        with self._atomic_fit():
            self._check_params()
            X_flat, shape = flatten_samples(X, max_ndim=self._spatial_dims + 2)
            X_flat, y = validate_data(self, X_flat, y, dtype=np.float32)
            obs_shape = self._observation_shape(shape, X_flat.shape[1])
            classes, targets = encode_class_labels(y, type(self).__name__)
            grids = X_flat.reshape(X_flat.shape[0], *obs_shape)
            axes = (0,) + tuple(range(2, grids.ndim))
            mean = grids.mean(axis=axes, dtype=np.float64)
            std = grids.std(axis=axes, dtype=np.float64)
            std = np.where(std > 1e-12, std, 1.0)
            expand = (slice(None),) + (None,) * self._spatial_dims
            mean, std = mean[expand].astype(np.float32), std[expand].astype(np.float32)
            device = self._fit_device()
            generator = torch_generator(self.random_state)
            factory = self._network(obs_shape[0], obs_shape[1:], len(classes))
            module = build_module(factory, generator, device)
            inputs = torch.from_numpy(_standardized(grids, mean, std))
            history = self._train(module, (inputs, targets), grids.shape[0], generator)
            recalibrate_batch_norm(module, inputs, self.batch_size)
            self.classes_ = classes
            self.module_ = module
            self.input_shape_ = obs_shape
            self.channel_mean_, self.channel_std_ = mean, std
            self.history_ = history
            self.device_ = device
        return self

    def _training_step(self, module, indices, data, generator):
        inputs, targets = data
        device = next(module.parameters()).device
        logits = module(inputs[indices].to(device))
        return {"loss": torch.nn.functional.cross_entropy(logits, targets[indices].to(device))}

    def _logits(self, X):
        check_is_fitted(self)
        X_flat, shape = flatten_samples(X, max_ndim=self._spatial_dims + 2)
        X_flat = validate_data(self, X_flat, dtype=np.float32, reset=False)
        if len(shape) > 2 and tuple(shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has samples of shape {tuple(shape[1:])}, but {type(self).__name__} was fitted "
                f"on {self.input_shape_}"
            )
        grids = X_flat.reshape(X_flat.shape[0], *self.input_shape_)
        grids = _standardized(grids, self.channel_mean_, self.channel_std_)
        self.module_.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, grids.shape[0], 256):
                batch = torch.from_numpy(grids[start:start + 256]).to(self.device_)
                outputs.append(self.module_(batch).cpu())
        return torch.cat(outputs).numpy() if outputs else np.empty((0, len(self.classes_)), np.float32)
