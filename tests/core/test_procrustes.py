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


def _damped_svd_tangent(x, dx, special, eps=1e-8):
    """The JAX reference's tangent of its Procrustes, written out from the SVD.

    ``nn/fmaps.py``: the SVD's JVP with every 1/x replaced by x/(x² + eps), then
    R = U Vᵀ with Vᵀ's last row times det(U Vᵀ) (whose JVP is det·tr(Rᵀ dR)).
    An independent route to the same derivative as ``gradient="reference"``.
    """
    k = x.shape[-1]
    u, s, vh = torch.linalg.svd(x)
    v = vh.mT
    ds = u.mT @ dx @ v
    s_col = s.unsqueeze(-2)  # [i, j] -> s_j
    gaps = (s_col + s_col.mT) * (s_col - s_col.mT)  # s_j² - s_i²
    eye = torch.eye(k, dtype=x.dtype)
    safe = (gaps + eye) / ((gaps + eye) ** 2 + eps) - eye
    du = u @ (safe * (s_col * ds + (s_col * ds).mT))
    dv = v @ (safe * (s_col.mT * ds + (s_col.mT * ds).mT))
    flip = torch.ones(k, dtype=x.dtype)
    d_det = torch.zeros((), dtype=x.dtype)
    if special:
        det = torch.linalg.det(u @ vh)
        flip[-1] = det
        d_det = det * torch.trace((u @ vh).mT @ (du @ vh + u @ dv.mT))
    d_vh = flip.unsqueeze(-1) * dv.mT
    d_vh[-1] += d_det * vh[-1]
    return du @ (flip.unsqueeze(-1) * vh) + u @ d_vh


@pytest.mark.parametrize("special", [False, True])
def test_reference_gradient_is_the_adjoint_of_the_references_damped_tangent(special):
    # Small and nearly repeated singular values, where the damping is active.
    g = torch.Generator().manual_seed(5)
    u, v = random_orthogonal(5, g), random_orthogonal(5, g)
    if special and torch.linalg.det(u @ v.mT) > 0:
        u[:, 0] = -u[:, 0]  # a reflection, so that the determinant fix is exercised
    s = torch.tensor([2.0, 0.5, 4e-3, 3e-3, 1e-3], dtype=torch.float64)
    x = ((u * s) @ v.mT).requires_grad_(True)
    upstream = torch.randn(5, 5, generator=g, dtype=torch.float64)
    (polar_factor(x, special=special, gradient="reference") * upstream).sum().backward()
    for _ in range(3):
        direction = torch.randn(5, 5, generator=g, dtype=torch.float64)
        tangent = _damped_svd_tangent(x.detach(), direction, special)
        # rtol: the reference's regularised diagonal, 1/(1 + eps) - 1, is -1e-8, not 0.
        torch.testing.assert_close((x.grad * direction).sum(), (upstream * tangent).sum(), rtol=1e-6, atol=1e-10)
    exact = x.detach().clone().requires_grad_(True)
    (polar_factor(exact, special=special) * upstream).sum().backward()
    assert (exact.grad - x.grad).norm() > 0.5 * exact.grad.norm()  # the damping is not a no-op here


@pytest.mark.parametrize("special", [False, True])
def test_reference_gradient_is_exact_for_well_separated_singular_values(special):
    g = torch.Generator().manual_seed(6)
    u, v = random_orthogonal(4, g), random_orthogonal(4, g)
    x = ((u * torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64)) @ v.mT).requires_grad_(True)
    upstream = torch.randn(4, 4, generator=g, dtype=torch.float64)
    grads = []
    for gradient in ("exact", "reference"):
        x.grad = None
        (polar_factor(x, special=special, gradient=gradient) * upstream).sum().backward()
        grads.append(x.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-6, atol=1e-9)


def test_polar_factor_rejects_unknown_gradient():
    with pytest.raises(ValueError, match="gradient must be one of"):
        polar_factor(torch.eye(3), gradient="damped")


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
