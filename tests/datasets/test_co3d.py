import gzip
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skniso.datasets import load_co3d, make_pose_pairs, opencv_from_pytorch3d, pytorch3d_from_opencv
from skniso.metrics import compose_trajectory

from ..integer_rule import bad_integers, names_the_value


def project_pytorch3d(points, R, T, focal, principal, size, isotropic=False):
    """PyTorch3D's own projection, written from its conventions: row vectors,
    X_cam = X R + T; NDC x to the left, y up; NDC unit = half the image side."""
    height, width = size
    cam = points @ np.asarray(R) + np.asarray(T)
    ndc = np.asarray(focal) * cam[:, :2] / cam[:, 2:] + np.asarray(principal)
    half = np.full(2, min(size) / 2) if isotropic else np.array([width / 2, height / 2])
    return np.array([width / 2, height / 2]) - ndc * half


def project_opencv(points, camera_to_world, intrinsics):
    world_to_camera = np.linalg.inv(camera_to_world)
    cam = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    pixels = cam @ intrinsics.T
    return pixels[:, :2] / pixels[:, 2:]


def test_known_camera_hand_computed():
    # Identity PyTorch3D rotation, 5 units back: the OpenCV camera sits at
    # (0, 0, -5) with x and y flipped; f_ndc = 2 on a 60x40 image is 60 / 40 px.
    pose, intrinsics = opencv_from_pytorch3d(np.eye(3), [0, 0, 5], [2, 2], [0, 0], (40, 60))
    np.testing.assert_allclose(pose[:3, :3], np.diag([-1, -1, 1]))
    np.testing.assert_allclose(pose[:3, 3], [0, 0, -5])
    np.testing.assert_allclose(intrinsics, [[60, 0, 30], [0, 40, 20], [0, 0, 1]])
    # PyTorch3D's +X is image left: world (1, 0, 0) lands at u = 30 - 0.4 * 30 = 18.
    np.testing.assert_allclose(project_opencv(np.array([[1.0, 0, 0]]), pose, intrinsics), [[18, 20]])


@pytest.mark.parametrize("isotropic", [False, True])
def test_opencv_projection_matches_pytorch3d_projection(isotropic):
    rng = np.random.default_rng(0)
    R = Rotation.random(random_state=1).as_matrix()
    T = np.array([0.2, -0.1, 6.0])
    focal, principal, size = [1.7, 2.3], [0.1, -0.05], (48, 80)
    fmt = "ndc_isotropic" if isotropic else "ndc_norm_image_bounds"
    pose, intrinsics = opencv_from_pytorch3d(R, T, focal, principal, size, fmt)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    points = rng.normal(size=(20, 3))
    np.testing.assert_allclose(
        project_opencv(points, pose, intrinsics),
        project_pytorch3d(points, R, T, focal, principal, size, isotropic),
        atol=1e-9,
    )


def test_pytorch3d_from_opencv_round_trip():
    pose = np.eye(4)
    pose[:3, :3] = Rotation.random(random_state=2).as_matrix()
    pose[:3, 3] = [1.0, 2.0, -3.0]
    intrinsics = np.array([[50.0, 0, 33], [0, 55.0, 21], [0, 0, 1]])
    camera = pytorch3d_from_opencv(pose, intrinsics, (40, 64))
    back_pose, back_intrinsics = opencv_from_pytorch3d(
        camera["R"], camera["T"], camera["focal_length"], camera["principal_point"], (40, 64)
    )
    np.testing.assert_allclose(back_pose, pose, atol=1e-12)
    np.testing.assert_allclose(back_intrinsics, intrinsics, atol=1e-12)


def test_bad_intrinsics_format():
    with pytest.raises(ValueError, match="intrinsics_format"):
        opencv_from_pytorch3d(np.eye(3), [0, 0, 1], [1, 1], [0, 0], (8, 8), "screen")


