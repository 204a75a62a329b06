"""Conformal shape classification: NIso against AE + Möbius augmentation and NFT.

Protocol (method.md §8, tasks.md §2), on the built-in procedural genus-0 shapes
(``--config cpu``, the default) or on conformal SHREC'11 (``--config paper
--root DIR``, sized for a GPU):

* per class, a seeded split of the shapes into training and test shapes;
* every shape is 1 + L spherical HKS maps (its conformal embedding and L Möbius
  images of it); pre-training sees pairs of maps of the *training* shapes drawn
  as the reference does; classifiers train on all maps of the training shapes;
* accuracy is measured on all maps of the test shapes.

Methods, each with the same convolutional encoder:

* ``niso``: NeuralIsometryTransformer pre-training, then FineTunedClassifier
  (encoder, operator and invariant vector-neuron head trained jointly);
* ``ae_aug``: an autoencoder pre-trained on Möbius-augmented maps, then
  encoder + MLP head fine-tuned with Möbius augmentation;
* ``nft``: an unsupervised g-NFT (Koyama et al. 2024) on the same pairs — latent
  H ∈ R^{a×m}, least-squares transition M* = H₁H₀⁺, loss on decoding M*H₀ and
  H₀ — then encoder + MLP head fine-tuned.

The two baselines are written here (small torch loops) until skniso.baselines
provides them.

    SKNISO_THREADS=1 python benchmarks/shapes.py --seeds 0 1 2
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from torch import nn

from homnist import summarise  # the benchmarks folder is on sys.path when run as a script
from skniso import FineTunedClassifier, NeuralIsometryTransformer, presets
from skniso.datasets import (
    RandomMobius,
    draw_conformal_pairs,
    load_shrec11_conformal,
    make_conformal_shapes,
)
from skniso.metrics import equivariance_error
from skniso.nn.conv import ConvDecoder, ConvEncoder
from skniso.nn.init import build_module
from skniso.training import warmup_cosine_lr
from skniso.utils import torch_generator

CONFIGS = {
    "cpu": dict(
        grid_shape=(24, 48), n_mobius=8, subdivisions=3, n_eigenpairs=64,
        niso=dict(channels=(16, 32), blocks_per_level=(1, 1), latent_channels=16, n_components=32,
                  alpha=0.5, beta=0.01, max_steps=800, batch_size=16, lr=5e-4, warmup_steps=100),
        head=dict(width=32, n_layers=2, gram_channels=16, max_steps=600, batch_size=16, lr=1e-3,
                  warmup_steps=50, encoder_lr_scale=0.3),
        mlp_hidden=128,
    ),
    "paper": dict(
        grid_shape=(96, 192), n_mobius=30,
        niso=presets.SHREC11_PAPER,
        head=presets.SHREC11_HEAD_PAPER,
        mlp_hidden=512,
    ),
}


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def split_shapes(shape_labels, n_train, seed):
    """Seeded per-class split of shape indices into train and test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for name in np.unique(shape_labels):
        members = rng.permutation(np.flatnonzero(shape_labels == name))
        train += list(members[:n_train])
        test += list(members[n_train:])
    return np.sort(train), np.sort(test)


def load_data(args, config, seed):
    if args.config == "paper":
        data = load_shrec11_conformal(args.root, grid_shape=config["grid_shape"], random_state=seed,
                                      cache_dir=args.cache_dir, verbose=1)
        per_shape = lambda y, maps: y.reshape(len(maps), -1)[:, 0]  # noqa: E731
        return (data.maps_train, per_shape(data.y_train, data.maps_train),
                data.maps_test, per_shape(data.y_test, data.maps_test))
    _, _, maps, shape_labels, _ = make_conformal_shapes(
        args.n_shapes_per_class, n_mobius=config["n_mobius"], grid_shape=config["grid_shape"],
        subdivisions=config["subdivisions"], n_eigenpairs=config["n_eigenpairs"],
        random_state=args.data_seed, cache_dir=args.cache_dir, return_maps=True,
    )
    train, test = split_shapes(shape_labels, args.n_train, seed)
    return maps[train], shape_labels[train], maps[test], shape_labels[test]


def flat_maps(maps, labels):
    """All maps of the given shapes as single observations with labels."""
    return maps.reshape(-1, *maps.shape[2:]), np.repeat(labels, maps.shape[1])


# ----------------------------------------------------------------------------
# baselines (plain torch, same encoder as NIso)
# ----------------------------------------------------------------------------
class MLPClassifierModule(nn.Module):
    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x):
        return self.head(self.encoder(x))


