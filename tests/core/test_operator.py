import torch

import pytest

from skniso.core.operator import SpectralOperator, project, unproject
from skniso.nn.init import build_module


def make_operator(n=30, k=8, seed=0, clustered=False):
    g = torch.Generator().manual_seed(seed)
    return build_module(
        lambda: SpectralOperator(n, k, clustered), g, dtype=torch.float64
    )


@pytest.mark.parametrize("clustered", [False, True])
def test_eigenfunctions_are_mass_orthonormal_and_sorted(clustered):
    op = make_operator(clustered=clustered)
    with torch.no_grad():  # a non-trivial mass
        op.mass_raw.copy_(torch.linspace(0.3, 2.0, 30, dtype=torch.float64))
    mass, phi, lam = op()
    assert torch.allclose(phi.T @ (mass[:, None] * phi), torch.eye(8, dtype=torch.float64), atol=1e-10)
    assert (mass > 0).all()
    assert (lam[1:] >= lam[:-1]).all() and (lam >= 0).all()


def test_project_unproject_is_the_mass_orthogonal_projector():
    op = make_operator()
    mass, phi, _ = op()
    z = torch.randn(4, 30, 3, dtype=torch.float64)
    coeffs = project(z, mass, phi)
    assert coeffs.shape == (4, 8, 3)
    recon = unproject(coeffs, phi)
    # Projecting twice changes nothing: Φ Φᵀ M is an M-orthogonal projector.
    assert torch.allclose(project(recon, mass, phi), coeffs, atol=1e-10)


def test_rank_must_not_exceed_grid():
    with pytest.raises(ValueError, match="K=5 for a latent grid of N=4"):
        SpectralOperator(4, 5)


def test_initialisation_is_seeded():
    a = make_operator(seed=3)
    b = make_operator(seed=3)
    c = make_operator(seed=4)
    assert torch.equal(a.basis_raw, b.basis_raw)
    assert not torch.equal(a.basis_raw, c.basis_raw)


def test_gradients_reach_every_operator_parameter():
    op = make_operator()
    mass, phi, lam = op()
    (phi.sum() + lam.sum() + mass.sum()).backward()
    for p in op.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_normalized_mass_has_mean_one_and_keeps_orthonormality():
    g = torch.Generator().manual_seed(0)
    op = build_module(lambda: SpectralOperator(30, 8, normalize_mass=True), g, dtype=torch.float64)
    with torch.no_grad():
        op.mass_raw.copy_(torch.linspace(0.1, 0.5, 30, dtype=torch.float64))
    mass, phi, _ = op()
    assert torch.allclose(mass.mean(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(phi.T @ (mass[:, None] * phi), torch.eye(8, dtype=torch.float64), atol=1e-10)
    # Scaling the raw mass changes nothing once normalised.
    before = op()[1].clone()
    with torch.no_grad():
        op.mass_raw.mul_(3.0)
    assert torch.allclose(op()[1], before, atol=1e-10)
