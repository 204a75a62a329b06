"""Synthetic pairs related by circular shifts (the toric-Laplacian experiment).

NIso recovers the Laplacian of the torus when the only transformations it
sees are circular shifts of periodic signals.  These generators produce such
pairs on small grids (2-D) or rings (1-D).
"""

import numpy as np
import torch

from .._validation import check_int, is_integer
from ._homography import _check_random_state, _draw_integers

__all__ = ["make_circular_shifts", "make_circular_shifts_1d"]

# Gaussian width, in integer frequencies, of the default smooth random fields.
_DEFAULT_BANDWIDTH = 1.5


def _smooth_periodic_fields(rng, n_samples, n_channels, spatial_shape):
    """Random low-frequency periodic fields scaled to [-1, 1] per image.

    Built by filtering white noise in the Fourier domain with a Gaussian over
    the integer frequencies, so every field is smooth *and* periodic: a
    circular shift produces no seam.
    """
    noise = rng.standard_normal((n_samples, n_channels) + tuple(spatial_shape))
    axes = tuple(range(-len(spatial_shape), 0))
    spectrum = np.fft.fftn(noise, axes=axes)
    squared_freq = np.zeros(spatial_shape)
    for axis, size in enumerate(spatial_shape):
        freq = np.fft.fftfreq(size) * size
        shape = [1] * len(spatial_shape)
        shape[axis] = size
        squared_freq = squared_freq + (freq**2).reshape(shape)
    low_pass = np.exp(-squared_freq / (2.0 * _DEFAULT_BANDWIDTH**2))
    low_pass.flat[0] = 0.0  # drop the mean so fields are not near-constant
    fields = np.fft.ifftn(spectrum * low_pass, axes=axes).real
    peak = np.abs(fields).max(axis=axes, keepdims=True)
    return fields / np.maximum(peak, 1e-12)


def _as_source(source, n_spatial):
    """Validate a user source batch as float64 (m, C, *spatial)."""
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
    source = np.asarray(source)
    if not (
        np.issubdtype(source.dtype, np.floating)
        or np.issubdtype(source.dtype, np.integer)
    ):
        raise TypeError(f"source must be numeric, got dtype {source.dtype}.")
    if source.ndim == n_spatial + 1:
        source = source[:, None]
    if source.ndim != n_spatial + 2:
        if n_spatial == 2:
            expected = "(m, C, h, w) or (m, h, w)"
        else:
            expected = "(m, C, L) or (m, L)"
        raise ValueError(
            f"source must have shape {expected}; got shape {source.shape}."
        )
    if len(source) == 0:
        raise ValueError("source is empty.")
    return source.astype(np.float64)


def _check_max_shift(max_shift):
    """``max_shift`` as None or an int."""
    if max_shift is None:
        return None
    if not is_integer(max_shift, minimum=0):
        raise ValueError(
            f"max_shift must be None or a non-negative integer, got {max_shift!r}."
        )
    return int(max_shift)


def _draw_shifts(rng, n_samples, sizes, max_shift):
    """Integer shifts per axis: all offsets, or uniform in [-max_shift, max_shift]."""
    max_shift = _check_max_shift(max_shift)
    if max_shift is None:
        columns = [_draw_integers(rng, 0, size, n_samples) for size in sizes]
    else:
        columns = [
            _draw_integers(rng, -max_shift, max_shift + 1, n_samples)
            for _ in sizes
        ]
    return np.stack(columns, axis=1).astype(np.int64)


def _roll_each(images, shifts):
    """Per-sample ``torch.roll`` over the trailing axes, vectorised in numpy.

    ``out[..., i] = images[..., (i - shift) mod size]`` on every rolled axis,
    which is exactly ``torch.roll(images[k], shifts[k], dims)``.
    """
    n_spatial = shifts.shape[1]
    out = images
    for axis_offset in range(n_spatial):
        axis = images.ndim - n_spatial + axis_offset
        size = images.shape[axis]
        positions = np.arange(size)
        index = (positions[None, :] - shifts[:, axis_offset : axis_offset + 1]) % size
        shape = [1] * images.ndim
        shape[0] = len(images)
        shape[axis] = size
        index = np.broadcast_to(index.reshape(shape), out.shape)
        out = np.take_along_axis(out, index, axis=axis)
    return out