def test_loader_reads_the_fixture(synthetic_co3d_root):
    data = load_co3d(synthetic_co3d_root, top_fraction=1.0, image_size=16)
    assert len(data.images) == 4 and data.categories == ["synthetic"] * 4
    for images, poses, intrinsics, frames in zip(data.images, data.poses, data.intrinsics, data.frame_numbers):
        assert images.shape == (8, 3, 16, 16) and images.dtype == np.float32
        assert -1.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.05
        rotations = poses[:, :3, :3]
        np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (8, 3, 3)),
                                   atol=1e-6)
        np.testing.assert_array_equal(frames, np.arange(8))
        # 32x24 frames, 55° horizontal view: f = 16 / tan(27.5°) px; the 24 px
        # centre crop starts at x = 4 and shrinks by 16 / 24.
        focal = 16 / np.tan(np.radians(27.5)) * 16 / 24
        np.testing.assert_allclose(intrinsics[0], [[focal, 0, 8], [0, focal, 8], [0, 0, 1]], atol=1e-6)


def test_loaded_orbit_cameras_look_at_the_scene_upright(synthetic_co3d_root):
    data = load_co3d(synthetic_co3d_root, top_fraction=1.0, image_size=16)
    for name, poses in zip(data.sequence_names, data.poses):
        if "orbit" not in name:
            continue
        to_target = np.array([0, 0, 0.3]) - poses[:, :3, 3]
        to_target /= np.linalg.norm(to_target, axis=1, keepdims=True)
        np.testing.assert_allclose(np.sum(poses[:, :3, 2] * to_target, axis=1), 1.0, atol=1e-6)
        # No roll: the camera's x axis is horizontal and its y axis (down) points down.
        np.testing.assert_allclose(poses[:, 2, 0], 0.0, atol=1e-6)
        assert np.all(poses[:, 2, 1] < 0)


def test_loader_keeps_the_best_sequences(synthetic_co3d_root):
    with gzip.open(synthetic_co3d_root / "synthetic" / "sequence_annotations.jgz", "rt") as handle:
        scores = {s["sequence_name"]: s["viewpoint_quality_score"] for s in json.load(handle)}
    best = sorted(scores, key=scores.get)[-2:]
    data = load_co3d(synthetic_co3d_root, top_fraction=0.5, image_size=8)
    assert sorted(data.sequence_names) == sorted(best)
    np.testing.assert_allclose(sorted(data.quality), sorted(scores[n] for n in best))


def test_loader_splits_are_disjoint_and_cover(synthetic_co3d_root):
    kwargs = dict(top_fraction=1.0, image_size=8, test_size=0.25, random_state=3, max_frames=3)
    train = load_co3d(synthetic_co3d_root, split="train", **kwargs).sequence_names
    test = load_co3d(synthetic_co3d_root, split="test", **kwargs).sequence_names
    assert len(test) == 1 and len(train) == 3
    assert sorted(train + test) == sorted(load_co3d(synthetic_co3d_root, **kwargs).sequence_names)
    assert load_co3d(synthetic_co3d_root, split="test", **kwargs).images[0].shape[0] == 3


def test_loader_split_file(synthetic_co3d_root, tmp_path):
    names = load_co3d(synthetic_co3d_root, top_fraction=1.0, image_size=8, max_frames=2).sequence_names
    split_file = tmp_path / "splits.json"
    split_file.write_text(json.dumps({"train": names[:1], "test": names[2:]}))
    test = load_co3d(synthetic_co3d_root, split="test", split_file=split_file, image_size=8, max_frames=2)
    assert test.sequence_names == names[2:]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(root="/nonexistent/co3d"), FileNotFoundError, "not a folder"),
        (dict(top_fraction=0.0), ValueError, "top_fraction"),
        (dict(split="val"), ValueError, "split"),
        (dict(categories=["apple"]), FileNotFoundError, "apple"),
        *[(dict(image_size=value), ValueError, names_the_value("image_size", value))
          for value in bad_integers(8)],
        *[(dict(max_frames=value), ValueError, names_the_value("max_frames", value))
          for value in bad_integers(3, minimum=2)],
    ],
)
def test_loader_rejects_bad_arguments(synthetic_co3d_root, kwargs, error, message):
    kwargs = {"root": synthetic_co3d_root, **kwargs}
    with pytest.raises(error, match=message):
        load_co3d(**kwargs)


def test_loader_accepts_numpy_integers_at_the_minimum(synthetic_co3d_root):
    data = load_co3d(synthetic_co3d_root, top_fraction=1.0, image_size=np.int64(1), max_frames=np.int64(2))
    assert {frames.shape for frames in data.images} == {(2, 3, 1, 1)}


def test_loader_rejects_a_folder_without_annotations(tmp_path):
    with pytest.raises(FileNotFoundError, match="frame_annotations"):
        load_co3d(tmp_path)


