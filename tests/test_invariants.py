"""GramFeatures and make_gram_probe: exact O(K) invariance, hand-computed values, layouts and errors."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import special_ortho_group
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skniso import GramFeatures, NeuralIsometryTransformer, make_gram_probe
from skniso.datasets import CircularShift


def test_hand_computed_gram_entries():
    # One sample, K = 2, C = 2: columns (1, 2) and (3, 4).
    latent = np.array([[[1.0, 3.0], [2.0, 4.0]]])
    features = GramFeatures().fit_transform(latent)
    # (c0·c0, c0·c1, c1·c1) = (5, 11, 25)
    np.testing.assert_array_equal(features, [[5.0, 11.0, 25.0]])


def test_invariant_to_a_random_orthogonal_matrix_per_sample():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(6, 7, 4))
    rotations = special_ortho_group.rvs(7, size=6, random_state=1)
    rotations[::2, 0] *= -1  # reflections too: O(K), not only SO(K)
    gram = GramFeatures().fit(latents)
    np.testing.assert_allclose(gram.transform(rotations @ latents), gram.transform(latents), atol=1e-12)
    # A map that is not orthogonal changes them.
    stretched = latents * np.linspace(0.5, 2.0, 7)[:, None]
    assert not np.allclose(gram.transform(stretched), gram.transform(latents), atol=1e-3)


def test_flat_input_and_explicit_k_agree_with_3d_input():
    latents = np.random.default_rng(2).normal(size=(5, 4, 3))
    from_3d = GramFeatures().fit_transform(latents)
    from_flat = GramFeatures(n_components=4).fit_transform(latents.reshape(5, 12))
    np.testing.assert_allclose(from_flat, from_3d)
    assert from_3d.shape == (5, 6)


def test_k_is_read_from_the_transformers_feature_names():
    latents = np.random.default_rng(3).normal(size=(5, 4, 3))
    names = [f"k{i}_c{j}" for i in range(4) for j in range(3)]
    frame = pd.DataFrame(latents.reshape(5, 12), columns=names)
    gram = GramFeatures().fit(frame)
    assert gram.latent_shape_ == (4, 3)
    np.testing.assert_allclose(gram.transform(frame), GramFeatures().fit_transform(latents))
    out = gram.set_output(transform="pandas").transform(frame)
    assert list(out.columns) == ["gram_c0_c0", "gram_c0_c1", "gram_c0_c2", "gram_c1_c1", "gram_c1_c2", "gram_c2_c2"]


@pytest.mark.parametrize(
    "fit_x, params, message",
    [
        (np.zeros((3, 10)), {"n_components": 4}, "not a multiple of n_components=4"),
        (np.zeros((3, 4, 2)), {"n_components": 3}, "K=4 rows per sample but n_components=3"),
        (np.zeros((3, 2, 2, 2)), {}, "got a 4-D array"),
    ],
)
def test_bad_latent_layouts(fit_x, params, message):
    with pytest.raises(ValueError, match=message):
        GramFeatures(**params).fit(fit_x)


def test_transform_rejects_latents_of_another_shape():
    gram = GramFeatures().fit(np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match=r"fitted on latents of shape \(4, 2\)"):
        gram.transform(np.ones((3, 2, 4)))
    with pytest.raises(ValueError, match="expecting 8 features"):
        gram.transform(np.ones((3, 6)))


@pytest.mark.parametrize("bad", [0, True, 2.0, "all"])
def test_bad_n_components(bad):
    with pytest.raises(ValueError, match="n_components"):
        GramFeatures(n_components=bad).fit(np.ones((3, 4, 2)))


def test_linear_probe_pipeline_on_niso_latents():
    """NIso → Gram → StandardScaler → LogisticRegression, as the docstring shows."""
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(0, 1, (20, 8)), rng.normal(0, 3, (20, 8))])
    y = np.repeat([0, 1], 20)
    probe = Pipeline([
        ("niso", NeuralIsometryTransformer(encoder="identity", n_components=4, pair_transform=CircularShift(),
                                           max_steps=3, batch_size=8, warmup_steps=0, random_state=0)),
        ("gram", GramFeatures(n_components=4)),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression()),
    ]).fit(X, y)
    # The two classes differ in scale, which the Gram diagonal carries.
    assert probe.score(X, y) > 0.9


def test_gram_probe_fits_predicts_and_is_invariant_to_a_random_orthogonal_matrix_per_sample():
    # Flat latents (n, K*C) as NeuralIsometryTransformer.transform gives them: row-major
    # (K, C), entry k*C + c; K = 5 is not the default, so the probe is told it.
    rng = np.random.default_rng(5)
    n, k, c = 40, 5, 3
    y = np.repeat([0, 1], n // 2)
    latents = rng.normal(size=(n, k, c)) * np.where(y == 1, 2.0, 1.0)[:, None, None]
    flat = latents.reshape(n, k * c)
    probe = make_gram_probe(n_components=k).fit(flat, y)
    assert [type(step) for _, step in probe.steps] == [GramFeatures, StandardScaler, LogisticRegression]
    assert probe[-1].max_iter == 5000 and probe[-1].C == 1.0
    assert probe[0].latent_shape_ == (k, c)
    # The classes differ in scale, which the Gram diagonal carries.
    predicted, proba = probe.predict(flat), probe.predict_proba(flat)
    assert predicted.shape == (n,) and np.mean(predicted == y) > 0.9
    # A different orthogonal matrix (reflections too) on each sample's K axis.
    rotations = special_ortho_group.rvs(k, size=n, random_state=6)
    rotations[::2, 0] *= -1
    rotated = (rotations @ latents).reshape(n, k * c)
    np.testing.assert_array_equal(probe.predict(rotated), predicted)
    np.testing.assert_allclose(probe.predict_proba(rotated), proba, atol=1e-10)
    # A map that is not orthogonal moves the probabilities, so the check above can fail.
    stretched = (latents * np.linspace(0.5, 2.0, k)[:, None]).reshape(n, k * c)
    assert not np.allclose(probe.predict_proba(stretched), proba, atol=1e-3)
