import pickle

import numpy as np
import pytest
import torch
from torch import nn

from skniso import NeuralIsometryTransformer
from skniso.datasets import CircularShift
from skniso.training import DivergenceError

from .conftest import tiny_conv_params


def test_fit_transform_shapes_and_attributes(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    assert niso.n_features_in_ == 2 * 64
    assert niso.observation_shape_ == (1, 8, 8)
    assert niso.latent_grid_ == (4, 4)
    assert niso.latent_shape_ == (6, 3)
    assert niso.mass_.shape == (16,) and niso.eigenfunctions_.shape == (16, 6)
    assert np.all(np.diff(niso.eigenvalues_) >= 0)
    gram = niso.eigenfunctions_.T @ (niso.mass_[:, None] * niso.eigenfunctions_)
    np.testing.assert_allclose(gram, np.eye(6), atol=1e-5)
    assert len(niso.history_) == 4
    assert {"loss", "reconstruction", "equivariance", "multiplicity", "lr"} <= set(niso.history_[0])
    Z = niso.transform(X)
    assert Z.shape == (12, 18) and Z.dtype == np.float32
    names = niso.get_feature_names_out()
    assert names[0] == "k0_c0" and names[-1] == "k5_c2" and len(names) == 18


def test_transform_of_pairs_encodes_the_first_view(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    np.testing.assert_array_equal(niso.transform(X), niso.transform(X[:, 0]))
    # Flattened rows are accepted too, as pairs or as single observations.
    np.testing.assert_array_equal(niso.transform(X.reshape(12, -1)), niso.transform(X))
    np.testing.assert_array_equal(niso.transform(X[:, 0].reshape(12, -1)), niso.transform(X))


def test_unflattened_output_and_inverse_transform(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params(flatten=False)).fit(X)
    Z = niso.transform(X)
    assert Z.shape == (12, 6, 3)
    decoded = niso.inverse_transform(Z)
    assert decoded.shape == (12, 1, 8, 8)
    np.testing.assert_array_equal(decoded, niso.inverse_transform(Z.reshape(12, -1)))
    with pytest.raises(ValueError, match=r"\(n, 18\) or \(n, 6, 3\)"):
        niso.inverse_transform(Z[:, :5])


def test_transform_rejects_wrong_feature_count(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    with pytest.raises(ValueError, match="X has 100 features, but NeuralIsometryTransformer is expecting 128"):
        niso.transform(np.zeros((2, 100), dtype=np.float32))


def test_triplets_and_regime_checks(tiny_pairs):
    X, _ = tiny_pairs
    triplets = np.concatenate([X, np.roll(X[:, 1:], 1, axis=-1)], axis=1)
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(triplets)
    assert niso.n_views_ == 3
    assert niso.transform(triplets).shape == (12, 18)
    with pytest.raises(ValueError, match="regime='pairwise' needs 2 views"):
        NeuralIsometryTransformer(**tiny_conv_params(regime="pairwise")).fit(triplets)
    with pytest.raises(ValueError, match="pairs \\(2\\) or triplets \\(3\\)"):
        NeuralIsometryTransformer(**tiny_conv_params()).fit(np.concatenate([triplets, X], axis=1))


class ShiftByOne:
    """Deterministic pair transform: roll by one pixel along the last axis."""

    def __call__(self, x, generator=None):
        return torch.roll(x, 1, dims=-1)


def test_pair_transform_draws_views_and_triplet_applies_it_twice():
    niso = NeuralIsometryTransformer(pair_transform=CircularShift(), regime="triplet")
    x = torch.arange(2 * 1 * 6, dtype=torch.float32).reshape(2, 1, 6)
    views = niso._views(x.unsqueeze(1), torch.Generator().manual_seed(0))
    assert len(views) == 3
    # The same random shift s is applied twice: T²ψ is ψ shifted by 2s.
    for i in range(2):
        shifts = [s for s in range(6) if torch.equal(torch.roll(x[i], s, -1), views[1][i])]
        assert len(shifts) == 1
        assert torch.equal(torch.roll(x[i], 2 * shifts[0], -1), views[2][i])


def test_fit_with_pair_transform_on_single_observations():
    rng = np.random.default_rng(1)
    singles = rng.standard_normal((10, 2, 8, 8)).astype(np.float32)
    niso = NeuralIsometryTransformer(**tiny_conv_params(pair_transform=CircularShift())).fit(singles)
    assert niso.n_views_ == 1 and niso.observation_shape_ == (2, 8, 8)
    assert niso.transform(singles).shape == (10, 18)
    assert niso.score(singles) <= 0
    with pytest.raises(ValueError, match="single observations, got 2 views"):
        NeuralIsometryTransformer(
            **tiny_conv_params(pair_transform=CircularShift(), input_shape=(2, 8, 8))
        ).fit(np.concatenate([singles, singles], axis=1))


@pytest.mark.parametrize("spatial", [(16,), (8, 8, 8)])
def test_one_and_three_dimensional_grids(spatial):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 2, 2, *spatial)).astype(np.float32)
    niso = NeuralIsometryTransformer(**tiny_conv_params(n_components=4)).fit(X)
    assert niso.latent_grid_ == tuple(s // 2 for s in spatial)
    assert niso.transform(X).shape == (6, 12)
    assert niso.inverse_transform(niso.transform(X)).shape == (6, 2, *spatial)


def test_identity_encoder_uses_the_observation_grid():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((8, 2, 3, 5, 4)).astype(np.float32)
    niso = NeuralIsometryTransformer(encoder="identity", n_components=7, max_steps=3, random_state=0).fit(X)
    assert niso.latent_grid_ == (5, 4) and niso.latent_shape_ == (7, 3)
    # With the identity decoder, decoding the projection is the M-orthogonal projector.
    Z = niso.transform(X[:, 0])
    np.testing.assert_allclose(niso.transform(niso.inverse_transform(Z)), Z, atol=1e-5)


def test_flat_rows_are_pairs_of_one_dimensional_signals():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((8, 10)).astype(np.float32)
    niso = NeuralIsometryTransformer(encoder="identity", n_components=3, max_steps=2).fit(X)
    assert niso.observation_shape_ == (1, 5)
    assert niso.inverse_transform(niso.transform(X)).shape == (8, 5)
    with pytest.raises(ValueError, match="multiple of 2"):
        NeuralIsometryTransformer(encoder="identity", n_components=1, max_steps=2).fit(X[:, :7])
    niso = NeuralIsometryTransformer(
        encoder="identity", n_components=3, input_shape=(1, 5), max_steps=2
    ).fit(X)
    assert niso.n_views_ == 2


class TinyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


class TinyDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, z):
        return self.conv(z)


def test_user_modules_are_copied_not_mutated(tiny_pairs):
    X, _ = tiny_pairs
    encoder, decoder = TinyEncoder(), TinyDecoder()
    before = encoder.conv.weight.detach().clone()
    niso = NeuralIsometryTransformer(encoder, decoder, n_components=5, max_steps=3, random_state=0).fit(X)
    assert torch.equal(encoder.conv.weight, before)
    assert niso.encoder_ is not encoder
    assert niso.latent_grid_ == (8, 8) and niso.transform(X).shape == (12, 10)
    pickle.loads(pickle.dumps(niso))


@pytest.mark.parametrize(
    "params,message",
    [
        (dict(encoder="mlp"), "'encoder' parameter of NeuralIsometryTransformer must be"),
        (dict(encoder=TinyEncoder()), "needs a user decoder"),
        (dict(n_components=0), "'n_components' parameter .* must be an int in the range \\[1, inf\\)"),
        (dict(n_components=17), "n_components=17 exceeds the latent grid's 16 points"),
        (dict(channels=(4, 8, 16), blocks_per_level=(1, 1)), "equally long"),
        (dict(alpha=-1), "'alpha' parameter .* range \\[0.0, inf\\)"),
        (dict(mask="soft"), "'mask' parameter .* must be a str among"),
        (dict(group="U"), "'group' parameter"),
        (dict(procrustes_gradient="damped"), "'procrustes_gradient' parameter"),
        (dict(regime="quad"), "'regime' parameter"),
        (dict(spectral_dropout=1.5), "'spectral_dropout' parameter .* range \\[0.0, 1.0\\]"),
        (dict(max_steps=0), "'max_steps' parameter .* range \\[1, inf\\)"),
        (dict(lr=0.0), "'lr' parameter .* range \\(0.0, inf\\)"),
        (dict(device="tpu"), "device must be"),
        (dict(pair_transform="shift"), "'pair_transform' parameter .* must be a callable or None"),
        (dict(input_shape=(1, 7, 7)), "not a multiple of prod"),
    ],
)
def test_bad_parameters_raise_clear_errors(tiny_pairs, params, message):
    X, _ = tiny_pairs
    with pytest.raises((ValueError, TypeError), match=message):
        NeuralIsometryTransformer(**tiny_conv_params(**params)).fit(X)


def test_bad_inputs_raise_clear_errors(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params())
    with pytest.raises(ValueError, match="not divisible"):
        niso.fit(X[..., :7, :7])
    bad = X.copy()
    bad[0, 0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        niso.fit(bad)
    with pytest.raises(ValueError, match=r"is not \(n_samples, n_views=2 or 3, channels, \*spatial\)"):
        niso.fit(X[:, 0, 0])


def test_cuda_request_without_cuda_is_an_error(tiny_pairs):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, _ = tiny_pairs
    with pytest.raises(ValueError, match="CUDA is not available"):
        NeuralIsometryTransformer(**tiny_conv_params(device="cuda")).fit(X)


class NaNEncoder(TinyEncoder):
    def forward(self, x):
        return self.conv(x) * float("nan")


def test_divergence_raises_and_leaves_previous_fit_intact(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    Z = niso.transform(X)
    state = dict(niso.__dict__)
    niso.set_params(encoder=NaNEncoder(), decoder=TinyDecoder(), n_components=4)
    with pytest.raises(DivergenceError, match="diverged at step 1"):
        niso.fit(X)
    assert niso.__dict__.keys() - {"encoder", "decoder", "n_components"} == state.keys() - {"encoder", "decoder", "n_components"}
    assert niso.model_ is state["model_"]
    np.testing.assert_array_equal(niso.transform(X), Z)


def test_failed_first_fit_leaves_estimator_unfitted(tiny_pairs):
    from sklearn.exceptions import NotFittedError

    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params(n_components=99))
    with pytest.raises(ValueError):
        niso.fit(X)
    assert not hasattr(niso, "n_features_in_")
    with pytest.raises(NotFittedError):
        niso.transform(X)


def test_random_state_reproducible_and_global_rng_untouched(tiny_pairs):
    X, _ = tiny_pairs
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = NeuralIsometryTransformer(**tiny_conv_params(random_state=7)).fit(X).transform(X)
    b = NeuralIsometryTransformer(**tiny_conv_params(random_state=7)).fit(X).transform(X)
    c = NeuralIsometryTransformer(**tiny_conv_params(random_state=8)).fit(X).transform(X)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_isometries_are_orthogonal_and_score_is_negative_error(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params(max_steps=10)).fit(X)
    tau = niso.isometries(X)
    assert tau.shape == (12, 6, 6)
    np.testing.assert_allclose(tau @ tau.transpose(0, 2, 1), np.broadcast_to(np.eye(6), tau.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(tau), 1.0, atol=1e-5)
    errors = niso.equivariance_error(X)
    assert errors.shape == (12,) and np.all(errors >= 0)
    assert niso.score(X) == pytest.approx(-errors.mean())
    with pytest.raises(ValueError, match="pairs of views are needed"):
        niso.score(X[:, 0])
    tau_o = NeuralIsometryTransformer(**tiny_conv_params(group="O")).fit(X).isometries(X)
    np.testing.assert_allclose(np.abs(np.linalg.det(tau_o)), 1.0, atol=1e-5)


def test_procrustes_gradient_reaches_the_isometry_solve(tiny_pairs, monkeypatch):
    import skniso.core.model as core_model

    seen = []
    solve = core_model.solve_isometry

    def recording_solve(*args, gradient="exact", **kwargs):
        seen.append(gradient)
        return solve(*args, gradient=gradient, **kwargs)

    monkeypatch.setattr(core_model, "solve_isometry", recording_solve)
    X, _ = tiny_pairs
    NeuralIsometryTransformer(**tiny_conv_params(procrustes_gradient="reference", max_steps=2)).fit(X)
    assert seen and set(seen) == {"reference"}
    seen.clear()
    NeuralIsometryTransformer(**tiny_conv_params(max_steps=2)).fit(X)
    assert seen and set(seen) == {"exact"}


def test_pandas_output_and_verbose(tiny_pairs, capsys):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params(verbose=1)).set_output(transform="pandas")
    frame = niso.fit_transform(X)
    assert list(frame.columns[:2]) == ["k0_c0", "k0_c1"]
    err = capsys.readouterr().err
    assert "reconstruction" in err and " 4/4 " in err  # the log table's header and last row
    NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    assert capsys.readouterr().err == ""


def test_model_fitted_with_pair_transform_accepts_explicit_pairs():
    rng = np.random.default_rng(5)
    singles = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    niso = NeuralIsometryTransformer(**tiny_conv_params(pair_transform=CircularShift())).fit(singles)
    pairs = np.stack([singles, np.roll(singles, 2, axis=-1)], axis=1)
    assert niso.isometries(pairs).shape == (8, 6, 6)
    np.testing.assert_array_equal(niso.transform(pairs), niso.transform(singles))


class CropTransform:
    def __call__(self, x, generator=None):
        return x[..., 1:]


def test_pair_transform_returning_another_shape_is_named():
    singles = np.zeros((6, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="pair_transform must return a tensor shaped like its input"):
        NeuralIsometryTransformer(**tiny_conv_params(pair_transform=CropTransform())).fit(singles)


def test_baseline_transitions_fit_and_report_their_maps(tiny_pairs):
    X, _ = tiny_pairs
    with pytest.raises(ValueError, match="'transition' parameter"):
        NeuralIsometryTransformer(**tiny_conv_params(transition="affine")).fit(X)
    nft = NeuralIsometryTransformer(**tiny_conv_params(transition="least_squares")).fit(X)
    tau, source, target = nft.isometries(X, return_latents=True)
    # The NFT map is the least-squares one: no orthogonality, but the smallest residual.
    gram = np.einsum("nkc,njc->nkj", source, source) + 1e-4 * np.eye(tau.shape[1])
    expected = np.einsum("nkc,njc->nkj", target, source) @ np.linalg.inv(gram)
    np.testing.assert_allclose(tau, expected, rtol=1e-2, atol=5e-3)  # float32 solve
    assert nft.history_[-1]["multiplicity"] == 0
    ae = NeuralIsometryTransformer(**tiny_conv_params(transition="none")).fit(X)
    assert ae.history_[-1]["equivariance"] == 0
    assert ae.transform(X).shape == (12, 6 * 3)


def test_inference_runs_in_bounded_batches(tiny_pairs, monkeypatch):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    expected = (niso.transform(X), niso.isometries(X), niso.inverse_transform(niso.transform(X)))
    monkeypatch.setattr(NeuralIsometryTransformer, "_inference_batch_size", 5)
    seen = []
    encode = niso.model_.encode

    def recording_encode(x):
        seen.append(x.shape[0])
        return encode(x)

    monkeypatch.setattr(niso.model_, "encode", recording_encode)
    Z = niso.transform(X)
    assert seen == [5, 5, 2]  # 12 observations, never more than 5 at once
    # Other batch sizes may pick other kernels: equal up to float32 rounding.
    np.testing.assert_allclose(Z, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(niso.isometries(X), expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(niso.inverse_transform(Z), expected[2], rtol=1e-5, atol=1e-6)
    assert max(seen) == 5
