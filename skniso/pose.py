"""Camera pose from isometries: τ features and a relative-pose regressor.

``Pipeline([("maps", IsometryMapEstimator(...)), ("pose", PoseRegressor())])``
follows the reference's CO3D protocol (method.md §9): a Neural Isometries
model trained on pairs of nearby frames gives, for each new pair, the isometry
τ between their eigenspace latents; a skip MLP maps vec(τ) to the relative
camera pose.
"""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._pose_metrics import rotation_error, translation_error
from ._validation import TRAINING_PARAMETER_CONSTRAINTS, NumberInterval, non_negative_real, positive_int
from .core.pose import rotation_from_9d, rotation_loss, scale_invariant_translation_loss
from .core.procrustes import least_squares_map
from .nn.init import build_module
from .nn.mlp import SkipMLP
from .training import TrainedModuleMixin
from .transformer import NeuralIsometryTransformer
from .utils import flatten_samples, torch_generator

__all__ = ["IsometryMapEstimator", "PoseRegressor"]


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


class IsometryMapEstimator(TransformerMixin, BaseEstimator):
    """The transformation between two views as a feature vector: vec(τ).

    For each pair of observations, τ is the K×K map between their eigenspace
    latents Â = Ê(ψ) and B̂ = Ê(Tψ) under a Neural Isometries model (the
    ``isometries`` of :class:`~skniso.NeuralIsometryTransformer`).  Flattened
    row-major, it is the input of the reference's pose head.

    Parameters
    ----------
    transformer : NeuralIsometryTransformer or None, default=None
        An unfitted transformer is cloned and fitted on the pairs given to
        ``fit``; None uses ``NeuralIsometryTransformer(random_state=random_state)``.
        A fitted one is used as it is (wrap it in
        :class:`sklearn.frozen.FrozenEstimator` to keep it fitted through
        ``clone``, e.g. in a grid search).
    solver : {"auto", "least_squares"}, default="auto"
        ``"auto"``: the transformer's own map (NIso's masked orthogonal τ; the
        least-squares map for ``transition="least_squares"``, the NFT
        baseline).  ``"least_squares"``: the unconstrained linear map
        M* = argmin ‖M Â − B̂‖ on the transformer's latents, whatever it was
        trained with.
    ridge : float, default=1e-4
        Regulariser of ``solver="least_squares"``.
    random_state : int, RandomState instance or None, default=None
        Only used when ``transformer`` is None.

    Attributes
    ----------
    transformer_ : NeuralIsometryTransformer
        The fitted model that solves τ.
    n_components_ : int
        K; ``transform`` returns K² features.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    """

    _parameter_constraints = {
        "transformer": [HasMethods(["isometries"]), None],
        "solver": [StrOptions({"auto", "least_squares"})],
        "ridge": [non_negative_real],
        "random_state": ["random_state"],
    }

    def __init__(self, transformer=None, *, solver="auto", ridge=1e-4, random_state=None):
        self.transformer = transformer
        self.solver = solver
        self.ridge = ridge
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _validated(self, X, reset):
        """X validated as rows, then handed back in its original sample shape."""
        X_flat, shape = flatten_samples(X)
        X_flat = validate_data(self, X_flat, dtype=np.float32, reset=reset)
        return X_flat.reshape(X_flat.shape[0], *shape[1:]) if len(shape) > 2 else X_flat

    # Not skipping nested validation: fit may fit the transformer it holds.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit (or adopt) the Neural Isometries model.

        Parameters
        ----------
        X : array-like
            Pairs of observations (n, 2, C, *spatial), or any input the
            transformer accepts.
        y : ignored

        Returns
        -------
        self
        """
        data = self._validated(X, reset=True)
        if self.transformer is not None and _is_fitted(self.transformer):
            transformer = self.transformer
        else:
            prototype = self.transformer
            if prototype is None:
                prototype = NeuralIsometryTransformer(random_state=self.random_state)
            transformer = clone(prototype).fit(data)
        self.transformer_ = transformer
        self.n_components_ = int(transformer.n_components)
        return self

    def transform(self, X):
        """vec(τ) of each pair, row-major.

        Parameters
        ----------
        X : array-like
            Pairs (n, 2, C, *spatial); the first two views are used.

        Returns
        -------
        ndarray of shape (n, K²), float32
        """
        check_is_fitted(self)
        data = self._validated(X, reset=False)
        if self.solver == "auto":
            maps = self.transformer_.isometries(data)
        else:
            _, source, target = self.transformer_.isometries(data, return_latents=True)
            with torch.no_grad():
                maps = least_squares_map(
                    torch.from_numpy(source).double(), torch.from_numpy(target).double(), ridge=self.ridge
                ).numpy()
        return np.ascontiguousarray(maps.reshape(maps.shape[0], -1), dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        """Names ``tau{i}_{j}`` of the entries of τ, row-major."""
        check_is_fitted(self)
        k = self.n_components_
        return np.asarray([f"tau{i}_{j}" for i in range(k) for j in range(k)], dtype=object)


def _as_poses(y, n_samples):
    """Validate relative poses: (n, 4, 4) or flat (n, 16), rigid."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y must be numeric relative poses of shape (n, 4, 4), got {type(y).__name__}") from exc
    if y.ndim == 2 and y.shape[1] == 16:
        y = y.reshape(-1, 4, 4)
    if y.ndim != 3 or y.shape[1:] != (4, 4):
        raise ValueError(f"y must be relative poses of shape (n, 4, 4) (or flat (n, 16)), got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {len(y)} poses")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite values")
    rotations = y[:, :3, :3]
    error = np.abs(rotations @ rotations.transpose(0, 2, 1) - np.eye(3)).max(initial=0.0)
    if error > 1e-3 or np.any(np.linalg.det(rotations) < 0):
        raise ValueError(
            f"y must hold rigid poses: the rotation blocks are not rotations (|RRᵀ − I| up to {error:.3g})"
        )
    return y


