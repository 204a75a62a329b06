import numpy as np
import pytest

from skniso.geometry import conformal_flow, spherical_face_orientation

from ..integer_rule import bad_integers, names_the_value
from .conftest import bumpy_blob


@pytest.mark.parametrize("seed", [0, 1])
def test_flow_reaches_the_sphere_without_flipped_faces(seed):
    vertices, faces = bumpy_blob(seed=seed)
    sphere, info = conformal_flow(vertices, faces, return_info=True)
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 1.0, atol=1e-12)
    assert info["sphericity_error"] < 0.02 and info["n_steps"] < 100
    assert not info["inward"]
    assert np.all(spherical_face_orientation(sphere, faces) > 0)


def test_flow_is_roughly_conformal(blob):
    # Angles of each triangle survive the flow far better than areas do.
    vertices, faces = blob
    sphere = conformal_flow(vertices, faces)

    def angles(points):
        a, b, c = (points[faces[:, i]] for i in range(3))

        def angle(u, v):
            return np.arccos(np.clip(np.einsum("ij,ij->i", u, v) / np.linalg.norm(u, axis=1)
                                     / np.linalg.norm(v, axis=1), -1, 1))

        return np.stack([angle(b - a, c - a), angle(a - b, c - b), angle(a - c, b - c)], 1)

    def areas(points):
        a, b, c = (points[faces[:, i]] for i in range(3))
        area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
        return area / area.sum()

    angle_change = np.median(np.abs(angles(sphere) - angles(vertices)))
    area_change = np.median(np.abs(np.log(areas(sphere) / areas(vertices))))
    assert angle_change < 0.05
    assert area_change > 5 * angle_change


def test_flow_rejects_bad_parameters(blob):
    with pytest.raises(ValueError, match="step_size"):
        conformal_flow(*blob, step_size=0)


@pytest.mark.parametrize("max_steps", bad_integers(5))
def test_max_steps_follows_the_integer_rule(blob, max_steps):
    with pytest.raises(ValueError, match=names_the_value("max_steps", max_steps)):
        conformal_flow(*blob, max_steps=max_steps)
    assert conformal_flow(*blob, max_steps=np.int64(1), return_info=True)[1]["n_steps"] == 1
