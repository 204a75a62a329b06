"""skniso: Neural Isometries (Mitchel, Taylor & Sitzmann, NeurIPS 2024) for scikit-learn.

Estimators
----------
NeuralIsometryTransformer
    Learns an equivariant latent space from related views; transforms to
    eigenspace latents.
EquivariantClassifier
    An O(K)-invariant vector-neuron classifier on those latents.
FineTunedClassifier
    A NIso encoder and that classifier head, fine-tuned jointly.
"""

from . import presets
from .classifier import EquivariantClassifier
from .finetune import FineTunedClassifier
from .transformer import NeuralIsometryTransformer
from .utils import load

__version__ = "0.1.0"

__all__ = ["EquivariantClassifier", "FineTunedClassifier", "NeuralIsometryTransformer", "load", "presets", "__version__"]