class PoseRegressor(TrainedModuleMixin, RegressorMixin, BaseEstimator):
    """Regress relative camera poses from pair features such as vec(τ).

    The head is the reference's skip MLP (method.md §9): its 9 outputs give a
    rotation by cross products (x = n1/‖n1‖, z ∝ x × n2, y = z × x) and a
    translation.  It is trained with the mean absolute error of the rotation
    entries plus a translation loss that is blind to one scale per sequence,
    since the scale of a camera path cannot be seen in images: each step
    draws ``batch_size`` sequences and ``pairs_per_group`` pairs from each.

    Parameters
    ----------
    width : int, default=512
    n_layers : int, default=6
        Dense layers of the skip MLP's main path.
    pairs_per_group : int, default=3
        Pairs drawn per sequence in a step (reference: 3).
    translation_weight : float, default=1.0
    positive_scale : bool, default=True
        Fit each sequence's translation scale as |s*|.  The reference lets s*
        be negative, which leaves the sign of every sequence's translations
        free (a head may learn −t); False reproduces it.
    standardize : bool, default=True
        Centre and scale each input feature by its training mean and standard
        deviation.
    max_steps : int, default=2000
    batch_size : int, default=4
        Sequences (groups) per step (reference: 4).
    lr : float, default=5e-4
    weight_decay : float, default=1e-4
    warmup_steps : int, default=100
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    %(training_parameters)s

    Attributes
    ----------
    module_ : torch.nn.Module
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Input standardisation (zeros and ones without ``standardize``).
    n_groups_ : int
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.

    Notes
    -----
    ``fit`` takes ``groups`` (the sequence of each pair) like grouped
    cross-validation.  In a :class:`~sklearn.pipeline.Pipeline`, pass it as
    ``pose__groups=...``, or enable metadata routing and call
    ``PoseRegressor().set_fit_request(groups=True)``.  The training loop
    samples sequences, so ``validation_fraction`` holds out whole sequences,
    and ``warm_start`` keeps the fitted input standardisation.
    """

    _module_attributes = ("module_",)
    _parameter_constraints = {
        "width": [positive_int],
        "n_layers": [NumberInterval(numbers.Integral, 2, None, closed="left")],
        "pairs_per_group": [positive_int],
        "translation_weight": [non_negative_real],
        "positive_scale": ["boolean"],
        "standardize": ["boolean"],
        **TRAINING_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        width=512,
        n_layers=6,
        pairs_per_group=3,
        translation_weight=1.0,
        positive_scale=True,
        standardize=True,
        max_steps=2000,
        batch_size=4,
        lr=5e-4,
        weight_decay=1e-4,
        warmup_steps=100,
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
        self.width = width
        self.n_layers = n_layers
        self.pairs_per_group = pairs_per_group
        self.translation_weight = translation_weight
        self.positive_scale = positive_scale
        self.standardize = standardize
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

    def _new_module(self, n_features):
        """The network from ``n_features`` inputs to 9 pose values (a hook for subclasses)."""
        return SkipMLP(n_features, 9, width=self.width, n_layers=self.n_layers)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Fit the pose head.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Pair features, e.g. ``IsometryMapEstimator().transform(pairs)``.
        y : array-like of shape (n, 4, 4) or (n, 16)
            Relative poses g_rel = g₀⁻¹ g₁ (camera-to-world).
        groups : array-like of shape (n,) or None, default=None
            Sequence of each pair; the translation scale is fitted per
            sequence.  None: each pair is its own sequence.

        Returns
        -------
        self
        """
        with self._atomic_fit():
            if y is None:
                raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
            X_flat, _ = flatten_samples(X)
            continuing = self._continues_run(partial=False)
            X_flat = validate_data(self, X_flat, dtype=np.float32, reset=not continuing)
            poses = _as_poses(y, X_flat.shape[0])
            if groups is None:
                group_ids = np.arange(X_flat.shape[0])
            else:
                groups = np.asarray(groups)
                if groups.shape != (X_flat.shape[0],):
                    raise ValueError(f"groups must have shape ({X_flat.shape[0]},), got {groups.shape}")
                _, group_ids = np.unique(groups, return_inverse=True)
            if continuing:  # the network was trained on this standardisation
                mean, scale = self.mean_, self.scale_
            elif self.standardize:
                mean = X_flat.mean(axis=0)
                scale = X_flat.std(axis=0)
                scale = np.where(scale > 1e-8, scale, 1.0).astype(np.float32)
            else:
                mean = np.zeros(X_flat.shape[1], dtype=np.float32)
                scale = np.ones(X_flat.shape[1], dtype=np.float32)
            order = np.argsort(group_ids, kind="stable")
            counts = np.bincount(group_ids)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            device = self._fit_device()
            generator = torch_generator(self.random_state)
            layout = {"n_features": X_flat.shape[1]}
            module = self._start_module(
                lambda: build_module(lambda: self._new_module(X_flat.shape[1]), generator, device),
                layout, device,
            )
            data = (
                torch.from_numpy((X_flat - mean) / scale),
                torch.from_numpy(poses.astype(np.float32)),
                torch.from_numpy(order),
                torch.from_numpy(starts),
                torch.from_numpy(counts),
            )
            history = self._train(module, data, len(counts), generator, layout=layout)
            self.module_ = module
            self.mean_, self.scale_ = mean, scale
            self.n_groups_ = len(counts)
            self.history_ = history
            self.device_ = device
        return self

    def _training_step(self, module, indices, data, generator):
        features, poses, order, starts, counts = data
        # ``indices`` are sequences; draw pairs_per_group pairs from each.
        offsets = torch.rand((len(indices), self.pairs_per_group), generator=generator)
        offsets = (offsets * counts[indices, None]).long()
        pairs = order[starts[indices, None] + offsets]
        device = next(module.parameters()).device
        rotation, translation = rotation_from_9d(module(features[pairs].to(device)))
        target = poses[pairs].to(device)
        loss_rotation = rotation_loss(rotation, target[..., :3, :3])
        loss_translation = scale_invariant_translation_loss(
            translation, target[..., :3, 3], positive=self.positive_scale
        )
        return {
            "loss": loss_rotation + self.translation_weight * loss_translation,
            "rotation": loss_rotation,
            "translation": loss_translation,
        }

    def predict(self, X):
        """Relative poses (n, 4, 4); translations up to the sequence's scale."""
        check_is_fitted(self)
        X_flat, _ = flatten_samples(X)
        X_flat = validate_data(self, X_flat, dtype=np.float32, reset=False)
        features = (X_flat.astype(np.float64) - self.mean_) / self.scale_
        # Inference in float64: a sample's pose then does not depend, even in the
        # last float32 digit, on which other samples share its batch.
        module = copy.deepcopy(self.module_).double().eval()
        poses = np.tile(np.eye(4), (X_flat.shape[0], 1, 1))
        with torch.no_grad():
            for start in range(0, X_flat.shape[0], 512):
                batch = torch.from_numpy(np.ascontiguousarray(features[start:start + 512])).to(self.device_)
                rotation, translation = rotation_from_9d(module(batch))
                poses[start:start + 512, :3, :3] = rotation.cpu().double().numpy()
                poses[start:start + 512, :3, 3] = translation.cpu().double().numpy()
        return poses

    def score(self, X, y, sample_weight=None):
        """Negative mean angular error, in degrees, of rotation plus translation direction.

        Higher is better; 0 is perfect.  Translations are compared by direction
        only, as their scale is unknown.
        """
        true = _as_poses(y, len(X))
        pred = self.predict(X)
        errors = rotation_error(true, pred) + translation_error(true, pred)
        return -float(np.average(errors, weights=sample_weight))
