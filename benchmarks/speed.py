"""Speed: the estimators' overhead against plain torch, the τ solve, and transform.

Measured in one run, on the same models, data and batch sizes:

1. **Fit throughput** (optimiser steps per second, whole ``fit`` call including
   input validation and model construction) of ``NeuralIsometryTransformer``
   and ``EquivariantClassifier`` against a hand-written torch loop that builds
   the same module from skniso's public building blocks, with the same seeded
   initialisation, batch sampling, AdamW and warmup-cosine schedule, and nothing
   else.  Goal: ratio ≥ 0.95.
2. **τ-solve throughput**: batched masked Procrustes (``solve_isometry``, the
   SO(K) and O(K) variants) against one batched ``torch.linalg.svd`` of the same
   (B, K, K) cross-covariances, K = 32 and 128.  Goal: within 1.2×.
3. **transform throughput** (samples per second) of the fitted transformer.

The estimator and the hand loop alternate, repeat after repeat, so that load
from other processes falls on both alike; medians and the spread of the
per-repeat ratios are reported.

    SKNISO_THREADS=1 python benchmarks/speed.py            # a few minutes on a CPU
    python benchmarks/speed.py --quick                       # a smoke run

Writes a JSON record to benchmarks/results/ and prints a markdown table.
"""

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.core.model import NeuralIsometryModel
from skniso.core.operator import SpectralOperator
from skniso.core.procrustes import eigenvalue_mask, solve_isometry
from skniso.nn.conv import ConvDecoder, ConvEncoder
from skniso.nn.init import build_module
from skniso.nn.vector_neurons import OrthNet
from skniso.training import warmup_cosine_lr

NISO = dict(channels=(16, 32), blocks_per_level=(1, 1), latent_channels=16, n_components=32,
            batch_size=16, lr=5e-4, weight_decay=1e-4, warmup_steps=10)
