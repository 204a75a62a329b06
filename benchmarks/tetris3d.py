"""3D Tetris: rotation generalisation from one orientation, side by side.

Protocol (Weiler et al. 2018; issue 8): every model is trained on the eight
shapes in one fixed orientation (with small random shifts, so that no model
learns the exact voxel alignment) and tested on copies under uniformly random
SO(3) rotations and small shifts, applied to the block centres before
voxelisation (skniso.datasets.make_tetris3d).

* a plain 3-D CNN (skniso.baselines.CNNClassifier3D);
* the steerable CNN (skniso.baselines.SteerableCNNClassifier);
* NIso: NeuralIsometryTransformer pre-trained on pairs of independently rotated
  shapes (no labels; ``--niso-regime triplet``: triplets s, Rs, R²s), then
  EquivariantClassifier fitted on the latents of the fixed-orientation training
  set only (and, as further heads on the same latents, the linear probe
  skniso.make_gram_probe: GramFeatures → StandardScaler → LogisticRegression, and
  GramFeatures → 1-nearest-neighbour and → shrinkage LDA, which have little to
  overfit with 8 labelled shapes per class).

    SKNISO_THREADS=1 python benchmarks/tetris3d.py --seeds 0 1 2 3 4

``--train-orientation random`` trains each class in one Haar-random pose of its
own instead of the reference pose (the se3cnn example's protocol).  Every model
also records its rotated-test accuracy on the chiral pair alone (chance 0.5).

Writes a JSON record to benchmarks/results/ and prints mean ± std per model.
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skniso import EquivariantClassifier, GramFeatures, NeuralIsometryTransformer, make_gram_probe
from skniso.baselines import CNNClassifier3D, SteerableCNNClassifier
from skniso.datasets import TETRIS3D_NAMES, TETRIS3D_SHAPES, make_tetris3d, make_tetris3d_pairs
from skniso.datasets._tetris import _posed_centres, random_rotations, render_blocks
from skniso.metrics import equivariance_error, gram_invariance_ratio

MODELS = ("cnn3d", "steerable", "niso")


def other_shape(labels, seed):
    """For each sample, the index of a random sample of another class (the Gram ratio's comparison)."""
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(np.flatnonzero(labels != label)) for label in labels])


CHIRAL_PAIR = [TETRIS3D_NAMES.index("screw_right"), TETRIS3D_NAMES.index("screw_left")]


def tetris_niso(seed, **params):
    """The benchmark's NIso on 16³ Tetris volumes: encoder (8, 16), C = 8, K = 32, batch 8.

    ``params`` override or add NeuralIsometryTransformer parameters (steps, β, regime, …);
    every Tetris script builds its model here, so they all train the same network.
    """
    settings = dict(channels=(8, 16), latent_channels=8, n_components=32, batch_size=8, warmup_steps=20,
                    random_state=seed, device="cpu")
    return NeuralIsometryTransformer(**{**settings, **params})


def tetris_head(seed, n_components=32, max_steps=300):
    """The benchmark's EquivariantClassifier on NIso's Tetris latents (width 64, 32 Gram channels)."""
    return EquivariantClassifier(n_components=n_components, width=64, gram_channels=32, max_steps=max_steps,
                                 random_state=seed, device="cpu")


