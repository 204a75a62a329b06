"""Camera pose from isometries on synthetic CO3D-format sequences (CPU scale).

Protocol (method.md §9, tasks.md §3, shrunk to a 2-core CPU):

1. ``make_synthetic_co3d`` renders train and test sequences (separate random
   scenes, orbit and hand-held paths) as a CO3D folder; ``load_co3d`` reads
   them back at ``--size`` px with OpenCV camera-to-world poses.
2. Each method is trained on pairs of training frames 1–12 apart.
   * NIso: ``NeuralIsometryTransformer`` → ``IsometryMapEstimator`` (vec τ)
     → ``PoseRegressor``.
   * NFT: the same autoencoder trained with the least-squares transition
     M* = argmin ‖M Â − B̂‖ in place of τ (``transition="least_squares"``,
     reconstruction loss only), features vec(M*).
   * No-operator ablation: NIso with β = 0 and a flat mask (temperature 1e6),
     so τ is any rotation of span(Φ) and no operator structure is learned.
   * Direct CNN: a small CNN on the 6-channel image pair → the same 9-D pose
     output and losses (``PoseRegressor`` with a CNN module).
   * Zero motion: every relative pose is the identity; constant motion: the
     training pairs' mean relative pose at the evaluated skip (the skip is
     given to it).  Both are floors, not methods: they see no images.
3. ATE: for frame skips 0, 1, 3, 5, 7, 9 the test sequences are subsampled at
   stride skip + 1 from frame 0, relative poses are predicted and chained from
   the true first pose, and camera centres of frames 1…n are compared after
   the reference's Procrustes alignment (primary, dimensionless) and an
   Umeyama Sim(3) alignment (ground-truth units).

    SKNISO_THREADS=1 python benchmarks/pose.py --seeds 0 1 2

Writes a JSON record to benchmarks/results/ and prints a summary table.
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import torch
from torch import nn

from skniso import IsometryMapEstimator, NeuralIsometryTransformer, PoseRegressor
from skniso.datasets import load_co3d, make_pose_pairs, make_synthetic_co3d
from skniso.metrics import absolute_trajectory_error, compose_trajectory, rotation_error

SKIPS = (0, 1, 3, 5, 7, 9)
METHODS = ("NIso", "NFT (least squares)", "no-operator ablation", "direct CNN")


class PairCNN(nn.Module):
    """Four stride-2 convolutions over the stacked pair, then an MLP to 9 values."""

    def __init__(self, image_shape, width=32):
        super().__init__()
        channels, size = 2 * image_shape[0], image_shape[1]
        layers, c_in = [], channels
        for c_out in (width // 2, width, 2 * width, 2 * width):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.SiLU()]
            c_in = c_out
            size = (size + 1) // 2
        self.image_shape = (channels, image_shape[1], image_shape[2])
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * size * size, 128), nn.SiLU(), nn.Linear(128, 9))

    def forward(self, x):
        """Map (..., 2·C·S·S) rows to (..., 9)."""
        out = self.head(self.features(x.reshape(-1, *self.image_shape)))
        return out.reshape(*x.shape[:-1], 9)


class DirectCNNPoseRegressor(PoseRegressor):
    """PoseRegressor whose network is a CNN on the raw pair (flattened (2, C, S, S) rows)."""

    def __init__(self, *, image_shape=(3, 48, 48), cnn_width=32, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = image_shape
        self.cnn_width = cnn_width

    def _new_module(self, n_features):
        return PairCNN(self.image_shape, self.cnn_width)


def make_data(args, root):
    tic = time.perf_counter()
    make_synthetic_co3d(root / "train", categories=("train",), n_sequences=args.n_train_sequences,
                        n_frames=args.n_frames, image_size=(args.size, args.size * 5 // 4),
                        degrees_per_frame=args.degrees_per_frame, random_state=100)
    make_synthetic_co3d(root / "test", categories=("test",), n_sequences=args.n_test_sequences,
                        n_frames=args.n_frames, image_size=(args.size, args.size * 5 // 4),
                        degrees_per_frame=args.degrees_per_frame, random_state=200)
    train = load_co3d(root / "train", top_fraction=1.0, image_size=args.size)
    test = load_co3d(root / "test", top_fraction=1.0, image_size=args.size)
    return train, test, time.perf_counter() - tic


def niso_params(args, seed, **overrides):
    params = dict(channels=(8, 16, 32), blocks_per_level=(1, 1, 1), latent_channels=16,
                  n_components=args.k, alpha=0.5, beta=0.025, max_steps=args.niso_steps, batch_size=8,
                  warmup_steps=min(100, args.niso_steps // 5), device="cpu", random_state=seed)
    params.update(overrides)
    return params


def head_params(args, seed):
    return dict(width=256, n_layers=6, max_steps=args.head_steps, batch_size=4, pairs_per_group=3,
                lr=1e-3, warmup_steps=100, device="cpu", random_state=seed)


def mean_motion(train, skip):
    """The training sequences' mean relative pose at ``skip``, rotation projected to SO(3)."""
    _, y, _ = make_pose_pairs(train.images, train.poses, frame_skips=(skip,))
    mean = y.mean(axis=0)
    u, _, vt = np.linalg.svd(mean[:3, :3])
    mean[:3, :3] = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    return mean


