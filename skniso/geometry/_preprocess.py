"""Mesh → spherical HKS maps, with an on-disk cache keyed by content and parameters."""

import os

import numpy as np

from .._validation import check_int, check_ints
from ._flow import conformal_flow
from ._mesh import check_mesh
from ._mobius import apply_mobius, random_mobius
from ._raster import rasterize_sphere
from ._spectral import HKS_TIMES, check_hks_times, heat_kernel_signature, laplacian_eigenpairs

__all__ = ["mesh_hks", "spherical_hks_maps"]


def mesh_hks(vertices, faces, *, n_eigenpairs=128, times=HKS_TIMES, method="cotan"):
    """Heat kernel signatures of a mesh from its Laplace–Beltrami eigenpairs.

    Returns
    -------
    ndarray of shape (n_vertices, n_times)
    """
    eigenvalues, eigenvectors = laplacian_eigenpairs(vertices, faces, n_eigenpairs, method)
    return heat_kernel_signature(eigenvalues, eigenvectors, times)


def _spherical_hks_maps(vertices, faces, sphere_vertices, mobius, n_mobius, max_dilation,
                        random_state, n_eigenpairs, times, grid_shape, method, embeddings):
    hks = mesh_hks(vertices, faces, n_eigenpairs=n_eigenpairs, times=times, method=method)
    if sphere_vertices is None:
        sphere_vertices = conformal_flow(vertices, faces)
    if mobius is None:
        rng = np.random.default_rng(random_state)
        mobius = [random_mobius(rng, max_dilation=max_dilation) for _ in range(n_mobius)]
    all_embeddings = [sphere_vertices] + [apply_mobius(m, sphere_vertices) for m in mobius] + embeddings
    maps = np.stack([rasterize_sphere(e, faces, hks, grid_shape) for e in all_embeddings])
    return maps.astype(np.float32), hks, sphere_vertices


def spherical_hks_maps(
    vertices,
    faces,
    *,
    sphere_vertices=None,
    mobius=None,
    n_mobius=0,
    max_dilation=1.0,
    random_state=0,
    n_eigenpairs=128,
    times=HKS_TIMES,
    grid_shape=(96, 192),
    method="cotan",
    embeddings=None,
    cache_dir=None,
):
    """The whole conformal-shape preprocessing of one genus-0 mesh.

    HKS on the mesh itself; a spherical embedding by :func:`conformal_flow`
    (unless given); random Möbius maps of that embedding; and the HKS
    rasterised through the embedding and each of its Möbius images.

    Parameters
    ----------
    vertices : array-like of shape (n_vertices, 3)
    faces : array-like of shape (n_faces, 3)
    sphere_vertices : array-like of shape (n_vertices, 3) or None
        A precomputed spherical embedding with the same connectivity
        (e.g. SHREC'11's ``base_sphere``); None runs the conformal flow.
    mobius : sequence of (2, 2) complex arrays or None
        Möbius maps to apply; None draws ``n_mobius`` with :func:`random_mobius`.
    n_mobius : int, default=0
    max_dilation : float, default=1.0
    random_state : int, default=0
        Seeds the Möbius draws.
    n_eigenpairs : int, default=128
    times : array-like, default=HKS_TIMES
    grid_shape : tuple of int, default=(96, 192)
    method : {"cotan", "robust"}, default="cotan"
    embeddings : sequence of (n_vertices, 3) arrays or None
        Further spherical embeddings of the same mesh (e.g. SHREC'11's
        ``mobius_sphere`` files), rasterised after the Möbius maps.
    cache_dir : str, path-like or None, default=None
        Cache results on disk there (``joblib.Memory``): a second call with the
        same mesh content and parameters loads instead of recomputing.

    Returns
    -------
    maps : ndarray of shape (1 + n_maps, n_times, H, W), float32
        The embedding's map first, then one per Möbius map, then one per
        extra embedding.
    hks : ndarray of shape (n_vertices, n_times)
    sphere_vertices : ndarray of shape (n_vertices, 3)
    """
    vertices, faces = check_mesh(vertices, faces)
    if sphere_vertices is not None:
        sphere_vertices = np.asarray(sphere_vertices, dtype=np.float64)
        if sphere_vertices.shape != vertices.shape:
            raise ValueError(
                f"sphere_vertices must have the mesh's shape {vertices.shape}, got {sphere_vertices.shape}"
            )
        sphere_vertices = sphere_vertices / np.linalg.norm(sphere_vertices, axis=1, keepdims=True)
    if mobius is not None:
        mobius = [np.asarray(m, dtype=np.complex128) for m in mobius]
    embeddings = [] if embeddings is None else [np.asarray(e, dtype=np.float64) for e in embeddings]
    for embedding in embeddings:
        if embedding.shape != vertices.shape:
            raise ValueError(
                f"every embedding must have the mesh's shape {vertices.shape}, got {embedding.shape}"
            )
    n_mobius = check_int(n_mobius, "n_mobius", minimum=0)
    # The mesh decides the upper bound (laplacian_eigenpairs checks it).
    n_eigenpairs = check_int(n_eigenpairs, "n_eigenpairs")
    times = check_hks_times(times)
    grid_shape = check_ints(grid_shape, "grid_shape", minimum=2, length=2)
    args = (vertices, faces, sphere_vertices, mobius, n_mobius, float(max_dilation),
            random_state, n_eigenpairs, times, grid_shape, method, embeddings)
    if cache_dir is None:
        return _spherical_hks_maps(*args)
    import joblib

    memory = joblib.Memory(os.path.expanduser(os.fspath(cache_dir)), verbose=0)
    return memory.cache(_spherical_hks_maps)(*args)
