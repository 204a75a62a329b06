"""The shared training loop: progress, early stopping, clipping, warm starts,
checkpoints, divergence, interruption, precision, compile and seeding.

Most tests use a tiny EquivariantClassifier (milliseconds per step); the
behaviour lives in TrainedModuleMixin, so every estimator shares it, and the
others (the transformer, the baselines, the fine-tuned and pose heads) are
exercised where their own hooks and data layouts matter.
"""

import inspect
import pickle
import warnings

import numpy as np
import pytest
import torch

from skniso import EquivariantClassifier, FineTunedClassifier, NeuralIsometryTransformer, PoseRegressor
from skniso.baselines import AugmentedMLPClassifier, CNNClassifier
from skniso.training import (
    _LOOP_PARAMETERS,
    TRAINING_PARAMETERS_DOC,
    DivergenceError,
    DivergenceWarning,
    TrainedModuleMixin,
    TrainingInterruptedWarning,
)

from .conftest import tiny_conv_params


def tiny_classifier(**overrides):
    params = dict(width=8, gram_channels=4, max_steps=12, batch_size=8, warmup_steps=0,
                  lr=3e-3, random_state=0)
    params.update(overrides)
    return EquivariantClassifier(**params)


@pytest.fixture
def norm_task():
    """Latents (n, K=3, C=2) labelled by their norm: an O(K)-invariant task."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 3, 2)).astype(np.float32)
    y = (np.linalg.norm(X, axis=(1, 2)) > 2.4).astype(int)
    return X, y


def interrupt_at(estimator, step):
    """Make ``estimator`` receive a KeyboardInterrupt right after ``step``."""
    def on_step_end(record):
        if record["step"] == step:
            raise KeyboardInterrupt
    estimator._on_step_end = on_step_end
    return estimator


def losses(history):
    return np.array([row["loss"] for row in history])


def module_state(estimator):
    return {k: v.clone() for k, v in estimator.module_.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


# -- progress -------------------------------------------------------------------
def test_verbose_prints_a_bar_and_a_table_and_is_quiet_by_default(norm_task, capsys):
    X, y = norm_task
    tiny_classifier().fit(X, y)
    assert capsys.readouterr().err == ""
    tiny_classifier(verbose=1, validation_fraction=0.25, validation_interval=4).fit(X, y)
    err = capsys.readouterr().err
    assert "it/s" in err  # the tqdm bar
    header = next(line for line in err.splitlines() if "validation_loss" in line)
    assert header.split()[:3] == ["step", "loss", "validation_loss"]
    assert " 12/12 " in err


# -- validation and early stopping ------------------------------------------------
def test_early_stopping_stops_and_restores_the_best_weights(norm_task):
    X, y = norm_task
    clf = tiny_classifier(max_steps=100, validation_fraction=0.25, validation_interval=2,
                          n_iter_no_change=2, tol=0.0)
    scripted = iter([1.0, 0.5, 0.6, 0.7, 0.4, 0.3])
    snapshots = {}

    def validation_loss(module, indices, data):
        assert len(indices) == 12  # ceil(0.25 * 48) held out
        snapshots[len(snapshots)] = {k: v.clone() for k, v in module.state_dict().items()}
        return next(scripted)

    clf._validation_loss = validation_loss
    clf.fit(X, y)
    # Evaluations at steps 2, 4, 6, 8: best at step 4, then two without improvement.
    assert clf.stop_reason_ == "early_stopping"
    assert clf.n_steps_ == 8 and len(clf.history_) == 8
    assert clf.best_step_ == 4 and clf.best_validation_loss_ == 0.5
    assert [row.get("validation_loss") for row in clf.history_[1::2]] == [1.0, 0.5, 0.6, 0.7]
    assert_same_state(module_state(clf), snapshots[1])


def test_early_stopping_on_a_real_validation_loss(norm_task):
    X, y = norm_task
    # A tolerance no loss can beat: it stops after 1 + n_iter_no_change evaluations.
    clf = tiny_classifier(max_steps=200, validation_fraction=0.2, validation_interval=5,
                          n_iter_no_change=3, tol=100.0).fit(X, y)
    assert clf.stop_reason_ == "early_stopping" and clf.n_steps_ == 20
    evaluated = [row["validation_loss"] for row in clf.history_ if "validation_loss" in row]
    assert len(evaluated) == 4 and np.all(np.isfinite(evaluated))
    assert clf.best_validation_loss_ == min(evaluated)
    plain = tiny_classifier(max_steps=20).fit(X, y)
    assert plain.best_validation_loss_ is None and plain.stop_reason_ == "max_steps"


def test_transformer_validation_loss_is_evaluated(tiny_pairs):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params(
        max_steps=6, validation_fraction=0.25, validation_interval=3, spectral_dropout=0.5))
    niso.fit(X)
    evaluated = [row["validation_loss"] for row in niso.history_ if "validation_loss" in row]
    assert len(evaluated) == 2 and np.all(np.isfinite(evaluated))


@pytest.mark.parametrize("params, message", [
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(validation_fraction=0.99), "leaves no training samples"),
    (dict(n_iter_no_change=0), "n_iter_no_change"),
    (dict(grad_clip_norm=-1.0), "grad_clip_norm"),
    (dict(on_divergence="ignore"), "on_divergence"),
    (dict(precision="64"), "precision"),
    (dict(precision="16-mixed"), "needs a CUDA device"),
    (dict(compile="yes"), "'compile' parameter"),
])
def test_bad_training_parameters_are_named(norm_task, params, message):
    X, y = norm_task
    with pytest.raises(ValueError, match=message):
        tiny_classifier(device="cpu", **params).fit(X, y)


# -- gradient clipping -------------------------------------------------------------
def test_gradient_clipping_bounds_the_step(norm_task):
    X, y = norm_task
    clf = tiny_classifier(max_steps=1, lr=1.0, weight_decay=0.0, grad_clip_norm=1e-3)
    clf._configure_optimizer = lambda module: torch.optim.SGD(module.parameters(), lr=1.0)
    start = tiny_classifier(max_steps=1, lr=1e-12, weight_decay=0.0)
    start._configure_optimizer = clf._configure_optimizer
    start.fit(X, y)
    clf.fit(X, y)
    # SGD with lr 1 moves the weights by exactly the clipped gradient.
    moved = torch.sqrt(sum(((a.detach() - b.detach()) ** 2).sum() for a, b in zip(
        clf.module_.parameters(), start.module_.parameters())))
    assert clf.history_[0]["grad_norm"] > 1e-3  # the norm before clipping
    assert float(moved) == pytest.approx(1e-3, rel=1e-3)


# -- warm starts, partial_fit, interruption, checkpoints ---------------------------------
def test_keyboard_interrupt_leaves_a_fitted_model_with_the_steps_done(norm_task):
    X, y = norm_task
    clf = interrupt_at(tiny_classifier(), 5)
    with pytest.warns(TrainingInterruptedWarning, match="after step 5 of 12"):
        clf.fit(X, y)
    assert clf.n_steps_ == 5 and len(clf.history_) == 5 and clf.stop_reason_ == "interrupted"
    assert clf.predict(X).shape == (48,)
    assert all(p.grad is None for p in clf.module_.parameters())
    assert not clf.module_.training


def test_interrupt_before_any_step_restores_the_previous_state(norm_task):
    X, y = norm_task
    clf = tiny_classifier()

    def step(*args):
        raise KeyboardInterrupt

    clf._training_step = step
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_interrupted_run_continued_by_warm_start_matches_an_uninterrupted_run(norm_task):
    X, y = norm_task
    full = tiny_classifier().fit(X, y)
    clf = interrupt_at(tiny_classifier(warm_start=True), 5)
    with pytest.warns(TrainingInterruptedWarning):
        clf.fit(X, y)
    del clf._on_step_end
    clf.fit(X, y)
    assert clf.n_steps_ == 12
    np.testing.assert_array_equal(losses(clf.history_), losses(full.history_))
    assert_same_state(module_state(clf), module_state(full))
    with pytest.warns(UserWarning, match="nothing to continue"):
        clf.fit(X, y)
    assert clf.n_steps_ == 12


def test_max_time_stops_the_fit_and_warm_start_continues_it(norm_task, monkeypatch):
    X, y = norm_task
    full = tiny_classifier().fit(X, y)
    # A clock that advances one second per reading makes the budget a step count.
    clock = iter(range(10**6))
    monkeypatch.setattr("skniso.training._clock", lambda: float(next(clock)))
    clf = tiny_classifier(max_time=7.5, warm_start=True).fit(X, y)
    assert clf.stop_reason_ == "max_time" and 0 < clf.n_steps_ < 12
    assert clf.predict(X).shape == (48,)
    clf.set_params(max_time=None).fit(X, y)
    assert clf.n_steps_ == 12 and clf.stop_reason_ == "max_steps"
    np.testing.assert_array_equal(losses(clf.history_), losses(full.history_))
    assert_same_state(module_state(clf), module_state(full))
    with pytest.raises(ValueError, match="max_time"):
        tiny_classifier(max_time=0).fit(X, y)


def test_warm_start_needs_the_same_layout(norm_task):
    X, y = norm_task
    clf = tiny_classifier(warm_start=True, max_steps=2).fit(X, y)
    with pytest.raises(ValueError, match="expecting 6 features"):
        clf.fit(X[:, :2], y)
    with pytest.raises(ValueError, match="outside the classes"):
        clf.fit(X, y + 5)


def test_partial_fit_continues_the_run_one_pass_at_a_time(norm_task):
    X, y = norm_task
    clf = tiny_classifier(batch_size=16)
    clf.partial_fit(X[:24], y[:24], classes=[0, 1])
    assert clf.n_steps_ == 2
    weights = module_state(clf)
    clf.partial_fit(X[24:], y[24:])
    assert clf.n_steps_ == 4 and len(clf.history_) == 4
    assert any(not torch.equal(weights[k], v) for k, v in module_state(clf).items())
    with pytest.raises(ValueError, match="outside the classes"):
        clf.partial_fit(X, np.full(48, 7))
    with pytest.raises(ValueError, match="at least 2 classes"):
        tiny_classifier().partial_fit(X[:5], np.zeros(5))
    niso = NeuralIsometryTransformer(**tiny_conv_params())
    X_pairs = np.random.default_rng(1).standard_normal((8, 2, 1, 8, 8)).astype(np.float32)
    niso.partial_fit(X_pairs).partial_fit(X_pairs)
    assert niso.n_steps_ == 4 and niso.transform(X_pairs).shape == (8, 18)


@pytest.mark.parametrize("validation_fraction", [None, 0.25])
def test_resumed_run_matches_an_uninterrupted_run(norm_task, tmp_path, validation_fraction):
    X, y = norm_task
    params = dict(max_steps=16, validation_fraction=validation_fraction, validation_interval=4,
                  n_iter_no_change=50)
    full = tiny_classifier(**params).fit(X, y)
    path = tmp_path / "run" / "clf.pt"
    first = interrupt_at(tiny_classifier(checkpoint_path=path, checkpoint_interval=6, **params), 9)
    with pytest.warns(TrainingInterruptedWarning):
        first.fit(X, y)
    assert path.exists()
    # A fresh estimator (a new process, say) resumes from the checkpoint at step 6.
    resumed = tiny_classifier(checkpoint_path=path, checkpoint_interval=6, **params).fit(X, y)
    assert resumed.n_steps_ == 16
    np.testing.assert_array_equal(losses(resumed.history_), losses(full.history_))
    assert [r.get("validation_loss") for r in resumed.history_] == [
        r.get("validation_loss") for r in full.history_]
    assert_same_state(module_state(resumed), module_state(full))
    np.testing.assert_array_equal(resumed.predict_proba(X), full.predict_proba(X))


def test_checkpoint_of_other_parameters_or_data_is_refused(norm_task, tmp_path):
    X, y = norm_task
    path = tmp_path / "clf.pt"
    tiny_classifier(checkpoint_path=path, max_steps=4).fit(X, y)
    with pytest.raises(ValueError, match="differing: lr"):
        tiny_classifier(checkpoint_path=path, max_steps=4, lr=0.1).fit(X, y)
    with pytest.raises(ValueError, match="differing: .*data"):
        tiny_classifier(checkpoint_path=path, max_steps=4).fit(np.roll(X, 1, axis=0), y)
    with pytest.warns(UserWarning, match="already ran 4 steps of max_steps=4; nothing to continue"):
        tiny_classifier(checkpoint_path=path, max_steps=4).fit(X, y)
    # A finished run resumed with a larger budget trains on.
    longer = tiny_classifier(checkpoint_path=path, max_steps=6).fit(X, y)
    assert longer.n_steps_ == 6
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable skniso checkpoint"):
        tiny_classifier(checkpoint_path=path).fit(X, y)


def test_transformer_resume_matches_uninterrupted(tiny_pairs, tmp_path):
    X, _ = tiny_pairs
    params = tiny_conv_params(max_steps=8, checkpoint_interval=3)
    full = NeuralIsometryTransformer(**params).fit(X)
    path = tmp_path / "niso.pt"
    first = interrupt_at(NeuralIsometryTransformer(checkpoint_path=path, **params), 4)
    with pytest.warns(TrainingInterruptedWarning):
        first.fit(X)
    resumed = NeuralIsometryTransformer(checkpoint_path=path, **params).fit(X)
    np.testing.assert_array_equal(losses(resumed.history_), losses(full.history_))
    np.testing.assert_array_equal(resumed.transform(X), full.transform(X))


# -- divergence --------------------------------------------------------------------
def poison_step(estimator, at_step, kind="loss"):
    """From call ``at_step`` on, the training step's loss (or only its gradient) is NaN."""
    original = estimator._training_step
    calls = []

    def step(module, indices, data, generator):
        calls.append(1)
        result = original(module, indices, data, generator)
        if len(calls) >= at_step:
            if kind == "loss":
                result["loss"] = result["loss"] * float("nan")
            else:  # finite value, NaN gradient: d sqrt(x)/dx at 0 is inf, times 0
                first = next(module.parameters())
                result["loss"] = result["loss"] + (first.sum() * 0).sqrt()
        return result

    estimator._training_step = step
    return estimator


