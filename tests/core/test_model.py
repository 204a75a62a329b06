import pytest
import torch
from torch import nn

from skniso.core.model import NeuralIsometryModel, isometry_pairs
from skniso.core.operator import SpectralOperator
from skniso.nn.conv import ConvDecoder, ConvEncoder
from skniso.nn.init import build_module


def identity_model(n_points, k, seed=0):
    def factory():
        return NeuralIsometryModel(nn.Identity(), nn.Identity(), (n_points,), SpectralOperator(n_points, k))

    return build_module(factory, torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_isometry_pairs_plans():
    assert isometry_pairs(2) == [((0, 1), (0, 1))]
    # Triplets: τ from one pair is applied to the other one, both ways round.
    assert isometry_pairs(3) == [((0, 1), (1, 2)), ((1, 2), (0, 1))]
    with pytest.raises(ValueError, match="pairs or triplets"):
        isometry_pairs(4)


def test_exact_isometry_gives_zero_losses():
    # Full rank, equal eigenvalues: τ is unconstrained and a cyclic shift of the
    # identity-encoded signal is an exact isometry, so L_E and L_R vanish.
    n = 6
    model = identity_model(n, n)
    with torch.no_grad():
        model.operator.eigen_raw.zero_()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 10, n, generator=g, dtype=torch.float64)  # C = 10 ≥ K: unique τ
    shifted = torch.roll(x, 1, dims=-1)
    out = model.losses([x, shifted], mask="hard", special=False)
    assert out["equivariance"] < 1e-10
    assert out["reconstruction"] < 1e-10
    # A map that is not an isometry of the latents leaves a residual.
    out = model.losses([x, 2 * shifted], mask="hard", special=False)
    assert out["equivariance"] > 0.1


@pytest.mark.parametrize("n_views", [2, 3])
def test_losses_are_finite_and_reach_every_parameter(n_views):
    def factory():
        encoder = ConvEncoder(1, 3, (4, 6), (1, 1))
        decoder = ConvDecoder(3, 1, (4, 6), (1, 1))
        return NeuralIsometryModel(encoder, decoder, (4, 4), SpectralOperator(16, 5))

    model = build_module(factory, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(2)
    views = [torch.randn(3, 1, 8, 8, generator=g) for _ in range(n_views)]
    out = model.losses(views, dropout=0.5, generator=g)
    assert len(out["tau"]) == n_views - 1
    expected = out["reconstruction"] + 0.5 * out["equivariance"] + 0.1 * out["multiplicity"]
    assert torch.allclose(out["loss"], expected)
    out["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.operator.eigen_raw.grad.abs().sum() > 0  # through the fuzzy mask


def test_operator_must_match_the_latent_grid():
    with pytest.raises(ValueError, match="16 points but the latent grid"):
        NeuralIsometryModel(nn.Identity(), nn.Identity(), (3, 3), SpectralOperator(16, 4))


def test_least_squares_transition_recovers_a_planted_linear_map():
    # NFT baseline: with C ≥ K the least-squares map is unique, so a planted
    # non-orthogonal map of the latents is recovered and L_E vanishes, where
    # the isometry transition must leave a residual.
    n = 5
    model = identity_model(n, n)
    g = torch.Generator().manual_seed(2)
    planted = torch.randn(n, n, generator=g, dtype=torch.float64) + 3 * torch.eye(n, dtype=torch.float64)
    x = torch.randn(4, 12, n, generator=g, dtype=torch.float64)
    with torch.no_grad():
        mass, phi, _ = model.operator()
        coefficients = model.to_eigenspace(x)
        # Apply the planted map in the eigenbasis and return to the grid.
        y = (phi @ (planted @ coefficients)).transpose(1, 2)
    out = model.losses([x, y], transition="least_squares")
    assert torch.allclose(out["tau"][0], planted.expand(4, n, n), atol=1e-3)
    assert out["equivariance"] < 1e-3
    assert out["multiplicity"] == 0
    assert model.losses([x, y], transition="isometry")["equivariance"] > 0.1


def test_no_transition_is_a_plain_autoencoder():
    # Each view is decoded from its own latent: with a full-rank operator and
    # identity codecs that is exact, even for unrelated views, and L_E, L_M are off.
    n = 6
    model = identity_model(n, n)
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 4, n, generator=g, dtype=torch.float64)
    b = torch.randn(3, 4, n, generator=g, dtype=torch.float64)
    out = model.losses([a, b], transition="none", alpha=1.0, beta=1.0)
    assert out["reconstruction"] < 1e-10
    assert out["equivariance"] == 0 and out["multiplicity"] == 0
    assert out["tau"] == []
    # The isometry objective cannot reconstruct unrelated views.
    assert model.losses([a, b])["reconstruction"] > 0.1
    with pytest.raises(ValueError, match="transition must be one of"):
        model.losses([a, b], transition="affine")
