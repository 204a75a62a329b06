"""3-D volumetric input through NeuralIsometryTransformer and EquivariantClassifier."""

import pickle

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.datasets import make_tetris3d, make_tetris3d_pairs
from skniso.nn.conv import ConvDecoder, ConvEncoder

from .conftest import tiny_conv_params


@pytest.fixture(scope="module")
def volume_pairs():
    return make_tetris3d_pairs(8, grid_size=8, block_size=1.5, random_state=0)


@pytest.fixture(scope="module")
def fitted_3d(volume_pairs):
    X, _ = volume_pairs
    return NeuralIsometryTransformer(**tiny_conv_params()).fit(X)


def test_conv_transformer_fits_voxel_pairs_with_3d_codecs(fitted_3d, volume_pairs):
    X, _ = volume_pairs
    niso = fitted_3d
    assert isinstance(niso.encoder_, ConvEncoder) and niso.encoder_.spatial_dims == 3
    assert isinstance(niso.decoder_, ConvDecoder) and niso.decoder_.spatial_dims == 3
    assert niso.observation_shape_ == (1, 8, 8, 8)
    assert niso.latent_grid_ == (4, 4, 4)  # the latent domain is the 3-D latent grid
    assert niso.eigenfunctions_.shape == (64, 6) and niso.mass_.shape == (64,)
    assert np.isfinite([row["loss"] for row in niso.history_]).all()


def test_voxel_latents_transform_decode_and_solve_isometries(fitted_3d, volume_pairs):
    X, _ = volume_pairs
    niso = fitted_3d
    latents = niso.transform(X[:, 0])
    assert latents.shape == (8, 6 * 3) and latents.dtype == np.float32
    np.testing.assert_array_equal(niso.transform(X), latents)  # pairs: the first view
    assert niso.inverse_transform(latents).shape == (8, 1, 8, 8, 8)
    tau = niso.isometries(X)
    np.testing.assert_allclose(tau @ tau.transpose(0, 2, 1), np.broadcast_to(np.eye(6), tau.shape), atol=1e-4)
    flat = NeuralIsometryTransformer(**tiny_conv_params(), input_shape=(1, 8, 8, 8)).fit(X.reshape(8, -1))
    np.testing.assert_allclose(flat.transform(X[:, 0].reshape(8, -1)), latents, rtol=1e-5, atol=1e-6)


def test_equivariant_classifier_on_voxel_latents_in_a_pipeline(volume_pairs):
    X, y = volume_pairs
    pipe = Pipeline([
        ("niso", NeuralIsometryTransformer(**tiny_conv_params())),
        ("clf", EquivariantClassifier(n_components=6, width=8, gram_channels=4, max_steps=5, random_state=0)),
    ]).fit(X, y)
    test_X, _ = make_tetris3d(1, grid_size=8, block_size=1.5, rotate=True, random_state=1)
    proba = pipe.predict_proba(test_X)
    assert proba.shape == (8, 8)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    loaded = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(loaded.predict_proba(test_X), proba)


def test_odd_voxel_grid_is_rejected_with_the_factor(volume_pairs):
    X, _ = volume_pairs
    with pytest.raises(ValueError, match="multiple of 2"):
        NeuralIsometryTransformer(**tiny_conv_params()).fit(X[..., :7])