def test_divergence_raises_with_the_step_and_keeps_the_previous_fit(norm_task):
    X, y = norm_task
    clf = tiny_classifier().fit(X, y)
    before = clf.predict_proba(X)
    poison_step(clf, 4)
    with pytest.raises(DivergenceError, match="diverged at step 4"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


@pytest.mark.parametrize("kind", ["loss", "gradient"])
def test_divergence_restore_keeps_the_last_finite_state(norm_task, kind):
    X, y = norm_task
    clf = poison_step(tiny_classifier(on_divergence="restore"), 4, kind)
    with pytest.warns(DivergenceWarning, match="diverged at step 4.*kept the state after step 3"):
        clf.fit(X, y)
    assert clf.n_steps_ == 3 and clf.stop_reason_ == "divergence"
    assert all(torch.isfinite(p).all() for p in clf.module_.parameters())
    assert np.isfinite(clf.predict_proba(X)).all()


def test_nan_weights_after_the_last_step_are_never_returned(norm_task):
    X, y = norm_task
    clf = poison_step(tiny_classifier(max_steps=3), 3, "gradient")
    with pytest.raises(DivergenceError, match="became non-finite"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


# -- precision and compile ---------------------------------------------------------
@pytest.mark.parametrize("precision", ["32", "bf16"])
def test_pickles_round_trip_across_precision(norm_task, tiny_pairs, precision):
    X, y = norm_task
    clf = tiny_classifier(precision=precision, max_steps=4).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    pairs, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**tiny_conv_params(precision=precision)).fit(pairs)
    assert np.isfinite(losses(niso.history_)).all()
    assert all(p.dtype == torch.float32 for p in niso.model_.parameters())
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(niso)).transform(pairs), niso.transform(pairs))


