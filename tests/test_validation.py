"""Issue 7's bad-input battery (one test per case) and hypothesis fuzzing of it.

The battery itself is in tests/bad_input_battery.py, shared with
benchmarks/bad_inputs.py, which prints the table in BENCHMARKS.md.
"""

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sklearn.utils._param_validation import InvalidParameterError

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso._validation import (
    TRAINING_PARAMETER_CONSTRAINTS,
    check_int,
    check_ints,
    is_integer,
    positive_int,
)
from skniso.datasets import make_circular_shifts
from skniso.training import DivergenceError
from skniso.utils import torch_generator

from .bad_input_battery import CASES, TINY_CLASSIFIER, TINY_TRANSFORMER, fitted_estimators, run_case
from .integer_rule import names_the_value


@pytest.mark.parametrize("case", CASES, ids=[f"{c.estimator}.{c.method}: {c.case}" for c in CASES])
def test_bad_input_is_rejected_cleanly(case):
    outcome = run_case(case)
    assert outcome.clean, f"{outcome.problem}; got {outcome.raised}: {outcome.message}"


def test_battery_covers_every_item_of_the_issue():
    categories = {case.category for case in CASES}
    assert categories == {
        "ndim / pair axis", "spatial size vs pooling", "NaN / inf", "empty input", "y length",
        "non-numeric dtype", "before fit", "shape / channels unlike fit", "K vs latent domain",
        "invalid parameter",
    }
    for estimator in ("transformer", "classifier"):
        assert {c.category for c in CASES if c.estimator == estimator} >= categories - {
            "spatial size vs pooling", "y length"
        }


def test_every_parameter_has_a_constraint():
    for cls in (NeuralIsometryTransformer, EquivariantClassifier):
        assert set(cls._parameter_constraints) == set(cls().get_params(deep=False))
        for name, constraint in TRAINING_PARAMETER_CONSTRAINTS.items():
            assert cls._parameter_constraints[name] is constraint



# -- the one integer rule ----------------------------------------------------------
POSITIVE_INTS = [1, 7, np.int64(3), np.uint8(2), np.int32(1)]
NOT_POSITIVE_INTS = [0, -2, True, False, np.bool_(True), 3.0, np.float64(3.0), np.array(3), np.array([3]),
                     "3", None]


@pytest.mark.parametrize("value", POSITIVE_INTS, ids=repr)
def test_every_check_accepts_python_and_numpy_integers(value):
    assert is_integer(value, minimum=1) and positive_int.is_satisfied_by(value)
    assert check_int(value, "n") == value and type(check_int(value, "n")) is int
    assert check_ints((value, value), "sizes") == (int(value),) * 2


@pytest.mark.parametrize("value", NOT_POSITIVE_INTS, ids=repr)
def test_every_check_rejects_bools_floats_arrays_and_non_positive_values(value):
    assert not is_integer(value, minimum=1) and not positive_int.is_satisfied_by(value)
    with pytest.raises(ValueError, match=f"^n must be a positive integer, got {re.escape(repr(value))}$"):
        check_int(value, "n")
    with pytest.raises(ValueError, match=r"^sizes must be a non-empty tuple of positive integers, got \(4, "):
        check_ints((4, value), "sizes")


def test_tuples_of_positive_integers():
    assert check_ints(np.array([4, 8]), "channels") == (4, 8)
    assert check_ints([], "hidden", allow_empty=True) == ()
    for bad in ((), 5, None):
        with pytest.raises(ValueError, match="channels must be a non-empty tuple of positive integers"):
            check_ints(bad, "channels")


def test_is_integer_takes_open_and_closed_bounds():
    assert is_integer(np.int64(-5), minimum=None) and not is_integer(True, minimum=None)
    assert is_integer(3, minimum=1, maximum=3) and not is_integer(4, minimum=1, maximum=3)
    assert not is_integer(3.0, minimum=None, maximum=None)


@pytest.mark.parametrize("kwargs, minimum, below, message", [
    (dict(minimum=0), 0, -1, "n must be a non-negative integer, got -1"),
    (dict(minimum=2), 2, 1, "n must be an integer >= 2, got 1"),
    (dict(maximum=5), 1, 6, r"n must be an integer in \[1, 5\], got 6"),
    (dict(minimum=None), -7, 2.5, "n must be an integer, got 2.5"),
    (dict(odd=True), 1, 2, "n must be an odd positive integer, got 2"),
    (dict(minimum=3, maximum=7, odd=True), 3, 9, r"n must be an odd integer in \[3, 7\], got 9"),
])
def test_check_int_names_the_range(kwargs, minimum, below, message):
    checked = check_int(np.int64(minimum), "n", **kwargs)
    assert checked == minimum and type(checked) is int
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_int(below, "n", **kwargs)
    for value in (True, float(minimum), np.array(minimum)):
        with pytest.raises(ValueError, match=names_the_value("n", value)):
            check_int(value, "n", **kwargs)


