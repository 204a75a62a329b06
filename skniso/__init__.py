"""skniso: Neural Isometries (Mitchel, Taylor & Sitzmann, NeurIPS 2024) for scikit-learn.

Estimators
----------
NeuralIsometryTransformer
    Learns an equivariant latent space from related views; transforms to
    eigenspace latents.
EquivariantClassifier
    An O(K)-invariant vector-neuron classifier on those latents.
GramFeatures
    Their O(K)-invariant Gram matrices as plain features, for any sklearn model.
make_gram_probe
    The linear probe on them: GramFeatures → StandardScaler → LogisticRegression.
FineTunedClassifier
    A NIso encoder and that classifier head, fine-tuned jointly.
IsometryMapEstimator
    The isometry τ between two views as features, vec(τ).
PoseRegressor
    Relative camera pose from such pair features.

Persistence
-----------
save_model, load_model
    One safetensors file (weights, parameters as JSON, a format version); no pickle.
load
    joblib/pickle files (CUDA tensors mapped to the CPU), and save_model files.
"""

from . import presets
from .classifier import EquivariantClassifier
from .finetune import FineTunedClassifier
from .invariants import GramFeatures, make_gram_probe
from .pose import IsometryMapEstimator, PoseRegressor
from .transformer import NeuralIsometryTransformer
from .persistence import load_model, save_model
from .utils import load

__version__ = "0.1.0"

__all__ = [
    "EquivariantClassifier",
    "FineTunedClassifier",
    "GramFeatures",
    "IsometryMapEstimator",
    "load",
    "load_model",
    "make_gram_probe",
    "NeuralIsometryTransformer",
    "PoseRegressor",
    "presets",
    "save_model",
    "__version__",
]
