"""Planar homographies for homNIST: sl(3) basis, warps, pair and test sets.

Coordinate convention (shared by every warp in this module)
-----------------------------------------------------------
A pixel at row ``i`` and column ``j`` of an ``h x w`` image has normalised
coordinates ``u = 2 (i / (h - 1) - 0.5)`` (the *row* coordinate) and
``v = 2 (j / (w - 1) - 0.5)`` (the *column* coordinate), both in [-1, 1], and
homogeneous vector ``[u, v, 1]``.  A warp by a 3 x 3 matrix ``A`` fills output
pixel ``(i, j)`` with the input sampled at the dehomogenised ``A [u, v, 1]``.
So the first basis direction (``e1``) is the image's vertical axis:
``B3 = e1 e3^T`` translates along rows and ``B6 = e2 e3^T`` along columns.

This matches both the NIso training warp (``xforms._draw_and_xform``, sampled
at ``H [u, v, 1]``) and MacDonald et al.'s test-set warp (``meshgrid(...,
indexing="ij")`` sampled at ``u^-1 [a, b, 1]``).  The homNIST scales are
symmetric under swapping ``e1`` and ``e2``, so a transposed convention would
give the same distribution of warped digits anyway.
"""

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_int, is_integer

__all__ = [
    "SL3_BASIS",
    "HOMNIST_SCALES",
    "homography_matrices",
    "warp_homography",
    "RandomHomography",
    "make_homnist_pairs",
    "make_homnist_test",
    "sl3_dvol",
    "sample_haar_coefficients",
]


def _make_sl3_basis():
    e = np.eye(3)
    third = np.eye(3) / 3.0
    basis = np.stack(
        [
            np.outer(e[0], e[0]) - third,  # B1: anisotropic scaling
            np.outer(e[0], e[1]),  # B2: shear
            np.outer(e[0], e[2]),  # B3: translation along rows (e1)
            np.outer(e[1], e[0]),  # B4: shear
            np.outer(e[1], e[1]) - third,  # B5: anisotropic scaling
            np.outer(e[1], e[2]),  # B6: translation along columns (e2)
            np.outer(e[2], e[0]),  # B7: projective
            np.outer(e[2], e[1]),  # B8: projective
        ]
    )
    basis.setflags(write=False)
    return basis


#: sl(3) basis, shape (8, 3, 3), in the order of MacDonald et al. and NIso.
SL3_BASIS = _make_sl3_basis()

#: Standard deviations of the homNIST coefficients (one per basis element).
HOMNIST_SCALES = (0.15, 0.35, 0.17, 0.35, 0.15, 0.17, 0.15, 0.15)


def _make_structure_constants(basis):
    """``ad[i][:, j]`` = coordinates of ``[B_i, B_j]`` in the basis.

    Coordinates come from the pseudo-inverse of the flattened basis, as in the
    reference implementation (the basis spans sl(3), so this is exact).
    """
    flat = basis.reshape(len(basis), -1).T  # (9, 8), columns = basis elements
    to_coordinates = np.linalg.pinv(flat)  # (8, 9)
    commutators = (
        np.einsum("iab,jbc->ijac", basis, basis)
        - np.einsum("jab,ibc->ijac", basis, basis)
    )  # [B_i, B_j], shape (8, 8, 3, 3)
    coords = np.einsum(
        "kf,ijf->ikj", to_coordinates, commutators.reshape(8, 8, 9)
    )
    return coords  # (8, 8, 8): ad[i] is the 8 x 8 matrix of ad_{B_i}


_SL3_AD = _make_structure_constants(SL3_BASIS)


# --------------------------------------------------------------------------
# Random-state helpers (never touch numpy's or torch's global generators)
# --------------------------------------------------------------------------


