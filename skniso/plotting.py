"""Pictures of a learned Neural Isometries operator (matplotlib).

Every function returns a :class:`matplotlib.figure.Figure`, draws into the
``ax``/``axes`` it is given (or into a new figure) and never calls
``plt.show``, so it works under any backend, Agg included.  Inputs are either
a fitted :class:`~skniso.NeuralIsometryTransformer` (duck-typed: anything with
``eigenfunctions_``, ``eigenvalues_``, ``mass_``, ``latent_grid_``,
``history_``) or plain arrays.

Colour conventions shared by all functions: signed fields (eigenfunctions) use
the diverging ``"RdBu_r"`` map centred on 0; positive quantities (mass,
``|τ|``) use the sequential ``"viridis"`` and ``"magma_r"`` maps.
"""

import numbers

import numpy as np

from ._validation import check_int, check_ints, is_integer
from .metrics import eigenvalue_blocks

__all__ = [
    "plot_eigenfunctions",
    "plot_isometry",
    "plot_mass",
    "plot_spectrum",
    "plot_training_history",
]

SIGNED_CMAP = "RdBu_r"
MASS_CMAP = "viridis"
ISOMETRY_CMAP = "magma_r"
_BLOCK_COLORS = ("#4C72B0", "#DD8452")


# -- helpers -------------------------------------------------------------------
def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _new_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _is_estimator(obj):
    # Fitted or not: an unfitted estimator then gets a "fit it first" error.
    return any(hasattr(obj, name) for name in ("get_params", "eigenfunctions_", "history_"))


def _attribute(estimator, name):
    value = getattr(estimator, name, None)
    if value is None:
        raise ValueError(
            f"{type(estimator).__name__} has no attribute {name!r}; fit it first or pass arrays"
        )
    return value


def _grid(estimator_or_array, grid_shape, n_points):
    """The grid to draw on: given, or the estimator's latent grid, or 1-D."""
    if grid_shape is None and _is_estimator(estimator_or_array):
        grid_shape = getattr(estimator_or_array, "latent_grid_", None)
    if grid_shape is None:
        grid_shape = (n_points,)
    grid_shape = check_ints((grid_shape,) if is_integer(grid_shape, minimum=None) else grid_shape, "grid_shape")
    if int(np.prod(grid_shape)) != n_points:
        raise ValueError(
            f"grid_shape {grid_shape} has {int(np.prod(grid_shape))} points, but the data has {n_points}"
        )
    if len(grid_shape) not in (1, 2):
        raise ValueError(f"only 1-D and 2-D grids can be drawn, got grid_shape {grid_shape}")
    return grid_shape


def _as_matrix(values, name):
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must be an (N, K) array, got shape {values.shape}")
    return values


