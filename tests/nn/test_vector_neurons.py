"""Tests for the O(K)-equivariant / invariant vector-neuron layers."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from skniso.nn import (
    GramReadout,
    OrthMLP,
    OrthNet,
    OrthNeuron,
    OrthNorm,
    build_module,
)

from ..integer_rule import bad_integers, names_the_value

K, C = 12, 5
DTYPE = torch.float64


def _seeded(factory, seed=0):
    return build_module(factory, torch.Generator().manual_seed(seed), dtype=DTYPE)


def _random_orthogonal(size, determinant, seed):
    """Haar-like orthogonal matrix with the requested determinant (+1 or -1)."""
    generator = torch.Generator().manual_seed(seed)
    gaussian = torch.randn(size, size, generator=generator, dtype=DTYPE)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r))
    if torch.sign(torch.linalg.det(q)) != determinant:
        q[0] = -q[0]  # flip one row: a reflection changes the sign
    return q


def _random_input(*shape, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=DTYPE)


EQUIVARIANT_FACTORIES = {
    "norm": lambda: OrthNorm(C),
    "neuron": lambda: OrthNeuron(C, 7),
    "mlp": lambda: OrthMLP(C, 7, n_layers=3),
}


def _perturb_norm_parameters(module):
    # Non-default gains and epsilons, so the test covers the learnt state too.
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, OrthNorm):
                sub.scale.uniform_(0.5, 2.0, generator=torch.Generator().manual_seed(4))
                sub.epsilon.uniform_(-0.1, 0.1, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize("determinant", [1, -1])
@pytest.mark.parametrize("name", sorted(EQUIVARIANT_FACTORIES))
def test_equivariance(name, determinant):
    layer = _seeded(EQUIVARIANT_FACTORIES[name])
    _perturb_norm_parameters(layer)
    q = _random_orthogonal(K, determinant, seed=11)
    assert torch.linalg.det(q).item() == pytest.approx(determinant)
    x = _random_input(4, K, C)
    torch.testing.assert_close(layer(q @ x), q @ layer(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("determinant", [1, -1])
def test_orthnet_and_readout_invariance(determinant):
    net = _seeded(lambda: OrthNet(C, 10, width=16, n_layers=2, gram_channels=6))
    _perturb_norm_parameters(net)
    x = _random_input(4, K, C)
    for seed in (21, 22):
        q = _random_orthogonal(K, determinant, seed=seed)
        torch.testing.assert_close(net(q @ x), net(x), rtol=0, atol=1e-10)
        torch.testing.assert_close(
            net.invariant_features(q @ x), net.invariant_features(x), rtol=0, atol=1e-10
        )
    # Sanity check: the output does depend on the input.
    assert not torch.allclose(net(x), net(_random_input(4, K, C, seed=2)))


def test_shapes_and_leading_batch_axes():
    net = _seeded(lambda: OrthNet(C, 3, width=8, n_layers=4, gram_channels=4))
    assert net(_random_input(6, K, C)).shape == (6, 3)
    assert net.invariant_features(_random_input(6, K, C)).shape == (6, 10)
    assert net(_random_input(2, 3, K, C)).shape == (2, 3, 3)
    assert _seeded(lambda: OrthMLP(C, 9, 2))(_random_input(2, K, C)).shape == (2, K, 9)
    readout = _seeded(lambda: GramReadout(C, hidden=5))
    assert readout.out_features == 15
    assert readout(_random_input(2, K, C)).shape == (2, 15)


def test_default_orthnet_matches_reference_sizes():
    with torch.device("meta"):
        net = OrthNet(32, 10)
    assert net.readout.out_features == 2080
    assert net.head[0].in_features == 2080 and net.head[0].out_features == 8320
    assert net.head[2].out_features == 10
    # orth_net(128, layers=2): two trunk MLPs of 2 layers each; layers=4 gives 3.
    assert len(net.mlp_in.layers) == 4 and len(net.mlp_out.layers) == 4
    with torch.device("meta"):
        deeper = OrthNet(32, 10, n_layers=4)
    assert len(deeper.mlp_in.layers) == 6
    assert net.skip.bias is None
    assert net.readout.neuron.query.out_features == 64


def test_orthneuron_formula():
    neuron = _seeded(lambda: OrthNeuron(C, 4))
    x = _random_input(3, K, C)
    query = x @ neuron.query.weight.T
    key = x @ neuron.key.weight.T
    dot = (query * key).sum(-2, keepdim=True)
    norm_sq = (key**2).sum(-2, keepdim=True)
    expected = query + F.silu(-dot) * key * norm_sq / (norm_sq**2 + 1e-6)
    torch.testing.assert_close(neuron(x), expected)
    assert neuron.query.bias is None and neuron.key.bias is None


def test_orthneuron_removes_negative_component():
    # With d << 0 the smooth VN-ReLU projects Q onto the half-space d >= 0.
    neuron = _seeded(lambda: OrthNeuron(1, 1))
    with torch.no_grad():
        neuron.query.weight.fill_(-30.0)
        neuron.key.weight.fill_(1.0)
    x = _random_input(2, K, 1)
    query = -30.0 * x
    # Q is anti-parallel to the key, so (almost) nothing of it survives.
    assert neuron(x).norm() < 1e-6 * query.norm()


def test_orthnorm_formula_and_initial_values():
    norm = _seeded(lambda: OrthNorm(C))
    assert torch.all(norm.scale == 1) and torch.allclose(norm.epsilon, torch.full((C,), 1e-3, dtype=DTYPE))
    direct = OrthNorm(C)  # eager construction initialises too
    assert torch.all(direct.scale == 1) and torch.allclose(direct.epsilon, torch.full((C,), 1e-3))
    with torch.no_grad():
        norm.epsilon.fill_(-0.2)
    x = _random_input(3, K, C)
    expected = x / torch.sqrt((x**2).mean(-2, keepdim=True) + 1e-6 + 0.2)
    torch.testing.assert_close(norm(x), expected)


def test_gram_readout_upper_triangle_order():
    readout = _seeded(lambda: GramReadout(C, hidden=3))
    x = _random_input(2, K, C)
    h = readout.neuron(readout.norm(x))
    gram = h.transpose(-2, -1) @ h
    expected = torch.stack(
        [gram[:, 0, 0], gram[:, 0, 1], gram[:, 0, 2], gram[:, 1, 1], gram[:, 1, 2], gram[:, 2, 2]],
        dim=-1,
    )
    torch.testing.assert_close(readout(x), expected)


def test_gradients_reach_every_parameter():
    net = _seeded(lambda: OrthNet(C, 4, width=8, n_layers=2, gram_channels=4))
    loss = F.cross_entropy(net(_random_input(5, K, C)), torch.tensor([0, 1, 2, 3, 0]))
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "factory",
    [
        lambda: OrthNorm(C),
        lambda: OrthNeuron(C, 3),
        lambda: OrthMLP(C, 3, 2),
        lambda: GramReadout(C, 3),
        lambda: OrthNet(C, 2, width=4, gram_channels=3),
    ],
)
def test_build_module_is_seeded(factory):
    first = build_module(factory, torch.Generator().manual_seed(0), dtype=torch.float32)
    second = build_module(factory, torch.Generator().manual_seed(0), dtype=torch.float32)
    for a, b in zip(first.parameters(), second.parameters()):
        assert not a.is_meta and torch.isfinite(a).all() and torch.equal(a, b)


@pytest.mark.parametrize("n_layers", bad_integers(2))
def test_depth_follows_the_integer_rule(n_layers):
    with pytest.raises(ValueError, match=names_the_value("n_layers", n_layers)):
        OrthMLP(C, 4, n_layers=n_layers)
    assert len(OrthMLP(C, 4, n_layers=np.int64(1)).layers) == 2
