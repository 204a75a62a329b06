import pickle
import sys

import numpy as np
import pytest

from skniso.baselines import CNNClassifier3D, SteerableCNNClassifier
from skniso.datasets import make_tetris3d


def test_missing_e3nn_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "e3nn", None)  # import e3nn now fails
    X = np.zeros((4, 1, 4, 4, 4), dtype=np.float32)
    with pytest.raises(ImportError, match=r"skniso\[baselines\]"):
        SteerableCNNClassifier(max_steps=1).fit(X, [0, 1, 0, 1])


# Everything below needs e3nn (the ImportError test above hides it itself).
pytest.importorskip("e3nn")

TINY = dict(fields=((4, 2), (4, 2)), kernel_size=3, max_steps=40, batch_size=8, lr=2e-2, warmup_steps=0, random_state=0)


@pytest.fixture(scope="module")
def tetris():
    return make_tetris3d(1, grid_size=8, block_size=1.5)


@pytest.fixture(scope="module")
def fitted(tetris):
    X, y = tetris
    return SteerableCNNClassifier(**TINY).fit(X, y)


def test_fits_the_fixed_orientation_and_is_exactly_invariant_to_cube_rotations(fitted, tetris):
    X, y = tetris
    assert fitted.score(X, y) >= 0.5  # well above chance (0.125) after 40 steps
    proba = fitted.predict_proba(X)
    for dims in [(2, 3), (3, 4), (2, 4)]:
        for turns in (1, 2, 3):
            turned = np.rot90(X, turns, axes=dims).copy()
            np.testing.assert_allclose(fitted.predict_proba(turned), proba, rtol=0, atol=1e-5)


def test_plain_cnn_is_not_invariant_to_quarter_turns(tetris):
    X, y = tetris
    clf = CNNClassifier3D(channels=(4, 8), kernel_size=3, max_steps=40, batch_size=8, lr=2e-2, random_state=0).fit(X, y)
    turned = np.rot90(X, 1, axes=(2, 4)).copy()
    assert np.abs(clf.predict_proba(turned) - clf.predict_proba(X)).max() > 1e-2


def test_pickle_round_trip_and_flat_input(fitted, tetris):
    X, y = tetris
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    flat = SteerableCNNClassifier(**TINY, input_shape=(1, 8, 8, 8)).fit(X.reshape(8, -1), y)
    np.testing.assert_allclose(flat.predict_proba(X), fitted.predict_proba(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(fields=()), "fields"),
        (dict(fields=((0, 2),)), "fields"),
        (dict(fields=((4, -1),)), "fields"),
        (dict(kernel_size=4), "odd"),
        (dict(input_shape=(8, 8, 8)), "input_shape"),
    ],
)
def test_bad_parameters_are_rejected_before_training(params, match, tetris):
    X, y = tetris
    clf = SteerableCNNClassifier(**{**TINY, **params})
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_four_dimensional_input_is_rejected(tetris):
    X, y = tetris
    with pytest.raises(ValueError, match=r"\(n, C, D, H, W\)"):
        CNNClassifier3D(max_steps=1).fit(X[:, 0, 0], y)
