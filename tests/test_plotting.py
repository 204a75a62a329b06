import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from skniso import NeuralIsometryTransformer  # noqa: E402
from skniso.datasets import CircularShift, make_circular_shifts, make_circular_shifts_1d  # noqa: E402
from skniso.plotting import (  # noqa: E402
    plot_eigenfunctions,
    plot_isometry,
    plot_mass,
    plot_spectrum,
    plot_training_history,
)

from .integer_rule import bad_integers, names_the_value  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    def no_show(*args, **kwargs):
        raise AssertionError("plotting functions must not call plt.show")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted_2d():
    X = make_circular_shifts(16, image_size=6, n_channels=2, random_state=0)
    model = NeuralIsometryTransformer(
        encoder="identity", n_components=4, max_steps=5, batch_size=4, warmup_steps=0, random_state=0
    )
    return model.fit(X)


@pytest.fixture(scope="module")
def fitted_1d():
    X = make_circular_shifts_1d(16, length=12, random_state=0)[:, 0]
    model = NeuralIsometryTransformer(
        encoder="identity",
        n_components=3,
        pair_transform=CircularShift(),
        max_steps=5,
        batch_size=4,
        warmup_steps=0,
        random_state=0,
    )
    return model.fit(X)


def _images(fig):
    return [artist for ax in fig.axes for artist in ax.get_children() if isinstance(artist, AxesImage)]


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


# -- eigenfunctions ----------------------------------------------------------------
def test_plot_eigenfunctions_from_estimator(fitted_2d):
    fig = plot_eigenfunctions(fitted_2d)
    assert isinstance(fig, Figure)
    images = _images(fig)
    assert len(images) == 4
    assert images[0].get_array().shape == (6, 6)
    # Diverging map symmetric about zero, shared by all panels.
    vmin, vmax = images[0].get_clim()
    assert vmin == pytest.approx(-vmax)
    assert all(image.get_clim() == (vmin, vmax) for image in images)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("k=0, λ=")
    assert len(fig.axes) == 5  # 4 panels + one shared colorbar


def test_plot_eigenfunctions_subset_and_layout(fitted_2d):
    fig = plot_eigenfunctions(fitted_2d, n=3, ncols=2)
    assert len(_images(fig)) == 3
    # 2×2 grid with the 4th panel hidden, plus the colorbar.
    assert len(_visible_axes(fig)) == 4
    with pytest.raises(ValueError):
        plot_eigenfunctions(fitted_2d, n=5)


def test_plot_eigenfunctions_from_array():
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((20, 5))
    fig = plot_eigenfunctions(phi, grid_shape=(4, 5), eigenvalues=np.arange(5.0))
    assert len(_images(fig)) == 5
    assert _images(fig)[1].get_array().shape == (4, 5)
    # Without a grid shape the points are a 1-D signal: one line per panel.
    fig = plot_eigenfunctions(phi, n=2)
    assert len(_images(fig)) == 0
    lines = [ax.get_lines() for ax in _visible_axes(fig)]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0][-1].get_ydata(), phi[:, 0])
    with pytest.raises(ValueError, match="grid_shape"):
        plot_eigenfunctions(phi, grid_shape=(4, 4))


@pytest.mark.parametrize("name, value", [
    *[("n", value) for value in bad_integers(2, maximum=5)],
    *[("ncols", value) for value in bad_integers(2)],
    *[("grid_shape", value) for value in [(True, 20), (4.0, 5), (-4, -5), (0, 20), 20.0]],
])
def test_plot_eigenfunctions_integers_follow_the_rule(name, value):
    phi = np.random.default_rng(0).standard_normal((20, 5))
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        plot_eigenfunctions(phi, **{name: value})


def test_plot_eigenfunctions_accepts_numpy_integers_at_the_minimum():
    phi = np.random.default_rng(0).standard_normal((20, 5))
    fig = plot_eigenfunctions(phi, n=np.int64(1), ncols=np.int64(1), grid_shape=(np.int64(4), np.int64(5)))
    assert len(_images(fig)) == 1
    fig = plot_eigenfunctions(phi, n=np.int64(1), grid_shape=np.int64(20))
    assert len(_images(fig)) == 0 and len(_visible_axes(fig)) == 1


def test_plot_eigenfunctions_1d_estimator_draws_lines(fitted_1d):
    fig = plot_eigenfunctions(fitted_1d)
    assert len(_images(fig)) == 0
    data_lines = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) == 12]
    assert len(data_lines) == 3


def test_plot_eigenfunctions_into_given_axes(fitted_2d):
    fig, axes = plt.subplots(1, 4)
    assert plot_eigenfunctions(fitted_2d, axes=axes) is fig
    with pytest.raises(ValueError):
        plot_eigenfunctions(fitted_2d, axes=axes[:2])


# -- mass ----------------------------------------------------------------------------
def test_plot_mass(fitted_2d, fitted_1d):
    fig = plot_mass(fitted_2d)
    assert isinstance(fig, Figure)
    (image,) = _images(fig)
    np.testing.assert_allclose(image.get_array(), fitted_2d.mass_.reshape(6, 6))
    assert len(fig.axes) == 2  # the image and its colorbar
    fig = plot_mass(fitted_1d)
    assert len(_images(fig)) == 0 and len(fig.axes[0].get_lines()) == 1
    fig = plot_mass(np.linspace(1, 2, 12), grid_shape=(3, 4))
    assert _images(fig)[0].get_array().shape == (3, 4)
    _, ax = plt.subplots()
    assert plot_mass(np.ones(5), ax=ax) is ax.figure


