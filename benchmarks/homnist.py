"""homNIST benchmark: NIso against its ablations and baselines, side by side.

Protocol (method.md §7, tasks.md §1): every model sees the same training
digits.  Representation models are pre-trained on homography pairs drawn afresh
at every step (as the paper trains), their head is fitted on the *clean*
training digits only, and all models are tested on clean held-out digits and on
a homNIST test set regenerated with MacDonald et al.'s Haar sampler from those
held-out digits.

Models (``--models``, default all):

==========================  ==========================================================
niso                        NIso pairwise + EquivariantClassifier
niso_triplet                NIso on (ψ, Tψ, T²ψ) triplets + the same head
niso_no_equivariance        the −L_E ablation (alpha = 0)
niso_no_multiplicity        the −L_M ablation (beta = 0)
nft                         same autoencoder, transition by unconstrained least squares
                            (Neural Fourier Transform) + the same head
ae_augmentation             same autoencoder, reconstruction only; an MLP head fitted
                            on encodings of homography-augmented digits
cnn                         a plain CNN on the clean digits
cnn_augmentation            the same CNN with homography augmentation
group_cnn                   a C4 group-equivariant CNN (hand-crafted rotation symmetry)
==========================  ==========================================================

Configs:

* ``--config cpu``: the 5,000 bundled digits (4,000 train / 1,000 test), the
  package defaults (2,000 pre-training steps, a few minutes on 2 cores).
* ``--config gpu``: the reference architecture and step counts on the bundled
  digits (same split as ``cpu``); ``--set niso.max_time=SECONDS`` caps each
  pre-training to a time budget.
* ``--config paper``: full MNIST from ``--mnist-root`` (idx files, a
  torchvision root or keras' mnist.npz), the reference architecture and step
  counts (``skniso.presets``), 32 homographies per test digit.  For a GPU.

Each finished (model, seed) is appended to the JSON-lines file ``--out`` as it
completes; re-running with the same ``--out`` skips what is there, so a long
run can be resumed.  ``--selection validation`` scores on held-out *training*
digits instead (for choosing settings; the test digits stay unseen), and
``--set MODEL.niso.PARAM=VALUE`` / ``--set niso.PARAM=VALUE`` override settings.
``--train-digits N`` trains every model on a stratified subset of N training
digits (the data-size curve).  ``--extra-train-root DIR`` adds, for
``--config cpu`` or ``gpu``, the full MNIST training set in ``DIR`` less the
bundled digits to every model's training digits, the test digits unchanged
(the paper's 60,000 training digits).  ``--operator-head`` also fits, on each
pipeline's pre-trained model, a second head whose Φ and M train with it (the
reference code's head protocol; the package's pipeline freezes them) and
reports its accuracies beside the main head's.

``--checkpoint-dir DIR`` makes each pipeline's pre-training resumable across
processes, for runs longer than one sitting (``--config paper``'s 50,000 steps
on a GPU lent 15 minutes at a time): pre-training saves to, and resumes from,
``DIR/<model>-seed<seed>.pt``.  A pre-training stopped by ``niso.max_time`` is
left there without a head or a result row; run again to continue it.
``--pretrain-only`` stops after pre-training and exits with status 3 while any
is unfinished, so a driver script can save the checkpoint before the head runs.

    python benchmarks/homnist.py --config cpu --seeds 0 1 2
"""

import argparse
import ast
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skniso import EquivariantClassifier, FineTunedClassifier, NeuralIsometryTransformer, make_gram_probe, presets
from skniso.baselines import AugmentedMLPClassifier, CNNClassifier, GroupCNNClassifier
from skniso.datasets import RandomHomography, load_mnist, make_homnist_pairs, make_homnist_test
from skniso.metrics import equivariance_error, gram_invariance_ratio, off_block_energy

