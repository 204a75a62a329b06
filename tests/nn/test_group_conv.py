import math

import numpy as np
import pytest
import torch

from skniso.nn.group_conv import (
    GroupCNN,
    GroupConv2d,
    LiftingConv2d,
    even_pool,
    rotate_kernel,
    rotation_resampling,
)
from skniso.nn.init import build_module

from ..integer_rule import bad_integers, names_the_value


def _build(factory, seed=0):
    return build_module(factory, torch.Generator().manual_seed(seed)).eval()


def _rot(x, turns=1):
    return torch.rot90(x, turns, dims=(-2, -1))


def _gaussian_image(size, angle, sigma=1.6):
    """An off-centre, asymmetric mixture of Gaussians, analytically rotated by ``angle``."""
    centres = np.array([[3.0, 0.5], [-1.0, 2.5], [0.0, -3.0]])
    weights = np.array([1.0, -0.7, 0.5])
    cos, sin = math.cos(angle), math.sin(angle)
    # Same sense as torch.rot90 on (row, col): (y, x) -> (-x, y) for π/2.
    rotated = centres @ np.array([[cos, sin], [-sin, cos]])
    axis = np.arange(size) - (size - 1) / 2
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    image = sum(w * np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * sigma**2)) for w, c in zip(weights, rotated))
    return torch.tensor(image, dtype=torch.float32)[None, None]


def test_quarter_turn_resampling_is_rot90_of_the_disk_masked_kernel():
    weight = torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    masked = (rotation_resampling(5, 0.0) @ weight.flatten()).reshape(5, 5)
    turned = (rotation_resampling(5, math.pi / 2) @ weight.flatten()).reshape(5, 5)
    torch.testing.assert_close(turned, torch.rot90(masked, 1), rtol=0, atol=1e-12)
    assert masked[0, 0] == 0 and masked[0, 1] == weight[0, 1]  # corners outside the disk


def test_rotated_kernels_compose_to_quarter_turns():
    resampling = torch.stack([rotation_resampling(5, a) for a in (0.0, math.pi / 4)]).float()
    weight = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(1))
    for r in range(8):
        torch.testing.assert_close(
            rotate_kernel(weight, (r + 2) % 8, 8, resampling), _rot(rotate_kernel(weight, r, 8, resampling))
        )


@pytest.mark.parametrize("n_rotations", [4, 8])
def test_lifting_and_group_convolutions_are_exactly_equivariant_to_quarter_turns(n_rotations):
    lift = _build(lambda: LiftingConv2d(2, 3, n_rotations, 5))
    group = _build(lambda: GroupConv2d(3, 4, n_rotations, 3), seed=1)
    x = torch.randn(2, 2, 12, 12, generator=torch.Generator().manual_seed(2))

    def layers(image):
        return group(torch.relu(lift(image)))

    shift = n_rotations // 4
    for turns in (1, 2, 3):
        expected = torch.roll(_rot(layers(x), turns), turns * shift, dims=2)
        torch.testing.assert_close(layers(_rot(x, turns)), expected, rtol=0, atol=1e-5)
    # The orientation axis really moves (a wrong shift would not match).
    assert (torch.roll(_rot(layers(x)), -shift, dims=2) - layers(_rot(x))).abs().max() > 0.1


def test_two_rotations_are_exact_under_half_turns():
    lift = _build(lambda: LiftingConv2d(1, 3, 2, 3))
    group = _build(lambda: GroupConv2d(3, 2, 2, 3), seed=1)
    x = torch.randn(1, 1, 10, 10, generator=torch.Generator().manual_seed(3))
    out = group(torch.relu(lift(x)))
    torch.testing.assert_close(group(torch.relu(lift(_rot(x, 2)))), torch.roll(_rot(out, 2), 1, dims=2), atol=1e-5, rtol=0)


@pytest.mark.parametrize("n_rotations", [4, 8])
def test_group_cnn_logits_are_invariant_to_quarter_turns(n_rotations):
    net = _build(lambda: GroupCNN(1, 5, n_rotations, (4, 6, 8), 5))
    x = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    logits = net(x)
    for turns in (1, 2, 3):
        torch.testing.assert_close(net(_rot(x, turns)), logits, rtol=0, atol=1e-5)


def test_eight_rotations_approximately_match_45_degree_turns():
    # On a smooth image the interpolated 45° kernels make C_8 features nearly
    # invariant to 45° turns; a C_4 network (same sizes) is not.
    image, turned = _gaussian_image(21, 0.0), _gaussian_image(21, math.pi / 4)
    errors = {}
    for n in (4, 8):
        nets = [_build(lambda: GroupCNN(1, 3, n, (6, 6), 5, "mean"), seed=s) for s in range(3)]
        with torch.no_grad():
            errors[n] = np.mean([
                float((net.features(image) - net.features(turned)).norm() / net.features(image).norm())
                for net in nets
            ])
    assert errors[8] < 0.5 * errors[4], errors


def test_even_pool_halves_even_grids_and_skips_odd_ones():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert even_pool(x, 2, "max").shape == (2, 3, 2, 2)
    odd = torch.zeros(1, 2, 5, 5)
    assert even_pool(odd, 2, "max") is odd


@pytest.mark.parametrize("layer", [LiftingConv2d, GroupConv2d])
@pytest.mark.parametrize("name, value", [
    *[("n_rotations", value) for value in bad_integers(4)],
    *[("kernel_size", value) for value in [*bad_integers(3), 4, -1]],
])
def test_integer_parameters_follow_the_rule(layer, name, value):
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        layer(2, 3, **{name: value})


@pytest.mark.parametrize("layer", [LiftingConv2d, GroupConv2d])
def test_numpy_integers_at_the_minimum_are_accepted(layer):
    conv = _build(lambda: layer(2, 3, n_rotations=np.int64(1), kernel_size=np.int64(1)))
    x = torch.randn(1, 2, 5, 5) if layer is LiftingConv2d else torch.randn(1, 2, 1, 5, 5)
    assert conv(x).shape == (1, 3, 1, 5, 5)
