"""Small helpers shared by the estimators: devices, seeds, array layout."""

import contextlib
import io
import os
import warnings

import numpy as np
import scipy.sparse
import torch
from sklearn.utils import check_random_state

from ._validation import check_int, is_integer

__all__ = ["resolve_device", "torch_generator", "flatten_samples", "load", "DeviceFallbackWarning"]


class DeviceFallbackWarning(UserWarning):
    """A model asked for a device that is not available here and fell back to CPU."""


def resolve_device(device):
    """Turn the ``device`` parameter into a concrete :class:`torch.device`.

    ``"auto"`` picks CUDA when it is available and the CPU otherwise.  An explicit
    ``"cuda"`` on a machine without CUDA is an error rather than a silent fallback.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here")
    return resolved


def torch_generator(random_state):
    """A fresh CPU :class:`torch.Generator` seeded from ``random_state``.

    ``None`` seeds from the operating system's entropy; an int seeds directly; a
    :class:`numpy.random.RandomState` gives one draw.  Torch's global RNG is never
    read or changed, and neither is numpy's for ``None``.
    """
    if random_state is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    elif is_integer(random_state, minimum=None):
        seed = check_int(random_state, "random_state", minimum=0)
    else:
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    return torch.Generator().manual_seed(seed)


def warn_device_fallback(device):
    warnings.warn(
        f"this model was fitted on {device} which is not available here; it runs on the CPU",
        DeviceFallbackWarning,
        stacklevel=3,
    )


def flatten_samples(X, max_ndim=None, expected="(n_samples, n_features)"):
    """Flatten every sample of an n-D array to one row, keeping 2-D input as it is.

    Returns ``(X_2d, shape)`` where ``shape`` is the input's shape.  DataFrames,
    sparse matrices and other 2-D containers pass through untouched so that
    :func:`sklearn.utils.validation.validate_data` can see their feature names
    or reject them with its usual message.  Arrays of fewer than 2 or more than
    ``max_ndim`` dimensions, and arrays of strings, complex numbers, dates or
    records, are rejected with a message naming ``expected``, the layout the
    caller wants.
    """
    if hasattr(X, "iloc") or scipy.sparse.issparse(X):
        return X, tuple(X.shape)
    X = np.asarray(X)
    if X.dtype.kind not in "biufO":
        # The phrase for complex numbers is the one sklearn's own checks expect.
        problem = "Complex data not supported" if X.dtype.kind == "c" else "Non-numeric data"
        raise ValueError(f"{problem}: X must hold real numbers, got dtype {X.dtype}; expected {expected}")
    if X.ndim < 2 or (max_ndim is not None and X.ndim > max_ndim):
        raise ValueError(
            f"X must be {expected}, got a {X.ndim}-D array of shape {X.shape}. "
            "Reshape your data to that layout."
        )
    if X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {X.shape}); expected at least one sample of {expected}")
    if X.ndim > 2:
        if 0 in X.shape[1:]:
            raise ValueError(f"X has samples of shape {X.shape[1:]}, which hold no values; expected {expected}")
        if X.dtype.kind == "O":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"X must hold real numbers, got objects that are not: {exc}; expected {expected}"
                ) from exc
        # An explicit width: reshape(n, -1) is ambiguous when n is 0.
        return X.reshape(X.shape[0], int(np.prod(X.shape[1:]))), X.shape
    return X, X.shape


@contextlib.contextmanager
def _storages_on_cpu():
    """While active, unpickled torch storages land on the CPU whatever device saved them."""
    import torch.storage

    original = torch.storage._load_from_bytes

    def load_on_cpu(data):
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)

    torch.storage._load_from_bytes = load_on_cpu
    try:
        yield
    finally:
        torch.storage._load_from_bytes = original


def load(path):
    """Load a pickled or joblib-dumped model, mapping any CUDA tensors to the CPU.

    A file written by :func:`skniso.save_model` (safetensors, no pickle) is
    recognised by its header and read with :func:`skniso.load_model` instead.

    skniso estimators always pickle their modules from the CPU, so plain
    :func:`joblib.load` works for them.  This loader also opens pickles that
    hold CUDA tensors elsewhere (made by other code, or by skniso 0.1.0's
    ``NeuralIsometryTransformer``, whose ``encoder_`` held a second reference)
    on machines without a GPU.  Only load files you trust: unpickling runs code.

    Parameters
    ----------
    path : str, path-like or file object

    Returns
    -------
    object
    """
    import joblib

    from .persistence import is_model_file, load_model

    if isinstance(path, (str, os.PathLike)) and is_model_file(path):
        return load_model(path)
    with _storages_on_cpu():
        return joblib.load(path)
