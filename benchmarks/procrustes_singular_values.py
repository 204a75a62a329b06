"""How small the Procrustes problem gets in training, and what the reference's damping does there.

τ = Π(P ⊙ B̂Âᵀ).  Its exact derivative weighs each singular-value pair of the
cross-covariance by 1/(s_i + s_j); the JAX reference's SVD derivative multiplies
that by (s_i² − s_j²)² / ((s_i² − s_j²)² + 1e-8), which switches a pair off once
s_i² ≈ s_j² to within 1e-4.  This script pre-trains pairwise NIso on homNIST
pairs (the 15-minute CPU model of BENCHMARKS.md, on the first 4,000 bundled
digits) for ``--steps`` steps and reports, on 64 fresh pairs of the last of those
digits: the mean latent magnitude |Ê|, the singular values, and the reference's
damping factor over all pairs (i, j), i ≠ j.

    python benchmarks/procrustes_singular_values.py --steps 2 500
"""

import argparse
import json

import torch

from skniso import NeuralIsometryTransformer
from skniso.core.procrustes import eigenvalue_mask
from skniso.datasets import RandomHomography, load_mnist


def singular_value_report(niso, digits, seed=1):
    """Latent scale, singular values and the reference's damping on fresh pairs of ``digits``."""
    x0 = torch.as_tensor(digits, dtype=torch.float32).reshape(-1, 1, 40, 40)
    x1 = RandomHomography()(x0, generator=torch.Generator().manual_seed(seed))
    model = niso.model_.eval()
    with torch.no_grad():
        spectrum = model.operator()
        a, b = model.to_eigenspace(x0, spectrum), model.to_eigenspace(x1, spectrum)
        cross = (b @ a.transpose(-1, -2)) * eigenvalue_mask(spectrum[2], niso.mask, niso.mask_temperature)
        s = torch.linalg.svdvals(cross)
    square_gaps = (s.unsqueeze(-1).square() - s.unsqueeze(-2).square()).square()
    off_diagonal = ~torch.eye(s.shape[-1], dtype=torch.bool)
    damping = (square_gaps / (square_gaps + 1e-8))[:, off_diagonal]
    return {
        "latent_magnitude": a.abs().mean().item(),
        "singular_value_median": s.median().item(),
        "singular_value_min": s.min().item(),
        "singular_value_max": s.max().item(),
        "damping_mean": damping.mean().item(),
        "damped_share": (damping < 0.5).float().mean().item(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 500])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, _ = load_mnist()
    X = X[:4000]
    for steps in args.steps:
        niso = NeuralIsometryTransformer(
            channels=(32, 64), blocks_per_level=(1, 1), latent_channels=32, n_components=32,
            warmup_steps=min(500, steps // 2 + 1), max_steps=steps, pair_transform=RandomHomography(),
            random_state=args.seed, device="cpu",
        ).fit(X)
        print(json.dumps({"steps": steps, "seed": args.seed, **singular_value_report(niso, X[-64:])}))


if __name__ == "__main__":
    main()
