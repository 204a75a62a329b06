"""Common Objects in 3D (CO3Dv2) sequences for camera-pose learning.

:func:`load_co3d` reads a CO3Dv2 folder that the user already has (nothing is
downloaded): per category ``frame_annotations.jgz`` and
``sequence_annotations.jgz`` (gzipped JSON lists) and the JPEG frames they
point to.  Cameras are converted from PyTorch3D's row-vector convention to
OpenCV camera-to-world poses, as the NIso reference does (method.md §9).
:func:`make_pose_pairs` turns the sequences into image pairs, relative poses
and sequence ids for :class:`skniso.PoseRegressor`.
"""

import gzip
import json
import numbers
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_int, check_ints, is_integer

__all__ = [
    "load_co3d",
    "make_pose_pairs",
    "opencv_from_pytorch3d",
    "pytorch3d_from_opencv",
]

# PyTorch3D cameras have +X left and +Y up; OpenCV cameras +X right and +Y down.
_FLIP_XY = np.diag([-1.0, -1.0, 1.0])


def opencv_from_pytorch3d(R, T, focal_length, principal_point, image_size, intrinsics_format="ndc_norm_image_bounds"):
    """Convert one CO3D (PyTorch3D) camera to an OpenCV pose and pixel intrinsics.

    PyTorch3D maps world points as row vectors, X_cam = X_world·R + T.  The
    OpenCV world-to-camera transform is R_cv = diag(−1, −1, 1)·Rᵀ,
    t_cv = diag(−1, −1, 1)·T.

    Parameters
    ----------
    R : array-like of shape (3, 3)
    T : array-like of shape (3,)
    focal_length, principal_point : array-like of shape (2,)
        In NDC units.
    image_size : (height, width)
    intrinsics_format : {"ndc_norm_image_bounds", "ndc_isotropic"}
        How NDC maps to pixels: half the width and half the height per unit
        along x and y, or half the shorter side along both.

    Returns
    -------
    camera_to_world : ndarray of shape (4, 4)
        OpenCV axes (x right, y down, z forward).
    intrinsics : ndarray of shape (3, 3)
        Pixel units, pixel-corner convention (the image spans [0, W] × [0, H]).
    """
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    T = np.asarray(T, dtype=np.float64).reshape(3)
    height, width = (float(s) for s in image_size)
    if intrinsics_format == "ndc_norm_image_bounds":
        half = np.array([width / 2.0, height / 2.0])
    elif intrinsics_format == "ndc_isotropic":
        half = np.full(2, min(width, height) / 2.0)
    else:
        raise ValueError(
            f"intrinsics_format must be 'ndc_norm_image_bounds' or 'ndc_isotropic', got {intrinsics_format!r}"
        )
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = _FLIP_XY @ R.T
    world_to_camera[:3, 3] = _FLIP_XY @ T
    focal = np.asarray(focal_length, dtype=np.float64).reshape(2) * half
    centre = np.array([width / 2.0, height / 2.0]) - np.asarray(principal_point, dtype=np.float64).reshape(2) * half
    intrinsics = np.array([[focal[0], 0.0, centre[0]], [0.0, focal[1], centre[1]], [0.0, 0.0, 1.0]])
    return _invert_rigid(world_to_camera), intrinsics


def pytorch3d_from_opencv(camera_to_world, intrinsics, image_size):
    """Inverse of :func:`opencv_from_pytorch3d` (``ndc_norm_image_bounds`` format).

    Returns
    -------
    dict with keys R (3×3), T (3,), focal_length (2,), principal_point (2,)
        Plain lists, ready for a CO3D annotation.
    """
    world_to_camera = _invert_rigid(np.asarray(camera_to_world, dtype=np.float64))
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    height, width = (float(s) for s in image_size)
    half = np.array([width / 2.0, height / 2.0])
    R = (_FLIP_XY @ world_to_camera[:3, :3]).T
    T = _FLIP_XY @ world_to_camera[:3, 3]
    focal = np.array([intrinsics[0, 0], intrinsics[1, 1]]) / half
    principal = (np.array([width / 2.0, height / 2.0]) - intrinsics[:2, 2]) / half
    return {
        "R": R.tolist(),
        "T": T.tolist(),
        "focal_length": focal.tolist(),
        "principal_point": principal.tolist(),
    }


def _invert_rigid(pose):
    inverse = np.eye(4)
    inverse[:3, :3] = pose[:3, :3].T
    inverse[:3, 3] = -pose[:3, :3].T @ pose[:3, 3]
    return inverse


