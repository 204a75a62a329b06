"""An MLP head on (frozen) features of augmented observations: the AE + augmentation baseline."""

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from .._validation import check_ints
from ..nn.mlp import MLP
from ._base import ObservationClassifierBase

__all__ = ["AugmentedMLPClassifier"]


class AugmentedMLPClassifier(ObservationClassifierBase):
    """An MLP trained on features of observations that are augmented every step.

    Each training batch of observations is transformed by ``augmentation``,
    passed through a frozen ``transformer`` (for example an autoencoder, a
    :class:`~skniso.NeuralIsometryTransformer` with ``transition="none"``), and
    classified by an MLP.  This is the paper's "AE + augmentation" baseline:
    robustness has to be learned by the head from augmented data, because the
    features carry no structure for the transformation.

    Parameters
    ----------
    transformer : estimator or None, default=None
        Maps observations (in the layout ``X`` is given) to features.  A fitted
        transformer is used as it is; an unfitted one is cloned and fitted on
        ``X`` (so a transformer that needs pairs should be fitted beforehand, or
        have a ``pair_transform``).  Wrap a fitted transformer in
        :class:`sklearn.frozen.FrozenEstimator` to keep it through ``clone`` (as in
        ``GridSearchCV``).  None: the MLP reads the raw observations.
    augmentation : callable or None, default=None
        ``augmentation(batch, generator=g)`` returns a transformed copy of a
        (B, C, *spatial) tensor, drawing randomness only from the CPU
        ``torch.Generator`` g, e.g. :class:`skniso.datasets.RandomHomography`.
    hidden_layer_sizes : tuple of int, default=(256, 256)
    input_shape : tuple of int or None, default=None
        (C, *spatial) of one observation, to un-flatten 2-D input.
    max_steps : int, default=1000
    batch_size : int, default=64
    lr : float, default=1e-3
    weight_decay : float, default=1e-4
    warmup_steps : int, default=50
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    classes_ : ndarray
    transformer_ : estimator or None
        The transformer that made the features.
    feature_mean_, feature_scale_ : ndarray
        Standardisation of the features, from the clean training observations.
    module_ : MLP
    observation_shape_ : tuple of int
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int
    """

    def __init__(
        self,
        transformer=None,
        *,
        augmentation=None,
        hidden_layer_sizes=(256, 256),
        input_shape=None,
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
        self.transformer = transformer
        self.augmentation = augmentation
        self.hidden_layer_sizes = hidden_layer_sizes
        self.input_shape = input_shape
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

    _parameter_constraints = {
        **ObservationClassifierBase._parameter_constraints,
        "transformer": [HasMethods(["fit", "transform"]), HasMethods(["transform"]), None],
        "hidden_layer_sizes": ["array-like"],
    }

    def _check_params(self):
        super()._check_params()
        check_ints(self.hidden_layer_sizes, "hidden_layer_sizes", allow_empty=True)

    def _prepare(self, observations, y):
        transformer = self.transformer
        if transformer is not None:
            try:
                check_is_fitted(transformer)
                fitted = True
            except NotFittedError:
                fitted = False
            if not fitted:
                transformer = clone(transformer).fit(self._as_given(observations), y)
        self.transformer_ = transformer
        self.feature_mean_, self.feature_scale_ = 0.0, 1.0
        features = np.concatenate([
            self._features(torch.from_numpy(observations[i:i + 512])).numpy()
            for i in range(0, len(observations), 512)
        ])
        scale = features.std(axis=0)
        self.feature_mean_ = features.mean(axis=0)
        self.feature_scale_ = np.where(scale > 1e-12, scale, 1.0).astype(np.float32)

    def _features(self, batch):
        if self.transformer_ is not None:
            features = self.transformer_.transform(self._as_given(batch.numpy()))
            batch = torch.as_tensor(np.asarray(features, dtype=np.float32))
        flat = batch.reshape(batch.shape[0], -1)
        return (flat - torch.as_tensor(self.feature_mean_)) / torch.as_tensor(self.feature_scale_)

    def _as_given(self, observations):
        """Observations in the layout ``X`` had: flat rows if it was 2-D."""
        return observations.reshape(len(observations), -1) if self._flat_input else observations

    def _network(self, feature_shape, n_classes):
        return MLP(int(np.prod(feature_shape)), n_classes, hidden=tuple(self.hidden_layer_sizes),
                   activation=torch.nn.ReLU)