def test_bf16_training_stays_close_to_float32(norm_task):
    X, y = norm_task
    full = losses(tiny_classifier().fit(X, y).history_)
    half = losses(tiny_classifier(precision="bf16").fit(X, y).history_)
    assert not np.array_equal(full, half)  # autocast really ran
    # Same initial weights: the first loss differs only by bfloat16 rounding.
    assert half[0] == pytest.approx(full[0], rel=2e-2)
    assert np.isfinite(half).all()


@pytest.mark.parametrize("precision", ["32", "bf16"])
@pytest.mark.parametrize("compile", [
    {"backend": "eager"},  # dynamo's tracing and wrappers without inductor's C++ build
    pytest.param(True, marks=pytest.mark.slow),  # inductor: about 10 s cold on a CPU
])
def test_compiled_fit_pickles_plain_modules(norm_task, precision, compile):
    X, y = norm_task
    state = torch.random.get_rng_state()
    clf = tiny_classifier(compile=compile, precision=precision, max_steps=3).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(getattr(m, "_compiled_call_impl", None) is None for m in clf.module_.modules())
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    eager = tiny_classifier(precision=precision, max_steps=3).fit(X, y)
    np.testing.assert_allclose(losses(clf.history_), losses(eager.history_), rtol=2e-2, atol=1e-3)


