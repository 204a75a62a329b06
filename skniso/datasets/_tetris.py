"""3D Tetris: the eight four-block shapes of the steerable-CNN benchmark, voxelised.

Weiler et al. (NeurIPS 2018) train on each shape in one fixed orientation and
test on randomly rotated and shifted copies: a network that is not rotation
equivariant cannot generalise.  Two of the shapes (indices 2 and 3 here) are
mirror images of each other, so a classifier must not be reflection invariant.

Every sample is rendered from its block centres: the centres are rotated and
shifted in continuous space and then splatted as isotropic Gaussians onto the
voxel grid.  An isotropic Gaussian looks the same in every orientation, so a
rotated sample carries no resampling artefacts that could favour one model.
"""

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_int, is_integer

__all__ = ["TETRIS3D_SHAPES", "TETRIS3D_NAMES", "make_tetris3d", "make_tetris3d_pairs", "render_blocks"]

# Block positions in units of one block.  2 and 3 are a chiral pair: 3 is 2
# with its last step mirrored (z -> -z).
TETRIS3D_SHAPES = np.array(
    [
        [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)],  # line
        [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)],  # square
        [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)],  # right-handed screw
        [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, -1)],  # left-handed screw
        [(0, 0, 0), (1, 0, 0), (2, 0, 0), (1, 1, 0)],  # T
        [(0, 0, 0), (1, 0, 0), (2, 0, 0), (2, 1, 0)],  # L
        [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)],  # zigzag
        [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)],  # corner
    ],
    dtype=np.float64,
)
TETRIS3D_NAMES = ("line", "square", "screw_right", "screw_left", "T", "L", "zigzag", "corner")


def random_rotations(n, rng):
    """``n`` rotation matrices drawn uniformly (Haar) from SO(3), from unit quaternions."""
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


# float64 values per rendering chunk (32 MB of intermediates).
_RENDER_CHUNK_VALUES = 4_000_000


def render_blocks(centres, grid_size, sigma):
    """Splat block centres (in voxels, relative to the grid centre) as Gaussians.

    Parameters
    ----------
    centres : array of shape (n, B, 3)
        Coordinates along the grid axes (D, H, W), 0 at the grid's centre.
    grid_size : int
    sigma : float
        Standard deviation of each Gaussian, in voxels.

    Returns
    -------
    ndarray of shape (n, 1, grid_size, grid_size, grid_size), float32
        Sum of the blocks' unnormalised Gaussians (peak 1 per block).
    """
    axis = np.arange(grid_size) - (grid_size - 1) / 2
    points = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    volume = np.empty((len(centres), grid_size**3), dtype=np.float32)
    # In chunks: at once, the float64 (n, B, G³, 3) intermediate would take ~40 GB for 100k 16³ volumes.
    chunk = max(1, _RENDER_CHUNK_VALUES // (max(centres.shape[1], 1) * points.size))
    for start in range(0, len(centres), chunk):
        part = centres[start:start + chunk]
        squared = ((points[None, None] - part[:, :, None]) ** 2).sum(-1)  # (chunk, B, G³)
        volume[start:start + chunk] = np.exp(-squared / (2 * sigma * sigma)).sum(1)
    return volume.reshape(-1, 1, grid_size, grid_size, grid_size)


def _check(grid_size, block_size, sigma, max_shift):
    check_int(grid_size, "grid_size", minimum=4)
    if not block_size > 0:
        raise ValueError(f"block_size must be > 0, got {block_size!r}")
    if sigma is not None and not sigma > 0:
        raise ValueError(f"sigma must be > 0 or None, got {sigma!r}")
    if not max_shift >= 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift!r}")
    return block_size / 2 if sigma is None else sigma


def _posed_centres(labels, rotate, max_shift, block_size, rng):
    """Block centres of ``labels`` in voxels: centred, maybe rotated and shifted."""
    blocks = TETRIS3D_SHAPES[labels]
    blocks = (blocks - blocks.mean(axis=1, keepdims=True)) * block_size
    if rotate:
        blocks = blocks @ random_rotations(len(labels), rng).transpose(0, 2, 1)
    if max_shift > 0:
        blocks = blocks + rng.uniform(-max_shift, max_shift, (len(labels), 1, 3))
    return blocks


