import numpy as np
import pytest

from skniso.datasets import SHREC11_SKIPPED_CLASSES, _shrec11, load_shrec11_conformal
from skniso.geometry import apply_mobius, conformal_flow, icosphere, random_mobius

from ..integer_rule import bad_integers, names_the_value

trimesh = pytest.importorskip("trimesh")


def _write(path, vertices, faces):
    path.parent.mkdir(parents=True, exist_ok=True)
    trimesh.Trimesh(vertices=vertices, faces=faces, process=False).export(path)


@pytest.fixture(scope="module")
def shrec_root(tmp_path_factory):
    """A tiny SHREC_11_CONF tree: 3 classes (one the reference skips), 4 meshes each."""
    root = tmp_path_factory.mktemp("SHREC_11_CONF")
    rng = np.random.default_rng(0)
    sphere_points, faces = icosphere(2)
    for class_index, name in enumerate(["alien", "ant", SHREC11_SKIPPED_CLASSES[1]]):
        for mesh_index in range(4):
            stretch = np.array([1.0 + class_index, 1.0, 1.0]) * rng.uniform(0.9, 1.1, 3)
            vertices = sphere_points * stretch
            mesh_id = f"T{10 * class_index + mesh_index}"
            _write(root / "base" / name / f"{mesh_id}.ply", vertices, faces)
            sphere = conformal_flow(vertices, faces)
            _write(root / "base_sphere" / name / f"{mesh_id}.ply", sphere, faces)
            for l in range(3):
                moved = apply_mobius(random_mobius(rng, max_dilation=0.5), sphere)
                _write(root / "mobius_sphere" / name / mesh_id / f"{l}.ply", moved, faces)
    return root


def test_loader_reads_the_published_layout(shrec_root, tmp_path):
    data = load_shrec11_conformal(
        shrec_root, grid_shape=(8, 16), n_eigenpairs=12, n_train=3, n_test=1, random_state=0,
        cache_dir=tmp_path,
    )
    # The skipped class is gone; 2 classes × (3 train, 1 test) meshes × (1 + 3) maps.
    np.testing.assert_array_equal(data.classes, ["alien", "ant"])
    assert data.maps_train.shape == (6, 4, 16, 8, 16)
    assert data.maps_test.shape == (2, 4, 16, 8, 16)
    assert data.X_train.shape == (24, 16, 8, 16) and data.y_train.shape == (24,)
    assert data.X_test.shape == (8, 16, 8, 16)
    assert data.X_pairs.shape == (24, 2, 16, 8, 16)
    assert set(data.y_pairs) == {"alien", "ant"}
    assert data.X_train.min() >= -1 and data.X_train.max() <= 1
    # Train and test meshes are disjoint; the split is seeded.
    assert not set(data.meshes_train) & set(data.meshes_test)
    again = load_shrec11_conformal(shrec_root, grid_shape=(8, 16), n_eigenpairs=12, n_train=3,
                                   n_test=1, random_state=0, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.meshes_test, data.meshes_test)
    np.testing.assert_array_equal(again.X_pairs, data.X_pairs)
    # Every pair holds two maps of one training mesh.
    for pair, label in zip(data.X_pairs[:6], data.y_pairs[:6]):
        rows = [np.flatnonzero((data.X_train == view).all(axis=(1, 2, 3))) for view in pair]
        assert rows[0].size and rows[1].size
        assert rows[0][0] // 4 == rows[1][0] // 4
        assert data.y_train[rows[0][0]] == label


def test_loader_maps_differ_by_the_mobius_embeddings(shrec_root):
    data = load_shrec11_conformal(shrec_root, grid_shape=(8, 16), n_eigenpairs=12, n_train=3,
                                  n_test=1, max_mobius=2)
    assert data.maps_train.shape[1] == 3
    assert not np.allclose(data.maps_train[0, 0], data.maps_train[0, 1])


def test_loader_explains_a_wrong_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="base_sphere"):
        load_shrec11_conformal(tmp_path)


