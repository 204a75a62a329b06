import pytest
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from skniso import NeuralIsometryTransformer
from skniso.baselines import AugmentedMLPClassifier
from skniso.datasets import CircularShift

from ..conftest import tiny_conv_params
from .test_cnn import CountingFlip, bright_or_dark


def small(**params):
    return AugmentedMLPClassifier(**{**dict(hidden_layer_sizes=(16,), max_steps=60, batch_size=16,
                                            warmup_steps=0, lr=1e-2, random_state=0), **params})


def test_raw_pixel_mlp_with_augmentation():
    X, y = bright_or_dark()
    flip = CountingFlip()
    clf = small(augmentation=flip).fit(X, y)
    assert flip.calls == 60 and clf.transformer_ is None
    assert clf.score(X[..., ::-1], y) == 1.0
    assert clf.module_.layers[0].in_features == 64


def test_unfitted_transformer_is_cloned_and_fitted_and_a_fitted_one_is_kept():
    X, y = bright_or_dark()
    pca = PCA(n_components=5)
    clf = small(transformer=pca, input_shape=(1, 8, 8)).fit(X.reshape(40, -1), y)
    assert clf.transformer_ is not pca and clf.transformer_.n_components_ == 5
    assert not hasattr(pca, "components_")
    assert clf.score(X.reshape(40, -1), y) == 1.0
    fitted = PCA(n_components=3).fit(X.reshape(40, -1))
    clf = small(transformer=fitted, input_shape=(1, 8, 8)).fit(X.reshape(40, -1), y)
    assert clf.transformer_ is fitted
    # Standardised features: zero mean, unit spread on the clean training data.
    assert clf.feature_mean_.shape == (3,)


def test_on_a_plain_autoencoder_trained_with_a_pair_transform():
    X, y = bright_or_dark()
    ae = NeuralIsometryTransformer(**tiny_conv_params(transition="none", pair_transform=CircularShift()))
    clf = small(transformer=ae, max_steps=5).fit(X, y)
    assert clf.transformer_.transition == "none"
    assert clf.predict(X).shape == (40,)


def test_frozen_transformer_survives_grid_search_cloning():
    X, y = bright_or_dark()
    fitted = PCA(n_components=3).fit(X.reshape(40, -1))
    search = GridSearchCV(small(transformer=FrozenEstimator(fitted), max_steps=5), {"lr": [1e-2, 1e-3]}, cv=2)
    search.fit(X.reshape(40, -1), y)
    assert search.best_estimator_.transformer_.estimator is fitted


def test_transformer_without_transform_is_rejected():
    X, y = bright_or_dark()
    with pytest.raises(TypeError, match="transformer must have a transform method"):
        small(transformer=object()).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a tuple"):
        small(hidden_layer_sizes=(0,)).fit(X, y)
