"""The NIso autoencoder: encoder, learned operator, decoder, and its training losses.

This module holds the whole method in one ``nn.Module`` so that the estimators
stay thin.  Observations are (B, C_in, *spatial); the encoder maps them to a latent
grid (B, C, *grid) that is handled as (B, N, C) with N = prod(grid).
"""

import torch
from torch import nn

from .losses import equivariance_loss, multiplicity_loss, spectral_dropout
from .operator import project, unproject
from .procrustes import eigenvalue_mask, least_squares_map, solve_isometry

__all__ = ["NeuralIsometryModel", "isometry_pairs", "TRANSITIONS"]

#: How the map between two latents is obtained (see ``NeuralIsometryModel.losses``).
TRANSITIONS = ("isometry", "least_squares", "none")


def isometry_pairs(n_views):
    """Which view pairs estimate τ and which pair it is applied to.

    Returns a list of ``(estimate_from, apply_to)`` where each is a
    ``(source, target)`` pair of view indices.  Pairwise: τ is estimated and used
    on the same pair (ψ, Tψ).  Triplet (ψ, Tψ, T²ψ): τ estimated on one pair is
    applied to the other, and vice versa, so the loss checks that the *same*
    transformation acts the same way on different inputs.
    """
    if n_views == 2:
        return [((0, 1), (0, 1))]
    if n_views == 3:
        return [((0, 1), (1, 2)), ((1, 2), (0, 1))]
    raise ValueError(f"NIso trains on pairs or triplets of views, got {n_views} views")


