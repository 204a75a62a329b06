"""Baselines behind the same estimator API as NIso, so users can compare on their own data.

Each baseline is a scikit-learn estimator; the benchmarks in ``benchmarks/``
run them side by side with :class:`~skniso.NeuralIsometryTransformer`.
"""

__all__ = []
