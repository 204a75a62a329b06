import numpy as np
import pytest
import torch

from skniso.core.procrustes import (
    eigenvalue_mask,
    least_squares_map,
    polar_factor,
    solve_isometry,
)


def random_orthogonal(k, generator, dtype=torch.float64, special=False):
    q, r = torch.linalg.qr(torch.randn(k, k, generator=generator, dtype=dtype))
    q = q * torch.sign(torch.diagonal(r))
    if special and torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def block_diagonal_rotation(block_sizes, generator):
    blocks = [random_orthogonal(b, generator, special=True) for b in block_sizes]
    return torch.block_diag(*blocks)


@pytest.mark.parametrize("special", [False, True])
def test_polar_factor_is_nearest_orthogonal(special):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 6, 6, generator=g, dtype=torch.float64)
    r = polar_factor(x, special=special)
    eye = torch.eye(6, dtype=torch.float64)
    assert torch.allclose(r.mT @ r, eye.expand(5, 6, 6), atol=1e-12)
    if special:
        assert torch.allclose(torch.linalg.det(r), torch.ones(5, dtype=torch.float64))
    # Nearest: no random orthogonal matrix of the same kind is closer.
    for _ in range(20):
        q = random_orthogonal(6, g, special=special)
        assert ((r - x).norm(dim=(-2, -1)) <= (q - x).norm(dim=(-2, -1)) + 1e-12).all()


def test_polar_factor_matches_scipy():
    from scipy.linalg import polar

    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 4, generator=g, dtype=torch.float64)
    expected, _ = polar(x.numpy(), side="right")
    np.testing.assert_allclose(polar_factor(x).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize(
    "shape,special",
    [((4, 4), False), ((4, 4), True), ((2, 5, 5), True), ((6, 3), False)],
)
def test_gradcheck_generic(shape, special):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: polar_factor(a, special=special), (x,))


@pytest.mark.parametrize("special", [False, True])
def test_gradcheck_near_repeated_singular_values(special):
    # Singular values (3, 3, 3+1e-7, 1): torch.linalg.svd's backward divides by
    # their differences; the polar factor's derivative does not.
    g = torch.Generator().manual_seed(3)
    u = random_orthogonal(4, g)
    v = random_orthogonal(4, g)
    s = torch.tensor([3.0, 3.0, 3.0 + 1e-7, 1.0], dtype=torch.float64)
    x = (u * s) @ v.mT
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a: polar_factor(a, special=special), (x,), eps=1e-6, atol=1e-5
    )


def test_backward_finite_at_exactly_repeated_singular_values():
    g = torch.Generator().manual_seed(4)
    x = (2.0 * random_orthogonal(5, g)).requires_grad_(True)  # all singular values 2
    (polar_factor(x, special=True) * torch.randn(5, 5, generator=g, dtype=x.dtype)).sum().backward()
    assert torch.isfinite(x.grad).all()
    # The reference point where torch's own SVD backward fails:
    y = x.detach().clone().requires_grad_(True)
    u, s, vh = torch.linalg.svd(y)
    (u @ vh).sum().backward()
    assert not torch.isfinite(y.grad).all()


def test_polar_factor_rejects_bad_shapes():
    with pytest.raises(ValueError, match="m >= n"):
        polar_factor(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="square"):
        polar_factor(torch.randn(4, 3), special=True)
    with pytest.raises(ValueError, match="matrix"):
        polar_factor(torch.zeros(3))


def test_hard_mask_recovers_planted_block_diagonal_tau_exactly():
    g = torch.Generator().manual_seed(5)
    block_sizes = [1, 2, 2, 3, 1]
    eigenvalues = torch.repeat_interleave(
        torch.tensor([0.0, 0.5, 1.1, 2.0, 3.5], dtype=torch.float64),
        torch.tensor(block_sizes),
    )
    k = eigenvalues.numel()
    tau_true = torch.stack([block_diagonal_rotation(block_sizes, g) for _ in range(3)])
    source = torch.randn(3, k, 12, generator=g, dtype=torch.float64)
    target = tau_true @ source
    mask = eigenvalue_mask(eigenvalues, "hard")
    tau = solve_isometry(source, target, mask, special=True)
    assert torch.allclose(tau, tau_true, atol=1e-10)
    # Without the mask, noise-free data are still fitted exactly; with noise the
    # mask keeps τ block-diagonal while the unmasked solution leaks off-block.
    noisy = target + 0.3 * torch.randn(target.shape, generator=g, dtype=torch.float64)
    off_block = mask == 0
    assert solve_isometry(source, noisy, mask)[:, off_block].abs().max() < 1e-12
    assert solve_isometry(source, noisy)[:, off_block].abs().max() > 1e-3


def test_fuzzy_mask_values_and_temperature():
    lam = torch.tensor([0.0, 1.0, 3.0])
    p = eigenvalue_mask(lam)
    assert torch.allclose(p[0, 1], torch.exp(torch.tensor(-1.0)))
    assert torch.allclose(torch.diagonal(p), torch.ones(3))
    sharper = eigenvalue_mask(lam, temperature=0.1)
    assert sharper[0, 1] < p[0, 1]
    with pytest.raises(ValueError, match="temperature"):
        eigenvalue_mask(lam, temperature=0.0)
    with pytest.raises(ValueError, match="fuzzy"):
        eigenvalue_mask(lam, kind="soft")


def test_solve_isometry_equivariant_under_orthogonal_change_of_basis():
    # τ(QÂ, QB̂) = Q τ(Â, B̂) Qᵀ for any orthogonal Q (unmasked case).
    g = torch.Generator().manual_seed(6)
    # C = 12 > K = 8, so B̂Âᵀ has full rank and τ is unique.
    a = torch.randn(8, 12, generator=g, dtype=torch.float64)
    b = torch.randn(8, 12, generator=g, dtype=torch.float64)
    q = random_orthogonal(8, g)
    tau = solve_isometry(a, b, special=False)
    assert torch.allclose(solve_isometry(q @ a, q @ b, special=False), q @ tau @ q.mT, atol=1e-10)


def test_least_squares_map_recovers_planted_linear_map():
    g = torch.Generator().manual_seed(7)
    m = torch.randn(2, 5, 5, generator=g, dtype=torch.float64)
    a = torch.randn(2, 5, 20, generator=g, dtype=torch.float64)
    assert torch.allclose(least_squares_map(a, m @ a, ridge=0.0), m, atol=1e-9)