def test_loader_needs_enough_meshes(shrec_root):
    with pytest.raises(ValueError, match=r"class 'alien' has 4 meshes, fewer than n_train \+ n_test = 10 \+ 4 = 14"):
        load_shrec11_conformal(shrec_root, grid_shape=(8, 16), n_eigenpairs=12, n_train=10, n_test=4)


@pytest.fixture
def no_mesh_reading(monkeypatch):
    """Make reading any mesh fail the test: the checks must come first."""
    def read_mesh(path):
        raise AssertionError(f"read {path} before the arguments were checked")

    monkeypatch.setattr(_shrec11, "_read_mesh", read_mesh)


def test_loader_counts_every_class_before_reading_a_mesh(tmp_path, no_mesh_reading):
    # The first class has enough meshes, the second too few: the error names the
    # second class and the counts before any mesh of the first one is read.
    for name, n_meshes in (("alien", 4), ("ant", 2)):
        for folder in ("base", "base_sphere", "mobius_sphere"):
            (tmp_path / folder / name).mkdir(parents=True)
        for index in range(n_meshes):
            (tmp_path / "base" / name / f"T{index}.ply").touch()
    with pytest.raises(ValueError, match=r"class 'ant' has 2 meshes, fewer than n_train \+ n_test = 2 \+ 1 = 3"):
        load_shrec11_conformal(tmp_path, n_train=2, n_test=1)


@pytest.mark.parametrize("name, value", [
    *[("n_train", value) for value in [*bad_integers(3), -1, "3"]],
    *[("n_test", value) for value in [*bad_integers(1), -1, "1"]],
    *[("max_mobius", value) for value in [*bad_integers(2), -1, "2"]],
    *[("n_pairs_per_shape", value) for value in [*bad_integers(2), -1, "2"]],
])
def test_integer_parameters_follow_the_rule(shrec_root, no_mesh_reading, name, value):
    # A valid root and otherwise valid arguments: only the checks, made before any
    # mesh is read, can raise this error.
    kwargs = {"grid_shape": (8, 16), "n_eigenpairs": 12, "n_train": 3, "n_test": 1, name: value}
    with pytest.raises(ValueError, match=names_the_value(name, value)):
        load_shrec11_conformal(shrec_root, **kwargs)


@pytest.mark.parametrize("name, value, message", [
    *[("n_eigenpairs", value, names_the_value("n_eigenpairs", value)) for value in [*bad_integers(12), "12"]],
    ("grid_shape", (8,), r"grid_shape must be a tuple of 2 integers >= 2, got \(8,\)"),
    ("grid_shape", (1, 16), r"grid_shape must be"),
    ("grid_shape", (8.0, 16), r"grid_shape must be"),
    ("times", [0.1, np.nan], r"times must be a non-empty array of finite non-negative values"),
    ("times", [], r"times must be a non-empty array"),
])
def test_preprocessing_parameters_are_checked_before_a_mesh_is_read(shrec_root, no_mesh_reading, name, value, message):
    kwargs = {"grid_shape": (8, 16), "n_eigenpairs": 12, "n_train": 3, "n_test": 1, name: value}
    with pytest.raises(ValueError, match=message):
        load_shrec11_conformal(shrec_root, **kwargs)


def test_numpy_integers_at_the_minimum_are_accepted(shrec_root):
    data = load_shrec11_conformal(
        shrec_root, grid_shape=(8, 16), n_eigenpairs=12, n_train=np.int64(1), n_test=np.int64(1),
        max_mobius=np.int64(1), n_pairs_per_shape=np.int64(1),
    )
    # 2 classes × 1 training mesh × (1 + 1) maps, one pair per training mesh.
    assert data.maps_train.shape == (2, 2, 16, 8, 16) and data.maps_test.shape == (2, 2, 16, 8, 16)
    assert data.X_pairs.shape == (2, 2, 16, 8, 16)