def _read_jgz(path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _load_image(path, image_size):
    """Centre square crop, Lanczos resize; (3, S, S) float32 in [-1, 1] and the crop box."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        image = image.resize((image_size, image_size), Image.LANCZOS)
        pixels = np.asarray(image, dtype=np.float32)
    return pixels.transpose(2, 0, 1) / 127.5 - 1.0, (left, top, side)


def _split_names(names, split, test_size, random_state):
    if split == "all":
        return names
    order = check_random_state(random_state).permutation(len(names))
    n_test = int(round(test_size * len(names)))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return [names[i] for i in sorted(chosen)]


def load_co3d(
    root,
    categories=None,
    *,
    image_size=64,
    top_fraction=0.25,
    split="all",
    test_size=0.1,
    split_file=None,
    max_frames=None,
    random_state=0,
):
    """Load CO3Dv2 sequences: centre-cropped frames and OpenCV camera poses.

    Parameters
    ----------
    root : str or path-like
        The CO3Dv2 folder: ``<root>/<category>/frame_annotations.jgz``,
        ``<root>/<category>/sequence_annotations.jgz`` and the images they name
        (paths relative to ``root``, e.g.
        ``<category>/<sequence>/images/frame000001.jpg``).
    categories : list of str or None, default=None
        None: every folder of ``root`` holding a ``frame_annotations.jgz``.
    image_size : int, default=64
        Side of the square frames (the reference uses 144).
    top_fraction : float in (0, 1], default=0.25
        Keep, per category, this fraction of sequences with the highest
        ``viewpoint_quality_score`` (at least one).  NIso keeps the top 25%.
    split : {"all", "train", "test"}, default="all"
        Which sequences to return.  Without ``split_file``, a seeded random
        ``test_size`` fraction of the selected sequences of each category is
        the test set.
    test_size : float in [0, 1), default=0.1
    split_file : str, path-like or None, default=None
        JSON ``{"train": [sequence names], "test": [sequence names]}`` (such as
        the reference's ``co3dv2_top25_splits.json``); it replaces both the
        quality selection and the random split.
    max_frames : int or None, default=None
        Keep only the first ``max_frames`` frames of each sequence, in
        ``frame_number`` order (the reference evaluates the first 200).  None
        keeps them all.  A sequence with fewer than two frames is skipped either
        way: a pose needs a pair.
    random_state : int, RandomState instance or None, default=0
        Seeds the train/test split.

    Returns
    -------
    Bunch with, one entry per sequence:
        images : list of ndarray (n_frames, 3, S, S), float32 in [-1, 1]
        poses : list of ndarray (n_frames, 4, 4)
            Camera-to-world, OpenCV axes.
        intrinsics : list of ndarray (n_frames, 3, 3)
            Pixels of the cropped and resized frames (pixel-corner convention).
        frame_numbers : list of ndarray (n_frames,)
        sequence_names, categories : list of str
        quality : ndarray
            The sequences' ``viewpoint_quality_score``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CO3D root {str(root)!r} is not a folder")
    image_size = check_int(image_size, "image_size")
    if not isinstance(top_fraction, numbers.Real) or not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    if not isinstance(test_size, numbers.Real) or not 0 <= test_size < 1:
        raise ValueError(f"test_size must be in [0, 1), got {test_size!r}")
    if max_frames is not None and not is_integer(max_frames, minimum=2):
        raise ValueError(f"max_frames must be None or an integer >= 2, got {max_frames!r}")
    if categories is None:
        categories = sorted(p.parent.name for p in root.glob("*/frame_annotations.jgz"))
        if not categories:
            raise FileNotFoundError(f"no <category>/frame_annotations.jgz under {str(root)!r}: not a CO3D folder")
    elif isinstance(categories, str):
        categories = [categories]
    listed = None
    if split_file is not None:
        with open(split_file, encoding="utf-8") as handle:
            lists = json.load(handle)
        listed = set(lists["train"] + lists["test"]) if split == "all" else set(lists[split])

    data = Bunch(images=[], poses=[], intrinsics=[], frame_numbers=[], sequence_names=[], categories=[], quality=[])
    for category in categories:
        folder = root / category
        for name in ("frame_annotations.jgz", "sequence_annotations.jgz"):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"category {category!r} has no {name} in {str(folder)!r}")
        sequences = {s["sequence_name"]: s for s in _read_jgz(folder / "sequence_annotations.jgz")}
        if listed is None:
            ranked = sorted(sequences, key=lambda n: -float(sequences[n].get("viewpoint_quality_score") or 0.0))
            kept = sorted(ranked[: max(1, int(round(top_fraction * len(ranked))))])
            kept = _split_names(kept, split, test_size, random_state)
        else:
            kept = sorted(n for n in sequences if n in listed)
        frames_by_sequence = {name: [] for name in kept}
        for frame in _read_jgz(folder / "frame_annotations.jgz"):
            if frame["sequence_name"] in frames_by_sequence:
                frames_by_sequence[frame["sequence_name"]].append(frame)
        for name in kept:
            frames = sorted(frames_by_sequence[name], key=lambda f: f["frame_number"])[:max_frames]
            if len(frames) < 2:
                continue
            images, poses, intrinsics = [], [], []
            for frame in frames:
                image, (left, top, side) = _load_image(root / frame["image"]["path"], image_size)
                view = frame["viewpoint"]
                pose, camera = opencv_from_pytorch3d(
                    view["R"], view["T"], view["focal_length"], view["principal_point"],
                    frame["image"]["size"], view.get("intrinsics_format", "ndc_norm_image_bounds"),
                )
                # The crop shifts the principal point; the resize scales all pixel units.
                camera[0, 2] -= left
                camera[1, 2] -= top
                camera[:2] *= image_size / side
                images.append(image)
                poses.append(pose)
                intrinsics.append(camera)
            data.images.append(np.stack(images))
            data.poses.append(np.stack(poses))
            data.intrinsics.append(np.stack(intrinsics))
            data.frame_numbers.append(np.array([f["frame_number"] for f in frames]))
            data.sequence_names.append(name)
            data.categories.append(category)
            data.quality.append(float(sequences[name].get("viewpoint_quality_score") or 0.0))
    data.quality = np.asarray(data.quality)
    return data


def make_pose_pairs(images, poses, frame_skips=(0,), *, chained=False, max_pairs_per_sequence=None, random_state=None):
    """Image pairs, their relative poses and sequence ids, at given frame skips.

    A frame skip s pairs frame l with frame l + s + 1.

    Parameters
    ----------
    images : list of ndarray (n_frames, C, H, W)
        One entry per sequence, e.g. ``load_co3d(...).images``.
    poses : list of ndarray (n_frames, 4, 4)
        Camera-to-world poses of the same frames.
    frame_skips : iterable of int, default=(0,)
    chained : bool, default=False
        False: every pair (l, l + s + 1).  True: only the pairs that chain
        frame 0 → s+1 → 2(s+1) → …, in order, for trajectory evaluation
        (then use a single skip per call).
    max_pairs_per_sequence : int or None, default=None
        Keep a random subset of at most this many (>= 1) of a sequence's pairs
        (not with ``chained``); None keeps them all.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_pairs, 2, C, H, W)
    y : ndarray of shape (n_pairs, 4, 4)
        Relative poses g_rel = g[l]⁻¹ g[l + s + 1].
    groups : ndarray of shape (n_pairs,)
        Index of each pair's sequence (``groups`` for :class:`skniso.PoseRegressor`
        and grouped cross-validation).
    """
    if max_pairs_per_sequence is not None:
        max_pairs_per_sequence = check_int(max_pairs_per_sequence, "max_pairs_per_sequence", minimum=1)
    if len(images) != len(poses):
        raise ValueError(f"got {len(images)} image sequences and {len(poses)} pose sequences")
    skips = check_ints(frame_skips, "frame_skips", minimum=0)
    rng = check_random_state(random_state)
    X, y, groups = [], [], []
    for index, (frames, trajectory) in enumerate(zip(images, poses)):
        frames, trajectory = np.asarray(frames), np.asarray(trajectory, dtype=np.float64)
        if len(frames) != len(trajectory) or trajectory.shape[1:] != (4, 4):
            raise ValueError(
                f"sequence {index}: {len(frames)} frames but poses of shape {trajectory.shape}; "
                "need one (4, 4) pose per frame"
            )
        firsts, seconds = [], []
        for skip in skips:
            stride = skip + 1
            starts = np.arange(0, len(frames) - stride, stride if chained else 1)
            firsts.append(starts)
            seconds.append(starts + stride)
        first, second = np.concatenate(firsts), np.concatenate(seconds)
        if max_pairs_per_sequence is not None and not chained and len(first) > max_pairs_per_sequence:
            pick = np.sort(rng.choice(len(first), max_pairs_per_sequence, replace=False))
            first, second = first[pick], second[pick]
        if not len(first):
            continue
        X.append(np.stack([frames[first], frames[second]], axis=1))
        y.append(np.linalg.inv(trajectory[first]) @ trajectory[second])
        groups.append(np.full(len(first), index))
    if not X:
        raise ValueError("no pairs: every sequence is shorter than the largest frame skip + 2")
    return np.concatenate(X), np.concatenate(y), np.concatenate(groups)
