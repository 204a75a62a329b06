"""Baselines behind the same estimator API as NIso, so users can compare on their own data.

Each baseline is a scikit-learn estimator; the benchmarks in ``benchmarks/``
run them side by side with :class:`~skniso.NeuralIsometryTransformer`.

CNNClassifier
    A plain CNN on raw observations, optionally with augmentation.
AugmentedMLPClassifier
    An MLP on frozen features (e.g. a plain autoencoder's) of augmented
    observations: the paper's "AE + augmentation" baseline.

The NFT and plain-autoencoder baselines are options of
:class:`~skniso.NeuralIsometryTransformer` (``transition="least_squares"`` and
``transition="none"``), so they share its encoder, decoder and training.
"""

from .augmented import AugmentedMLPClassifier
from .cnn import CNNClassifier

__all__ = ["AugmentedMLPClassifier", "CNNClassifier"]
