import numpy as np
import pytest
import torch

from skniso.datasets import (
    RandomMobius,
    draw_conformal_pairs,
    hks_statistics,
    make_spherical_mnist_pairs,
    normalize_spherical_maps,
    warp_mobius,
)
from skniso.geometry import apply_mobius, equiangular_grid, random_mobius

from ..integer_rule import bad_integers, names_the_value

GRID = (48, 96)


def _smooth_signal(directions):
    return np.stack([directions[..., 0] + 0.5 * directions[..., 1] * directions[..., 2],
                     np.exp(directions[..., 2])], axis=0)


def test_warp_mobius_carries_signals_along_the_map():
    grid = equiangular_grid(GRID)
    images = torch.from_numpy(np.stack([_smooth_signal(grid)] * 2)).float()
    matrices = np.stack([random_mobius(0, max_dilation=1.0), random_mobius(1, max_dilation=1.0)])
    warped = warp_mobius(images, matrices).numpy()
    for k, matrix in enumerate(matrices):
        expected = _smooth_signal(apply_mobius(np.linalg.inv(matrix), grid))
        # Bilinear resampling error only (away from the poles' degenerate rows).
        np.testing.assert_allclose(warped[k][:, 2:-2], expected[:, 2:-2], atol=0.06)


def test_identity_warp_and_composition():
    grid = equiangular_grid(GRID)
    images = torch.from_numpy(_smooth_signal(grid)[None]).float()
    identity = np.eye(2, dtype=complex)[None]
    np.testing.assert_allclose(warp_mobius(images, identity).numpy(), images.numpy(), atol=1e-5)
    a, b = random_mobius(2, max_dilation=0.5)[None], random_mobius(3, max_dilation=0.5)[None]
    twice = warp_mobius(warp_mobius(images, a), b)
    once = warp_mobius(images, b @ a)
    assert (twice - once).abs()[..., 3:-3, :].mean() < 0.01


