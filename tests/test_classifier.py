import numpy as np
import pytest
import torch

from skniso import EquivariantClassifier


def random_orthogonal(k, rng, reflect=False):
    q, r = np.linalg.qr(rng.standard_normal((k, k)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) > 0) == reflect:
        q[:, 0] = -q[:, 0]
    return q


def norm_task(n=240, k=6, c=4, seed=0):
    """Labels given by which channel has the largest norm over K: O(K)-invariant."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k, c))
    y = rng.integers(0, 3, n)
    X[np.arange(n), :, y] *= 4.0
    return X.astype(np.float32), np.array(["low", "mid", "high"])[y]


def small(**overrides):
    params = dict(width=16, gram_channels=8, max_steps=150, batch_size=32, lr=3e-3, random_state=0)
    params.update(overrides)
    return params


@pytest.mark.parametrize("reflect", [False, True])
def test_predictions_invariant_under_random_orthogonal_maps(reflect):
    X, y = norm_task()
    clf = EquivariantClassifier(**small(max_steps=30)).fit(X, y)
    rng = np.random.default_rng(1)
    proba = clf.predict_proba(X)
    for _ in range(3):
        q = random_orthogonal(6, rng, reflect)
        rotated = np.einsum("ij,njc->nic", q, X).astype(np.float32)
        np.testing.assert_allclose(clf.predict_proba(rotated), proba, atol=2e-5)
    # Not invariant to maps that are not orthogonal: the test can fail.
    stretched = X.copy()
    stretched[:, 0] *= 5
    assert np.abs(clf.predict_proba(stretched) - proba).max() > 1e-3


def test_learns_an_invariant_task_with_string_labels():
    X, y = norm_task()
    clf = EquivariantClassifier(**small()).fit(X[:180], y[:180])
    assert set(clf.classes_) == {"low", "mid", "high"}
    assert clf.score(X[180:], y[180:]) > 0.9
    assert clf.predict(X[:3]).dtype == y.dtype
    np.testing.assert_allclose(clf.predict_proba(X[:5]).sum(1), 1.0)
    assert clf.decision_function(X[:5]).shape == (5, 3)


def test_flat_and_three_d_inputs_agree():
    X, y = norm_task()
    a = EquivariantClassifier(**small(max_steps=20)).fit(X, y)
    b = EquivariantClassifier(n_components=6, **small(max_steps=20)).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X.reshape(len(X), -1)))
    assert a.latent_shape_ == (6, 4)


def test_k_is_read_from_niso_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = norm_task()
    names = [f"k{i}_c{j}" for i in range(6) for j in range(4)]
    frame = pd.DataFrame(X.reshape(len(X), -1), columns=names)
    clf = EquivariantClassifier(**small(max_steps=5)).fit(frame, y)
    assert clf.latent_shape_ == (6, 4)
    np.testing.assert_array_equal(clf.feature_names_in_, names)


def test_binary_decision_function_is_log_odds():
    X, y = norm_task()
    keep = y != "mid"
    clf = EquivariantClassifier(**small(max_steps=20)).fit(X[keep], y[keep])
    proba = clf.predict_proba(X[keep][:5])
    np.testing.assert_allclose(clf.decision_function(X[keep][:5]), np.log(proba[:, 1] / proba[:, 0]), atol=1e-4)


@pytest.mark.parametrize(
    "params,X_shape,message",
    [
        ({}, (20, 7), "not a multiple of n_components=32"),
        ({"n_components": 5}, (20, 6, 4), "K=6 rows per sample but n_components=5"),
        ({"n_components": 0}, (20, 6, 4), "'n_components' parameter of EquivariantClassifier must be"),
        ({"width": 0}, (20, 6, 4), "'width' parameter of EquivariantClassifier must be an int in the range \\[1, inf\\)"),
        ({"n_layers": -1}, (20, 6, 4), "'n_layers' parameter of EquivariantClassifier must be an int in the range \\[0, inf\\)"),
    ],
)
def test_bad_inputs_and_parameters(params, X_shape, message):
    X = np.zeros(X_shape, dtype=np.float32)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match=message):
        EquivariantClassifier(**params).fit(X, y)


def test_reference_depth_head_has_one_layer_per_trunk():
    # n_layers=0 is the head the reference code trains (see skniso.nn.OrthNet).
    X, y = norm_task(n=60)
    clf = EquivariantClassifier(**small(n_layers=0, max_steps=5)).fit(X, y)
    net = clf.module_
    assert len(net.mlp_in.layers) == 2 and len(net.mlp_out.layers) == 2
    assert len(EquivariantClassifier(**small(max_steps=5)).fit(X, y).module_.mlp_in.layers) == 4


def test_single_class_and_continuous_targets_are_rejected():
    X, _ = norm_task(n=20)
    with pytest.raises(ValueError, match="at least 2 classes"):
        EquivariantClassifier(**small()).fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="Unknown label type"):
        EquivariantClassifier(**small()).fit(X, np.linspace(0, 1, 20))


def test_reproducible_without_touching_global_rng():
    X, y = norm_task()
    state = torch.random.get_rng_state()
    a = EquivariantClassifier(**small(max_steps=10, random_state=3)).fit(X, y).predict_proba(X)
    b = EquivariantClassifier(**small(max_steps=10, random_state=3)).fit(X, y).predict_proba(X)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a, b)


def test_a_sample_gets_the_same_probabilities_alone_as_in_a_batch():
    # sklearn's check_methods_subset_invariance asks 1e-7, below float32's resolution
    # on CPUs whose kernels depend on the batch size; this is the float32 version.
    X, y = norm_task(n=40)
    clf = EquivariantClassifier(**small(max_steps=20)).fit(X, y)
    together = clf.predict_proba(X)
    alone = np.concatenate([clf.predict_proba(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-7)
    assert not np.allclose(together, together.mean(axis=0))  # the probabilities do vary by sample


def test_inference_runs_in_bounded_batches(monkeypatch):
    X, y = norm_task(n=40)
    clf = EquivariantClassifier(**small(max_steps=3)).fit(X, y)
    expected = clf.predict_proba(X)
    monkeypatch.setattr(EquivariantClassifier, "_inference_batch_size", 16)
    seen = []
    clf.module_.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-5, atol=1e-7)
    assert seen == [16, 16, 8]
