"""Conformal SHREC'11 (Mitchel et al. 2022) as NIso's shape classification task.

Reads the published ``SHREC_11_CONF`` layout (nothing is downloaded)::

    root/base/<class>/<mesh>.ply                 the original meshes
    root/base_sphere/<class>/<mesh>.ply          their conformal spherical embeddings
    root/mobius_sphere/<class>/<mesh>/<l>.ply    Möbius images of the embedding, l = 0, 1, …

and turns every mesh into 1 + L spherical HKS maps as the reference's
``process_cshrec11.py`` does (method.md §8, tasks.md §2).
"""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._validation import check_int, check_ints
from ..geometry import HKS_TIMES, spherical_hks_maps, vertex_areas
from ..geometry._spectral import check_hks_times
from ._spherical import draw_conformal_pairs, hks_statistics, normalize_spherical_maps

__all__ = ["SHREC11_SKIPPED_CLASSES", "load_shrec11_conformal"]

#: Classes the reference leaves out, which leaves 25 of SHREC'11's 30.
SHREC11_SKIPPED_CLASSES = ("glasses", "lamp", "snake", "two_balls", "myScissor")

_MESH_SUFFIXES = (".ply", ".obj", ".off", ".stl")


def _read_mesh(path):
    try:
        import trimesh
    except ImportError as exc:
        raise ImportError(
            "reading SHREC'11 meshes needs trimesh: pip install 'skniso[shapes]' (or pip install trimesh)"
        ) from exc
    # process=False keeps the vertex order, which the embeddings share.
    mesh = trimesh.load(os.fspath(path), process=False, force="mesh")
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def _mesh_files(directory):
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in _MESH_SUFFIXES)


def _mobius_files(directory):
    files = [p for p in directory.iterdir() if p.suffix.lower() == ".ply" and p.stem.isdigit()]
    return sorted(files, key=lambda p: int(p.stem))