# -- eigenfunctions --------------------------------------------------------------
def plot_eigenfunctions(
    estimator_or_array,
    grid_shape=None,
    n=None,
    *,
    eigenvalues=None,
    ncols=None,
    axes=None,
    cmap=SIGNED_CMAP,
    panel_size=1.9,
    tol=None,
):
    """Draw eigenfunctions Φ[:, k] on the latent grid, one panel each.

    Parameters
    ----------
    estimator_or_array : fitted transformer or array-like of shape (N, K)
        A transformer supplies Φ (``eigenfunctions_``), Λ (``eigenvalues_``)
        and the grid (``latent_grid_``).
    grid_shape : tuple of int, optional
        The grid of the N points; required for a 2-D array (otherwise the
        points are drawn as a 1-D signal).
    n : int, optional
        How many eigenfunctions, from the first (lowest eigenvalue); default
        all K, at most 32.
    eigenvalues : array-like of shape (K,), optional
        Shown in the panel titles (taken from the estimator when given one).
    ncols : int, optional
        Panels per row; default min(n, 8).
    axes : sequence of matplotlib Axes, optional
        At least ``n`` axes to draw into; default a new figure.
    cmap : str, default="RdBu_r"
        A diverging colormap; the colour scale is symmetric about 0 and shared
        by all panels, so amplitudes are comparable.
    panel_size : float, default=1.9
        Inches per panel for a new figure.
    tol : float, optional
        Passed to :func:`~skniso.metrics.eigenvalue_blocks`: with eigenvalues,
        the titles of eigenfunctions in the same multiplicity block share a
        colour (the colours of :func:`plot_spectrum`'s shading).

    Returns
    -------
    matplotlib.figure.Figure
        2-D grids: one image per panel plus one shared colorbar.  1-D grids:
        one line per panel.
    """
    if _is_estimator(estimator_or_array):
        phi = _as_matrix(_attribute(estimator_or_array, "eigenfunctions_"), "eigenfunctions_")
        if eigenvalues is None:
            eigenvalues = getattr(estimator_or_array, "eigenvalues_", None)
    else:
        phi = _as_matrix(estimator_or_array, "eigenfunctions")
    n_points, k = phi.shape
    grid = _grid(estimator_or_array, grid_shape, n_points)
    if n is None:
        n = min(k, 32)
    n = check_int(n, "n", maximum=k)
    if eigenvalues is not None:
        eigenvalues = np.asarray(eigenvalues, dtype=float).ravel()
        if eigenvalues.size != k:
            raise ValueError(f"{eigenvalues.size} eigenvalues for {k} eigenfunctions")

    if axes is None:
        ncols = min(n, 8) if ncols is None else check_int(ncols, "ncols")
        nrows = -(-n // ncols)
        height = panel_size * (0.9 if len(grid) == 2 else 0.7)
        fig, grid_axes = _pyplot().subplots(
            nrows,
            ncols,
            figsize=(panel_size * ncols + (0.6 if len(grid) == 2 else 0.0), height * nrows + 0.5),
            layout="constrained",
            squeeze=False,
        )
        flat = list(grid_axes.ravel())
        for extra in flat[n:]:
            extra.set_visible(False)
    else:
        flat = list(np.ravel(axes))
        if len(flat) < n:
            raise ValueError(f"{len(flat)} axes given for {n} eigenfunctions")
        fig = flat[0].figure
    flat = flat[:n]

    shown = phi[:, :n]
    vmax = float(np.max(np.abs(shown))) or 1.0
    # Titles of eigenfunctions sharing a multiplicity block get that block's
    # colour, as in plot_spectrum's shading.
    title_colors = ["0.1"] * k
    if eigenvalues is not None:
        n_multiple = 0
        for block in eigenvalue_blocks(eigenvalues, tol=tol):
            if len(block) > 1:
                for index in block:
                    title_colors[index] = _BLOCK_COLORS[n_multiple % 2]
                n_multiple += 1
    image = None
    for index, ax in enumerate(flat):
        values = shown[:, index].reshape(grid)
        title = f"k={index}"
        if eigenvalues is not None:
            title += f", λ={eigenvalues[index]:.2f}"
        ax.set_title(title, fontsize=9, color=title_colors[index])
        if len(grid) == 2:
            image = ax.imshow(values, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.axhline(0.0, color="0.75", linewidth=0.8, zorder=0)
            ax.plot(np.arange(grid[0]), values, color=_BLOCK_COLORS[0], marker=".", markersize=3)
            ax.set_ylim(-1.1 * vmax, 1.1 * vmax)
            ax.set_xlim(-0.5, grid[0] - 0.5)
            ax.tick_params(labelsize=7)
    if image is not None:
        colorbar = fig.colorbar(image, ax=flat, shrink=0.8, fraction=0.03, pad=0.02)
        colorbar.set_label("Φ value", fontsize=8)
        colorbar.ax.tick_params(labelsize=7)
    if axes is None:
        where = f"{grid[0]}×{grid[1]} grid" if len(grid) == 2 else f"{grid[0]}-point grid"
        fig.suptitle(f"First {n} eigenfunctions on the {where}", fontsize=11)
    return fig


# -- mass ------------------------------------------------------------------------
def plot_mass(estimator_or_array, grid_shape=None, *, ax=None, cmap=MASS_CMAP):
    """Draw the learned mass M (a positive value per grid point).

    Parameters
    ----------
    estimator_or_array : fitted transformer or array-like of shape (N,)
    grid_shape : tuple of int, optional
        Required to draw an array as an image; a transformer supplies
        ``latent_grid_``.  1-D grids are drawn as a line.
    ax : matplotlib Axes, optional
    cmap : str, default="viridis"

    Returns
    -------
    matplotlib.figure.Figure
        2-D grids: one image and a colorbar; 1-D grids: one line.
    """
    if _is_estimator(estimator_or_array):
        mass = np.asarray(_attribute(estimator_or_array, "mass_"), dtype=float)
    else:
        mass = np.asarray(estimator_or_array, dtype=float)
    if mass.ndim != 1:
        raise ValueError(f"mass must be a 1-D array of shape (N,), got shape {mass.shape}")
    grid = _grid(estimator_or_array, grid_shape, mass.size)
    fig, ax = _new_axes(ax, (4.2, 3.6) if len(grid) == 2 else (5.0, 2.8))
    if len(grid) == 2:
        image = ax.imshow(mass.reshape(grid), cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, shrink=0.9, label="M")
    else:
        ax.plot(np.arange(mass.size), mass, color=_BLOCK_COLORS[0], marker=".")
        ax.set_xlabel("grid point")
        ax.set_ylabel("M")
        ax.set_ylim(bottom=0.0)
    ax.set_title(f"Mass M (mean {mass.mean():.3f}, range {mass.min():.3f}–{mass.max():.3f})", fontsize=10)
    return fig


# -- spectrum --------------------------------------------------------------------
def _eigenvalues_of(estimator_or_array):
    if _is_estimator(estimator_or_array):
        values = _attribute(estimator_or_array, "eigenvalues_")
    else:
        values = estimator_or_array
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1-D array, got shape {values.shape}")
    return values


def plot_spectrum(estimator_or_array, *, ax=None, blocks=None, tol=None):
    """Eigenvalues against their index, with multiplicity blocks shaded.

    Parameters
    ----------
    estimator_or_array : fitted transformer or array-like of shape (K,)
    ax : matplotlib Axes, optional
    blocks : list of array-like of int, optional
        The multiplicity blocks; default :func:`skniso.metrics.eigenvalue_blocks`
        with ``tol``.
    tol : float, optional
        Passed to :func:`~skniso.metrics.eigenvalue_blocks`.

    Returns
    -------
    matplotlib.figure.Figure
        One marker line for the eigenvalues (in ascending order) and one
        shaded band per block of two or more eigenvalues, labelled with its
        size.
    """
    values = _eigenvalues_of(estimator_or_array)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    if blocks is None:
        blocks = eigenvalue_blocks(values, tol=tol)
    position = np.empty(values.size, dtype=int)
    position[order] = np.arange(values.size)
    k = values.size
    fig, ax = _new_axes(ax, (max(4.5, 0.28 * k + 2.5), 3.4))
    span = float(sorted_values[-1] - sorted_values[0]) or 1.0
    n_multiple = 0
    for block in blocks:
        where = np.sort(position[np.asarray(block, dtype=int)])
        if where.size < 2:
            continue
        color = _BLOCK_COLORS[n_multiple % 2]
        n_multiple += 1
        ax.axvspan(where[0] - 0.4, where[-1] + 0.4, color=color, alpha=0.15, linewidth=0)
        top = sorted_values[where].max()
        ax.annotate(
            f"×{where.size}",
            (0.5 * (where[0] + where[-1]), top + 0.04 * span),
            ha="center",
            va="bottom",
            fontsize=8,
            color=color,
        )
    ax.plot(np.arange(k), sorted_values, linestyle="none", marker="o", markersize=5, color="0.15")
    ax.set_xlabel("index k")
    ax.set_ylabel(r"eigenvalue $\lambda_k$")
    ax.set_xlim(-0.7, k - 0.3)
    ax.set_ylim(sorted_values[0] - 0.08 * span, sorted_values[-1] + 0.16 * span)
    if k <= 40:
        ax.set_xticks(np.arange(k))
    sizes = [len(b) for b in blocks]
    ax.set_title(f"Spectrum: {len(blocks)} blocks, sizes {sizes}" if len(sizes) <= 12 else
                 f"Spectrum: {len(blocks)} blocks", fontsize=10)
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    return fig


# -- isometries ------------------------------------------------------------------
def plot_isometry(tau, eigenvalues=None, *, ax=None, blocks=None, tol=None, cmap=ISOMETRY_CMAP):
    """Heatmap of |τ| (or the mean |τ| over a batch), with multiplicity blocks.

    Parameters
    ----------
    tau : array-like of shape (K, K) or (n, K, K)
    eigenvalues : array-like of shape (K,), optional
        If given (or ``blocks``), the diagonal blocks of
        :func:`~skniso.metrics.eigenvalue_blocks` are outlined; an isometry
        that commutes with Λ has no mass outside them.  Rows and columns are
        put in ascending eigenvalue order.
    ax : matplotlib Axes, optional
    blocks : list of array-like of int, optional
        Explicit blocks (indices into τ's rows), instead of ``eigenvalues``.
    tol : float, optional
        Passed to :func:`~skniso.metrics.eigenvalue_blocks`.
    cmap : str, default="magma_r"

    Returns
    -------
    matplotlib.figure.Figure
        One image and a colorbar; one rectangle patch per block of two or more
        indices.
    """
    tau = np.asarray(tau, dtype=float)
    if tau.ndim == 2:
        tau = tau[None]
    if tau.ndim != 3 or tau.shape[-1] != tau.shape[-2]:
        raise ValueError(f"tau must be (K, K) or (n, K, K), got shape {tau.shape}")
    n, k = tau.shape[0], tau.shape[-1]
    magnitude = np.abs(tau).mean(axis=0)
    order = np.arange(k)
    if blocks is None and eigenvalues is not None:
        eigenvalues = np.asarray(eigenvalues, dtype=float).ravel()
        if eigenvalues.size != k:
            raise ValueError(f"{eigenvalues.size} eigenvalues for {k}x{k} isometries")
        order = np.argsort(eigenvalues, kind="stable")
        blocks = eigenvalue_blocks(eigenvalues, tol=tol)
    magnitude = magnitude[np.ix_(order, order)]
    fig, ax = _new_axes(ax, (4.6, 3.9))
    image = ax.imshow(magnitude, cmap=cmap, vmin=0.0, vmax=max(1.0, float(magnitude.max())),
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.9, label=r"mean $|\tau_{ij}|$" if n > 1 else r"$|\tau_{ij}|$")
    if blocks is not None:
        from matplotlib.patches import Rectangle

        position = np.empty(k, dtype=int)
        position[order] = np.arange(k)
        for block in blocks:
            where = np.sort(position[np.asarray(block, dtype=int)])
            if where.size < 2:
                continue
            # Outline each contiguous run of the block (a block is contiguous
            # whenever the rows are in eigenvalue order).
            runs = np.split(where, np.flatnonzero(np.diff(where) > 1) + 1)
            for run in runs:
                ax.add_patch(Rectangle((run[0] - 0.5, run[0] - 0.5), run.size, run.size,
                                       fill=False, edgecolor="#2A9D8F", linewidth=1.8))
    if k <= 24:
        ax.set_xticks(np.arange(k))
        ax.set_yticks(np.arange(k))
        ax.tick_params(labelsize=7)
    ax.set_xlabel("j (source coefficient)")
    ax.set_ylabel("i (target coefficient)")
    ax.set_title(rf"mean $|\tau|$ over {n} pairs" if n > 1 else r"$|\tau|$", fontsize=10)
    return fig


# -- training curves -------------------------------------------------------------
_SKIPPED_KEYS = ("step", "lr", "time", "grad_norm")


def _moving_average(values, window):
    if window <= 1 or values.size < window:
        return values
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_training_history(history, keys=None, *, ax=None, smooth="auto", logy=True):
    """Loss curves from ``history_`` (a list of per-step dicts).

    Parameters
    ----------
    history : list of dict or fitted estimator
        Rows with a ``"step"`` entry and numeric loss entries; an estimator
        supplies its ``history_``.
    keys : sequence of str, optional
        Which entries to draw; default every numeric entry except ``step``,
        ``lr``, ``time`` and ``grad_norm``, in the order of the first row, then
        entries recorded at some steps only (``validation_loss``), as points.
    ax : matplotlib Axes, optional
    smooth : int or "auto", default="auto"
        Moving-average window.  With a window > 1 each key is drawn twice: the
        raw per-step values faintly and the smoothed curve on top.  ``"auto"``
        uses about 1/50 of the run; 1 disables smoothing.
    logy : bool, default=True
        Logarithmic y axis (non-positive values are masked).

    Returns
    -------
    matplotlib.figure.Figure
        One line per key, or two (raw and smoothed) when smoothing.
    """
    if _is_estimator(history):
        history = _attribute(history, "history_")
    history = list(history)
    if not history or not all(isinstance(row, dict) for row in history):
        raise ValueError("history must be a non-empty list of dicts (an estimator's history_)")
    if keys is None:
        keys = [key for key, value in history[0].items()
                if key not in _SKIPPED_KEYS and isinstance(value, numbers.Real)]
        # Entries of only some steps (validation_loss) follow, drawn as points.
        keys += sorted({key for row in history for key, value in row.items()
                        if key not in keys and key not in _SKIPPED_KEYS and isinstance(value, numbers.Real)})
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        present = {key for row in history for key in row}
        missing = [key for key in keys if key not in present]
        if missing:
            raise ValueError(f"history has no entries {missing}; it has {sorted(history[0])}")
    if not keys:
        raise ValueError("history has no numeric loss entries to plot")
    steps = np.asarray([row.get("step", index + 1) for index, row in enumerate(history)], dtype=float)
    if smooth == "auto":
        window = max(1, len(history) // 50)
    elif is_integer(smooth, minimum=1):
        window = int(smooth)
    else:
        raise ValueError(f"smooth must be 'auto' or a positive integer, got {smooth!r}")

    fig, ax = _new_axes(ax, (6.0, 3.6))
    colors = _pyplot().rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for index, key in enumerate(keys):
        values = np.asarray([row.get(key, np.nan) for row in history], dtype=float)
        color = colors[index % len(colors)]
        recorded = np.isfinite(values)
        if not recorded.all():
            ax.plot(steps[recorded], values[recorded], color=color, linewidth=1.4, marker="o",
                    markersize=3, label=key)
        elif window > 1:
            ax.plot(steps, values, color=color, alpha=0.2, linewidth=0.7)
            ax.plot(steps, _moving_average(values, window), color=color, linewidth=1.6, label=key)
        else:
            ax.plot(steps, values, color=color, linewidth=1.4, label=key)
    if logy:
        ax.set_yscale("log", nonpositive="mask")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_xlim(steps[0], steps[-1])
    ax.grid(True, which="major", color="0.9")
    ax.legend(fontsize=8, frameon=False, loc="best")
    title = "Training losses"
    if window > 1:
        title += f" (moving average over {window} steps)"
    ax.set_title(title, fontsize=10)
    return fig
