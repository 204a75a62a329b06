"""Synthetic CO3D-format sequences with exact camera poses.

:func:`make_synthetic_co3d` renders camera paths around small textured scenes
(photo-textured spheres and boxes on a textured ground, see ``_render``) and
writes them exactly as CO3Dv2 stores real captures: JPEG frames and gzipped
JSON annotations whose cameras are in PyTorch3D's convention.  Reading them back
with :func:`skniso.datasets.load_co3d` therefore exercises the real loader,
and the ground-truth poses are known exactly.  The textures are photographs
that ship inside scikit-image; nothing is downloaded.
"""

import gzip
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_random_state

from .._validation import check_int, check_ints
from ._co3d import pytorch3d_from_opencv
from ._render import Box, GroundPlane, Scene, Sphere, look_at, render

__all__ = ["make_synthetic_co3d"]

_OBJECT_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
_GROUND_PHOTOS = ("brick", "grass", "gravel")
_TEXTURE_SIDE = 128


def _textures(names):
    """scikit-image's bundled photos as (3, 128, 128) float tensors in [0, 1]."""
    import skimage.data

    textures = []
    for name in names:
        image = np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255.0
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3].transpose(2, 0, 1)))
        textures.append(
            F.interpolate(tensor[None], size=(_TEXTURE_SIDE, _TEXTURE_SIDE), mode="bilinear", antialias=True)[0]
        )
    return textures


def _random_scene(rng, object_textures, ground_textures):
    primitives = [GroundPlane(0.0, 0.8, ground_textures[rng.randint(len(ground_textures))])]
    n_objects = rng.randint(2, 5)
    angles = rng.uniform(0, 2 * math.pi) + np.arange(n_objects) * 2 * math.pi / n_objects
    for index, angle in enumerate(angles):
        spread = 0.0 if index == 0 else rng.uniform(0.7, 1.0)
        x, y = spread * math.cos(angle), spread * math.sin(angle)
        texture = object_textures[rng.randint(len(object_textures))]
        if rng.rand() < 0.5:
            radius = rng.uniform(0.3, 0.55)
            primitives.append(Sphere((x, y, radius), radius, texture))
        else:
            half = tuple(rng.uniform(0.2, 0.45, size=3))
            primitives.append(Box((x, y, half[2]), half, rng.uniform(0, math.pi), texture))
    sun = (rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), 1.0)
    return Scene(primitives, sun=sun)


def _smooth_noise(rng, n, scale, smoothness=8):
    """A slowly varying random walk (for hand-held wobble), std ≈ ``scale``."""
    noise = rng.standard_normal(n + 2 * smoothness)
    kernel = np.hanning(2 * smoothness + 1)
    walk = np.convolve(noise, kernel / kernel.sum(), mode="same")[smoothness:smoothness + n]
    return scale * walk / max(walk.std(), 1e-9)


def _camera_path(rng, n_frames, kind, degrees_per_frame):
    """Camera-to-world poses (OpenCV axes) of an orbit or a hand-held-like path."""
    radius = rng.uniform(2.5, 3.5)
    elevation = math.radians(rng.uniform(10, 40))
    steps = np.radians(rng.uniform(*degrees_per_frame) + rng.uniform(-0.5, 0.5, size=n_frames))
    azimuth = rng.uniform(0, 2 * math.pi) + np.cumsum(steps) * rng.choice([-1, 1])
    radii = np.full(n_frames, radius)
    elevations = np.full(n_frames, elevation)
    target = np.tile([0.0, 0.0, 0.3], (n_frames, 1))
    roll = np.zeros(n_frames)
    if kind == "handheld":
        # A hand-held capture speeds up and slows down along the way.
        steps = steps * np.exp(_smooth_noise(rng, n_frames, 0.6))
        azimuth = azimuth[0] + np.cumsum(steps) * np.sign(azimuth[-1] - azimuth[0])
        radii = radii + _smooth_noise(rng, n_frames, 0.25)
        elevations = np.clip(elevations + _smooth_noise(rng, n_frames, math.radians(6)), math.radians(5), 1.2)
        target = target + np.stack([_smooth_noise(rng, n_frames, 0.1) for _ in range(3)], axis=1)
        roll = _smooth_noise(rng, n_frames, math.radians(3))
    eyes = np.stack(
        [radii * np.cos(elevations) * np.cos(azimuth), radii * np.cos(elevations) * np.sin(azimuth),
         0.3 + radii * np.sin(elevations)], axis=1,
    )
    return [look_at(eye, aim, roll=r).numpy() for eye, aim, r in zip(eyes, target, roll)]