def test_random_mobius_transform_is_seeded_and_pickles():
    import pickle

    transform = RandomMobius(max_dilation=0.8)
    x = torch.randn(3, 2, 8, 16)
    first = transform(x, generator=torch.Generator().manual_seed(0))
    again = pickle.loads(pickle.dumps(transform))(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(first, again)
    assert first.shape == x.shape and not torch.allclose(first, x)
    assert transform == RandomMobius(0.8) and hash(transform) == hash(RandomMobius(0.8))
    with pytest.raises(ValueError, match="max_dilation"):
        RandomMobius(-1)
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        transform(torch.zeros(2, 8, 16))
    # An integer seed, numpy's too; a bool or a float is no seed.
    np.testing.assert_array_equal(transform.sample_matrices(2, np.int64(3)), transform.sample_matrices(2, 3))
    for seed in (True, 3.0):
        with pytest.raises(TypeError):
            transform.sample_matrices(2, seed)


def test_normalisation_maps_to_the_unit_interval_with_given_statistics():
    rng = np.random.default_rng(0)
    maps = rng.normal(3.0, 2.0, size=(8, 10, 3, 16, 32))
    normalized, (mean, std) = normalize_spherical_maps(maps)
    assert normalized.min() >= -1 and normalized.max() <= 1 and normalized.dtype == np.float32
    np.testing.assert_allclose(mean, 3.0, atol=0.06)
    np.testing.assert_allclose(std, 2.0, atol=0.06)
    # A value at μ maps to 0 (the middle of [μ - 2.5σ, μ + 2.5σ]).
    centre, _ = normalize_spherical_maps(np.full((1, 3, 2, 2), 1.0), (np.ones(3), np.ones(3)))
    np.testing.assert_allclose(centre, 0.0)


def test_hks_statistics_weights_by_area_and_counts_meshes_once():
    signals = [np.array([[0.0], [2.0]]), np.array([[4.0], [4.0], [4.0]])]
    masses = [np.array([3.0, 1.0]), np.ones(3)]
    mean, std = hks_statistics(signals, masses)
    np.testing.assert_allclose(mean, [(0.5 + 4.0) / 2])
    np.testing.assert_allclose(std ** 2 + mean ** 2, [(1.0 + 16.0) / 2])


def test_pairs_follow_the_reference_sampler():
    n_maps = 5
    maps = np.arange(3 * n_maps, dtype=float).reshape(3, n_maps, 1, 1, 1) * np.ones((1, 1, 1, 2, 2))
    pairs, shape_index = draw_conformal_pairs(maps, 2000, random_state=0)
    first = pairs[:, 0, 0, 0, 0] - shape_index * n_maps
    second = pairs[:, 1, 0, 0, 0] - shape_index * n_maps
    # Both views come from the pair's own shape.
    assert first.min() >= 0 and first.max() < n_maps and second.min() >= 0 and second.max() < n_maps
    assert abs(np.mean(first == 0) - 0.2) < 0.02  # the base map with p = 0.2 ...
    assert abs(np.mean(second == 0) - 1 / n_maps) < 0.02  # ... the second view uniform
    with pytest.raises(ValueError, match="n_shapes, n_maps"):
        draw_conformal_pairs(maps[:, :1], 1)


def test_spherical_mnist_pairs():
    X, y = make_spherical_mnist_pairs(n_samples=20, grid_shape=(16, 32), random_state=0)
    assert X.shape == (20, 2, 1, 16, 32) and y.shape == (20,)
    assert X.min() >= -1 and X.max() <= 1
    assert (X[:, 0] > 0).any() and not np.allclose(X[:, 0], X[:, 1])
    X2, y2 = make_spherical_mnist_pairs(n_samples=20, grid_shape=(16, 32), random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    # The second view is the first one carried by a Möbius map: the ink's total
    # (area-weighted) amount changes, but both views hold ink.
    assert ((X[:, 1] > 0).sum(axis=(1, 2, 3)) > 0).all()
    with pytest.raises(ValueError, match="labels are required"):
        make_spherical_mnist_pairs(images=np.zeros((2, 28, 28)))


def test_normalisation_weights_rows_by_area():
    # Rows near the poles count less: a signal equal to the row's |cos θ| has
    # area-weighted mean ∫|cos θ| sin θ dθ / ∫ sin θ dθ = 1/2 (unweighted: 2/π).
    height = 201
    cos_theta = np.abs(np.cos(np.pi * np.arange(height) / (height - 1)))
    maps = np.broadcast_to(cos_theta[:, None], (1, 1, height, 4))
    _, (mean, _) = normalize_spherical_maps(maps)
    np.testing.assert_allclose(mean, 0.5, atol=1e-3)


_DIGITS = (np.zeros((4, 8, 8)), np.arange(4))
INTEGER_PARAMETERS = {
    "n_pairs_per_shape": lambda value: draw_conformal_pairs(np.zeros((2, 3, 1, 2, 2)), value),
    "n_samples": lambda value: make_spherical_mnist_pairs(*_DIGITS, n_samples=value, grid_shape=(2, 4)),
    "grid_shape": lambda value: make_spherical_mnist_pairs(*_DIGITS, grid_shape=value),
}


@pytest.mark.parametrize("name, value", [
    *[("n_pairs_per_shape", value) for value in bad_integers(2)],
    *[("n_samples", value) for value in bad_integers(2, maximum=4)],
    ("grid_shape", (True, 4)), ("grid_shape", (4.0, 4)), ("grid_shape", (1, 4)), ("grid_shape", (4, 4, 4)),
])
def test_integer_parameters_follow_the_rule(name, value):
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        INTEGER_PARAMETERS[name](value)


@pytest.mark.parametrize("name, value", [
    ("n_pairs_per_shape", np.int64(1)), ("n_samples", np.int64(1)), ("grid_shape", (np.int64(2), np.int64(2))),
])
def test_numpy_integers_at_the_minimum_are_accepted(name, value):
    assert len(INTEGER_PARAMETERS[name](value)[0]) >= 1
