"""homNIST: score a pre-training checkpoint of ``benchmarks/homnist.py``, part-way or finished.

A long run under ``homnist.py --checkpoint-dir DIR`` saves each NIso
pipeline's pre-training to ``DIR/<model>-seed<seed>.pt`` every
``niso.checkpoint_interval`` steps.  This script loads such a file as it
stands (from a copy, so a run still writing to it is not disturbed), fits a
head on the run's clean training digits, and reports the metrics of
``homnist_steps.py``: clean and homNIST accuracy, the Gram linear probe, the
equivariance and τ transfer errors, and the learning rate reached.  It is how a
50,000-step run can be looked at on the way, without waiting for its end.

Give the run's own ``--config``, ``--model``, ``--seed``, ``--extra-train-root``
and ``--set``: the checkpoint records its parameters and a fingerprint of its
training digits, and is refused (naming what differs) under any others.  The
head follows ``--set head.PARAM=VALUE``; ``--head-steps N ...`` also fits
heads of N steps each.

    python benchmarks/homnist_checkpoint.py DIR/niso-seed0.pt --seed 0 \\
        --extra-train-root MNIST_DIR --set "${RUN_SET[@]}" head.max_steps=300 --out look.json
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))

from homnist import (  # noqa: E402
    CONFIGS, PIPELINE_MODELS, check_data_arguments, load_digits, machine_description, parse_overrides, settings,
    training_and_test_digits,
)
from homnist_steps import score_snapshot  # noqa: E402

from skniso import NeuralIsometryTransformer  # noqa: E402
from skniso.datasets import make_homnist_test  # noqa: E402


def checkpoint_step(path):
    """The number of steps the checkpoint at ``path`` has trained."""
    try:
        return int(torch.load(path, weights_only=True, map_location="cpu")["state"]["step"])
    except Exception as exc:  # unreadable, not a dict, or not an skniso checkpoint
        raise SystemExit(f"{path} is not a readable skniso checkpoint: {exc!r}") from exc


def load_checkpoint(path, params, train_x):
    """A NeuralIsometryTransformer holding the checkpoint's weights, trained no further."""
    step = checkpoint_step(path)
    with tempfile.TemporaryDirectory() as folder:
        # fit saves back to checkpoint_path: point it at a copy, never at the run's file.
        copy = os.path.join(folder, "checkpoint.pt")
        shutil.copyfile(path, copy)
        niso = NeuralIsometryTransformer(**{**params, "max_steps": step, "checkpoint_path": copy})
        with warnings.catch_warnings():
            # max_steps equals the saved step: fit loads the run and warns there is nothing to continue.
            warnings.filterwarnings("ignore", message=".*nothing to continue", category=UserWarning)
            try:
                niso.fit(train_x)
            except ValueError as exc:
                # The estimator's refusal names the temporary copy; name the user's file and the fix.
                differing = re.search(r"other parameters or data \((differing: [^)]*)\)", str(exc))
                if differing is None:
                    raise
                raise SystemExit(
                    f"{path} was written with other settings or training digits ({differing.group(1)}); "
                    "give the run's own --config, --model, --seed, --train-digits, --extra-train-root and --set"
                ) from exc
    return niso


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a homnist.py pre-training checkpoint (<model>-seed<seed>.pt)")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--mnist-root", default=None, help="full MNIST for --config paper")
    parser.add_argument("--model", choices=sorted(PIPELINE_MODELS), default="niso")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--selection", choices=["test", "validation"], default="test")
    parser.add_argument("--train-digits", type=int, default=None, help="as the run's homnist.py --train-digits")
    parser.add_argument("--extra-train-root", default=None, metavar="DIR",
                        help="as the run's homnist.py --extra-train-root")
    parser.add_argument("--set", nargs="*", default=[], metavar="PART.PARAM=VALUE",
                        help="the run's homnist.py --set (niso.* must match the checkpoint; head.* is free)")
    parser.add_argument("--head-steps", type=int, nargs="*", default=[],
                        help="also fit a head on all the training digits for each of these many steps")
    parser.add_argument("--out", default=None, help="also write the result, as one JSON object, here")
    args = parser.parse_args()
    if not os.path.isfile(args.checkpoint):
        parser.error(f"no checkpoint file at {args.checkpoint}")
    check_data_arguments(parser, args)
    if any(n < 1 for n in args.head_steps):
        parser.error(f"--head-steps must be positive, got {args.head_steps}")

    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    config = CONFIGS[args.config]
    overrides = parse_overrides(args.set)
    # The same digits, in the same order, as homnist.py: the checkpoint's fingerprint checks it.
    images, labels, extra = load_digits(args)
    train, test = training_and_test_digits(args.seed, args, config, images, labels, extra)
    homnist = make_homnist_test(*test, n_transforms=config["n_transforms"], random_state=1000 + args.seed)

    params = settings(args.model, "niso", config, overrides, args.seed)
    niso = load_checkpoint(args.checkpoint, params, train[0])
    head_params = settings(args.model, "head", config, overrides, args.seed)
    last = niso.history_[-1]
    result = {  # score_snapshot adds the pre-training time, the spectrum and the losses reached
        "checkpoint": os.path.abspath(args.checkpoint), "model": args.model, "seed": args.seed,
        # The schedule's length as --set gives it: a checkpoint may be resumed with a larger max_steps.
        "step": niso.n_steps_, "schedule_steps": params.get("max_steps"),
        "lr": last["lr"], "lr_fraction_of_peak": last["lr"] / niso.lr,
        "args": vars(args),
        "machine": machine_description(),
    }
    result.update(score_snapshot(niso, head_params, (train, test, homnist), train[0], args.seed,
                                 head_steps=args.head_steps))
    print(json.dumps(result), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
