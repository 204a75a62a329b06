"""Save and load fitted estimators without pickle: safetensors weights plus JSON.

:func:`save_model` writes ONE ``.safetensors`` file:

* tensors ``module/<attribute>/<state key>``: the ``state_dict`` of each fitted
  torch module (``model_`` of the transformer, ``module_`` of the classifier);
* tensors ``array/<attribute>``: every numeric numpy array among the fitted
  attributes (``mass_``, ``scale_``, ...), bit for bit;
* the safetensors header's string metadata: ``format`` (``"skniso-model"``),
  ``format_version`` (:data:`FORMAT_VERSION`), the ``skniso_version`` and
  ``torch_version`` that wrote the file, the ``estimator`` class name, and
  ``params`` and ``attributes``: the constructor parameters and the remaining
  fitted attributes as JSON.

:func:`load_model` rebuilds the estimator from its parameters, builds its
modules with their fitted shapes and loads the weights; predictions are
bit-identical to the saved estimator's on the same device.  Loading never
runs code from the file: JSON can only name classes inside the ``skniso``
package (e.g. a :class:`~skniso.datasets.RandomHomography` ``pair_transform``).
Estimators holding other Python objects (a user ``encoder`` module, a custom
``pair_transform``) cannot be saved this way; pickle them with joblib and read
them back with :func:`skniso.load`.

Versions: a file of a newer format than this skniso reads, or of an older
format with no upgrade path, fails with a message naming both versions.
Parameters that a file lacks (added to skniso after it was written) take their
defaults; parameters this skniso does not know are an error.
"""

import importlib
import json
import os
import struct

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .utils import resolve_device, warn_device_fallback

__all__ = ["save_model", "load_model", "is_model_file", "FORMAT_VERSION"]

FORMAT_NAME = "skniso-model"
FORMAT_VERSION = 1

# Upgraders from format n to n + 1, applied in turn to (metadata, tensors).
# Format 1 is the first, so there is nothing to upgrade yet.
_UPGRADES = {}


def _package_version():
    from . import __version__

    return __version__


