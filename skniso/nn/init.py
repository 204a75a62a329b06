"""Seeded parameter initialisation that never touches torch's global RNG.

Modules are built on the ``meta`` device (which allocates nothing and draws no
random numbers) and then materialised with :func:`materialize`, which fills every
parameter from a local :class:`torch.Generator`.  This is what lets
``random_state`` make fits reproducible without side effects on user code.
"""

import math

import torch
from torch import nn

__all__ = ["build_module", "init_parameters_", "lecun_normal_"]


def lecun_normal_(weight, generator):
    """Fill ``weight`` in place with LeCun-normal values (flax's default init).

    A normal of standard deviation ``sqrt(1 / fan_in)`` truncated at two standard
    deviations, with the truncation's variance loss corrected as flax does.
    """
    fan_in = weight[0].numel() if weight.dim() > 1 else weight.numel()
    # 0.8796 is the std of a standard normal truncated to [-2, 2].
    std = math.sqrt(1.0 / max(fan_in, 1)) / 0.87962566103423978
    with torch.no_grad():
        values = torch.empty(weight.shape, dtype=weight.dtype)
        nn.init.trunc_normal_(values, std=std, a=-2 * std, b=2 * std, generator=generator)
        weight.copy_(values.to(weight.device))
    return weight


_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def init_parameters_(module, generator):
    """(Re)initialise every parameter of ``module`` in place from ``generator``.

    Modules that define ``reset_parameters_(generator)`` initialise themselves
    (the operator and the vector-neuron layers do); convolutions and linear layers
    get LeCun-normal weights and zero biases; normalisation layers get unit scale
    and zero shift.  Any other parameter is an error, so nothing is silently left
    uninitialised after :func:`build_module` allocated it empty.
    """
    handled = set()
    for sub in module.modules():
        own = list(sub.parameters(recurse=False))
        if hasattr(sub, "reset_parameters_"):
            sub.reset_parameters_(generator)
        elif isinstance(sub, (nn.Linear, nn.modules.conv._ConvNd)):
            lecun_normal_(sub.weight, generator)
            if sub.bias is not None:
                with torch.no_grad():
                    sub.bias.zero_()
        elif isinstance(sub, _NORM_TYPES):
            with torch.no_grad():
                if getattr(sub, "weight", None) is not None:
                    sub.weight.fill_(1.0)
                if getattr(sub, "bias", None) is not None:
                    sub.bias.zero_()
                if getattr(sub, "running_mean", None) is not None:
                    sub.reset_running_stats()
        elif own:
            raise TypeError(
                f"cannot initialise parameters of {type(sub).__name__}: give it a "
                "reset_parameters_(generator) method"
            )
        handled.update(id(p) for p in own)
    return module


def build_module(factory, generator, device="cpu", dtype=torch.float32):
    """Build ``factory()`` without drawing from the global RNG, then seed-initialise it.

    Parameters
    ----------
    factory : callable
        Returns an ``nn.Module``; it is called under ``torch.device("meta")``.
    generator : torch.Generator
        CPU generator that drives every random initial value.
    device, dtype :
        Where and in which precision the parameters are materialised.
    """
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device=device).to(dtype)
    return init_parameters_(module, generator)
