import pickle

import numpy as np
import pytest
import torch

from skniso.baselines import GroupCNNClassifier

TINY = dict(channels=(4, 6), kernel_size=3, max_steps=40, batch_size=16, lr=1e-2, warmup_steps=0, random_state=0)


def _bars(n, size=12, seed=0):
    """Images of a bar (class 1) or an L corner (class 0) in one orientation, with noise."""
    rng = np.random.default_rng(seed)
    X = 0.1 * rng.standard_normal((n, 1, size, size)).astype(np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        r, c = rng.integers(3, size - 6, 2)
        X[i, 0, r:r + 4, c] += 1.0
        if y[i] == 0:
            X[i, 0, r + 3, c:c + 3] += 1.0
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _bars(48)
    return GroupCNNClassifier(**TINY).fit(X, y), X, y


@pytest.mark.parametrize("n_rotations", [4, 8])
def test_predictions_are_invariant_to_quarter_turns(n_rotations):
    X, y = _bars(32)
    clf = GroupCNNClassifier(n_rotations, **{**TINY, "max_steps": 5}).fit(X, y)
    proba = clf.predict_proba(X)
    for turns in (1, 2, 3):
        turned = np.rot90(X, turns, axes=(2, 3)).copy()
        np.testing.assert_allclose(clf.predict_proba(turned), proba, rtol=0, atol=1e-5)


def test_learns_in_one_orientation_and_generalises_to_quarter_turns(fitted):
    clf, X, y = fitted
    X_test, y_test = _bars(40, seed=1)
    assert clf.score(X_test, y_test) > 0.9
    assert clf.score(np.rot90(X_test, 1, axes=(2, 3)).copy(), y_test) == clf.score(X_test, y_test)
    assert clf.history_[-1]["loss"] < clf.history_[0]["loss"]


def test_flat_rows_with_input_shape_equal_image_input(fitted):
    clf, X, y = fitted
    flat = GroupCNNClassifier(**TINY, input_shape=(1, 12, 12)).fit(X.reshape(len(X), -1), y)
    np.testing.assert_allclose(flat.predict_proba(X.reshape(len(X), -1)), clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flat.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert clf.input_shape_ == (1, 12, 12) and clf.n_features_in_ == 144


def test_seeded_fit_is_reproducible_and_leaves_global_rng_alone(fitted):
    clf, X, y = fitted
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    again = GroupCNNClassifier(**TINY).fit(X, y)
    assert torch.rand(1) == before
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))


def test_pickle_round_trip(fitted):
    clf, X, _ = fitted
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_pickles_that_name_the_fitted_shape_input_shape_still_load(fitted):
    clf, X, _ = fitted
    state = dict(clf.__getstate__())  # a copy: the fixture is shared
    state["input_shape_"] = state.pop("observation_shape_")  # as the grid classifiers stored it once
    old = GroupCNNClassifier.__new__(GroupCNNClassifier)
    old.__setstate__(state)
    assert old.input_shape_ == old.observation_shape_ == (1, 12, 12)
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))


def test_wrong_shapes_have_clear_errors(fitted):
    clf, X, y = fitted
    with pytest.raises(ValueError, match=r"fitted on \(1, 12, 12\)"):
        clf.predict(X.reshape(len(X), 1, 6, 24))
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        GroupCNNClassifier(**TINY).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="input_shape"):
        GroupCNNClassifier(**TINY, input_shape=(1, 10, 10)).fit(X.reshape(len(X), -1), y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_rotations=0), "n_rotations"),
        (dict(kernel_size=4), "odd"),
        (dict(channels=()), "channels"),
        (dict(group_pool="sum"), "group_pool"),
        (dict(input_shape=(12, 12)), "input_shape"),
    ],
)
def test_bad_parameters_fail_fit_and_leave_the_estimator_unfitted(params, match):
    X, y = _bars(8)
    clf = GroupCNNClassifier(**{**TINY, **params})
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")


def test_mnist_sized_digits_fit_quickly():
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 28, 28), dtype=np.float32)
    clf = GroupCNNClassifier(max_steps=2, batch_size=32, random_state=0).fit(X, np.arange(64) % 10)
    assert clf.predict(X).shape == (64,)
