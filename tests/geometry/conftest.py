import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skniso.geometry import icosphere


def bumpy_blob(subdivisions=3, seed=0, n_bumps=5, height=0.8, stretch=(1.5, 1.0, 0.7)):
    """A star-shaped genus-0 test surface: an ellipsoid with Gaussian bumps."""
    vertices, faces = icosphere(subdivisions)
    rng = np.random.default_rng(seed)
    radius = np.ones(len(vertices))
    for _ in range(n_bumps):
        centre = rng.standard_normal(3)
        centre /= np.linalg.norm(centre)
        radius += height * np.exp(-((vertices @ centre - 1) ** 2) / 0.02)
    return vertices * radius[:, None] * np.asarray(stretch), faces


@pytest.fixture
def blob():
    return bumpy_blob()


@pytest.fixture(autouse=True)
def single_blas_thread():
    # eigsh's dense Lanczos steps slow down many-fold when BLAS threads compete
    # with the other pytest worker for CI's two cores.
    with threadpool_limits(1):
        yield