def mean_and_std(values):
    """Mean and sample standard deviation (0 for a single value) of a list of accuracies."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def rotated_test_set(seed, n_per_class, max_shift=1.0, **grid):
    """The benchmark's test set for ``seed``: every shape under uniformly random SO(3) rotations
    and uniform shifts of up to ``max_shift`` voxels (seeded apart from training and pairs)."""
    return make_tetris3d(n_per_class, rotate=True, max_shift=max_shift, random_state=1000 + seed, **grid)


def randomly_oriented_training_set(n_per_class, max_shift, grid_size, block_size, seed):
    """Each class in one Haar-random orientation of its own (the se3cnn reference's protocol),
    shared by all its samples, which differ by uniform shifts of up to ``max_shift`` voxels."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(len(TETRIS3D_SHAPES)), n_per_class)
    shapes = _posed_centres(labels, False, 0.0, block_size, rng)  # centred and scaled; draws nothing
    orientation = random_rotations(len(TETRIS3D_SHAPES), rng)[labels]
    centres = shapes @ orientation.transpose(0, 2, 1)
    centres = centres + rng.uniform(-max_shift, max_shift, (len(labels), 1, 3))
    return render_blocks(centres, grid_size, block_size / 2), labels


def scores(model, train_x, train_y, test_x, test_y):
    """Rotated-test and training accuracy, the rotated-test accuracy on the chiral pair alone,
    and per class (in TETRIS3D_NAMES order)."""
    predicted = model.predict(test_x)
    chiral = np.isin(test_y, CHIRAL_PAIR)
    return {"accuracy": float(np.mean(predicted == test_y)), "train_accuracy": float(model.score(train_x, train_y)),
            "chiral_pair_accuracy": float(np.mean(predicted[chiral] == test_y[chiral])),
            "per_class_accuracy": [float(np.mean(predicted[test_y == c] == c)) for c in range(len(TETRIS3D_NAMES))]}


def latent_rank_profile(latents, n_components, n_values=8):
    """Median over samples of the latents' singular values over their largest (first ``n_values``)."""
    values = np.linalg.svd(np.asarray(latents).reshape(len(latents), n_components, -1), compute_uv=False)
    return np.median(values / values[:, :1], axis=0)[:n_values].round(4).tolist()


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run_one(seed, args):
    grid = dict(grid_size=args.grid_size, block_size=args.block_size)
    if args.train_orientation == "reference":
        train_x, train_y = make_tetris3d(args.n_train, max_shift=args.max_shift, random_state=seed, **grid)
    else:
        train_x, train_y = randomly_oriented_training_set(args.n_train, args.max_shift, seed=seed, **grid)
    test_x, test_y = rotated_test_set(seed, args.n_test, args.max_shift, **grid)
    result = {"seed": seed}
    if "cnn3d" in args.models:
        cnn = CNNClassifier3D(channels=(8, 16, 32), max_steps=args.cnn_steps, batch_size=16, lr=1e-2,
                              random_state=seed, device="cpu")
        _, seconds = _timed(lambda: cnn.fit(train_x, train_y))
        result["cnn3d"] = {**scores(cnn, train_x, train_y, test_x, test_y), "fit_seconds": seconds}
    if "steerable" in args.models:
        steerable = SteerableCNNClassifier(
            max_steps=args.steerable_steps, batch_size=16, lr=2e-2, random_state=seed, device="cpu"
        )
        _, seconds = _timed(lambda: steerable.fit(train_x, train_y))
        result["steerable"] = {**scores(steerable, train_x, train_y, test_x, test_y), "fit_seconds": seconds}
    if "niso" in args.models:
        pairs, _ = make_tetris3d_pairs(args.niso_pairs, n_views=3 if args.niso_regime == "triplet" else 2,
                                       max_shift=args.max_shift, random_state=2000 + seed, **grid)
        niso = tetris_niso(
            seed, channels=tuple(args.niso_channels), latent_channels=args.niso_latent_channels,
            n_components=args.n_components, regime=args.niso_regime,
            equivariance_normalization=None if args.niso_normalization == "none" else args.niso_normalization,
            beta=args.niso_beta, max_steps=args.niso_steps,
        )
        clf = tetris_head(seed, args.n_components, args.clf_steps)
        (_, niso_seconds) = _timed(lambda: niso.fit(pairs))
        train_latents, test_latents = niso.transform(train_x), niso.transform(test_x)
        (_, clf_seconds) = _timed(lambda: clf.fit(train_latents, train_y))
        held_out, held_labels = make_tetris3d_pairs(200, max_shift=args.max_shift, random_state=3000 + seed, **grid)
        tau, source, target = niso.isometries(held_out, return_latents=True)
        # A linear probe on the same invariants (the Gram matrix), for the head's share of the result.
        probe = make_gram_probe(n_components=args.n_components)
        probe.fit(train_latents, train_y)
        # Heads with no or few fitted parameters on the same invariants: with 8 labelled shapes
        # per class they generalise better than the trained heads (BENCHMARKS.md).
        nearest = make_pipeline(GramFeatures(n_components=args.n_components), KNeighborsClassifier(1))
        lda = make_pipeline(GramFeatures(n_components=args.n_components),
                            LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
        nearest.fit(train_latents, train_y)
        lda.fit(train_latents, train_y)
        if args.save_latents:
            os.makedirs(args.save_latents, exist_ok=True)
            np.savez(os.path.join(args.save_latents, f"tetris3d-latents-seed{seed}.npz"), train=train_latents,
                     train_y=train_y, test=test_latents, test_y=test_y, eigenvalues=niso.eigenvalues_,
                     held_out_tau=tau)
        result["niso"] = {
            **scores(clf, train_latents, train_y, test_latents, test_y),
            "linear_probe_accuracy": float(probe.score(test_latents, test_y)),
            "gram_nearest_neighbour": scores(nearest, train_latents, train_y, test_latents, test_y),
            "gram_lda": scores(lda, train_latents, train_y, test_latents, test_y),
            "fit_seconds": niso_seconds + clf_seconds,
            "heldout_equivariance_error": float(np.mean(equivariance_error(tau, source, target))),
            # How much the head's invariant features move under a rotation, over how
            # much they differ between two shapes (0: invariant).
            "heldout_gram_invariance_ratio": gram_invariance_ratio(
                source, target, source[other_shape(held_labels, seed)]
            ),
            # Effective rank of the (K, C) latents: with rank < K an orthogonal map can mirror
            # them, so no τ-invariant head can tell mirror images apart (BENCHMARKS.md).
            "latent_singular_value_ratios": latent_rank_profile(test_latents, args.n_components),
            "eigenvalues": np.asarray(niso.eigenvalues_).round(3).tolist(),
            "final_losses": {k: v for k, v in niso.history_[-1].items() if k not in ("step", "time", "lr")},
        }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--grid-size", type=int, default=16)
    parser.add_argument("--block-size", type=float, default=3.0)
    parser.add_argument("--max-shift", type=float, default=1.0, help="voxels, train and test")
    parser.add_argument("--n-train", type=int, default=8, help="fixed-orientation samples per class")
    parser.add_argument("--train-orientation", choices=["reference", "random"], default="reference",
                        help="the fixed training orientation: the shapes' reference pose, or one Haar-random "
                             "pose per class (as the se3cnn Tetris example)")
    parser.add_argument("--n-test", type=int, default=25, help="rotated test samples per class")
    parser.add_argument("--cnn-steps", type=int, default=300)
    parser.add_argument("--steerable-steps", type=int, default=300)
    parser.add_argument("--niso-pairs", type=int, default=400)
    parser.add_argument("--niso-steps", type=int, default=200)
    parser.add_argument("--niso-regime", choices=["pairwise", "triplet"], default="pairwise",
                        help="pre-train on pairs, or on triplets (s, Rs, R²s)")
    parser.add_argument("--niso-normalization", choices=["none", "magnitude", "spread"], default="none",
                        help="NIso's equivariance_normalization (none: the reference's absolute L_E)")
    parser.add_argument("--niso-beta", type=float, default=0.1, help="weight of the multiplicity loss L_M")
    parser.add_argument("--niso-channels", type=int, nargs="+", default=[8, 16], help="NIso encoder widths")
    parser.add_argument("--niso-latent-channels", type=int, default=8)
    parser.add_argument("--n-components", type=int, default=32)
    parser.add_argument("--clf-steps", type=int, default=300)
    parser.add_argument("--save-latents", default=None, metavar="DIR",
                        help="also write each seed's NIso training and test latents to DIR (npz)")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/tetris3d-<time>.json)")
    args = parser.parse_args()

    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    runs = []
    for seed in args.seeds:
        runs.append(run_one(seed, args))
        print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for model in args.models:
        mean, std = mean_and_std([r[model]["accuracy"] for r in runs])
        summary[model] = {"accuracy_mean": mean, "accuracy_std": std,
                          "fit_seconds_mean": float(np.mean([r[model]["fit_seconds"] for r in runs]))}
    if "niso" in args.models:  # NIso's other heads, on the same latents (fit time: the pre-training's)
        for head in ("gram_nearest_neighbour", "gram_lda"):
            mean, std = mean_and_std([r["niso"][head]["accuracy"] for r in runs])
            summary[f"niso+{head}"] = {**summary["niso"], "accuracy_mean": mean, "accuracy_std": std}
    record = {
        "benchmark": "tetris3d",
        "args": vars(args),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "runs": runs,
        "summary": summary,
    }
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"tetris3d-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(record, fh, indent=2)
    print(f"\n{'model':28s}  rotated-test accuracy (mean ± std over seeds)   fit s")
    for model, row in summary.items():
        print(f"{model:28s}  {row['accuracy_mean']:.3f} ± {row['accuracy_std']:.3f}"
              f"                          {row['fit_seconds_mean']:.0f}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
