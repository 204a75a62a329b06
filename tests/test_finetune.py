import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skniso import FineTunedClassifier, NeuralIsometryTransformer
from skniso.datasets import RandomMobius, make_spherical_mnist_pairs

from .conftest import tiny_conv_params

HEAD = dict(width=8, gram_channels=4, readout_width=16, max_steps=6, batch_size=8, warmup_steps=0,
            random_state=0)


@pytest.fixture
def labelled_pairs(tiny_pairs):
    X, _ = tiny_pairs
    y = np.array(["a", "b"] * 6)
    return X, y


def _encoder_weights(model):
    return torch.cat([p.detach().flatten() for p in model.encoder.parameters()])


def test_fit_pretrains_then_fine_tunes_encoder_and_head(labelled_pairs):
    X, y = labelled_pairs
    clf = FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), **HEAD).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["a", "b"])
    assert set(clf.predict(X)) <= {"a", "b"} and clf.predict(X[:, 0]).shape == (12,)
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0, rtol=1e-6)
    assert clf.decision_function(X).shape == (12,)
    assert len(clf.history_) == HEAD["max_steps"]
    # The encoder moved away from its pre-trained weights; the decoder did not.
    assert not torch.allclose(_encoder_weights(clf.module_.model), _encoder_weights(clf.transformer_.model_))
    for fine, pre in zip(clf.module_.model.decoder.parameters(), clf.transformer_.model_.decoder.parameters()):
        torch.testing.assert_close(fine, pre)


def test_frozen_encoder_and_operator_stay_put(labelled_pairs):
    X, y = labelled_pairs
    clf = FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), train_encoder=False,
                              train_operator=False, **HEAD).fit(X, y)
    torch.testing.assert_close(_encoder_weights(clf.module_.model), _encoder_weights(clf.transformer_.model_))
    np.testing.assert_allclose(clf.transformer_.transform(X), clf.eigenspace_latents(X).reshape(12, -1), atol=1e-5)


def test_frozen_encoder_gets_no_gradient_while_the_operator_trains(labelled_pairs):
    # The reference's homNIST head: encoder frozen, Φ and M trained with the head.
    X, y = labelled_pairs
    clf = FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), train_encoder=False,
                              encoder_lr_scale=1.0, grad_clip_norm=1e9, **HEAD).fit(X, y)
    model = clf.module_.model
    assert all(p.grad is None for p in model.encoder.parameters())
    torch.testing.assert_close(_encoder_weights(model), _encoder_weights(clf.transformer_.model_))
    assert not torch.allclose(model.operator.basis_raw, clf.transformer_.model_.operator.basis_raw)


class _GradientsForFrozenParts(FineTunedClassifier):
    # A subclass whose optimiser hook leaves parts out but lets gradients reach them.
    def _configure_optimizer(self, module):
        optimizer = super()._configure_optimizer(module)
        module.model.requires_grad_(True)
        return optimizer


def test_clipped_gradient_norm_counts_only_what_the_optimiser_updates(labelled_pairs):
    X, y = labelled_pairs
    params = dict(HEAD, max_steps=4, train_encoder=False, train_operator=False, grad_clip_norm=1e9)
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    plain = FineTunedClassifier(niso, prefit=True, **params).fit(X, y)
    leaky = _GradientsForFrozenParts(niso, prefit=True, **params).fit(X, y)
    norms = [record["grad_norm"] for record in plain.history_]
    # Not bit-equal: a backward pass through the encoder takes other kernels, and Adam
    # amplifies rounding.  Counting the frozen encoder's piled-up gradients was ~30x off.
    assert norms == pytest.approx([record["grad_norm"] for record in leaky.history_], rel=0.05)


def test_prediction_is_invariant_to_orthogonal_maps_of_the_latent(labelled_pairs):
    X, y = labelled_pairs
    clf = FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), **HEAD).fit(X, y)
    latents = torch.from_numpy(clf.eigenspace_latents(X[:, 0])) / clf.module_.scale
    q, _ = torch.linalg.qr(torch.randn(latents.shape[1], latents.shape[1], generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        torch.testing.assert_close(clf.module_.head(q @ latents), clf.module_.head(latents), atol=1e-4, rtol=1e-4)


def test_prefit_uses_a_copy_of_the_fitted_transformer(labelled_pairs):
    X, y = labelled_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params()).fit(X)
    before = _encoder_weights(niso.model_).clone()
    clf = FineTunedClassifier(niso, prefit=True, **HEAD).fit(X[:, 0], y)  # single observations
    torch.testing.assert_close(_encoder_weights(niso.model_), before)
    assert clf.transformer_ is not niso
    with pytest.raises(ValueError, match="not fitted"):
        FineTunedClassifier(NeuralIsometryTransformer(), prefit=True, **HEAD).fit(X, y)


def test_failed_fit_leaves_the_estimator_as_it_was(labelled_pairs):
    X, y = labelled_pairs
    clf = FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), **HEAD)
    with pytest.raises(ValueError, match="got 1 class"):
        clf.fit(X, np.zeros(12))
    assert not hasattr(clf, "module_")
    with pytest.raises(TypeError, match="'transformer' parameter"):
        FineTunedClassifier(transformer="conv").fit(X, y)


def test_seeded_fits_repeat(labelled_pairs):
    X, y = labelled_pairs
    make = lambda: FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), **HEAD)  # noqa: E731
    np.testing.assert_array_equal(make().fit(X, y).predict_proba(X), make().fit(X, y).predict_proba(X))


def test_pipeline_grid_search_and_pickling(labelled_pairs, tmp_path):
    X, y = labelled_pairs
    pipe = Pipeline([
        ("squash", FunctionTransformer(np.tanh)),
        ("clf", FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), **HEAD)),
    ])
    search = GridSearchCV(pipe, {"clf__transformer__alpha": [0.0, 0.5], "clf__train_encoder": [True, False]},
                          cv=2, error_score="raise").fit(X, y)
    assert set(search.best_params_) == {"clf__transformer__alpha", "clf__train_encoder"}
    path = tmp_path / "model.joblib"
    joblib.dump(search.best_estimator_, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), search.best_estimator_.predict_proba(X))


def test_spherical_pretraining_with_mobius_pairs_and_augmented_fine_tuning():
    X, y = make_spherical_mnist_pairs(n_samples=16, grid_shape=(8, 16), random_state=0)
    niso = NeuralIsometryTransformer(pair_transform=RandomMobius(0.5), **tiny_conv_params())
    clf = FineTunedClassifier(niso, augment=RandomMobius(0.5), **HEAD).fit(X[:, 0], y)
    assert clf.predict(X[:, 1]).shape == (16,)
    assert clf.transformer_.n_views_ == 1


def test_encoder_lr_scale_zero_keeps_the_pretrained_parts(labelled_pairs):
    # The training loop scales each optimiser group's rate by its "lr_scale".
    X, y = labelled_pairs
    clf = FineTunedClassifier(NeuralIsometryTransformer(**tiny_conv_params()), encoder_lr_scale=0.0,
                              **HEAD).fit(X, y)
    torch.testing.assert_close(_encoder_weights(clf.module_.model), _encoder_weights(clf.transformer_.model_))
    for fine, pre in zip(clf.module_.model.operator.parameters(), clf.transformer_.model_.operator.parameters()):
        torch.testing.assert_close(fine, pre)
