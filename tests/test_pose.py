import joblib
import numpy as np
import pytest
import sklearn
import torch
from scipy.spatial.transform import Rotation
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from skniso import IsometryMapEstimator, NeuralIsometryTransformer, PoseRegressor
from skniso.datasets import load_co3d, make_pose_pairs
from skniso.metrics import rotation_error, translation_error

from .conftest import tiny_conv_params

HEAD = dict(width=32, n_layers=4, max_steps=300, batch_size=8, lr=3e-3, warmup_steps=10, random_state=0)


def random_poses(n, seed, translation_scale=1.0):
    rng = np.random.default_rng(seed)
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = Rotation.from_rotvec(rng.normal(scale=0.4, size=(n, 3))).as_matrix()
    poses[:, :3, 3] = translation_scale * rng.normal(size=(n, 3))
    return poses


@pytest.fixture(scope="module")
def co3d_pairs(synthetic_co3d_root):
    data = load_co3d(synthetic_co3d_root, top_fraction=1.0, image_size=8)
    return make_pose_pairs(data.images, data.poses, frame_skips=(0, 1))


def tiny_maps(**overrides):
    return IsometryMapEstimator(NeuralIsometryTransformer(**tiny_conv_params(n_components=4, **overrides)))


# -- IsometryMapEstimator ------------------------------------------------------
def test_maps_are_the_transformers_isometries(co3d_pairs):
    X, _, _ = co3d_pairs
    maps = tiny_maps().fit(X)
    features = maps.transform(X)
    assert features.shape == (len(X), 16) and features.dtype == np.float32
    taus = features.reshape(-1, 4, 4)
    np.testing.assert_allclose(taus, maps.transformer_.isometries(X), atol=1e-6)
    np.testing.assert_allclose(taus @ taus.transpose(0, 2, 1), np.broadcast_to(np.eye(4), taus.shape), atol=1e-4)
    assert list(maps.get_feature_names_out()[:5]) == ["tau0_0", "tau0_1", "tau0_2", "tau0_3", "tau1_0"]


def test_auto_solver_follows_an_nft_transformer(co3d_pairs):
    X, _, _ = co3d_pairs
    maps = tiny_maps(transition="least_squares", latent_channels=6).fit(X)
    M = maps.transform(X).reshape(-1, 4, 4)
    np.testing.assert_allclose(M, maps.transformer_.isometries(X), atol=1e-6)
    # A least-squares map is not orthogonal.
    assert np.abs(M @ M.transpose(0, 2, 1) - np.eye(4)).max() > 1e-2


def test_unfitted_transformer_is_cloned_and_a_fitted_one_reused(co3d_pairs):
    X, _, _ = co3d_pairs
    prototype = NeuralIsometryTransformer(**tiny_conv_params(n_components=4))
    maps = IsometryMapEstimator(prototype).fit(X)
    assert maps.transformer_ is not prototype and not hasattr(prototype, "model_")
    fitted = maps.transformer_
    before = [p.clone() for p in fitted.model_.parameters()]
    reused = IsometryMapEstimator(fitted).fit(X[:5])
    assert reused.transformer_ is fitted
    assert all(torch.equal(a, b) for a, b in zip(before, fitted.model_.parameters()))
    # Through clone (as in a grid search) only a frozen model stays fitted.
    frozen = clone(IsometryMapEstimator(FrozenEstimator(fitted))).fit(X[:5])
    np.testing.assert_array_equal(frozen.transform(X), maps.transform(X))


def test_default_transformer_is_seeded_by_random_state(co3d_pairs, monkeypatch):
    X, _, _ = co3d_pairs
    # Stand in a tiny default so that the default path trains in a moment.
    monkeypatch.setattr(
        "skniso.pose.NeuralIsometryTransformer",
        lambda random_state: NeuralIsometryTransformer(**tiny_conv_params(n_components=4, random_state=random_state)),
    )
    first = IsometryMapEstimator(random_state=1).fit(X).transform(X)
    again = IsometryMapEstimator(random_state=1).fit(X).transform(X)
    other = IsometryMapEstimator(random_state=2).fit(X).transform(X)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_least_squares_solver_fits_latents_exactly(co3d_pairs):
    X, _, _ = co3d_pairs
    maps = tiny_maps(latent_channels=6).fit(X)
    ls = clone(maps).set_params(solver="least_squares", ridge=0.0, transformer=maps.transformer_).fit(X)
    M = ls.transform(X[:6]).reshape(-1, 4, 4).astype(np.float64)
    _, source, target = maps.transformer_.isometries(X[:6], return_latents=True)
    # C = 6 ≥ K = 4: the least-squares map is the normal-equation solution.
    expected = np.stack([np.linalg.lstsq(a.T, b.T, rcond=None)[0].T for a, b in zip(source, target)])
    np.testing.assert_allclose(M, expected, rtol=1e-3, atol=1e-4)