class NFTModule(nn.Module):
    """g-NFT with pairs: E(x) → H ∈ R^{a×m}; M* solves M* H₀ = H₁ in least squares."""

    def __init__(self, encoder, decoder, latent_shape, a, m):
        super().__init__()
        n_latent = int(np.prod(latent_shape))
        self.latent_shape, self.a, self.m = latent_shape, a, m
        self.conv_encoder, self.conv_decoder = encoder, decoder
        self.to_matrix = nn.Linear(n_latent, a * m)
        self.from_matrix = nn.Linear(a * m, n_latent)

    def encode(self, x):
        return self.to_matrix(self.conv_encoder(x).flatten(1)).view(-1, self.a, self.m)

    def decode(self, h):
        return self.conv_decoder(self.from_matrix(h.flatten(1)).view(-1, *self.latent_shape))

    def losses(self, x0, x1):
        h0, h1 = self.encode(x0), self.encode(x1)
        # M* = H₁H₀ᵀ(H₀H₀ᵀ + εI)⁻¹, differentiable, one per pair (m ≥ a: determined).
        gram = h0 @ h0.transpose(1, 2) + 1e-4 * torch.eye(self.a, device=h0.device)
        transition = torch.linalg.solve(gram, h0 @ h1.transpose(1, 2)).transpose(1, 2)
        predicted = self.decode(transition @ h0)
        return ((self.decode(h0) - x0) ** 2).mean() + ((predicted - x1) ** 2).mean()


