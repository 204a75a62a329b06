"""Geometry for conformal shape analysis: Laplacians, HKS, flows, Möbius maps.

Pure numpy/scipy.  The pipeline for a genus-0 mesh is
:func:`heat_kernel_signature` on the mesh, :func:`conformal_flow` to the
sphere, :func:`random_mobius` / :func:`apply_mobius` for augmentations, and
:func:`rasterize_sphere` onto an equiangular grid;
:func:`spherical_hks_maps` runs all of it, with an optional disk cache.
"""

from ._flow import conformal_flow, normalize_surface
from ._mesh import check_mesh, face_areas, icosphere, signed_volume, spherical_face_orientation
from ._mobius import apply_mobius, inverse_stereographic, random_mobius, stereographic
from ._preprocess import mesh_hks, spherical_hks_maps
from ._raster import equiangular_grid, rasterize_sphere, spherical_barycentric
from ._spectral import (
    HKS_TIMES,
    cotangent_laplacian,
    heat_kernel_signature,
    laplacian_and_mass,
    laplacian_eigenpairs,
    vertex_areas,
)

__all__ = [
    "HKS_TIMES",
    "apply_mobius",
    "check_mesh",
    "conformal_flow",
    "cotangent_laplacian",
    "equiangular_grid",
    "face_areas",
    "heat_kernel_signature",
    "icosphere",
    "inverse_stereographic",
    "laplacian_and_mass",
    "laplacian_eigenpairs",
    "mesh_hks",
    "normalize_surface",
    "random_mobius",
    "rasterize_sphere",
    "signed_volume",
    "spherical_barycentric",
    "spherical_face_orientation",
    "spherical_hks_maps",
    "stereographic",
    "vertex_areas",
]
