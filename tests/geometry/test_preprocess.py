import numpy as np
import pytest

from skniso.geometry import spherical_hks_maps

from ..integer_rule import bad_integers, names_the_value
from .conftest import bumpy_blob


def test_maps_shape_and_mobius_views(tmp_path):
    vertices, faces = bumpy_blob(subdivisions=2)
    maps, hks, sphere = spherical_hks_maps(
        vertices, faces, n_mobius=3, n_eigenpairs=20, grid_shape=(8, 16), cache_dir=tmp_path
    )
    assert maps.shape == (4, 16, 8, 16) and maps.dtype == np.float32
    assert hks.shape == (len(vertices), 16) and sphere.shape == vertices.shape
    assert not np.allclose(maps[0], maps[1])  # the Möbius views differ
    # Same content and parameters: loaded from the cache, identical.
    entries = sorted(p.name for p in tmp_path.rglob("output.pkl"))
    again = spherical_hks_maps(vertices, faces, n_mobius=3, n_eigenpairs=20, grid_shape=(8, 16),
                               cache_dir=tmp_path)
    np.testing.assert_array_equal(again[0], maps)
    assert sorted(p.name for p in tmp_path.rglob("output.pkl")) == entries
    # Different mesh content: a new entry.
    spherical_hks_maps(vertices * 1.1, faces, n_mobius=3, n_eigenpairs=20, grid_shape=(8, 16),
                       cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("output.pkl"))) == len(entries) + 1


def test_given_embedding_must_match_the_mesh():
    vertices, faces = bumpy_blob(subdivisions=1)
    with pytest.raises(ValueError, match="sphere_vertices must have"):
        spherical_hks_maps(vertices, faces, sphere_vertices=vertices[:5])


@pytest.mark.parametrize("name, value", [
    *[("n_mobius", value) for value in bad_integers(2, minimum=0)],
    *[("n_eigenpairs", value) for value in bad_integers(8)],
    ("grid_shape", (True, 8)), ("grid_shape", (4.0, 8)), ("grid_shape", (1, 8)), ("grid_shape", (4, 8, 2)),
])
def test_integer_parameters_follow_the_rule(name, value):
    vertices, faces = bumpy_blob(subdivisions=1)
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        spherical_hks_maps(vertices, faces, **{name: value})


def test_numpy_integers_at_the_minimum_are_accepted():
    vertices, faces = bumpy_blob(subdivisions=1)
    maps, _, _ = spherical_hks_maps(vertices, faces, n_mobius=np.int64(0), n_eigenpairs=np.int64(1),
                                    grid_shape=(np.int64(2), np.int64(2)))
    assert maps.shape == (1, 16, 2, 2)
