"""Baselines behind the same estimator API as NIso, so users can compare on their own data.

Each baseline is a scikit-learn estimator; the benchmarks in ``benchmarks/``
run them side by side with :class:`~skniso.NeuralIsometryTransformer`.

CNNClassifier
    A plain CNN on raw observations, optionally with augmentation.
AugmentedMLPClassifier
    An MLP on frozen features (e.g. a plain autoencoder's) of augmented
    observations: the paper's "AE + augmentation" baseline.
GroupCNNClassifier
    A C_N-equivariant CNN on 2-D images (rotations by 2π/N).
SteerableCNNClassifier
    An SE(3)-steerable CNN on 3-D voxel grids (needs e3nn: ``pip install skniso[baselines]``).
CNNClassifier3D
    A plain 3-D CNN on voxel grids.

The NFT and plain-autoencoder baselines are options of
:class:`~skniso.NeuralIsometryTransformer` (``transition="least_squares"`` and
``transition="none"``), so they share its encoder, decoder and training.
"""

from .augmented import AugmentedMLPClassifier
from .cnn import CNNClassifier
from .cnn3d import CNNClassifier3D
from .group_cnn import GroupCNNClassifier
from .steerable import SteerableCNNClassifier

__all__ = [
    "AugmentedMLPClassifier",
    "CNNClassifier",
    "CNNClassifier3D",
    "GroupCNNClassifier",
    "SteerableCNNClassifier",
]
