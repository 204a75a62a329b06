"""Time the conformal-shape preprocessing of one mesh, stage by stage.

HKS from 128 eigenpairs, the conformal flow to the sphere, and rasterising the
embedding plus 30 Möbius images onto the 96×192 grid (the SHREC'11 setting),
then the same call again from the on-disk cache.

    python benchmarks/shape_preprocessing.py --rings 50 100 --blas-threads 1 2

The meshes are the procedural "animal" class on a latitude-longitude sphere
(50 rings: 5,002 vertices; 100 rings: 20,002).
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from skniso.datasets import make_shape_mesh
from skniso.geometry import conformal_flow, mesh_hks, spherical_hks_maps


def uv_sphere(n_latitudes, n_longitudes):
    """A latitude-longitude sphere: n_lat rings of n_lon vertices plus the poles."""
    theta = np.pi * np.arange(1, n_latitudes + 1) / (n_latitudes + 1)
    phi = 2 * np.pi * np.arange(n_longitudes) / n_longitudes
    rings = np.stack([np.outer(np.sin(theta), np.cos(phi)), np.outer(np.sin(theta), np.sin(phi)),
                      np.outer(np.cos(theta), np.ones_like(phi))], axis=-1).reshape(-1, 3)
    vertices = np.concatenate([[[0, 0, 1.0]], rings, [[0, 0, -1.0]]])
    index = 1 + np.arange(n_latitudes * n_longitudes).reshape(n_latitudes, n_longitudes)
    nxt = np.roll(index, -1, axis=1)
    top, bottom = np.zeros(n_longitudes, int), np.full(n_longitudes, len(vertices) - 1)
    faces = [np.stack([top, index[0], nxt[0]], 1), np.stack([bottom, nxt[-1], index[-1]], 1)]
    for i in range(n_latitudes - 1):
        faces += [np.stack([index[i], index[i + 1], nxt[i]], 1), np.stack([nxt[i], index[i + 1], nxt[i + 1]], 1)]
    return vertices, np.concatenate(faces)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rings", type=int, nargs="+", default=[50, 100],
                        help="latitude rings of the test meshes (2·rings longitudes: 50 → 5,002 vertices)")
    parser.add_argument("--blas-threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for rings in args.rings:
        vertices, faces = make_shape_mesh("animal", sphere_mesh=uv_sphere(rings, 2 * rings), random_state=0)
        for threads in args.blas_threads:
            with threadpool_limits(threads):
                t0 = time.perf_counter()
                mesh_hks(vertices, faces)
                t1 = time.perf_counter()
                sphere = conformal_flow(vertices, faces)
                t2 = time.perf_counter()
                spherical_hks_maps(vertices, faces, sphere_vertices=sphere, n_mobius=30, n_eigenpairs=2)
                t3 = time.perf_counter()
                with tempfile.TemporaryDirectory() as cache:
                    spherical_hks_maps(vertices, faces, n_mobius=30, cache_dir=cache)
                    t4 = time.perf_counter()
                    spherical_hks_maps(vertices, faces, n_mobius=30, cache_dir=cache)
                    t5 = time.perf_counter()
            row = {"vertices": len(vertices), "blas_threads": threads, "hks_128": t1 - t0,
                   "conformal_flow": t2 - t1, "rasterise_31_maps_96x192": t3 - t2,
                   "total": t4 - t3, "cached": t5 - t4}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = args.out or os.path.join(os.path.dirname(__file__), "results", "shape-preprocessing.json")
    with open(out, "w") as fh:
        json.dump({"benchmark": "shape-preprocessing", "machine": platform.platform(), "rows": rows}, fh,
                  indent=2)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
