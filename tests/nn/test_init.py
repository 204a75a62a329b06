"""Tests for the seeded, side-effect-free parameter initialisation."""

import math

import pytest
import torch
from torch import nn

from skniso.nn import build_module, init_parameters_, lecun_normal_


def _small_network():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.InstanceNorm2d(8, affine=True),
        nn.SiLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),
        nn.LayerNorm(5),
    )


class _ScaledLinear(nn.Module):
    """A custom module with a direct parameter and its own initialiser."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.gain = nn.Parameter(torch.empty(4))
        self.seen_generator = None

    def reset_parameters_(self, generator):
        self.seen_generator = generator
        with torch.no_grad():
            self.gain.fill_(2.5)

    def forward(self, x):
        return self.linear(x) * self.gain


class _BareParameter(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3))


def _same_parameters(first, second):
    return all(
        torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters())
    )


def test_build_module_leaves_global_rng_untouched():
    torch.manual_seed(1234)
    state_before = torch.random.get_rng_state()
    build_module(_small_network, torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), state_before)


def test_same_seed_gives_identical_parameters():
    first = build_module(_small_network, torch.Generator().manual_seed(7))
    second = build_module(_small_network, torch.Generator().manual_seed(7))
    assert _same_parameters(first, second)


def test_different_seeds_give_different_parameters():
    first = build_module(_small_network, torch.Generator().manual_seed(7))
    second = build_module(_small_network, torch.Generator().manual_seed(8))
    assert not torch.equal(first[0].weight, second[0].weight)


def test_parameters_are_materialised_with_requested_dtype():
    module = build_module(_small_network, torch.Generator().manual_seed(0), dtype=torch.float64)
    for parameter in module.parameters():
        assert not parameter.is_meta
        assert parameter.device.type == "cpu"
        assert parameter.dtype == torch.float64
        assert torch.isfinite(parameter).all()
    assert module(torch.randn(2, 3, 4, 4, dtype=torch.float64)).shape == (2, 5)


def test_biases_zero_and_norms_identity():
    module = build_module(_small_network, torch.Generator().manual_seed(0))
    conv, instance_norm, linear, layer_norm = module[0], module[1], module[4], module[5]
    assert torch.all(conv.bias == 0) and torch.all(linear.bias == 0)
    for norm in (instance_norm, layer_norm):
        assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


def test_custom_parameter_without_reset_method_is_an_error():
    with pytest.raises(TypeError, match="reset_parameters_"):
        build_module(_BareParameter, torch.Generator().manual_seed(0))


def test_custom_reset_method_is_called_with_the_generator():
    generator = torch.Generator().manual_seed(0)
    module = build_module(_ScaledLinear, generator)
    assert module.seen_generator is generator
    assert torch.all(module.gain == 2.5)
    assert torch.all(module.linear.bias == 0)


def test_init_parameters_reinitialises_in_place():
    module = build_module(_small_network, torch.Generator().manual_seed(3))
    reference = build_module(_small_network, torch.Generator().manual_seed(3))
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(1.0)
    init_parameters_(module, torch.Generator().manual_seed(3))
    assert _same_parameters(module, reference)


def test_lecun_normal_statistics():
    fan_in = 400
    weight = torch.empty(500, fan_in, dtype=torch.float64)
    lecun_normal_(weight, torch.Generator().manual_seed(0))
    target_std = math.sqrt(1.0 / fan_in)
    # The truncation correction makes the final std equal sqrt(1 / fan_in).
    assert weight.std().item() == pytest.approx(target_std, rel=0.02)
    assert weight.mean().abs().item() < 0.05 * target_std
    assert weight.abs().max().item() <= 2 * target_std / 0.8796 + 1e-12


def test_lecun_normal_uses_fan_in_of_conv_kernels():
    weight = torch.empty(64, 16, 3, 3)
    lecun_normal_(weight, torch.Generator().manual_seed(0))
    assert weight.std().item() == pytest.approx(math.sqrt(1.0 / (16 * 9)), rel=0.05)
