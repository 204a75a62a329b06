"""Diagnostics of a learned Neural Isometries operator (numpy in, numpy out).

These functions measure the properties the method is meant to produce:

* :func:`equivariance_error` — how well the solved isometry τ carries one
  eigenspace latent onto the other;
* :func:`gram_invariance_ratio` — how much the O(K)-invariant Gram features
  ÊᵀÊ move under a transformation, relative to a change of sample;
* :func:`eigenvalue_blocks` — the multiplicity structure of the learned
  spectrum Λ (which eigenvalues are, for practical purposes, equal);
* :func:`block_energy` and :func:`off_block_energy` (alias
  :func:`block_sparsity`) — how block-diagonal τ is over those multiplicities
  (an isometry that commutes with Λ is exactly block-diagonal, method.md §1);
* :func:`subspace_invariance_error` — whether span(Φ) is an invariant subspace
  of known symmetries of the latent grid (e.g. cyclic shifts of a torus), with
  :func:`shift_operators` to build those symmetries;
* :func:`compose_trajectory`, :func:`absolute_trajectory_error`,
  :func:`rotation_error`, :func:`translation_error` — camera-pose accuracy
  (defined in ``skniso._pose_metrics``).

Everything works on plain arrays, so the metrics apply to any fitted
:class:`~skniso.NeuralIsometryTransformer` (``eigenvalues_``,
``eigenfunctions_``, ``mass_``, ``isometries(X)``) as well as to arrays built
by hand.
"""

import numbers

import numpy as np

from ._validation import check_ints, is_integer
from ._pose_metrics import (
    absolute_trajectory_error,
    compose_trajectory,
    rotation_error,
    translation_error,
)

__all__ = [
    "absolute_trajectory_error",
    "compose_trajectory",
    "rotation_error",
    "translation_error",
    "block_energy",
    "block_mask",
    "block_sparsity",
    "eigenvalue_blocks",
    "equivariance_error",
    "gram_invariance_ratio",
    "off_block_energy",
    "shift_operators",
    "subspace_invariance_error",
]

_TINY = 1e-300


# -- input helpers -----------------------------------------------------------
def _as_float_array(value, name):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from exc
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _as_tau(tau, name="tau"):
    """Return ``tau`` as (n, K, K) float64 and whether the input was a single matrix."""
    tau = _as_float_array(tau, name)
    if tau.ndim == 2:
        tau, single = tau[None], True
    elif tau.ndim == 3:
        single = False
    else:
        raise ValueError(
            f"{name} must be one (K, K) matrix or a batch (n, K, K), got shape {tau.shape}"
        )
    if tau.shape[-1] != tau.shape[-2]:
        raise ValueError(f"{name} must hold square matrices, got shape {tau.shape}")
    return tau, single


def _as_same_shape(**arrays):
    """Convert each named array with :func:`_as_float_array`; they must share one shape."""
    converted = [_as_float_array(value, name) for name, value in arrays.items()]
    shapes = [array.shape for array in converted]
    if any(shape != shapes[0] for shape in shapes[1:]):
        names, shown = list(arrays), [str(shape) for shape in shapes]
        raise ValueError(
            f"{', '.join(names[:-1])} and {names[-1]} must have the same shape, "
            f"got {', '.join(shown[:-1])} and {shown[-1]}"
        )
    return converted


def _as_eigenvalues(eigenvalues, k=None):
    eigenvalues = _as_float_array(eigenvalues, "eigenvalues")
    if eigenvalues.ndim != 1 or eigenvalues.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1-D array, got shape {eigenvalues.shape}")
    if k is not None and eigenvalues.size != k:
        raise ValueError(
            f"{eigenvalues.size} eigenvalues given for {k}x{k} isometries; they must match"
        )
    return eigenvalues


def _reduce(values, single, average):
    if average:
        return float(np.mean(values))
    return float(values[0]) if single else values


