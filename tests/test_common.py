"""scikit-learn's own estimator checks, run over every skniso estimator.

The instances are small so that the whole suite runs in about a minute; they
exercise the same code paths as the defaults.  Each expected failure has a
reason written next to it.
"""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.estimator_checks import parametrize_with_checks

from skniso import (
    EquivariantClassifier,
    FineTunedClassifier,
    GramFeatures,
    IsometryMapEstimator,
    NeuralIsometryTransformer,
    PoseRegressor,
)
from skniso.baselines import AugmentedMLPClassifier, CNNClassifier
from skniso.datasets import CircularShift

# sklearn's checks feed tabular X of any width.  A transformer given single
# observations plus a pair_transform reads each row as a one-channel 1-D
# signal, so every width is valid; the pairs layout is tested in
# tests/test_transformer.py.


class ScalarTargetPoseRegressor(PoseRegressor):
    """PoseRegressor behind a scalar-target adapter, for sklearn's regressor checks.

    The checks feed scalar targets, which are not poses; here a target y is
    the pose "turn by y/2 about z, step along x", and predictions are mapped
    back to that angle.  Everything else (validation, training, prediction,
    pickling) is PoseRegressor's own.
    """

    def fit(self, X, y, groups=None):
        if y is not None:
            y = column_or_1d(check_array(y, ensure_2d=False, dtype=np.float64), warn=True)
            cos, sin = np.cos(y / 2), np.sin(y / 2)
            poses = np.tile(np.eye(4), (len(y), 1, 1))
            poses[:, 0, 0], poses[:, 0, 1], poses[:, 1, 0], poses[:, 1, 1] = cos, -sin, sin, cos
            poses[:, 0, 3] = 1.0
            y = poses
        return super().fit(X, y, groups)

    def predict(self, X):
        poses = super().predict(X)
        return 2 * np.arctan2(poses[:, 1, 0], poses[:, 0, 0])

    score = RegressorMixin.score


CHECKED_ESTIMATORS = [
    NeuralIsometryTransformer(
        encoder="identity",
        n_components=1,
        pair_transform=CircularShift(),
        max_steps=3,
        batch_size=8,
        warmup_steps=0,
    ),
    EquivariantClassifier(
        n_components=1, width=16, gram_channels=8, max_steps=200, batch_size=32, lr=3e-3
    ),
    GramFeatures(n_components=1),
    CNNClassifier(channels=(8,), hidden=32, max_steps=300, batch_size=32, lr=3e-3, random_state=0),
    AugmentedMLPClassifier(hidden_layer_sizes=(32,), max_steps=300, batch_size=32, lr=3e-3, random_state=0),
    IsometryMapEstimator(
        NeuralIsometryTransformer(
            encoder="identity", n_components=1, pair_transform=CircularShift(),
            max_steps=3, batch_size=8, warmup_steps=0,
        )
    ),
    ScalarTargetPoseRegressor(
        width=32, n_layers=2, max_steps=120, batch_size=16, lr=5e-3, warmup_steps=0, random_state=0
    ),
    FineTunedClassifier(
        NeuralIsometryTransformer(
            encoder="identity", n_components=1, pair_transform=CircularShift(),
            max_steps=3, batch_size=8, warmup_steps=0,
        ),
        width=16, gram_channels=8, max_steps=200, batch_size=32, lr=3e-3,
    ),
]

EXPECTED_FAILURES = {
    "CNNClassifier": {
        "check_methods_subset_invariance": (
            "oneDNN picks float32 convolution kernels by batch size, so a sample's "
            "probabilities differ in the 7th digit between a batch and a subset; the "
            "check's tolerance is 1e-7"
        ),
    },
    "EquivariantClassifier": {
        "check_methods_subset_invariance": (
            "float32 matrix products take different kernels for one row and for a "
            "batch on some CPUs (seen on AMD EPYC), so probabilities differ in the "
            "6th-7th digit against the check's 1e-7; test_classifier.py checks the "
            "same invariance at float32 precision"
        ),
        "check_classifiers_train": (
            "an O(K)-invariant classifier cannot tell x from -x (K=1 here); the "
            "standardised blobs of this check are nearly antipodal, so training "
            "accuracy stays near 0.77 against the 0.83 the check asks"
        ),
    },
    "FineTunedClassifier": {
        "check_classifiers_train": (
            "the same O(K)-invariant head with K=1 as EquivariantClassifier above, "
            "hence the same sign ambiguity on nearly antipodal blobs"
        ),
    },
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(CHECKED_ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