CLF = dict(width=32, n_layers=2, gram_channels=16, batch_size=64, lr=1e-3, weight_decay=1e-4,
           warmup_steps=10)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def hand_loop(build, step_loss, data, n_samples, params, steps, seed, device):
    """The plainest loop doing the estimator's work: build, sample, step, schedule."""
    generator = torch.Generator().manual_seed(seed)
    module = build(generator)
    optimizer = torch.optim.AdamW(module.parameters(), lr=params["lr"],
                                  weight_decay=params["weight_decay"])
    module.train()
    for step in range(steps):
        lr = warmup_cosine_lr(step, peak=params["lr"], warmup_steps=params["warmup_steps"],
                              total_steps=steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        indices = torch.randperm(n_samples, generator=generator)[:params["batch_size"]]
        loss = step_loss(module, indices, data)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    module.eval()
    return module


def compare_fit(name, estimator_fit, hand_fit, steps, repeats, device):
    """Alternate estimator and hand loop; return throughputs and ratios."""
    estimator_fit(2), hand_fit(2)  # warm-up: allocator, first-call dispatch
    est_rates, hand_rates = [], []
    for _ in range(repeats):
        for fit, rates in ((estimator_fit, est_rates), (hand_fit, hand_rates)):
            sync(device)
            start = time.perf_counter()
            fit(steps)
            sync(device)
            rates.append(steps / (time.perf_counter() - start))
    ratios = [e / h for e, h in zip(est_rates, hand_rates)]
    return {
        "model": name, "steps": steps, "repeats": repeats,
        "estimator_steps_per_s": statistics.median(est_rates),
        "hand_loop_steps_per_s": statistics.median(hand_rates),
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
    }


def niso_fit_benchmark(args, device):
    rng = np.random.default_rng(0)
    size = args.image_size
    images = rng.standard_normal((args.n_samples, 1, size, size)).astype(np.float32)
    pairs = np.stack([images, np.roll(images, 2, axis=-1)], axis=1)
    params = NISO

    def estimator_fit(steps):
        return NeuralIsometryTransformer(**params, max_steps=steps, random_state=0,
                                         device=device.type).fit(pairs)

    def build(generator):
        grid = (size // 2, size // 2)

        def factory():
            return NeuralIsometryModel(
                ConvEncoder(1, params["latent_channels"], params["channels"], params["blocks_per_level"]),
                ConvDecoder(params["latent_channels"], 1, params["channels"], params["blocks_per_level"]),
                grid,
                SpectralOperator(grid[0] * grid[1], params["n_components"]),
            )

        return build_module(factory, generator, device)

    def step_loss(model, indices, data):
        batch = data[indices].to(device)
        return model.losses(list(batch.unbind(1)))["loss"]

    def hand_fit(steps):
        data = torch.from_numpy(pairs)
        return hand_loop(build, step_loss, data, len(pairs), params, steps, 0, device)

    result = compare_fit(f"NeuralIsometryTransformer ({size}x{size} pairs, batch {params['batch_size']})",
                         estimator_fit, hand_fit, args.niso_steps, args.repeats, device)
    fitted = estimator_fit(2)
    return result, fitted, images


def clf_fit_benchmark(args, device):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((args.n_samples, 32, 16)).astype(np.float32)
    y = rng.integers(0, 10, args.n_samples)
    params = CLF

    def estimator_fit(steps):
        return EquivariantClassifier(**params, max_steps=steps, random_state=0,
                                     device=device.type).fit(X, y)

    def build(generator):
        return build_module(lambda: OrthNet(16, 10, width=params["width"], n_layers=params["n_layers"],
                                            gram_channels=params["gram_channels"]), generator, device)

    def step_loss(module, indices, data):
        latents, targets = data
        logits = module(latents[indices].to(device))
        return torch.nn.functional.cross_entropy(logits, targets[indices].to(device))

    def hand_fit(steps):
        scale = np.sqrt(np.mean(X.astype(np.float64) ** 2, axis=(0, 1))).astype(np.float32)
        data = (torch.from_numpy(X / scale), torch.from_numpy(y.astype(np.int64)))
        return hand_loop(build, step_loss, data, len(X), params, steps, 0, device)

    return compare_fit(f"EquivariantClassifier (K=32, C=16, batch {params['batch_size']})",
                       estimator_fit, hand_fit, args.clf_steps, args.repeats, device)


def median_seconds(fn, repeats, device):
    """Median wall time of ``fn()`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tau_benchmark(args, device):
    """Batched masked Procrustes against one batched SVD, timed in alternation."""
    rows = []
    generator = torch.Generator().manual_seed(0)
    for k in (32, 128):
        batch, channels = args.tau_batch, 16
        source = torch.randn(batch, k, channels, generator=generator).to(device)
        target = torch.randn(batch, k, channels, generator=generator).to(device)
        eigenvalues = torch.sort(torch.rand(k, generator=generator) * 4).values.to(device)
        mask = eigenvalue_mask(eigenvalues, "fuzzy", 1.0)
        cross = (target @ source.transpose(-1, -2)) * mask
        candidates = {
            "svd": lambda: torch.linalg.svd(cross, full_matrices=False),
            "O(K)": lambda: solve_isometry(source, target, mask, special=False),
            "SO(K)": lambda: solve_isometry(source, target, mask, special=True),
        }
        times = {name: [] for name in candidates}
        with torch.no_grad():
            for fn in candidates.values():
                fn()
            for _ in range(args.repeats * 3):
                for name, fn in candidates.items():
                    sync(device)
                    start = time.perf_counter()
                    fn()
                    sync(device)
                    times[name].append(time.perf_counter() - start)
        row = {"K": k, "batch": batch, "channels": channels,
               "svd_per_s": batch / statistics.median(times["svd"])}
        for label in ("O(K)", "SO(K)"):
            ratios = [t / s for t, s in zip(times[label], times["svd"])]
            row[f"{label}_per_s"] = batch / statistics.median(times[label])
            row[f"{label}_svd_time_ratio"] = statistics.median(ratios)
            row[f"{label}_svd_time_ratio_range"] = [min(ratios), max(ratios)]
        rows.append(row)
    return rows


def transform_benchmark(fitted, images, repeats, device):
    seconds = median_seconds(lambda: fitted.transform(images), repeats, device)
    return {"samples": len(images), "image": list(images.shape[1:]), "samples_per_s": len(images) / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few steps and repeats")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--n-samples", type=int, default=512)
    parser.add_argument("--niso-steps", type=int, default=30)
    parser.add_argument("--clf-steps", type=int, default=100)
    parser.add_argument("--tau-batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tau-only", action="store_true", help="only the τ solve; prints, writes nothing")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/speed-<device>-<time>.json)")
    args = parser.parse_args()
    if args.quick:
        args.niso_steps, args.clf_steps, args.repeats, args.n_samples = 4, 6, 2, 64
    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))

    started = time.perf_counter()
    tau = tau_benchmark(args, device)
    if args.tau_only:
        for row in tau:
            print(json.dumps(row))
        return
    niso_fit, fitted, images = niso_fit_benchmark(args, device)
    clf_fit = clf_fit_benchmark(args, device)
    transform = transform_benchmark(fitted, images, args.repeats, device)
    record = {
        "benchmark": "speed",
        "args": vars(args),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "device": str(device),
                    "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None},
        "fit": [niso_fit, clf_fit],
        "tau_solve": tau,
        "transform": transform,
        "seconds": time.perf_counter() - started,
    }
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"speed-{device.type}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(record, fh, indent=2)

    print("| fit | estimator steps/s | hand loop steps/s | ratio (median, min–max) |")
    print("|---|---|---|---|")
    for row in record["fit"]:
        print(f"| {row['model']} | {row['estimator_steps_per_s']:.2f} | {row['hand_loop_steps_per_s']:.2f} "
              f"| {row['ratio_median']:.3f} ({row['ratio_min']:.3f}–{row['ratio_max']:.3f}) |")
    print("\n| K | batch | svd /s | O(K) τ /s | SO(K) τ /s | O(K) time / svd | SO(K) time / svd |")
    print("|---|---|---|---|---|---|---|")
    for row in tau:
        print(f"| {row['K']} | {row['batch']} | {row['svd_per_s']:.0f} | {row['O(K)_per_s']:.0f} "
              f"| {row['SO(K)_per_s']:.0f} | {row['O(K)_svd_time_ratio']:.2f} | {row['SO(K)_svd_time_ratio']:.2f} |")
    print(f"\ntransform: {transform['samples_per_s']:.0f} samples/s "
          f"({transform['samples']} images of {transform['image']})")
    print(f"written to {out} ({record['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
