"""Conformal shape classification offline: procedural genus-0 shapes under Möbius maps.

Each shape's heat kernel signatures are rasterised through a conformal map to the
sphere and through random Möbius images of it (``make_conformal_shapes``; cached
in ``--cache-dir``).  NIso is pre-trained on pairs of maps of the training
shapes, then ``FineTunedClassifier`` trains its encoder together with the
invariant head; accuracy is on every map of held-out shapes.

    python examples/conformal_shapes.py            # about 5 minutes on 2 CPU cores
"""

import argparse
import os

import numpy as np

from skniso import FineTunedClassifier, NeuralIsometryTransformer
from skniso.datasets import draw_conformal_pairs, make_conformal_shapes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument("--finetune-steps", type=int, default=400)
    parser.add_argument("--cache-dir", default=os.path.join("~", ".cache", "skniso-shapes"))
    args = parser.parse_args()

    _, _, maps, shape_labels, _ = make_conformal_shapes(
        14, n_mobius=8, grid_shape=(24, 48), random_state=0, cache_dir=args.cache_dir, return_maps=True
    )
    # 10 training and 4 test shapes per class, as SHREC'11.
    rng = np.random.default_rng(0)
    test = np.concatenate([rng.permutation(np.flatnonzero(shape_labels == c))[:4] for c in np.unique(shape_labels)])
    train = np.setdiff1d(np.arange(len(maps)), test)
    X_pairs, _ = draw_conformal_pairs(maps[train], maps.shape[1], random_state=0)

    niso = NeuralIsometryTransformer(n_components=32, beta=0.01, max_steps=args.pretrain_steps,
                                     warmup_steps=100, random_state=0).fit(X_pairs)
    X_train = maps[train].reshape(-1, *maps.shape[2:])
    y_train = np.repeat(shape_labels[train], maps.shape[1])
    clf = FineTunedClassifier(niso, prefit=True, width=32, gram_channels=16, encoder_lr_scale=0.3,
                              max_steps=args.finetune_steps, batch_size=16, random_state=0)
    clf.fit(X_train, y_train)
    X_test = maps[test].reshape(-1, *maps.shape[2:])
    y_test = np.repeat(shape_labels[test], maps.shape[1])
    print(f"{len(np.unique(shape_labels))} classes, {len(train)} training / {len(test)} test shapes, "
          f"{maps.shape[1]} maps each")
    print(f"test accuracy over all maps of held-out shapes: {clf.score(X_test, y_test):.3f}")


if __name__ == "__main__":
    main()
