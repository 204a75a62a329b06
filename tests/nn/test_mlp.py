"""Tests for the plain and skip MLPs."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from skniso.nn import MLP, SkipMLP, build_module


def _seeded(factory, seed=0, dtype=torch.float64):
    return build_module(factory, torch.Generator().manual_seed(seed), dtype=dtype)


def _linears(module):
    return [sub for sub in module.modules() if isinstance(sub, nn.Linear)]


def test_mlp_shapes_and_structure():
    mlp = _seeded(lambda: MLP(7, 3, hidden=(5, 4)))
    assert [(lin.in_features, lin.out_features) for lin in _linears(mlp)] == [
        (7, 5),
        (5, 4),
        (4, 3),
    ]
    assert isinstance(mlp.layers[-1], nn.Linear)  # linear output
    assert mlp(torch.randn(2, 6, 7, dtype=torch.float64)).shape == (2, 6, 3)


def test_mlp_without_hidden_layers_is_linear():
    mlp = _seeded(lambda: MLP(4, 2, hidden=()))
    assert len(mlp.layers) == 1 and isinstance(mlp.layers[0], nn.Linear)


def test_mlp_activation_is_configurable():
    mlp = MLP(4, 2, hidden=(3, 3), activation=nn.ReLU)
    assert sum(isinstance(sub, nn.ReLU) for sub in mlp.modules()) == 2
    assert not any(isinstance(sub, nn.SiLU) for sub in mlp.modules())


def test_skipmlp_pose_head_structure():
    # skipMLP(512, num_layers=6, out 9, skip_init_act=True) of the CO3D head.
    head = SkipMLP(16, 9, width=512, n_layers=6)
    first = list(head.first_stage)
    assert [type(layer) for layer in first] == [
        nn.Linear, nn.SiLU, nn.Linear, nn.SiLU, nn.Linear,
    ]
    second = list(head.second_stage)
    assert [type(layer) for layer in second] == [
        nn.SiLU, nn.Linear, nn.SiLU, nn.Linear, nn.SiLU, nn.Linear,
    ]
    assert second[-1].out_features == 9
    assert head.skip.in_features == 16 and head.skip.out_features == 512
    main_path = _linears(head.first_stage) + _linears(head.second_stage)
    assert len(main_path) == 6


def test_skipmlp_forward_matches_formula():
    head = _seeded(lambda: SkipMLP(6, 2, width=5, n_layers=4))
    x = torch.randn(3, 6, dtype=torch.float64)
    a, b = head.first_stage[0], head.first_stage[2]
    c, d = head.second_stage[1], head.second_stage[3]
    h = b(F.silu(a(x))) + head.skip(x)
    expected = d(F.silu(c(F.silu(h))))
    torch.testing.assert_close(head(x), expected)


@pytest.mark.parametrize("n_layers, first, second", [(2, 1, 1), (3, 2, 1), (5, 3, 2)])
def test_skipmlp_layer_split(n_layers, first, second):
    head = SkipMLP(4, 3, width=8, n_layers=n_layers)
    assert len(_linears(head.first_stage)) == first
    assert len(_linears(head.second_stage)) == second
    assert _linears(head.second_stage)[-1].out_features == 3


def test_skipmlp_initial_activation_and_validation():
    head = SkipMLP(4, 3, width=8, n_layers=2, initial_activation=True)
    assert isinstance(head.first_stage[0], nn.SiLU)
    with pytest.raises(ValueError):
        SkipMLP(4, 3, n_layers=1)


@pytest.mark.parametrize(
    "factory", [lambda: MLP(5, 2, hidden=(4,)), lambda: SkipMLP(5, 2, width=4, n_layers=6)]
)
def test_build_module_is_seeded_and_trainable(factory):
    first = _seeded(factory, seed=3)
    second = _seeded(factory, seed=3)
    for a, b in zip(first.parameters(), second.parameters()):
        assert not a.is_meta and a.dtype == torch.float64 and torch.equal(a, b)
    first(torch.randn(4, 5, dtype=torch.float64)).pow(2).sum().backward()
    for name, parameter in first.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
