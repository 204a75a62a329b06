"""SteerableCNNClassifier: an SE(3)-steerable CNN on voxel grids (needs e3nn)."""

from .._validation import is_integer, odd_positive_int
from ..nn.steerable import SteerableCNN, _e3nn_o3
from ._base import ObservationClassifierBase

__all__ = ["SteerableCNNClassifier"]


class SteerableCNNClassifier(ObservationClassifierBase):
    """Voxel classifier invariant to rotations: a 3-D steerable CNN.

    The hand-crafted SE(3)-equivariant network of Weiler et al. (NeurIPS
    2018): features are fields of SO(3) irreps, kernels are radial Gaussian
    rings times spherical harmonics coupled by Clebsch-Gordan coefficients,
    nonlinearities are gated, and the scalar fields of the last layer are pooled
    over space into rotation-invariant features (see :mod:`skniso.nn.steerable`).
    Reflections are not built in, so mirror-image shapes stay distinguishable in
    principle. In practice, with the default degree ≤ 1 fields, the only
    pseudo-scalars (triple products of vector fields) arise deep in the network
    and are weak: on 3D Tetris the chiral pair stays at chance under random
    rotations, while the six achiral shapes reach 0.98 when trained in one
    random pose (BENCHMARKS.md, 3D Tetris).
    Degree ≥ 2 fields carry chirality at a single voxel but need a finer grid
    than 16³ to stay invariant off the lattice.  The grid itself keeps the
    chirality (a fixed pseudo-scalar of the smoothed volume's gradient and
    Hessian separates the pair, ``benchmarks/tetris3d_chirality.py``); what
    fails is learning one from a single training pose.

    Exactness: the logits are invariant to the 24 rotations of the cube (voxel
    permutations; for cubic inputs with even sizes at each pooling level) up to
    float rounding; other rotations are matched up to the discretisation of
    kernels and input on the voxel grid.

    Needs e3nn (``pip install 'skniso[baselines]'``), imported when fitting.

    Parameters
    ----------
    fields : tuple of tuple of int, default=((8, 4), (16, 8), (16, 8))
        Per layer, the number of fields of degree l = 0, 1, 2, … it outputs.
        Degree-2 fields are supported but off by default: on a 16³ Tetris grid
        they made the network markedly less invariant to rotations off the
        voxel lattice (BENCHMARKS.md).
    kernel_size : int, default=5
        Odd.
    input_shape : tuple of int or None, default=None
        (C, D, H, W) of one volume, to un-flatten 2-D input.  Without it 5-D
        input carries its shape and 2-D rows are read as C channels of one voxel.
    max_steps : int, default=300
    batch_size : int, default=32
    lr : float, default=2e-2
    weight_decay : float, default=1e-4
    warmup_steps : int, default=30
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : skniso.nn.steerable.SteerableCNN
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
        "fields": ["array-like"],
        "kernel_size": [odd_positive_int],
    }

    def __init__(
        self,
        fields=((8, 4), (16, 8), (16, 8)),
        *,
        kernel_size=5,
        input_shape=None,
        max_steps=300,
        batch_size=32,
        lr=2e-2,
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
        self.fields = fields
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
        _e3nn_o3()
        layers = tuple(self.fields)
        valid = bool(layers) and all(
            isinstance(mults, (tuple, list))
            and len(mults) >= 1
            and is_integer(mults[0], minimum=1)
            and all(is_integer(m, minimum=0) for m in mults)
            for mults in layers
        )
        if not valid:
            raise ValueError(
                "fields must be a non-empty tuple of per-layer multiplicities (m0, m1, ...) with "
                f"m0 >= 1 and every m >= 0, got {self.fields!r}"
            )

    def _network(self, feature_shape, n_classes):
        fields = tuple(tuple(int(m) for m in mults) for mults in self.fields)
        return SteerableCNN(feature_shape[0], n_classes, fields, int(self.kernel_size))
