"""Triangle-mesh basics: validation, areas, orientation, an icosphere."""

import numpy as np

from .._validation import check_int

__all__ = ["check_mesh", "face_areas", "icosphere", "signed_volume", "spherical_face_orientation"]


def check_mesh(vertices, faces):
    """Validate a triangle mesh; return float64 (n, 3) vertices and int64 (m, 3) faces."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or vertices.shape[0] < 4:
        raise ValueError(f"vertices must have shape (n_vertices >= 4, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] < 4:
        raise ValueError(f"faces must have shape (n_faces >= 4, 3), got {faces.shape}")
    if faces.dtype.kind not in "iu":
        raise ValueError(f"faces must hold integer vertex indices, got dtype {faces.dtype}")
    faces = faces.astype(np.int64)
    if faces.min() < 0 or faces.max() >= vertices.shape[0]:
        raise ValueError(
            f"faces index vertices 0..{vertices.shape[0] - 1}, got indices "
            f"{faces.min()}..{faces.max()}"
        )
    if not np.all(np.isfinite(vertices)):
        raise ValueError("vertices contain NaN or infinite coordinates")
    return vertices, faces


def face_areas(vertices, faces):
    """Area of every triangle, shape (n_faces,)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def signed_volume(vertices, faces):
    """Enclosed volume, positive for a closed mesh whose faces are oriented outwards."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def spherical_face_orientation(sphere_vertices, faces):
    """det(a, b, c) per face of a mesh embedded around the origin.

    Positive where a face keeps the outward orientation; a face with a
    non-positive value is flipped (or degenerate) in the spherical embedding.
    """
    a, b, c = (sphere_vertices[faces[:, i]] for i in range(3))
    return np.einsum("ij,ij->i", a, np.cross(b, c))


_ICOSAHEDRON_FACES = np.array([
    [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
    [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
    [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
    [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
])


def icosphere(subdivisions=3):
    """Unit sphere mesh from a subdivided icosahedron, faces oriented outwards.

    Parameters
    ----------
    subdivisions : int, default=3
        Each step splits every triangle into four: 10·4^s + 2 vertices
        (3: 642, 4: 2,562, 5: 10,242).

    Returns
    -------
    vertices : ndarray of shape (n_vertices, 3)
    faces : ndarray of shape (n_faces, 3)
    """
    subdivisions = check_int(subdivisions, "subdivisions", minimum=0)
    golden = (1.0 + 5.0 ** 0.5) / 2.0
    vertices = np.array([
        [-1, golden, 0], [1, golden, 0], [-1, -golden, 0], [1, -golden, 0],
        [0, -1, golden], [0, 1, golden], [0, -1, -golden], [0, 1, -golden],
        [golden, 0, -1], [golden, 0, 1], [-golden, 0, -1], [-golden, 0, 1],
    ], dtype=np.float64)
    faces = _ICOSAHEDRON_FACES.copy()
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        midpoints = 0.5 * (vertices[unique[:, 0]] + vertices[unique[:, 1]])
        mid = inverse.reshape(3, -1) + len(vertices)  # midpoint of edges 01, 12, 20
        vertices = np.concatenate([vertices, midpoints])
        a, b, c = faces.T
        ab, bc, ca = mid
        faces = np.concatenate([
            np.stack([a, ab, ca], 1), np.stack([b, bc, ab], 1),
            np.stack([c, ca, bc], 1), np.stack([ab, bc, ca], 1),
        ])
    vertices /= np.linalg.norm(vertices, axis=1, keepdims=True)
    return vertices, faces