#: NeuralIsometryTransformer settings that distinguish each representation model.
NISO_VARIANTS = {
    "niso": {},
    "niso_triplet": {"regime": "triplet"},
    "niso_no_equivariance": {"alpha": 0.0},
    "niso_no_multiplicity": {"beta": 0.0},
    "nft": {"transition": "least_squares"},
    "ae_augmentation": {"transition": "none"},
}
MODELS = tuple(NISO_VARIANTS) + ("cnn", "cnn_augmentation", "group_cnn")
#: Models built as Pipeline([("niso", ...), ("clf", EquivariantClassifier)]).
PIPELINE_MODELS = tuple(m for m in NISO_VARIANTS if m != "ae_augmentation")
#: Exit status while a pre-training is paused under --checkpoint-dir.
PAUSED = 3

CONFIGS = {
    "cpu": dict(
        n_train=4000, n_test=1000, n_transforms=4, niso={}, head={}, mlp={}, cnn={},
        gcnn=dict(n_rotations=4, channels=(8, 16, 32), kernel_size=5, max_steps=500, lr=3e-3),
    ),
    # The reference architecture and step counts on the bundled digits (4,000 / 1,000),
    # for a GPU without full MNIST at hand; cap pre-training time with --set niso.max_time=S.
    "gpu": dict(
        n_train=4000, n_test=1000, n_transforms=4,
        niso=presets.HOMNIST_PAPER, head=presets.HOMNIST_HEAD_PAPER,
        mlp=dict(max_steps=20_000), cnn=dict(max_steps=20_000),
        gcnn=dict(n_rotations=4, channels=(32, 64, 128), kernel_size=5, max_steps=20_000, lr=1e-3),
    ),
    "paper": dict(
        n_train=None, n_test=None, n_transforms=32,
        niso=presets.HOMNIST_PAPER, head=presets.HOMNIST_HEAD_PAPER,
        mlp=dict(max_steps=20_000), cnn=dict(max_steps=20_000),
        gcnn=dict(n_rotations=4, channels=(32, 64, 128), kernel_size=5, max_steps=20_000, lr=1e-3),
    ),
}


def parse_overrides(items):
    """``["niso.alpha=0.1", "nft.head.width=64"]`` → {(None, "niso"): {...}, ("nft", "head"): {...}}."""
    overrides = {}
    for item in items or []:
        key, _, value = item.partition("=")
        parts = key.split(".")
        if len(parts) == 2:
            parts = [None] + parts
        if len(parts) != 3 or parts[1] not in ("niso", "head", "mlp", "cnn", "gcnn") or not value:
            raise SystemExit(
                f"--set expects [MODEL.]{{niso,head,mlp,cnn,gcnn}}.PARAM=VALUE, got {item!r}"
            )
        if parts[0] is not None and parts[0] not in MODELS:
            raise SystemExit(f"--set names unknown model {parts[0]!r}; models: {', '.join(MODELS)}")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        overrides.setdefault((parts[0], parts[1]), {})[parts[2]] = parsed
    return overrides


def settings(model, part, config, overrides, seed):
    """Parameters of one part ("niso", "head", "mlp", "cnn" or "gcnn") of one model."""
    params = dict(config[part])
    if part == "niso":
        params.update(NISO_VARIANTS[model], pair_transform=RandomHomography())
    params.update(overrides.get((None, part), {}))
    params.update(overrides.get((model, part), {}))
    params["random_state"] = seed
    return params


def build(model, config, overrides, seed):
    """The estimator for ``model``: it is fitted on (clean training digits, labels)."""
    if model == "group_cnn":
        return GroupCNNClassifier(**settings(model, "gcnn", config, overrides, seed))
    if model.startswith("cnn"):
        params = settings(model, "cnn", config, overrides, seed)
        if model == "cnn_augmentation":
            params["augmentation"] = RandomHomography()
        return CNNClassifier(**params)
    niso = NeuralIsometryTransformer(**settings(model, "niso", config, overrides, seed))
    if model == "ae_augmentation":
        return AugmentedMLPClassifier(
            niso, augmentation=RandomHomography(), **settings(model, "mlp", config, overrides, seed)
        )
    return Pipeline([("niso", niso), ("clf", EquivariantClassifier(**settings(model, "head", config, overrides, seed)))])


