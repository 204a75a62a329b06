"""skniso: Neural Isometries (Mitchel, Taylor & Sitzmann, NeurIPS 2024) for scikit-learn.

Estimators
----------
NeuralIsometryTransformer
    Learns an equivariant latent space from related views; transforms to
    eigenspace latents.
EquivariantClassifier
    An O(K)-invariant vector-neuron classifier on those latents.
"""

from . import presets
from .classifier import EquivariantClassifier
from .transformer import NeuralIsometryTransformer
from .persistence import load_model, save_model
from .utils import load

__version__ = "0.1.0"

__all__ = [
    "EquivariantClassifier",
    "NeuralIsometryTransformer",
    "load",
    "load_model",
    "presets",
    "save_model",
    "__version__",
]