def test_pose_pairs_relative_poses_and_groups():
    rng = np.random.default_rng(0)
    poses = []
    for n in (6, 4):
        trajectory = np.tile(np.eye(4), (n, 1, 1))
        trajectory[:, :3, :3] = Rotation.random(n, random_state=n).as_matrix()
        trajectory[:, :3, 3] = rng.normal(size=(n, 3))
        poses.append(trajectory)
    images = [np.arange(len(p), dtype=np.float32)[:, None, None, None] * np.ones((1, 1, 2, 2)) for p in poses]
    X, y, groups = make_pose_pairs(images, poses, frame_skips=(0, 2))
    # Skip 0: 5 + 3 pairs; skip 2: 3 + 1 pairs.
    assert X.shape == (12, 2, 1, 2, 2) and np.bincount(groups).tolist() == [8, 4]
    first, second = X[:, 0, 0, 0, 0].astype(int), X[:, 1, 0, 0, 0].astype(int)
    assert set(second - first) == {1, 3}
    for pair in range(12):
        trajectory = poses[groups[pair]]
        np.testing.assert_allclose(trajectory[first[pair]] @ y[pair], trajectory[second[pair]], atol=1e-10)


def test_chained_pairs_rebuild_the_subsampled_trajectory():
    trajectory = np.tile(np.eye(4), (7, 1, 1))
    trajectory[:, :3, :3] = Rotation.random(7, random_state=0).as_matrix()
    trajectory[:, :3, 3] = np.arange(21.0).reshape(7, 3)
    images = [np.zeros((7, 1, 2, 2), dtype=np.float32)]
    _, y, _ = make_pose_pairs(images, [trajectory], frame_skips=(1,), chained=True)
    np.testing.assert_allclose(compose_trajectory(y, trajectory[0]), trajectory[::2], atol=1e-10)


def test_pose_pairs_subsample_and_errors():
    images = [np.zeros((10, 1, 2, 2), dtype=np.float32)]
    poses = [np.tile(np.eye(4), (10, 1, 1))]
    X, _, _ = make_pose_pairs(images, poses, frame_skips=(0,), max_pairs_per_sequence=4, random_state=0)
    assert len(X) == 4
    with pytest.raises(ValueError, match="no pairs"):
        make_pose_pairs(images, poses, frame_skips=(12,))
    with pytest.raises(ValueError, match="one \\(4, 4\\) pose per frame"):
        make_pose_pairs(images, [poses[0][:5]])


@pytest.mark.parametrize("frame_skips", [(True,), (1.0,), (0, -1), ("1",), (), 1])
def test_pose_pairs_frame_skips_follow_the_integer_rule(frame_skips):
    images, poses = [np.zeros((4, 1, 2, 2), dtype=np.float32)], [np.tile(np.eye(4), (4, 1, 1))]
    with pytest.raises(ValueError, match=names_the_value("frame_skips", frame_skips)):
        make_pose_pairs(images, poses, frame_skips=frame_skips)
    # The minimum, 0, as a numpy integer: the 3 neighbouring pairs.
    assert len(make_pose_pairs(images, poses, frame_skips=np.array([0]))[0]) == 3


@pytest.mark.parametrize("value", [*bad_integers(4), -2, "4"])
def test_pose_pairs_max_pairs_per_sequence_follows_the_integer_rule(value):
    # 9 neighbouring pairs, more than any of these values asks for, so without the
    # check each would reach the subsampling (and pass silently or fail in numpy).
    images, poses = [np.zeros((10, 1, 2, 2), dtype=np.float32)], [np.tile(np.eye(4), (10, 1, 1))]
    with pytest.raises(ValueError, match=names_the_value("max_pairs_per_sequence", value)):
        make_pose_pairs(images, poses, max_pairs_per_sequence=value, random_state=0)


def test_pose_pairs_max_pairs_per_sequence_accepts_numpy_integers():
    images, poses = [np.zeros((10, 1, 2, 2), dtype=np.float32)], [np.tile(np.eye(4), (10, 1, 1))]
    # The minimum, 1, and a value of numpy's own type.
    for value in (np.int64(1), np.int64(4)):
        X, y, groups = make_pose_pairs(images, poses, max_pairs_per_sequence=value, random_state=0)
        assert len(X) == len(y) == len(groups) == int(value)
