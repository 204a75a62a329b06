"""The learned operator Ω = Φ Λ Φᵀ M of a latent domain with N points (method.md §1–2).

All three factors come from unconstrained raw parameters, re-derived on every
forward pass so that any optimiser step keeps them valid:

* mass ``M = m² + ε`` (a positive diagonal, stored as its diagonal),
* eigenfunctions ``Φ = M^{-1/2} Π(M^{1/2} U)``, M-orthonormal: ΦᵀMΦ = I,
* eigenvalues ``Λ = cumsum(λ²)`` (non-negative, ascending); with
  ``clustered_init`` simply ``λ²`` followed by a sort.
"""

import torch
from torch import nn

from .procrustes import polar_factor

__all__ = ["SpectralOperator", "project", "unproject"]

MASS_EPS = 1e-8


def project(latent, mass, eigenfunctions):
    """Eigenspace coefficients Ê(z) = Φᵀ M z.

    Parameters
    ----------
    latent : torch.Tensor of shape (..., N, C)
    mass : torch.Tensor of shape (N,)
    eigenfunctions : torch.Tensor of shape (N, K)

    Returns
    -------
    torch.Tensor of shape (..., K, C)
    """
    return eigenfunctions.transpose(0, 1) @ (mass.unsqueeze(-1) * latent)


def unproject(coefficients, eigenfunctions):
    """Back to the latent grid, Φ e: (..., K, C) → (..., N, C), without M."""
    return eigenfunctions @ coefficients


class SpectralOperator(nn.Module):
    """Learned M-self-adjoint, positive semi-definite operator of rank K on N points.

    Parameters
    ----------
    n_points : int
        N, the size of the (flattened) latent grid.
    n_components : int
        K ≤ N, the rank: the number of eigenpairs kept.
    clustered_init : bool, default=False
        Initialise eigenvalues as λ² with λ ~ N(0, 1) (the reference's torus
        setting) instead of cumsum(λ²) with λ ~ N(0, 1/K²).
    normalize_mass : bool, default=False
        Rescale M to mean 1.  The reference leaves M's overall scale free; since
        Ê = ΦᵀMz grows like its square root while the decoded Φ τ Ê does not,
        shrinking M lowers the equivariance loss for free.
    """

    # Class-level default: operators pickled before this option existed load as before.
    normalize_mass = False

    def __init__(self, n_points, n_components, clustered_init=False, normalize_mass=False):
        super().__init__()
        if not 1 <= n_components <= n_points:
            raise ValueError(
                f"the operator rank must satisfy 1 <= K <= N, got K={n_components} "
                f"for a latent grid of N={n_points} points"
            )
        self.n_points = n_points
        self.n_components = n_components
        self.clustered_init = clustered_init
        self.normalize_mass = normalize_mass
        self.mass_raw = nn.Parameter(torch.empty(n_points))
        self.basis_raw = nn.Parameter(torch.empty(n_points, n_components))
        self.eigen_raw = nn.Parameter(torch.empty(n_components))

    def reset_parameters_(self, generator=None):
        """Reference initialisation: m = 1, U ~ N(0, 0.01²), λ ~ N(0, (1/K)²)."""
        eigen_std = 1.0 if self.clustered_init else 1.0 / self.n_components
        with torch.no_grad():
            self.mass_raw.fill_(1.0)
            for param, std in ((self.basis_raw, 0.01), (self.eigen_raw, eigen_std)):
                values = torch.randn(param.shape, generator=generator, dtype=param.dtype)
                param.copy_((values * std).to(param.device))

    def forward(self):
        """Return ``(mass, eigenfunctions, eigenvalues)`` sorted by eigenvalue.

        Shapes are (N,), (N, K) and (K,).
        """
        mass = self.mass_raw.square() + MASS_EPS
        if self.normalize_mass:
            mass = mass * (self.n_points / mass.sum())
        root_mass = mass.sqrt().unsqueeze(-1)
        eigenfunctions = polar_factor(root_mass * self.basis_raw) / root_mass
        if self.clustered_init:
            eigenvalues = self.eigen_raw.square()
        else:
            eigenvalues = torch.cumsum(self.eigen_raw.square(), dim=0)
        order = torch.argsort(eigenvalues)
        return mass, eigenfunctions[:, order], eigenvalues[order]
