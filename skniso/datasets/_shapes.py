"""Procedural genus-0 shape classes for offline conformal shape classification.

Every shape is a deformed icosphere: a class-specific radial profile (lobes,
limbs, waists, flattening…) with per-instance jitter, followed by a random
non-rigid deformation (anisotropic stretch, bending, twist, low-frequency
bumps).  All surfaces are star-shaped, hence genus 0 and free of
self-intersections, so the conformal flow maps them to the sphere.
"""

import numpy as np

from .._validation import check_int
from ..geometry import check_mesh, face_areas, icosphere, spherical_hks_maps, vertex_areas
from ._spherical import draw_conformal_pairs, hks_statistics, normalize_spherical_maps

__all__ = ["SHAPE_CLASSES", "make_conformal_shapes", "make_shape_mesh"]


def _unit(vectors):
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _lobes(directions, points, height, width):
    """Gaussian bumps of the radius around unit ``directions``."""
    cosine = points @ np.atleast_2d(directions).T  # (n, k)
    return (height * np.exp(-(1.0 - cosine) / width)).sum(1)


_TETRAHEDRON = _unit([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
_OCTAHEDRON = np.concatenate([np.eye(3), -np.eye(3)])
_CUBE_CORNERS = _unit(np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T)


def _jitter(directions, rng, amount=0.15):
    return _unit(directions + amount * rng.standard_normal(np.shape(directions)))


def _radius(name, points, rng):
    """Class profile: the radius over the unit sphere for one instance."""
    x, y, z = points.T
    if name == "ellipsoid":
        return np.ones(len(points)) * rng.uniform(0.9, 1.1)
    if name == "tetrapod":
        return 1.0 + _lobes(_jitter(_TETRAHEDRON, rng), points, rng.uniform(0.7, 0.9), 0.06)
    if name == "star":
        return 1.0 + _lobes(_jitter(_OCTAHEDRON, rng), points, rng.uniform(0.6, 0.8), 0.05)
    if name == "peanut":
        return 1.0 + rng.uniform(0.35, 0.5) * np.cos(2 * np.arccos(np.clip(z, -1, 1))) ** 2 - 0.3 * (1 - z ** 2)
    if name == "animal":
        # An elongated body with four legs below and a head in front.
        legs = _jitter(_unit([[0.6, 0.5, -1], [0.6, -0.5, -1], [-0.6, 0.5, -1], [-0.6, -0.5, -1]]), rng, 0.08)
        head = _jitter(_unit([[1, 0, 0.6]]), rng, 0.08)
        body = 1.0 / np.sqrt((x / 1.6) ** 2 + y ** 2 + (z / 0.8) ** 2)
        return body + _lobes(legs, points, rng.uniform(0.6, 0.8), 0.015) + _lobes(head, points, 0.5, 0.03)
    if name == "cube":
        exponent = rng.uniform(4, 6)
        return 1.0 / (np.abs(x) ** exponent + np.abs(y) ** exponent + np.abs(z) ** exponent) ** (1 / exponent)
    if name == "disc":
        rim = _lobes(np.array([[0, 0, 1.0], [0, 0, -1.0]]), points, -0.45, 0.25)
        return 1.0 + rim + 0.15 * np.cos(rng.integers(3, 6) * np.arctan2(y, x)) * (1 - z ** 2)
    if name == "cuboctahedron":
        return 1.0 + _lobes(_jitter(_CUBE_CORNERS, rng, 0.1), points, rng.uniform(0.35, 0.5), 0.04)
    raise ValueError(f"unknown shape class {name!r}")


#: The procedural classes, in label order.
SHAPE_CLASSES = ("ellipsoid", "tetrapod", "star", "peanut", "animal", "cube", "disc", "cuboctahedron")


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.diag(r))
    return q * np.sign(np.linalg.det(q))


def _deform(positions, rng, strength):
    """Random non-rigid deformation: stretch, bend, twist and bumps."""
    out = positions * rng.uniform(1 - 0.25 * strength, 1 + 0.25 * strength, size=3)
    bend, twist = rng.normal(0, 0.25 * strength, size=2)
    out[:, 2] += bend * out[:, 0] ** 2  # bend along x
    angle = twist * out[:, 2]
    c, s = np.cos(angle), np.sin(angle)
    out[:, 0], out[:, 1] = c * out[:, 0] - s * out[:, 1], s * out[:, 0] + c * out[:, 1]
    # Low-frequency normal-ish displacement: a few broad radial bumps.
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    directions = _unit(rng.standard_normal((3, 3)))
    bumps = _lobes(directions, out / norms, rng.uniform(-0.1, 0.1, size=3) * strength, 0.3) if strength else 0.0
    out = out * (1 + bumps)[:, None] if strength else out
    return out @ _random_rotation(rng).T


def make_shape_mesh(shape_class, *, subdivisions=3, deformation=1.0, sphere_mesh=None, random_state=None):
    """One random instance of a procedural shape class.

    Parameters
    ----------
    shape_class : str
        One of :data:`SHAPE_CLASSES`.
    subdivisions : int, default=3
        Icosphere resolution (3: 642 vertices, 4: 2,562).
    deformation : float, default=1.0
        Strength of the random non-rigid deformation (0: none).
    sphere_mesh : (vertices, faces) or None
        A unit-sphere mesh to deform instead of the icosphere (any
        resolution); its faces must be oriented outwards.
    random_state : int, numpy Generator or None

    Returns
    -------
    vertices : ndarray of shape (n_vertices, 3)
        Scaled to surface area 4π (the unit sphere's), so the HKS times of the
        reference stay meaningful.
    faces : ndarray of shape (n_faces, 3)
    """
    if shape_class not in SHAPE_CLASSES:
        raise ValueError(f"shape_class must be one of {SHAPE_CLASSES}, got {shape_class!r}")
    rng = np.random.default_rng(random_state)
    if sphere_mesh is None:
        points, faces = icosphere(subdivisions)
    else:
        points, faces = check_mesh(*sphere_mesh)
        points = points / np.linalg.norm(points, axis=1, keepdims=True)
    vertices = points * _radius(shape_class, points, rng)[:, None]
    vertices = _deform(vertices, rng, float(deformation))
    vertices *= np.sqrt(4 * np.pi / face_areas(vertices, faces).sum())
    return vertices, faces


def make_conformal_shapes(
    n_shapes_per_class=14,
    *,
    classes=None,
    n_mobius=8,
    n_pairs_per_shape=None,
    grid_shape=(32, 64),
    subdivisions=3,
    deformation=1.0,
    max_dilation=1.0,
    n_eigenpairs=64,
    random_state=None,
    cache_dir=None,
    return_maps=False,
):
    """Procedural genus-0 shapes through the conformal HKS pipeline.

    For every shape: HKS (16 times, 1e-2 … 1) on the mesh, conformal flow to the
    sphere, ``n_mobius`` random Möbius maps of the embedding, rasterisation of
    all 1 + ``n_mobius`` embeddings onto the equiangular grid, and the
    reference's per-channel normalisation to [-1, 1] with area-weighted
    statistics pooled over all shapes (:func:`hks_statistics`).
    Pairs are then drawn as the reference's SHREC'11 sampler
    (:func:`draw_conformal_pairs`).

    Parameters
    ----------
    n_shapes_per_class : int, default=14
        As SHREC'11 after its split (10 train + 4 test).
    classes : sequence of str or None
        A subset of :data:`SHAPE_CLASSES`; None uses all eight.
    n_mobius : int, default=8
        Möbius maps per shape (SHREC'11 ships 30).
    n_pairs_per_shape : int or None
        None: 1 + ``n_mobius``.
    grid_shape : tuple of int, default=(32, 64)
        The reference uses (96, 192); smaller grids keep CPU runs short.
    subdivisions : int, default=3
    deformation : float, default=1.0
    max_dilation : float, default=1.0
    n_eigenpairs : int, default=64
    random_state : int or None
    cache_dir : str, path-like or None
        Cache each shape's preprocessing on disk there.
    return_maps : bool, default=False
        Also return all maps and the shape of each pair.

    Returns
    -------
    X : ndarray of shape (n_pairs, 2, 16, H, W), float32 in [-1, 1]
    y : ndarray of shape (n_pairs,)
        Class names.
    maps : ndarray of shape (n_shapes, 1 + n_mobius, 16, H, W)
        Only with ``return_maps``; the base map first.
    shape_labels : ndarray of shape (n_shapes,)
        Only with ``return_maps``.
    shape_index : ndarray of shape (n_pairs,)
        Only with ``return_maps``: the shape (row of ``maps``) of each pair.
    """
    classes = SHAPE_CLASSES if classes is None else tuple(classes)
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown or not classes:
        raise ValueError(f"classes must be a non-empty subset of {SHAPE_CLASSES}, got {classes!r}")
    n_shapes_per_class = check_int(n_shapes_per_class, "n_shapes_per_class")
    n_mobius = check_int(n_mobius, "n_mobius")
    rng = np.random.default_rng(random_state)
    seeds = rng.integers(0, 2**31, size=(len(classes), n_shapes_per_class, 2))
    maps, shape_labels, signals, masses = [], [], [], []
    for class_index, name in enumerate(classes):
        for shape_seed, mobius_seed in seeds[class_index]:
            vertices, faces = make_shape_mesh(
                name, subdivisions=subdivisions, deformation=deformation, random_state=int(shape_seed)
            )
            shape_maps, hks, _ = spherical_hks_maps(
                vertices, faces, n_mobius=n_mobius, max_dilation=max_dilation,
                random_state=int(mobius_seed), n_eigenpairs=n_eigenpairs, grid_shape=grid_shape,
                cache_dir=cache_dir,
            )
            maps.append(shape_maps)
            signals.append(hks)
            masses.append(vertex_areas(vertices, faces))
            shape_labels.append(name)
    maps, _ = normalize_spherical_maps(np.stack(maps), hks_statistics(signals, masses))
    shape_labels = np.asarray(shape_labels)
    pairs_per_shape = 1 + n_mobius if n_pairs_per_shape is None else n_pairs_per_shape
    X, shape_index = draw_conformal_pairs(maps, pairs_per_shape, random_state=rng)
    y = shape_labels[shape_index]
    if return_maps:
        return X, y, maps, shape_labels, shape_index
    return X, y