# -- equivariance ------------------------------------------------------------
def equivariance_error(tau, source, target):
    """Relative equivariance error ‖τÂ − B̂‖_F / ‖B̂‖_F, per sample.

    Parameters
    ----------
    tau : array-like of shape (n, K, K) or (K, K)
        Isometries mapping ``source`` to ``target`` (as returned by
        :meth:`NeuralIsometryTransformer.isometries`); a single τ is applied
        to every sample.
    source, target : array-like of shape (n, K, C) or (K, C)
        Eigenspace latents Â = Ê(ψ) and B̂ = Ê(Tψ).

    Returns
    -------
    ndarray of shape (n,), or float when τ is (K, K) and the latents (K, C)
        0 when τ carries Â exactly onto B̂; about √2 for unrelated latents of
        equal norm.  A ``target`` of zero norm gives ``inf`` (or 0 if the
        residual is zero too).

    See Also
    --------
    gram_invariance_ratio : how far the transformation moves the invariant
        Gram features, rather than how well τ predicts it.

    Notes
    -----
    τ need not be solved on the pairs it is scored on.  Passing the τ solved
    on pairs (ψ, Tψ) together with the latents of *other* samples under the
    same transformations, (φ, Tφ), gives the **transfer error**
    ‖τ_ψ Ê(φ) − Ê(Tφ)‖_F / ‖Ê(Tφ)‖_F: it is small only when τ encodes the
    transformation T alone and not the sample it was solved on (what the
    triplet regime trains for).  Building pairs that share their
    transformations is up to the caller (``benchmarks/homnist.py`` reuses one
    random generator state for both sets).

    Examples
    --------
    The transfer error, with ``pairs_a`` and ``pairs_b`` holding different
    samples under the same transformations:

    >>> tau_a = niso.isometries(pairs_a)  # doctest: +SKIP
    >>> _, source_b, target_b = niso.isometries(pairs_b, return_latents=True)  # doctest: +SKIP
    >>> transfer = equivariance_error(tau_a, source_b, target_b)  # doctest: +SKIP
    """
    tau, single_tau = _as_tau(tau)
    source, target = _as_same_shape(source=source, target=target)
    single = single_tau and source.ndim == 2
    if single:
        source, target = source[None], target[None]
    if source.ndim != 3:
        raise ValueError(
            f"source and target must be (n, K, C) (or (K, C) with one τ), got shape {source.shape}"
        )
    n, k = source.shape[:2]
    if single_tau:
        tau = np.broadcast_to(tau, (n, k, k)) if tau.shape[-1] == k else tau
    if tau.shape != (n, k, k):
        shown = tau.shape[1:] if single_tau else tau.shape
        raise ValueError(
            f"tau of shape {shown} does not match latents of shape {source.shape}: "
            "need (n, K, K) or (K, K) with (n, K, C)"
        )
    residual = np.linalg.norm((tau @ source - target).reshape(n, -1), axis=1)
    norm = np.linalg.norm(target.reshape(n, -1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(norm > 0, residual / np.maximum(norm, _TINY), np.where(residual > 0, np.inf, 0.0))
    return float(error[0]) if single else error


def _gram_matrices(latents):
    """ÊᵀÊ for each latent of (n, K, C): the (n, C, C) inner products of its channels over K.

    The plain Euclidean product is the right one: NIso latents are coordinates
    in an M-orthonormal basis.  Shared by :func:`gram_invariance_ratio` and
    :class:`~skniso.GramFeatures`, so both read the same invariants.
    """
    return np.einsum("nkc,nkd->ncd", latents, latents)


def gram_invariance_ratio(source, target, other):
    """Change of the Gram features ÊᵀÊ under a transformation, relative to a change of sample.

    With G(Ê) = ÊᵀÊ, the (C, C) matrix of inner products between the C
    channels of a latent (every O(K)-invariant function of Ê, such as the
    output of :class:`~skniso.EquivariantClassifier`'s head, is a function of
    G), the ratio is

        mean_n ‖G(target_n) − G(source_n)‖_F  /  mean_n ‖G(other_n) − G(source_n)‖_F.

    G is unchanged when a latent is multiplied by any orthogonal K×K matrix,
    so a transformation that acts on the latents as an isometry leaves it
    exactly invariant.

    Parameters
    ----------
    source, target : array-like of shape (n, K, C)
        Eigenspace latents Â = Ê(ψ) and B̂ = Ê(Tψ) of the same samples before
        and after the transformation (``return_latents=True`` of
        :meth:`NeuralIsometryTransformer.isometries`).
    other : array-like of shape (n, K, C)
        The latent of a *different* sample paired with each ``source`` — the
        comparison scale, chosen by the caller: e.g. ``source[perm]`` for a
        random permutation ``perm``, or a sample of another class.

    Returns
    -------
    float
        0 when the Gram features are invariant under the transformation;
        about 1 when the transformation moves them as much as swapping the
        sample does.

    Raises
    ------
    ValueError
        If the denominator vanishes (to rounding, relative to the size of the
        Gram matrices): every ``other_n`` has the Gram matrix of its
        ``source_n``, e.g. all samples are identical, and the ratio is
        undefined.

    Notes
    -----
    The Gram matrices use the plain Euclidean inner product over the K
    eigen-coordinates.  That is the right one for NIso latents: Ê = ΦᵀM E(x)
    are coordinates in an M-orthonormal basis, so the mass M is already
    accounted for.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> source = rng.standard_normal((4, 3, 2))
    >>> q, _ = np.linalg.qr(rng.standard_normal((4, 3, 3)))
    >>> round(gram_invariance_ratio(source, q @ source, source[::-1]), 12)
    0.0
    """
    source, target, other = _as_same_shape(source=source, target=target, other=other)
    if source.ndim != 3 or source.shape[0] == 0:
        raise ValueError(
            "source, target and other must be (n, K, C) latents with n >= 1, "
            f"got shape {source.shape}"
        )
    gram_source, gram_target, gram_other = (_gram_matrices(latents) for latents in (source, target, other))

    def mean_norm(grams):
        return np.linalg.norm(grams, axis=(1, 2)).mean()

    moved = mean_norm(gram_target - gram_source)
    between = mean_norm(gram_other - gram_source)
    if not between > 1e-12 * (mean_norm(gram_source) + mean_norm(gram_other)):
        raise ValueError(
            "other has (to rounding) the same Gram matrices as source for every sample, "
            "so the ratio is undefined; other must hold different samples"
        )
    return float(moved / between)


# -- multiplicity blocks -----------------------------------------------------
def eigenvalue_blocks(eigenvalues, tol=None, rtol=0.5, atol=1e-2):
    """Group eigenvalues into multiplicity blocks.

    The eigenvalues are sorted and cut wherever two consecutive values differ
    by more than ``tol``; each run of values between cuts is one block (one
    "eigenspace" of the operator, within tolerance).

    Parameters
    ----------
    eigenvalues : array-like of shape (K,)
        Need not be sorted.
    tol : float or None, default=None
        Largest gap between consecutive sorted eigenvalues that still counts
        as "equal".  ``None`` uses the scale-free rule
        ``tol = max(rtol * (max(λ) - min(λ)) / (K - 1), atol)``: a gap is a
        split when it is larger than ``rtol`` times the *mean* gap (and larger
        than ``atol``).  Evenly spread eigenvalues (every gap equal to the
        mean) therefore form K singleton blocks, while tight clusters
        separated by larger jumps are grouped.  Unlike a median-based rule
        this does not break down when half of the gaps are near zero (a
        spectrum made of pairs).  The absolute floor keeps a collapsed
        spectrum (all eigenvalues within ~``atol``) from being split at the
        scale of numerical noise: it becomes a single block.

        For a fitted transformer, ``tol = mask_temperature * log(2)`` groups
        exactly the eigenvalues that the model's fuzzy mask couples with
        weight ≥ 0.5 (chained), the convention of :func:`off_block_energy`.
    rtol : float, default=0.5
        The fraction of the mean gap used when ``tol`` is None.
    atol : float, default=0.01
        Gaps up to ``atol`` never split a block when ``tol`` is None.  NIso
        eigenvalues are in the units of the fuzzy mask exp(−|λ_i − λ_j|), in
        which a gap of 0.01 couples two eigenspaces with weight 0.99.

    Returns
    -------
    blocks : list of ndarray of int
        Indices into ``eigenvalues`` (the original order), one array per
        block, blocks in increasing eigenvalue order and indices within a
        block sorted by eigenvalue.

    Examples
    --------
    >>> eigenvalue_blocks([0.0, 1.0, 1.01, 2.5, 2.49])
    [array([0]), array([1, 2]), array([4, 3])]
    """
    eigenvalues = _as_eigenvalues(eigenvalues)
    k = eigenvalues.size
    order = np.argsort(eigenvalues, kind="stable")
    values = eigenvalues[order]
    if tol is None:
        if not (isinstance(rtol, numbers.Real) and rtol >= 0):
            raise ValueError(f"rtol must be a non-negative number, got {rtol!r}")
        spread = values[-1] - values[0] if k > 1 else 0.0
        if not (isinstance(atol, numbers.Real) and atol >= 0):
            raise ValueError(f"atol must be a non-negative number, got {atol!r}")
        tol = max(rtol * spread / max(k - 1, 1), atol)
    elif not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ValueError(f"tol must be None or a non-negative number, got {tol!r}")
    gaps = np.diff(values)
    cuts = np.flatnonzero(gaps > tol) + 1
    return [order[part] for part in np.split(np.arange(k), cuts)]


def _block_labels(blocks, k):
    """Turn a list of index arrays or a label array into one label per index."""
    if isinstance(blocks, np.ndarray) and blocks.ndim == 1 and blocks.dtype.kind in "iu":
        labels = blocks.astype(np.int64)
        if labels.size != k:
            raise ValueError(f"a label array for blocks must have length K={k}, got {labels.size}")
        return labels
    labels = np.full(k, -1, dtype=np.int64)
    try:
        parts = [np.asarray(part, dtype=np.int64).ravel() for part in blocks]
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "blocks must be a list of index arrays (as from eigenvalue_blocks) or an "
            "integer label array of length K"
        ) from exc
    for label, part in enumerate(parts):
        if part.size and (part.min() < 0 or part.max() >= k):
            raise ValueError(f"block indices must lie in [0, {k}), got {part.tolist()}")
        if np.any(labels[part] >= 0):
            raise ValueError("blocks overlap: an index appears in more than one block")
        labels[part] = label
    if np.any(labels < 0):
        missing = np.flatnonzero(labels < 0).tolist()
        raise ValueError(f"blocks must cover every index 0..{k - 1}; missing {missing}")
    return labels


def block_mask(blocks, k):
    """Boolean (K, K) pattern that is True inside the diagonal blocks."""
    labels = _block_labels(blocks, k)
    return labels[:, None] == labels[None, :]


def block_energy(tau, blocks, average=False):
    """Fraction of τ's squared entries that lie inside the diagonal blocks.

    ``Σ_{i,j in the same block} τ_ij² / Σ_ij τ_ij²``: 1.0 for a perfectly
    block-diagonal τ.  A Haar-random orthogonal K×K matrix scores about
    ``Σ_b |b|² / K²`` (the share of entries inside the blocks).

    Parameters
    ----------
    tau : array-like of shape (n, K, K) or (K, K)
    blocks : list of array-like of int, or int array of shape (K,)
        A partition of ``0..K-1`` — e.g. from :func:`eigenvalue_blocks` — or
        one block label per index.
    average : bool, default=False
        Return the mean over the batch instead of one value per matrix.

    Returns
    -------
    ndarray of shape (n,), or float (single τ or ``average=True``)
    """
    tau, single = _as_tau(tau)
    inside = block_mask(blocks, tau.shape[-1])
    squared = tau**2
    total = squared.sum(axis=(-2, -1))
    energy = (squared * inside).sum(axis=(-2, -1)) / np.maximum(total, _TINY)
    return _reduce(energy, single, average)


def off_block_energy(
    tau, eigenvalues, mask="fuzzy", temperature=1.0, threshold=0.5, tol=1e-6, average=False
):
    """Share of τ's squared mass off the eigenvalue-multiplicity pattern.

    This is the "block sparsity of τ": with the model's own commutation mask
    P (method.md §3), an entry (i, j) is *off-block* when P_ij < ``threshold``,
    and the metric is

        Σ_{P_ij < threshold} τ_ij²  /  Σ_ij τ_ij².

    **Lower is sparser**: 0 means τ has no energy between eigenvalues the mask
    treats as distinct, i.e. it commutes with Λ as the method intends.  For the
    fuzzy mask P_ij = exp(−|λ_i − λ_j| / temperature) and the default
    threshold 0.5, an entry is off-block when |λ_i − λ_j| > temperature·ln 2.

    Parameters
    ----------
    tau : array-like of shape (n, K, K) or (K, K)
    eigenvalues : array-like of shape (K,)
        In the order of τ's rows and columns (``eigenvalues_`` of a fitted
        transformer).
    mask : {"fuzzy", "hard"}, default="fuzzy"
        ``"fuzzy"``: the reference mask above.  ``"hard"``: off-block when
        |λ_i − λ_j| > ``tol``.
    temperature : float, default=1.0
        Temperature of the fuzzy mask (the transformer's ``mask_temperature``).
    threshold : float in (0, 1], default=0.5
        Mask value below which an entry counts as off-block (fuzzy only).
    tol : float, default=1e-6
        Tolerance of the hard mask.
    average : bool, default=False
        Return the batch mean.

    Returns
    -------
    ndarray of shape (n,), or float (single τ or ``average=True``)

    See Also
    --------
    block_energy : the same idea for an explicit partition into blocks.
    """
    tau, single = _as_tau(tau)
    k = tau.shape[-1]
    eigenvalues = _as_eigenvalues(eigenvalues, k)
    gaps = np.abs(eigenvalues[:, None] - eigenvalues[None, :])
    if mask == "fuzzy":
        if not (isinstance(temperature, numbers.Real) and temperature > 0):
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if not (isinstance(threshold, numbers.Real) and 0 < threshold <= 1):
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        off = np.exp(-gaps / temperature) < threshold
    elif mask == "hard":
        off = gaps > tol
    else:
        raise ValueError(f"mask must be 'fuzzy' or 'hard', got {mask!r}")
    squared = tau**2
    total = squared.sum(axis=(-2, -1))
    energy = (squared * off).sum(axis=(-2, -1)) / np.maximum(total, _TINY)
    return _reduce(energy, single, average)


#: Alias of :func:`off_block_energy`: the "block sparsity of τ" (lower is sparser).
block_sparsity = off_block_energy


# -- invariant subspaces -----------------------------------------------------
def shift_operators(grid_shape, shifts=None):
    """Cyclic-shift permutation matrices of a periodic grid (flattened row-major).

    Parameters
    ----------
    grid_shape : tuple of int
        The latent grid, e.g. ``(8, 8)`` or ``(24,)``.
    shifts : sequence of tuple of int, optional
        One offset per axis for each operator.  Default: a shift by +1 along
        each axis separately (invariance under these implies invariance under
        every cyclic shift).

    Returns
    -------
    ndarray of shape (m, N, N)
        ``S @ z.ravel()`` equals ``np.roll(z, shift, axis=all axes).ravel()``.
    """
    grid_shape = check_ints((grid_shape,) if is_integer(grid_shape, minimum=None) else grid_shape, "grid_shape")
    d = len(grid_shape)
    if shifts is None:
        shifts = [tuple(int(a == axis) for a in range(d)) for axis in range(d)]
    n = int(np.prod(grid_shape))
    index = np.arange(n).reshape(grid_shape)
    operators = []
    for shift in shifts:
        shift = tuple(int(s) for s in np.atleast_1d(shift))
        if len(shift) != d:
            raise ValueError(f"each shift needs {d} offsets for grid {grid_shape}, got {shift}")
        # (S z)[i] = z[i - shift]  ⇔  row i has a 1 at column (i - shift).
        source = np.roll(index, shift, axis=tuple(range(d))).ravel()
        matrix = np.zeros((n, n))
        matrix[np.arange(n), source] = 1.0
        operators.append(matrix)
    return np.stack(operators)


def subspace_invariance_error(eigenfunctions, mass, operator_matrices, average=True):
    """How far span(Φ) is from being invariant under given linear maps.

    For each map S, ``‖(I − ΦΦᵀM) S Φ‖_F / ‖S Φ‖_F``: the part of SΦ that
    leaves span(Φ) under the M-orthogonal projection ΦΦᵀM.  0 when S maps the
    span into itself; about sqrt(1 − K/N) for a random K-dimensional subspace
    of R^N.

    Parameters
    ----------
    eigenfunctions : array-like of shape (N, K)
        Φ, M-orthonormal (ΦᵀMΦ = I); ``eigenfunctions_`` of a fitted
        transformer.
    mass : array-like of shape (N,) or None
        The diagonal of M; None for the identity.
    operator_matrices : array-like of shape (N, N) or (m, N, N)
        The maps S, e.g. from :func:`shift_operators`.
    average : bool, default=True
        Return the mean over the maps; False returns one value per map.

    Returns
    -------
    float, or ndarray of shape (m,)
    """
    phi = _as_float_array(eigenfunctions, "eigenfunctions")
    if phi.ndim != 2:
        raise ValueError(f"eigenfunctions must be (N, K), got shape {phi.shape}")
    n, k = phi.shape
    if mass is None:
        mass = np.ones(n)
    mass = _as_float_array(mass, "mass")
    if mass.shape != (n,):
        raise ValueError(f"mass must have shape (N,) = ({n},), got {mass.shape}")
    if np.any(mass <= 0):
        raise ValueError("mass must be positive")
    ops = _as_float_array(operator_matrices, "operator_matrices")
    if ops.ndim == 2:
        ops = ops[None]
    if ops.ndim != 3 or ops.shape[-2:] != (n, n):
        raise ValueError(
            f"operator_matrices must be (N, N) or (m, N, N) with N={n}, got shape {ops.shape}"
        )
    mapped = ops @ phi  # (m, N, K)
    coefficients = phi.T @ (mass[:, None] * mapped)  # (m, K, K)
    residual = mapped - phi @ coefficients
    num = np.linalg.norm(residual, axis=(-2, -1))
    den = np.linalg.norm(mapped, axis=(-2, -1))
    errors = num / np.maximum(den, _TINY)
    return float(errors.mean()) if average else errors
