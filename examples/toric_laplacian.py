"""Toric Laplacian: NIso recovers the torus' shift structure from shifted images.

With ``encoder="identity"`` the latent grid *is* the 8×8 image grid, so the
learned operator Ω = ΦΛΦᵀM lives on the pixels themselves.  Training only on
pairs (ψ, Tψ) related by random circular shifts T, the model should find

* an eigenspace span(Φ) that cyclic shifts map into itself (Fourier modes),
* eigenvalues in pairs — each pair one (cos, sin) irreducible block of the
  shift group, on which a shift acts as a 2-D rotation,
* isometries τ that are block-diagonal over those pairs.

The data are smooth random periodic fields from
:func:`skniso.datasets.make_circular_shifts`, which removes each field's mean;
their power falls off with frequency, so the leading 8 dimensions are the four
lowest frequency pairs (±1, 0), (0, ±1), (±1, ±1) and (±1, ∓1), and
``n_components=8`` should give 4 pairs.  Sometimes two pairs end up with
nearly equal eigenvalues and are detected as one block of 4 (the torus
Laplacian itself has multiplicity 4 at |f| = 1): that block spans two
frequency pairs, its eigenfunctions may mix them, and τ is block-diagonal over
the larger block.  As in the paper's torus experiment, the equivariance term
is switched off (``alpha=0``): with an identity decoder the reconstruction
loss ‖Φ τ Â − Tψ‖ already measures equivariance.

Run ``python examples/toric_laplacian.py --out examples/output`` (about 10 s
on one CPU core); it prints the measured criteria and writes PNGs.  Seed 0 (the
default, also used by tests/test_toric.py) gives blocks [2, 4, 2]; ``--seed 1``
gives four separate pairs.
"""

import argparse
import pathlib
import time

import numpy as np
import torch

from skniso import NeuralIsometryTransformer
from skniso.datasets import CircularShift, make_circular_shifts
from skniso.metrics import (
    block_energy,
    eigenvalue_blocks,
    equivariance_error,
    off_block_energy,
    shift_operators,
    subspace_invariance_error,
)

IMAGE_SIZE = 8
N_CHANNELS = 4

#: The configuration measured in tests/test_toric.py.
TORIC_PARAMS = dict(
    encoder="identity",
    n_components=8,
    alpha=0.0,
    beta=0.05,
    lr=2e-3,
    max_steps=3000,
    batch_size=16,
)


def dominant_frequencies(eigenfunctions, grid_shape):
    """For each eigenfunction, the frequency pair ±(fy, fx) holding most of its energy."""
    out = []
    for column in eigenfunctions.T:
        power = np.abs(np.fft.fft2(column.reshape(grid_shape))) ** 2
        fy, fx = np.unravel_index(np.argmax(power), power.shape)
        freq = [int(f if f <= s // 2 else f - s) for f, s in zip((fy, fx), grid_shape)]
        if freq[0] < 0 or (freq[0] == 0 and freq[1] < 0):
            freq = [-f for f in freq]
        out.append((tuple(freq), float(power.max() * 2 / power.sum()) if any(freq) else 1.0))
    return out


def toric_criteria(estimator, heldout_pairs, random_state=0):
    """The measured criteria of the toric experiment, as a dict."""
    grid = estimator.latent_grid_
    k = estimator.n_components
    shifts = shift_operators(grid)
    rng = np.random.default_rng(random_state)
    random_basis, _ = np.linalg.qr(rng.standard_normal((int(np.prod(grid)), k)))
    blocks = eigenvalue_blocks(estimator.eigenvalues_)
    tau, source, target = estimator.isometries(heldout_pairs, return_latents=True)
    # A Haar-random orthogonal τ as a reference for block_energy.
    q, r = np.linalg.qr(rng.standard_normal((len(tau), k, k)))
    random_tau = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
    return {
        "invariance_error": subspace_invariance_error(estimator.eigenfunctions_, estimator.mass_, shifts),
        "invariance_error_random_subspace": subspace_invariance_error(random_basis, None, shifts),
        "block_sizes": [len(b) for b in blocks],
        "block_energy": block_energy(tau, blocks, average=True),
        "block_energy_random_tau": block_energy(random_tau, blocks, average=True),
        "off_block_energy": off_block_energy(
            tau, estimator.eigenvalues_, temperature=estimator.mask_temperature, average=True
        ),
        "equivariance_error": float(np.mean(equivariance_error(tau, source, target))),
        "tau": tau,
        "blocks": blocks,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/output/", help="folder for the PNGs")
    parser.add_argument("--steps", type=int, default=TORIC_PARAMS["max_steps"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skniso.plotting import (
        plot_eigenfunctions,
        plot_isometry,
        plot_mass,
        plot_spectrum,
        plot_training_history,
    )

    torch.set_num_threads(1)  # tiny problem: threads only add overhead
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = make_circular_shifts(512, image_size=IMAGE_SIZE, n_channels=N_CHANNELS,
                                 random_state=args.seed)[:, 0]
    heldout = make_circular_shifts(256, image_size=IMAGE_SIZE, n_channels=N_CHANNELS,
                                   random_state=args.seed + 10_000)
    params = dict(TORIC_PARAMS, max_steps=args.steps)
    model = NeuralIsometryTransformer(pair_transform=CircularShift(), random_state=args.seed, **params)
    start = time.perf_counter()
    model.fit(train)
    print(f"fitted {params} in {time.perf_counter() - start:.1f} s")

    crit = toric_criteria(model, heldout, random_state=args.seed)
    print(f"eigenvalues            {np.array2string(model.eigenvalues_, precision=2)}")
    print(f"multiplicity blocks    sizes {crit['block_sizes']}")
    print(f"shift-invariance error {crit['invariance_error']:.3f}   "
          f"(random {model.n_components}-dim subspace: {crit['invariance_error_random_subspace']:.3f})")
    print(f"block energy of τ      {crit['block_energy']:.3f}   "
          f"(random orthogonal τ: {crit['block_energy_random_tau']:.3f})")
    print(f"off-block energy of τ  {crit['off_block_energy']:.4f}")
    print(f"equivariance error     {crit['equivariance_error']:.3f}   (held-out pairs)")
    print("dominant frequency ±(fy, fx) of each eigenfunction:")
    for index, (freq, share) in enumerate(dominant_frequencies(model.eigenfunctions_, model.latent_grid_)):
        print(f"  k={index}: {freq}  ({100 * share:.0f}% of its energy)")

    figures = {
        "eigenfunctions.png": plot_eigenfunctions(model, ncols=4),
        "spectrum.png": plot_spectrum(model),
        "isometry.png": plot_isometry(crit["tau"], model.eigenvalues_),
        "training.png": plot_training_history(model),
        "mass.png": plot_mass(model),
    }
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=130)
        plt.close(fig)
    print(f"wrote {', '.join(figures)} to {out}/")
    return crit


if __name__ == "__main__":
    main()
