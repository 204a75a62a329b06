"""GroupCNNClassifier: a hand-crafted C_N-equivariant CNN (rotations by 2π/N)."""

from sklearn.utils._param_validation import StrOptions

from .._validation import check_ints, odd_positive_int, positive_int
from ..nn.group_conv import GroupCNN
from ._base import ObservationClassifierBase

__all__ = ["GroupCNNClassifier"]


class GroupCNNClassifier(ObservationClassifierBase):
    """Image classifier invariant to rotations by 2π/N: a group-equivariant CNN.

    The network (Cohen & Welling's G-CNN for the group of translations and N
    rotations) lifts an image to N orientation planes with rotated copies of
    each kernel, applies group correlations, pools over orientations and then
    over space, and classifies the invariant features linearly.  It is the
    hand-crafted reference NIso's learned equivariance is compared with.

    Exactness: rotations by 90° multiples belonging to C_N (all of C_4, the 90°
    ones of C_8, C_12, …, and 180° for C_2) permute the pixel grid, and for
    square inputs the logits are invariant to them up to float rounding.  The
    other angles of C_N use kernels resampled bilinearly, and are only
    approximately equivariant.

    Parameters
    ----------
    n_rotations : int, default=4
        N, the order of the rotation group.
    channels : tuple of int, default=(8, 16, 32)
        Channels per orientation of the lifting layer and each group layer.
    kernel_size : int, default=5
        Odd kernel size of every layer.
    group_pool : {"max", "mean"}, default="max"
        Pooling over orientations before the spatial mean.
    input_shape : tuple of int or None, default=None
        (C, H, W) of one image, to un-flatten 2-D input.  Without it 4-D input
        carries its shape and 2-D rows are read as C channels of a 1×1 image.
    max_steps : int, default=500
    batch_size : int, default=64
    lr : float, default=3e-3
    weight_decay : float, default=1e-4
    warmup_steps : int, default=50
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : skniso.nn.group_conv.GroupCNN
    input_shape_ : tuple of int
        (C, H, W) of one image.
    channel_mean_, channel_std_ : ndarray of shape (C, 1, 1)
        Standardisation of the input channels (over samples and pixels).
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skniso.baselines import GroupCNNClassifier
    >>> X = np.random.default_rng(0).random((20, 1, 8, 8), dtype=np.float32)
    >>> y = np.arange(20) % 2
    >>> clf = GroupCNNClassifier(channels=(4, 4), max_steps=5, random_state=0).fit(X, y)
    >>> clf.predict(X).shape
    (20,)
    """

    _spatial_dims = 2
    _standardize_channels = True
    _parameter_constraints = {
        **ObservationClassifierBase._parameter_constraints,
        "n_rotations": [positive_int],
        "channels": ["array-like"],
        "kernel_size": [odd_positive_int],
        "group_pool": [StrOptions({"max", "mean"})],
    }

    def __init__(
        self,
        n_rotations=4,
        *,
        channels=(8, 16, 32),
        kernel_size=5,
        group_pool="max",
        input_shape=None,
        max_steps=500,
        batch_size=64,
        lr=3e-3,
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
        self.n_rotations = n_rotations
        self.channels = channels
        self.kernel_size = kernel_size
        self.group_pool = group_pool
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
        return GroupCNN(feature_shape[0], n_classes, int(self.n_rotations), tuple(self.channels),
                        int(self.kernel_size), self.group_pool)