@pytest.mark.parametrize("name, kwargs, good, bad, words", [
    ("skips", dict(minimum=0), (0, np.int64(2)), (0, -1), "a non-empty tuple of non-negative integers"),
    ("shape", dict(minimum=2, length=2), [2, np.int64(3)], (2, 2, 2), "a tuple of 2 integers >= 2"),
    ("shape", dict(minimum=2, length=2), np.array([2, 3]), (True, 2), "a tuple of 2 integers >= 2"),
    ("offsets", dict(minimum=None, length=2), (-1, 5), (2.0, 5), "a tuple of 2 integers"),
])
def test_check_ints_names_the_range_and_length(name, kwargs, good, bad, words):
    checked = check_ints(good, name, **kwargs)
    assert checked == tuple(int(g) for g in good) and all(type(c) is int for c in checked)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{name} must be {words}, got {bad!r}')}$"):
        check_ints(bad, name, **kwargs)


def test_integer_seeds_follow_the_rule():
    assert torch_generator(np.int64(0)).initial_seed() == torch_generator(0).initial_seed() == 0
    with pytest.raises(ValueError, match=names_the_value("random_state", -1)):
        torch_generator(-1)
    with pytest.raises(ValueError):  # sklearn's check_random_state has no use for a float
        torch_generator(3.0)


@pytest.mark.parametrize("name, value", [
    ("max_steps", True), ("n_components", np.array(4)), ("warmup_steps", False), ("batch_size", 8.0),
    ("grad_clip_norm", True), ("lr", True),
])
def test_estimators_name_integers_and_numbers_that_break_the_rule(tiny_pairs, name, value):
    X, _ = tiny_pairs
    niso = NeuralIsometryTransformer(**{**TINY_TRANSFORMER, name: value})
    with pytest.raises(InvalidParameterError, match=rf"The '{name}' parameter of NeuralIsometryTransformer .*not a bool"):
        niso.fit(X)
    assert not hasattr(niso, "model_")


def test_datasets_follow_the_rule():
    assert make_circular_shifts(np.int64(2), image_size=4)[0].shape[0] == 2
    for bad in (True, 2.0):
        with pytest.raises(ValueError, match=f"n_samples must be a positive integer, got {bad!r}"):
            make_circular_shifts(bad, image_size=4)


def test_partial_fit_validates_parameters_set_after_the_first_call(tiny_pairs):
    X, labels = tiny_pairs
    niso = NeuralIsometryTransformer(**TINY_TRANSFORMER).partial_fit(X)
    latents = niso.transform(X[:, 0]).reshape(len(X), TINY_TRANSFORMER["n_components"], -1)
    clf = EquivariantClassifier(**TINY_CLASSIFIER).partial_fit(latents, labels)
    for estimator, data in ((niso, (X,)), (clf, (latents, labels))):
        estimator.set_params(batch_size=0)
        with pytest.raises(InvalidParameterError, match="The 'batch_size' parameter"):
            estimator.partial_fit(*data)


# -- fuzzing -------------------------------------------------------------------
# Few examples and tiny models: the whole module stays within seconds.
# CI sees the same examples every run; SKNISO_FUZZ=explore draws many new ones.
_BUDGETS = {"ci": dict(max_examples=30, derandomize=True), "explore": dict(max_examples=300, derandomize=False)}
FUZZ = settings(deadline=None, database=None, **_BUDGETS[os.environ.get("SKNISO_FUZZ", "ci")],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Infinities in the input make numpy warn inside sklearn's finiteness check.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# Clean rejections: sklearn's errors (InvalidParameterError and NotFittedError
# are ValueErrors), TypeError for wrong kinds, DivergenceError for a valid but
# hopeless configuration.
CLEAN = (ValueError, TypeError, DivergenceError)

dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.complex64, np.dtype("U3"), object])


@st.composite
def arrays(draw, max_dims=6, side=st.integers(0, 9)):
    dtype = draw(dtypes)
    shape = tuple(draw(st.lists(side, min_size=0, max_size=max_dims)))
    if dtype is object:
        size = int(np.prod(shape))
        # A few drawn objects, repeated to fill the shape.
        flat = draw(st.lists(st.one_of(st.floats(allow_nan=True), st.none(), st.text(max_size=2)),
                             min_size=min(size, 20), max_size=min(size, 20)))
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return np.resize(out, shape) if size else out.reshape(shape)
    special = st.sampled_from([np.nan, np.inf, -np.inf])
    elements = st.one_of(st.floats(-1e3, 1e3, width=32), special) if np.dtype(dtype).kind in "fc" else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def near_valid_pairs(draw):
    """Pairs close to the fitted layout (n, 2, 1, 8, 8): one axis or value perturbed."""
    shape = [draw(st.integers(0, 4)), 2, 1, 8, 8]
    axis = draw(st.integers(0, 4))  # 0: keep the layout
    if axis:
        shape[axis] = draw(st.integers(0, 9))
    X = np.random.default_rng(draw(st.integers(0, 9))).standard_normal(shape)
    if X.size and draw(st.integers(0, 3)) == 0:
        X.flat[draw(st.integers(0, X.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30]))
    return X


def _assert_unchanged(estimator, before, reference, X):
    after = vars(estimator)
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    np.testing.assert_array_equal(estimator.transform(X) if hasattr(estimator, "transform")
                                  else estimator.predict_proba(X), reference)


