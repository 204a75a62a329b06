"""NeuralIsometryTransformer: learn an equivariant latent space from related views."""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._validation import (
    TRAINING_PARAMETER_CONSTRAINTS,
    NumberInterval,
    check_finite_output,
    is_integer,
    non_negative_real,
    positive_int,
    positive_real,
)
from .core.model import TRANSITIONS, NeuralIsometryModel
from .core.operator import SpectralOperator
from .core.procrustes import POLAR_GRADIENTS, eigenvalue_mask, least_squares_map, solve_isometry
from .metrics import equivariance_error
from .nn.conv import ConvDecoder, ConvEncoder, check_grid_divisible
from .nn.init import build_module
from .training import TrainedModuleMixin
from .utils import flatten_samples, torch_generator

__all__ = ["NeuralIsometryTransformer", "DEFAULT_N_COMPONENTS"]

DEFAULT_N_COMPONENTS = 32

# The layouts fit and transform accept, for error messages.
_FIT_LAYOUT = "(n_samples, n_views=2 or 3, channels, *spatial) with 1 to 3 spatial axes"
_SINGLE_LAYOUT = "(n_samples, channels, *spatial) with 1 to 3 spatial axes"


class NeuralIsometryTransformer(TrainedModuleMixin, TransformerMixin, BaseEstimator):
    """Neural Isometries: an autoencoder whose latent symmetries are isometries.

    Pairs (or triplets) of observations related by an unknown transformation T are
    encoded onto a latent grid.  A learned operator Ω = ΦΛΦᵀM (mass M,
    eigenfunctions Φ, eigenvalues Λ) is trained jointly, and between the two
    latents an isometry τ — orthogonal and commuting with Λ — is solved in Ω's
    eigenbasis by masked Procrustes.  The losses ask that τ carries one latent to
    the other (equivariance), that decoding the carried latent gives the other
    view (reconstruction), and that Λ has few, sharp multiplicities.  After
    fitting, the eigenspace latents Ê(x) = ΦᵀM E(x) transform under T by an
    orthogonal matrix, which O(K)-equivariant heads such as
    :class:`~skniso.EquivariantClassifier` can exploit.

    Parameters
    ----------
    encoder : {"conv", "identity"} or torch.nn.Module, default="conv"
        ``"conv"``: the reference ResNet encoder/decoder for 1-, 2- or 3-D grids.
        ``"identity"``: the observation itself is the latent (its trailing axes
        are the latent grid, its channels the latent channels), as in the paper's
        toric Laplacian experiment.  A module maps (B, C_in, *spatial) to
        (B, C, *grid) and needs ``decoder``; it is deep-copied at each fit.
    decoder : torch.nn.Module or None, default=None
        Only with a user encoder: maps (B, C, *grid) back to observations.
    channels : tuple of int, default=(16, 32)
        Conv encoder widths per resolution level (reference: (64, 128)).
    blocks_per_level : tuple of int, default=(1, 1)
        Residual blocks per level (reference: (3, 3)).
    latent_channels : int, default=16
        C, the channels of the latent grid (reference homNIST: 32).
    n_components : int, default=32
        K, the operator rank: how many eigenfunctions span the latent space.
    alpha : float, default=0.5
        Weight of the equivariance loss L_E.
    beta : float, default=0.1
        Weight of the multiplicity loss L_M.
    mask : {"fuzzy", "hard"}, default="fuzzy"
        ``"fuzzy"``: P_ij = exp(-|λ_i - λ_j| / mask_temperature) (the reference);
        ``"hard"``: exact multiplicities only.
    mask_temperature : float, default=1.0
    group : {"SO", "O"}, default="SO"
        τ ∈ SO(K) (the reference's determinant fix) or O(K).
    procrustes_gradient : {"exact", "reference"}, default="exact"
        Derivative of τ in training.  ``"exact"`` is the polar factor's own;
        ``"reference"`` is the JAX reference's, which damps singular-value pairs
        with s_i² ≈ s_j², and so most pairs once the latents have shrunk
        (:func:`skniso.core.polar_factor`).  On homNIST pairs the two were
        level, with no consistent sign over two seeds (BENCHMARKS.md).
    regime : {"auto", "pairwise", "triplet"}, default="auto"
        ``"auto"`` follows the data: 2 views per sample is pairwise, 3 triplet.
        With ``pair_transform``, ``"triplet"`` applies the same draw twice.
    spectral_dropout : float, default=0.0
        Probability of truncating a decoded latent's spectrum (paper §3).
    clustered_init : bool, default=False
        Initialise eigenvalues as λ² with λ ~ N(0, 1) instead of cumsum(λ²).
    normalize_mass : bool, default=False
        Keep the mass M at mean 1 (the reference leaves its scale free, which
        lets the equivariance loss shrink without any gain in equivariance).
    equivariance_normalization : {None, "magnitude", "spread"}, default=None
        None: the reference's absolute L_E.  ``"magnitude"``: relative to the
        latents' mean magnitude (scale-free).  ``"spread"``: relative to their
        deviation from the batch mean (what tells samples apart).
    transition : {"isometry", "least_squares", "none"}, default="isometry"
        How the map between two views' latents is obtained.  ``"isometry"`` is
        NIso.  The others are the paper's baselines on the same autoencoder:
        ``"least_squares"`` solves an unconstrained linear map (the Neural
        Fourier Transform, NFT) and ``"none"`` decodes each view from its own
        latent (a plain autoencoder; ``alpha`` and ``beta`` are unused).  Both
        ignore ``mask``, ``group`` and the multiplicity loss.
    pair_transform : callable or None, default=None
        If given, ``fit`` takes single observations and every step draws the
        related view(s) as ``pair_transform(x, generator=g)`` for a batch tensor x
        and a CPU ``torch.Generator`` g, e.g. :class:`skniso.datasets.RandomHomography`.
        It must be picklable to pickle the estimator.
    input_shape : tuple of int or None, default=None
        Shape (C, *spatial) of one observation, used to un-flatten 2-D input.
        None: multi-dimensional input carries its shape; a 2-D row is read as
        the views of a single-channel 1-D signal, concatenated.
    flatten : bool, default=True
        ``transform`` returns (n, K·C), row-major over (K, C); False keeps (n, K, C).
    max_steps : int, default=2000
        Optimiser steps.
    batch_size : int, default=16
        Pairs per step.
    lr : float, default=5e-4
        Peak AdamW learning rate.
    weight_decay : float, default=1e-4
    warmup_steps : int, default=200
        Linear warmup, followed by a cosine decay to lr/10 at ``max_steps``.
    device : str, default="auto"
        "auto" uses CUDA when available; resolved into ``device_`` at fit time.
    random_state : int, RandomState instance or None, default=None
        Seeds a local torch generator for initialisation, batches, view draws and
        dropout; torch's global RNG is never touched.
    verbose : int, default=0
        When > 0, a progress bar and a compact table of losses on stderr.
    %(training_parameters)s

    Attributes
    ----------
    model_ : NeuralIsometryModel
        The fitted encoder, operator and decoder (eval mode).
    encoder_, decoder_ : torch.nn.Module
    mass_ : ndarray of shape (N,)
    eigenfunctions_ : ndarray of shape (N, K)
    eigenvalues_ : ndarray of shape (K,)
    latent_grid_ : tuple of int
    latent_shape_ : tuple of int
        (K, C): the shape of one sample's eigenspace latent.
    observation_shape_ : tuple of int
        (C_in, *spatial) of one observation.
    n_views_ : int
        Views per training sample (1 when views were drawn by ``pair_transform``).
    history_ : list of dict
        Per-step losses, learning rate and elapsed time (and ``validation_loss``
        where it was evaluated).
    n_steps_ : int
        Optimiser steps of the run so far.
    stop_reason_ : str
        ``"max_steps"``, ``"early_stopping"``, ``"max_time"``, ``"divergence"`` or
        ``"interrupted"``.
    best_validation_loss_, best_step_ : float, int or None
        The best validation loss and its step (None without ``validation_fraction``).
    device_ : torch.device
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.

    Notes
    -----
    ``transform`` accepts single observations or samples of several views; for
    the latter it encodes the *first* view.  In
    ``Pipeline([("niso", NeuralIsometryTransformer()), ("clf", EquivariantClassifier())])``
    the classifier is therefore fitted on the latents of ψ (for homNIST pairs, the
    clean digits, as in the paper's protocol) and predicts on single observations.
    """

    _module_attributes = ("model_",)
    # Class-level default: estimators pickled before this parameter existed load as before.
    procrustes_gradient = "exact"

    _parameter_constraints = {
        "encoder": [StrOptions({"conv", "identity"}), nn.Module],
        "decoder": [nn.Module, None],
        "channels": ["array-like"],
        "blocks_per_level": ["array-like"],
        "latent_channels": [positive_int],
        "n_components": [positive_int],
        "alpha": [non_negative_real],
        "beta": [non_negative_real],
        "mask": [StrOptions({"fuzzy", "hard"})],
        "mask_temperature": [positive_real],
        "group": [StrOptions({"SO", "O"})],
        "procrustes_gradient": [StrOptions(set(POLAR_GRADIENTS))],
        "regime": [StrOptions({"auto", "pairwise", "triplet"})],
        "spectral_dropout": [NumberInterval(numbers.Real, 0, 1, closed="both")],
        "clustered_init": ["boolean"],
        "normalize_mass": ["boolean"],
        "equivariance_normalization": [StrOptions({"magnitude", "spread"}), None],
        "transition": [StrOptions(set(TRANSITIONS))],
        "pair_transform": [callable, None],
        "input_shape": ["array-like", None],
        "flatten": ["boolean"],
        **TRAINING_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        encoder="conv",
        decoder=None,
        *,
        channels=(16, 32),
        blocks_per_level=(1, 1),
        latent_channels=16,
        n_components=DEFAULT_N_COMPONENTS,
        alpha=0.5,
        beta=0.1,
        mask="fuzzy",
        mask_temperature=1.0,
        group="SO",
        procrustes_gradient="exact",
        regime="auto",
        spectral_dropout=0.0,
        clustered_init=False,
        normalize_mass=False,
        equivariance_normalization=None,
        transition="isometry",
        pair_transform=None,
        input_shape=None,
        flatten=True,
        max_steps=2000,
        batch_size=16,
        lr=5e-4,
        weight_decay=1e-4,
        warmup_steps=200,
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
        self.encoder = encoder
        self.decoder = decoder
        self.channels = channels
        self.blocks_per_level = blocks_per_level
        self.latent_channels = latent_channels
        self.n_components = n_components
        self.alpha = alpha
        self.beta = beta
        self.mask = mask
        self.mask_temperature = mask_temperature
        self.group = group
        self.procrustes_gradient = procrustes_gradient
        self.regime = regime
        self.spectral_dropout = spectral_dropout
        self.clustered_init = clustered_init
        self.normalize_mass = normalize_mass
        self.equivariance_normalization = equivariance_normalization
        self.transition = transition
        self.pair_transform = pair_transform
        self.input_shape = input_shape
        self.flatten = flatten
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
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -- parameter and input checks -------------------------------------------
    def _check_params(self):
        """Checks across parameters and inside tuples; single values are checked
        by ``_parameter_constraints`` when ``fit`` starts."""
        if isinstance(self.encoder, nn.Module) != isinstance(self.decoder, nn.Module):
            raise ValueError(
                "a user encoder needs a user decoder (both torch.nn.Module); "
                f"got encoder={type(self.encoder).__name__}, decoder={type(self.decoder).__name__}"
            )
        if self.encoder == "conv":
            channels = tuple(self.channels)
            blocks = tuple(self.blocks_per_level)
            if not channels or len(channels) != len(blocks) or not all(
                is_integer(c, minimum=1) for c in channels + blocks
            ):
                raise ValueError(
                    "channels and blocks_per_level must be equally long tuples of positive "
                    f"integers, got {self.channels!r} and {self.blocks_per_level!r}"
                )

    def _fit_layout(self, X, reset=True):
        """Validate ``X``; return it as (n, views, C, *spatial), the number of views,
        one observation's shape, and whether rows were flat 1-D signals."""
        views_from_data = self.pair_transform is None
        X, shape = flatten_samples(X, expected=_FIT_LAYOUT if views_from_data else _SINGLE_LAYOUT)
        X = validate_data(self, X, dtype=np.float32, ensure_min_features=1, reset=reset)
        n_samples, n_features = X.shape

        if self.input_shape is not None:
            sizes = tuple(self.input_shape)
            if len(sizes) < 2 or not all(is_integer(s, minimum=1) for s in sizes):
                raise ValueError(
                    f"input_shape must be (channels, *spatial) with positive integer sizes, got {self.input_shape!r}"
                )
            obs_shape = tuple(int(s) for s in sizes)
            size = int(np.prod(obs_shape))
            n_views, rest = divmod(n_features, size)
            if rest or n_views < 1:
                raise ValueError(
                    f"X has {n_features} features per sample, not a multiple of "
                    f"prod(input_shape={obs_shape}) = {size}"
                )
        elif len(shape) > 2:
            if views_from_data:
                if len(shape) < 4:
                    raise ValueError(
                        f"X of shape {shape} is not {_FIT_LAYOUT}; give single "
                        "observations together with pair_transform, or set input_shape"
                    )
                n_views, obs_shape = shape[1], shape[2:]
            else:
                n_views, obs_shape = 1, shape[1:]
        else:
            n_views = 1 if not views_from_data else (3 if self.regime == "triplet" else 2)
            if n_features % n_views:
                raise ValueError(
                    f"X has {n_features} feature(s); a 2-D row holds {n_views} views of a "
                    f"1-D signal side by side, so the number of features must be a multiple "
                    f"of {n_views}. Set input_shape to describe another layout."
                )
            obs_shape = (1, n_features // n_views)
        if len(obs_shape) > 4:
            raise ValueError(
                f"observations may have 1 to 3 spatial axes, got shape {obs_shape}; expected "
                f"X of shape {_FIT_LAYOUT if views_from_data else _SINGLE_LAYOUT}"
            )

        expected = {"pairwise": 2, "triplet": 3}.get(self.regime)
        if views_from_data:
            if n_views not in (2, 3):
                raise ValueError(
                    f"X holds {n_views} view(s) per sample; NIso needs pairs (2) or triplets (3), "
                    f"X of shape {_FIT_LAYOUT}, or single observations with pair_transform"
                )
            if expected is not None and n_views != expected:
                raise ValueError(f"regime={self.regime!r} needs {expected} views per sample, X has {n_views}")
        elif n_views != 1:
            raise ValueError(
                f"with pair_transform, X must hold single observations, got {n_views} views per sample"
            )
        flat_rows = len(shape) == 2 and self.input_shape is None
        return X.reshape(n_samples, n_views, *obs_shape), n_views, tuple(obs_shape), flat_rows

    # -- building -------------------------------------------------------------
    def _build_model(self, obs_shape, generator, device):
        in_channels, spatial = obs_shape[0], obs_shape[1:]
        k = self.n_components
        if isinstance(self.encoder, nn.Module):
            # User modules keep their own initialisation; only the operator is seeded.
            encoder = copy.deepcopy(self.encoder).to(device)
            decoder = copy.deepcopy(self.decoder).to(device)
            with torch.no_grad():
                probe = encoder(torch.zeros((1, *obs_shape), device=device))
            latent_grid = tuple(probe.shape[2:])
            self._check_rank(k, latent_grid)
            operator = build_module(lambda: self._new_operator(latent_grid), generator, device)
            return NeuralIsometryModel(encoder, decoder, latent_grid, operator)

        if self.encoder == "identity":
            latent_grid = spatial

            def codecs():
                return nn.Identity(), nn.Identity()

        else:
            channels, blocks = tuple(self.channels), tuple(self.blocks_per_level)
            factor = 2 ** (len(channels) - 1)
            check_grid_divisible(spatial, factor)
            latent_grid = tuple(s // factor for s in spatial)
            dims, latent = len(spatial), self.latent_channels

            def codecs():
                return (
                    ConvEncoder(in_channels, latent, channels, blocks, spatial_dims=dims),
                    ConvDecoder(latent, in_channels, channels, blocks, spatial_dims=dims),
                )

        self._check_rank(k, latent_grid)

        def factory():
            return NeuralIsometryModel(*codecs(), latent_grid, self._new_operator(latent_grid))

        return build_module(factory, generator, device)

    def _new_operator(self, latent_grid):
        return SpectralOperator(
            int(np.prod(latent_grid)), self.n_components, self.clustered_init, self.normalize_mass
        )

    @staticmethod
    def _check_rank(k, latent_grid):
        n_points = int(np.prod(latent_grid))
        if k > n_points:
            raise ValueError(
                f"n_components={k} exceeds the latent grid's {n_points} points "
                f"(grid {tuple(latent_grid)}); lower n_components"
            )

    # -- fitting --------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the autoencoder, operator and isometries on related views.

        Parameters
        ----------
        X : array-like
            (n, 2, C, *spatial) pairs or (n, 3, C, *spatial) triplets; with
            ``pair_transform``, single observations (n, C, *spatial).  2-D input
            (n, features) is un-flattened by ``input_shape`` (see its description).
        y : ignored

        Returns
        -------
        self
        """
        return self._fit(X, partial=False)

    def partial_fit(self, X, y=None):
        """Continue the run for one pass over ``X`` (about n/batch_size steps).

        The first call initialises the model as ``fit`` does; later calls keep
        the weights, optimiser and random state, and need data of the same
        layout.  The learning rate follows the run's schedule over ``max_steps``.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.
        y : ignored

        Returns
        -------
        self
        """
        # Every call validates, not only the first as _fit_context would:
        # set_params may have changed a parameter since the last one.
        self._validate_params()
        return self._fit(X, partial=True)

    def _fit(self, X, partial):
        with self._atomic_fit():
            self._check_params()
            data, n_views, obs_shape, flat_rows = self._fit_layout(X, reset=not self._continues_run(partial))
            # inverse_transform answers in the layout fit was given.
            self._flat_input = flat_rows
            device = self._fit_device()
            generator = torch_generator(self.random_state)
            layout = {"views": n_views, "observation_shape": obs_shape}
            model = self._start_module(
                lambda: self._build_model(obs_shape, generator, device), layout, device, partial=partial
            )
            history = self._train(
                model, torch.from_numpy(data), data.shape[0], generator, layout=layout, partial=partial
            )
            self._set_fitted(model, history, n_views, obs_shape, device)
        return self

    def _set_fitted(self, model, history, n_views, obs_shape, device):
        self.model_ = model
        with torch.no_grad():
            mass, phi, lam = model.operator()
        self.mass_ = mass.detach().cpu().numpy()
        self.eigenfunctions_ = phi.detach().cpu().numpy()
        self.eigenvalues_ = lam.detach().cpu().numpy()
        self.latent_grid_ = model.latent_grid
        self.observation_shape_ = obs_shape
        self.n_views_ = n_views
        self.history_ = history
        self.device_ = device
        with torch.no_grad():
            probe = model.encode(torch.zeros((1, *obs_shape), device=device))
        self.latent_shape_ = (self.n_components, int(probe.shape[2]))

    # Views into model_, not attributes of their own: a second reference would
    # escape the move to CPU in __getstate__ and pin CUDA tensors in pickles.
    @property
    def encoder_(self):
        """The fitted encoder (a view into ``model_``)."""
        return self.model_.encoder

    @property
    def decoder_(self):
        """The fitted decoder (a view into ``model_``)."""
        return self.model_.decoder

    def _views(self, batch, generator):
        """The list of related views for one training batch."""
        if self.pair_transform is None:
            return list(batch.unbind(1))
        first = batch[:, 0]
        n_views = 3 if self.regime == "triplet" else 2
        views = [first]
        state = generator.get_state()
        for _ in range(n_views - 1):
            # Re-use the same random draw so that T²ψ applies the same T twice.
            generator.set_state(state)
            view = self.pair_transform(views[-1], generator=generator)
            if not torch.is_tensor(view) or view.shape != first.shape:
                raise ValueError(
                    f"pair_transform must return a tensor shaped like its input {tuple(first.shape)}, "
                    f"got {type(view).__name__} of shape {tuple(getattr(view, 'shape', ()))}"
                )
            views.append(view)
        return views

    def _training_step(self, model, indices, data, generator):
        device = next(model.operator.parameters()).device
        batch = data[indices].to(device, non_blocking=True)
        views = self._views(batch, generator)
        return model.losses(
            views,
            alpha=self.alpha,
            beta=self.beta,
            mask=self.mask,
            mask_temperature=self.mask_temperature,
            special=self.group == "SO",
            dropout=self.spectral_dropout if model.training else 0.0,
            equivariance_normalization=self.equivariance_normalization,
            transition=self.transition,
            procrustes_gradient=self.procrustes_gradient,
            generator=generator,
        )

    def _modules_to_compile(self, model):
        # The convolutions carry the compute; the Procrustes SVD stays eager.
        return [model.encoder, model.decoder]

    # -- inference ------------------------------------------------------------
    def _inference_views(self, X):
        """Validate ``X`` at inference; return (n, views, C, *spatial) float32."""
        check_is_fitted(self)
        obs_size = int(np.prod(self.observation_shape_))
        obs = self.observation_shape_
        layouts = f"(n, {', '.join(map(str, obs))}) or (n, n_views, {', '.join(map(str, obs))})"
        X, shape = flatten_samples(X, expected=layouts)
        sample_shape = tuple(shape[1:])
        if len(shape) > 2 and sample_shape != obs and not (
            sample_shape[1:] == obs and 1 <= sample_shape[0] <= 3
        ):
            # The same number of values in another layout (other channels or
            # sizes) would otherwise be read as valid observations.
            raise ValueError(
                f"X has samples of shape {sample_shape}, but {type(self).__name__} was "
                f"fitted on observations of shape {obs}: expected X of shape {layouts}"
            )
        n_features = int(np.prod(shape[1:]))
        if n_features == self.n_features_in_:
            X = validate_data(self, X, dtype=np.float32, reset=False)
        else:
            X = check_array(X, dtype=np.float32)
        n_views, rest = divmod(X.shape[1], obs_size)
        accepted = {obs_size, self.n_features_in_, 2 * obs_size, 3 * obs_size}
        if rest or n_views < 1 or X.shape[1] not in accepted:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (or {obs_size} for single "
                f"observations of shape {self.observation_shape_})"
            )
        return X.reshape(X.shape[0], n_views, *self.observation_shape_)

    # Samples per forward pass at inference: the device never holds more than
    # this many inputs (and their activations) at once, whatever the input size.
    _inference_batch_size = 256

    def _batched(self, arrays, fn):
        """Apply ``fn`` to torch batches of ``arrays`` without gradients.

        ``fn`` returns a tensor or a tuple of tensors; each batch is copied into
        numpy arrays allocated once for all samples (a tuple of them for a tuple).
        """
        n, size = arrays[0].shape[0], self._inference_batch_size
        results = None
        with torch.no_grad():
            for start in range(0, n, size):
                batch = [
                    torch.from_numpy(np.ascontiguousarray(a[start:start + size])).to(self.device_)
                    for a in arrays
                ]
                out = fn(*batch)
                out = out if isinstance(out, tuple) else (out,)
                check_finite_output(out, batch, start, self)
                out = [o.cpu().numpy() for o in out]
                if results is None:
                    results = tuple(np.empty((n, *o.shape[1:]), dtype=o.dtype) for o in out)
                for result, o in zip(results, out):
                    result[start:start + size] = o
        return results if len(results) > 1 else results[0]

    def _spectrum(self):
        return self.model_.operator()

    def transform(self, X):
        """Eigenspace latents Ê(x) = ΦᵀM E(x) of single observations or first views.

        Parameters
        ----------
        X : array-like
            Single observations (n, C, *spatial), or samples of several views
            (n, V, C, *spatial) of which the first view is encoded; 2-D input as in
            ``fit``.

        Returns
        -------
        ndarray of shape (n, K·C), or (n, K, C) if ``flatten=False``
            float32; flattened row-major over (K, C).
        """
        views = self._inference_views(X)
        self.model_.eval()
        with torch.no_grad():
            spectrum = self._spectrum()
        coeffs = self._batched([views[:, 0]], lambda x: self.model_.to_eigenspace(x, spectrum))
        coeffs = coeffs.astype(np.float32, copy=False)
        return coeffs.reshape(coeffs.shape[0], -1) if self.flatten else coeffs

    def inverse_transform(self, X):
        """Decode eigenspace latents back to observations: D(Φ e).

        Parameters
        ----------
        X : array-like of shape (n, K·C) or (n, K, C)

        Returns
        -------
        ndarray
            (n, C_in, *spatial); 2-D (n, features of one observation) if the model
            was fitted on 2-D input without ``input_shape``.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=np.float32, allow_nd=True, input_name="latents")
        k = self.n_components
        if X.ndim == 2 and X.shape[1] % k == 0:
            X = X.reshape(X.shape[0], k, -1)
        c = self.latent_shape_[1]
        if X.ndim != 3 or X.shape[1:] != (k, c):
            raise ValueError(
                f"expected latents of shape (n, {k * c}) or (n, {k}, {c}), got {np.shape(X)}"
            )
        with torch.no_grad():
            spectrum = self._spectrum()
        decoded = self._batched([X], lambda e: self.model_.from_eigenspace(e, spectrum))
        if self._flat_input:
            return decoded.reshape(decoded.shape[0], -1)
        return decoded

    def isometries(self, X, return_latents=False):
        """The isometry τ between the first two views of each sample.

        τ is solved as in training: masked Procrustes in the operator's eigenbasis
        (or the least-squares map with ``transition="least_squares"``).

        Parameters
        ----------
        X : array-like
            Pairs (n, 2, C, *spatial) (or more views; the first two are used), or
            single observations when the model has a ``pair_transform``, which
            then draws the second view (seeded by ``random_state``).
        return_latents : bool, default=False
            Also return the eigenspace latents Â and B̂ of the two views.

        Returns
        -------
        tau : ndarray of shape (n, K, K)
            ``tau[i] @ Â[i] ≈ B̂[i]``.
        source, target : ndarray of shape (n, K, C)
            Only with ``return_latents=True``.
        """
        tau, source, target = self._pairwise(X)
        return (tau, source, target) if return_latents else tau

    def _pairwise(self, X):
        """τ, Â and B̂ (numpy) for the first two views of each sample."""
        views = self._inference_views(X)
        if views.shape[1] < 2:
            if self.pair_transform is None:
                raise ValueError("X holds single observations: pairs of views are needed here")
            generator = torch_generator(0 if self.random_state is None else self.random_state)
            first = torch.from_numpy(views[:, 0])
            second = self.pair_transform(first, generator=generator).numpy()
            views = np.stack([views[:, 0], second], axis=1)
        with torch.no_grad():
            spectrum = self._spectrum()
            mask = eigenvalue_mask(spectrum[2], self.mask, self.mask_temperature)

        def solve(x0, x1):
            a = self.model_.to_eigenspace(x0, spectrum)
            b = self.model_.to_eigenspace(x1, spectrum)
            if self.transition == "least_squares":
                return least_squares_map(a, b), a, b
            # A plain autoencoder has no map of its own: its best isometry is reported.
            return solve_isometry(a, b, mask, special=self.group == "SO"), a, b

        return self._batched([views[:, 0], views[:, 1]], solve)

    def equivariance_error(self, X):
        """Relative equivariance error ‖τÂ − B̂‖_F / ‖B̂‖_F per sample (first two views)."""
        return equivariance_error(*self._pairwise(X))

    def score(self, X, y=None):
        """Negative mean relative equivariance error on held-out pairs (higher is better)."""
        return -float(np.mean(self.equivariance_error(X)))

    def get_feature_names_out(self, input_features=None):
        """Names ``k{i}_c{j}`` of the flattened eigenspace latents."""
        check_is_fitted(self)
        k, c = self.latent_shape_
        return np.asarray([f"k{i}_c{j}" for i in range(k) for j in range(c)], dtype=object)