def evaluate(predict, test, per_skip=False):
    """ATE (both alignments) and median relative rotation error per frame skip.

    ``predict(X)`` returns relative poses; with ``per_skip`` it is called as
    ``predict(X, skip)``.
    """
    scores = {}
    for skip in SKIPS:
        trues, preds, rot = [], [], []
        for images, poses in zip(test.images, test.poses):
            X, y, _ = make_pose_pairs([images], [poses], frame_skips=(skip,), chained=True)
            relative = predict(X, skip) if per_skip else predict(X)
            estimate = compose_trajectory(relative, poses[0])
            truth = poses[:: skip + 1][: len(estimate)]
            trues.append(truth[1:])
            preds.append(estimate[1:])
            rot.append(rotation_error(y, relative))
        scores[str(skip)] = {
            "ate_procrustes": absolute_trajectory_error(trues, preds, alignment="procrustes"),
            "ate_umeyama": absolute_trajectory_error(trues, preds, alignment="umeyama"),
            "median_rotation_error_deg": float(np.median(np.concatenate(rot))),
        }
    return scores


def run_seed(seed, args, train, test):
    pre_X, _, _ = make_pose_pairs(train.images, train.poses, frame_skips=range(12),
                                  max_pairs_per_sequence=args.pairs_per_sequence, random_state=seed)
    head_X, head_y, head_groups = make_pose_pairs(train.images, train.poses, frame_skips=range(10),
                                                  max_pairs_per_sequence=args.pairs_per_sequence,
                                                  random_state=seed + 1000)
    results = {}
    encoders = {
        "NIso": NeuralIsometryTransformer(**niso_params(args, seed)),
        "NFT (least squares)": NeuralIsometryTransformer(
            **niso_params(args, seed, transition="least_squares", alpha=0.0, beta=0.0)),
        "no-operator ablation": NeuralIsometryTransformer(
            **niso_params(args, seed, beta=0.0, mask_temperature=1e6)),
    }
    encoders = {name: encoder for name, encoder in encoders.items() if name in args.methods}
    for name, encoder in encoders.items():
        tic = time.perf_counter()
        encoder.fit(pre_X)
        maps = IsometryMapEstimator(encoder).fit(head_X[:1])
        head = PoseRegressor(**head_params(args, seed)).fit(maps.transform(head_X), head_y, groups=head_groups)
        scores = evaluate(lambda X, m=maps, h=head: h.predict(m.transform(X)), test)
        results[name] = {"scores": scores, "fit_seconds": time.perf_counter() - tic,
                         "final_encoder_loss": encoder.history_[-1]["loss"]}
        print(json.dumps({"seed": seed, "method": name, **results[name]}), flush=True)

    if "direct CNN" in args.methods:
        results["direct CNN"] = run_cnn(seed, args, train, test, head_X, head_y, head_groups)
    results["zero motion"] = {"scores": evaluate(lambda X: np.tile(np.eye(4), (len(X), 1, 1)), test)}
    means = {skip: mean_motion(train, skip) for skip in SKIPS}
    results["constant motion"] = {
        "scores": evaluate(lambda X, skip: np.tile(means[skip], (len(X), 1, 1)), test, per_skip=True)}
    return results


def run_cnn(seed, args, train, test, head_X, head_y, head_groups):
    tic = time.perf_counter()
    cnn = DirectCNNPoseRegressor(image_shape=train.images[0].shape[1:], standardize=False,
                                 **{**head_params(args, seed), "max_steps": args.cnn_steps})
    cnn.fit(head_X.reshape(len(head_X), -1), head_y, groups=head_groups)
    result = {"scores": evaluate(lambda X: cnn.predict(X.reshape(len(X), -1)), test),
              "fit_seconds": time.perf_counter() - tic}
    print(json.dumps({"seed": seed, "method": "direct CNN", **result}), flush=True)
    return result


def summary_table(runs, metric):
    methods = list(runs[0]["results"])
    lines = ["| method | " + " | ".join(f"skip {s}" for s in SKIPS) + " |",
             "|---|" + "---|" * len(SKIPS)]
    for method in methods:
        cells = []
        for skip in SKIPS:
            values = [run["results"][method]["scores"][str(skip)][metric] for run in runs]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--k", type=int, default=16, help="NIso operator rank K")
    parser.add_argument("--n-train-sequences", type=int, default=16)
    parser.add_argument("--n-test-sequences", type=int, default=6)
    parser.add_argument("--n-frames", type=int, default=60)
    parser.add_argument("--degrees-per-frame", type=float, nargs=2, default=(2.0, 4.0),
                        help="range of the sequences' mean azimuth step (make_synthetic_co3d)")
    parser.add_argument("--pairs-per-sequence", type=int, default=200)
    parser.add_argument("--niso-steps", type=int, default=300)
    parser.add_argument("--head-steps", type=int, default=1500)
    parser.add_argument("--cnn-steps", type=int, default=1500)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/pose-<time>.json)")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))

    started = time.strftime("%Y%m%d-%H%M%S")
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        from pathlib import Path

        train, test, data_seconds = make_data(args, Path(folder))
    print(f"rendered and loaded {len(train.images)} + {len(test.images)} sequences in {data_seconds:.0f} s", flush=True)
    runs = [{"seed": seed, "results": run_seed(seed, args, train, test)} for seed in args.seeds]
    record = {
        "benchmark": "pose-synthetic-co3d",
        "args": vars(args),
        "runs": runs,
        "data_seconds": data_seconds,
        "total_seconds": time.perf_counter() - tic,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__},
    }
    out = args.out or os.path.join(os.path.dirname(__file__), "results", f"pose-{started}.json")
    with open(out, "w") as fh:
        json.dump(record, fh, indent=2)
    for metric in ("ate_procrustes", "ate_umeyama", "median_rotation_error_deg"):
        print(f"\n{metric} (mean ± std over seeds {args.seeds})\n" + summary_table(runs, metric))
    print(f"\nwrote {out}; total {record['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
