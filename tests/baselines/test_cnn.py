import pickle

import numpy as np
import pytest
import torch

from skniso.baselines import CNNClassifier
from skniso.nn.cnn import PlainConvNet


def bright_or_dark(n=40, size=8, seed=0):
    """Images whose class is whether the left or the right half is bright."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.1, (n, 1, size, size)).astype(np.float32)
    y = np.arange(n) % 2
    X[y == 0, :, :, : size // 2] += 1.0
    X[y == 1, :, :, size // 2:] += 1.0
    return X, y


class CountingFlip:
    """An augmentation that mirrors the batch and counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, batch, generator=None):
        self.calls += 1
        return torch.flip(batch, dims=(-1,))


def small(**params):
    return CNNClassifier(**{**dict(channels=(4, 8), hidden=16, max_steps=60, batch_size=16,
                                   warmup_steps=0, lr=1e-2, random_state=0), **params})


def test_learns_a_separable_task_and_predicts_its_classes():
    X, y = bright_or_dark()
    clf = small().fit(X, y)
    assert clf.score(X, y) == 1.0
    assert clf.predict_proba(X).shape == (40, 2)
    assert clf.decision_function(X).shape == (40,)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-6)


def test_augmentation_is_applied_to_every_training_batch():
    X, y = bright_or_dark()
    flip = CountingFlip()
    clf = small(augmentation=flip).fit(X, y)
    assert flip.calls == 60
    # Trained only on mirrored images, it reads unmirrored ones the wrong way round.
    assert clf.score(X, y) == 0.0
    assert clf.score(X[..., ::-1], y) == 1.0


def test_flat_input_with_input_shape_and_one_dimensional_rows():
    X, y = bright_or_dark()
    clf = small(input_shape=(1, 8, 8)).fit(X.reshape(40, -1), y)
    assert clf.observation_shape_ == (1, 8, 8)
    assert clf.score(X.reshape(40, -1), y) == 1.0
    rows = small().fit(X[:, 0, 0, :], y)  # tabular rows are 1-D signals
    assert rows.observation_shape_ == (1, 8)


def test_bad_inputs_and_parameters_are_named():
    X, y = bright_or_dark()
    with pytest.raises(ValueError, match="input_shape=\\(1, 7, 7\\) holds 49"):
        small(input_shape=(1, 7, 7)).fit(X.reshape(40, -1), y)
    with pytest.raises(ValueError, match="channels must be a non-empty tuple"):
        small(channels=()).fit(X, y)
    with pytest.raises(ValueError, match="'augmentation' parameter"):
        small(augmentation="flip").fit(X, y)
    with pytest.raises(ValueError, match="augmentation must return a tensor shaped like"):
        small(augmentation=lambda b, generator=None: b[:, :, :4]).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        small().fit(X, np.zeros(40))
    clf = small().fit(X, y)
    with pytest.raises(ValueError, match="expecting 64 features"):
        clf.predict(X[:, :, :4])
    with pytest.raises(ValueError, match=r"samples of shape \(1, 4, 16\), but CNNClassifier was fitted on \(1, 8, 8\)"):
        clf.predict(X.reshape(40, 1, 4, 16))


def test_pickle_round_trip_is_bit_identical():
    X, y = bright_or_dark()
    clf = small(max_steps=5).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_plain_conv_net_pools_only_long_enough_axes():
    net = PlainConvNet(2, 3, (1, 9), channels=(4, 4))
    assert net(torch.zeros(5, 2, 1, 9)).shape == (5, 3)
    with pytest.raises(ValueError, match="1 to 3 spatial axes"):
        PlainConvNet(1, 2, (2, 2, 2, 2))
