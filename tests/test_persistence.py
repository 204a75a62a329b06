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
from sklearn.exceptions import NotFittedError

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


# -- bit-identical round trips -------------------------------------------------
def _fitted_pair(tiny_pairs):
    from .test_classifier import norm_task

    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    Z, y = norm_task(n=40)
    clf = EquivariantClassifier(width=8, gram_channels=4, max_steps=3, random_state=0).fit(Z, y)
    return (niso, X), (clf, Z)


def _outputs(estimator, X):
    if isinstance(estimator, NeuralIsometryTransformer):
        return [estimator.transform(X), estimator.isometries(X), estimator.inverse_transform(estimator.transform(X))]
    return [estimator.predict_proba(X), estimator.predict(X), estimator.decision_function(X)]


def _assert_bit_identical(a, b):
    for left, right in zip(a, b, strict=True):
        assert left.dtype == right.dtype and left.shape == right.shape
        assert left.tobytes() == right.tobytes()


@pytest.mark.parametrize("how", ["pickle", "joblib", "save_model", "skniso.load"])
def test_round_trips_give_bit_identical_predictions(tiny_pairs, tmp_path, how):
    for estimator, X in _fitted_pair(tiny_pairs):
        path = tmp_path / f"{type(estimator).__name__}.{how}"
        if how == "pickle":
            loaded = pickle.loads(pickle.dumps(estimator))
        elif how == "joblib":
            joblib.dump(estimator, path)
            loaded = joblib.load(path)
        else:
            skniso.save_model(estimator, path)
            loaded = skniso.load_model(path) if how == "save_model" else skniso.load(path)
        assert type(loaded) is type(estimator)
        assert loaded.get_params() == estimator.get_params()
        _assert_bit_identical(_outputs(loaded, X), _outputs(estimator, X))


def test_save_model_keeps_fitted_attributes(tiny_pairs, tmp_path):
    (niso, X), (clf, Z) = _fitted_pair(tiny_pairs)
    for estimator in (niso, clf):
        skniso.save_model(estimator, tmp_path / "m.safetensors")
        loaded = skniso.load_model(tmp_path / "m.safetensors")
        module = type(estimator)._module_attributes[0]
        # Everything but the last run's optimiser and generator state.
        assert set(vars(loaded)) == set(vars(estimator)) - {"_run_state"}
        for name, value in vars(estimator).items():
            if name in (module, "_run_state"):
                continue
            if isinstance(value, np.ndarray):
                assert value.dtype == vars(loaded)[name].dtype
                np.testing.assert_array_equal(vars(loaded)[name], value)
            else:
                assert vars(loaded)[name] == value, name
    assert loaded.classes_.dtype == clf.classes_.dtype  # string labels survive JSON


def test_save_model_with_skniso_pair_transform_and_pandas_output(tmp_path):
    from skniso.datasets import CircularShift, RandomHomography

    rng = np.random.default_rng(0)
    singles = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    for transform in (CircularShift(max_shift=2), RandomHomography(scale_multiplier=0.5)):
        niso = NeuralIsometryTransformer(**tiny_conv_params(pair_transform=transform))
        niso.set_output(transform="pandas").fit(singles)
        skniso.save_model(niso, tmp_path / "m.safetensors")
        loaded = skniso.load_model(tmp_path / "m.safetensors")
        assert type(loaded.pair_transform) is type(transform)
        assert vars(loaded.pair_transform).keys() == vars(transform).keys()
        assert loaded.transform(singles).equals(niso.transform(singles))  # a DataFrame
        # The pair transform's draws are seeded alike: the same isometries.
        np.testing.assert_array_equal(loaded.isometries(singles), niso.isometries(singles))