def make_tetris3d(
    n_samples_per_class=1,
    *,
    grid_size=16,
    block_size=3.0,
    sigma=None,
    rotate=False,
    max_shift=0.0,
    random_state=None,
):
    """Voxelised 3D Tetris shapes, in the fixed orientation or randomly posed.

    The benchmark protocol trains on ``make_tetris3d()`` (each shape once, in
    its reference orientation) and tests on
    ``make_tetris3d(n, rotate=True, max_shift=1.0)``.

    Parameters
    ----------
    n_samples_per_class : int, default=1
    grid_size : int, default=16
        Voxels per side of the cubic grid.
    block_size : float, default=3.0
        Edge of one block, in voxels.
    sigma : float or None, default=None
        Gaussian width of a block; None is ``block_size / 2``.
    rotate : bool, default=False
        Rotate every sample by an independent uniformly random rotation in SO(3)
        about the shape's centroid.
    max_shift : float, default=0.0
        Shift every sample by a uniform vector in [-max_shift, max_shift]³ voxels.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (8 · n_samples_per_class, 1, grid_size, grid_size, grid_size), float32
    y : ndarray of shape (8 · n_samples_per_class,), int64
        Index into :data:`TETRIS3D_NAMES`; the classes cycle 0..7.
    """
    sigma = _check(grid_size, block_size, sigma, max_shift)
    check_int(n_samples_per_class, "n_samples_per_class")
    rng = check_random_state(random_state)
    y = np.tile(np.arange(len(TETRIS3D_SHAPES)), n_samples_per_class)
    centres = _posed_centres(y, rotate, max_shift, block_size, rng)
    return render_blocks(centres, grid_size, sigma), y.astype(np.int64)


def make_tetris3d_pairs(
    n_pairs,
    *,
    n_views=2,
    grid_size=16,
    block_size=3.0,
    sigma=None,
    max_shift=0.0,
    random_state=None,
):
    """Pairs of one Tetris shape under two independent random rotations.

    Each pair is (R₁ s, R₂ s) for a shape s and Haar-random R₁, R₂ ∈ SO(3): the
    views are related by the rotation R₂R₁ᵀ, as NIso's pre-training needs.

    Parameters
    ----------
    n_pairs : int
    n_views : {2, 3}, default=2
        3 gives triplets (R₁ s, R R₁ s, R² R₁ s) with Haar-random R₁ and R: the
        same rotation applied twice, for ``NeuralIsometryTransformer(regime="triplet")``.
    grid_size, block_size, sigma, max_shift, random_state :
        As in :func:`make_tetris3d`; each view gets its own shift.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_views, 1, grid_size, grid_size, grid_size), float32
    y : ndarray of shape (n_pairs,), int64
    """
    sigma = _check(grid_size, block_size, sigma, max_shift)
    check_int(n_pairs, "n_pairs")
    if not is_integer(n_views, minimum=2, maximum=3):
        raise ValueError(f"n_views must be 2 (pairs) or 3 (triplets), got {n_views!r}")
    rng = check_random_state(random_state)
    y = np.arange(n_pairs) % len(TETRIS3D_SHAPES)
    if n_views == 2:
        # Two independent poses: related by the Haar-random rotation R₂R₁ᵀ.
        centres = [_posed_centres(y, True, max_shift, block_size, rng) for _ in range(2)]
    else:
        first = _posed_centres(y, True, 0.0, block_size, rng)
        step = random_rotations(n_pairs, rng).transpose(0, 2, 1)  # Rᵀ, for row vectors
        centres = [first, first @ step, first @ step @ step]
        if max_shift > 0:
            centres = [c + rng.uniform(-max_shift, max_shift, (n_pairs, 1, 3)) for c in centres]
    views = [render_blocks(c, grid_size, sigma) for c in centres]
    return np.stack(views, axis=1), y.astype(np.int64)
