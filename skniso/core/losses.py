"""NIso losses (method.md §4–5): equivariance, reconstruction, multiplicity.

Like the reference, every distance is a mean absolute error and every term is
taken in both directions (forward with τ, backward with τᵀ = τ⁻¹).
"""

import torch

__all__ = [
    "equivariance_loss",
    "multiplicity_loss",
    "spectral_dropout",
]


def _scale(latents, normalization):
    if normalization == "magnitude":
        return latents.abs().mean()
    # "spread": deviation from the batch mean, i.e. what tells samples apart.
    return (latents - latents.mean(0, keepdim=True)).abs().mean()


def equivariance_loss(tau, source, target, normalization=None, inverse=None):
    """L_E = mean|τÂ − B̂| + mean|τ⁻¹B̂ − Â|, with τ⁻¹ = τᵀ for an isometry.

    Parameters
    ----------
    tau : torch.Tensor of shape (..., K, K)
    source, target : torch.Tensor of shape (B, ..., K, C)
    normalization : {None, "magnitude", "spread"}, default=None
        None is the reference's absolute error, which can be lowered just by
        shrinking the latents.  ``"magnitude"`` divides each direction by the
        mean magnitude of its target (scale-free); ``"spread"`` by the mean
        deviation of the target from its batch mean, so that the error is
        measured against what distinguishes samples rather than against
        components they all share.
    inverse : torch.Tensor of shape (..., K, K), optional
        The map used backwards; defaults to τᵀ (τ orthogonal).  Non-orthogonal
        transitions (the NFT baseline) pass their own backward map.
    """
    if inverse is None:
        inverse = tau.transpose(-1, -2)
    forward = (tau @ source - target).abs().mean()
    backward = (inverse @ target - source).abs().mean()
    if normalization is not None:
        forward = forward / (_scale(target, normalization) + 1e-8)
        backward = backward / (_scale(source, normalization) + 1e-8)
    return forward + backward


def multiplicity_loss(mask):
    """L_M = ‖diag(P1) − P‖_F / K: small once eigenvalues separate (P → I).

    The Frobenius norm of the mask's graph Laplacian equals the ℓ2 norm of its
    eigenvalues, so this pushes the spectrum towards few, distinct multiplicities
    and keeps the fuzzy mask from making every τ dense.
    """
    k = mask.shape[-1]
    laplacian = torch.diag_embed(mask.sum(-1)) - mask
    return torch.sqrt(laplacian.square().sum((-2, -1)) + 1e-8) / k


def spectral_dropout(coefficients, probability, generator=None):
    """Randomly truncate the spectrum of some examples (paper §3; torus/sphere runs).

    With ``probability`` per example, draw an index k uniformly in [0, K) and zero
    every spectral row above k, so the decoder learns to work from low frequencies.

    Parameters
    ----------
    coefficients : torch.Tensor of shape (B, K, C)
    probability : float in [0, 1]
    generator : torch.Generator, optional
        A CPU generator; the draws are made on the CPU and moved to the data.
    """
    if probability <= 0:
        return coefficients
    batch, k = coefficients.shape[:2]
    drop = torch.rand(batch, generator=generator) < probability
    cutoff = torch.randint(0, k, (batch,), generator=generator)
    cutoff = torch.where(drop, cutoff, torch.full_like(cutoff, k))
    keep = torch.arange(k).unsqueeze(0) <= cutoff.unsqueeze(1)
    keep = keep.to(device=coefficients.device, dtype=coefficients.dtype)
    return coefficients * keep.unsqueeze(-1)
