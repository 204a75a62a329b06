import numpy as np
import pytest

from skniso.datasets import SHREC11_SKIPPED_CLASSES, load_shrec11_conformal
from skniso.geometry import apply_mobius, conformal_flow, icosphere, random_mobius

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
    with pytest.raises(ValueError, match="fewer than n_train"):
        load_shrec11_conformal(shrec_root, grid_shape=(8, 16), n_eigenpairs=12, n_train=10, n_test=4)
