"""Resample per-vertex signals of a spherical mesh onto an equiangular grid."""

import numpy as np
from scipy.spatial import cKDTree

from .._validation import check_ints

__all__ = ["equiangular_grid", "rasterize_sphere", "spherical_barycentric"]


def equiangular_grid(shape=(96, 192)):
    """Unit directions of the reference's equiangular grid, shape (H, W, 3).

    θ_i = π i/(H − 1) (both poles sampled), φ_j = 2π j/(W − 1) (the seam
    column repeated), direction (sin θ cos φ, sin θ sin φ, cos θ).
    """
    height, width = check_ints(shape, "shape", minimum=2, length=2)
    theta = np.pi * np.arange(height) / (height - 1)
    phi = 2 * np.pi * np.arange(width) / (width - 1)
    st = np.sin(theta)[:, None]
    return np.stack(
        [st * np.cos(phi)[None], st * np.sin(phi)[None], np.cos(theta)[:, None] * np.ones_like(phi)[None]],
        axis=-1,
    )


def _barycentric_candidates(directions, corners):
    """Barycentric weights of the ray through each direction in candidate triangles.

    ``directions`` (P, 3); ``corners`` (P, J, 3, 3).  By Cramer's rule the ray
    s·d meets the plane of (a, b, c) at weights ∝ (det(d, b, c), det(a, d, c),
    det(a, b, d)), all positive exactly when d lies inside the spherical triangle.
    """
    a, b, c = corners[..., 0, :], corners[..., 1, :], corners[..., 2, :]
    d = directions[:, None, :]
    weights = np.stack([
        np.einsum("pjk,pjk->pj", d, np.cross(b, c)),
        np.einsum("pjk,pjk->pj", a, np.cross(d, c)),
        np.einsum("pjk,pjk->pj", a, np.cross(b, d)),
    ], axis=-1)
    total = weights.sum(-1, keepdims=True)
    return weights / np.where(np.abs(total) > 1e-300, total, 1e-300)


def spherical_barycentric(sphere_vertices, faces, directions, n_candidates=(8, 32, 128)):
    """Locate each direction in the spherical mesh.

    Parameters
    ----------
    sphere_vertices : ndarray of shape (n_vertices, 3)
        A star-shaped embedding around the origin (typically unit vectors).
    faces : ndarray of shape (n_faces, 3)
    directions : ndarray of shape (P, 3)
    n_candidates : tuple of int
        Triangles with the nearest centroids tried per direction, in widening
        rounds, then every triangle for the directions still unresolved.  A
        direction no triangle contains (a flipped embedding) takes the triangle
        whose smallest weight is largest, with weights clipped to [0, 1].

    Returns
    -------
    face_index : ndarray of shape (P,)
    weights : ndarray of shape (P, 3)
        Barycentric weights summing to 1.
    """
    sphere_vertices = np.asarray(sphere_vertices, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    corners = sphere_vertices[faces]  # (F, 3, 3)
    centroids = corners.mean(1)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-300)
    tree = cKDTree(centroids)
    n_points = directions.shape[0]
    face_index = np.full(n_points, -1)
    weights = np.zeros((n_points, 3))
    best_score = np.full(n_points, -np.inf)
    pending = np.arange(n_points)
    def try_candidates(points, candidates):
        bary = _barycentric_candidates(directions[points], corners[candidates])
        score = bary.min(-1)
        best = np.argmax(score, axis=1)
        rows = np.arange(len(points))
        improve = score[rows, best] > best_score[points]
        chosen = points[improve]
        face_index[chosen] = candidates[rows, best][improve]
        weights[chosen] = bary[rows, best][improve]
        best_score[chosen] = score[rows, best][improve]

    for round_size in n_candidates:
        k = min(int(round_size), len(faces))
        _, candidates = tree.query(directions[pending], k=k)
        try_candidates(pending, candidates.reshape(len(pending), k))
        pending = pending[best_score[pending] < -1e-12]
        if pending.size == 0:
            break
    # Strongly stretched triangles can hold a direction far from their
    # centroid: test the few directions left against every face.
    chunk = max(1, 2_000_000 // len(faces))
    for start in range(0, pending.size, chunk):
        points = pending[start:start + chunk]
        try_candidates(points, np.broadcast_to(np.arange(len(faces)), (len(points), len(faces))))
    pending = pending[best_score[pending] < -1e-12]
    if pending.size:
        clipped = np.clip(weights[pending], 0.0, 1.0)
        weights[pending] = clipped / np.maximum(clipped.sum(1, keepdims=True), 1e-300)
    return face_index, weights


def rasterize_sphere(sphere_vertices, faces, signal, grid_shape=(96, 192)):
    """Sample per-vertex ``signal`` at every equiangular grid direction.

    Each grid direction is located in the triangle of the spherical embedding
    that contains it, and the signal is interpolated barycentrically there.

    Parameters
    ----------
    sphere_vertices : array-like of shape (n_vertices, 3)
    faces : array-like of shape (n_faces, 3)
    signal : array-like of shape (n_vertices,) or (n_vertices, C)
    grid_shape : tuple of int, default=(96, 192)

    Returns
    -------
    ndarray of shape (C, H, W) (or (H, W) for a 1-D signal), float64
    """
    sphere_vertices = np.asarray(sphere_vertices, dtype=np.float64)
    faces = np.asarray(faces)
    signal = np.asarray(signal, dtype=np.float64)
    if signal.shape[0] != sphere_vertices.shape[0]:
        raise ValueError(
            f"signal must have one row per vertex ({sphere_vertices.shape[0]}), got shape {signal.shape}"
        )
    grid = equiangular_grid(grid_shape)
    face_index, weights = spherical_barycentric(sphere_vertices, faces, grid.reshape(-1, 3))
    values = np.einsum("pk,pk...->p...", weights, signal[faces[face_index]])
    values = values.reshape(*grid.shape[:2], *signal.shape[1:])
    return values if signal.ndim == 1 else np.moveaxis(values, -1, 0)
