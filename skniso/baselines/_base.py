"""The one base class of the baseline classifiers: input layout, fit, predict.

A baseline classifies observations (n, C, *spatial) through a torch network
chosen by the subclass, optionally augmenting every training batch with a
random transformation.
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils.validation import check_is_fitted, validate_data

from .._classification import LogitOutputsMixin, encode_class_labels
from .._validation import TRAINING_PARAMETER_CONSTRAINTS, is_integer
from ..nn.init import build_module
from ..training import TrainedModuleMixin
from ..utils import flatten_samples, torch_generator

__all__ = ["ObservationClassifierBase", "recalibrate_batch_norm"]

# Observations per forward pass when predicting; small enough for 3-D grids.
_PREDICT_BATCH_SIZE = 256


def recalibrate_batch_norm(module, inputs, batch_size, features=None, max_batches=64):
    """Set every batch norm's running statistics to averages over the training data.

    The running averages kept during training lag behind weights that move
    quickly; evaluating with them can differ badly from the batch statistics the
    network was trained with.  One pass over (up to ``max_batches`` batches of)
    the training inputs in training mode, with cumulative averaging, fixes that
    (the "precise batch norm" recipe).  Nothing else changes: no gradients.
    ``features``, if given, maps a batch of ``inputs`` to what the module reads.
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
                batch = inputs[start:start + size]
                module((batch if features is None else features(batch)).to(device))
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        module.eval()


