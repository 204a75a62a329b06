"""Möbius transformations of the unit sphere.

A Möbius map of the sphere is a fractional-linear map z ↦ (az + b)/(cz + d) of
the extended complex plane, read through stereographic projection.  Points are
carried as homogeneous spinors (u, v) ∈ C² with z = u/v, which keeps both
poles finite: p = (2 Re(u v̄), 2 Im(u v̄), |u|² − |v|²)/(|u|² + |v|²).
"""

import numpy as np

__all__ = [
    "apply_mobius",
    "inverse_stereographic",
    "random_mobius",
    "stereographic",
]


def stereographic(points):
    """Stereographic projection from the north pole: z = (x + iy)/(1 − z₃).

    The north pole itself maps to ``inf``.
    """
    points = np.asarray(points, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (points[..., 0] + 1j * points[..., 1]) / (1.0 - points[..., 2])
    return np.where(np.isclose(points[..., 2], 1.0), np.inf + 0j, z)


def inverse_stereographic(z):
    """Unit vectors for complex numbers ``z`` (``inf`` is the north pole)."""
    z = np.asarray(z, dtype=np.complex128)
    finite = np.isfinite(z)
    safe = np.where(finite, z, 0.0)
    u, v = np.where(finite, safe, 1.0), np.where(finite, 1.0, 0.0)
    return _from_spinors(u, v)


def _to_spinors(points):
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    # (x + iy, 1 − z) and (1 + z, x − iy) are the same projective point; use the
    # one that stays away from 0 on each hemisphere.
    south = z <= 0
    u = np.where(south, x + 1j * y, 1.0 + z)
    v = np.where(south, 1.0 - z, x - 1j * y)
    return u, v


def _from_spinors(u, v):
    uv = u * np.conj(v)
    nu, nv = np.abs(u) ** 2, np.abs(v) ** 2
    norm = nu + nv
    return np.stack([2 * uv.real, 2 * uv.imag, nu - nv], axis=-1) / norm[..., None]


def apply_mobius(matrix, points):
    """Apply the Möbius map of a 2×2 complex ``matrix`` to unit vectors.

    Parameters
    ----------
    matrix : array-like of shape (2, 2), complex
        [[a, b], [c, d]] with ad − bc ≠ 0: z ↦ (az + b)/(cz + d).
    points : array-like of shape (..., 3)
        Points on the unit sphere.

    Returns
    -------
    ndarray of shape (..., 3)
        Unit vectors.
    """
    matrix = np.asarray(matrix, dtype=np.complex128)
    if matrix.shape != (2, 2) or abs(np.linalg.det(matrix)) < 1e-12:
        raise ValueError(f"matrix must be an invertible 2x2 complex matrix, got shape {matrix.shape}")
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    u, v = _to_spinors(points)
    return _from_spinors(matrix[0, 0] * u + matrix[0, 1] * v, matrix[1, 0] * u + matrix[1, 1] * v)


def _random_rotation_spinor(rng):
    """A Haar-random element of SU(2) (a uniformly random sphere rotation)."""
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    a, b = q[0] + 1j * q[1], q[2] + 1j * q[3]
    return np.array([[a, -np.conj(b)], [b, np.conj(a)]])


def random_mobius(random_state=None, *, max_dilation=1.0):
    """Draw a random Möbius map of the sphere as a 2×2 complex matrix in SL(2, C).

    The map is R₁ · diag(e^{s/2}, e^{−s/2}) · R₂: two uniformly random
    rotations around a dilation z ↦ e^s z, which pushes the sphere towards
    one pole (s = 0 is a pure rotation).  Every Möbius map of the sphere has
    this form (Cartan decomposition of SL(2, C)).

    Parameters
    ----------
    random_state : int, numpy Generator/RandomState or None
    max_dilation : float, default=1.0
        s is drawn uniformly from [0, max_dilation].  A disc of angular
        radius θ about the expanding pole grows to 2·atan(e^s·tan(θ/2)).

    Returns
    -------
    ndarray of shape (2, 2), complex128
    """
    if not max_dilation >= 0:
        raise ValueError(f"max_dilation must be >= 0, got {max_dilation!r}")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(
        random_state.randint(2**31) if isinstance(random_state, np.random.RandomState) else random_state
    )
    s = rng.uniform(0.0, max_dilation)
    dilation = np.diag([np.exp(s / 2), np.exp(-s / 2)]).astype(np.complex128)
    return _random_rotation_spinor(rng) @ dilation @ _random_rotation_spinor(rng)