def train_loop(module, params, n_steps, lr, warmup, batch_fn, loss_fn, generator, weight_decay=1e-4):
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    module.train()
    for step in range(n_steps):
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine_lr(step, peak=lr, warmup_steps=warmup, total_steps=n_steps) \
                * group.get("lr_scale", 1.0)
        loss = loss_fn(*batch_fn(generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    module.eval()
    return float(loss.detach())


def _sampler(arrays, batch_size):
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]

    def batch(generator):
        index = torch.randint(0, tensors[0].shape[0], (batch_size,), generator=generator)
        return [t[index] for t in tensors]

    return batch


def _conv_codecs(config, in_channels):
    """Unbuilt encoder and decoder of NIso's configuration (call under build_module)."""
    niso = config["niso"]
    return (ConvEncoder(in_channels, niso["latent_channels"], niso["channels"], niso["blocks_per_level"]),
            ConvDecoder(niso["latent_channels"], in_channels, niso["channels"], niso["blocks_per_level"]))


def fine_tune_mlp(encoder, latent_shape, n_classes, X, y, config, generator, augment):
    head = config["head"]
    n_latent, hidden = int(np.prod(latent_shape)), config["mlp_hidden"]
    mlp = build_module(lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(n_latent, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
        nn.Linear(hidden, n_classes)), generator)
    module = MLPClassifierModule(encoder, mlp)
    groups = [{"params": module.head.parameters(), "lr_scale": 1.0},
              {"params": module.encoder.parameters(), "lr_scale": head.get("encoder_lr_scale", 1.0)}]
    sample = _sampler([X, y], head["batch_size"])

    def batch(g):
        x, target = sample(g)
        return (augment(x, generator=g) if augment is not None else x), target

    train_loop(module, groups, head["max_steps"], head["lr"], head["warmup_steps"], batch,
               lambda x, t: nn.functional.cross_entropy(module(x), t), generator)
    return module


def predict_module(module, X):
    with torch.no_grad():
        return torch.cat([module(torch.from_numpy(X[i:i + 128])).argmax(1) for i in range(0, len(X), 128)]).numpy()


# ----------------------------------------------------------------------------
# one seed
# ----------------------------------------------------------------------------
def run_one(seed, args, config):
    maps_train, labels_train, maps_test, labels_test = load_data(args, config, seed)
    classes, y_train_shapes = np.unique(labels_train, return_inverse=True)
    y_test_shapes = np.searchsorted(classes, labels_test)
    X_train, y_train = flat_maps(maps_train, y_train_shapes)
    X_test, y_test = flat_maps(maps_test, y_test_shapes)
    pairs_per_shape = maps_train.shape[1]
    X_pairs, _ = draw_conformal_pairs(maps_train, pairs_per_shape, random_state=seed)
    test_pairs, _ = draw_conformal_pairs(maps_test, 4, random_state=1000 + seed)
    n_classes, in_channels = len(classes), X_train.shape[1]
    results = {"seed": seed, "n_train_maps": len(X_train), "n_test_maps": len(X_test),
               "n_classes": n_classes}
    augment = RandomMobius(args.max_dilation)

    if "niso" in args.methods:
        start = time.perf_counter()
        niso = NeuralIsometryTransformer(**config["niso"], random_state=seed).fit(X_pairs)
        clf = FineTunedClassifier(niso, prefit=True, **config["head"], random_state=seed).fit(X_train, y_train)
        tau, a, b = niso.isometries(test_pairs, return_latents=True)
        results["niso"] = {
            "accuracy": float(np.mean(clf.predict(X_test) == y_test)),
            "train_accuracy": float(np.mean(clf.predict(X_train) == y_train)),
            "heldout_equivariance_error": float(np.mean(equivariance_error(tau, a, b))),
            "seconds": time.perf_counter() - start,
        }
        print(json.dumps({"seed": seed, "niso": results["niso"]}), flush=True)

    niso_cfg = config["niso"]
    factor = 2 ** (len(niso_cfg["channels"]) - 1)
    latent_shape = (niso_cfg["latent_channels"], X_train.shape[2] // factor, X_train.shape[3] // factor)

    if "ae_aug" in args.methods:
        start = time.perf_counter()
        generator = torch_generator(seed)
        encoder, decoder = build_module(lambda: nn.ModuleList(_conv_codecs(config, in_channels)), generator)
        sample = _sampler([X_train], niso_cfg["batch_size"])
        train_loop(nn.ModuleList([encoder, decoder]), list(encoder.parameters()) + list(decoder.parameters()),
                   niso_cfg["max_steps"], niso_cfg["lr"], niso_cfg["warmup_steps"],
                   lambda g: [augment(sample(g)[0], generator=g)],
                   lambda x: (decoder(encoder(x)) - x).abs().mean(), generator)
        module = fine_tune_mlp(encoder, latent_shape, n_classes, X_train, y_train, config, generator, augment)
        results["ae_aug"] = {
            "accuracy": float(np.mean(predict_module(module, X_test) == y_test)),
            "train_accuracy": float(np.mean(predict_module(module, X_train) == y_train)),
            "seconds": time.perf_counter() - start,
        }
        print(json.dumps({"seed": seed, "ae_aug": results["ae_aug"]}), flush=True)

    if "nft" in args.methods:
        start = time.perf_counter()
        generator = torch_generator(seed)
        a, m = args.nft_dims
        nft = build_module(lambda: NFTModule(*_conv_codecs(config, in_channels), latent_shape, a, m), generator)
        sample = _sampler([X_pairs[:, 0], X_pairs[:, 1]], niso_cfg["batch_size"])
        train_loop(nft, nft.parameters(), niso_cfg["max_steps"], niso_cfg["lr"], niso_cfg["warmup_steps"],
                   sample, nft.losses, generator)
        nft_encoder = nn.Sequential(nft.conv_encoder, nn.Flatten(), nft.to_matrix)
        module = fine_tune_mlp(nft_encoder, (a * m,), n_classes, X_train, y_train, config, generator, None)
        results["nft"] = {
            "accuracy": float(np.mean(predict_module(module, X_test) == y_test)),
            "train_accuracy": float(np.mean(predict_module(module, X_train) == y_train)),
            "seconds": time.perf_counter() - start,
        }
        print(json.dumps({"seed": seed, "nft": results["nft"]}), flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--root", default=None, help="SHREC_11_CONF directory (--config paper)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["niso", "ae_aug", "nft"],
                        choices=["niso", "ae_aug", "nft"])
    parser.add_argument("--n-shapes-per-class", type=int, default=14)
    parser.add_argument("--n-train", type=int, default=10, help="training shapes per class")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the procedural shapes")
    parser.add_argument("--max-dilation", type=float, default=1.0, help="Möbius augmentation strength")
    parser.add_argument("--nft-dims", type=int, nargs=2, default=[16, 32], metavar=("A", "M"))
    parser.add_argument("--pretrain-steps", type=int, default=None)
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--cache-dir", default=os.path.join(os.path.dirname(__file__), ".cache"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.config == "paper" and not args.root:
        parser.error("--config paper needs --root, the unzipped SHREC_11_CONF directory")

    torch.set_num_threads(int(os.environ.get("SKNISO_THREADS", torch.get_num_threads())))
    config = {key: (dict(value) if isinstance(value, dict) else value) for key, value in CONFIGS[args.config].items()}
    if args.pretrain_steps:
        config["niso"]["max_steps"] = args.pretrain_steps
    if args.finetune_steps:
        config["head"]["max_steps"] = args.finetune_steps
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config["niso"]["device"] = config["head"]["device"] = device

    start = time.perf_counter()
    runs = [run_one(seed, args, config) for seed in args.seeds]
    summary = {method: {"accuracy": summarise([r[method]["accuracy"] for r in runs]),
                        "seconds": summarise([r[method]["seconds"] for r in runs])}
               for method in args.methods}
    record = {
        "benchmark": f"shapes-{args.config}",
        "args": vars(args),
        "config": {k: v for k, v in config.items()},
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "cuda": torch.cuda.is_available()},
        "total_seconds": time.perf_counter() - start,
        "runs": runs,
        "summary": summary,
    }
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"shapes-{args.config}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(record, fh, indent=2, default=str)
    print("\nmethod   accuracy (mean ± s.e.)   seconds")
    for method, values in summary.items():
        (acc, acc_se), sec = values["accuracy"][:2], values["seconds"][0]
        print(f"{method:8s} {acc:.3f} ± {acc_se:.3f}            {sec:.0f}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