def test_unfitted_estimator_is_rejected():
    with pytest.raises(ValueError, match="fit it first"):
        plot_mass(NeuralIsometryTransformer())


# -- spectrum --------------------------------------------------------------------------
def test_plot_spectrum_shades_multiplicity_blocks():
    eigenvalues = np.array([0.0, 3.0, 3.05, 7.0, 7.1, 10.0])
    fig = plot_spectrum(eigenvalues)
    ax = fig.axes[0]
    (markers,) = ax.get_lines()
    np.testing.assert_allclose(markers.get_ydata(), eigenvalues)
    assert len(ax.patches) == 2  # the two pairs; singletons are not shaded
    assert "sizes [1, 2, 2, 1]" in ax.get_title()


def test_plot_spectrum_from_estimator_and_explicit_blocks(fitted_2d):
    fig = plot_spectrum(fitted_2d)
    assert len(fig.axes[0].get_lines()) == 1
    _, ax = plt.subplots()
    fig = plot_spectrum([0.0, 1.0, 2.0, 3.0], ax=ax, blocks=[[0, 1, 2, 3]])
    assert fig is ax.figure and len(ax.patches) == 1


# -- isometry ------------------------------------------------------------------------
def test_plot_isometry_single_and_batch():
    rng = np.random.default_rng(0)
    tau = rng.standard_normal((3, 4, 4))
    fig = plot_isometry(tau[0])
    (image,) = _images(fig)
    np.testing.assert_allclose(image.get_array(), np.abs(tau[0]))
    fig = plot_isometry(tau)
    (image,) = _images(fig)
    np.testing.assert_allclose(image.get_array(), np.abs(tau).mean(axis=0))
    assert "3 pairs" in fig.axes[0].get_title()


def test_plot_isometry_outlines_blocks_in_eigenvalue_order():
    tau = np.eye(4)[None]
    fig = plot_isometry(tau, eigenvalues=[5.0, 0.0, 5.02, 9.0])
    ax = fig.axes[0]
    rectangles = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rectangles) == 1  # the block {0, 2}: positions 1–2 in sorted order
    assert rectangles[0].get_xy() == (0.5, 0.5) and rectangles[0].get_width() == 2
    fig = plot_isometry(tau, blocks=[[0, 1], [2, 3]])
    assert len(fig.axes[0].patches) == 2
    with pytest.raises(ValueError):
        plot_isometry(np.ones((2, 3)))
    with pytest.raises(ValueError):
        plot_isometry(tau, eigenvalues=[0.0, 1.0])


# -- training history -------------------------------------------------------------------
def _history(n=200):
    steps = np.arange(1, n + 1)
    return [
        {"step": int(s), "lr": 1e-3, "loss": 1.0 / s, "reconstruction": 0.5 / s, "time": 0.01 * s}
        for s in steps
    ]


def test_plot_training_history_from_list():
    fig = plot_training_history(_history(), smooth=1)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2  # loss, reconstruction; lr/time/step skipped
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "reconstruction"]
    # Smoothing draws each key raw (faint) and smoothed.
    fig = plot_training_history(_history(), keys=["loss"], smooth=10)
    assert len(fig.axes[0].get_lines()) == 2
    fig = plot_training_history(_history(), keys="loss", logy=False, smooth=1)
    assert fig.axes[0].get_yscale() == "linear" and len(fig.axes[0].get_lines()) == 1


def test_plot_training_history_from_estimator(fitted_2d):
    fig = plot_training_history(fitted_2d, smooth=1)
    keys = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert keys == ["loss", "reconstruction", "equivariance", "multiplicity"]
    _, ax = plt.subplots()
    assert plot_training_history(fitted_2d.history_, ax=ax) is ax.figure


def test_plot_training_history_draws_validation_points():
    history = _history()
    for row in history[9::10]:
        row["validation_loss"] = 2.0 / row["step"]
    fig = plot_training_history(history, smooth=1)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert list(lines) == ["loss", "reconstruction", "validation_loss"]
    assert len(lines["validation_loss"].get_xdata()) == len(history[9::10])
    assert lines["validation_loss"].get_marker() == "o"


def test_plot_training_history_bad_input():
    with pytest.raises(ValueError, match="no entries"):
        plot_training_history(_history(), keys=["nope"])
    with pytest.raises(ValueError):
        plot_training_history([])


@pytest.mark.parametrize("smooth", bad_integers(2))
def test_plot_training_history_smooth_follows_the_integer_rule(smooth):
    with pytest.raises(ValueError, match=names_the_value("smooth", smooth)):
        plot_training_history(_history(), smooth=smooth)
    # The minimum, 1, as a numpy integer: no smoothing, one line per key.
    assert len(plot_training_history(_history(), keys="loss", smooth=np.int64(1)).axes[0].get_lines()) == 1
