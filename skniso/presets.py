"""Named parameter sets that reproduce the paper's configurations.

The paper-size configs are sized for a GPU (see BENCHMARKS.md for step times);
use them as ``NeuralIsometryTransformer(**presets.HOMNIST_PAPER)``.
"""

__all__ = [
    "HOMNIST_PAPER", "HOMNIST_HEAD_PAPER", "HOMNIST_CPU", "TORUS_PAPER",
    "SHREC11_PAPER", "SHREC11_HEAD_PAPER",
]

#: homNIST pre-training as the reference code (experiments/hmnist_encode):
#: encoder (64, 128) / (3, 3), latent 20×20×32, K = 32, 16 pairs × 50k steps.
HOMNIST_PAPER = dict(
    encoder="conv",
    channels=(64, 128),
    blocks_per_level=(3, 3),
    latent_channels=32,
    n_components=32,
    alpha=0.5,
    beta=0.1,
    mask="fuzzy",
    group="SO",
    max_steps=50_000,
    batch_size=16,
    lr=5e-4,
    weight_decay=1e-4,
    warmup_steps=2_000,
)

#: The homNIST classification head (experiments/hmnist_pred): orth_net(128, 2),
#: 16 × 20k steps at the same optimiser settings.
HOMNIST_HEAD_PAPER = dict(
    width=128,
    n_layers=2,
    gram_channels=64,
    max_steps=20_000,
    batch_size=16,
    lr=5e-4,
    weight_decay=1e-4,
    warmup_steps=2_000,
)

#: The package defaults, spelled out: a model that trains on 2 CPU cores in minutes.
HOMNIST_CPU = dict(
    encoder="conv",
    channels=(16, 32),
    blocks_per_level=(1, 1),
    latent_channels=16,
    n_components=32,
    alpha=0.5,
    beta=0.1,
    max_steps=2000,
    batch_size=16,
    lr=5e-4,
    warmup_steps=200,
)

#: The toric Laplacian experiment: identity encoder, 16×16 grid, full rank.
TORUS_PAPER = dict(
    encoder="identity",
    n_components=256,
    alpha=0.0,
    beta=0.5,
    clustered_init=True,
    max_steps=1_000_000,
    batch_size=16,
    lr=5e-4,
    warmup_steps=2_000,
)

#: Conformal SHREC'11 pre-training (experiments/cshrec11_encode): 96×192×16 HKS maps,
#: encoder (32, 64, 128, 256) / (2, 2, 2, 2), latent 12×24×64, K = 64, β = 0.01,
#: 16 pairs × 50k steps.
SHREC11_PAPER = dict(
    encoder="conv",
    channels=(32, 64, 128, 256),
    blocks_per_level=(2, 2, 2, 2),
    latent_channels=64,
    n_components=64,
    alpha=0.5,
    beta=0.01,
    mask="fuzzy",
    group="SO",
    max_steps=50_000,
    batch_size=16,
    lr=5e-4,
    weight_decay=1e-4,
    warmup_steps=2_000,
)

#: Its classifier, for :class:`skniso.FineTunedClassifier`: orth_net(128, 4),
#: 16 × 10k steps, encoder unfrozen at the same learning rate (as the paper says).
SHREC11_HEAD_PAPER = dict(
    width=128,
    n_layers=4,
    gram_channels=64,
    encoder_lr_scale=1.0,
    max_steps=10_000,
    batch_size=16,
    lr=5e-4,
    weight_decay=1e-4,
    warmup_steps=2_000,
)