def _make_shift_pairs(
    n_samples, spatial_shape, n_channels, max_shift, source, rng, n_spatial
):
    if source is None:
        clean = _smooth_periodic_fields(rng, n_samples, n_channels, spatial_shape)
    else:
        source = _as_source(source, n_spatial)
        picks = _draw_integers(rng, 0, len(source), n_samples)
        clean = source[picks]
    shifts = _draw_shifts(rng, n_samples, clean.shape[2:], max_shift)
    shifted = _roll_each(clean, shifts)
    X_pairs = np.stack([clean, shifted], axis=1).astype(np.float32)
    return X_pairs, shifts


def _resolve_shape_args(source, n_spatial, size, size_name, default_size, n_channels):
    """Defaults for size/channels, and consistency checks against ``source``."""
    if source is None:
        size = default_size if size is None else check_int(size, size_name)
        if n_channels is None:
            n_channels = 1
        n_channels = check_int(n_channels, "n_channels")
        return (size,) * n_spatial, n_channels
    checked = _as_source(source, n_spatial)
    if size is not None and any(s != size for s in checked.shape[2:]):
        raise ValueError(
            f"{size_name}={size} does not match the source's spatial shape "
            f"{checked.shape[2:]}; leave {size_name}=None to use the source's."
        )
    if n_channels is not None and checked.shape[1] != n_channels:
        raise ValueError(
            f"n_channels={n_channels} does not match the source's "
            f"{checked.shape[1]} channels; leave n_channels=None."
        )
    return checked.shape[2:], checked.shape[1]


def make_circular_shifts(
    n_samples=512,
    *,
    image_size=None,
    n_channels=None,
    max_shift=None,
    source=None,
    return_shifts=False,
    random_state=None,
):
    """Pairs of images related by 2-D circular shifts.

    View 1 of pair ``k`` is ``torch.roll(view0, shifts=(dy_k, dx_k),
    dims=(-2, -1))``: rows move down by ``dy`` and columns right by ``dx``,
    wrapping around.

    Parameters
    ----------
    n_samples : int, default=512
        Number of pairs.
    image_size : int or None, default=None
        Side of the square images; 8 when ``source`` is None.  With a
        ``source`` it must be None or match the source.
    n_channels : int or None, default=None
        Channels of the generated images; 1 when ``source`` is None.  With a
        ``source`` it must be None or match the source.
    max_shift : int or None, default=None
        ``None`` draws each shift uniformly over all offsets ``0..size-1``
        (the full torus group); an int ``k`` draws uniformly in ``[-k, k]``.
    source : array-like of shape (m, C, h, w) or (m, h, w), default=None
        Images to shift, drawn uniformly with replacement.  ``None`` draws a
        fresh smooth periodic random field (values in [-1, 1]) per pair.
    return_shifts : bool, default=False
        Also return the shifts.
    random_state : None, int, numpy Generator or RandomState, default=None

    Returns
    -------
    X_pairs : ndarray of shape (n_samples, 2, C, h, w), float32
    shifts : ndarray of shape (n_samples, 2), int64
        ``(dy, dx)`` per pair; only when ``return_shifts=True``.
    """
    n_samples = check_int(n_samples, "n_samples")
    spatial_shape, n_channels = _resolve_shape_args(
        source, 2, image_size, "image_size", 8, n_channels
    )
    rng = _check_random_state(random_state)
    X_pairs, shifts = _make_shift_pairs(
        n_samples, spatial_shape, n_channels, max_shift, source, rng, 2
    )
    return (X_pairs, shifts) if return_shifts else X_pairs


