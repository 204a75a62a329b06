"""Orthogonal Procrustes with a backward pass that survives repeated singular values.

The isometry τ between two eigenspace latents is the orthogonal polar factor of a
masked cross-covariance (method.md §3).  ``torch.linalg.svd``'s own backward divides
by differences of singular values and blows up exactly where NIso wants to be: at
eigenvalue multiplicities.  The polar factor itself is smooth there, and its
derivative only involves *sums* of singular values, which is what
:class:`PolarFactor` uses.

The JAX reference differentiates through its SVD instead, with every 1/x of the
SVD derivative replaced by x/(x² + 1e-8).  Composed into the polar factor that is
the exact derivative times a factor that switches off every singular-value pair
with |s_i² − s_j²| ≲ 1e-4: near-degenerate pairs, and most pairs once the latents
are small (NIso's L_E shrinks them as it trains).  ``gradient="reference"``
reproduces it (method.md §3; BENCHMARKS.md, "The reference code on the
same weights").
"""

import torch

__all__ = [
    "polar_factor",
    "eigenvalue_mask",
    "solve_isometry",
    "least_squares_map",
]

DEFAULT_EPS = 1e-8

#: Derivatives of the polar factor that :func:`polar_factor` offers.
POLAR_GRADIENTS = ("exact", "reference")


def _regularised_inverse(x, eps):
    # x / (x² + eps) equals 1/x away from zero and stays finite at zero.
    return x / (x * x + eps)


class PolarFactor(torch.autograd.Function):
    """Autograd function: orthogonal polar factor of ``x`` (..., m, n), m ≥ n."""

    @staticmethod
    def forward(ctx, x, special, eps, gradient="exact"):
        u, s, vh = torch.linalg.svd(x, full_matrices=False)
        rotation = u @ vh
        if special:
            # Kabsch: flip the direction of the smallest singular value when the
            # plain polar factor is a reflection, so that det(R) = +1.
            sign = 1.0 - 2.0 * (torch.linalg.det(rotation) < 0).to(s.dtype)
            # U diag(1, …, 1, -1) Vᵀ = U Vᵀ - 2 u_K v_Kᵀ: a rank-one update, not a second product.
            rotation.add_(((sign - 1.0)[..., None, None] * u[..., :, -1:]) @ vh[..., -1:, :])
            if ctx.needs_input_grad[0]:
                flip = torch.ones_like(s)
                flip[..., -1] = sign
                u = u * flip.unsqueeze(-2)
                s = s * flip
        ctx.save_for_backward(u, s, vh)
        ctx.eps = eps
        ctx.gradient = gradient
        ctx.tall = x.shape[-2] > x.shape[-1]
        return rotation

    @staticmethod
    def backward(ctx, grad):
        u, s, vh = ctx.saved_tensors
        v = vh.transpose(-1, -2)
        w = u.transpose(-1, -2) @ grad @ v
        s_row, s_col = s.unsqueeze(-1), s.unsqueeze(-2)
        sums = s_row + s_col
        if ctx.gradient == "exact":
            weights = _regularised_inverse(sums, ctx.eps)
        else:
            # The reference: 1/(s_i + s_j) = (s_i - s_j) / (s_i² - s_j²) with the
            # division regularised, i.e. damped where s_i² ≈ s_j².
            differences = s_row - s_col
            weights = differences * _regularised_inverse(differences * sums, ctx.eps)
        inner = (w - w.transpose(-1, -2)) * weights
        grad_x = u @ inner @ vh
        if ctx.tall:
            # The part of the gradient orthogonal to span(U) only meets S⁻¹.
            residual = grad - u @ (u.transpose(-1, -2) @ grad)
            inv_s = _regularised_inverse(s, ctx.eps)
            grad_x = grad_x + residual @ (v * inv_s.unsqueeze(-2)) @ vh
        return grad_x, None, None, None