# -- JSON encoding of parameters and fitted attributes -----------------------
def _to_json(value, name):
    """``value`` as JSON-compatible data, with tagged tuples, arrays, devices and
    skniso objects; anything else is a TypeError naming ``name``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return _to_json(value.item(), name)
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v, name) for v in value]}
    if isinstance(value, list):
        return [_to_json(v, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _to_json(v, name) for k, v in value.items()}}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": [_to_json(v, name) for v in value.tolist()], "dtype": value.dtype.str}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    module = type(value).__module__
    if module.split(".")[0] == "skniso" and hasattr(value, "__dict__") and not callable(
        getattr(value, "state_dict", None)
    ):
        return {
            "__object__": f"{module}.{type(value).__qualname__}",
            "state": _to_json(dict(vars(value)), name),
        }
    raise TypeError(
        f"save_model cannot store {name}, a {type(value).__name__}: it stores "
        "numbers, strings, tuples, lists, dicts, arrays and skniso objects. Pickle such a "
        "model with joblib.dump and read it back with skniso.load instead."
    )


def _from_json(data):
    if isinstance(data, list):
        return [_from_json(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__tuple__" in data:
        return tuple(_from_json(v) for v in data["__tuple__"])
    if "__dict__" in data:
        return {k: _from_json(v) for k, v in data["__dict__"].items()}
    if "__ndarray__" in data:
        return np.asarray(_from_json(data["__ndarray__"]), dtype=np.dtype(data["dtype"]))
    if "__device__" in data:
        return torch.device(data["__device__"])
    if "__object__" in data:
        path = data["__object__"]
        module_name, _, class_name = path.rpartition(".")
        if module_name.split(".")[0] != "skniso":
            raise ValueError(f"model file names the class {path}; only skniso classes are loaded")
        cls = getattr(importlib.import_module(module_name), class_name)
        obj = cls.__new__(cls)
        obj.__dict__.update(_from_json(data["state"]))
        return obj
    raise ValueError(f"model file holds an unknown JSON entry with keys {sorted(data)}")


# -- saving -------------------------------------------------------------------
def save_model(estimator, path):
    """Save a fitted skniso estimator to one ``.safetensors`` file, without pickle.

    Parameters
    ----------
    estimator : NeuralIsometryTransformer or EquivariantClassifier
        Fitted, with parameters that are plain values or skniso objects.
    path : str or path-like
        The file to write (by convention ending in ``.safetensors``).

    Raises
    ------
    NotFittedError
        If the estimator is not fitted.
    TypeError
        If a parameter or attribute cannot be stored without pickle (e.g. a
        user ``torch.nn.Module`` encoder): use :func:`joblib.dump` then.

    See Also
    --------
    load_model : read the file back.
    skniso.load : read a pickle or joblib file, mapping CUDA tensors to the CPU.
    """
    from safetensors.torch import save_file

    if type(estimator) not in _builders():
        raise TypeError(
            f"save_model stores {', '.join(sorted(c.__name__ for c in _builders()))}, "
            f"got {type(estimator).__name__}"
        )
    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    tensors, attributes = {}, {}
    for name, value in vars(estimator).items():
        # A property shadows an instance entry of its name (a stale second
        # reference that older pickles carry): it is rebuilt, not stored.
        if name in params or isinstance(getattr(type(estimator), name, None), property):
            continue
        if name in _RUN_STATE:
            # The optimiser and generator state of the last run: a loaded model
            # predicts identically without it, and a warm start begins a fresh run.
            continue
        if name in estimator._module_attributes:
            for key, tensor in value.state_dict().items():
                # safetensors wants contiguous tensors that share no memory.
                tensors[f"module/{name}/{key}"] = tensor.detach().to("cpu").contiguous().clone()
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            tensors[f"array/{name}"] = torch.from_numpy(np.ascontiguousarray(value).copy())
        else:
            attributes[name] = _to_json(value, name)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "skniso_version": _package_version(),
        "torch_version": torch.__version__,
        "estimator": type(estimator).__name__,
        "params": json.dumps({k: _to_json(v, k) for k, v in params.items()}),
        "attributes": json.dumps(attributes),
    }
    save_file(tensors, os.fspath(path), metadata=metadata)


#: Private attributes of the training loop that save_model leaves out.
_RUN_STATE = ("_run_state",)


# -- loading ------------------------------------------------------------------
def _builders():
    """Per estimator class, a function that builds its empty fitted modules."""
    from .classifier import EquivariantClassifier
    from .transformer import NeuralIsometryTransformer

    def transformer_modules(est, device):
        model = est._build_model(est.observation_shape_, torch.Generator().manual_seed(0), device)
        return {"model_": model}

    def classifier_modules(est, device):
        from .nn.init import build_module

        n_channels, n_classes = est.latent_shape_[1], len(est.classes_)
        module = build_module(
            lambda: est._new_module(n_channels, n_classes), torch.Generator().manual_seed(0), device
        )
        return {"module_": module}

    return {NeuralIsometryTransformer: transformer_modules, EquivariantClassifier: classifier_modules}


def is_model_file(path):
    """Whether ``path`` is a file written by :func:`save_model` (any format version)."""
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 2 <= length <= 100_000_000:
                return False
            header = json.loads(handle.read(length))
    except (OSError, TypeError, ValueError, struct.error):
        return False
    return isinstance(header, dict) and header.get("__metadata__", {}).get("format") == FORMAT_NAME


def _read(path):
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(os.fspath(path), "pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(os.fspath(path), device="cpu")
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a safetensors file written by skniso.save_model: {exc}") from exc
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(
            f"{path} is a safetensors file but not a skniso model (no format={FORMAT_NAME!r} "
            "in its metadata); skniso.load_model reads files written by skniso.save_model"
        )
    return metadata, tensors


def _upgrade(metadata, tensors, path):
    written_by = metadata.get("skniso_version", "unknown")
    try:
        version = int(metadata["format_version"])
    except (KeyError, ValueError):
        raise ValueError(f"{path} has no valid format_version (written by skniso {written_by})") from None
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by skniso {written_by} in model format {version}; this skniso "
            f"{_package_version()} reads formats up to {FORMAT_VERSION}: upgrade skniso to load it"
        )
    while version < FORMAT_VERSION:
        if version not in _UPGRADES:
            raise ValueError(
                f"{path} was written by skniso {written_by} in model format {version}, which this "
                f"skniso {_package_version()} (format {FORMAT_VERSION}) cannot read; load it with "
                f"skniso {written_by} and re-save it from an intermediate version, or refit"
            )
        metadata, tensors = _UPGRADES[version](metadata, tensors)
        version += 1
    return metadata, tensors


def load_model(path, device=None):
    """Load an estimator written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
    device : str, torch.device or None, default=None
        Where to put the modules.  None: the device the model was fitted on, or
        the CPU (with a :class:`~skniso.utils.DeviceFallbackWarning`) when that
        device is not available here.

    Returns
    -------
    estimator
        Fitted; ``transform``/``predict`` give bit-identical results to the
        saved estimator on the same device.

    Raises
    ------
    ValueError
        If the file is not a skniso model, was written in a format this version
        cannot read (the message names both versions), or does not match the
        estimator's parameters.
    """
    metadata, tensors = _upgrade(*_read(path), path)
    classes = {cls.__name__: cls for cls in _builders()}
    name = metadata.get("estimator")
    if name not in classes:
        raise ValueError(f"{path} holds a {name!r}, which this skniso {_package_version()} does not know")
    cls = classes[name]
    params = {k: _from_json(v) for k, v in json.loads(metadata["params"]).items()}
    unknown = set(params) - set(cls().get_params(deep=False))
    if unknown:
        raise ValueError(
            f"{path} was written by skniso {metadata.get('skniso_version')} with parameters "
            f"{sorted(unknown)} that this skniso {_package_version()} does not have; upgrade skniso"
        )
    estimator = cls(**params)
    for key, value in json.loads(metadata["attributes"]).items():
        setattr(estimator, key, _from_json(value))
    for key, tensor in tensors.items():
        if key.startswith("array/"):
            setattr(estimator, key[len("array/"):], tensor.numpy())

    saved_device = getattr(estimator, "device_", torch.device("cpu"))
    if device is not None:
        target = resolve_device(device)
    elif saved_device.type == "cuda" and not torch.cuda.is_available():
        warn_device_fallback(saved_device)
        target = torch.device("cpu")
    else:
        target = saved_device
    modules = _builders()[cls](estimator, torch.device("cpu"))
    for attribute, module in modules.items():
        prefix = f"module/{attribute}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"the weights in {path} (skniso {metadata.get('skniso_version')}, format "
                f"{metadata['format_version']}) do not fit the {name} its parameters describe: {exc}"
            ) from exc
        module.to(target).eval()
        setattr(estimator, attribute, module)
    estimator.device_ = target
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:  # pragma: no cover - a file without fitted attributes
        raise ValueError(f"{path} holds no fitted attributes") from exc
    return estimator