class ObservationClassifierBase(LogitOutputsMixin, TrainedModuleMixin, ClassifierMixin, BaseEstimator):
    """Base of the baseline classifiers: observations in, one torch module, logits out.

    Subclasses store ``input_shape`` and every training parameter of
    :class:`~skniso.training.TrainedModuleMixin` (and ``augmentation`` where they
    offer it) and document them as the mixin describes, add their own
    parameters to ``_parameter_constraints``, and implement
    ``_network(feature_shape, n_classes)``, which returns a module mapping
    (B, *feature_shape) to (B, n_classes) logits.  They may extend
    ``_check_params()`` (checks inside tuples and across parameters) and
    override ``_prepare(observations, y)`` (run once before training) and
    ``_features(batch)`` (what the network reads; the batch itself by default).

    Two class attributes say how a subclass reads its input:

    ``_spatial_dims`` : int or None
        The number of spatial axes the network takes; None takes 1 to 3.
        Without ``input_shape``, 2-D rows are one-channel 1-D signals when it
        is None, and otherwise C channels of a single grid point (which is what
        scikit-learn's tabular checks feed).
    ``_standardize_channels`` : bool
        Whether each channel is standardised with the training set's mean and
        standard deviation over samples and grid points (``channel_mean_``,
        ``channel_std_``), statistics that rotations and translations leave
        unchanged.

    After training, the running statistics of any batch norm are recomputed
    over the training data (:func:`recalibrate_batch_norm`).  The fitted shape
    of one observation is ``observation_shape_``; ``input_shape_`` is the same
    tuple under the name the grid classifiers document.
    """

    _module_attributes = ("module_",)
    # Entries for parameters a subclass lacks (augmentation) are not used.
    _parameter_constraints = {
        "augmentation": [callable, None],
        "input_shape": ["array-like", None],
        **TRAINING_PARAMETER_CONSTRAINTS,
    }
    _spatial_dims = None
    _standardize_channels = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    @property
    def input_shape_(self):
        """(C, *spatial) of one observation: ``observation_shape_`` by its other name."""
        return self.observation_shape_

    def __setstate__(self, state):
        # Grid classifiers pickled before the baselines shared this base kept
        # the fitted shape as input_shape_ only.
        if "input_shape_" in state and "observation_shape_" not in state:
            state = dict(state)
            state["observation_shape_"] = state.pop("input_shape_")
        super().__setstate__(state)

    # -- hooks ------------------------------------------------------------------
    def _network(self, feature_shape, n_classes):  # pragma: no cover
        raise NotImplementedError

    def _prepare(self, observations, y):
        """Fit whatever the features need before training (nothing by default)."""

    def _features(self, batch):
        """What the network reads for a batch of observations (the batch itself)."""
        return batch

    def _check_params(self):
        """Checks inside tuples; single values are checked by ``_parameter_constraints``."""
        if self.input_shape is not None:
            sizes = tuple(self.input_shape)
            if not self._takes_spatial_dims(len(sizes) - 1) or not all(is_integer(s, minimum=1) for s in sizes):
                raise ValueError(
                    f"input_shape must be {self._sample_layout()} with positive integer sizes, "
                    f"got {self.input_shape!r}"
                )

    # -- layout -----------------------------------------------------------------
    def _takes_spatial_dims(self, n_spatial):
        return 1 <= n_spatial <= 3 if self._spatial_dims is None else n_spatial == self._spatial_dims

    def _sample_layout(self):
        """One observation's layout, for messages: "(C, H, W)", say."""
        if self._spatial_dims is None:
            return "(C, *spatial) with 1 to 3 spatial axes"
        return f"(C, {', '.join('DHW'[-self._spatial_dims:])})"

    def _observations(self, X, y="no_validation", *, reset):
        """Validate ``X`` (and ``y``, if given); return observations (n, C, *spatial) float32.

        The observations are standardised if the subclass asks for it; with
        ``reset`` the layout and the standardisation are fitted to ``X``,
        otherwise ``X`` must have the fitted layout.  Returns ``(observations,
        y)`` when ``y`` is given.
        """
        layout = f"(n, {self._sample_layout()[1:]}"
        max_ndim = 5 if self._spatial_dims is None else self._spatial_dims + 2
        X_flat, shape = flatten_samples(X, max_ndim=max_ndim, expected=f"{layout}, or 2-D rows")
        with_y = not (isinstance(y, str) and y == "no_validation")
        if with_y:
            X_flat, y = validate_data(self, X_flat, y, dtype=np.float32, reset=reset)
        else:
            X_flat = validate_data(self, X_flat, dtype=np.float32, reset=reset)
        if reset:
            self.observation_shape_ = self._observation_shape(shape, X_flat.shape[1], layout)
            # Feature extractors are handed batches in the layout X came in.
            self._flat_input = len(shape) == 2
        else:
            if len(shape) > 2 and tuple(shape[1:]) != self.observation_shape_:
                raise ValueError(
                    f"X has samples of shape {tuple(shape[1:])}, but {type(self).__name__} was fitted "
                    f"on {self.observation_shape_}"
                )
        observations = X_flat.reshape(X_flat.shape[0], *self.observation_shape_)
        if self._standardize_channels:
            observations = self._standardized(observations, reset=reset)
        return (observations, y) if with_y else observations

    def _observation_shape(self, shape, n_features, layout):
        """The (C, *spatial) of one sample from X's shape and ``input_shape``."""
        if self.input_shape is not None:
            obs_shape = tuple(int(s) for s in self.input_shape)
            if int(np.prod(obs_shape)) != n_features:
                raise ValueError(
                    f"X has {n_features} features per sample, but input_shape={obs_shape} "
                    f"holds {int(np.prod(obs_shape))}"
                )
            return obs_shape
        if len(shape) > 2:
            if not self._takes_spatial_dims(len(shape) - 2):
                raise ValueError(
                    f"{type(self).__name__} expects X of shape {layout}, or 2-D rows with "
                    f"input_shape; got shape {tuple(shape)}"
                )
            return tuple(int(s) for s in shape[1:])
        if self._spatial_dims is None:
            return (1, n_features)  # tabular rows: a one-channel 1-D signal each
        return (n_features,) + (1,) * self._spatial_dims

    def _standardized(self, observations, *, reset):
        if reset:
            axes = (0,) + tuple(range(2, observations.ndim))
            mean = observations.mean(axis=axes, dtype=np.float64)
            std = observations.std(axis=axes, dtype=np.float64)
            std = np.where(std > 1e-12, std, 1.0)
            expand = (slice(None),) + (None,) * (observations.ndim - 2)
            self.channel_mean_ = mean[expand].astype(np.float32)
            self.channel_std_ = std[expand].astype(np.float32)
        return np.ascontiguousarray((observations - self.channel_mean_) / self.channel_std_, dtype=np.float32)

    def _augment(self, batch, generator):
        augmented = self.augmentation(batch, generator=generator)
        if not torch.is_tensor(augmented) or augmented.shape != batch.shape:
            raise ValueError(
                f"augmentation must return a tensor shaped like its input {tuple(batch.shape)}, "
                f"got {type(augmented).__name__} of shape {tuple(getattr(augmented, 'shape', ()))}"
            )
        return augmented

    # -- fitting ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on observations, augmenting each training batch if ``augmentation`` is set.

        With ``warm_start=True`` a fitted classifier continues its run on
        observations of the fitted shape and classes, keeping its input
        standardisation and features.

        Parameters
        ----------
        X : array-like of shape (n, C, *spatial)
            Observations with the spatial axes the network takes; 2-D input is
            read through ``input_shape`` (see the class's description when it is
            None).
        y : array-like of shape (n,)
            Class labels.

        Returns
        -------
        self
        """
        with self._atomic_fit():
            self._check_params()
            continuing = self._continues_run(partial=False)
            observations, y = self._observations(X, y, reset=not continuing)
            self.classes_, targets = encode_class_labels(
                y, type(self).__name__, self.classes_ if continuing else None
            )
            self.device_ = self._fit_device()
            generator = torch_generator(self.random_state)
            if not continuing:
                self._prepare(observations, y)
            inputs = torch.from_numpy(observations)
            layout = {"observation_shape": self.observation_shape_, "classes": len(self.classes_)}

            def build():
                with torch.no_grad():
                    feature_shape = tuple(self._features(inputs[:1]).shape[1:])
                return build_module(
                    lambda: self._network(feature_shape, len(self.classes_)), generator, self.device_
                )

            module = self._start_module(build, layout, self.device_)
            self.history_ = self._train(module, (inputs, targets), len(inputs), generator, layout=layout)
            recalibrate_batch_norm(module, inputs, self.batch_size, self._features)
            self.module_ = module
        return self

    def _training_step(self, module, indices, data, generator):
        observations, targets = data
        batch = observations[indices]
        if getattr(self, "augmentation", None) is not None:  # the grid classifiers take none
            batch = self._augment(batch, generator)
        device = next(module.parameters()).device
        logits = module(self._features(batch).to(device))
        return {"loss": torch.nn.functional.cross_entropy(logits, targets[indices].to(device))}

    def _logits(self, X):
        check_is_fitted(self)
        observations = self._observations(X, reset=False)
        self.module_.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, observations.shape[0], _PREDICT_BATCH_SIZE):
                batch = torch.from_numpy(np.ascontiguousarray(observations[start:start + _PREDICT_BATCH_SIZE]))
                outputs.append(self.module_(self._features(batch).to(self.device_)).cpu())
        return torch.cat(outputs).numpy() if outputs else np.empty((0, len(self.classes_)), np.float32)