def polar_factor(x, special=False, eps=DEFAULT_EPS, gradient="exact"):
    """Orthogonal polar factor Π(x) = U Vᵀ of ``x = U S Vᵀ``, batched.

    Parameters
    ----------
    x : torch.Tensor of shape (..., m, n) with m ≥ n
    special : bool, default=False
        If True (square ``x`` only), return the closest *rotation*, det = +1
        (Kabsch); otherwise the closest orthogonal matrix, reflections allowed.
    eps : float, default=1e-8
        Regulariser of the backward pass: 1/σ is replaced by σ/(σ² + eps).
    gradient : {"exact", "reference"}, default="exact"
        ``"exact"``: the derivative of the polar factor, 1/(s_i + s_j) on each
        singular-value pair.  ``"reference"``: the JAX reference's, which damps
        every pair with (s_i² − s_j²)² ≲ eps (see the module docstring); the
        forward value is the same.

    Returns
    -------
    torch.Tensor of shape (..., m, n)
        With orthonormal columns; the nearest such matrix to ``x`` in Frobenius norm.
    """
    if x.dim() < 2:
        raise ValueError(f"polar_factor needs a matrix, got shape {tuple(x.shape)}")
    m, n = x.shape[-2:]
    if m < n:
        raise ValueError(f"polar_factor needs m >= n, got a {m}x{n} matrix")
    if special and m != n:
        raise ValueError(f"special=True needs a square matrix, got {m}x{n}")
    if gradient not in POLAR_GRADIENTS:
        raise ValueError(f"gradient must be one of {POLAR_GRADIENTS}, got {gradient!r}")
    # Always in float32 or better, also under mixed-precision autocast: the SVD
    # and determinant have no half-precision kernels, and small singular-value
    # gaps need the precision anyway.
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    with torch.autocast(x.device.type, enabled=False):
        return PolarFactor.apply(x, bool(special), float(eps), gradient)


def eigenvalue_mask(eigenvalues, kind="fuzzy", temperature=1.0, tol=1e-6):
    """Mask P that keeps τ commuting with Λ, i.e. block-diagonal over multiplicities.

    Parameters
    ----------
    eigenvalues : torch.Tensor of shape (K,)
    kind : {"fuzzy", "hard"}, default="fuzzy"
        ``"fuzzy"``: P_ij = exp(-|λ_i - λ_j| / temperature), differentiable in Λ
        (the reference's choice, temperature 1).  ``"hard"``: P_ij = 1 when
        |λ_i - λ_j| <= tol, the exact-multiplicity mask of the paper's appendix.
    temperature : float, default=1.0
    tol : float, default=1e-6

    Returns
    -------
    torch.Tensor of shape (K, K)
    """
    gaps = (eigenvalues.unsqueeze(-1) - eigenvalues.unsqueeze(-2)).abs()
    if kind == "fuzzy":
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        return torch.exp(-gaps / temperature)
    if kind == "hard":
        return (gaps <= tol).to(eigenvalues.dtype)
    raise ValueError(f"mask kind must be 'fuzzy' or 'hard', got {kind!r}")


def solve_isometry(source, target, mask=None, special=True, eps=DEFAULT_EPS, gradient="exact"):
    """Masked Procrustes τ = Π(P ⊙ B̂Âᵀ): the isometry mapping ``source`` to ``target``.

    Parameters
    ----------
    source, target : torch.Tensor of shape (..., K, C)
        Eigenspace latents Â and B̂; the C channels share one τ.
    mask : torch.Tensor of shape (K, K) or (..., K, K), optional
        Commutation mask from :func:`eigenvalue_mask`; None means unconstrained O(K).
    special : bool, default=True
        Restrict τ to SO(K) (the reference) instead of O(K).
    eps : float, default=1e-8
        Regulariser of the backward pass (see :func:`polar_factor`).
    gradient : {"exact", "reference"}, default="exact"
        Derivative of τ (see :func:`polar_factor`).

    Returns
    -------
    tau : torch.Tensor of shape (..., K, K)
        Orthogonal, with ``tau @ source ≈ target``; ``tau.mT`` maps back.
    """
    if source.shape != target.shape:
        raise ValueError(
            f"source and target latents differ in shape: {tuple(source.shape)} "
            f"vs {tuple(target.shape)}"
        )
    cross = target @ source.transpose(-1, -2)
    if mask is not None:
        cross = cross * mask
    return polar_factor(cross, special=special, eps=eps, gradient=gradient)


def least_squares_map(source, target, ridge=1e-4):
    """Unconstrained linear transition M* = argmin ‖M Â − B̂‖ (the NFT baseline).

    Solved per example by ridge-regularised normal equations,
    M* = B̂Âᵀ (ÂÂᵀ + ridge·I)⁻¹, differentiable in both latents.
    """
    k = source.shape[-2]
    gram = source @ source.transpose(-1, -2)
    eye = torch.eye(k, dtype=source.dtype, device=source.device)
    cross = target @ source.transpose(-1, -2)
    # Solve M G = C for M, i.e. G M^T = C^T (G symmetric).
    return torch.linalg.solve(gram + ridge * eye, cross.transpose(-1, -2)).transpose(-1, -2)
