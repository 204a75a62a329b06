"""scikit-learn's own estimator checks, run over every skniso estimator.

The instances are small so that the whole suite runs in about a minute; they
exercise the same code paths as the defaults.  Each expected failure has a
reason written next to it.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skniso import EquivariantClassifier, FineTunedClassifier, NeuralIsometryTransformer
from skniso.baselines import AugmentedMLPClassifier, CNNClassifier
from skniso.datasets import CircularShift

# sklearn's checks feed tabular X of any width.  A transformer given single
# observations plus a pair_transform reads each row as a one-channel 1-D
# signal, so every width is valid; the pairs layout is tested in
# tests/test_transformer.py.
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
    CNNClassifier(channels=(8,), hidden=16, max_steps=150, batch_size=32, lr=3e-3),
    AugmentedMLPClassifier(hidden_layer_sizes=(16,), max_steps=150, batch_size=32, lr=3e-3),
    FineTunedClassifier(
        NeuralIsometryTransformer(
            encoder="identity", n_components=1, pair_transform=CircularShift(),
            max_steps=3, batch_size=8, warmup_steps=0,
        ),
        width=16, gram_channels=8, max_steps=200, batch_size=32, lr=3e-3,
    ),
]

EXPECTED_FAILURES = {
    "EquivariantClassifier": {
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