@pytest.mark.slow
def test_compiled_transformer_fit_pickles():
    # Inductor compiles the conv encoder and decoder: seconds to minutes on 2 CPU
    # cores, depending on its on-disk cache.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2, 1, 8, 8)).astype(np.float32)
    niso = NeuralIsometryTransformer(**tiny_conv_params(compile=True)).fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(niso)).transform(X), niso.transform(X))


# -- seeding ---------------------------------------------------------------------
def test_random_state_gives_identical_fits_without_touching_the_global_rng(norm_task, tmp_path):
    X, y = norm_task
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    params = dict(validation_fraction=0.25, validation_interval=3, grad_clip_norm=1.0, random_state=11)
    a = tiny_classifier(**params).fit(X, y)
    b = tiny_classifier(checkpoint_path=tmp_path / "b.pt", checkpoint_interval=5, **params).fit(X, y)
    c = tiny_classifier(**{**params, "random_state": 12}).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())
    assert_same_state(module_state(a), module_state(b))
    assert not torch.equal(next(a.module_.parameters()), next(c.module_.parameters()))


def test_pickles_without_the_new_parameters_load_with_defaults(norm_task):
    X, y = norm_task
    clf = tiny_classifier(max_steps=2).fit(X, y)
    state = clf.__getstate__()
    for name in ("precision", "compile", "checkpoint_path", "warm_start", "on_divergence"):
        del state[name]
    old = EquivariantClassifier.__new__(EquivariantClassifier)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old.__setstate__(state)
    assert old.precision == "32" and old.compile is False and old.warm_start is False
    np.testing.assert_array_equal(old.predict(X), clf.predict(X))


