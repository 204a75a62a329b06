"""A plain CNN classifier, with optional augmentation: the benchmarks' non-equivariant reference."""

from .._validation import check_ints, positive_int
from ..nn.cnn import PlainConvNet
from ._base import ObservationClassifierBase

__all__ = ["CNNClassifier"]


class CNNClassifier(ObservationClassifierBase):
    """A small convolutional classifier trained on raw observations.

    With ``augmentation`` (for example :class:`skniso.datasets.RandomHomography`)
    every training batch is transformed afresh, which is the usual way to buy
    robustness to a known family of transformations; without it, the network
    only learns what the training data shows.

    Parameters
    ----------
    channels : tuple of int, default=(32, 64, 64)
        Width of each ``conv 3 → ReLU → max-pool 2`` level.
    hidden : int, default=128
        Width of the fully connected layer before the logits.
    augmentation : callable or None, default=None
        ``augmentation(batch, generator=g)`` returns a transformed copy of a
        (B, C, *spatial) tensor, drawing randomness only from the CPU
        ``torch.Generator`` g.  It must be picklable to pickle the estimator.
    input_shape : tuple of int or None, default=None
        (C, *spatial) of one observation, used to un-flatten 2-D input.  None:
        multi-dimensional input carries its shape, and 2-D rows are read as
        one-channel 1-D signals.
    max_steps : int, default=1500
        Optimiser steps.
    batch_size : int, default=64
    lr : float, default=1e-3
        Peak AdamW learning rate.
    weight_decay : float, default=1e-4
    warmup_steps : int, default=50
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, batches and augmentation draws (a local torch
        generator; the global RNG is never touched).
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    classes_ : ndarray
    module_ : PlainConvNet
    observation_shape_ : tuple of int
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int

    Examples
    --------
    >>> from skniso.baselines import CNNClassifier
    >>> from skniso.datasets import RandomHomography, load_mnist, pad_digits
    >>> X, y = load_mnist()
    >>> clf = CNNClassifier(augmentation=RandomHomography(), max_steps=10)
    >>> clf.fit(pad_digits(X[::50]), y[::50]).predict(pad_digits(X[:3])).shape
    (3,)
    """

    def __init__(
        self,
        channels=(32, 64, 64),
        *,
        hidden=128,
        augmentation=None,
        input_shape=None,
        max_steps=1500,
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
        self.channels = channels
        self.hidden = hidden
        self.augmentation = augmentation
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
        "channels": ["array-like"],
        "hidden": [positive_int],
    }

    def _check_params(self):
        super()._check_params()
        check_ints(self.channels, "channels")

    def _network(self, feature_shape, n_classes):
        return PlainConvNet(
            feature_shape[0], n_classes, feature_shape[1:], tuple(self.channels), self.hidden
        )
