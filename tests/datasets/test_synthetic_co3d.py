import gzip
import json

import numpy as np
import pytest

from skniso.datasets import load_co3d, make_synthetic_co3d

from ..integer_rule import bad_integers, names_the_value


def read(path):
    with gzip.open(path, "rt") as handle:
        return json.load(handle)


def test_writes_the_co3d_layout(synthetic_co3d_root):
    category = synthetic_co3d_root / "synthetic"
    frames = read(category / "frame_annotations.jgz")
    sequences = read(category / "sequence_annotations.jgz")
    assert len(sequences) == 4 and len(frames) == 32
    frame = frames[0]
    assert set(frame) >= {"sequence_name", "frame_number", "frame_timestamp", "image", "viewpoint"}
    assert frame["image"]["size"] == [24, 32]
    assert frame["image"]["path"].endswith("images/frame000001.jpg")
    assert (synthetic_co3d_root / frame["image"]["path"]).is_file()
    assert set(frame["viewpoint"]) == {"R", "T", "focal_length", "principal_point", "intrinsics_format"}
    assert all(0 <= s["viewpoint_quality_score"] <= 1 for s in sequences)
    assert {s["sequence_name"].split("_")[-1] for s in sequences} == {"orbit", "handheld"}


def test_orbits_keep_radius_and_handheld_paths_wobble(synthetic_co3d_root):
    data = load_co3d(synthetic_co3d_root, top_fraction=1.0, image_size=8)
    for name, poses in zip(data.sequence_names, data.poses):
        radius = np.linalg.norm(poses[:, :2, 3], axis=1)
        if "orbit" in name:
            assert np.ptp(radius) < 1e-5 and 2.5 <= radius[0] <= 3.5
        else:
            assert np.ptp(radius) > 1e-3 and np.abs(poses[:, 2, 0]).max() > 1e-3  # roll


def test_frames_differ_and_seed_reproduces(tmp_path):
    kwargs = dict(n_sequences=1, n_frames=3, image_size=(12, 12), trajectory="orbit")
    first = make_synthetic_co3d(tmp_path / "a", random_state=5, **kwargs)
    second = make_synthetic_co3d(tmp_path / "b", random_state=5, **kwargs)
    a = load_co3d(first, image_size=12, top_fraction=1.0)
    b = load_co3d(second, image_size=12, top_fraction=1.0)
    np.testing.assert_array_equal(a.images[0], b.images[0])
    np.testing.assert_array_equal(a.poses[0], b.poses[0])
    assert np.abs(a.images[0][0] - a.images[0][2]).mean() > 0.01


@pytest.mark.parametrize(
    "kwargs, message",
    [
        *[(dict(n_sequences=value), names_the_value("n_sequences", value))
          for value in bad_integers(2)],
        *[(dict(n_frames=value), names_the_value("n_frames", value))
          for value in bad_integers(3, minimum=2)],
        (dict(trajectory="spiral"), "trajectory"),
        *[(dict(image_size=value), names_the_value("image_size", value))
          for value in ((0, 4), (True, 4), (4.0, 4), (4, 4, 4), 4)],
        (dict(field_of_view=200), "field_of_view"),
        (dict(degrees_per_frame=(5, 1)), "degrees_per_frame"),
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_co3d(tmp_path, **kwargs)


def test_numpy_integers_at_the_minimum_are_accepted(tmp_path):
    root = make_synthetic_co3d(tmp_path, n_sequences=np.int64(1), n_frames=np.int64(2),
                               image_size=(np.int64(1), np.int64(1)), random_state=0)
    assert [frames.shape for frames in load_co3d(root, image_size=1, top_fraction=1.0).images] == [(2, 3, 1, 1)]


def test_orbit_speed_follows_degrees_per_frame(tmp_path):
    root = make_synthetic_co3d(tmp_path, n_sequences=1, n_frames=5, image_size=(8, 8), trajectory="orbit",
                               degrees_per_frame=(10.0, 10.0), random_state=0)
    poses = load_co3d(root, image_size=8, top_fraction=1.0).poses[0]
    azimuth = np.degrees(np.unwrap(np.arctan2(poses[:, 1, 3], poses[:, 0, 3])))
    steps = np.abs(np.diff(azimuth))
    assert np.all((steps >= 9.5 - 1e-6) & (steps <= 10.5 + 1e-6))
