"""A small pure-torch ray caster for textured scenes (spheres, boxes, a ground plane).

It renders the synthetic CO3D-style sequences of
:func:`skniso.datasets.make_synthetic_co3d`: every pixel's ray is intersected
analytically with each primitive, the nearest hit is textured by bilinear
lookup (``grid_sample``) and shaded with a Lambertian sun, an ambient term and
hard shadows.  Cameras follow the OpenCV convention (x right, y down, z
forward; ``camera_to_world`` maps camera coordinates to the world).
"""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

__all__ = ["Box", "GroundPlane", "Scene", "Sphere", "look_at", "render"]

_FAR = 1e9


@dataclass
class Sphere:
    """A textured sphere; the texture wraps in longitude and latitude."""

    centre: tuple
    radius: float
    texture: torch.Tensor  # (3, H, W) in [0, 1]

    def intersect(self, origins, directions):
        offset = origins - torch.as_tensor(self.centre, dtype=origins.dtype)
        b = (offset * directions).sum(-1)
        c = (offset * offset).sum(-1) - self.radius**2
        disc = b * b - c
        root = torch.sqrt(disc.clamp_min(0.0))
        near, far = -b - root, -b + root
        t = torch.where(near > 1e-4, near, far)
        return torch.where((disc >= 0) & (t > 1e-4), t, torch.full_like(t, _FAR))

    def surface(self, points):
        normal = (points - torch.as_tensor(self.centre, dtype=points.dtype)) / self.radius
        u = torch.atan2(normal[..., 1], normal[..., 0]) / (2 * math.pi) + 0.5
        v = torch.acos(normal[..., 2].clamp(-1.0, 1.0)) / math.pi
        return normal, torch.stack([u, v], -1)


@dataclass
class Box:
    """A textured box, rotated by ``yaw`` radians about the vertical (z) axis."""

    centre: tuple
    half_size: tuple
    yaw: float
    texture: torch.Tensor

    def _frame(self, dtype):
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        rotation = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)
        return rotation, torch.as_tensor(self.centre, dtype=dtype), torch.as_tensor(self.half_size, dtype=dtype)

    def intersect(self, origins, directions):
        rotation, centre, half = self._frame(origins.dtype)
        local_origin = (origins - centre) @ rotation
        local_dir = directions @ rotation
        safe = torch.where(local_dir.abs() < 1e-9, torch.full_like(local_dir, 1e-9), local_dir)
        t0, t1 = (-half - local_origin) / safe, (half - local_origin) / safe
        t_near = torch.minimum(t0, t1).amax(-1)
        t_far = torch.maximum(t0, t1).amin(-1)
        t = torch.where(t_near > 1e-4, t_near, t_far)
        return torch.where((t_near <= t_far) & (t > 1e-4), t, torch.full_like(t, _FAR))

    def surface(self, points):
        rotation, centre, half = self._frame(points.dtype)
        local = ((points - centre) @ rotation) / half
        axis = local.abs().argmax(-1, keepdim=True)
        normal_local = torch.zeros_like(local).scatter(-1, axis, torch.gather(local, -1, axis).sign())
        # Texture coordinates: the two coordinates across the hit face.
        others = torch.tensor([[1, 2], [0, 2], [0, 1]], device=points.device)[axis.squeeze(-1)]
        uv = (torch.gather(local, -1, others) + 1.0) / 2.0
        return normal_local @ rotation.T, uv


@dataclass
class GroundPlane:
    """The plane z = ``height``, its texture tiled every ``tile`` world units."""

    height: float
    tile: float
    texture: torch.Tensor

    def intersect(self, origins, directions):
        dz = directions[..., 2]
        safe = torch.where(dz.abs() < 1e-9, torch.full_like(dz, -1e-9), dz)
        t = (self.height - origins[..., 2]) / safe
        return torch.where(t > 1e-4, t, torch.full_like(t, _FAR))

    def surface(self, points):
        normal = torch.zeros_like(points)
        normal[..., 2] = 1.0
        return normal, torch.remainder(points[..., :2] / self.tile, 1.0)


@dataclass
class Scene:
    """Primitives, a sun direction (towards the light) and a sky colour."""

    primitives: list
    sun: tuple = (0.4, -0.3, 0.85)
    sky: tuple = (0.62, 0.72, 0.85)
    ambient: float = 0.35
    extra: dict = field(default_factory=dict)


def _sample(texture, uv):
    """Bilinear lookup of ``texture`` (3, H, W) at ``uv`` (n, 2) in [0, 1]."""
    grid = (uv * 2.0 - 1.0).to(texture.dtype).view(1, 1, -1, 2)
    colour = F.grid_sample(texture[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return colour[0, :, 0].T


def _nearest_hits(primitives, origins, directions):
    distances = torch.stack([p.intersect(origins, directions) for p in primitives])
    return distances.min(0)


def look_at(eye, target, up=(0.0, 0.0, 1.0), roll=0.0):
    """Camera-to-world 4×4 (OpenCV axes) of a camera at ``eye`` looking at ``target``.

    ``roll`` (radians) turns the camera about its viewing axis.
    """
    eye = torch.as_tensor(eye, dtype=torch.float64)
    forward = torch.as_tensor(target, dtype=torch.float64) - eye
    forward = forward / forward.norm()
    right = torch.linalg.cross(forward, torch.as_tensor(up, dtype=torch.float64))
    right = right / right.norm()
    down = torch.linalg.cross(forward, right)
    c, s = math.cos(roll), math.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    pose = torch.eye(4, dtype=torch.float64)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


def render(scene, camera_to_world, focal, principal_point, size):
    """Render ``scene`` from one camera.

    Parameters
    ----------
    scene : Scene
    camera_to_world : tensor of shape (4, 4)
        OpenCV axes.
    focal, principal_point : pairs of float
        In pixels, with the pixel-corner convention (pixel (i, j) covers
        [j, j+1] × [i, i+1]).
    size : (height, width)

    Returns
    -------
    tensor of shape (3, height, width) in [0, 1]
    """
    height, width = size
    pose = torch.as_tensor(camera_to_world, dtype=torch.float32)
    rows, cols = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    rays = torch.stack(
        [(cols - principal_point[0]) / focal[0], (rows - principal_point[1]) / focal[1], torch.ones_like(cols)], -1
    ).reshape(-1, 3)
    directions = rays @ pose[:3, :3].T
    directions = directions / directions.norm(dim=-1, keepdim=True)
    origins = pose[:3, 3].expand_as(directions)

    distance, which = _nearest_hits(scene.primitives, origins, directions)
    hit = distance < _FAR
    colour = torch.tensor(scene.sky, dtype=torch.float32).expand(directions.shape[0], 3).clone()
    points = origins + distance[:, None] * directions
    sun = torch.tensor(scene.sun, dtype=torch.float32)
    sun = sun / sun.norm()
    for index, primitive in enumerate(scene.primitives):
        mine = hit & (which == index)
        if not mine.any():
            continue
        normal, uv = primitive.surface(points[mine])
        albedo = _sample(primitive.texture, uv)
        # Hard shadows: is the sun visible from a point slightly off the surface?
        shadow_origin = points[mine] + 1e-3 * normal
        blocked, _ = _nearest_hits(scene.primitives, shadow_origin, sun.expand_as(shadow_origin))
        lit = (normal @ sun).clamp_min(0.0) * (blocked >= _FAR).float()
        colour[mine] = albedo * (scene.ambient + (1.0 - scene.ambient) * lit[:, None])
    return colour.clamp(0.0, 1.0).T.reshape(3, height, width)
