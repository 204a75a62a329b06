"""One prepared GPU session: CUDA pickle fixtures, step times, and GPU homNIST runs.

Meant for a single short visit to a GPU machine (the device budget here is 15
minutes), so every stage is time-boxed:

1. fit tiny models with ``device="cuda"`` (plain, and with precision="16-mixed"
   and compile=True) and write joblib fixtures plus their GPU outputs
   (tests/test_persistence.py and tests/test_training.py load them on CPU-only
   machines);
2. time training steps of the default and the paper-size homNIST configs;
3. run the default pipeline end to end (bundled digits, same protocol as
   benchmarks/homnist.py);
4. run the paper-size config for as many steps as the remaining budget allows.

    python benchmarks/gpu_session.py --out DIR --budget 480

``--fixtures-only`` stops after stage 1 (``benchmarks/gpu_homnist.sh`` runs it
beside the homNIST models).
"""

import argparse
import json
import os
import sys
import time

import joblib
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))

from homnist import CONFIGS, run_one, split  # noqa: E402

from skniso import EquivariantClassifier, NeuralIsometryTransformer, presets  # noqa: E402
from skniso.datasets import load_mnist, make_homnist_pairs, make_homnist_test  # noqa: E402


def make_fixtures(out, device):
    """Tiny CUDA-fitted models, plain and trained in float16 autocast with torch.compile."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 2, 1, 8, 8)).astype(np.float32)
    X[:, 1] = np.roll(X[:, 0], 1, axis=-1)
    variants = [("", {}), ("_16mixed_compiled", {"precision": "16-mixed", "compile": True})]
    if device != "cuda":  # float16 autocast with gradient scaling is CUDA-only (a --smoke run)
        variants = variants[:1]
    for suffix, training in variants:
        niso = NeuralIsometryTransformer(channels=(4, 8), blocks_per_level=(1, 1), latent_channels=3,
                                         n_components=6, max_steps=5, batch_size=4, warmup_steps=0,
                                         device=device, random_state=0, **training).fit(X)
        latents = niso.transform(X).reshape(16, 6, 3)
        y = np.array(["a", "b"] * 8)
        clf = EquivariantClassifier(width=8, gram_channels=4, max_steps=5, batch_size=8,
                                    device=device, random_state=0, **training).fit(latents, y)
        for name, model, inputs, output in [
            (f"niso_cuda{suffix}", niso, X, niso.transform(X)),
            (f"clf_cuda{suffix}", clf, latents, clf.predict_proba(latents)),
        ]:
            joblib.dump(model, os.path.join(out, f"{name}.joblib"))
            np.savez(os.path.join(out, f"{name}_expected.npz"), X=inputs, output=output,
                     device=str(model.device_))


def step_time(params, pairs, steps):
    niso = NeuralIsometryTransformer(**{**params, "max_steps": steps, "warmup_steps": 0,
                                        "random_state": 0})
    niso.fit(pairs)
    times = np.array([r["time"] for r in niso.history_])
    # Skip the first fifth (CUDA warm-up, allocator growth).
    start = steps // 5
    return float((times[-1] - times[start]) / (steps - 1 - start))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole script")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to test the script on CPU")
    parser.add_argument("--fixtures-only", action="store_true", help="stop after writing the fixtures")
    args = parser.parse_args()
    begin = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
              "torch": torch.__version__}
    os.makedirs(args.out, exist_ok=True)

    def save():
        report["elapsed_s"] = time.perf_counter() - begin
        with open(os.path.join(args.out, "gpu_session.json"), "w") as fh:
            json.dump(report, fh, indent=2)
        print(json.dumps(report), flush=True)

    make_fixtures(args.out, device)
    report["fixtures"] = "ok"
    save()
    if args.fixtures_only:
        return

    images, labels = load_mnist()
    pairs, _ = make_homnist_pairs(images=images[:512], labels=labels[:512], random_state=0)
    n_timed = 6 if args.smoke else 150
    report["s_per_step"] = {
        "default": step_time(presets.HOMNIST_CPU, pairs, n_timed),
        "paper": step_time(presets.HOMNIST_PAPER, pairs, n_timed),
    }
    save()

    class Args:  # the options of benchmarks/homnist.py that run_one reads
        config, selection, mnist_root = "cpu", "test", None

    cpu = CONFIGS["cpu"]
    train, test = split(0, Args, cpu, images, labels)
    data = (train, test, make_homnist_test(*test, n_transforms=cpu["n_transforms"], random_state=1000))
    smoke = {(None, "niso"): {"max_steps": 30}, (None, "head"): {"max_steps": 30}} if args.smoke else {}
    report["default_pipeline"] = run_one("niso", 0, Args, cpu, smoke, data)
    save()

    remaining = args.budget - (time.perf_counter() - begin)
    per_step = report["s_per_step"]["paper"]
    # Leave a quarter of what remains for the head, transforms and the report.
    niso_steps = int(max(10, min(50_000, 0.6 * remaining / per_step)))
    truncated = dict(
        cpu,
        niso={**presets.HOMNIST_PAPER, "max_steps": niso_steps, "warmup_steps": min(2000, niso_steps // 10)},
        head=dict(max_steps=2000),
    )
    report["paper_config_truncated"] = {
        "niso_steps": niso_steps, **run_one("niso", 0, Args, truncated, smoke, data)
    }
    save()


if __name__ == "__main__":
    main()
