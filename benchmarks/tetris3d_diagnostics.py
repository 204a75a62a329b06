"""Why NIso's Tetris latents do not classify rotated shapes: invariance diagnostics.

For NIso variants pre-trained as in ``benchmarks/tetris3d.py`` (400 steps, one
seed), reports on held-out pairs of rotated shapes:

* the relative equivariance error ‖τÂ − B̂‖/‖B̂‖ (what the loss drives down);
* the Gram invariance ratio: mean change of ÊᵀÊ under the rotation over its
  mean change between two different shapes (what the invariant head reads;
  0 is invariant, about 1 is no better than swapping the shape);
* the common share ‖mean Ê‖ / mean ‖Ê‖: near 1 when every shape's latent is
  nearly the same, so that a small relative error says little about the
  shape-specific part;

and the rotated-test accuracy of an EquivariantClassifier fitted on the fixed
orientation.

    SKNISO_THREADS=2 python benchmarks/tetris3d_diagnostics.py --out benchmarks/results/tetris3d-diagnostics.json
"""

import argparse
import json
import os

import numpy as np
import torch

from skniso.datasets import make_tetris3d, make_tetris3d_pairs
from skniso.metrics import equivariance_error, gram_invariance_ratio
from tetris3d import other_shape, rotated_test_set, tetris_head, tetris_niso  # benchmarks/ is on the path when run as a script

VARIANTS = {
    "pairwise": {},
    "pairwise, spread-normalised L_E": {"equivariance_normalization": "spread"},
    "triplet": {"regime": "triplet"},
}


def diagnose(params, seed, steps, grid):
    triplet = params.get("regime") == "triplet"
    pairs, _ = make_tetris3d_pairs(400, n_views=3 if triplet else 2, max_shift=1.0, random_state=2000 + seed, **grid)
    niso = tetris_niso(seed, max_steps=steps, **params).fit(pairs)
    train_x, train_y = make_tetris3d(8, max_shift=1.0, random_state=seed, **grid)
    test_x, test_y = rotated_test_set(seed, 25, **grid)
    clf = tetris_head(seed).fit(niso.transform(train_x), train_y)
    held, labels = make_tetris3d_pairs(400, max_shift=1.0, random_state=3000 + seed, **grid)
    tau, source, target = niso.isometries(held, return_latents=True)
    return {
        "rotated_test_accuracy": float(clf.score(niso.transform(test_x), test_y)),
        "equivariance_error": float(equivariance_error(tau, source, target).mean()),
        "gram_invariance_ratio": gram_invariance_ratio(source, target, source[other_shape(labels, seed)]),
        "common_share": float(np.linalg.norm(source.mean(0)) / np.linalg.norm(source, axis=(1, 2)).mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--niso-steps", type=int, default=400)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    grid = dict(grid_size=16, block_size=3.0)
    results = {}
    for name, params in VARIANTS.items():
        results[name] = diagnose(params, args.seed, args.niso_steps, grid)
        print(name, json.dumps(results[name]), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"args": vars(args), "torch": torch.__version__, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
