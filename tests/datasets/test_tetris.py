import numpy as np
import pytest

from skniso.datasets import TETRIS3D_NAMES, TETRIS3D_SHAPES, make_tetris3d, make_tetris3d_pairs
from skniso.datasets._tetris import random_rotations, render_blocks

from ..integer_rule import bad_integers, names_the_value


def _canonical(blocks):
    """Block set up to translation, as a sorted tuple of integer positions."""
    blocks = np.rint(blocks - blocks.min(axis=0)).astype(int)
    return tuple(sorted(map(tuple, blocks)))


def _cube_rotations():
    """The 24 proper rotations of the cube as integer matrices."""
    mats = []
    for perm in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]:
        for signs in np.ndindex(2, 2, 2):
            m = np.zeros((3, 3))
            m[range(3), perm] = np.where(np.array(signs), -1, 1)
            if np.linalg.det(m) > 0:
                mats.append(m)
    return mats


def _orbit(blocks):
    return {_canonical(blocks @ m.T) for m in _cube_rotations()}


def test_eight_distinct_shapes_of_four_adjacent_blocks():
    assert TETRIS3D_SHAPES.shape == (8, 4, 3) and len(TETRIS3D_NAMES) == 8
    orbits = [_orbit(shape) for shape in TETRIS3D_SHAPES]
    for i in range(8):
        for j in range(i + 1, 8):
            assert not orbits[i] & orbits[j], (TETRIS3D_NAMES[i], TETRIS3D_NAMES[j])
    for shape in TETRIS3D_SHAPES:  # every block touches another face to face
        distances = np.abs(shape[:, None] - shape[None]).sum(-1)
        assert all((row == 1).any() for row in distances)


def test_third_and_fourth_shapes_are_a_chiral_pair():
    mirror = np.diag([1.0, 1.0, -1.0])
    right, left = TETRIS3D_SHAPES[2], TETRIS3D_SHAPES[3]
    assert _canonical(right @ mirror) in _orbit(left)  # mirror images ...
    assert _canonical(left) not in _orbit(right)  # ... that no rotation superimposes
    # The other shapes are their own mirror images.
    for shape in np.delete(TETRIS3D_SHAPES, [2, 3], axis=0):
        assert _canonical(shape @ mirror) in _orbit(shape)


def test_fixed_orientation_set_is_deterministic_and_labelled():
    X, y = make_tetris3d(2, grid_size=12, block_size=2.0)
    assert X.shape == (16, 1, 12, 12, 12) and X.dtype == np.float32
    np.testing.assert_array_equal(y, np.tile(np.arange(8), 2))
    np.testing.assert_array_equal(X[:8], X[8:])
    assert not np.allclose(X[2], X[3])  # the chiral pair renders differently
    np.testing.assert_allclose(X[3], X[2][..., ::-1], atol=1e-6)  # ... as mirror images (W axis is z)
    np.testing.assert_allclose(X.sum(axis=(1, 2, 3, 4)), X[0].sum(), rtol=0.05)  # four blocks each


def test_rotated_samples_are_seeded_and_match_rotated_block_centres():
    X1, y = make_tetris3d(3, rotate=True, max_shift=1.0, random_state=0)
    X2, _ = make_tetris3d(3, rotate=True, max_shift=1.0, random_state=0)
    np.testing.assert_array_equal(X1, X2)
    assert not np.allclose(X1[:8], X1[8:16])
    # A quarter turn of the block centres is a voxel permutation of the render.
    centres = (TETRIS3D_SHAPES - TETRIS3D_SHAPES.mean(1, keepdims=True)) * 3.0
    quarter = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    base, turned = render_blocks(centres, 16, 1.5), render_blocks(centres @ quarter.T, 16, 1.5)
    np.testing.assert_allclose(turned, np.rot90(base, 1, axes=(2, 3)), atol=1e-6)


def test_random_rotations_are_proper_and_haar_like():
    rotations = random_rotations(2000, np.random.default_rng(0))
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (2000, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0)
    # Haar: E[R] = 0 and the trace has mean 0.
    assert np.abs(rotations.mean(0)).max() < 0.05
    assert abs(np.trace(rotations, axis1=1, axis2=2).mean()) < 0.1


def test_pairs_show_one_shape_in_two_poses():
    X, y = make_tetris3d_pairs(10, grid_size=12, block_size=2.0, random_state=1)
    assert X.shape == (10, 2, 1, 12, 12, 12) and X.dtype == np.float32
    np.testing.assert_array_equal(y, np.arange(10) % 8)
    assert not np.allclose(X[:, 0], X[:, 1])
    np.testing.assert_allclose(X[:, 0].sum(axis=(1, 2, 3, 4)), X[:, 1].sum(axis=(1, 2, 3, 4)), rtol=0.05)


