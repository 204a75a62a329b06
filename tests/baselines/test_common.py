"""scikit-learn's estimator checks for the baselines.

The checks feed tabular X, which the baselines read as channels of a single
grid point; 1×1 kernels keep the instances fast without changing the code
paths of input handling, training and prediction.
"""

import importlib.util

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skniso.baselines import (
    AugmentedMLPClassifier,
    CNNClassifier,
    CNNClassifier3D,
    GroupCNNClassifier,
    SteerableCNNClassifier,
)

FAST = dict(kernel_size=1, max_steps=40, batch_size=32, warmup_steps=5, lr=3e-2)
CHECKED_ESTIMATORS = [
    GroupCNNClassifier(channels=(8, 8), **FAST),
    CNNClassifier3D(channels=(8, 8), **FAST),
]
if importlib.util.find_spec("e3nn") is not None:  # the optional dependency of the steerable CNN
    CHECKED_ESTIMATORS.append(SteerableCNNClassifier(fields=((8, 1), (8,)), **FAST))

# oneDNN picks its convolution algorithm by batch size, so a sample's outputs
# can differ in the last float32 bits (about 1e-6 relative) between a batch and
# its subsets; the check asks for 1e-7.  Not strict: often the bits agree.
_BATCH_ROUNDING = {
    "check_methods_subset_invariance": "batched float32 convolutions round differently by batch size (~1e-6)",
    "check_methods_sample_order_invariance": "batched float32 convolutions round differently by batch size (~1e-6)",
}


def expected_failed_checks(estimator):
    return _BATCH_ROUNDING


@parametrize_with_checks(CHECKED_ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "cls", [AugmentedMLPClassifier, CNNClassifier, CNNClassifier3D, GroupCNNClassifier, SteerableCNNClassifier]
)
def test_every_parameter_has_a_constraint(cls):
    assert set(cls().get_params(deep=False)) <= set(cls._parameter_constraints)


VOLUMES = np.random.default_rng(0).random((4, 1, 4, 4, 4), dtype=np.float32)
# Single values fail sklearn's parameter validation; values inside tuples fail the classifiers' own checks.
PARAM, TUPLE = InvalidParameterError, ValueError


@pytest.mark.parametrize(
    "estimator, error, match",
    [
        (GroupCNNClassifier(n_rotations=True), PARAM, "The 'n_rotations' parameter of GroupCNNClassifier must be"),
        (GroupCNNClassifier(max_steps=np.array(5)), PARAM, "The 'max_steps' parameter of GroupCNNClassifier"),
        (CNNClassifier3D(kernel_size=3.0), PARAM, "The 'kernel_size' parameter of CNNClassifier3D must be"),
        (CNNClassifier3D(kernel_size=4), PARAM, "The 'kernel_size' parameter of CNNClassifier3D must be an odd int"),
        (GroupCNNClassifier(kernel_size=2), PARAM, "The 'kernel_size' parameter of GroupCNNClassifier must be an odd int"),
        (SteerableCNNClassifier(kernel_size=6), PARAM, "The 'kernel_size' parameter of SteerableCNNClassifier must be an odd int"),
        (CNNClassifier3D(warmup_steps=-1), PARAM, "The 'warmup_steps' parameter of CNNClassifier3D must be"),
        (SteerableCNNClassifier(fields=8), PARAM, "The 'fields' parameter of SteerableCNNClassifier must be"),
        (CNNClassifier3D(channels=(4, True)), TUPLE, r"channels must be a non-empty tuple of positive integers, got \(4, True\)"),
        (CNNClassifier(channels=(4, 8.0)), TUPLE, r"channels must be a non-empty tuple of positive integers, got \(4, 8.0\)"),
        (CNNClassifier3D(input_shape=(1, 4, 4.0, 4)), TUPLE, r"input_shape must be \(C, D, H, W\) with positive integer sizes"),
        (CNNClassifier3D(input_shape=(1, 4, 4)), TUPLE, r"input_shape must be \(C, D, H, W\) with positive integer sizes"),
        (CNNClassifier(input_shape=(1, 2, 2, 2, 8)), TUPLE, r"input_shape must be \(C, \*spatial\) with 1 to 3 spatial axes"),
    ],
    ids=repr,
)
def test_bad_parameters_are_named_before_anything_is_fitted(estimator, error, match):
    X = VOLUMES.reshape(4, 64) if estimator.input_shape else VOLUMES
    with pytest.raises(error, match=match):
        estimator.fit(X, [0, 1, 0, 1])
    assert not hasattr(estimator, "classes_")