# -- every estimator: the same parameters, honoured by each one's data layout ----------
def trained_estimator_classes():
    """Every skniso estimator on the training loop (the classes with an ``__init__`` of their own).

    Importing ``skniso`` and ``skniso.baselines`` (above) defined them all.
    """
    found, pending = [], [TrainedModuleMixin]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("skniso.") and "__init__" in vars(sub):
                found.append(sub)
    return sorted(found, key=lambda cls: cls.__name__)


def test_every_trained_estimator_takes_and_documents_the_training_parameters():
    classes = trained_estimator_classes()
    assert {"CNNClassifier", "CNNClassifier3D", "GroupCNNClassifier", "SteerableCNNClassifier",
            "AugmentedMLPClassifier", "PoseRegressor", "FineTunedClassifier",
            "NeuralIsometryTransformer", "EquivariantClassifier"} <= {c.__name__ for c in classes}

    def training_tail(cls):
        names = list(inspect.signature(cls).parameters.values())
        start = [p.name for p in names].index("max_steps")
        return [(p.name, p.default) for p in names[start:]]

    reference = training_tail(EquivariantClassifier)
    # The loop reads its options by the names it lists; they are the estimators' parameters.
    assert [name for name, _ in reference[8:]] == list(_LOOP_PARAMETERS)
    for cls in classes:
        tail = training_tail(cls)
        # Their own defaults for max_steps ... verbose; the loop's options are the same everywhere.
        assert [name for name, _ in tail] == [name for name, _ in reference], cls.__name__
        assert tail[8:] == reference[8:], cls.__name__
        assert TRAINING_PARAMETERS_DOC in cls.__doc__ and "%(" not in cls.__doc__, cls.__name__


def shifted_poses(n):
    """Rigid poses (n, 4, 4): turns about z, steps along x."""
    angle = np.linspace(0.0, 2.0, n)
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, 0, 0], poses[:, 0, 1], poses[:, 1, 0], poses[:, 1, 1] = (
        np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle))
    poses[:, 0, 3] = 1.0
    return angle, poses


def noisy(batch, generator):
    """An augmentation that draws from the training loop's generator."""
    return batch + 0.1 * torch.randn(batch.shape, generator=generator)


