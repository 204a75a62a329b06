import math

import numpy as np
import pytest
import torch

from skniso.datasets._render import Box, GroundPlane, Scene, Sphere, look_at, render

WHITE = torch.ones(3, 4, 4)


def test_sphere_and_box_distances():
    origins = torch.zeros(2, 3)
    directions = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    sphere = Sphere((5.0, 0, 0), 1.0, WHITE)
    np.testing.assert_allclose(sphere.intersect(origins, directions)[0].item(), 4.0, atol=1e-6)
    assert sphere.intersect(origins, directions)[1] > 1e8  # missed
    box = Box((0, 3.0, 0), (0.5, 0.5, 0.5), math.pi / 4, WHITE)
    # Rotated 45° about z: the near corner is sqrt(2)/2 from the centre.
    np.testing.assert_allclose(box.intersect(origins, directions)[1].item(), 3 - math.sqrt(0.5), atol=1e-6)
    plane = GroundPlane(-2.0, 1.0, WHITE)
    down = torch.tensor([[0, 0, -1.0]])
    np.testing.assert_allclose(plane.intersect(torch.zeros(1, 3), down).item(), 2.0)


def test_look_at_axes():
    pose = look_at((3.0, 0, 0), (0, 0, 0)).numpy()
    np.testing.assert_allclose(pose[:3, 2], [-1, 0, 0], atol=1e-12)  # forward
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)  # image down is world down
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)


def test_a_small_sphere_appears_where_the_camera_projects_it():
    target = np.array([0.4, -0.3, 0.2])
    red = torch.zeros(3, 4, 4)
    red[0] = 1.0
    scene = Scene([Sphere(tuple(target), 0.08, red)], sky=(0.0, 0.0, 1.0), ambient=1.0)
    pose = look_at((3.0, 1.0, 1.0), (0.0, 0.0, 0.0), roll=0.3).numpy()
    focal, centre, size = (40.0, 40.0), (20.0, 15.0), (30, 40)
    image = render(scene, torch.from_numpy(pose), focal, centre, size).numpy()
    red_pixels = np.argwhere(image[0] > 0.5)
    assert len(red_pixels) > 2
    camera = np.linalg.inv(pose)
    point = camera[:3, :3] @ target + camera[:3, 3]
    expected = (np.array(focal) * point[:2] / point[2] + np.array(centre))[::-1]  # (row, col)
    np.testing.assert_allclose(red_pixels.mean(axis=0) + 0.5, expected, atol=0.6)


def test_shadow_darkens_the_ground_beside_a_box():
    scene = Scene(
        [GroundPlane(0.0, 1.0, WHITE), Box((0, 0, 1.0), (0.5, 0.5, 0.5), 0.0, WHITE)],
        sun=(1.0, 0.0, 1.0),
        ambient=0.2,
    )
    # Looking straight down from z = 10 with image columns along +x: 3.2 px per unit.
    # The sun (45° from +x) casts the box's shadow on the ground at x in [-2, -0.5].
    pose = look_at((0.0, 0.0, 10.0), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    image = render(scene, pose, (32.0, 32.0), (16.0, 16.0), (32, 32))
    lit = 0.2 + 0.8 * math.cos(math.pi / 4)
    assert image[:, 16, 16 + 5].mean() == pytest.approx(lit, abs=1e-4)  # ground at x ≈ 1.6
    assert image[:, 16, 16 - 5].mean() == pytest.approx(0.2, abs=1e-4)  # ground at x ≈ -1.4, shaded