def test_save_model_refuses_what_needs_pickle(tiny_pairs, tmp_path):
    from .test_transformer import TinyDecoder, TinyEncoder

    X, _ = tiny_pairs
    with pytest.raises(NotFittedError):
        skniso.save_model(NeuralIsometryTransformer(), tmp_path / "m.safetensors")
    niso = NeuralIsometryTransformer(TinyEncoder(), TinyDecoder(), n_components=4, max_steps=1).fit(X)
    with pytest.raises(TypeError, match="cannot store (en|de)coder, a Tiny(En|De)coder.*joblib.dump"):
        skniso.save_model(niso, tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match="save_model stores EquivariantClassifier, NeuralIsometryTransformer"):
        skniso.save_model(object(), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def _rewrite(path, **changes):
    """Rewrite a saved model's metadata, as another skniso version would have written it."""
    from safetensors.torch import load_file, safe_open, save_file

    with safe_open(str(path), "pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(str(path))
    for key, edit in changes.items():
        metadata[key] = edit(metadata[key]) if callable(edit) else edit
    save_file(tensors, str(path), metadata=metadata)


def _drop_param(name):
    import json

    def edit(text):
        params = json.loads(text)
        del params[name]
        return json.dumps(params)

    return edit


def _add_param(name, value):
    import json

    def edit(text):
        return json.dumps({**json.loads(text), name: value})

    return edit


def test_format_versions_load_or_fail_naming_both_versions(tiny_pairs, tmp_path):
    from skniso.persistence import FORMAT_VERSION

    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    path = tmp_path / "m.safetensors"

    skniso.save_model(niso, path)
    _rewrite(path, format_version=str(FORMAT_VERSION + 1), skniso_version="9.0.0")
    with pytest.raises(ValueError, match=rf"skniso 9\.0\.0 in model format {FORMAT_VERSION + 1}; "
                                         rf"this skniso {skniso.__version__} reads formats up to {FORMAT_VERSION}"):
        skniso.load_model(path)

    skniso.save_model(niso, path)
    _rewrite(path, format_version="0", skniso_version="0.0.1")
    with pytest.raises(ValueError, match=rf"skniso 0\.0\.1 in model format 0, which this skniso "
                                         rf"{skniso.__version__} \(format {FORMAT_VERSION}\) cannot read"):
        skniso.load_model(path)

    # Written before a parameter existed: it takes its default.
    skniso.save_model(niso, path)
    _rewrite(path, params=_drop_param("equivariance_normalization"))
    loaded = skniso.load_model(path)
    assert loaded.equivariance_normalization is None
    np.testing.assert_array_equal(loaded.transform(X), niso.transform(X))

    # Written by a newer skniso with a parameter this one lacks.
    skniso.save_model(niso, path)
    _rewrite(path, params=_add_param("future_option", 1), skniso_version="9.0.0")
    with pytest.raises(ValueError, match=r"skniso 9\.0\.0 with parameters \['future_option'\]"):
        skniso.load_model(path)


def test_load_model_rejects_other_files(tiny_pairs, tmp_path):
    from safetensors.torch import save_file

    X, _ = tiny_pairs
    joblib.dump(NeuralIsometryTransformer(**tiny_conv_params()).fit(X), tmp_path / "m.joblib")
    assert not skniso.persistence.is_model_file(tmp_path / "m.joblib")
    with pytest.raises(ValueError, match="not a safetensors file written by skniso.save_model"):
        skniso.load_model(tmp_path / "m.joblib")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a skniso model"):
        skniso.load_model(tmp_path / "other.safetensors")
    # skniso.load keeps reading joblib files.
    assert isinstance(skniso.load(tmp_path / "m.joblib"), NeuralIsometryTransformer)


def test_mismatched_weights_are_named(tiny_pairs, tmp_path):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    path = tmp_path / "m.safetensors"
    skniso.save_model(niso, path)
    _rewrite(path, params=lambda text: text.replace('"latent_channels": 3', '"latent_channels": 5'))
    with pytest.raises(ValueError, match="do not fit the NeuralIsometryTransformer its parameters describe"):
        skniso.load_model(path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU-only fallback")
def test_load_model_of_a_cuda_model_falls_back_to_cpu(tiny_pairs, tmp_path):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    expected = niso.transform(X)
    niso.device_ = torch.device("cuda", 0)  # as if fitted on a GPU
    skniso.save_model(niso, tmp_path / "m.safetensors")
    with pytest.warns(DeviceFallbackWarning, match="cuda:0"):
        loaded = skniso.load_model(tmp_path / "m.safetensors")
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), expected)


@pytest.mark.parametrize("name", ["niso_cuda.joblib", "clf_cuda.joblib"])
def test_gpu_fixtures_convert_to_safetensors(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = skniso.load(os.path.join(FIXTURES, name))
    skniso.save_model(model, tmp_path / "m.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's device_ is CUDA
        loaded = skniso.load_model(tmp_path / "m.safetensors")
    X = np.load(os.path.join(FIXTURES, name.replace(".joblib", "_expected.npz")))["X"]
    _assert_bit_identical(_outputs(loaded, X)[:1], _outputs(model, X)[:1])


def test_save_model_keeps_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    from .test_classifier import norm_task

    Z, y = norm_task(n=40)
    frame = pd.DataFrame(Z.reshape(40, -1), columns=[f"k{i}_c{j}" for i in range(6) for j in range(4)])
    clf = EquivariantClassifier(width=8, gram_channels=4, max_steps=2, random_state=0).fit(frame, y)
    skniso.save_model(clf, tmp_path / "m.safetensors")
    loaded = skniso.load_model(tmp_path / "m.safetensors")
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"k0_c0": "other"}))
