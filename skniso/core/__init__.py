"""The method's mathematics in pure torch (no scikit-learn): operator, τ, losses."""

from .losses import equivariance_loss, multiplicity_loss, spectral_dropout
from .model import NeuralIsometryModel, isometry_pairs
from .operator import SpectralOperator, project, unproject
from .pose import rotation_from_9d, rotation_loss, scale_invariant_translation_loss
from .procrustes import eigenvalue_mask, least_squares_map, polar_factor, solve_isometry

__all__ = [
    "NeuralIsometryModel",
    "SpectralOperator",
    "eigenvalue_mask",
    "equivariance_loss",
    "isometry_pairs",
    "least_squares_map",
    "multiplicity_loss",
    "polar_factor",
    "project",
    "rotation_from_9d",
    "rotation_loss",
    "scale_invariant_translation_loss",
    "solve_isometry",
    "spectral_dropout",
    "unproject",
]
