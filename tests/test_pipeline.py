"""The end-to-end uses the package promises, verbatim: Pipeline, GridSearchCV, joblib."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.datasets import RandomHomography, load_mnist, make_homnist_pairs, make_homnist_test

NISO = dict(channels=(4, 8), blocks_per_level=(1, 1), latent_channels=4, n_components=8,
            max_steps=6, batch_size=8, warmup_steps=0, random_state=0)
CLF = dict(n_components=8, width=8, gram_channels=4, max_steps=10, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def homnist_small():
    images, labels = load_mnist()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(images), 60, replace=False)
    X_pairs, y = make_homnist_pairs(images=images[pick], labels=labels[pick], random_state=0)
    return X_pairs, y


def test_pipeline_verbatim_with_defaults_constructs_and_fits(homnist_small):
    X_pairs, y = homnist_small
    # The exact line of the README, with defaults, but trained for a few steps.
    pipe = Pipeline([("niso", NeuralIsometryTransformer()), ("clf", EquivariantClassifier())])
    pipe.set_params(niso__max_steps=2, clf__max_steps=2, niso__random_state=0, clf__random_state=0)
    pipe.fit(X_pairs, y)
    # Predicts on single observations (the homNIST test set) and on pairs.
    test_x, test_y = make_homnist_test(X_pairs[:5, 0], y[:5], n_transforms=2, random_state=0)
    assert pipe.predict(test_x).shape == (10,)
    assert set(pipe.predict(X_pairs)) <= set(y)


def test_grid_search_over_loss_weights(homnist_small):
    X_pairs, y = homnist_small
    pipe = Pipeline([("niso", NeuralIsometryTransformer(**NISO)), ("clf", EquivariantClassifier(**CLF))])
    search = GridSearchCV(pipe, {"niso__alpha": [0.0, 0.5], "niso__beta": [0.0, 0.1]}, cv=2)
    search.fit(X_pairs, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.named_steps["niso"].alpha in (0.0, 0.5)


def test_grid_search_on_the_transformer_alone_uses_equivariance_score(homnist_small):
    X_pairs, _ = homnist_small
    search = GridSearchCV(NeuralIsometryTransformer(**NISO), {"beta": [0.0, 0.1]}, cv=2).fit(X_pairs)
    assert np.all(search.cv_results_["mean_test_score"] <= 0)


def test_joblib_round_trip_gives_bit_identical_predictions(homnist_small, tmp_path):
    X_pairs, y = homnist_small
    pipe = Pipeline([("niso", NeuralIsometryTransformer(**NISO)), ("clf", EquivariantClassifier(**CLF))])
    pipe.fit(X_pairs, y)
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X_pairs), pipe.predict_proba(X_pairs))
    np.testing.assert_array_equal(
        loaded.named_steps["niso"].transform(X_pairs), pipe.named_steps["niso"].transform(X_pairs)
    )


def test_pair_transform_pipeline_pickles(homnist_small, tmp_path):
    X_pairs, y = homnist_small
    pipe = Pipeline([
        ("niso", NeuralIsometryTransformer(pair_transform=RandomHomography(), **NISO)),
        ("clf", EquivariantClassifier(**CLF)),
    ]).fit(X_pairs[:, 0], y)
    joblib.dump(pipe, tmp_path / "p.joblib")
    loaded = joblib.load(tmp_path / "p.joblib")
    np.testing.assert_array_equal(loaded.predict(X_pairs[:, 0]), pipe.predict(X_pairs[:, 0]))
    assert loaded.named_steps["niso"].pair_transform == RandomHomography()