def fitted_transformer(estimator):
    if isinstance(estimator, Pipeline):
        return estimator.named_steps["niso"]
    return getattr(estimator, "transformer_", None)


def test_transform_metrics(niso, test_x, homnist_x, seed, n_pairs=2000):
    """How invariant the representation is under the *test's* (Haar-sampled) homographies.

    Pairs each homNIST test image with its clean source digit (``make_homnist_test``
    repeats each digit ``n_transforms`` times in order).  Reports the equivariance
    error of the solved τ on these pairs, and the Gram invariance ratio
    (:func:`skniso.metrics.gram_invariance_ratio`): the mean change of ÊᵀÊ under the
    homography over its mean change between two different digits (0 = perfectly
    invariant; about 1 = no better than swapping the digit).
    """
    n_transforms = len(homnist_x) // len(test_x)
    rng = np.random.default_rng(3000 + seed)
    chosen = np.sort(rng.choice(len(homnist_x), size=min(n_pairs, len(homnist_x)), replace=False))
    sources = test_x[chosen // n_transforms]
    pairs = np.stack([sources, homnist_x[chosen]], axis=1)
    tau, source, target = niso.isometries(pairs, return_latents=True)
    other = source[rng.permutation(len(chosen))]  # the clean digits, shuffled
    return {
        "equivariance_error_test_transforms": float(np.mean(equivariance_error(tau, source, target))),
        "gram_invariance_ratio_test_transforms": gram_invariance_ratio(source, target, other),
    }


def transfer_equivariance_error(niso, test_x, seed, n_pairs=1000):
    """Whether τ encodes the homography alone: solve τ on (ψ, Hψ), apply it to (φ, Hφ).

    ψ and φ are different held-out digits warped by the same homography H; the
    relative error ‖τ_ψ Ê(φ) − Ê(Hφ)‖/‖Ê(Hφ)‖ (``equivariance_error`` with τ from the
    first pairs and the latents of the second) is small only if the τ solved on one
    digit transports another, as the triplet regime demands in training.
    """
    rng = np.random.default_rng(4000 + seed)
    index = rng.choice(len(test_x), size=min(n_pairs, len(test_x)), replace=False)
    first = torch.as_tensor(test_x[index], dtype=torch.float32)
    second = torch.as_tensor(test_x[np.roll(index, 1)], dtype=torch.float32)
    generator = torch.Generator().manual_seed(5000 + seed)
    state = generator.get_state()
    warped_first = RandomHomography()(first, generator=generator)
    generator.set_state(state)  # the same homographies for the second digits
    warped_second = RandomHomography()(second, generator=generator)
    tau = niso.isometries(torch.stack([first, warped_first], 1).numpy())
    _, source, target = niso.isometries(torch.stack([second, warped_second], 1).numpy(), return_latents=True)
    return float(np.mean(equivariance_error(tau, source, target)))


def spread_shares(niso, x):
    """How much of the representation differs between digits, on the raw latents and on their invariants.

    Share of the energy about the mean: mean‖Z_i − Z̄‖² / mean‖Z_i‖² for the latents
    Z_i = Ê(x_i) (K×C), and the same for their Gram matrices Z_iᵀZ_i (the O(K)
    invariants a head reads).  Near 0: every digit maps near one common point,
    and a head must resolve small differences on a large shared part.
    """
    latents = niso.transform(x).reshape(len(x), len(niso.eigenvalues_), -1).astype(np.float64)
    grams = np.einsum("nkc,nkd->ncd", latents, latents)

    def share(values):
        values = values.reshape(len(values), -1)
        return float(np.mean(np.sum((values - values.mean(0)) ** 2, 1)) / np.mean(np.sum(values**2, 1)))

    return {"latent_spread_share": share(latents), "gram_spread_share": share(grams)}


def representation_metrics(niso, test_x, test_y, homnist_x, seed):
    """Equivariance error and τ's off-block energy on held-out homography pairs."""
    pairs, _ = make_homnist_pairs(images=test_x, labels=test_y, random_state=2000 + seed)
    tau, source, target = niso.isometries(pairs, return_latents=True)
    return {
        **test_transform_metrics(niso, test_x, homnist_x, seed),
        **spread_shares(niso, test_x),
        "equivariance_error": float(np.mean(equivariance_error(tau, source, target))),
        "transfer_equivariance_error": transfer_equivariance_error(niso, test_x, seed),
        "tau_off_block_energy": float(off_block_energy(
            tau, niso.eigenvalues_, niso.mask, niso.mask_temperature, average=True
        )),
        "mask_temperature": niso.mask_temperature,
        # The learned spectrum: collapsed (all equal) means τ is any rotation of the eigenspace.
        "eigenvalues": [float(v) for v in np.round(niso.eigenvalues_, 6)],
        "pretrain_seconds": niso.history_[-1]["time"],
        "pretrain_steps": niso.n_steps_,
        "final_losses": {k: v for k, v in niso.history_[-1].items() if k not in ("step", "time", "lr")},
    }


def stratified_subset(x, y, n, seed):
    """``n`` of the digits ``x`` (and their labels ``y``), stratified by label; all of them if ``n`` is None."""
    if n is None or n == len(y):
        return x, y
    if not 10 <= n <= len(y):
        raise SystemExit(f"a subset of the training digits must hold 10..{len(y)} digits, got {n}")
    sub_x, _, sub_y, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    return sub_x, sub_y


def extra_training_digits(root, bundled, n_digits, seed):
    """MNIST training digits from ``root`` that are not among the ``bundled`` ones.

    The bundled 5,000 digits are themselves taken from the MNIST training set;
    dropping them by exact pixel match keeps the validation and test digits of
    every split out of training.  Returns the digits and their labels.
    """
    images, labels = load_mnist(root, subset="train")
    seen = {digit.tobytes() for digit in bundled}
    keep = np.array([digit.tobytes() not in seen for digit in images])
    return stratified_subset(images[keep], labels[keep], n_digits, seed)


def machine_description():
    """What a results file records of the machine and torch that produced it."""
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def check_data_arguments(parser, args):
    """Refuse the --config / --mnist-root / --extra-train-root combinations that name no data."""
    if args.config == "paper" and not args.mnist_root:
        parser.error("--config paper reads full MNIST: give --mnist-root")
    if args.config == "paper" and args.extra_train_root:
        parser.error("--extra-train-root adds to the bundled digits; --config paper already trains on full MNIST")


def load_digits(args):
    """The digits to split (images, labels) and the extra training digits (or None) that ``args`` name."""
    images, labels = load_mnist(args.mnist_root, subset="train") if args.config == "paper" else load_mnist()
    extra = extra_training_digits(args.extra_train_root, images, None, 0) if args.extra_train_root else None
    return images, labels, extra


def split(seed, args, config, images, labels):
    """Train and test digits (and their labels) for one seed."""
    if args.config == "paper":
        train = (images, labels)
        test = load_mnist(args.mnist_root, subset="test")
    else:
        tx, vx, ty, vy = train_test_split(
            images, labels, test_size=config["n_test"], train_size=config["n_train"],
            stratify=labels, random_state=seed,
        )
        train, test = (tx, ty), (vx, vy)
    if args.selection == "validation":
        # Score on held-out *training* digits; the test digits stay unseen.
        tx, vx, ty, vy = train_test_split(
            *train, test_size=min(1000, len(train[1]) // 5), stratify=train[1], random_state=seed
        )
        train, test = (tx, ty), (vx, vy)
    # Fewer labelled (and pre-training) digits, for the data-size curve; the test digits stay the same.
    return stratified_subset(*train, args.train_digits, seed), test


def checkpoint_path(args, model, seed):
    return os.path.join(args.checkpoint_dir, f"{model}-seed{seed}.pt")


def pretrain(estimator, model, seed, args, train_x):
    """Pre-train a pipeline's NIso from (and to) its checkpoint; whether its schedule is finished.

    Used with ``--checkpoint-dir``.  Each call continues the saved run for at most
    ``niso.max_time`` seconds.  A finished checkpoint is loaded without further steps.
    """
    niso = estimator.named_steps["niso"]
    niso.set_params(checkpoint_path=checkpoint_path(args, model, seed))
    with warnings.catch_warnings():
        # Loading a finished run warns that there is nothing to continue: that is expected here.
        warnings.filterwarnings("ignore", message=".*nothing to continue", category=UserWarning)
        niso.fit(train_x)
    finished = niso.stop_reason_ != "max_time"
    print(f"{model}, seed {seed}: pre-training at step {niso.n_steps_} of {niso.max_steps} "
          f"after {niso.history_[-1]['time']:.0f} s" + ("" if finished else " (paused; run again to continue)"),
          flush=True)
    return finished


def training_and_test_digits(seed, args, config, images, labels, extra):
    """One seed's (training digits, labels) and (test digits, labels), extra digits included."""
    train, test = split(seed, args, config, images, labels)
    if extra is not None:  # the bundled digits first, as in homnist_steps.py
        train = (np.concatenate([train[0], extra[0]]), np.concatenate([train[1], extra[1]]))
    return train, test


def pretrain_all(args, config, overrides, images, labels, extra):
    """``--pretrain-only``: continue every requested pre-training; the exit status."""
    unfinished = False
    for seed in args.seeds:
        (train_x, _), _ = training_and_test_digits(seed, args, config, images, labels, extra)
        for model in args.models:
            estimator = build(model, config, overrides, seed)
            unfinished |= not pretrain(estimator, model, seed, args, train_x)
    return PAUSED if unfinished else 0


#: Header arguments that change the results; a resumed --out must share them.
RESULT_SETTINGS = ("config", "selection", "set", "train_digits", "operator_head")


def check_same_settings(header, args, parser, n_extra, out):
    """Refuse to append to ``out`` results made with other settings (resuming keys on (model, seed) alone)."""
    saved = header.get("args", {})
    differing = [
        f"{name} {saved.get(name, parser.get_default(name))!r} there, {getattr(args, name)!r} now"
        for name in RESULT_SETTINGS if saved.get(name, parser.get_default(name)) != getattr(args, name)
    ]
    if header.get("extra_training_digits", 0) != n_extra:
        differing.append(f"extra training digits {header.get('extra_training_digits', 0)} there, {n_extra} now")
    if differing:
        raise SystemExit(f"{out} holds results made with other settings ({'; '.join(differing)}); "
                         "give another --out, or the same settings to resume it")


def run_one(model, seed, args, config, overrides, data):
    """Fit and score one (model, seed); None when its pre-training is paused (``--checkpoint-dir``)."""
    (train_x, train_y), (test_x, test_y), (homnist_x, homnist_y) = data
    estimator = build(model, config, overrides, seed)
    if args.checkpoint_dir and isinstance(estimator, Pipeline):
        if not pretrain(estimator, model, seed, args, train_x):
            return None
        # The head on the pre-trained latents, as Pipeline.fit would fit it; the
        # fit time counts every sitting of the pre-training, and the head.
        start = time.perf_counter()
        estimator.named_steps["clf"].fit(estimator.named_steps["niso"].transform(train_x), train_y)
        fit_seconds = estimator.named_steps["niso"].history_[-1]["time"] + time.perf_counter() - start
    else:
        start = time.perf_counter()
        estimator.fit(train_x, train_y)
        fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = {
        "model": model,
        "seed": seed,
        "train_digits": len(train_y),
        "clean_accuracy": float(estimator.score(test_x, test_y)),
        "homnist_accuracy": float(estimator.score(homnist_x, homnist_y)),
        "fit_seconds": fit_seconds,
    }
    result["predict_seconds"] = time.perf_counter() - start
    # Under a time cap (``head.max_time``) on a shared GPU the head's step count varies.
    head = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if hasattr(head, "n_steps_"):
        result["head_steps"] = head.n_steps_
    niso = fitted_transformer(estimator)
    if niso is not None:
        result.update(representation_metrics(niso, test_x, test_y, homnist_x, seed))
        if isinstance(estimator, Pipeline):
            result.update(linear_probe_accuracies(
                len(niso.eigenvalues_), niso.transform(train_x), train_y, niso.transform(test_x), test_y,
                niso.transform(homnist_x), homnist_y,
            ))
            if args.operator_head:
                head_params = settings(model, "head", config, overrides, seed)
                result.update(operator_head_accuracies(
                    niso, head_params, train_x, train_y, test_x, test_y, homnist_x, homnist_y
                ))
    return result


def operator_head_accuracies(niso, head_params, train_x, train_y, test_x, test_y, homnist_x, homnist_y):
    """The reference code's head protocol on the same pre-trained model: Φ and M train with the head.

    ``experiments/hmnist_pred`` stops the gradient at E(x) but not at the projection
    ΦᵀM, so the operator's mass and eigenfunctions are fitted to the labels together
    with the head, at the head's learning rate (method.md §10.5); the package's
    pipeline freezes them.  Same head settings and clean training digits as the main head.
    """
    head_params = dict(head_params)
    head_params.pop("n_components", None)
    head_params.setdefault("batch_size", EquivariantClassifier().batch_size)
    head = FineTunedClassifier(
        niso, prefit=True, train_encoder=False, train_operator=True, encoder_lr_scale=1.0, **head_params
    )
    start = time.perf_counter()
    head.fit(train_x, train_y)
    return {
        "operator_head_clean_accuracy": float(head.score(test_x, test_y)),
        "operator_head_homnist_accuracy": float(head.score(homnist_x, homnist_y)),
        "operator_head_seconds": time.perf_counter() - start,
    }


def linear_probe_accuracies(n_components, train_z, train_y, test_z, test_y, homnist_z, homnist_y):
    """A second head on the same latents: ``make_gram_probe``, GramFeatures → StandardScaler → LogisticRegression.

    Takes the latents (``niso.transform`` of the clean training, clean test and homNIST
    digits). Fitted, like the main head, on the clean training digits only; it separates
    what the invariants carry from what the vector-neuron head makes of them.
    """
    probe = make_gram_probe(n_components=n_components).fit(train_z, train_y)
    return {
        "linear_probe_clean_accuracy": float(probe.score(test_z, test_y)),
        "linear_probe_homnist_accuracy": float(probe.score(homnist_z, homnist_y)),
    }


def summarise(values):
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(values):
        return None
    sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return [float(values.mean()), float(sem), int(len(values))]


METRICS = ("clean_accuracy", "homnist_accuracy", "linear_probe_homnist_accuracy", "equivariance_error", "transfer_equivariance_error",
           "equivariance_error_test_transforms",
           "gram_invariance_ratio_test_transforms", "tau_off_block_energy", "fit_seconds")


def summary_table(runs, models):
    lines = ["| model | seeds | clean acc | homNIST acc | homNIST acc, linear probe | equivariance error | τ transfer error | eq. error, test homographies "
             "| Gram invariance ratio, test homographies | τ off-block energy | fit time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model in models:
        rows = [r for r in runs if r["model"] == model]
        if not rows:
            continue
        cells = []
        for key in METRICS:
            stats = summarise([r.get(key) for r in rows])
            if stats is None:
                cells.append("—")
                continue
            digits = 0 if key == "fit_seconds" else 3
            # One seed has no standard error: print its value alone rather than "± nan".
            spread = f" ± {stats[1]:.{digits}f}" if stats[2] > 1 else ""
            cells.append(f"{stats[0]:.{digits}f}{spread}")
        lines.append(f"| {model} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--mnist-root", default=None, help="full MNIST for --config paper")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--selection", choices=["test", "validation"], default="test")
    parser.add_argument("--set", nargs="*", default=[], metavar="[MODEL.]PART.PARAM=VALUE",
                        help="override parameters, e.g. niso.beta=0.05 head.gram_channels=32 cnn.max_steps=500")
    parser.add_argument("--train-digits", type=int, default=None,
                        help="train every model on a stratified subset of this many of the training digits "
                             "(pre-training, head and CNNs alike; the test digits are unchanged)")
    parser.add_argument("--extra-train-root", default=None, metavar="DIR",
                        help="--config cpu or gpu: add to every seed's training digits (pre-training, heads and "
                             "CNNs alike) the full MNIST training set in DIR, less the bundled digits; the test "
                             "digits stay the bundled ones")
    parser.add_argument("--operator-head", action="store_true",
                        help="also fit, on each pipeline's pre-trained model, a head with Φ and M trainable "
                             "(the reference code's protocol) and report its accuracies")
    parser.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                        help="pre-train each NIso pipeline from and to DIR/<model>-seed<seed>.pt, so a run capped "
                             "by niso.max_time continues where it stopped when run again")
    parser.add_argument("--pretrain-only", action="store_true",
                        help="with --checkpoint-dir: pre-train (or continue pre-training) and stop; exit status 3 "
                             "while any pre-training is unfinished")
    parser.add_argument("--out", default=None,
                        help="JSON-lines results (default benchmarks/results/homnist-<config>-<time>.jsonl); "
                             "existing (model, seed) rows are kept and skipped")
    args = parser.parse_args()
    check_data_arguments(parser, args)
    if args.pretrain_only and not args.checkpoint_dir:
        parser.error("--pretrain-only saves pre-training to a checkpoint: give --checkpoint-dir")
    not_pipelines = [m for m in args.models if m not in PIPELINE_MODELS]
    if args.pretrain_only and not_pipelines:
        parser.error(f"--pretrain-only pre-trains NIso pipelines; drop {', '.join(not_pipelines)} from --models")

    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    config = CONFIGS[args.config]
    overrides = parse_overrides(args.set)
    images, labels, extra = load_digits(args)
    out = args.out or os.path.join(
        os.path.dirname(__file__), "results", f"homnist-{args.config}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    )
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if args.pretrain_only:
        sys.exit(pretrain_all(args, config, overrides, images, labels, extra))
    runs, header = [], None
    if os.path.exists(out):
        with open(out) as fh:
            rows = list(map(json.loads, filter(str.strip, fh)))
        runs = [row for row in rows if "model" in row]
        header = next((row["header"] for row in rows if "header" in row), None)
    if header is not None:
        check_same_settings(header, args, parser, 0 if extra is None else len(extra[1]), out)
    done = {(r["model"], r["seed"]) for r in runs}
    paused = []
    with open(out, "a") as fh:
        if header is None:
            fh.write(json.dumps({"header": {
                "args": vars(args),
                "machine": machine_description(),
                "extra_training_digits": 0 if extra is None else len(extra[1]),
            }}) + "\n")
        for seed in args.seeds:
            if all((model, seed) in done for model in args.models):
                continue
            train, test = training_and_test_digits(seed, args, config, images, labels, extra)
            homnist = make_homnist_test(*test, n_transforms=config["n_transforms"], random_state=1000 + seed)
            for model in args.models:
                if (model, seed) in done:
                    continue
                result = run_one(model, seed, args, config, overrides, (train, test, homnist))
                if result is None:
                    paused.append((model, seed))
                    continue
                runs.append(result)
                fh.write(json.dumps(result) + "\n")
                fh.flush()
                print(json.dumps(result), flush=True)
    print()
    print(summary_table(runs, args.models))
    print(f"\nresults in {out}")
    if paused:
        print("pre-training paused (run again to continue): " + ", ".join(f"{m} seed {k}" for m, k in paused))
        sys.exit(PAUSED)


if __name__ == "__main__":
    main()
