"""CNNClassifier3D: a plain (not rotation-equivariant) 3-D CNN on voxel grids."""

from .._validation import check_ints, odd_positive_int
from ..nn.cnn import CNN3D
from ._base import ObservationClassifierBase

# CNN3D is importable from here, where it was defined before it joined skniso.nn.
__all__ = ["CNNClassifier3D", "CNN3D"]


class CNNClassifier3D(ObservationClassifierBase):
    """A conventional 3-D CNN classifier of voxel grids, the non-equivariant baseline.

    Parameters
    ----------
    channels : tuple of int, default=(16, 32, 64)
        Channels of each convolution.
    kernel_size : int, default=5
    input_shape : tuple of int or None, default=None
        (C, D, H, W) of one volume, to un-flatten 2-D input.  Without it 5-D
        input carries its shape and 2-D rows are read as C channels of one voxel.
    max_steps : int, default=300
    batch_size : int, default=32
    lr : float, default=1e-2
    weight_decay : float, default=1e-4
    warmup_steps : int, default=30
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : CNN3D
    input_shape_ : tuple of int
    channel_mean_, channel_std_ : ndarray of shape (C, 1, 1, 1)
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int
    """

    _spatial_dims = 3
    _standardize_channels = True
    _parameter_constraints = {
        **ObservationClassifierBase._parameter_constraints,
        "channels": ["array-like"],
        "kernel_size": [odd_positive_int],
    }

    def __init__(
        self,
        channels=(16, 32, 64),
        *,
        kernel_size=5,
        input_shape=None,
        max_steps=300,
        batch_size=32,
        lr=1e-2,
        weight_decay=1e-4,
        warmup_steps=30,
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
        self.kernel_size = kernel_size
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

    def _check_params(self):
        super()._check_params()
        check_ints(self.channels, "channels")

    def _network(self, feature_shape, n_classes):
        return CNN3D(feature_shape[0], n_classes, tuple(self.channels), int(self.kernel_size))
