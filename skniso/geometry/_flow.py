"""Conformalized mean-curvature flow to the sphere (Kazhdan, Solomon & Ben-Chen 2012)."""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .._validation import check_int
from ._mesh import check_mesh, face_areas, signed_volume
from ._spectral import laplacian_and_mass, vertex_areas

__all__ = ["conformal_flow", "normalize_surface"]


def normalize_surface(vertices, faces):
    """Translate the area-weighted centroid to the origin and scale to unit area."""
    areas = vertex_areas(vertices, faces)
    centred = vertices - (areas @ vertices) / areas.sum()
    return centred / np.sqrt(face_areas(centred, faces).sum())


def _sphericity_error(vertices):
    radii = np.linalg.norm(vertices, axis=1)
    return float(radii.std() / radii.mean())


def conformal_flow(vertices, faces, *, step_size=0.05, max_steps=100, tol=0.02, return_info=False):
    """Map a genus-0 surface conformally onto the unit sphere by cMCF.

    Each implicit step solves (M_t + δ L₀) X_{t+1} = M_t X_t, where the
    cotangent stiffness L₀ of the input stays fixed (which is what keeps the
    flow conformal and free of the neck pinches of plain mean-curvature flow)
    and the lumped mass M_t follows the surface.  After every step the surface
    is re-centred and rescaled to unit area.  The flow stops once the radii
    agree to ``tol`` (relative standard deviation), and the vertices are then
    projected radially onto the unit sphere.

    Parameters
    ----------
    vertices : array-like of shape (n_vertices, 3)
    faces : array-like of shape (n_faces, 3)
        A closed, genus-0 triangle mesh.  Faces may be oriented either way;
        the output keeps the input's faces, and a mesh oriented inwards is
        reported through ``info["inward"]``.
    step_size : float, default=0.05
        δ, the time step at unit surface area.
    max_steps : int, default=100
    tol : float, default=0.02
        Stop when std(|x|)/mean(|x|) < tol.  The discrete flow with a fixed
        L₀ levels off near 1% on typical meshes rather than reaching 0.
    return_info : bool, default=False
        Also return a dict with ``n_steps``, ``sphericity_error`` (before the
        projection) and ``inward``.

    Returns
    -------
    sphere_vertices : ndarray of shape (n_vertices, 3)
        Unit vectors, in the same order as ``vertices``.
    info : dict
        Only with ``return_info=True``.
    """
    vertices, faces = check_mesh(vertices, faces)
    if not step_size > 0:
        raise ValueError(f"step_size must be > 0, got {step_size!r}")
    max_steps = check_int(max_steps, "max_steps")
    current = normalize_surface(vertices, faces)
    stiffness = laplacian_and_mass(current, faces)[0].tocsc()
    error = _sphericity_error(current)
    n_steps = 0
    while error >= tol and n_steps < max_steps:
        mass = scipy.sparse.diags(vertex_areas(current, faces)).tocsc()
        system = scipy.sparse.linalg.splu((mass + step_size * stiffness).tocsc())
        current = normalize_surface(system.solve(mass @ current), faces)
        error = _sphericity_error(current)
        n_steps += 1
    sphere = current / np.linalg.norm(current, axis=1, keepdims=True)
    if not return_info:
        return sphere
    info = {
        "n_steps": n_steps,
        "sphericity_error": error,
        "inward": signed_volume(vertices, faces) < 0,
    }
    return sphere, info
