"""What every skniso classifier shares: label encoding and the outputs derived from logits.

A classifier provides ``classes_`` and ``_logits(X)`` (an (n, n_classes) array);
:class:`LogitOutputsMixin` turns them into sklearn's ``decision_function``,
``predict_proba`` and ``predict``.
"""

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

__all__ = ["LogitOutputsMixin", "encode_class_labels"]


def encode_class_labels(y, estimator_name):
    """Classes and int64 targets for ``y``; at least two classes are needed.

    Returns
    -------
    classes : ndarray
        Sorted unique labels (``classes_``).
    targets : torch.Tensor of shape (n,)
        Index of each sample's label in ``classes``.
    """
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    if len(encoder.classes_) < 2:
        raise ValueError(
            f"{estimator_name} needs samples of at least 2 classes; got 1 class: {encoder.classes_[0]!r}"
        )
    return encoder.classes_, torch.from_numpy(encoder.transform(y).astype(np.int64))


class LogitOutputsMixin:
    """``decision_function``, ``predict_proba`` and ``predict`` from ``_logits``."""

    def decision_function(self, X):
        """Class scores.

        Returns
        -------
        ndarray of shape (n, n_classes), or (n,) for two classes
            Logits; for two classes the log-odds of ``classes_[1]``, as sklearn
            expects of binary classifiers.
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits), shape (n, n_classes)."""
        logits = torch.from_numpy(self._logits(X)).double()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Most probable class for each sample."""
        logits = self._logits(X)  # checks fitted before classes_ is read
        return self.classes_[np.argmax(logits, axis=1)]