def load_shrec11_conformal(
    root,
    *,
    grid_shape=(96, 192),
    n_eigenpairs=128,
    times=HKS_TIMES,
    n_train=10,
    n_test=4,
    skip=SHREC11_SKIPPED_CLASSES,
    max_mobius=None,
    n_pairs_per_shape=None,
    random_state=0,
    cache_dir=None,
    verbose=0,
):
    """Load conformal SHREC'11 as spherical HKS maps, split and paired as the reference.

    For each mesh: 128 Laplace–Beltrami eigenpairs (cotangent stiffness, vertex
    area mass), HKS at 16 log-spaced times from 1e-2 to 1, rasterised through
    the ``base_sphere`` embedding and each ``mobius_sphere`` embedding onto an
    equiangular grid; then the reference's per-channel normalisation to [-1, 1]
    with statistics pooled over all loaded meshes.  Per class, a seeded
    permutation picks ``n_train`` training and ``n_test`` test meshes (the
    reference's permutation is unseeded).

    Parameters
    ----------
    root : str or path-like
        The unzipped ``SHREC_11_CONF`` directory (holding ``base``,
        ``base_sphere`` and ``mobius_sphere``).
    grid_shape : tuple of int, default=(96, 192)
    n_eigenpairs : int, default=128
    times : array-like, default=HKS_TIMES
    n_train, n_test : int, default=10, 4
        Training and test meshes per class (each >= 1); every class must
        have at least ``n_train + n_test`` meshes.
    skip : sequence of str, default=SHREC11_SKIPPED_CLASSES
    max_mobius : int or None
        Read only the first ``max_mobius`` (>= 1) Möbius embeddings of each
        mesh (the dataset has 30); None reads all.
    n_pairs_per_shape : int or None
        Training pairs drawn per training mesh (>= 1); None: one per map.
    random_state : int, default=0
        Seeds the split and the pairs.
    cache_dir : str, path-like or None
        Cache each mesh's maps on disk (keyed by mesh content and parameters).
    verbose : int, default=0

    Returns
    -------
    Bunch with
        X_pairs : ndarray (n_pairs, 2, 16, H, W)
            Pairs of maps of the training meshes (:func:`draw_conformal_pairs`).
        y_pairs : ndarray (n_pairs,)
        X_train, y_train : every map of every training mesh, (n_train_maps, 16, H, W)
        X_test, y_test : every map of every test mesh (the reference evaluates
            on all of them)
        maps_train, maps_test : ndarray (n_meshes, 1 + L, 16, H, W)
        meshes_train, meshes_test : ndarray of str, "<class>/<mesh>"
        classes : ndarray of str
        statistics : (mean, std) used for the normalisation
    """
    # Checked before any folder is listed or file read: a bad value fails at once.
    n_train = check_int(n_train, "n_train", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=1)
    if max_mobius is not None:
        max_mobius = check_int(max_mobius, "max_mobius", minimum=1)
    if n_pairs_per_shape is not None:
        n_pairs_per_shape = check_int(n_pairs_per_shape, "n_pairs_per_shape", minimum=1)
    # The per-mesh preprocessing checks these too, but only after a mesh is read.
    n_eigenpairs = check_int(n_eigenpairs, "n_eigenpairs", minimum=1)
    grid_shape = check_ints(grid_shape, "grid_shape", minimum=2, length=2)
    times = check_hks_times(times)
    root = Path(root)
    base, base_sphere, mobius_sphere = root / "base", root / "base_sphere", root / "mobius_sphere"
    for directory in (base, base_sphere, mobius_sphere):
        if not directory.is_dir():
            raise FileNotFoundError(
                f"{directory} does not exist: root must hold the SHREC_11_CONF folders "
                "base/, base_sphere/ and mobius_sphere/"
            )
    classes = sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in set(skip))
    if not classes:
        raise ValueError(f"no classes found under {base} (after skipping {tuple(skip)})")
    # Every class is counted before any mesh is read, so a short class fails at once.
    files_by_class = {name: _mesh_files(base / name) for name in classes}
    for name, files in files_by_class.items():
        if len(files) < n_train + n_test:
            raise ValueError(
                f"class {name!r} has {len(files)} meshes, fewer than n_train + n_test = "
                f"{n_train} + {n_test} = {n_train + n_test}"
            )
    rng = np.random.default_rng(random_state)
    records = {"train": [], "test": []}
    signals, masses = [], []
    for name, files in files_by_class.items():
        chosen = [files[i] for i in rng.permutation(len(files))[:n_train + n_test]]
        for position, mesh_file in enumerate(chosen):
            if verbose:
                print(f"[load_shrec11_conformal] {name}/{mesh_file.stem}", flush=True)
            vertices, faces = _read_mesh(mesh_file)
            sphere, _ = _read_mesh(base_sphere / name / mesh_file.name)
            mobius_dir = mobius_sphere / name / mesh_file.stem
            mobius_files = _mobius_files(mobius_dir) if mobius_dir.is_dir() else []
            if not mobius_files:
                raise FileNotFoundError(f"no Möbius embeddings <l>.ply found in {mobius_dir}")
            embeddings = [_read_mesh(p)[0] for p in mobius_files[:max_mobius]]
            maps, hks, _ = spherical_hks_maps(
                vertices, faces, sphere_vertices=sphere, embeddings=embeddings,
                n_eigenpairs=n_eigenpairs, times=times, grid_shape=grid_shape, cache_dir=cache_dir,
            )
            signals.append(hks)
            masses.append(vertex_areas(vertices, faces))
            split = "train" if position < n_train else "test"
            records[split].append((maps, name, f"{name}/{mesh_file.stem}"))
    statistics = hks_statistics(signals, masses)
    out = Bunch(classes=np.asarray(classes), statistics=statistics)
    for split, rows in records.items():
        n_maps = min(len(r[0]) for r in rows)
        maps = np.stack([r[0][:n_maps] for r in rows])
        maps, _ = normalize_spherical_maps(maps, statistics)
        labels = np.asarray([r[1] for r in rows])
        out[f"maps_{split}"] = maps
        out[f"meshes_{split}"] = np.asarray([r[2] for r in rows])
        out[f"X_{split}"] = maps.reshape(-1, *maps.shape[2:])
        out[f"y_{split}"] = np.repeat(labels, n_maps)
        if split == "train":
            pairs_per_shape = n_maps if n_pairs_per_shape is None else n_pairs_per_shape
            out.X_pairs, shape_index = draw_conformal_pairs(maps, pairs_per_shape, random_state=rng)
            out.y_pairs = labels[shape_index]
    return out