def _fit_or_reject(estimator, *args):
    try:
        estimator.fit(*args)
    except CLEAN as exc:
        assert str(exc)  # a message, not a bare exception
        event(f"rejected: {type(exc).__name__}")
        return False
    event("fitted")
    return True


def _fitted(name):
    return fitted_estimators()[name]


@FUZZ
@given(X=st.one_of(arrays(), near_valid_pairs()))
def test_fuzz_transformer_fit_either_fits_or_rejects_cleanly(X):
    niso = _fitted("transformer")
    probe = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    before, reference = dict(vars(niso)), niso.transform(probe)
    niso.set_params(max_steps=1)
    if _fit_or_reject(niso, X):
        try:
            Z = niso.transform(X)
        except ValueError as exc:  # huge finite values may overflow inside the model
            assert "produced non-finite values" in str(exc)
        else:
            assert Z.shape[0] == len(X) and np.isfinite(Z).all()
    else:
        niso.set_params(max_steps=TINY_TRANSFORMER["max_steps"])
        _assert_unchanged(niso, before, reference, probe)


@FUZZ
@given(X=st.one_of(arrays(), near_valid_pairs()))
def test_fuzz_transformer_inference_returns_finite_latents_or_rejects_cleanly(X):
    niso = _fitted("transformer")
    for method in (niso.transform, niso.isometries):
        try:
            out = method(X)
        except CLEAN:
            continue
        assert out.shape[0] == len(X) and out.dtype == np.float32 and np.isfinite(out).all()


@st.composite
def near_valid_latents(draw):
    shape = [draw(st.integers(0, 40)), 6, 4]
    axis = draw(st.integers(0, 2))  # 0: keep the layout
    if axis:
        shape[axis] = draw(st.integers(0, 8))
    Z = np.random.default_rng(draw(st.integers(0, 9))).standard_normal(shape)
    if Z.size and draw(st.integers(0, 3)) == 0:
        Z.flat[draw(st.integers(0, Z.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    return Z


LABELS = {
    "3 int classes": lambda n: np.arange(n) % 3,
    "2 str classes": lambda n: np.array(["x", "y"] * n)[:n],
    "continuous": lambda n: np.linspace(0, 1, n),
    "2-D": lambda n: np.zeros((n, 2)),
}


@FUZZ
@given(Z=st.one_of(arrays(max_dims=4), near_valid_latents()), kind=st.sampled_from(["3 int classes"] * 3 + ["2 str classes"] * 3 + ["continuous", "2-D"]),
       extra=st.sampled_from([0] * 6 + [-1, 1]))
def test_fuzz_classifier_fit_and_predict_fit_or_reject_cleanly(Z, kind, extra):
    y = LABELS[kind](max(len(Z) + extra, 0) if np.ndim(Z) else 1)
    clf = _fitted("classifier")
    probe = np.random.default_rng(0).standard_normal((5, 6, 4)).astype(np.float32)
    before, reference = dict(vars(clf)), clf.predict_proba(probe)
    clf.set_params(max_steps=1)
    if _fit_or_reject(clf, Z, y):
        assert np.isfinite(clf.predict_proba(Z)).all()
    else:
        clf.set_params(max_steps=TINY_CLASSIFIER["max_steps"])
        _assert_unchanged(clf, before, reference, probe)
    fitted = _fitted("classifier")
    try:
        proba = fitted.predict_proba(Z)
    except CLEAN:
        return
    assert proba.shape == (len(Z), 3) and np.isfinite(proba).all()


values = st.one_of(
    st.integers(-3, 9), st.floats(-2, 10), st.sampled_from([float("nan"), float("inf")]), st.booleans(), st.none(),
    st.sampled_from(["auto", "conv", "identity", "SO", "O", "fuzzy", "hard", "spread", "cpu", "x"]),
    st.tuples(st.integers(-1, 6)), st.tuples(st.integers(-1, 6), st.integers(-1, 6)),
)


FIT_ARGS = {
    "transformer": lambda: (np.random.default_rng(0).standard_normal((6, 2, 1, 8, 8)),),
    "classifier": lambda: (np.random.default_rng(0).standard_normal((20, 6, 4)), np.arange(20) % 2),
}


@settings(FUZZ, max_examples=FUZZ.max_examples * 2 // 3)
@given(data=st.data(), name=st.sampled_from(sorted(FIT_ARGS)))
def test_fuzz_parameters_fit_or_reject_cleanly(data, name):
    fit_args = FIT_ARGS[name]
    estimator = _fitted(name)
    names = sorted(set(estimator.get_params(deep=False)) - {"decoder", "verbose"})
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    overrides = {p: data.draw(values, label=p) for p in chosen}
    # Keep a fit cheap whatever was drawn.
    overrides = {p: (min(v, 3) if p == "max_steps" and isinstance(v, int) else v) for p, v in overrides.items()}
    before = dict(vars(estimator))
    estimator.set_params(**overrides)
    before.update(estimator.get_params(deep=False))
    if not _fit_or_reject(estimator, *fit_args()):
        after = vars(estimator)
        assert all(after[k] is before[k] for k in before)

