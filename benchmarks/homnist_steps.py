"""homNIST: accuracy against pre-training steps, read off one run.

Issue 3's remaining lever for pairwise NIso is the step count: the paper trains
for 50,000 steps, the CPU budget reaches about 5,000, and the GPU runs so far
stopped on a time cap with the learning rate still near its peak.  This script
trains one NIso model on one cosine schedule of ``--steps`` steps, keeps a copy
of its weights at each of ``--snapshots``, and afterwards scores every snapshot
with the same protocol as ``benchmarks/homnist.py`` (a head fitted on the clean
training digits with a fixed step budget, the Gram linear probe, the
equivariance and transfer errors).  The last snapshot is the annealed model; the
earlier ones are the same run part-way, learning rate still high.  Under a time
cap (``--set niso.max_time=S``) the run may stop before ``--steps``; the model
is then also scored where it stopped, un-annealed.

    python benchmarks/homnist_steps.py --config gpu --seed 0 --steps 9000 \\
        --snapshots 1125 2250 4500 --out DIR/steps-seed0.jsonl

``--pretrain-digits N`` pre-trains on a stratified subset of N training digits
(the head still sees all of them), to tell over-fitting to the pre-training
digits from the regime itself; every snapshot also reports the equivariance and
τ transfer errors on those digits beside the held-out ones.  ``--set`` takes the
same overrides as homnist.py (``niso.PARAM=VALUE``, ``head.PARAM=VALUE``);
``--model`` picks the NIso variant.  ``--head-digits N ...`` also fits,
on every snapshot, heads on stratified subsets of N labelled training digits:
how homNIST accuracy grows with labelled data, with the representation fixed;
``--head-steps N ...`` fits heads on all of them for N steps instead.
``--base-warps K`` pre-trains on K copies of each pre-training digit, each
warped by its own draw of the training homographies, so that neither view of a
pair is the clean digit (the head and the metrics still use clean digits).
``--shared-homography`` pre-trains pairwise NIso on two digits under the same
homography draw, τ solved on one digit's pair mapping the other's (and vice
versa): one part of what the triplet regime adds, transfer of τ between
inputs, without applying T twice.  ``--extra-pretrain-root DIR`` adds to the
pre-training digits the full MNIST training set found in DIR (idx files), less
every digit that is also among the bundled 5,000 (those hold the validation and
test digits); ``--extra-pretrain-digits N`` keeps a stratified N of them.  The
data split and the scored digits stay the bundled ones.  The heads train on the
bundled training digits alone, which tells how NIso responds to more unlabelled
digits, or with ``--extra-head`` on the extra digits and their labels too (the
paper fits its head on all 60,000).  One JSON line per snapshot, after a
header line.
"""

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))

from homnist import (  # noqa: E402
    CONFIGS, PIPELINE_MODELS, extra_training_digits, linear_probe_accuracies, machine_description, parse_overrides,
    representation_metrics, settings, split, stratified_subset, transfer_equivariance_error,
)

import skniso.core.model as core_model  # noqa: E402
from skniso import EquivariantClassifier, NeuralIsometryTransformer  # noqa: E402
from skniso.datasets import RandomHomography, load_mnist, make_homnist_pairs, make_homnist_test  # noqa: E402
from skniso.metrics import equivariance_error  # noqa: E402


