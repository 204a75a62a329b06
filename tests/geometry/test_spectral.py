import numpy as np
import pytest

from skniso.geometry import (
    HKS_TIMES,
    cotangent_laplacian,
    heat_kernel_signature,
    icosphere,
    laplacian_and_mass,
    laplacian_eigenpairs,
    vertex_areas,
)

from ..integer_rule import bad_integers, names_the_value


def test_cotangent_laplacian_matches_potpourri3d(blob):
    pp3d = pytest.importorskip("potpourri3d")
    vertices, faces = blob
    stiffness = cotangent_laplacian(vertices, faces)
    assert abs(stiffness - pp3d.cotan_laplacian(vertices, faces)).max() < 1e-10
    np.testing.assert_allclose(vertex_areas(vertices, faces), pp3d.vertex_areas(vertices, faces), atol=1e-12)


def test_laplacian_is_symmetric_psd_with_constant_kernel(blob):
    stiffness, mass = laplacian_and_mass(*blob)
    assert abs(stiffness - stiffness.T).max() < 1e-12
    np.testing.assert_allclose(stiffness @ np.ones(stiffness.shape[0]), 0, atol=1e-10)
    x = np.random.default_rng(0).standard_normal(stiffness.shape[0])
    assert x @ (stiffness @ x) > 0
    assert np.all(mass > 0)


def test_robust_method_agrees_on_a_delaunay_mesh():
    pytest.importorskip("robust_laplacian")
    vertices, faces = icosphere(2)
    own = cotangent_laplacian(vertices, faces)
    robust = cotangent_laplacian(vertices, faces, method="robust")
    assert abs(own - robust).max() < 1e-8


def test_eigenpairs_are_mass_orthonormal_and_sphere_spectrum():
    vertices, faces = icosphere(3)
    values, vectors = laplacian_eigenpairs(vertices, faces, n_eigenpairs=16)
    mass = vertex_areas(vertices, faces)
    np.testing.assert_allclose(vectors.T @ (mass[:, None] * vectors), np.eye(16), atol=1e-8)
    # Unit sphere: λ = l(l + 1) with multiplicity 2l + 1 (0; 2 ×3; 6 ×5; 12 ×7).
    expected = np.repeat([0, 2, 6, 12], [1, 3, 5, 7])
    np.testing.assert_allclose(values, expected, rtol=0.03, atol=1e-6)


def test_hks_on_the_sphere_matches_the_analytic_series():
    vertices, faces = icosphere(4)
    # 121 = complete shells l = 0..10, so the truncated series is also constant.
    values, vectors = laplacian_eigenpairs(vertices, faces, n_eigenpairs=121)
    hks = heat_kernel_signature(values, vectors, HKS_TIMES)
    degrees = np.arange(11)
    analytic = ((2 * degrees + 1) / (4 * np.pi)) @ np.exp(-np.outer(degrees * (degrees + 1), HKS_TIMES))
    # Constant over the round sphere ...
    assert np.all(hks.std(0) / hks.mean(0) < 0.01)
    # ... and equal to Σ (2l+1)/(4π) e^{-l(l+1)t} up to the mesh's discretisation.
    np.testing.assert_allclose(hks.mean(0), analytic, rtol=0.025)
    assert hks.shape == (len(vertices), 16)


def test_hks_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="eigenvectors must be"):
        heat_kernel_signature(np.ones(3), np.ones((5, 4)))


@pytest.mark.parametrize("times", [[], [0.1, np.nan], [np.inf], [-0.1, 0.5], ["soon"]])
def test_hks_rejects_times_that_are_empty_negative_or_not_finite(times):
    with pytest.raises(ValueError, match=r"times must be a non-empty array of finite non-negative values, got"):
        heat_kernel_signature(np.ones(3), np.ones((5, 3)), times)


def test_bad_meshes_and_parameters_are_rejected():
    vertices, faces = icosphere(1)
    with pytest.raises(ValueError, match="vertices must have shape"):
        laplacian_and_mass(vertices[:, :2], faces)
    with pytest.raises(ValueError, match="faces index vertices"):
        laplacian_and_mass(vertices, faces + 100)
    with pytest.raises(ValueError, match="method must be"):
        laplacian_and_mass(vertices, faces, method="fem")


@pytest.mark.parametrize("n_eigenpairs", bad_integers(8, maximum=41))
def test_n_eigenpairs_follows_the_integer_rule(n_eigenpairs):
    vertices, faces = icosphere(1)  # 42 vertices: at most 41 eigenpairs
    with pytest.raises(ValueError, match=names_the_value("n_eigenpairs", n_eigenpairs)):
        laplacian_eigenpairs(vertices, faces, n_eigenpairs=n_eigenpairs)
    assert laplacian_eigenpairs(vertices, faces, n_eigenpairs=np.int64(1))[0].shape == (1,)
