"""Pure-torch building blocks of skniso: networks, heads and seeded initialisation.

Every module can be built on the ``meta`` device and materialised with
:func:`build_module`, which seeds all parameters from a local generator.
"""

from .conv import ConvDecoder, ConvEncoder, ResBlock, check_grid_divisible
from .init import build_module, init_parameters_, lecun_normal_
from .mlp import MLP, SkipMLP
from .vector_neurons import GramReadout, OrthMLP, OrthNet, OrthNeuron, OrthNorm

__all__ = [
    "build_module",
    "init_parameters_",
    "lecun_normal_",
    "ResBlock",
    "ConvEncoder",
    "ConvDecoder",
    "check_grid_divisible",
    "OrthNorm",
    "OrthNeuron",
    "OrthMLP",
    "GramReadout",
    "OrthNet",
    "MLP",
    "SkipMLP",
]