def make_circular_shifts_1d(
    n_samples=512,
    *,
    length=None,
    n_channels=None,
    max_shift=None,
    source=None,
    return_shifts=False,
    random_state=None,
):
    """Pairs of 1-D periodic signals related by circular shifts.

    View 1 of pair ``k`` is ``torch.roll(view0, shifts=s_k, dims=-1)``.

    Parameters
    ----------
    n_samples : int, default=512
        Number of pairs.
    length : int or None, default=None
        Signal length; 24 when ``source`` is None.  With a ``source`` it must
        be None or match the source.
    n_channels : int or None, default=None
        Channels; 1 when ``source`` is None.
    max_shift : int or None, default=None
        ``None`` draws shifts uniformly over ``0..length-1``; an int ``k``
        draws uniformly in ``[-k, k]``.
    source : array-like of shape (m, C, L) or (m, L), default=None
        Signals to shift, drawn uniformly with replacement.  ``None`` draws a
        fresh smooth periodic random signal (values in [-1, 1]) per pair.
    return_shifts : bool, default=False
        Also return the shifts.
    random_state : None, int, numpy Generator or RandomState, default=None

    Returns
    -------
    X_pairs : ndarray of shape (n_samples, 2, C, L), float32
    shifts : ndarray of shape (n_samples,), int64
        Only when ``return_shifts=True``.
    """
    n_samples = check_int(n_samples, "n_samples")
    spatial_shape, n_channels = _resolve_shape_args(
        source, 1, length, "length", 24, n_channels
    )
    rng = _check_random_state(random_state)
    X_pairs, shifts = _make_shift_pairs(
        n_samples, spatial_shape, n_channels, max_shift, source, rng, 1
    )
    return (X_pairs, shifts[:, 0]) if return_shifts else X_pairs


class CircularShift:
    """Picklable ``pair_transform``: roll each sample by a random cyclic shift.

    The symmetry of the paper's toric Laplacian experiment.  Every sample of a
    batch (B, C, *spatial) gets its own shift along each of the last ``n_axes``
    spatial axes (all spatial axes by default), drawn uniformly from
    ``[-max_shift, max_shift]`` or, with ``max_shift=None``, over all offsets.

    Parameters
    ----------
    max_shift : int or None, default=None
    n_axes : int or None, default=None
        How many trailing axes to roll; None rolls every spatial axis.
    """

    def __init__(self, max_shift=None, n_axes=None):
        self.max_shift = max_shift
        self.n_axes = n_axes

    def __repr__(self):
        return f"CircularShift(max_shift={self.max_shift!r}, n_axes={self.n_axes!r})"

    def __eq__(self, other):
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self):
        return hash((type(self).__name__, self.max_shift, self.n_axes))

    def __call__(self, x, generator=None):
        """Return ``x`` (B, C, *spatial) with every sample rolled independently."""
        if not torch.is_tensor(x) or x.dim() < 3:
            raise ValueError(
                f"CircularShift expects a tensor (batch, channels, *spatial), got "
                f"{type(x).__name__} of shape {tuple(getattr(x, 'shape', ()))}"
            )
        n_spatial = x.dim() - 2
        n_axes = n_spatial if self.n_axes is None else check_int(self.n_axes, "n_axes", maximum=n_spatial)
        max_shift = _check_max_shift(self.max_shift)
        if generator is None or is_integer(generator, minimum=None):
            generator = torch.Generator().manual_seed(0 if generator is None else int(generator))
        out = x
        batch = x.shape[0]
        for axis in range(x.dim() - n_axes, x.dim()):
            size = x.shape[axis]
            if max_shift is None:
                shifts = torch.randint(0, size, (batch,), generator=generator)
            else:
                shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=generator)
            # out[..., i, ...] = x[..., (i - s) mod size, ...] per sample.
            positions = torch.arange(size)
            index = (positions.unsqueeze(0) - shifts.unsqueeze(1)) % size  # (B, size)
            view = [batch] + [1] * (x.dim() - 1)
            view[axis] = size
            index = index.view(view).expand(out.shape).to(out.device)
            out = torch.gather(out, axis, index)
        return out