def _check_random_state(random_state):
    """Return a numpy Generator/RandomState without using the global one.

    ``None`` gives a freshly seeded Generator (OS entropy) rather than
    numpy's global RandomState, so calling code never perturbs it.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if is_integer(random_state, minimum=None):
        return np.random.default_rng(check_int(random_state, "random_state", minimum=0))
    raise TypeError(
        "random_state must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState; got {type(random_state).__name__}."
    )


def _draw_integers(rng, low, high, size=None):
    """Uniform integers in [low, high) for either numpy generator flavour."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(low, high, size=size, dtype=np.int64)
    return rng.randint(low, high, size=size, dtype=np.int64)


def _torch_generator_from(rng):
    """A CPU torch.Generator seeded from a numpy generator."""
    generator = torch.Generator()
    generator.manual_seed(int(_draw_integers(rng, 0, 2**63 - 1)))
    return generator


def _as_torch_generator(generator):
    if generator is None:
        fresh = torch.Generator()
        fresh.seed()  # local, non-deterministic seed; global RNG untouched
        return fresh
    if isinstance(generator, torch.Generator):
        return generator
    if is_integer(generator, minimum=None):
        seeded = torch.Generator()
        seeded.manual_seed(int(generator))
        return seeded
    raise TypeError(
        "generator must be None, an int seed or a torch.Generator; got "
        f"{type(generator).__name__}."
    )


def _validate_scales(scales):
    try:
        values = tuple(float(s) for s in scales)
    except (TypeError, ValueError):
        raise TypeError(
            f"scales must be a sequence of 8 numbers, got {scales!r}."
        ) from None
    if len(values) != 8:
        raise ValueError(
            f"scales must have one entry per sl(3) basis element (8), got "
            f"{len(values)}."
        )
    if not all(math.isfinite(s) and s >= 0 for s in values):
        raise ValueError(f"scales must be finite and non-negative, got {values}.")
    return values


# --------------------------------------------------------------------------
# Matrices and warps
# --------------------------------------------------------------------------


def homography_matrices(coefficients):
    """Map sl(3) coefficients to homographies, ``H = expm(sum_i c_i B_i)``.

    Parameters
    ----------
    coefficients : ndarray or torch.Tensor of shape (..., 8)
        Coefficients in the order of :data:`SL3_BASIS`.

    Returns
    -------
    H : same kind as the input, shape (..., 3, 3)
        Numpy input gives a float64 array; a tensor gives a tensor with the
        input's dtype and device (differentiable).  ``det(H) = 1``.
    """
    is_numpy = not isinstance(coefficients, torch.Tensor)
    if is_numpy:
        array = np.asarray(coefficients, dtype=np.float64)
        coefficients = torch.from_numpy(array)
    if coefficients.shape[-1:] != (8,):
        raise ValueError(
            "coefficients must have a trailing axis of length 8 (one per sl(3) "
            f"basis element); got shape {tuple(coefficients.shape)}."
        )
    if not torch.is_floating_point(coefficients):
        coefficients = coefficients.to(torch.get_default_dtype())
    # np.array copies: SL3_BASIS is read-only and torch warns on such buffers.
    basis = torch.as_tensor(
        np.array(SL3_BASIS), dtype=coefficients.dtype, device=coefficients.device
    )
    algebra = torch.einsum("...i,iab->...ab", coefficients, basis)
    matrices = torch.linalg.matrix_exp(algebra)
    return matrices.numpy() if is_numpy else matrices


