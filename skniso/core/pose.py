"""Camera-pose heads in pure torch: the 9-D rotation lift and the pose losses (method.md §9)."""

import torch

__all__ = ["rotation_from_9d", "rotation_loss", "scale_invariant_translation_loss"]


def _normalize(vectors, eps=1e-8):
    # sqrt(clip(|v|², eps)) keeps the gradient finite at v = 0, as the reference.
    return vectors / torch.sqrt((vectors * vectors).sum(-1, keepdim=True).clamp_min(eps))


def rotation_from_9d(representation):
    """Rotations and translations from the head's 9 outputs.

    Outputs n1 = rep[0:3] and n2 = rep[3:6] give the rotation by cross products:
    x = n1/‖n1‖, z = (x × n2)/‖x × n2‖, y = z × x, R = [x y z] (columns); rep[6:9]
    is the translation.

    Parameters
    ----------
    representation : torch.Tensor of shape (..., 9)

    Returns
    -------
    rotation : torch.Tensor of shape (..., 3, 3)
        Proper rotations (det = +1).
    translation : torch.Tensor of shape (..., 3)
    """
    if representation.shape[-1] != 9:
        raise ValueError(f"expected 9 values per pose, got shape {tuple(representation.shape)}")
    x = _normalize(representation[..., 0:3])
    z = _normalize(torch.linalg.cross(x, representation[..., 3:6]))
    y = torch.linalg.cross(z, x)
    return torch.stack([x, y, z], dim=-1), representation[..., 6:9]


def rotation_loss(predicted, target):
    """Mean absolute difference of the 9 rotation entries (the reference's Eq. 25)."""
    return (predicted - target).abs().mean()


def scale_invariant_translation_loss(predicted, target, positive=False, eps=1e-8):
    """Translation loss up to one scale per group (the reference's Eq. 26–27).

    Parameters
    ----------
    predicted, target : torch.Tensor of shape (G, P, 3)
        P relative translations from each of G sequences.
    positive : bool, default=False
        Use |s*|.  The reference's s* may be negative, so a head that predicts
        −T for a whole sequence is not penalised; with |s*| it is.

    Returns
    -------
    torch.Tensor
        mean |T − s* T̂| with s* = ⟨T̂, T⟩ / ⟨T̂, T̂⟩ per group; s* is a constant
        for the gradient (stop-gradient), since a monocular estimate has no scale.
    """
    with torch.no_grad():
        scale = (predicted * target).sum((-2, -1)) / (predicted * predicted).sum((-2, -1)).clamp_min(eps)
        if positive:
            scale = scale.abs()
    return (target - scale[:, None, None] * predicted).abs().mean()
