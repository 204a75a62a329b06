"""Pickling: fitted models load on a CPU-only machine whatever device they used.

A GPU-made fixture is in tests/fixtures/ when one was available to the
developers; the device fallback path is also exercised here directly by
marking a CPU-fitted model as CUDA-fitted before pickling.
"""

import os
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch

import skniso
from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.utils import DeviceFallbackWarning

from .conftest import tiny_conv_params

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def test_pickled_state_holds_only_cpu_tensors(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    state = niso.__getstate__()
    tensors = [p for p in state["model_"].parameters()]
    assert tensors and all(t.device.type == "cpu" for t in tensors)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU-only fallback")
def test_model_marked_cuda_loads_on_cpu_with_a_warning(tiny_pairs):
    X, y = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    expected = niso.transform(X)
    niso.device_ = torch.device("cuda", 0)  # as if fitted on a GPU
    payload = pickle.dumps(niso)
    with pytest.warns(DeviceFallbackWarning, match="cuda:0"):
        loaded = pickle.loads(payload)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), expected)


def _load_fixture(name, loader):
    path = os.path.join(FIXTURES, name)
    with warnings.catch_warnings():
        # Also hides sklearn's version warning: the fixture machine had its own.
        warnings.simplefilter("ignore")
        model = loader(path)
    reference = np.load(os.path.join(FIXTURES, name.replace(".joblib", "_expected.npz")))
    assert str(reference["device"]).startswith("cuda")
    assert model.device_.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(model, NeuralIsometryTransformer):
        out = model.transform(reference["X"])
    else:
        assert isinstance(model, EquivariantClassifier)
        out = model.predict_proba(reference["X"])
    # GPU and CPU kernels differ in the last bits, not more.
    np.testing.assert_allclose(out, reference["output"], rtol=1e-4, atol=1e-4)


# Both fixtures were fitted with device="cuda" on an H200 (benchmarks/gpu_session.py).
def test_gpu_fitted_classifier_loads_with_plain_joblib():
    _load_fixture("clf_cuda.joblib", joblib.load)


@pytest.mark.parametrize("name", ["niso_cuda.joblib", "clf_cuda.joblib"])
def test_gpu_fitted_fixtures_load_with_skniso_load(name):
    # niso_cuda.joblib was made before encoder_ became a view into model_: its
    # pickle still holds CUDA tensors, which plain joblib.load cannot map.
    _load_fixture(name, skniso.load)


def test_encoder_and_decoder_are_views_into_the_model(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    assert niso.encoder_ is niso.model_.encoder and niso.decoder_ is niso.model_.decoder
    assert "encoder_" not in niso.__dict__ and "decoder_" not in niso.__dict__


def test_parameters_added_after_pickling_take_their_defaults(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    state = niso.__getstate__()
    del state["equivariance_normalization"]  # as if pickled by an older version
    old = NeuralIsometryTransformer.__new__(NeuralIsometryTransformer)
    old.__setstate__(state)
    assert old.get_params()["equivariance_normalization"] is None
    np.testing.assert_array_equal(old.transform(X), niso.transform(X))
