"""Is the Tetris chiral pair visible to a rotation-invariant feature on a 16³ grid?

The steerable CNN and NIso both leave the chiral pair (screw_right, screw_left)
at chance under random rotations (BENCHMARKS.md).  This script checks whether
the voxel grid still carries the chirality, with one fixed, hand-made
SO(3)-invariant that flips sign under reflections: from the gradient g and the
Hessian H of the volume smoothed by a Gaussian of width σ (degree-1 and
degree-2 steerable filters), the per-voxel triple product det(g, Hg, H²g),
summed over the grid and divided by Σ |g| |Hg| |H²g|.  Achiral shapes give 0
(a mirror symmetry maps the sum to minus itself); the two screws give values of
opposite sign.  The derivative filters are truncated at ``--half-width`` voxels
(2 is the steerable CNN's 5³ kernel).

    python benchmarks/tetris3d_chirality.py --seeds 0 1 2

Prints, per σ, the mean ± std of the invariant per shape (×1000) under random
rotations and ±1-voxel shifts, and how often its sign tells the two screws
apart; writes a JSON record.
"""

import argparse
import itertools
import json
import os
import platform

import numpy as np
from scipy import ndimage

from skniso.datasets import TETRIS3D_NAMES
from tetris3d import CHIRAL_PAIR, rotated_test_set  # benchmarks/ is on the path when run as a script


def jet_pseudoscalar(volume, sigma, half_width):
    """Σ det(g, Hg, H²g) / Σ |g||Hg||H²g| of one (D, H, W) volume smoothed at ``sigma``."""
    def derivative(order):
        return ndimage.gaussian_filter(volume, sigma, order=order, truncate=half_width / sigma)

    gradient = np.stack([derivative(tuple(int(i == a) for i in range(3))) for a in range(3)])
    hessian = np.empty((3, 3) + volume.shape)
    for a, b in itertools.combinations_with_replacement(range(3), 2):
        order = [0, 0, 0]
        order[a] += 1
        order[b] += 1
        hessian[a, b] = hessian[b, a] = derivative(tuple(order))
    once = np.einsum("ab...,b...->a...", hessian, gradient)
    twice = np.einsum("ab...,b...->a...", hessian, once)
    triple = np.einsum("a...,a...->...", gradient, np.cross(once, twice, axis=0))
    scale = np.linalg.norm(gradient, axis=0) * np.linalg.norm(once, axis=0) * np.linalg.norm(twice, axis=0)
    return float(triple.sum() / scale.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-per-class", type=int, default=25)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.8, 1.0, 1.5, 2.0])
    parser.add_argument("--half-width", type=float, default=2.0)
    parser.add_argument("--out", default="benchmarks/results/tetris3d-chirality.json")
    args = parser.parse_args()

    rows = []
    for sigma in args.sigmas:
        values, labels = [], []
        for seed in args.seeds:
            volumes, y = rotated_test_set(seed, args.n_per_class)  # tetris3d.py's test sets
            values += [jet_pseudoscalar(v[0].astype(np.float64), sigma, args.half_width) for v in volumes]
            labels.append(y)
        values, labels = np.array(values), np.concatenate(labels)
        right, left = values[labels == CHIRAL_PAIR[0]], values[labels == CHIRAL_PAIR[1]]
        # The sign that the right-handed screw takes on most samples names it.
        sign = np.sign(np.median(right))
        row = {
            "sigma": sigma,
            "per_shape_mean_x1000": [float(values[labels == c].mean() * 1e3) for c in range(len(TETRIS3D_NAMES))],
            "per_shape_std_x1000": [float(values[labels == c].std() * 1e3) for c in range(len(TETRIS3D_NAMES))],
            "chiral_pair_sign_accuracy": float((np.mean(sign * right > 0) + np.mean(sign * left < 0)) / 2),
        }
        rows.append(row)
        shapes = "  ".join(f"{name} {m:+.2f}±{s:.2f}" for name, m, s in
                           zip(TETRIS3D_NAMES, row["per_shape_mean_x1000"], row["per_shape_std_x1000"]))
        print(f"sigma {sigma}: {shapes}  | chiral pair told apart by sign: {row['chiral_pair_sign_accuracy']:.3f}")
    record = {"benchmark": "tetris3d_chirality", "args": vars(args), "rows": rows,
              "machine": {"platform": platform.platform(), "processor": platform.processor()}}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(record, handle, indent=1)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
