"""skniso: Neural Isometries (Mitchel, Taylor & Sitzmann, NeurIPS 2024) for scikit-learn.

Estimators
----------
NeuralIsometryTransformer
    Learns an equivariant latent space from related views; transforms to
    eigenspace latents.
EquivariantClassifier
    An O(K)-invariant vector-neuron classifier on those latents.
IsometryMapEstimator
    The isometry τ between two views as features, vec(τ).
PoseRegressor
    Relative camera pose from such pair features.
"""

from . import presets
from .classifier import EquivariantClassifier
from .pose import IsometryMapEstimator, PoseRegressor
from .transformer import NeuralIsometryTransformer
from .utils import load

__version__ = "0.1.0"

__all__ = [
    "EquivariantClassifier",
    "IsometryMapEstimator",
    "NeuralIsometryTransformer",
    "PoseRegressor",
    "load",
    "presets",
    "__version__",
]