class NeuralIsometryModel(nn.Module):
    """Encoder + :class:`SpectralOperator` + decoder.

    Parameters
    ----------
    encoder, decoder : nn.Module
        ``encoder`` maps (B, C_in, *spatial) to (B, C, *grid); ``decoder`` maps back.
    latent_grid : tuple of int
        Spatial shape of the encoder output.
    operator : SpectralOperator
        The learned operator on the N = prod(latent_grid) grid points.
    """

    def __init__(self, encoder, decoder, latent_grid, operator):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_grid = tuple(int(s) for s in latent_grid)
        n_points = 1
        for size in self.latent_grid:
            n_points *= size
        if operator.n_points != n_points:
            raise ValueError(
                f"the operator has {operator.n_points} points but the latent grid "
                f"{self.latent_grid} has {n_points}"
            )
        self.operator = operator

    # -- latent <-> eigenspace ------------------------------------------------
    def encode(self, x):
        """Observations (B, C_in, *spatial) → latent (B, N, C)."""
        z = self.encoder(x)
        if tuple(z.shape[2:]) != self.latent_grid:
            raise ValueError(
                f"the encoder produced a latent grid {tuple(z.shape[2:])}, expected "
                f"{self.latent_grid}"
            )
        return z.flatten(2).transpose(1, 2)

    def decode_latent(self, z):
        """Latent (B, N, C) → observations (B, C_out, *spatial)."""
        grid = z.transpose(1, 2).reshape(z.shape[0], z.shape[2], *self.latent_grid)
        return self.decoder(grid)

    def to_eigenspace(self, x, spectrum=None):
        """Observations → eigenspace coefficients Ê = ΦᵀM E(x), shape (B, K, C)."""
        mass, eigenfunctions, _ = self.operator() if spectrum is None else spectrum
        return project(self.encode(x), mass, eigenfunctions)

    def from_eigenspace(self, coefficients, spectrum=None):
        """Eigenspace coefficients (B, K, C) → decoded observations D(Φ e)."""
        _, eigenfunctions, _ = self.operator() if spectrum is None else spectrum
        return self.decode_latent(unproject(coefficients, eigenfunctions))

    # -- training objective ---------------------------------------------------
    def losses(
        self,
        views,
        *,
        alpha=0.5,
        beta=0.1,
        mask="fuzzy",
        mask_temperature=1.0,
        special=True,
        dropout=0.0,
        equivariance_normalization=None,
        transition="isometry",
        procrustes_gradient="exact",
        generator=None,
    ):
        """NIso objective L = L_R + α L_E + β L_M for a batch of related views.

        Parameters
        ----------
        views : sequence of torch.Tensor, each (B, C_in, *spatial)
            ``(ψ, Tψ)`` (pairwise) or ``(ψ, Tψ, T²ψ)`` (triplet).
        alpha, beta : float
            Weights of the equivariance and multiplicity terms.
        mask : {"fuzzy", "hard"}
        mask_temperature : float
        special : bool
            τ in SO(K) if True, else O(K).
        dropout : float
            Spectral dropout probability on the latents about to be decoded.
        equivariance_normalization : {None, "magnitude", "spread"}
            See :func:`equivariance_loss`.
        transition : {"isometry", "least_squares", "none"}
            ``"isometry"``: NIso's masked Procrustes τ.  ``"least_squares"``: the
            NFT baseline's unconstrained map M* = argmin ‖MÂ − B̂‖ (one per
            direction; no mask, so L_M is not used).  ``"none"``: a plain
            autoencoder baseline, each view decoded from its own latent (no L_E
            and no L_M).
        procrustes_gradient : {"exact", "reference"}
            Derivative of τ: exact, or the JAX reference's damped one (see
            :func:`~skniso.core.procrustes.polar_factor`).
        generator : torch.Generator, optional
            Drives spectral dropout.

        Returns
        -------
        dict of str to torch.Tensor
            ``loss`` (the total), ``reconstruction``, ``equivariance``,
            ``multiplicity`` and the solved isometries ``tau`` (list, one per pair).
        """
        spectrum = self.operator()
        _, eigenfunctions, eigenvalues = spectrum
        batch = views[0].shape[0]
        coefficients = self.to_eigenspace(torch.cat(list(views)), spectrum)
        coefficients = coefficients.split(batch)
        weights = eigenvalue_mask(eigenvalues, mask, mask_temperature)

        if transition not in TRANSITIONS:
            raise ValueError(f"transition must be one of {TRANSITIONS}, got {transition!r}")
        zero = coefficients[0].new_zeros(())
        equivariance, decode_inputs, decode_targets, taus = zero, [], [], []
        plan = isometry_pairs(len(views))
        if transition == "none":  # a plain autoencoder: no map between the views
            decode_inputs, decode_targets, plan = list(coefficients), list(views), []
        for (est_src, est_tgt), (src, tgt) in plan:
            if transition == "isometry":
                tau = solve_isometry(
                    coefficients[est_src], coefficients[est_tgt], weights, special,
                    gradient=procrustes_gradient,
                )
                backward = tau.transpose(-1, -2)
            else:
                tau = least_squares_map(coefficients[est_src], coefficients[est_tgt])
                backward = least_squares_map(coefficients[est_tgt], coefficients[est_src])
            taus.append(tau)
            equivariance = equivariance + equivariance_loss(
                tau, coefficients[src], coefficients[tgt], equivariance_normalization,
                inverse=backward,
            )
            # Only transported latents are decoded: D(Φ τ Â) must give Tψ and
            # D(Φ τᵀ B̂) must give ψ.
            decode_inputs += [tau @ coefficients[src], backward @ coefficients[tgt]]
            decode_targets += [views[tgt], views[src]]
        transported = spectral_dropout(torch.cat(decode_inputs), dropout, generator)
        decoded = self.decode_latent(unproject(transported, eigenfunctions))
        targets = torch.cat(decode_targets)
        # Sum of the two directions per pair, averaged over pairs, as the reference.
        reconstruction = 2.0 * (decoded - targets).abs().mean()
        equivariance = equivariance / max(len(plan), 1)
        # The mask only shapes τ for isometries; elsewhere L_M would train Λ for nothing.
        multiplicity = multiplicity_loss(weights) if transition == "isometry" else zero
        total = reconstruction + alpha * equivariance + beta * multiplicity
        return {
            "loss": total,
            "reconstruction": reconstruction,
            "equivariance": equivariance,
            "multiplicity": multiplicity,
            "tau": taus,
        }
