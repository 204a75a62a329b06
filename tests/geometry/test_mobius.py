import numpy as np
import pytest

from skniso.geometry import apply_mobius, inverse_stereographic, random_mobius, stereographic


def _random_points(n, seed=0):
    points = np.random.default_rng(seed).standard_normal((n, 3))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _tangents(points, seed=1):
    raw = np.random.default_rng(seed).standard_normal(points.shape)
    return raw - np.einsum("ij,ij->i", raw, points)[:, None] * points


def _pushforward(matrix, points, tangent, eps=1e-6):
    def on_sphere(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return (apply_mobius(matrix, on_sphere(points + eps * tangent))
            - apply_mobius(matrix, on_sphere(points - eps * tangent))) / (2 * eps)


@pytest.mark.parametrize("seed", range(4))
def test_mobius_maps_preserve_angles_and_orientation(seed):
    matrix = random_mobius(seed, max_dilation=2.0)
    points = _random_points(200, seed)
    u, v = _tangents(points, seed + 10), _tangents(points, seed + 20)
    ju, jv = _pushforward(matrix, points, u), _pushforward(matrix, points, v)

    def cosine(a, b):
        return np.einsum("ij,ij->i", a, b) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    np.testing.assert_allclose(cosine(ju, jv), cosine(u, v), atol=1e-6)
    # Orientation: det(p, u, v) keeps its sign at the image point.
    image = apply_mobius(matrix, points)
    before = np.einsum("ij,ij->i", points, np.cross(u, v))
    after = np.einsum("ij,ij->i", image, np.cross(ju, jv))
    assert np.all(np.sign(before) == np.sign(after))


def test_dilations_change_lengths():
    # z ↦ e^s z is conformal but not an isometry: the derivative's scale varies.
    matrix = np.diag([np.exp(0.5), np.exp(-0.5)]).astype(complex)
    points = _random_points(200)
    u = _tangents(points)
    stretch = np.linalg.norm(_pushforward(matrix, points, u), axis=1) / np.linalg.norm(u, axis=1)
    assert stretch.max() / stretch.min() > 2.0


def test_mobius_maps_compose_as_matrices_and_stay_on_the_sphere():
    a, b = random_mobius(0), random_mobius(1)
    points = _random_points(100)
    np.testing.assert_allclose(
        apply_mobius(a @ b, points), apply_mobius(a, apply_mobius(b, points)), atol=1e-10
    )
    np.testing.assert_allclose(np.linalg.norm(apply_mobius(a, points), axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(apply_mobius(np.linalg.inv(a), apply_mobius(a, points)), points, atol=1e-10)


def test_zero_dilation_is_a_rotation():
    matrix = random_mobius(3, max_dilation=0.0)
    points = _random_points(50)
    image = apply_mobius(matrix, points)
    np.testing.assert_allclose(image @ image.T, points @ points.T, atol=1e-10)


def test_matches_the_fractional_linear_map_in_the_plane():
    matrix = random_mobius(5)
    points = _random_points(50)
    z = stereographic(points)
    mapped = (matrix[0, 0] * z + matrix[0, 1]) / (matrix[1, 0] * z + matrix[1, 1])
    np.testing.assert_allclose(inverse_stereographic(mapped), apply_mobius(matrix, points), atol=1e-9)


def test_poles_are_handled():
    north = np.array([[0.0, 0.0, 1.0]])
    assert np.isinf(stereographic(north)[0])
    np.testing.assert_allclose(inverse_stereographic(np.array([np.inf])), north)
    dilation = np.diag([2.0, 0.5]).astype(complex)  # z ↦ 4z fixes both poles
    np.testing.assert_allclose(apply_mobius(dilation, np.array([[0, 0, 1.0], [0, 0, -1.0]])),
                               [[0, 0, 1.0], [0, 0, -1.0]], atol=1e-12)


def test_random_mobius_is_seeded_and_validated():
    np.testing.assert_array_equal(random_mobius(7), random_mobius(7))
    assert abs(np.linalg.det(random_mobius(7)) - 1) < 1e-12
    with pytest.raises(ValueError, match="max_dilation"):
        random_mobius(0, max_dilation=-1)
    with pytest.raises(ValueError, match="invertible 2x2"):
        apply_mobius(np.zeros((2, 2)), _random_points(3))
