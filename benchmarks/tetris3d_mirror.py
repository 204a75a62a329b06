"""Does a NIso latent see chirality?  Gram distances to mirror images against rotated copies.

Trains NIso exactly as ``benchmarks/tetris3d.py --models niso`` does for one seed, then, on
randomly posed test shapes x, compares three Gram distances (skniso.metrics.gram_invariance_ratio,
each over the distance to a random sample of another class):

* x against a rotated copy Rx (what an invariant head must ignore);
* x against its mirror image, the volume flipped along one grid axis (what it must see,
  for the two chiral shapes; for the six achiral ones the mirror image is a rotated copy).

If the chiral shapes' mirror ratio is no larger than the rotation ratio, no O(K)-invariant
head on these latents can separate the chiral pair.

    SKNISO_THREADS=2 python benchmarks/tetris3d_mirror.py --seed 1 --niso-pairs 16000 --niso-beta 0
"""

import argparse
import json
import os

import numpy as np
import torch

from skniso.datasets import TETRIS3D_NAMES, make_tetris3d_pairs
from skniso.metrics import gram_invariance_ratio
from tetris3d import CHIRAL_PAIR, other_shape, rotated_test_set, tetris_niso  # benchmarks/ is on the path when run as a script


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--niso-pairs", type=int, default=16000)
    parser.add_argument("--niso-steps", type=int, default=3000)
    parser.add_argument("--niso-beta", type=float, default=0.0)
    parser.add_argument("--n-test", type=int, default=25)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    seed, grid = args.seed, dict(grid_size=16, block_size=3.0)
    pairs, _ = make_tetris3d_pairs(args.niso_pairs, max_shift=1.0, random_state=2000 + seed, **grid)
    niso = tetris_niso(seed, beta=args.niso_beta, max_steps=args.niso_steps).fit(pairs)
    x, y = rotated_test_set(seed, args.n_test, **grid)
    rotated_pairs, pair_labels = make_tetris3d_pairs(8 * args.n_test, max_shift=1.0, random_state=3000 + seed, **grid)
    mirrored = np.flip(x, axis=2).copy()

    def encode(volumes):
        return niso.transform(volumes).reshape(len(volumes), *niso.latent_shape_)  # (n, K, C)

    latent, latent_mirror = encode(x), encode(mirrored)
    others = latent[other_shape(y, seed)]
    source, target = encode(rotated_pairs[:, 0]), encode(rotated_pairs[:, 1])
    pair_others = source[other_shape(pair_labels, seed)]
    record = {"args": vars(args), "per_class": {}}
    for c, name in enumerate(TETRIS3D_NAMES):
        mask, pair_mask = y == c, pair_labels == c
        record["per_class"][name] = {
            "mirror_ratio": gram_invariance_ratio(latent[mask], latent_mirror[mask], others[mask]),
            "rotation_ratio": gram_invariance_ratio(
                source[pair_mask], target[pair_mask], pair_others[pair_mask]
            ),
        }
    chiral = np.isin(y, CHIRAL_PAIR)
    record["chiral_mirror_ratio"] = gram_invariance_ratio(latent[chiral], latent_mirror[chiral], others[chiral])
    print(json.dumps(record, indent=1))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(record, fh, indent=2)


if __name__ == "__main__":
    main()