def _second_moments(volumes):
    """Mass-weighted second-moment tensors (n, 3, 3) of voxel grids (n, 1, G, G, G)."""
    grid = np.arange(volumes.shape[-1], dtype=float)
    coords = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
    mass = volumes.reshape(len(volumes), -1).astype(float)
    mass /= mass.sum(1, keepdims=True)
    centred = coords[None] - (mass @ coords)[:, None]
    return np.einsum("np,npi,npj->nij", mass, centred, centred)


def _rotations_between(a, b):
    """The proper rotations R with R a Rᵀ = b for symmetric a, b with distinct eigenvalues."""
    _, ua = np.linalg.eigh(a)
    _, ub = np.linalg.eigh(b)
    signs = [np.diag(d) for d in ([1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1])]
    flip = np.diag([1, 1, np.sign(np.linalg.det(ub @ ua.T))])
    return [ub @ flip @ d @ ua.T for d in signs]


@pytest.mark.parametrize("n_views", [2, 3])
def test_triplets_apply_the_same_rotation_twice(n_views):
    X, y = make_tetris3d_pairs(24, n_views=n_views, grid_size=24, block_size=3.0, random_state=3)
    assert X.shape == (24, n_views, 1, 24, 24, 24)
    moments = [_second_moments(X[:, v]) for v in range(n_views)]
    consistent = []
    for i in range(len(X)):
        gaps = np.diff(np.linalg.eigvalsh(moments[0][i]))
        if gaps.min() < 0.2:  # symmetric shapes: the rotation is not pinned down by moments
            continue
        if n_views == 2:
            # Pairs: two independent poses, so a third independent pose must not fit the same map.
            third = _second_moments(make_tetris3d_pairs(24, grid_size=24, random_state=4)[0][:, 0])[i]
            target = third
        else:
            target = moments[2][i]
        candidates = _rotations_between(moments[0][i], moments[1][i])
        error = min(np.abs(r @ moments[1][i] @ r.T - target).max() for r in candidates)
        consistent.append(error < 0.05 * np.abs(target).max())
    assert len(consistent) >= 8
    if n_views == 3:
        assert all(consistent)
    else:
        assert not any(consistent)
    with pytest.raises(ValueError, match="n_views"):
        make_tetris3d_pairs(4, n_views=4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        *[(dict(n_samples_per_class=value), names_the_value("n_samples_per_class", value))
          for value in bad_integers(2)],
        *[(dict(grid_size=value), names_the_value("grid_size", value)) for value in bad_integers(8, minimum=4)],
        (dict(block_size=0), "block_size"),
        (dict(max_shift=-1), "max_shift"),
        (dict(sigma=0), "sigma"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_tetris3d(**kwargs)


def test_numpy_integers_at_the_minimum_are_accepted():
    X, y = make_tetris3d(n_samples_per_class=np.int64(1), grid_size=np.int64(4))
    assert X.shape == (8, 1, 4, 4, 4) and y.shape == (8,)
    X, _ = make_tetris3d_pairs(np.int64(1), n_views=np.int64(2), grid_size=np.int64(4), random_state=0)
    assert X.shape == (1, 2, 1, 4, 4, 4)


@pytest.mark.parametrize("name, value", [
    *[("n_pairs", value) for value in bad_integers(2)],
    *[("n_views", value) for value in bad_integers(2, minimum=2, maximum=3)],
])
def test_pair_integers_follow_the_rule(name, value):
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        make_tetris3d_pairs(**{"n_pairs": 2, "grid_size": 4, name: value})


def test_render_blocks_in_chunks_matches_a_direct_gaussian_sum(monkeypatch):
    from skniso.datasets import _tetris

    centres = np.random.default_rng(0).uniform(-4, 4, size=(7, 4, 3))
    axis = np.arange(8) - 3.5
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
    expected = np.exp(-((grid[None, None] - centres[:, :, None, None, None]) ** 2).sum(-1) / 2.0).sum(1)
    # Two samples per chunk, so the last chunk is partial.
    monkeypatch.setattr(_tetris, "_RENDER_CHUNK_VALUES", 2 * 4 * 8**3 * 3)
    volumes = render_blocks(centres, 8, 1.0)
    assert volumes.shape == (7, 1, 8, 8, 8) and volumes.dtype == np.float32
    np.testing.assert_allclose(volumes[:, 0], expected, rtol=1e-6)
