import numpy as np
import pytest

from skniso.datasets import SHAPE_CLASSES, make_conformal_shapes, make_shape_mesh
from skniso.geometry import conformal_flow, signed_volume, spherical_face_orientation

from ..integer_rule import bad_integers, names_the_value


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_every_class_is_a_closed_outward_surface_that_flows_to_the_sphere(name):
    vertices, faces = make_shape_mesh(name, random_state=0)
    assert signed_volume(vertices, faces) > 0
    sphere = conformal_flow(vertices, faces)
    flipped = np.mean(spherical_face_orientation(sphere, faces) <= 0)
    assert flipped < 0.005


def test_instances_are_seeded_and_differ():
    a = make_shape_mesh("star", random_state=0)[0]
    np.testing.assert_array_equal(a, make_shape_mesh("star", random_state=0)[0])
    assert not np.allclose(a, make_shape_mesh("star", random_state=1)[0])
    with pytest.raises(ValueError, match="shape_class must be one of"):
        make_shape_mesh("teapot")


def test_make_conformal_shapes_runs_the_whole_pipeline(tmp_path):
    X, y, maps, shape_labels, shape_index = make_conformal_shapes(
        2, classes=("star", "disc"), n_mobius=2, grid_shape=(8, 16), subdivisions=2,
        n_eigenpairs=16, random_state=0, cache_dir=tmp_path, return_maps=True,
    )
    assert X.shape == (4 * 3, 2, 16, 8, 16) and X.dtype == np.float32
    assert maps.shape == (4, 3, 16, 8, 16)
    np.testing.assert_array_equal(shape_labels, ["star", "star", "disc", "disc"])
    np.testing.assert_array_equal(y, shape_labels[shape_index])
    assert X.min() >= -1 and X.max() <= 1
    again = make_conformal_shapes(2, classes=("star", "disc"), n_mobius=2, grid_shape=(8, 16),
                                  subdivisions=2, n_eigenpairs=16, random_state=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(again[0], X)
    with pytest.raises(ValueError, match="classes must be"):
        make_conformal_shapes(1, classes=("teapot",))


def test_shape_pairs_train_a_pipeline_that_pickles(tmp_path):
    import joblib
    from sklearn.pipeline import Pipeline

    from skniso import EquivariantClassifier, NeuralIsometryTransformer

    X, y = make_conformal_shapes(2, classes=("star", "cube"), n_mobius=2, grid_shape=(8, 16),
                                 subdivisions=2, n_eigenpairs=16, random_state=0)
    pipe = Pipeline([
        ("niso", NeuralIsometryTransformer(channels=(4, 8), blocks_per_level=(1, 1), latent_channels=4,
                                           n_components=8, max_steps=3, batch_size=4, warmup_steps=0,
                                           random_state=0)),
        ("clf", EquivariantClassifier(n_components=8, width=8, gram_channels=4, max_steps=3,
                                      random_state=0)),
    ]).fit(X, y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X[:, 1]), pipe.predict_proba(X[:, 1]))


def test_any_unit_sphere_mesh_can_be_deformed():
    from skniso.geometry import icosphere

    sphere = icosphere(1)
    vertices, faces = make_shape_mesh("peanut", sphere_mesh=sphere, random_state=0)
    assert vertices.shape == sphere[0].shape
    np.testing.assert_array_equal(faces, sphere[1])


@pytest.mark.parametrize("name", ["n_shapes_per_class", "n_mobius"])
@pytest.mark.parametrize("value", bad_integers(2))
def test_integer_parameters_follow_the_rule(name, value):
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        make_conformal_shapes(**{"n_shapes_per_class": 1, "n_mobius": 1, name: value})


def test_numpy_integers_at_the_minimum_are_accepted():
    X, y = make_conformal_shapes(np.int64(1), classes=("star",), n_mobius=np.int64(1), grid_shape=(4, 8),
                                 subdivisions=1, n_eigenpairs=8, random_state=0)
    assert X.shape == (2, 2, 16, 4, 8) and list(y) == ["star", "star"]
