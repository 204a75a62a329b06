"""Shared machinery of the baseline classifiers that read raw observations.

A baseline classifies observations (n, C, *spatial), optionally augmenting every
training batch with a random transformation, through a network chosen by the
subclass.  Subclasses provide ``_network(observation_shape, n_classes)`` and may
override ``_prepare(observations, y)`` (run once before training) and
``_features(batch)`` (what the network reads).
"""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._classification import LogitOutputsMixin, encode_class_labels
from ..nn.init import build_module
from ..training import TrainedModuleMixin
from ..utils import flatten_samples, torch_generator

__all__ = ["ObservationClassifierBase"]


class ObservationClassifierBase(LogitOutputsMixin, TrainedModuleMixin, ClassifierMixin, BaseEstimator):
    """Base of classifiers trained on raw observations with optional augmentation.

    Subclasses store ``augmentation`` and ``input_shape`` parameters, plus the
    training parameters of :class:`~skniso.training.TrainedModuleMixin`.
    """

    _module_attributes = ("module_",)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # -- hooks ------------------------------------------------------------------
    def _network(self, observation_shape, n_classes):  # pragma: no cover
        raise NotImplementedError

    def _prepare(self, observations, y):
        """Fit whatever the features need before training (nothing by default)."""

    def _features(self, batch):
        """What the network reads for a batch of observations (the batch itself)."""
        return batch

    def _check_params(self):
        self._check_training_params()
        if self.augmentation is not None and not callable(self.augmentation):
            raise TypeError(f"augmentation must be callable or None, got {self.augmentation!r}")
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) < 2 or not all(isinstance(s, numbers.Integral) and s > 0 for s in shape):
                raise ValueError(
                    f"input_shape must be (channels, *spatial) with positive sizes, got {self.input_shape!r}"
                )

    # -- layout -----------------------------------------------------------------
    def _observations(self, X, y=None, *, reset):
        """Validate ``X`` (and ``y``); return observations (n, C, *spatial) float32."""
        X_flat, shape = flatten_samples(X)
        if reset:
            X_flat, y = validate_data(self, X_flat, y, dtype=np.float32)
            if self.input_shape is not None:
                obs_shape = tuple(int(s) for s in self.input_shape)
                if int(np.prod(obs_shape)) != X_flat.shape[1]:
                    raise ValueError(
                        f"X has {X_flat.shape[1]} features per sample, but input_shape="
                        f"{obs_shape} holds {int(np.prod(obs_shape))}"
                    )
            elif len(shape) > 2:
                obs_shape = tuple(shape[1:])
            else:  # tabular rows: a one-channel 1-D signal each
                obs_shape = (1, X_flat.shape[1])
            if len(obs_shape) > 4:
                raise ValueError(
                    f"observations may have 1 to 3 spatial axes after the channel axis, got shape {obs_shape}"
                )
            self.observation_shape_ = obs_shape
            # Feature extractors are handed batches in the layout X came in.
            self._flat_input = len(shape) == 2
        else:
            X_flat = validate_data(self, X_flat, dtype=np.float32, reset=False)
        observations = X_flat.reshape(X_flat.shape[0], *self.observation_shape_)
        return (observations, y) if reset else observations

    def _augment(self, batch, generator):
        augmented = self.augmentation(batch, generator=generator)
        if not torch.is_tensor(augmented) or augmented.shape != batch.shape:
            raise ValueError(
                f"augmentation must return a tensor shaped like its input {tuple(batch.shape)}, "
                f"got {type(augmented).__name__} of shape {tuple(getattr(augmented, 'shape', ()))}"
            )
        return augmented

    # -- fitting ----------------------------------------------------------------
    def fit(self, X, y):
        """Fit on observations, augmenting each training batch if ``augmentation`` is set.

        Parameters
        ----------
        X : array-like of shape (n, C, *spatial)
            Observations with 1 to 3 spatial axes; 2-D input is read through
            ``input_shape``, or as one-channel 1-D signals when that is None.
        y : array-like of shape (n,)
            Class labels.

        Returns
        -------
        self
        """
        with self._atomic_fit():
            self._check_params()
            observations, y = self._observations(X, y, reset=True)
            self.classes_, targets = encode_class_labels(y, type(self).__name__)
            self.device_ = self._fit_device()
            generator = torch_generator(self.random_state)
            self._prepare(observations, y)
            with torch.no_grad():
                n_inputs = self._features(torch.from_numpy(observations[:1])).shape[1:]
            self.module_ = build_module(
                lambda: self._network(tuple(n_inputs), len(self.classes_)), generator, self.device_
            )
            data = (torch.from_numpy(observations), targets)
            self.history_ = self._train(self.module_, data, observations.shape[0], generator)
        return self

    def _training_step(self, module, indices, data, generator):
        observations, targets = data
        batch = observations[indices]
        if self.augmentation is not None:
            batch = self._augment(batch, generator)
        device = next(module.parameters()).device
        logits = module(self._features(batch).to(device))
        return {"loss": torch.nn.functional.cross_entropy(logits, targets[indices].to(device))}

    def _logits(self, X, batch_size=512):
        check_is_fitted(self)
        observations = self._observations(X, reset=False)
        self.module_.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, observations.shape[0], batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(observations[start:start + batch_size]))
                outputs.append(self.module_(self._features(batch).to(self.device_)).cpu())
        return torch.cat(outputs).numpy() if outputs else np.empty((0, len(self.classes_)), np.float32)
