"""Baselines behind the same estimator API as NIso, so users can compare on their own data.

Each baseline is a scikit-learn estimator; the benchmarks in ``benchmarks/``
run them side by side with :class:`~skniso.NeuralIsometryTransformer`.

GroupCNNClassifier
    A C_N-equivariant CNN on 2-D images (rotations by 2π/N).
SteerableCNNClassifier
    An SE(3)-steerable CNN on 3-D voxel grids (needs e3nn: ``pip install skniso[baselines]``).
CNNClassifier3D
    A plain 3-D CNN on voxel grids.
"""

from .cnn3d import CNNClassifier3D
from .group_cnn import GroupCNNClassifier
from .steerable import SteerableCNNClassifier

__all__ = ["CNNClassifier3D", "GroupCNNClassifier", "SteerableCNNClassifier"]
