"""Cotangent Laplacian, vertex-area mass, Laplace–Beltrami eigenpairs and HKS."""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .._validation import check_int
from ._mesh import check_mesh, face_areas

__all__ = [
    "HKS_TIMES",
    "cotangent_laplacian",
    "heat_kernel_signature",
    "laplacian_eigenpairs",
    "vertex_areas",
]

#: The reference's diffusion times: 16 log-spaced values from 1e-2 to 1.
HKS_TIMES = np.logspace(-2, 0, 16)


def cotangent_laplacian(vertices, faces, method="cotan"):
    """Positive semi-definite stiffness matrix L of the Laplace–Beltrami operator.

    L_ij = -(cot α_ij + cot β_ij)/2 for an edge ij (α, β the opposite angles),
    L_ii = -Σ_j L_ij, so xᵀLx = ½ Σ w_ij (x_i - x_j)² is the Dirichlet energy.

    Parameters
    ----------
    vertices : array-like of shape (n_vertices, 3)
    faces : array-like of shape (n_faces, 3)
    method : {"cotan", "robust"}, default="cotan"
        ``"cotan"``: the classical cotangent weights computed here.
        ``"robust"``: the intrinsic-Delaunay Laplacian of the ``robust-laplacian``
        package (Sharp & Crane 2020), better on badly shaped triangles; its mass
        replaces :func:`vertex_areas` too (see :func:`laplacian_and_mass`).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_vertices, n_vertices)
    """
    return laplacian_and_mass(vertices, faces, method)[0]


def vertex_areas(vertices, faces):
    """Lumped (barycentric) mass: a third of the area of every incident triangle."""
    vertices, faces = check_mesh(vertices, faces)
    areas = np.repeat(face_areas(vertices, faces) / 3.0, 3)
    return np.bincount(faces.ravel(), weights=areas, minlength=len(vertices))


def laplacian_and_mass(vertices, faces, method="cotan"):
    """Stiffness L (sparse, PSD) and lumped vertex areas (n_vertices,) of a mesh."""
    vertices, faces = check_mesh(vertices, faces)
    if method == "robust":
        try:
            import robust_laplacian
        except ImportError as exc:
            raise ImportError(
                "method='robust' needs the robust-laplacian package: "
                "pip install 'skniso[shapes]' (or pip install robust-laplacian)"
            ) from exc
        stiffness, mass = robust_laplacian.mesh_laplacian(vertices, faces)
        return stiffness.tocsr(), np.asarray(mass.diagonal())
    if method != "cotan":
        raise ValueError(f"method must be 'cotan' or 'robust', got {method!r}")
    n = len(vertices)
    rows, cols, weights = [], [], []
    for k in range(3):
        i, j, o = faces[:, (k + 1) % 3], faces[:, (k + 2) % 3], faces[:, k]
        u, v = vertices[i] - vertices[o], vertices[j] - vertices[o]
        cross = np.linalg.norm(np.cross(u, v), axis=1)
        # cot of the angle at o, opposite the edge ij; guard degenerate triangles.
        cot = np.einsum("ij,ij->i", u, v) / np.maximum(cross, 1e-300)
        rows += [i, j]
        cols += [j, i]
        weights += [-0.5 * cot, -0.5 * cot]
    off = scipy.sparse.coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    diagonal = -np.asarray(off.sum(axis=1)).ravel()
    return (off + scipy.sparse.diags(diagonal)).tocsr(), vertex_areas(vertices, faces)


def laplacian_eigenpairs(vertices, faces, n_eigenpairs=128, method="cotan"):
    """The smallest eigenpairs of L φ = λ M φ, with φᵀMφ = I.

    Shift-invert Lanczos (``scipy.sparse.linalg.eigsh``) around a small negative
    shift, so that the factorised matrix L + εM is positive definite.

    Parameters
    ----------
    vertices, faces : array-like
    n_eigenpairs : int, default=128
        As the reference; at most n_vertices - 1.
    method : {"cotan", "robust"}, default="cotan"
        See :func:`cotangent_laplacian`.

    Returns
    -------
    eigenvalues : ndarray of shape (n_eigenpairs,)
        Ascending, the first ≈ 0.
    eigenvectors : ndarray of shape (n_vertices, n_eigenpairs)
        M-orthonormal.
    """
    stiffness, mass = laplacian_and_mass(vertices, faces, method)
    n = stiffness.shape[0]
    n_eigenpairs = check_int(n_eigenpairs, "n_eigenpairs", maximum=n - 1)
    mass_matrix = scipy.sparse.diags(mass).tocsc()
    # Shift relative to the spectrum's scale: the first non-zero eigenvalue of a
    # unit-area mesh is O(1), so 1e-8 of the mean weight is tiny yet regularises.
    shift = -1e-8 * float(stiffness.diagonal().mean() / mass.mean())
    start = np.ones(n) / np.sqrt(n)  # a fixed starting vector makes results reproducible
    values, vectors = scipy.sparse.linalg.eigsh(
        stiffness.tocsc(), k=n_eigenpairs, M=mass_matrix, sigma=shift, which="LM", v0=start
    )
    order = np.argsort(values)
    return np.maximum(values[order], 0.0), vectors[:, order]


def check_hks_times(times):
    """Return ``times`` as a flat float64 array, or raise a ``ValueError`` naming them.

    Diffusion times must be finite and non-negative, and there must be at least
    one: NaN would otherwise pass a sign check and fill the signature with NaN.
    """
    try:
        values = np.asarray(times, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        values = None
    if values is None or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"times must be a non-empty array of finite non-negative values, got {times!r}")
    return values


def heat_kernel_signature(eigenvalues, eigenvectors, times=HKS_TIMES):
    """HKS(x, t) = Σ_k φ_k(x)² exp(-λ_k t).

    Parameters
    ----------
    eigenvalues : array-like of shape (k,)
    eigenvectors : array-like of shape (n_vertices, k)
        M-orthonormal eigenfunctions.
    times : array-like of shape (n_times,), default=HKS_TIMES

    Returns
    -------
    ndarray of shape (n_vertices, n_times)
    """
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    eigenvectors = np.asarray(eigenvectors, dtype=np.float64)
    times = check_hks_times(times)
    if eigenvectors.ndim != 2 or eigenvectors.shape[1] != eigenvalues.shape[0]:
        raise ValueError(
            f"eigenvectors must be (n_vertices, {eigenvalues.shape[0]}) to match the eigenvalues, "
            f"got {eigenvectors.shape}"
        )
    return (eigenvectors ** 2) @ np.exp(-np.outer(eigenvalues, times))