def test_pandas_output(co3d_pairs):
    X, _, _ = co3d_pairs
    frame = tiny_maps().fit(X).set_output(transform="pandas").transform(X[:3])
    assert frame.shape == (3, 16) and frame.columns[-1] == "tau3_3"


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(solver="svd"), ValueError, "solver"),
        (dict(ridge=-1.0), ValueError, "ridge"),
        (dict(transformer="niso"), TypeError, "'transformer' parameter"),
    ],
)
def test_map_estimator_rejects_bad_params(co3d_pairs, params, error, message):
    with pytest.raises(error, match=message):
        IsometryMapEstimator(**params).fit(co3d_pairs[0][:4])


def test_map_estimator_rejects_mismatched_input(co3d_pairs):
    X, _, _ = co3d_pairs
    maps = tiny_maps().fit(X)
    with pytest.raises(ValueError, match="features"):
        maps.transform(X[:, :, :, :4, :4])


# -- PoseRegressor -------------------------------------------------------------
def test_regressor_learns_a_planted_pose_map():
    poses = random_poses(256, 0)
    features = np.concatenate([poses[:, :3, :3].reshape(-1, 9), poses[:, :3, 3]], axis=1)
    model = PoseRegressor(**HEAD).fit(features[:200], poses[:200])
    predicted = model.predict(features[200:])
    assert predicted.shape == (56, 4, 4)
    np.testing.assert_allclose(predicted[:, 3], np.broadcast_to([0, 0, 0, 1], (56, 4)))
    assert np.median(rotation_error(poses[200:], predicted)) < 15.0
    assert np.median(translation_error(poses[200:], predicted)) < 15.0
    # An untrained head is far off.
    untrained = PoseRegressor(**{**HEAD, "max_steps": 1}).fit(features[:200], poses[:200])
    assert np.median(rotation_error(poses[200:], untrained.predict(features[200:]))) > 60.0
    assert model.score(features[200:], poses[200:]) > untrained.score(features[200:], poses[200:])


def test_groups_make_translation_scale_free_per_sequence():
    # Each sequence is filmed at its own unknown scale; the features only show directions.
    poses = random_poses(240, 1)
    features = np.concatenate([poses[:, :3, :3].reshape(-1, 9), poses[:, :3, 3]], axis=1)
    groups = np.repeat(np.arange(40), 6)
    scaled = poses.copy()
    scaled[:, :3, 3] *= np.exp(np.random.default_rng(2).normal(size=40))[groups, None]
    with_groups = PoseRegressor(**HEAD).fit(features, scaled, groups=groups)
    without = PoseRegressor(**HEAD).fit(features, scaled)
    assert with_groups.n_groups_ == 40 and without.n_groups_ == 240
    loss = lambda m: np.mean([r["translation"] for r in m.history_[-50:]])  # noqa: E731
    assert loss(with_groups) < 0.1
    assert np.median(translation_error(poses, with_groups.predict(features))) < 15.0


@pytest.mark.parametrize(
    "y, groups, message",
    [
        (np.zeros((10, 3)), None, r"\(n, 4, 4\)"),
        (np.tile(2 * np.eye(4), (10, 1, 1)), None, "rigid"),
        (np.tile(np.eye(4), (9, 1, 1)), None, "10 samples"),
        (np.tile(np.eye(4), (10, 1, 1)), np.zeros(3), "groups"),
        (None, None, "requires y"),
    ],
)
def test_regressor_rejects_bad_targets_and_keeps_its_state(y, groups, message):
    X = np.random.default_rng(0).normal(size=(10, 5))
    model = PoseRegressor(width=8, n_layers=2, max_steps=2, random_state=0).fit(X, np.tile(np.eye(4), (10, 1, 1)))
    state = dict(model.__dict__)
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, groups=groups)
    assert model.__dict__.keys() == state.keys() and model.module_ is state["module_"]


def test_flat_pose_targets_are_accepted():
    X = np.random.default_rng(0).normal(size=(10, 5))
    poses = random_poses(10, 3)
    a = PoseRegressor(width=8, n_layers=2, max_steps=3, random_state=0).fit(X, poses)
    b = PoseRegressor(width=8, n_layers=2, max_steps=3, random_state=0).fit(X, poses.reshape(10, 16))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


# -- the two together ----------------------------------------------------------
def pose_pipeline():
    return Pipeline([
        ("maps", tiny_maps()),
        ("pose", PoseRegressor(width=16, n_layers=2, max_steps=5, warmup_steps=0, random_state=0)),
    ])


def test_pipeline_passes_groups_as_step_parameter(co3d_pairs, tmp_path):
    X, y, groups = co3d_pairs
    pipe = pose_pipeline().fit(X, y, pose__groups=groups)
    assert pipe.named_steps["pose"].n_groups_ == len(np.unique(groups))
    predicted = pipe.predict(X)
    assert predicted.shape == (len(X), 4, 4) and np.isfinite(pipe.score(X, y))
    joblib.dump(pipe, tmp_path / "pose.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "pose.joblib").predict(X), predicted)


def test_pipeline_routes_groups_with_metadata_routing(co3d_pairs):
    X, y, groups = co3d_pairs
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = pose_pipeline()
        pipe.named_steps["pose"].set_fit_request(groups=True)
        pipe.fit(X, y, groups=groups)
    assert pipe.named_steps["pose"].n_groups_ == len(np.unique(groups))
