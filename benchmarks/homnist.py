"""homNIST benchmark: the default NIso pipeline on the bundled MNIST digits.

Protocol (method.md §7, tasks.md §1): pre-train NIso on homography pairs of the
training digits, fit the equivariant head on the *clean* training digits only,
and test on clean held-out digits and on a homNIST test set regenerated with
MacDonald et al.'s Haar sampler from the held-out digits.

    python benchmarks/homnist.py --seeds 0 1 2

Writes a JSON record to benchmarks/results/ and prints a summary table.

For choosing settings, ``--selection validation`` holds out part of the
*training* digits (clean and homNIST-style warps of them) and never touches the
test digits; ``--set niso.PARAM=VALUE`` / ``--set clf.PARAM=VALUE`` override
estimator parameters (values are Python literals).
"""

import argparse
import ast
import json
import os
import platform
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.metrics import equivariance_error
from skniso.datasets import (
    RandomHomography,
    load_mnist,
    make_homnist_pairs,
    make_homnist_test,
)


def parse_overrides(pairs):
    """``["niso.alpha=0.1", "clf.width=64"]`` → ({"alpha": 0.1}, {"width": 64})."""
    niso, clf = {}, {}
    for item in pairs or []:
        key, _, value = item.partition("=")
        target, _, name = key.partition(".")
        if target not in ("niso", "clf") or not name or not value:
            raise SystemExit(f"--set expects niso.PARAM=VALUE or clf.PARAM=VALUE, got {item!r}")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        (niso if target == "niso" else clf)[name] = parsed
    return niso, clf


def run_one(seed, args, images, labels):
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=args.n_test, train_size=args.n_train,
        stratify=labels, random_state=seed,
    )
    if getattr(args, "selection", "test") == "validation":
        # Evaluate on held-out *training* digits; the test digits stay unseen.
        train_x, test_x, train_y, test_y = train_test_split(
            train_x, train_y, test_size=args.n_test, stratify=train_y, random_state=seed,
        )
    homnist_x, homnist_y = make_homnist_test(
        test_x, test_y, n_transforms=args.n_transforms, random_state=1000 + seed
    )
    niso_overrides, clf_overrides = parse_overrides(getattr(args, "set", None))
    niso_params = dict(random_state=seed, **niso_overrides)
    if args.niso_steps:
        niso_params["max_steps"] = args.niso_steps
    clf_params = dict(random_state=seed, **clf_overrides)
    if args.clf_steps:
        clf_params["max_steps"] = args.clf_steps
    if args.pairs == "fixed":
        fit_x, _ = make_homnist_pairs(images=train_x, labels=train_y, random_state=seed)
    else:  # a fresh homography at every step, as the paper trains
        fit_x = train_x
        niso_params["pair_transform"] = RandomHomography()
    pipe = Pipeline([
        ("niso", NeuralIsometryTransformer(**niso_params)),
        ("clf", EquivariantClassifier(**clf_params)),
    ])
    start = time.perf_counter()
    pipe.fit(fit_x, train_y)
    fit_seconds = time.perf_counter() - start
    niso = pipe.named_steps["niso"]
    heldout_pairs, _ = make_homnist_pairs(images=test_x, labels=test_y, random_state=2000 + seed)
    tau, source, target = niso.isometries(heldout_pairs, return_latents=True)
    return {
        "seed": seed,
        "clean_accuracy": float(pipe.score(test_x, test_y)),
        "homnist_accuracy": float(pipe.score(homnist_x, homnist_y)),
        "equivariance_error": float(np.mean(equivariance_error(tau, source, target))),
        "gram_invariance_ratio": gram_invariance_ratio(source, target, seed),
        "fit_seconds": fit_seconds,
        "niso_seconds": niso.history_[-1]["time"],
        "final_losses": {k: v for k, v in niso.history_[-1].items() if k not in ("step", "time", "lr")},
    }


def gram_invariance_ratio(source, target, seed):
    """How much the O(K)-invariant Gram features ÊᵀÊ move under a homography,
    relative to how much they differ between two random digits (0: invariant,
    about 1: a homography changes them as much as changing the digit)."""
    gram = lambda e: np.einsum("nkc,nkd->ncd", e, e).reshape(len(e), -1)  # noqa: E731
    g_source, g_target = gram(source), gram(target)
    other = np.random.default_rng(seed).permutation(len(source))
    moved = np.linalg.norm(g_target - g_source, axis=1).mean()
    between = np.linalg.norm(g_source[other] - g_source, axis=1).mean()
    return float(moved / between)


def summarise(values):
    values = np.asarray(values, dtype=float)
    sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(sem)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--n-transforms", type=int, default=4,
                        help="homographies per held-out digit in the homNIST test set")
    parser.add_argument("--pairs", choices=["fixed", "fresh"], default="fixed",
                        help="fixed: make_homnist_pairs (one homography per digit); "
                             "fresh: RandomHomography draws new ones every step")
    parser.add_argument("--niso-steps", type=int, default=None)
    parser.add_argument("--clf-steps", type=int, default=None)
    parser.add_argument("--selection", choices=["test", "validation"], default="test",
                        help="validation: score on held-out training digits, for choosing settings")
    parser.add_argument("--set", nargs="*", default=[], metavar="EST.PARAM=VALUE",
                        help="override parameters, e.g. niso.beta=0.05 clf.gram_channels=32")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/homnist-<time>.json)")
    args = parser.parse_args()

    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    images, labels = load_mnist()
    runs = []
    for seed in args.seeds:
        result = run_one(seed, args, images, labels)
        runs.append(result)
        print(json.dumps(result), flush=True)
    summary = {key: summarise([r[key] for r in runs])
               for key in ("clean_accuracy", "homnist_accuracy", "equivariance_error",
                           "gram_invariance_ratio", "fit_seconds")}
    record = {
        "benchmark": "homnist-pipeline",
        "args": vars(args),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "cuda": torch.cuda.is_available()},
        "runs": runs,
        "summary": summary,
    }
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"homnist-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(record, fh, indent=2)
    print("\nmetric               mean ± s.e.")
    for key, (mean, sem) in summary.items():
        print(f"{key:20s} {mean:.4f} ± {sem:.4f}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