def _write_jgz(path, records):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(records, handle)


def make_synthetic_co3d(
    root,
    *,
    categories=("synthetic",),
    n_sequences=4,
    n_frames=40,
    image_size=(64, 80),
    trajectory="mixed",
    field_of_view=55.0,
    degrees_per_frame=(2.0, 4.0),
    random_state=None,
):
    """Render synthetic sequences and write them as a CO3Dv2 folder.

    Parameters
    ----------
    root : str or path-like
        Output folder (created).  It receives, per category,
        ``frame_annotations.jgz``, ``sequence_annotations.jgz`` and
        ``<sequence>/images/frameXXXXXX.jpg``.
    categories : sequence of str, default=("synthetic",)
    n_sequences : int, default=4
        Sequences per category; each has its own random scene.
    n_frames : int, default=40
    image_size : (height, width), default=(64, 80)
        Rendered size; a non-square frame exercises the loader's centre crop.
    trajectory : {"orbit", "handheld", "mixed"}, default="mixed"
        ``"orbit"``: a CO3D-like circle at fixed radius (2.5–3.5) and elevation
        (10–40°), ``degrees_per_frame`` of azimuth per frame with ±0.5° jitter,
        looking at the scene.
        ``"handheld"``: the same with a varying speed, slowly drifting radius,
        elevation and aim, and a little roll.  ``"mixed"``: alternate the two.
    field_of_view : float, default=55.0
        Horizontal field of view in degrees.
    degrees_per_frame : (low, high), default=(2.0, 4.0)
        Each sequence's mean azimuth step is drawn uniformly from this range
        (CO3D-like: 2–4°); wider ranges make the motion harder to guess
        without looking at the frames.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    pathlib.Path
        ``root``.  Each sequence's ``viewpoint_quality_score`` is a random
        number in [0, 1], so quality selection has something to select.
    """
    n_sequences = check_int(n_sequences, "n_sequences")
    n_frames = check_int(n_frames, "n_frames", minimum=2)
    if trajectory not in ("orbit", "handheld", "mixed"):
        raise ValueError(f"trajectory must be 'orbit', 'handheld' or 'mixed', got {trajectory!r}")
    height, width = check_ints(image_size, "image_size", length=2)
    if not 0 < field_of_view < 180:
        raise ValueError(f"field_of_view must be in (0, 180) degrees, got {field_of_view!r}")
    low, high = (float(d) for d in degrees_per_frame)
    if not 0 <= low <= high:
        raise ValueError(f"degrees_per_frame must be (low, high) with 0 <= low <= high, got {degrees_per_frame!r}")
    if isinstance(categories, str):
        categories = [categories]
    from PIL import Image

    rng = check_random_state(random_state)
    object_textures, ground_textures = _textures(_OBJECT_PHOTOS), _textures(_GROUND_PHOTOS)
    focal = (width / 2.0) / math.tan(math.radians(field_of_view) / 2.0)
    intrinsics = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    root = Path(root)
    for category in categories:
        frames, sequences = [], []
        for index in range(n_sequences):
            kind = trajectory if trajectory != "mixed" else ("orbit", "handheld")[index % 2]
            name = f"{index:03d}_{category}_{kind}"
            folder = root / category / name / "images"
            folder.mkdir(parents=True, exist_ok=True)
            scene = _random_scene(rng, object_textures, ground_textures)
            for number, pose in enumerate(_camera_path(rng, n_frames, kind, (low, high))):
                image = render(scene, torch.from_numpy(pose), (focal, focal), (width / 2.0, height / 2.0),
                               (height, width))
                path = folder / f"frame{number + 1:06d}.jpg"
                pixels = (image.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
                Image.fromarray(pixels).save(path, quality=95)
                viewpoint = pytorch3d_from_opencv(pose, intrinsics, (height, width))
                viewpoint["intrinsics_format"] = "ndc_norm_image_bounds"
                frames.append({
                    "sequence_name": name,
                    "frame_number": number,
                    "frame_timestamp": number / 30.0,
                    "image": {"path": path.relative_to(root).as_posix(), "size": [height, width]},
                    "depth": None,
                    "mask": None,
                    "viewpoint": viewpoint,
                    "meta": {"trajectory": kind},
                })
            sequences.append({
                "sequence_name": name,
                "category": category,
                "video": {"path": None, "length": n_frames},
                "point_cloud": None,
                "viewpoint_quality_score": float(rng.uniform()),
            })
        _write_jgz(root / category / "frame_annotations.jgz", frames)
        _write_jgz(root / category / "sequence_annotations.jgz", sequences)
    return root
