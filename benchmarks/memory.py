"""Peak memory of ``NeuralIsometryTransformer.transform`` on 100k homNIST-size digits.

    python benchmarks/memory.py [--n 100000] [--batch-sizes 256 4096] [--json FILE]

A tiny model is fitted in seconds on homNIST pairs of the 5,000 bundled digits
and saved with ``skniso.save_model``.  Each measurement then runs in a fresh
Python process, which loads the model, builds ``n`` digits of 1×40×40 by
tiling the bundled ones with small Gaussian perturbations (float32, built in
place), records its resident memory (RSS) as the baseline, and calls
``transform`` once while a thread samples ``/proc/self/statm`` every 2 ms.
Reported per run: the input and output sizes, the peak RSS above the baseline
(what transform itself needs, output included), the process's ``ru_maxrss``,
tracemalloc's peak of Python/numpy allocations during transform (torch's CPU
allocator is not traced), and the wall time.  The inference batch size is set
through the estimator's ``_inference_batch_size``; ``--unbatched N`` adds a run
with one batch of N digits, to show what holding every input at once costs.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import skniso  # noqa: E402
from skniso import NeuralIsometryTransformer  # noqa: E402
from skniso.datasets import load_mnist, make_homnist_pairs  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 2**20


def rss_bytes():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def tiled_digits(n, seed=0):
    """``n`` digits (n, 1, 40, 40): the bundled 5,000 repeated, each copy perturbed."""
    digits, _ = load_mnist()
    out = np.empty((n, *digits.shape[1:]), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, n, len(digits)):
        block = out[start:start + len(digits)]
        block[:] = digits[:len(block)]
        block += rng.standard_normal(block.shape, dtype=np.float32) * 0.05
    return out


def fit_tiny_model(path, seed=0):
    pairs, _ = make_homnist_pairs(256, random_state=seed)
    niso = NeuralIsometryTransformer(
        channels=(4, 8), blocks_per_level=(1, 1), latent_channels=8, n_components=16,
        max_steps=20, batch_size=16, warmup_steps=5, device="cpu", random_state=seed,
    )
    start = time.perf_counter()
    niso.fit(pairs)
    skniso.save_model(niso, path)
    return time.perf_counter() - start


def measure(model_path, n, batch_size):
    """One measurement in this process (run it in a fresh one)."""
    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", "1")))
    niso = skniso.load_model(model_path)
    niso._inference_batch_size = batch_size
    X = tiled_digits(n)
    niso.transform(X[:2])  # warm up torch's allocator and kernels
    baseline = rss_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    start = time.perf_counter()
    Z = niso.transform(X)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak[0] = max(peak[0], rss_bytes())
    return {
        "n": n,
        "batch_size": batch_size,
        "input_mb": X.nbytes / MB,
        "output_mb": Z.nbytes / MB,
        "baseline_rss_mb": baseline / MB,
        "peak_rss_above_baseline_mb": (peak[0] - baseline) / MB,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tracemalloc_peak_mb": traced_peak / MB,
        "seconds": elapsed,
        "finite": bool(np.isfinite(Z).all()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--unbatched", type=int, default=5000,
                        help="also transform this many digits in one batch (0: skip)")
    parser.add_argument("--json")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "N", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), int(args.child[2]))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "tiny.safetensors")
        fit_seconds = fit_tiny_model(model_path)
        runs = [(args.n, b) for b in args.batch_sizes]
        if args.unbatched:
            runs += [(args.unbatched, 256), (args.unbatched, args.unbatched)]
        results = []
        for n, batch in runs:
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", model_path, str(n), str(batch)],
                check=True, capture_output=True, text=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"n={n} batch={batch}: done", file=sys.stderr, flush=True)

    print(f"tiny model fitted in {fit_seconds:.1f} s (20 steps); "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"SKNISO_THREADS={os.environ.get('SKNISO_THREADS', '1')}\n")
    print("| digits | batch | input MB | output MB | peak RSS above baseline, MB | ru_maxrss MB "
          "| tracemalloc peak MB | seconds |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['n']:,} | {r['batch_size']:,} | {r['input_mb']:.0f} | {r['output_mb']:.1f} | "
              f"{r['peak_rss_above_baseline_mb']:.0f} | {r['ru_maxrss_mb']:.0f} | "
              f"{r['tracemalloc_peak_mb']:.1f} | {r['seconds']:.1f} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"fit_seconds": fit_seconds, "torch": torch.__version__,
                       "machine": platform.machine(), "runs": results}, handle, indent=1)


if __name__ == "__main__":
    main()
