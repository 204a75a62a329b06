"""The bad-input battery of issue 7: every case, what it must raise, and a runner.

A case is *rejected cleanly* when the call raises the expected exception type,
its message matches the expected pattern (which names the problem, and the
expected shape where a shape is at fault), and the estimator is left exactly
as it was: a failed ``fit`` on a fitted estimator keeps every attribute (the
same objects) and its predictions.

Used by ``tests/test_validation.py`` (one test per case) and by
``benchmarks/bad_inputs.py`` (the table in BENCHMARKS.md).
"""

import copy
import re
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skniso import EquivariantClassifier, NeuralIsometryTransformer

__all__ = ["CASES", "BadInput", "run_case", "fitted_estimators"]

TINY_TRANSFORMER = dict(
    channels=(4, 8), blocks_per_level=(1, 1), latent_channels=3, n_components=6,
    max_steps=2, batch_size=4, warmup_steps=0, random_state=0,
)
TINY_CLASSIFIER = dict(width=8, gram_channels=4, max_steps=2, batch_size=8, random_state=0)


def transformer_data():
    """12 pairs of 1-channel 8×8 images (latent grid 4×4, K=6, C=3)."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((12, 1, 8, 8)).astype(np.float32)
    return np.stack([images, np.roll(images, 1, axis=-1)], axis=1)


def classifier_data():
    """30 latents of shape (K=6, C=4) with string labels of 3 classes."""
    rng = np.random.default_rng(1)
    return rng.standard_normal((30, 6, 4)).astype(np.float32), np.array(["a", "b", "c"] * 10)


_FITTED = {}


def fitted_estimators():
    """A fitted tiny transformer and classifier (fitted once, copied per use)."""
    if not _FITTED:
        Z, y = classifier_data()
        _FITTED["transformer"] = NeuralIsometryTransformer(**TINY_TRANSFORMER).fit(transformer_data())
        _FITTED["classifier"] = EquivariantClassifier(**TINY_CLASSIFIER).fit(Z, y)
    return {name: copy.deepcopy(est) for name, est in _FITTED.items()}


@dataclass(frozen=True)
class BadInput:
    """One bad call: ``estimator.method(*args(data))`` after ``set_params(**params)``."""

    case: str
    category: str
    estimator: str  # "transformer" or "classifier"
    method: str
    args: object  # callable: (X, Z, y) -> tuple of arguments
    error: type
    match: str
    params: dict = field(default_factory=dict)
    unfitted: bool = False


def _with(X, index, value):
    X = X.astype(np.float64)
    X[index] = value
    return X


T, C = "transformer", "classifier"
_NOT_FITTED = "is not fitted yet. Call 'fit'"
_PARAM = InvalidParameterError

CASES = [
    # -- wrong number of dimensions, wrong pair axis ---------------------------
    BadInput("1-D X", "ndim / pair axis", T, "fit", lambda X, Z, y: (X[:, 0, 0, 0, 0],), ValueError,
             r"X must be \(n_samples, n_views=2 or 3, channels, \*spatial\).*got a 1-D array"),
    BadInput("images without a view axis", "ndim / pair axis", T, "fit", lambda X, Z, y: (X[:, 0, 0],),
             ValueError, r"X of shape \(12, 8, 8\) is not \(n_samples, n_views=2 or 3"),
    BadInput("4 spatial axes", "ndim / pair axis", T, "fit",
             lambda X, Z, y: (np.zeros((4, 2, 1, 2, 2, 2, 2)),), ValueError, "1 to 3 spatial axes"),
    BadInput("1 view per sample", "ndim / pair axis", T, "fit", lambda X, Z, y: (X[:, :1],), ValueError,
             r"holds 1 view\(s\) per sample; NIso needs pairs \(2\) or triplets \(3\)"),
    BadInput("4 views per sample", "ndim / pair axis", T, "fit",
             lambda X, Z, y: (np.concatenate([X, X], axis=1),), ValueError, r"holds 4 view\(s\) per sample"),
    BadInput("pairs with regime='triplet'", "ndim / pair axis", T, "fit", lambda X, Z, y: (X,), ValueError,
             "regime='triplet' needs 3 views per sample, X has 2", params={"regime": "triplet"}),
    BadInput("2-D row of odd width", "ndim / pair axis", T, "fit",
             lambda X, Z, y: (X.reshape(12, -1)[:, :7],), ValueError, "must be a multiple of 2"),
    BadInput("1-D latents", "ndim / pair axis", C, "fit", lambda X, Z, y: (Z[:, 0, 0], y), ValueError,
             r"X must be \(n_samples, K, C\) or \(n_samples, K\*C\), got a 1-D array"),
    BadInput("4-D latents", "ndim / pair axis", C, "fit", lambda X, Z, y: (Z[..., None], y), ValueError,
             r"X must be \(n_samples, K, C\) or \(n_samples, K\*C\), got a 4-D array"),
    BadInput("1-D X to predict", "ndim / pair axis", C, "predict", lambda X, Z, y: (Z[0, 0],), ValueError,
             r"X must be \(n, 6, 4\) or \(n, 24\), got a 1-D array"),
    BadInput("1-D X to transform", "ndim / pair axis", T, "transform", lambda X, Z, y: (X[0, 0, 0, 0],),
             ValueError, r"X must be \(n, 1, 8, 8\) or \(n, n_views, 1, 8, 8\), got a 1-D array"),
    # -- spatial size too small for the encoder's pooling -----------------------
    BadInput("1×1 images", "spatial size vs pooling", T, "fit", lambda X, Z, y: (X[..., :1, :1],), ValueError,
             r"spatial shape \(1, 1\) is too small for the encoder, which pools by a factor 2"),
    BadInput("7×7 images", "spatial size vs pooling", T, "fit", lambda X, Z, y: (X[..., :7, :7],), ValueError,
             r"spatial shape \(7, 7\) is not divisible by the encoder's downsampling factor 2"),
    BadInput("4×4 images, 3 levels", "spatial size vs pooling", T, "fit", lambda X, Z, y: (X[..., :2, :2],),
             ValueError, r"spatial shape \(2, 2\) is too small for the encoder, which pools by a factor 4",
             params={"channels": (2, 2, 2), "blocks_per_level": (1, 1, 1)}),
    # -- NaN / inf -------------------------------------------------------------
    BadInput("NaN in X", "NaN / inf", T, "fit", lambda X, Z, y: (_with(X, (0, 1, 0, 3, 3), np.nan),),
             ValueError, "Input X contains NaN"),
    BadInput("inf in X", "NaN / inf", T, "fit", lambda X, Z, y: (_with(X, (5, 0, 0, 0, 0), np.inf),),
             ValueError, "Input X contains infinity"),
    BadInput("NaN in X to transform", "NaN / inf", T, "transform",
             lambda X, Z, y: (_with(X[:, 0], (0, 0, 0, 0), np.nan),), ValueError, "Input contains NaN"),
    BadInput("NaN in latents to inverse_transform", "NaN / inf", T, "inverse_transform",
             lambda X, Z, y: (np.full((2, 18), np.nan),), ValueError, "Input latents contains NaN"),
    BadInput("NaN in latents", "NaN / inf", C, "fit", lambda X, Z, y: (_with(Z, (3, 2, 1), np.nan), y),
             ValueError, "Input X contains NaN"),
    BadInput("-inf in latents", "NaN / inf", C, "fit", lambda X, Z, y: (_with(Z, (3, 2, 1), -np.inf), y),
             ValueError, "Input X contains infinity"),
    BadInput("NaN in latents to predict", "NaN / inf", C, "predict",
             lambda X, Z, y: (_with(Z, (0, 0, 0), np.nan),), ValueError, "Input X contains NaN"),
    BadInput("±3e38 overflowing float32 inside the encoder", "NaN / inf", T, "transform",
             lambda X, Z, y: (_with(X[:, 0], 1, 3e38 * np.sign(X[1, 0])),), ValueError,
             r"produced non-finite values for sample 1 .* inputs of magnitude up to 3e\+38 overflow float32"),
    BadInput("±3e38 overflowing float32 inside the head", "NaN / inf", C, "predict",
             lambda X, Z, y: (_with(Z, 2, 3e38 * np.sign(Z[2])),), ValueError,
             r"produced non-finite values for sample 2 .* overflow float32"),
    BadInput("NaN in y", "NaN / inf", C, "fit", lambda X, Z, y: (Z, np.where(np.arange(30) % 2, np.nan, 1.0)),
             ValueError, "Input y contains NaN"),
    # -- empty input -----------------------------------------------------------
    BadInput("0 pairs", "empty input", T, "fit", lambda X, Z, y: (X[:0],), ValueError,
             r"X is empty \(shape \(0, 2, 1, 8, 8\)\); expected at least one sample of \(n_samples, n_views"),
    BadInput("0-pixel images", "empty input", T, "fit", lambda X, Z, y: (X[..., :0, :0],), ValueError,
             r"X has samples of shape \(2, 1, 0, 0\), which hold no values"),
    BadInput("0 rows of 0 features", "empty input", T, "fit", lambda X, Z, y: (np.zeros((0, 0)),), ValueError,
             r"X is empty \(shape \(0, 0\)\)"),
    BadInput("0 observations to transform", "empty input", T, "transform", lambda X, Z, y: (X[:0, 0],),
             ValueError, r"X is empty \(shape \(0, 1, 8, 8\)\); expected at least one sample of \(n, 1, 8, 8\)"),
    BadInput("0 latents", "empty input", C, "fit", lambda X, Z, y: (Z[:0], y[:0]), ValueError,
             r"X is empty \(shape \(0, 6, 4\)\); expected at least one sample of \(n_samples, K, C\)"),
    BadInput("0 latents to predict", "empty input", C, "predict", lambda X, Z, y: (Z[:0],), ValueError,
             r"X is empty \(shape \(0, 6, 4\)\); expected at least one sample of \(n, 6, 4\)"),
    # -- y of the wrong length / shape -----------------------------------------
    BadInput("y one short", "y length", C, "fit", lambda X, Z, y: (Z, y[:-1]), ValueError,
             r"inconsistent numbers of samples: \[30, 29\]"),
    BadInput("y one long", "y length", C, "fit", lambda X, Z, y: (Z, np.append(y, "a")), ValueError,
             r"inconsistent numbers of samples: \[30, 31\]"),
    BadInput("2-D y", "y length", C, "fit", lambda X, Z, y: (Z, np.c_[y, y]), ValueError,
             r"y should be a 1d array, got an array of shape \(30, 2\)"),
    BadInput("one class", "y length", C, "fit", lambda X, Z, y: (Z, np.full(30, "a")), ValueError,
             "needs samples of at least 2 classes; got 1 class: .a.$"),
    # -- non-numeric dtype -----------------------------------------------------
    BadInput("strings", "non-numeric dtype", T, "fit", lambda X, Z, y: (X.astype(str),), ValueError,
             r"Non-numeric data: X must hold real numbers, got dtype <U\d+; expected \(n_samples, n_views"),
    BadInput("strings in 2-D rows", "non-numeric dtype", T, "fit", lambda X, Z, y: (X.reshape(12, -1).astype(str),),
             ValueError, r"Non-numeric data: X must hold real numbers, got dtype <U"),
    BadInput("complex numbers", "non-numeric dtype", T, "fit", lambda X, Z, y: (X.astype(complex),), ValueError,
             "Complex data not supported: X must hold real numbers"),
    BadInput("objects that are not numbers", "non-numeric dtype", T, "fit",
             lambda X, Z, y: (np.full(X.shape, "a", dtype=object),), ValueError,
             "X must hold real numbers, got objects that are not"),
    BadInput("datetimes", "non-numeric dtype", C, "fit",
             lambda X, Z, y: (np.zeros(Z.shape, dtype="datetime64[s]"), y), ValueError,
             r"Non-numeric data: X must hold real numbers, got dtype datetime64\[s\]"),
    BadInput("strings to predict", "non-numeric dtype", C, "predict", lambda X, Z, y: (Z.astype(str),),
             ValueError, r"Non-numeric data: X must hold real numbers, got dtype <U\d+; expected \(n, 6, 4\)"),
    # -- before fit ------------------------------------------------------------
    BadInput("transform before fit", "before fit", T, "transform", lambda X, Z, y: (X,), NotFittedError,
             _NOT_FITTED, unfitted=True),
    BadInput("inverse_transform before fit", "before fit", T, "inverse_transform",
             lambda X, Z, y: (np.zeros((2, 18)),), NotFittedError, _NOT_FITTED, unfitted=True),
    BadInput("isometries before fit", "before fit", T, "isometries", lambda X, Z, y: (X,), NotFittedError,
             _NOT_FITTED, unfitted=True),
    BadInput("score before fit", "before fit", T, "score", lambda X, Z, y: (X,), NotFittedError,
             _NOT_FITTED, unfitted=True),
    BadInput("predict before fit", "before fit", C, "predict", lambda X, Z, y: (Z,), NotFittedError,
             _NOT_FITTED, unfitted=True),
    BadInput("predict_proba before fit", "before fit", C, "predict_proba", lambda X, Z, y: (Z,), NotFittedError,
             _NOT_FITTED, unfitted=True),
    BadInput("decision_function before fit", "before fit", C, "decision_function", lambda X, Z, y: (Z,),
             NotFittedError, _NOT_FITTED, unfitted=True),
    # -- shape or channels unlike fit --------------------------------------------
    BadInput("2 channels of the same size", "shape / channels unlike fit", T, "transform",
             lambda X, Z, y: (X[:, :, 0],), ValueError,
             r"X has samples of shape \(2, 8, 8\), but NeuralIsometryTransformer was fitted on observations "
             r"of shape \(1, 8, 8\): expected X of shape \(n, 1, 8, 8\) or \(n, n_views, 1, 8, 8\)"),
    BadInput("16×4 images of the same size", "shape / channels unlike fit", T, "transform",
             lambda X, Z, y: (X[:, 0].reshape(12, 1, 16, 4),), ValueError,
             r"X has samples of shape \(1, 16, 4\), but NeuralIsometryTransformer was fitted on observations"),
    BadInput("16×16 images", "shape / channels unlike fit", T, "transform",
             lambda X, Z, y: (np.zeros((2, 1, 16, 16)),), ValueError, r"X has samples of shape \(1, 16, 16\)"),
    BadInput("rows of another width", "shape / channels unlike fit", T, "transform",
             lambda X, Z, y: (np.zeros((2, 100)),), ValueError,
             r"X has 100 features, but NeuralIsometryTransformer is expecting 128 features .*\(or 64 for single "
             r"observations of shape \(1, 8, 8\)"),
    BadInput("pairs to isometries after fit on 1 channel", "shape / channels unlike fit", T, "isometries",
             lambda X, Z, y: (np.zeros((2, 2, 3, 8, 8)),), ValueError, r"X has samples of shape \(2, 3, 8, 8\)"),
    BadInput("latents of another shape", "shape / channels unlike fit", T, "inverse_transform",
             lambda X, Z, y: (np.zeros((2, 5, 3)),), ValueError, r"expected latents of shape \(n, 18\) or \(n, 6, 3\)"),
    BadInput("single observations to isometries", "shape / channels unlike fit", T, "isometries",
             lambda X, Z, y: (X[:, 0],), ValueError, "X holds single observations: pairs of views are needed"),
    BadInput("K and C swapped", "shape / channels unlike fit", C, "predict",
             lambda X, Z, y: (Z.transpose(0, 2, 1),), ValueError,
             r"X has samples of shape \(4, 6\), but EquivariantClassifier was fitted on latents of shape \(6, 4\)"),
    BadInput("another C", "shape / channels unlike fit", C, "predict", lambda X, Z, y: (Z[:, :, :3],),
             ValueError, r"X has samples of shape \(6, 3\), but EquivariantClassifier was fitted on latents"),
    BadInput("flat latents of another width", "shape / channels unlike fit", C, "predict",
             lambda X, Z, y: (Z.reshape(30, -1)[:, :20],), ValueError,
             "X has 20 features, but EquivariantClassifier is expecting 24 features"),
    # -- K larger than the latent domain ---------------------------------------
    BadInput("K=17 on a 4×4 latent grid", "K vs latent domain", T, "fit", lambda X, Z, y: (X,), ValueError,
             r"n_components=17 exceeds the latent grid's 16 points \(grid \(4, 4\)\)", params={"n_components": 17}),
    BadInput("K=65 with the identity encoder", "K vs latent domain", T, "fit", lambda X, Z, y: (X,), ValueError,
             r"n_components=65 exceeds the latent grid's 64 points \(grid \(8, 8\)\)",
             params={"encoder": "identity", "n_components": 65}),
    BadInput("n_components unlike the latents' K", "K vs latent domain", C, "fit", lambda X, Z, y: (Z, y),
             ValueError, "X has K=6 rows per sample but n_components=5", params={"n_components": 5}),
    BadInput("features not a multiple of K", "K vs latent domain", C, "fit",
             lambda X, Z, y: (Z.reshape(30, -1)[:, :23], y), ValueError,
             "X has 23 features, which is not a multiple of n_components=6", params={"n_components": 6}),
    # -- invalid parameter values (sklearn's _parameter_constraints) ------------
    *[
        BadInput(f"{name}={value!r}", "invalid parameter", est, "fit",
                 (lambda X, Z, y: (X,)) if est == T else (lambda X, Z, y: (Z, y)), _PARAM,
                 rf"The '{name}' parameter of {cls} must be .* Got {pattern} instead", params={name: value})
        for est, cls, name, value, pattern in [
            (T, "NeuralIsometryTransformer", "n_components", 0, "0"),
            (T, "NeuralIsometryTransformer", "n_components", 2.5, "2.5"),
            (T, "NeuralIsometryTransformer", "alpha", -1.0, "-1.0"),
            (T, "NeuralIsometryTransformer", "alpha", float("nan"), "nan"),
            (T, "NeuralIsometryTransformer", "encoder", "mlp", "'mlp'"),
            (T, "NeuralIsometryTransformer", "mask", "soft", "'soft'"),
            (T, "NeuralIsometryTransformer", "mask_temperature", 0.0, "0.0"),
            (T, "NeuralIsometryTransformer", "spectral_dropout", 1.5, "1.5"),
            (T, "NeuralIsometryTransformer", "equivariance_normalization", "l2", "'l2'"),
            (T, "NeuralIsometryTransformer", "pair_transform", "shift", "'shift'"),
            (T, "NeuralIsometryTransformer", "max_steps", 0, "0"),
            (T, "NeuralIsometryTransformer", "lr", 0.0, "0.0"),
            (T, "NeuralIsometryTransformer", "random_state", -1, "-1"),
            (T, "NeuralIsometryTransformer", "flatten", "yes", "'yes'"),
            (C, "EquivariantClassifier", "n_components", "all", "'all'"),
            (C, "EquivariantClassifier", "width", 0, "0"),
            (C, "EquivariantClassifier", "readout_width", -4, "-4"),
            (C, "EquivariantClassifier", "batch_size", 1.5, "1.5"),
            (C, "EquivariantClassifier", "weight_decay", -0.1, "-0.1"),
        ]
    ],
    BadInput("channels and blocks_per_level of unequal length", "invalid parameter", T, "fit",
             lambda X, Z, y: (X,), ValueError, "channels and blocks_per_level must be equally long",
             params={"channels": (4, 8, 16)}),
    BadInput("device='tpu'", "invalid parameter", T, "fit", lambda X, Z, y: (X,), ValueError,
             "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'", params={"device": "tpu"}),
]


@dataclass
class Outcome:
    case: BadInput
    raised: str
    message: str
    clean: bool
    problem: str


def _snapshot(estimator):
    return dict(vars(estimator))


def _predictions(estimator, X, Z):
    if isinstance(estimator, NeuralIsometryTransformer):
        return estimator.transform(X)
    return estimator.predict_proba(Z)


def run_case(case):
    """Run one case on a fitted (or, for ``unfitted`` cases, a fresh) estimator."""
    X, (Z, y) = transformer_data(), classifier_data()
    if case.unfitted:
        estimator = (NeuralIsometryTransformer(**TINY_TRANSFORMER) if case.estimator == T
                     else EquivariantClassifier(**TINY_CLASSIFIER))
        before, expected = _snapshot(estimator), None
    else:
        estimator = fitted_estimators()[case.estimator]
        expected = _predictions(estimator, X, Z)
        original = estimator.get_params(deep=False)
        estimator.set_params(**case.params)
        before = _snapshot(estimator)
    try:
        getattr(estimator, case.method)(*case.args(X, Z, y))
    except Exception as exc:  # noqa: BLE001 - the outcome records whatever was raised
        raised, message = type(exc).__name__, str(exc)
        problems = []
        if not isinstance(exc, case.error):
            problems.append(f"raised {raised}, expected {case.error.__name__}")
        if not re.search(case.match, message):
            problems.append(f"message does not match {case.match!r}")
    else:
        return Outcome(case, "nothing", "", False, "no error raised")
    after = _snapshot(estimator)
    if after.keys() != before.keys() or any(after[k] is not before[k] for k in before):
        problems.append("the estimator's attributes changed")
    elif expected is not None:
        estimator.set_params(**{name: original[name] for name in case.params})
        if not np.array_equal(_predictions(estimator, X, Z), expected):
            problems.append("the estimator's predictions changed")
    return Outcome(case, raised, message, not problems, "; ".join(problems))