def estimator_task(name, tiny_pairs=None, **overrides):
    """A tiny estimator other than EquivariantClassifier, and the arguments of its ``fit``."""
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 8, 8), dtype=np.float32)
    labels = np.arange(40) % 2
    common = {**dict(max_steps=12, batch_size=8, warmup_steps=0, random_state=0), **overrides}
    if name == "CNNClassifier":
        return CNNClassifier(channels=(4,), hidden=8, **common), (images, labels), {}
    if name == "AugmentedMLPClassifier":
        return AugmentedMLPClassifier(hidden_layer_sizes=(8,), augmentation=noisy, **common), (images, labels), {}
    if name == "PoseRegressor":
        angle, poses = shifted_poses(40)
        features = np.stack([np.cos(angle), np.sin(angle), rng.standard_normal(40)], axis=1)
        regressor = PoseRegressor(width=8, n_layers=2, **{**common, "batch_size": 4})
        return regressor, (features, poses), {"groups": np.arange(40) // 4}
    assert name == "FineTunedClassifier"
    X, y = tiny_pairs
    transformer = NeuralIsometryTransformer(**tiny_conv_params())
    head = FineTunedClassifier(transformer, width=8, gram_channels=4, readout_width=8, **common)
    return head, (X, y), {}


OTHER_ESTIMATORS = ["CNNClassifier", "AugmentedMLPClassifier", "PoseRegressor", "FineTunedClassifier"]


@pytest.mark.parametrize("name", OTHER_ESTIMATORS)
def test_every_estimator_stops_at_max_time_and_warm_start_continues_it(name, tiny_pairs, monkeypatch):
    full, args, kwargs = estimator_task(name, tiny_pairs)
    full.fit(*args, **kwargs)
    clock = iter(range(10**6))
    monkeypatch.setattr("skniso.training._clock", lambda: float(next(clock)))
    clf, _, _ = estimator_task(name, tiny_pairs, max_time=4.5, warm_start=True)
    clf.fit(*args, **kwargs)
    assert clf.stop_reason_ == "max_time" and 0 < clf.n_steps_ < 12
    clf.set_params(max_time=None).fit(*args, **kwargs)
    # The same run as one uninterrupted fit: weights, optimiser, batches and random draws went on.
    assert clf.n_steps_ == 12 and clf.stop_reason_ == "max_steps"
    np.testing.assert_array_equal(losses(clf.history_), losses(full.history_))
    assert_same_state(module_state(clf), module_state(full))
    np.testing.assert_array_equal(clf.predict(args[0]), full.predict(args[0]))


@pytest.mark.parametrize("name, n_units, n_held_out", [("CNNClassifier", 40, 10), ("PoseRegressor", 10, 3)])
def test_early_stopping_holds_out_samples_in_each_estimators_layout(name, n_units, n_held_out):
    clf, args, kwargs = estimator_task(name, max_steps=200, validation_fraction=0.25, validation_interval=2,
                                       n_iter_no_change=2, tol=100.0)
    training = clf._training_step
    seen = {True: set(), False: set()}

    def step(module, indices, data, generator):
        seen[module.training].update(indices.tolist())
        return training(module, indices, data, generator)

    clf._training_step = step
    clf.fit(*args, **kwargs)
    # A tolerance no loss can beat: it stops after 1 + n_iter_no_change evaluations.
    assert clf.stop_reason_ == "early_stopping" and clf.n_steps_ == 6
    evaluated = [row["validation_loss"] for row in clf.history_ if "validation_loss" in row]
    assert len(evaluated) == 3 and np.all(np.isfinite(evaluated))
    assert clf.best_validation_loss_ == min(evaluated)
    # Samples (or, for the pose regressor, whole sequences) are either trained on or held out.
    assert len(seen[False]) == n_held_out and not seen[False] & seen[True]
    assert seen[False] | seen[True] <= set(range(n_units))


def test_a_baseline_resumes_its_checkpoint_and_refuses_other_layouts(tmp_path):
    full, (X, y), _ = estimator_task("CNNClassifier", validation_fraction=0.25, validation_interval=4)
    full.fit(X, y)
    path = tmp_path / "cnn.pt"
    first, _, _ = estimator_task("CNNClassifier", validation_fraction=0.25, validation_interval=4,
                                 checkpoint_path=path, checkpoint_interval=3)
    with pytest.warns(TrainingInterruptedWarning):
        interrupt_at(first, 5).fit(X, y)
    resumed, _, _ = estimator_task("CNNClassifier", validation_fraction=0.25, validation_interval=4,
                                   checkpoint_path=path, checkpoint_interval=3)
    resumed.fit(X, y)
    np.testing.assert_array_equal(losses(resumed.history_), losses(full.history_))
    assert_same_state(module_state(resumed), module_state(full))
    resumed.set_params(warm_start=True, checkpoint_path=None, max_steps=14)
    with pytest.raises(ValueError, match="expecting 64 features"):
        resumed.fit(X[..., :4, :4], y)
    with pytest.raises(ValueError, match="outside the classes"):
        resumed.fit(X, y + 2)
    assert resumed.fit(X, y).n_steps_ == 14


def test_baseline_pickles_without_the_loop_parameters_load_with_defaults():
    clf, (X, y), _ = estimator_task("CNNClassifier", max_steps=2)
    clf.fit(X, y)
    state = clf.__getstate__()
    options = clf._training_options()
    for name in options:
        del state[name]
    old = CNNClassifier.__new__(CNNClassifier)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old.__setstate__(state)
    assert old._training_options() == options
    np.testing.assert_array_equal(old.predict(X), clf.predict(X))


# -- data-parallel training --------------------------------------------------------
@pytest.mark.slow  # 20-25 s on 2 shared cores, mostly three interpreters importing torch
def test_ddp_matches_a_single_process_run(tmp_path):
    # Two gloo processes under torchrun, each on half of every global batch of 8,
    # against one process on the whole batch: DDP averages the gradients, so the
    # runs agree up to the order of floating-point sums.
    import os
    import subprocess
    import sys

    from ._ddp_fit import ddp_problem

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "ddp.npz"
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
               os.path.join(root, "tests", "_ddp_fit.py"), str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    X, params = ddp_problem()
    single = NeuralIsometryTransformer(**params).fit(X)
    distributed = np.load(out)
    np.testing.assert_allclose(distributed["losses"], losses(single.history_), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(distributed["Z"], single.transform(X), rtol=1e-3, atol=1e-4)


@pytest.mark.slow  # 30-60 s on 2 shared cores: two worker processes start and import torch
def test_grid_search_on_a_dask_cluster(norm_task):
    # GridSearchCV under joblib's Dask backend on a LocalCluster of two worker
    # processes with one torch thread each gives the serial search's results.
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config
    from sklearn.model_selection import GridSearchCV

    X, y = norm_task
    grid = {"lr": [1e-3, 1e-2]}
    serial = GridSearchCV(tiny_classifier(), grid, cv=2).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        threads = client.run(lambda: __import__("torch").get_num_threads())
        assert sorted(threads.values()) == [1, 1]
        with distributed.get_task_stream(client) as tasks, parallel_config(backend="dask"):
            search = GridSearchCV(tiny_classifier(), grid, cv=2).fit(X, y)
    assert len(tasks.data) >= 4  # 2 candidates x 2 folds ran on the workers
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert search.best_params_ == serial.best_params_


@pytest.mark.parametrize("name", ["niso_cuda_16mixed_compiled", "clf_cuda_16mixed_compiled"])
def test_gpu_mixed_precision_compiled_fixtures_load_with_plain_joblib(name):
    # Made by benchmarks/gpu_session.py on a GPU; until a session has made them
    # this test skips, and the CPU paths above (bf16, compile) stand in.
    import os

    import joblib

    fixtures = os.path.join(os.path.dirname(__file__), "fixtures")
    path = os.path.join(fixtures, f"{name}.joblib")
    if not os.path.exists(path):
        pytest.skip(f"{name}.joblib not made yet: run benchmarks/gpu_session.py on a GPU")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the device fallback and sklearn's version warning
        model = joblib.load(path)
    reference = np.load(os.path.join(fixtures, f"{name}_expected.npz"))
    assert model.precision == "16-mixed" and model.compile is True
    assert all(getattr(m, "_compiled_call_impl", None) is None
               for attr in model._module_attributes for m in getattr(model, attr).modules())
    out = model.transform(reference["X"]) if hasattr(model, "transform") else model.predict_proba(reference["X"])
    np.testing.assert_allclose(out, reference["output"], rtol=1e-4, atol=1e-4)
