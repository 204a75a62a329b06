"""GramFeatures: the O(K)-invariant Gram matrix of eigenspace latents as plain features.

:func:`make_gram_probe` builds the linear probe on them
(GramFeatures → StandardScaler → LogisticRegression).
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import positive_int
from .classifier import _LATENT_LAYOUT, fitted_latents, infer_latent_k, reshape_latents
from .metrics import _gram_matrices
from .utils import flatten_samples

__all__ = ["GramFeatures", "make_gram_probe"]


class GramFeatures(TransformerMixin, BaseEstimator):
    """The Gram matrix XᵀX of each latent X ∈ R^{K×C}, as C(C+1)/2 features.

    Every function of a latent that is unchanged when any orthogonal matrix
    multiplies its K axis is a function of its Gram matrix (the first
    fundamental theorem of invariant theory for O(K)), so these
    features carry all the information an O(K)-invariant head can use, and any
    scikit-learn estimator can read them.  ``Pipeline([("niso",
    NeuralIsometryTransformer()), ("gram", GramFeatures()), ("scale",
    StandardScaler()), ("clf", LogisticRegression())])`` is a linear probe on
    NIso's invariants: fewer parameters than :class:`EquivariantClassifier`'s
    vector-neuron network, and so less able to fit the part of the latents that
    is not yet equivariant when labelled data are few.  :func:`make_gram_probe`
    builds the three steps after the transformer.  With very few labels, a
    model with still less to fit can generalise better: on 3D Tetris (8 shapes
    per class) ``GramFeatures → LinearDiscriminantAnalysis(solver="lsqr",
    shrinkage="auto")`` and a 1-nearest-neighbour beat both trained heads
    (BENCHMARKS.md).

    The flip side: latents related by an orthogonal map with determinant -1
    look the same too, and while C < K the SO(K)-invariants are no richer
    (a rank-C latent's improper orbit is also a proper one).  Where mirror
    images are encoded to orthogonally related latents, as a latent operator
    that commutes with reflections would do, no τ-invariant head can tell them
    apart (BENCHMARKS.md, the Tetris chiral pair).

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        K, read as :class:`EquivariantClassifier` reads it: from 3-D input
        (n, K, C), from feature names ``k{i}_c{j}``, else the transformer's
        default K = 32.

    Attributes
    ----------
    latent_shape_ : tuple of int
        (K, C).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from skniso.invariants import GramFeatures
    >>> latents = np.random.default_rng(0).normal(size=(5, 8, 3))
    >>> rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 8)))[0]
    >>> gram = GramFeatures().fit(latents)
    >>> gram.transform(latents).shape
    (5, 6)
    >>> bool(np.allclose(gram.transform(latents), gram.transform(rotation @ latents)))
    True
    """

    _parameter_constraints = {"n_components": [positive_int, StrOptions({"auto"})]}

    def __init__(self, n_components="auto"):
        self.n_components = n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the latent shape (K, C); nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n, K·C) or (n, K, C)
            Eigenspace latents, e.g. ``NeuralIsometryTransformer().transform``.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        X_flat, shape = flatten_samples(X, max_ndim=3, expected=_LATENT_LAYOUT)
        k = infer_latent_k(self.n_components, X, shape)
        X_flat = validate_data(self, X_flat, dtype=np.float64)
        self.latent_shape_ = reshape_latents(X_flat, k).shape[1:]
        return self

    def transform(self, X):
        """The upper triangle (with the diagonal) of XᵀX for every sample.

        Parameters
        ----------
        X : array-like of shape (n, K·C) or (n, K, C)

        Returns
        -------
        ndarray of shape (n, C(C+1)/2)
            Entries (i, j), i ≤ j, in row-major order; names from
            :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        latents = fitted_latents(self, X, np.float64)
        c = self.latent_shape_[1]
        gram = _gram_matrices(latents)
        rows, cols = np.triu_indices(c)
        return gram[:, rows, cols]

    def get_feature_names_out(self, input_features=None):
        """Names ``gram_c{i}_c{j}`` (i ≤ j) of the Gram entries."""
        check_is_fitted(self)
        rows, cols = np.triu_indices(self.latent_shape_[1])
        return np.asarray([f"gram_c{i}_c{j}" for i, j in zip(rows, cols)], dtype=object)


def make_gram_probe(n_components="auto", *, max_iter=5000, C=1.0):
    """A linear probe on the O(K) invariants of eigenspace latents.

    The pipeline ``GramFeatures → StandardScaler → LogisticRegression``: the
    Gram matrix of each latent (every O(K) invariant, see :class:`GramFeatures`),
    standardised, then a logistic regression.  Its predictions are unchanged
    when any orthogonal matrix multiplies a latent's K axis, so it is a valid
    invariant head, with fewer parameters than
    :class:`~skniso.EquivariantClassifier`; next to that head on the same
    latents, it separates what the invariants carry from what the head makes of
    them (``benchmarks/homnist.py`` and ``benchmarks/tetris3d.py`` report it as
    their linear probe).

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        K, passed to :class:`GramFeatures`: needed for flat latents
        (n, K·C) that are neither a DataFrame with the transformer's feature
        names nor of the transformer's default K.
    max_iter : int, default=5000
        Passed to :class:`~sklearn.linear_model.LogisticRegression`.
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted, with steps ``"gramfeatures"``, ``"standardscaler"`` and
        ``"logisticregression"`` (so ``GridSearchCV`` can tune e.g.
        ``logisticregression__C``).  Parameters are validated when it is fitted.

    See Also
    --------
    GramFeatures : the invariant features alone, for any other model.

    Examples
    --------
    On latents from a fitted ``NeuralIsometryTransformer`` ``niso`` (K = 32
    by default)::

        probe = make_gram_probe(n_components=niso.n_components)
        probe.fit(niso.transform(X_train), y_train)
        probe.score(niso.transform(X_test), y_test)
    """
    return make_pipeline(
        GramFeatures(n_components=n_components),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=max_iter),
    )