def _normalised_grid(height, width, dtype, device):
    """Homogeneous [u (row), v (col), 1] for every pixel, shape (h*w, 3)."""
    rows = torch.linspace(-1.0, 1.0, height, dtype=dtype, device=device)
    cols = torch.linspace(-1.0, 1.0, width, dtype=dtype, device=device)
    u, v = torch.meshgrid(rows, cols, indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    return torch.stack([u, v, torch.ones_like(u)], dim=-1)


def warp_homography(images, H):
    """Warp a batch of images by homographies (NIso's training warp).

    Output pixel ``(i, j)`` takes the bilinearly interpolated input at the
    dehomogenised ``H [u, v, 1]``, with ``u`` the row and ``v`` the column
    coordinate in [-1, 1] (see the module docstring).  The division by the
    homogeneous coordinate uses ``w / (w**2 + 1e-8)`` as in the reference.
    Locations outside the input take that image's per-channel minimum (the
    background, -1 for homNIST digits).

    Parameters
    ----------
    images : torch.Tensor or ndarray of shape (n, C, h, w)
        Floating-point images; ``h, w >= 2``.
    H : torch.Tensor or ndarray of shape (n, 3, 3) or (3, 3)
        One sampling homography per image, or one shared by all.

    Returns
    -------
    warped : same kind, dtype and device as ``images``, shape (n, C, h, w)
        Differentiable with respect to both ``images`` and ``H``.
    """
    is_numpy = not isinstance(images, torch.Tensor)
    if is_numpy:
        images = torch.from_numpy(np.asarray(images))
    if not torch.is_floating_point(images):
        raise TypeError(
            f"images must be a floating-point array, got dtype {images.dtype}."
        )
    if images.ndim != 4:
        raise ValueError(
            "images must have shape (n, C, h, w); got shape "
            f"{tuple(images.shape)}."
        )
    n, _, height, width = images.shape
    if height < 2 or width < 2:
        raise ValueError(
            f"images must be at least 2x2 pixels, got {height}x{width}."
        )
    # grid_sample has no half-precision CPU kernel; compute in float32 then.
    compute_dtype = (
        images.dtype
        if images.dtype in (torch.float32, torch.float64)
        else torch.float32
    )
    H = torch.as_tensor(H, device=images.device).to(dtype=compute_dtype)
    if H.shape == (3, 3):
        H = H.expand(n, 3, 3)
    if H.ndim != 3 or H.shape[1:] != (3, 3) or H.shape[0] != n:
        raise ValueError(
            f"H must have shape ({n}, 3, 3) or (3, 3) to match {n} images; got "
            f"shape {tuple(H.shape)}."
        )

    source = images.to(compute_dtype)
    coords = _normalised_grid(height, width, compute_dtype, images.device)
    mapped = torch.einsum("nab,pb->npa", H, coords)  # (n, h*w, 3)
    w_coord = mapped[..., 2]
    inv_w = w_coord / (w_coord * w_coord + 1e-8)
    src_row = mapped[..., 0] * inv_w
    src_col = mapped[..., 1] * inv_w

    # grid_sample wants (x, y) = (column, row); align_corners=True maps -1/+1
    # to the centres of the first/last pixels, exactly like u and v above.
    grid = torch.stack([src_col, src_row], dim=-1).reshape(n, height, width, 2)
    sampled = F.grid_sample(
        source, grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    inside = ((src_row.abs() <= 1.0) & (src_col.abs() <= 1.0)).reshape(
        n, 1, height, width
    )
    background = source.amin(dim=(2, 3), keepdim=True)
    warped = torch.where(inside, sampled, background).to(images.dtype)
    return warped.numpy() if is_numpy else warped


class RandomHomography:
    """Random homNIST homography, usable as a NIso ``pair_transform``.

    Each call draws, independently for every sample, ``c_i ~ N(0, (m s_i)^2)``
    (``s`` = ``scales``, ``m`` = ``scale_multiplier``), forms
    ``H = expm(sum_i c_i B_i)`` and warps the sample with
    :func:`warp_homography`.  This is NIso's plain-Gaussian training
    distribution (no Haar correction).

    Parameters
    ----------
    scales : sequence of 8 floats, default=HOMNIST_SCALES
        Per-basis-element standard deviations.
    scale_multiplier : float, default=1.0
        Common factor applied to all scales (0 gives the identity).

    Examples
    --------
    >>> import torch
    >>> transform = RandomHomography()
    >>> x = torch.zeros(2, 1, 40, 40)
    >>> transform(x, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 1, 40, 40])
    """

    def __init__(self, scales=HOMNIST_SCALES, scale_multiplier=1.0):
        self.scales = _validate_scales(scales)
        if isinstance(scale_multiplier, bool) or not isinstance(
            scale_multiplier, numbers.Real
        ):
            raise TypeError(
                f"scale_multiplier must be a real number, got {scale_multiplier!r}."
            )
        if not (math.isfinite(scale_multiplier) and scale_multiplier >= 0):
            raise ValueError(
                "scale_multiplier must be finite and non-negative, got "
                f"{scale_multiplier}."
            )
        self.scale_multiplier = float(scale_multiplier)

    def sample_coefficients(self, n, generator=None):
        """Draw sl(3) coefficients for ``n`` homographies.

        Parameters
        ----------
        n : int
            Number of coefficient vectors.
        generator : torch.Generator, int or None, default=None
            Source of randomness.  Draws happen on the generator's device.
            ``None`` uses a freshly (non-deterministically) seeded local
            generator; the global torch RNG is never used.

        Returns
        -------
        coefficients : torch.Tensor of shape (n, 8), float64
        """
        n = check_int(n, "n", minimum=0)
        generator = _as_torch_generator(generator)
        noise = torch.randn(
            n, 8, generator=generator, dtype=torch.float64, device=generator.device
        )
        std = torch.tensor(self.scales, dtype=torch.float64, device=generator.device)
        return noise * (std * self.scale_multiplier)

    def __call__(self, x, generator=None, *, return_matrices=False):
        """Warp every sample of ``x`` by its own random homography.

        Parameters
        ----------
        x : torch.Tensor of shape (n, C, h, w)
        generator : torch.Generator, int or None, default=None
            See :meth:`sample_coefficients`.
        return_matrices : bool, default=False
            Also return the (n, 3, 3) sampling homographies.

        Returns
        -------
        warped : torch.Tensor of shape (n, C, h, w)
            Same dtype and device as ``x``.
        H : torch.Tensor of shape (n, 3, 3), on ``x.device``
            The sampling homographies, in ``x``'s dtype (float32 for
            half-precision inputs).  Only when ``return_matrices=True``.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"RandomHomography expects a torch.Tensor, got {type(x).__name__}."
            )
        if x.ndim != 4:
            raise ValueError(
                "RandomHomography expects a batch of shape (n, C, h, w); got "
                f"shape {tuple(x.shape)}."
            )
        coefficients = self.sample_coefficients(x.shape[0], generator)
        # expm in float64 on the generator's device, then cast before moving:
        # some accelerators (e.g. MPS) have no float64.
        matrix_dtype = (
            x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
        )
        matrices = homography_matrices(coefficients).to(dtype=matrix_dtype)
        matrices = matrices.to(device=x.device)
        warped = warp_homography(x, matrices)
        return (warped, matrices) if return_matrices else warped

    def __repr__(self):
        return (
            f"{type(self).__name__}(scales={self.scales!r}, "
            f"scale_multiplier={self.scale_multiplier!r})"
        )

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return (
            self.scales == other.scales
            and self.scale_multiplier == other.scale_multiplier
        )

    def __hash__(self):
        return hash((type(self).__name__, self.scales, self.scale_multiplier))


# --------------------------------------------------------------------------
# Dataset builders
# --------------------------------------------------------------------------


def _as_image_batch(images, name="images"):
    """Validate user images as float array (n, C, h, w)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise ValueError(
            f"{name} must have shape (n, C, h, w) or (n, h, w); got shape "
            f"{images.shape}."
        )
    if not (
        np.issubdtype(images.dtype, np.floating)
        or np.issubdtype(images.dtype, np.integer)
    ):
        raise TypeError(f"{name} must be numeric, got dtype {images.dtype}.")
    if images.shape[-2] < 2 or images.shape[-1] < 2:
        raise ValueError(
            f"{name} must be at least 2x2 pixels, got {images.shape[-2:]}."
        )
    if len(images) == 0:
        raise ValueError(f"{name} is empty.")
    return images


def _resolve_images_and_labels(images, labels):
    if images is None:
        if labels is not None:
            raise ValueError("labels were given without images.")
        from ._mnist import load_mnist

        return load_mnist(subset="all")
    images = _as_image_batch(images)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(
                f"labels has {len(labels)} entries but images has {len(images)}."
            )
    return images, labels


def make_homnist_pairs(
    n_samples=None, *, images=None, labels=None, replace=False, random_state=None
):
    """Build NIso homNIST training pairs ``(psi, H psi)``.

    View 0 is the clean digit, view 1 the digit warped by a fresh
    :class:`RandomHomography` draw (plain Gaussian coefficients with
    :data:`HOMNIST_SCALES`).

    Parameters
    ----------
    n_samples : int or None, default=None
        Number of pairs.  ``None`` uses every image once, in order.
        Otherwise images are drawn at random (without replacement unless
        ``replace=True``).
    images : array-like of shape (n, 1, 40, 40) or None, default=None
        Digits in [-1, 1].  ``None`` loads the 5,000 bundled digits
        (:func:`load_mnist`, padded).
    labels : array-like of shape (n,) or None, default=None
        Labels for ``images``; ignored only when both are None.
    replace : bool, default=False
        Allow drawing the same image more than once.  Required when
        ``n_samples`` exceeds the number of images.
    random_state : None, int, numpy Generator or RandomState, default=None
        Controls the image selection and the homographies.

    Returns
    -------
    X_pairs : ndarray of shape (n_samples, 2, C, h, w), float32
    y : ndarray of shape (n_samples,), int64, or None
        Labels of the digits (``None`` if ``images`` came without labels).
    """
    images, labels = _resolve_images_and_labels(images, labels)
    n_available = len(images)
    n_samples = None if n_samples is None else check_int(n_samples, "n_samples")
    rng = _check_random_state(random_state)

    if n_samples is None:
        selection = np.arange(n_available)
    else:
        if n_samples > n_available and not replace:
            raise ValueError(
                f"n_samples={n_samples} exceeds the {n_available} available "
                "images; pass replace=True to sample with replacement."
            )
        selection = rng.choice(n_available, size=n_samples, replace=bool(replace))

    clean = images[selection].astype(np.float32, copy=False)
    generator = _torch_generator_from(rng)
    transform = RandomHomography()
    warped = np.empty_like(clean)
    chunk = 1024  # bounds the memory of the sampling grids
    with torch.no_grad():
        for start in range(0, len(clean), chunk):
            batch = torch.from_numpy(clean[start : start + chunk])
            warped[start : start + chunk] = transform(batch, generator).numpy()

    # Bilinear sampling is a convex combination, so the warp can only leave
    # each image's [min, max] range by float rounding; clip that away.
    low = clean.min(axis=(2, 3), keepdims=True)
    high = clean.max(axis=(2, 3), keepdims=True)
    np.clip(warped, low, high, out=warped)

    X_pairs = np.stack([clean, warped], axis=1)
    y = None if labels is None else labels[selection].astype(np.int64)
    return X_pairs, y


def sl3_dvol(v):
    """Haar-density correction ``dvol(v) = |det sum_{k=0}^{9} (-ad_v)^k / (k+1)!|``.

    This is the truncated series for the Jacobian determinant of the
    exponential map of SL(3) used by MacDonald et al.'s sampler.

    Parameters
    ----------
    v : array-like of shape (..., 8)
        Lie-algebra coordinates in the :data:`SL3_BASIS` order.

    Returns
    -------
    dvol : ndarray of shape (...)
    """
    v = np.asarray(v, dtype=np.float64)
    if v.shape[-1:] != (8,):
        raise ValueError(
            f"v must have a trailing axis of length 8, got shape {v.shape}."
        )
    # ad_v[:, j] = coordinates of [v, B_j]
    minus_ad = -np.einsum("...i,iaj->...aj", v, _SL3_AD)
    term = np.broadcast_to(np.eye(8), minus_ad.shape).copy()
    series = term.copy()
    for k in range(1, 10):
        term = term @ minus_ad
        series += term / math.factorial(k + 1)
    return np.abs(np.linalg.det(series))


def sample_haar_coefficients(
    n_samples, scales=HOMNIST_SCALES, *, random_state=None, max_iter=100_000
):
    """MacDonald et al.'s Haar-corrected random walk on sl(3) coordinates.

    Start at ``x = 0.5 s * N(0, I)``.  Then, while a sample is still
    rejected: propose ``x_new = x + 0.5 s * N(0, I)``, compute
    ``alpha = dvol(-x_new) / dvol(-x)``, move the sample to ``x_new`` whether
    or not it is accepted, and retire it once ``alpha >= U(0, 1)``.  Each
    sample thus walks until its first accepted step.

    Parameters
    ----------
    n_samples : int
    scales : sequence of 8 floats, default=HOMNIST_SCALES
    random_state : None, int, numpy Generator or RandomState, default=None
    max_iter : int, default=100000
        Safety bound on the number of walk steps.

    Returns
    -------
    coefficients : ndarray of shape (n_samples, 8), float64
        The homographies are ``expm(sum_i x_i B_i)``.
    """
    n_samples = check_int(n_samples, "n_samples")
    step = 0.5 * np.asarray(_validate_scales(scales))
    rng = _check_random_state(random_state)

    x = step * rng.standard_normal((n_samples, 8))
    rejected = np.ones(n_samples, dtype=bool)
    for _ in range(max_iter):
        active = np.flatnonzero(rejected)
        if active.size == 0:
            return x
        proposal = x[active] + step * rng.standard_normal((active.size, 8))
        alpha = sl3_dvol(-proposal) / sl3_dvol(-x[active])
        uniforms = rng.uniform(size=active.size)
        x[active] = proposal
        rejected[active] = alpha < uniforms
    raise RuntimeError(
        f"Haar sampler did not finish within max_iter={max_iter} steps."
    )


def _warp_clamped_bilinear(images, source_index, sampling_matrices, fill_value):
    """MacDonald et al.'s test-set warp, vectorised in numpy.

    Output pixel (i, j) samples image ``source_index[k]`` at
    ``A_k [a_i, b_j, 1]`` (dehomogenised by plain division) where
    ``a = linspace(-1, 1, h)`` indexes rows and ``b = linspace(-1, 1, w)``
    columns; the pixel index is ``(a' + 1) / 2 * (h - 1)``, i.e. the
    reference's ``(20 a' + 20) * 39 / 40`` for 40 px.  The reference
    interpolates with clamped corner indices and weights built from the
    clamped corners, which makes every location with ``floor(idx) < 0`` or
    ``floor(idx) + 1 > size - 1`` come out as the zero background; here that
    background is ``fill_value``.
    """
    n_out = len(source_index)
    _, n_channels, height, width = images.shape
    rows = np.linspace(-1.0, 1.0, height)
    cols = np.linspace(-1.0, 1.0, width)
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    coords = np.stack(
        [grid_rows.ravel(), grid_cols.ravel(), np.ones(height * width)], axis=0
    )  # (3, h*w)
    flat_images = images.reshape(len(images), n_channels, height * width)
    out = np.empty((n_out, n_channels, height * width), dtype=np.float32)

    chunk = 1024
    for start in range(0, n_out, chunk):
        stop = min(start + chunk, n_out)
        mapped = sampling_matrices[start:stop] @ coords  # (k, 3, h*w)
        with np.errstate(divide="ignore", invalid="ignore"):
            row_pos = (mapped[:, 0] / mapped[:, 2] + 1.0) * 0.5 * (height - 1)
            col_pos = (mapped[:, 1] / mapped[:, 2] + 1.0) * 0.5 * (width - 1)
        finite = np.isfinite(row_pos) & np.isfinite(col_pos)
        row_pos = np.where(finite, row_pos, -1.0)
        col_pos = np.where(finite, col_pos, -1.0)
        row0 = np.floor(row_pos)
        col0 = np.floor(col_pos)
        valid = (row0 >= 0) & (row0 <= height - 2) & (col0 >= 0) & (col0 <= width - 2)
        row0 = np.clip(row0, 0, height - 2).astype(np.intp)
        col0 = np.clip(col0, 0, width - 2).astype(np.intp)
        row_frac = np.where(valid, row_pos - row0, 0.0)
        col_frac = np.where(valid, col_pos - col0, 0.0)

        corner = row0 * width + col0  # flat index of the top-left neighbour
        source = flat_images[source_index[start:stop]]  # (k, C, h*w)

        def gather(offset):
            index = np.broadcast_to((corner + offset)[:, None, :], source.shape)
            return np.take_along_axis(source, index, axis=2)

        rf = row_frac[:, None, :]
        cf = col_frac[:, None, :]
        value = (
            (1.0 - rf) * (1.0 - cf) * gather(0)
            + (1.0 - rf) * cf * gather(1)
            + rf * (1.0 - cf) * gather(width)
            + rf * cf * gather(width + 1)
        )
        out[start:stop] = np.where(valid[:, None, :], value, fill_value)
    return out.reshape(n_out, n_channels, height, width)


def make_homnist_test(
    images=None,
    labels=None,
    *,
    n_transforms=4,
    random_state=0,
    return_matrices=False,
):
    """Regenerate a homNIST-style test set (MacDonald et al., CVPR 2022).

    Every digit is warped by ``n_transforms`` homographies ``u = expm(sum_i
    x_i B_i)`` with ``x`` from the Haar-corrected random walk
    (:func:`sample_haar_coefficients`, :data:`HOMNIST_SCALES`).  As in the
    reference, the image is warped by ``u`` by sampling at ``u^-1`` applied to
    the pixel grid, with clamped-index bilinear interpolation; locations
    outside the digit become background (-1).  The original set uses 32
    transforms per MNIST test digit (320,000 images).

    Parameters
    ----------
    images : array-like of shape (n, 1, 40, 40) or None, default=None
        Padded digits in [-1, 1] with background -1.  ``None`` loads the
        5,000 bundled digits (:func:`load_mnist`); pass your held-out split
        for an honest evaluation.
    labels : array-like of shape (n,) or None, default=None
    n_transforms : int, default=4
        Homographies per digit.
    random_state : None, int, numpy Generator or RandomState, default=0
        Seeds the sampler; the default gives a fixed test set.
    return_matrices : bool, default=False
        Also return the homographies ``u``.

    Returns
    -------
    X_test : ndarray of shape (n * n_transforms, C, h, w), float32
        Digit-major: row ``i * n_transforms + j`` is digit ``i`` under
        transform ``j``.
    y_test : ndarray of shape (n * n_transforms,), int64, or None
        Labels repeated ``n_transforms`` times each.
    H : ndarray of shape (n * n_transforms, 3, 3), float64
        The matrices ``u`` (only when ``return_matrices=True``).
    """
    n_transforms = check_int(n_transforms, "n_transforms")
    images, labels = _resolve_images_and_labels(images, labels)
    images = images.astype(np.float64, copy=False)
    rng = _check_random_state(random_state)

    n_out = len(images) * n_transforms
    coefficients = sample_haar_coefficients(n_out, HOMNIST_SCALES, random_state=rng)
    matrices = homography_matrices(coefficients)
    source_index = np.repeat(np.arange(len(images)), n_transforms)
    X_test = _warp_clamped_bilinear(
        images, source_index, np.linalg.inv(matrices), fill_value=-1.0
    )
    y_test = None
    if labels is not None:
        y_test = np.repeat(labels.astype(np.int64), n_transforms)
    if return_matrices:
        return X_test, y_test, matrices
    return X_test, y_test
