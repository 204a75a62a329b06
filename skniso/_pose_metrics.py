"""Camera-trajectory metrics (numpy in, numpy out), re-exported by :mod:`skniso.metrics`.

Poses are camera-to-world rigid transforms g = [[R, t], [0, 1]] (OpenCV
convention), as :func:`skniso.datasets.load_co3d` returns them.  A pose
regressor predicts relative poses g_rel[l] = g[l]⁻¹ g[l+1];
:func:`compose_trajectory` chains them back into a trajectory and
:func:`absolute_trajectory_error` compares camera centres after a similarity
alignment, since the scale of a trajectory estimated from images is unknown.
"""

import numpy as np

__all__ = [
    "absolute_trajectory_error",
    "compose_trajectory",
    "rotation_error",
    "translation_error",
]

_TINY = 1e-12


def _as_poses(poses, name, allow_single=False):
    try:
        poses = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array of 4x4 poses, got {type(poses).__name__}") from exc
    if allow_single and poses.shape == (4, 4):
        poses = poses[None]
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise ValueError(f"{name} must have shape (n, 4, 4), got {poses.shape}")
    if not np.all(np.isfinite(poses)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return poses


def compose_trajectory(relative_poses, initial_pose=None):
    """Chain relative poses into absolute poses: g[l] = g[l-1] · g_rel[l-1].

    Parameters
    ----------
    relative_poses : array-like of shape (n, 4, 4)
        g_rel[l] = g[l]⁻¹ g[l+1], camera-to-world.
    initial_pose : array-like of shape (4, 4) or None, default=None
        g[0]; None is the identity.

    Returns
    -------
    ndarray of shape (n + 1, 4, 4)
    """
    relative = _as_poses(relative_poses, "relative_poses")
    start = np.eye(4) if initial_pose is None else _as_poses(initial_pose, "initial_pose", True)[0]
    poses = np.empty((relative.shape[0] + 1, 4, 4))
    poses[0] = start
    for index, step in enumerate(relative):
        poses[index + 1] = poses[index] @ step
    return poses


def _centres(trajectory, name):
    array = np.asarray(trajectory, dtype=np.float64)
    if array.ndim == 3 and array.shape[1:] == (4, 4):
        array = array[:, :3, 3]
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must be poses (n, 4, 4) or camera centres (n, 3), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _procrustes_residual(true, pred):
    """scipy.spatial.procrustes's fit (unit-Frobenius, reflections allowed);
    also defined when the prediction has no spread (then it aligns to zeros)."""
    true = true - true.mean(axis=0)
    pred = pred - pred.mean(axis=0)
    true = true / max(np.linalg.norm(true), _TINY)
    pred = pred / max(np.linalg.norm(pred), _TINY)
    u, s, vt = np.linalg.svd(pred.T @ true)
    aligned = pred @ (u @ vt) * s.sum()
    return np.mean((true - aligned) ** 2)


def _umeyama_residual(true, pred):
    """Mean squared distance after the Sim(3) fit of Umeyama (1991), det = +1."""
    mean_true, mean_pred = true.mean(axis=0), pred.mean(axis=0)
    true_c, pred_c = true - mean_true, pred - mean_pred
    u, s, vt = np.linalg.svd(true_c.T @ pred_c / len(true))
    sign = np.ones(3)
    sign[2] = np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0
    rotation = (u * sign) @ vt
    variance = np.mean(np.sum(pred_c**2, axis=1))
    scale = (s * sign).sum() / variance if variance > _TINY else 0.0
    aligned = scale * pred_c @ rotation.T + mean_true
    return np.mean(np.sum((true - aligned) ** 2, axis=1))


def absolute_trajectory_error(true_trajectories, pred_trajectories, alignment="procrustes"):
    """Absolute trajectory error after a similarity alignment of camera centres.

    Parameters
    ----------
    true_trajectories, pred_trajectories : array-like or list of array-like
        One trajectory, as poses (n, 4, 4) or camera centres (n, 3), or a list
        of them (one per sequence, lengths may differ; n ≥ 2 each).
    alignment : {"procrustes", "umeyama"}, default="procrustes"
        ``"procrustes"``: the NIso reference metric.  Both centre sets are
        centred and scaled to unit Frobenius norm and the prediction is fitted
        by an orthogonal map (reflections allowed) and a scale, as
        :func:`scipy.spatial.procrustes`; the per-sequence error is the mean of
        the squared coordinate differences.  Dimensionless.
        ``"umeyama"``: a Sim(3) fit with a proper rotation (Umeyama 1991, as the
        ``evo`` package); the per-sequence error is the mean squared distance in
        the ground truth's units.

    Returns
    -------
    float
        sqrt of the mean over sequences of the per-sequence errors; 0 when each
        prediction is a similarity transform of its ground truth (for
        ``"procrustes"`` also a reflected one).
    """
    if alignment not in ("procrustes", "umeyama"):
        raise ValueError(f"alignment must be 'procrustes' or 'umeyama', got {alignment!r}")
    several = isinstance(true_trajectories, (list, tuple))
    if several != isinstance(pred_trajectories, (list, tuple)):
        raise TypeError("give both trajectories as arrays, or both as lists of arrays (one per sequence)")
    trues = list(true_trajectories) if several else [true_trajectories]
    preds = list(pred_trajectories) if several else [pred_trajectories]
    if len(trues) != len(preds) or not trues:
        raise ValueError(f"got {len(trues)} true and {len(preds)} predicted trajectories; need equal, non-zero counts")
    residual = _procrustes_residual if alignment == "procrustes" else _umeyama_residual
    errors = []
    for index, (true, pred) in enumerate(zip(trues, preds)):
        true = _centres(true, f"true trajectory {index}")
        pred = _centres(pred, f"predicted trajectory {index}")
        if true.shape != pred.shape or len(true) < 2:
            raise ValueError(
                f"trajectory {index}: true {true.shape} and predicted {pred.shape} must have "
                "the same number (≥ 2) of cameras"
            )
        errors.append(residual(true, pred))
    return float(np.sqrt(np.mean(errors)))


def _rotations(poses, name):
    array = np.asarray(poses, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] not in ((3, 3), (4, 4)):
        raise ValueError(f"{name} must be poses (n, 4, 4) or rotations (n, 3, 3), got {array.shape}")
    return array[:, :3, :3]


def rotation_error(true_poses, pred_poses, degrees=True):
    """Geodesic angle between true and predicted rotations, per pose.

    Parameters
    ----------
    true_poses, pred_poses : array-like of shape (n, 4, 4) or (n, 3, 3)
    degrees : bool, default=True

    Returns
    -------
    ndarray of shape (n,)
        arccos((tr(R_trueᵀ R_pred) − 1) / 2), in [0, 180] degrees.
    """
    true = _rotations(true_poses, "true_poses")
    pred = _rotations(pred_poses, "pred_poses")
    if true.shape != pred.shape:
        raise ValueError(f"true_poses {true.shape} and pred_poses {pred.shape} differ in shape")
    cosine = (np.einsum("nij,nij->n", true, pred) - 1.0) / 2.0
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    return np.degrees(angle) if degrees else angle


def translation_error(true_poses, pred_poses, degrees=True):
    """Angle between true and predicted translation directions, per pose.

    Relative translations estimated from two images are only known up to
    scale, so their direction is what can be compared.

    Parameters
    ----------
    true_poses, pred_poses : array-like of shape (n, 4, 4) or (n, 3)
    degrees : bool, default=True

    Returns
    -------
    ndarray of shape (n,)
        In [0, 180] degrees; 90 where either translation is zero.
    """
    true = np.asarray(true_poses, dtype=np.float64)
    pred = np.asarray(pred_poses, dtype=np.float64)
    true = true[:, :3, 3] if true.ndim == 3 else true
    pred = pred[:, :3, 3] if pred.ndim == 3 else pred
    if true.ndim != 2 or true.shape[1] != 3 or true.shape != pred.shape:
        raise ValueError(
            f"true_poses and pred_poses must both be (n, 4, 4) or (n, 3), got {np.shape(true_poses)} "
            f"and {np.shape(pred_poses)}"
        )
    norms = np.linalg.norm(true, axis=1) * np.linalg.norm(pred, axis=1)
    cosine = np.where(norms > _TINY, np.sum(true * pred, axis=1) / np.maximum(norms, _TINY), 0.0)
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    return np.degrees(angle) if degrees else angle
