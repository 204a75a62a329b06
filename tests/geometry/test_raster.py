import numpy as np
import pytest

from skniso.geometry import apply_mobius, equiangular_grid, icosphere, random_mobius, rasterize_sphere

from ..integer_rule import names_the_value


def test_grid_matches_the_reference_convention():
    grid = equiangular_grid((5, 9))
    np.testing.assert_allclose(grid[0, :], [[0, 0, 1]] * 9, atol=1e-12)  # θ = 0 row is the north pole
    np.testing.assert_allclose(grid[-1, :], [[0, 0, -1]] * 9, atol=1e-12)
    np.testing.assert_allclose(grid[:, 0], grid[:, -1], atol=1e-12)  # the seam column repeats
    np.testing.assert_allclose(np.linalg.norm(grid, axis=-1), 1.0)


def test_rasterising_linear_signals_is_nearly_exact():
    vertices, faces = icosphere(3)
    signal = np.stack([vertices[:, 0], vertices[:, 2] - 0.5 * vertices[:, 1]], axis=1)
    image = rasterize_sphere(vertices, faces, signal, (24, 48))
    grid = equiangular_grid((24, 48))
    assert image.shape == (2, 24, 48)
    # Only the chord-versus-arc gap of the flat triangles remains.
    np.testing.assert_allclose(image[0], grid[..., 0], atol=0.01)
    np.testing.assert_allclose(image[1], grid[..., 2] - 0.5 * grid[..., 1], atol=0.015)


def test_rasterising_through_a_mobius_image_pulls_the_signal_back():
    vertices, faces = icosphere(4)
    matrix = random_mobius(0, max_dilation=1.5)
    image = rasterize_sphere(apply_mobius(matrix, vertices), faces, vertices[:, 0], (16, 32))
    pulled_back = apply_mobius(np.linalg.inv(matrix), equiangular_grid((16, 32)))
    np.testing.assert_allclose(image, pulled_back[..., 0], atol=0.01)


def test_signal_length_is_checked():
    vertices, faces = icosphere(1)
    with pytest.raises(ValueError, match="one row per vertex"):
        rasterize_sphere(vertices, faces, np.ones(3))


def test_strong_mobius_maps_stretching_triangles_are_still_located():
    vertices, faces = icosphere(3)
    matrix = np.diag([np.exp(2.5), np.exp(-2.5)]).astype(complex)  # blows a small cap up to a hemisphere
    image = rasterize_sphere(apply_mobius(matrix, vertices), faces, vertices[:, 2], (16, 32))
    pulled_back = apply_mobius(np.linalg.inv(matrix), equiangular_grid((16, 32)))
    # Grossly stretched flat triangles interpolate poorly, but every direction
    # finds its own triangle (no clipped fallback: errors stay bounded).
    np.testing.assert_allclose(image, pulled_back[..., 2], atol=0.05)


@pytest.mark.parametrize("shape", [(True, 4), (4.0, 4), (1, 4), (4, 1), (4, 4, 4), 4])
def test_grid_shape_follows_the_integer_rule(shape):
    with pytest.raises(ValueError, match=names_the_value("shape", shape)):
        equiangular_grid(shape)
    assert equiangular_grid((np.int64(2), np.int64(2))).shape == (2, 2, 3)
