import pytest
import torch

from skniso.core.losses import equivariance_loss, multiplicity_loss, spectral_dropout
from skniso.core.procrustes import eigenvalue_mask


def test_equivariance_loss_zero_for_exact_isometry_and_symmetric():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    a = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    assert equivariance_loss(q, a, q @ a) < 1e-12
    b = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    manual = (q @ a - b).abs().mean() + (q.T @ b - a).abs().mean()
    assert torch.allclose(equivariance_loss(q, a, b), manual)


def test_multiplicity_loss_matches_laplacian_frobenius_norm():
    lam = torch.tensor([0.0, 0.0, 2.0, 5.0], dtype=torch.float64)
    p = eigenvalue_mask(lam)
    laplacian = torch.diag(p.sum(1)) - p
    expected = laplacian.norm() / 4
    assert torch.allclose(multiplicity_loss(p), expected, atol=1e-7)
    # Separated eigenvalues give a smaller loss than clustered ones.
    spread = eigenvalue_mask(torch.tensor([0.0, 10.0, 20.0, 30.0], dtype=torch.float64))
    assert multiplicity_loss(spread) < multiplicity_loss(p)


def test_spectral_dropout_truncates_high_frequencies_only():
    g = torch.Generator().manual_seed(1)
    x = torch.ones(200, 6, 2)
    out = spectral_dropout(x, 0.5, g)
    kept = out[:, :, 0]
    # Each example keeps a prefix of its spectrum and drops a suffix.
    assert (kept[:, 0] == 1).all()
    assert (kept[:, 1:] <= kept[:, :-1]).all()
    dropped = (kept == 0).any(1).float().mean()
    assert 0.25 < dropped < 0.6  # p = 0.5, minus the draws with k = K-1
    assert torch.equal(spectral_dropout(x, 0.0, g), x)
    # Seeded: same generator state, same mask; the global RNG is not used.
    state = torch.random.get_rng_state()
    a = spectral_dropout(x, 0.5, torch.Generator().manual_seed(9))
    b = spectral_dropout(x, 0.5, torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("normalization", ["magnitude", "spread"])
def test_normalized_equivariance_loss_is_scale_free(normalization):
    g = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    a = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
    b = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
    rel = equivariance_loss(q, a, b, normalization)
    assert torch.allclose(equivariance_loss(q, 0.01 * a, 0.01 * b, normalization), rel)
    # The absolute form shrinks with the latents: the degeneracy the option removes.
    assert equivariance_loss(q, 0.01 * a, 0.01 * b) < 0.02 * equivariance_loss(q, a, b)


def test_spread_normalization_ignores_components_shared_by_the_batch():
    g = torch.Generator().manual_seed(4)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    a = torch.randn(8, 4, 3, generator=g, dtype=torch.float64)
    b = q @ a + 0.1 * torch.randn(8, 4, 3, generator=g, dtype=torch.float64)
    shared = 100 * torch.randn(1, 4, 3, generator=g, dtype=torch.float64)
    # A large offset common to all samples hides the error from "magnitude"…
    assert equivariance_loss(q, a + q.T @ shared, b + shared, "magnitude") < 0.1 * equivariance_loss(q, a, b, "magnitude")
    # …but not from "spread", which looks at what differs between samples.
    assert torch.allclose(
        equivariance_loss(q, a + q.T @ shared, b + shared, "spread"),
        equivariance_loss(q, a, b, "spread"),
        rtol=0.05,
    )
