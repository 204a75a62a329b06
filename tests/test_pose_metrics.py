import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from skniso.metrics import (
    absolute_trajectory_error,
    compose_trajectory,
    rotation_error,
    translation_error,
)


def pose(rotation=np.eye(3), translation=(0, 0, 0)):
    g = np.eye(4)
    g[:3, :3] = rotation
    g[:3, 3] = translation
    return g


def rot_z(degrees):
    return Rotation.from_euler("z", degrees, degrees=True).as_matrix()


def test_compose_trajectory_hand_computed():
    # Step 1 m forward along the camera's x, then turn left by 90°, repeat.
    step = pose(rot_z(90), (1, 0, 0))
    poses = compose_trajectory(np.stack([step] * 4))
    centres = poses[:, :3, 3]
    np.testing.assert_allclose(centres, [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(poses[4, :3, :3], np.eye(3), atol=1e-12)


def test_compose_trajectory_inverts_relative_poses():
    rng = np.random.default_rng(0)
    truth = np.stack([pose(Rotation.random(random_state=i).as_matrix(), rng.normal(size=3)) for i in range(6)])
    relative = np.linalg.inv(truth[:-1]) @ truth[1:]
    np.testing.assert_allclose(compose_trajectory(relative, truth[0]), truth, atol=1e-10)


SQUARE = np.array([[1, 1, 0], [1, -1, 0], [-1, 1, 0], [-1, -1, 0]], dtype=float)
SEGMENT = np.array([[1, 0, 0], [1, 0, 0], [-1, 0, 0], [-1, 0, 0]], dtype=float)


def test_ate_hand_computed_procrustes():
    # Unit-normalised: x matches after scale 1/sqrt(2); the y entries ±1/sqrt(8)
    # remain, 4 * 1/8 over 12 coordinates.
    assert absolute_trajectory_error(SQUARE, SEGMENT) == pytest.approx(np.sqrt(1 / 24))


def test_ate_hand_computed_umeyama():
    # Sim(3) keeps x (scale 1); every camera stays 1 away in y.
    assert absolute_trajectory_error(SQUARE, SEGMENT, alignment="umeyama") == pytest.approx(1.0)


def test_ate_procrustes_matches_scipy():
    rng = np.random.default_rng(1)
    true, pred = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    _, _, disparity = scipy_procrustes(true, pred)
    assert absolute_trajectory_error(true, pred) == pytest.approx(np.sqrt(disparity / 30))


@pytest.mark.parametrize("alignment", ["procrustes", "umeyama"])
def test_ate_is_invariant_to_a_similarity_of_the_estimate(alignment):
    rng = np.random.default_rng(2)
    true = rng.normal(size=(12, 3))
    pred = true + 0.3 * rng.normal(size=true.shape)
    moved = 3.7 * pred @ Rotation.random(random_state=3).as_matrix().T + np.array([5.0, -2.0, 1.0])
    base = absolute_trajectory_error(true, pred, alignment=alignment)
    assert base > 0.01
    assert absolute_trajectory_error(true, moved, alignment=alignment) == pytest.approx(base, rel=1e-9)
    # An exact similarity of the truth has zero error.
    exact = 0.2 * true @ Rotation.random(random_state=4).as_matrix().T + 1.0
    assert absolute_trajectory_error(true, exact, alignment=alignment) == pytest.approx(0.0, abs=1e-7)


def test_ate_reflections_only_forgiven_by_procrustes():
    rng = np.random.default_rng(5)
    true = rng.normal(size=(8, 3))
    mirrored = true * np.array([1, 1, -1])
    assert absolute_trajectory_error(true, mirrored) == pytest.approx(0.0, abs=1e-7)
    assert absolute_trajectory_error(true, mirrored, alignment="umeyama") > 0.1


def test_ate_umeyama_is_in_ground_truth_units_and_procrustes_is_not():
    rng = np.random.default_rng(6)
    true, pred = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    for alignment, factor in (("umeyama", 10.0), ("procrustes", 1.0)):
        assert absolute_trajectory_error(10 * true, pred, alignment=alignment) == pytest.approx(
            factor * absolute_trajectory_error(true, pred, alignment=alignment)
        )


def test_ate_over_sequences_is_root_mean_of_per_sequence_errors():
    rng = np.random.default_rng(7)
    trues = [rng.normal(size=(n, 3)) for n in (5, 8)]
    preds = [rng.normal(size=(n, 3)) for n in (5, 8)]
    per_sequence = [absolute_trajectory_error(t, p) ** 2 for t, p in zip(trues, preds)]
    assert absolute_trajectory_error(trues, preds) == pytest.approx(np.sqrt(np.mean(per_sequence)))
    # Poses and camera centres give the same answer.
    poses = [np.stack([pose(translation=c) for c in t]) for t in trues]
    assert absolute_trajectory_error(poses, preds) == pytest.approx(absolute_trajectory_error(trues, preds))


def test_ate_of_a_motionless_estimate_is_finite():
    true = SQUARE
    assert np.isfinite(absolute_trajectory_error(true, np.zeros_like(true)))
    assert np.isfinite(absolute_trajectory_error(true, np.zeros_like(true), alignment="umeyama"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(true_trajectories=SQUARE, pred_trajectories=SQUARE[:3]), "same number"),
        (dict(true_trajectories=SQUARE, pred_trajectories=SQUARE, alignment="kabsch"), "alignment"),
        (dict(true_trajectories=SQUARE[:, :2], pred_trajectories=SQUARE[:, :2]), r"\(n, 3\)"),
        (dict(true_trajectories=[SQUARE], pred_trajectories=SQUARE), "lists"),
    ],
)
def test_ate_rejects_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        absolute_trajectory_error(**kwargs)


def test_rotation_and_translation_errors_hand_computed():
    true = np.stack([pose(), pose(rot_z(10), (1, 0, 0))])
    pred = np.stack([pose(rot_z(30), (0, 2, 0)), pose(rot_z(10), (3, 0, 0))])
    np.testing.assert_allclose(rotation_error(true, pred), [30.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(translation_error(true[1:], pred[1:]), [0.0], atol=1e-6)
    np.testing.assert_allclose(translation_error([[1, 0, 0]], [[0, 2, 0]]), [90.0])
    np.testing.assert_allclose(rotation_error(true, pred, degrees=False), np.radians([30.0, 0.0]), atol=1e-8)