def cpu_state(model):
    """A CPU copy of ``model``'s weights, unaffected by further training."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class SnapshotTransformer(NeuralIsometryTransformer):
    """A NeuralIsometryTransformer that copies its weights at chosen steps of the run.

    Set ``snapshot_steps`` (a set of step numbers) before ``fit``; afterwards
    ``snapshots`` maps each step reached to a CPU copy of the model's state.
    """

    snapshot_steps = frozenset()
    shared_homography = False

    def _views(self, batch, generator):
        if not self.shared_homography:
            return super()._views(batch, generator)
        # The batch's next digit under the same homography draw: re-using the
        # generator's state gives every sample index the same H in both calls.
        state = generator.get_state()
        views = super()._views(batch, generator)
        generator.set_state(state)
        return views + super()._views(batch.roll(1, 0), generator)

    def _training_step(self, model, indices, data, generator):
        self._live_model = model  # the loop's module; _on_step_end has only the history row
        return super()._training_step(model, indices, data, generator)

    def _on_step_end(self, record):
        if record["step"] in self.snapshot_steps:
            self.snapshots[record["step"]] = cpu_state(self._live_model)

    def fit(self, X, y=None):
        self.snapshots = {}
        try:
            return super().fit(X, y)
        finally:
            self.__dict__.pop("_live_model", None)


def shared_pairs(n_views, _pairwise=core_model.isometry_pairs):
    """``isometry_pairs`` with a 4-view case: τ solved on one digit's pair maps the other's."""
    if n_views == 4:
        return [((0, 1), (2, 3)), ((2, 3), (0, 1))]
    return _pairwise(n_views)


def warped_copies(x, copies, seed):
    """``copies`` copies of the digits ``x``, each warped by its own training-distribution homography."""
    generator = torch.Generator().manual_seed(seed)
    warp = RandomHomography()
    clean = torch.as_tensor(np.asarray(x, dtype=np.float32))
    return torch.cat([warp(clean, generator=generator) for _ in range(copies)]).numpy()


def at_snapshot(fitted, step):
    """A copy of the fitted transformer with the weights it had after ``step`` steps."""
    niso = copy.deepcopy(fitted)
    del niso.snapshots
    niso.model_.load_state_dict(fitted.snapshots[step])
    history = [row for row in fitted.history_ if row["step"] <= step]
    niso._set_fitted(niso.model_, history, fitted.n_views_, fitted.observation_shape_, fitted.device_)
    niso.n_steps_ = step
    return niso


def score_snapshot(niso, head_params, data, pretrain_x, seed, head_digits=(), head_steps=()):
    """homnist.py's metrics for one snapshot, with a head of its own fitted on the clean training digits.

    For each n in ``head_digits`` a further head, same settings, is fitted on a
    stratified subset of n labelled training digits (``head_digits_curve``); for
    each n in ``head_steps``, one on all of them for n steps (``head_steps_curve``).
    """
    (train_x, train_y), (test_x, test_y), (homnist_x, homnist_y) = data
    train_z, test_z, homnist_z = niso.transform(train_x), niso.transform(test_x), niso.transform(homnist_x)
    start = time.perf_counter()
    head = EquivariantClassifier(**head_params).fit(train_z, train_y)
    result = {
        "head_seconds": time.perf_counter() - start,
        "head_steps": head.n_steps_,
        "clean_accuracy": float(head.score(test_z, test_y)),
        "homnist_accuracy": float(head.score(homnist_z, homnist_y)),
        "head_digits_curve": [],
        "head_steps_curve": [],
    }
    for n in head_digits:
        sub_z, sub_y = stratified_subset(train_z, train_y, n, seed)
        sub_head = EquivariantClassifier(**head_params).fit(sub_z, sub_y)
        result["head_digits_curve"].append({
            "head_digits": n,
            "clean_accuracy": float(sub_head.score(test_z, test_y)),
            "homnist_accuracy": float(sub_head.score(homnist_z, homnist_y)),
        })
    for n in head_steps:
        long_head = EquivariantClassifier(**{**head_params, "max_steps": n}).fit(train_z, train_y)
        result["head_steps_curve"].append({
            "head_steps": long_head.n_steps_,
            "clean_accuracy": float(long_head.score(test_z, test_y)),
            "homnist_accuracy": float(long_head.score(homnist_z, homnist_y)),
        })
    result.update(representation_metrics(niso, test_x, test_y, homnist_x, seed))
    result.update(linear_probe_accuracies(
        len(niso.eigenvalues_), train_z, train_y, test_z, test_y, homnist_z, homnist_y
    ))
    # The same tests on digits the encoder was pre-trained on: a gap to the held-out
    # figures is over-fitting to the pre-training digits.
    pairs, _ = make_homnist_pairs(images=pretrain_x[:1000], random_state=2000 + seed)
    tau, source, target = niso.isometries(pairs, return_latents=True)
    result["pretrain_digits_equivariance_error"] = float(np.mean(equivariance_error(tau, source, target)))
    result["pretrain_digits_transfer_equivariance_error"] = transfer_equivariance_error(niso, pretrain_x, seed)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--model", choices=sorted(PIPELINE_MODELS), default="niso")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, required=True, help="length of the learning-rate schedule")
    parser.add_argument("--snapshots", type=int, nargs="+", required=True, help="steps at which to score the model")
    parser.add_argument("--selection", choices=["test", "validation"], default="test")
    parser.add_argument("--pretrain-digits", type=int, default=None,
                        help="pre-train on this many of the training digits (a stratified subset); "
                             "the head still sees all of them")
    parser.add_argument("--head-digits", type=int, nargs="*", default=[],
                        help="also fit a head on a stratified subset of each of these many labelled "
                             "training digits (the labelled-data curve)")
    parser.add_argument("--head-steps", type=int, nargs="*", default=[],
                        help="also fit a head on all the labelled training digits for each of these "
                             "many steps (the head's training budget)")
    parser.add_argument("--base-warps", type=int, default=0,
                        help="pre-train on this many homography-warped copies of each digit instead of "
                             "the clean digits, so that neither view of a pair is canonical (0: clean)")
    parser.add_argument("--shared-homography", action="store_true",
                        help="pairwise only: pre-train on two digits under the same homography, τ solved "
                             "on one digit's pair applied to the other's")
    parser.add_argument("--extra-pretrain-root", default=None, metavar="DIR",
                        help="also pre-train on the MNIST training digits in DIR (idx files), less those "
                             "among the bundled digits; the heads keep the bundled digits unless --extra-head")
    parser.add_argument("--extra-pretrain-digits", type=int, default=None,
                        help="with --extra-pretrain-root: keep a stratified subset of this many of them")
    parser.add_argument("--extra-head", action="store_true",
                        help="with --extra-pretrain-root: the heads train on those digits and labels too")
    parser.add_argument("--set", nargs="*", default=[], metavar="PART.PARAM=VALUE")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.shared_homography and args.model not in ("niso", "niso_no_multiplicity"):
        parser.error(f"--shared-homography needs a pairwise isometry model (niso, niso_no_multiplicity), "
                     f"got {args.model}")
    if any(not 0 < s <= args.steps for s in args.snapshots):
        parser.error(f"--snapshots must lie in 1..--steps ({args.steps}), got {args.snapshots}")
    if args.base_warps < 0:
        parser.error(f"--base-warps must be 0 or positive, got {args.base_warps}")
    if (args.extra_pretrain_digits is not None or args.extra_head) and args.extra_pretrain_root is None:
        parser.error("--extra-pretrain-digits and --extra-head need --extra-pretrain-root")
    args.mnist_root = args.train_digits = None  # split() reads them; this script uses all the bundled digits

    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    config = CONFIGS[args.config]
    overrides = parse_overrides(args.set)
    images, labels = load_mnist()
    train, test = split(args.seed, args, config, images, labels)
    homnist = make_homnist_test(*test, n_transforms=config["n_transforms"], random_state=1000 + args.seed)

    pretrain_digits = len(train[1]) if args.pretrain_digits is None else args.pretrain_digits
    if not 10 <= pretrain_digits <= len(train[1]):
        parser.error(f"--pretrain-digits must lie in 10..{len(train[1])}, got {pretrain_digits}")
    if any(n < 1 for n in args.head_steps):
        parser.error(f"--head-steps must be positive, got {args.head_steps}")
    pretrain_x = stratified_subset(*train, args.pretrain_digits, args.seed)[0]
    extra_digits = 0
    if args.extra_pretrain_root is not None:
        extra_x, extra_y = extra_training_digits(args.extra_pretrain_root, images, args.extra_pretrain_digits, args.seed)
        extra_digits = len(extra_y)
        pretrain_x = np.concatenate([pretrain_x, extra_x])  # the bundled digits first: the metrics read those
        if args.extra_head:
            train = (np.concatenate([train[0], extra_x]), np.concatenate([train[1], extra_y]))
    if any(not 10 <= n <= len(train[1]) for n in args.head_digits):
        parser.error(f"--head-digits must lie in 10..{len(train[1])}, got {args.head_digits}")
    params = settings(args.model, "niso", config, overrides, args.seed)
    params["max_steps"] = args.steps
    niso = SnapshotTransformer(**params)
    niso.snapshot_steps = frozenset(args.snapshots) | {args.steps}
    if args.shared_homography:
        niso.shared_homography = True
        core_model.isometry_pairs = shared_pairs  # losses() looks it up at call time
    fit_x = warped_copies(pretrain_x, args.base_warps, 3000 + args.seed) if args.base_warps else pretrain_x
    start = time.perf_counter()
    niso.fit(fit_x)
    pretrain_seconds = time.perf_counter() - start
    if niso.n_steps_ not in niso.snapshots:  # stopped early by niso.max_time: score where it stopped
        niso.snapshots[niso.n_steps_] = cpu_state(niso.model_)
    head_params = settings(args.model, "head", config, overrides, args.seed)

    with open(args.out, "w") as fh:
        fh.write(json.dumps({"header": {
            "args": vars(args), "pretrain_seconds": pretrain_seconds, "stop_reason": niso.stop_reason_,
            "steps_reached": niso.n_steps_,
            "pretrain_digits": len(pretrain_x), "extra_pretrain_digits": extra_digits,
            "head_training_digits": len(train[1]), "niso": {k: repr(v) for k, v in params.items()},
            "head": head_params,
            "machine": machine_description(),
        }}) + "\n")
        for step in sorted(niso.snapshots):
            result = {"model": args.model, "seed": args.seed, "schedule_steps": args.steps, "snapshot_step": step}
            result.update(score_snapshot(
                at_snapshot(niso, step), head_params, (train, test, homnist), pretrain_x, args.seed,
                args.head_digits, args.head_steps,
            ))
            fh.write(json.dumps(result) + "\n")
            fh.flush()
            print(json.dumps({k: result[k] for k in (
                "snapshot_step", "homnist_accuracy", "clean_accuracy", "linear_probe_homnist_accuracy",
                "equivariance_error", "pretrain_digits_equivariance_error", "transfer_equivariance_error",
                "pretrain_digits_transfer_equivariance_error", "head_steps", "head_digits_curve", "head_steps_curve")}), flush=True)


if __name__ == "__main__":
    main()
