"""C_N group convolutions on 2-D images: rotations by 2π/N and translations.

Feature maps of the group layers have shape ``(B, C, N, H, W)``: one plane per
channel and orientation.  Rotating the input image by ``g`` (an integer
multiple of 2π/N) rotates every plane spatially and shifts the orientation axis
cyclically by ``g`` steps (:class:`LiftingConv2d`, :class:`GroupConv2d`);
pooling over orientations then gives planes that merely rotate
(:class:`GroupPool`), and pooling over space an invariant.

How exact is that?  Kernels are rotated copies of one learned kernel.  A
rotation by a multiple of 90° permutes the pixel grid, so those copies are
``torch.rot90`` of each other and equivariance to 90° rotations of a square
input is exact to float rounding.  For N = 8 (or any N) the copies at other
angles are resampled bilinearly inside a disk; they are rotated only
approximately, so only the rotations that are multiples of 90° (those in C_N,
i.e. all of them when N divides 4, and the 90° ones when 4 divides N) are
guaranteed.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_int
from .init import lecun_normal_

__all__ = [
    "rotation_resampling",
    "rotate_kernel",
    "rotate_kernels",
    "LiftingConv2d",
    "GroupConv2d",
    "GroupBatchNorm",
    "GroupPool",
    "GroupCNN",
    "even_pool",
]


def _quarter(n_rotations):
    """Rotation steps per 90°, or None if 90° is not a multiple of 2π/N."""
    return n_rotations // 4 if n_rotations % 4 == 0 else None


def rotation_resampling(kernel_size, angle):
    """Matrix that rotates a flattened ``kernel_size²`` kernel by ``angle`` (bilinear).

    Output pixel p takes the bilinear interpolation of the input at R(-angle)p,
    with the sense of rotation of ``torch.rot90(kernel, 1, dims=(-2, -1))`` for
    angle = π/2.  Pixels outside the inscribed disk are zero, so corners do not
    leak in or out as the kernel turns.

    Returns
    -------
    Tensor of shape (kernel_size², kernel_size²), float64
    """
    k = int(kernel_size)
    centre = (k - 1) / 2
    radius = k / 2
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = torch.zeros(k * k, k * k, dtype=torch.float64)
    for row in range(k):
        for col in range(k):
            y, x = row - centre, col - centre
            if y * y + x * x > radius * radius:
                continue
            # Source of output pixel (y, x): the same turning sense as torch.rot90.
            src_x = cos * x - sin * y + centre
            src_y = sin * x + cos * y + centre
            y0, x0 = math.floor(src_y), math.floor(src_x)
            for dy in (0, 1):
                for dx in (0, 1):
                    sy, sx = y0 + dy, x0 + dx
                    weight = (1 - abs(src_y - sy)) * (1 - abs(src_x - sx))
                    inside = 0 <= sy < k and 0 <= sx < k
                    if weight > 0 and inside and (sy - centre) ** 2 + (sx - centre) ** 2 <= radius * radius:
                        matrix[row * k + col, sy * k + sx] += weight
    return matrix


def _n_resampled(n_rotations):
    """How many angles need resampling: those below 90° (all angles if 4 ∤ N)."""
    if n_rotations in (1, 2):
        return 1
    quarter = _quarter(n_rotations)
    return quarter if quarter is not None else n_rotations


def _resampling_stack(kernel_size, n_rotations):
    """Resampling matrices for the angles that rot90 cannot produce."""
    angles = [2 * math.pi * r / n_rotations for r in range(_n_resampled(n_rotations))]
    return torch.stack([rotation_resampling(kernel_size, a) for a in angles]).float()


def rotate_kernel(weight, r, n_rotations, resampling):
    """``weight`` (..., k, k) rotated by ``2πr/N``.

    Multiples of 90° are ``torch.rot90`` of the base copy (exact); other angles
    apply the matching resampling matrix first.  For N in (1, 2, 4) every angle
    is a multiple of 90° and the kernel is used as learned; otherwise every copy
    (angle 0 included) is resampled inside the disk, so all copies agree.
    """
    quarter = _quarter(n_rotations)
    if n_rotations == 2:
        turns, base = 2 * r, 0
    elif quarter is not None:
        turns, base = divmod(r, quarter)
    else:
        turns, base = 0, r
    if n_rotations in (1, 2, 4):
        kernel = weight
    else:
        k = weight.shape[-1]
        flat = weight.reshape(*weight.shape[:-2], k * k)
        kernel = (flat @ resampling[base].T).reshape(weight.shape)
    return torch.rot90(kernel, turns, dims=(-2, -1)) if turns else kernel


def rotate_kernels(weight, n_rotations, resampling):
    """All N rotated copies of ``weight`` (..., k, k), stacked on a new axis 0."""
    return torch.stack([rotate_kernel(weight, r, n_rotations, resampling) for r in range(n_rotations)])


class _RotatedConv(nn.Module):
    """Shared pieces: the resampling buffer and seeded init of weight and bias."""

    def __init__(self, in_channels, out_channels, n_rotations, kernel_size, group_axis):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.n_rotations = check_int(n_rotations, "n_rotations")
        # Odd, so that rotations keep the centre.
        self.kernel_size = k = check_int(kernel_size, "kernel_size", odd=True)
        orientations = (self.n_rotations,) if group_axis else ()
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels, *orientations, k, k))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        k2 = self.kernel_size ** 2
        self.register_buffer("resampling", torch.empty(_n_resampled(self.n_rotations), k2, k2))

    def reset_parameters_(self, generator):
        """LeCun-normal weight, zero bias, and the (deterministic) resampling matrices."""
        lecun_normal_(self.weight, generator)
        with torch.no_grad():
            self.bias.zero_()
            stack = _resampling_stack(self.kernel_size, self.n_rotations)
            self.resampling.copy_(stack.to(self.resampling.device))

    def _conv(self, x, kernel):
        out = F.conv2d(x, kernel, padding=self.kernel_size // 2)
        out = out.reshape(out.shape[0], self.out_channels, self.n_rotations, *out.shape[-2:])
        return out + self.bias[:, None, None, None]


class LiftingConv2d(_RotatedConv):
    """Correlate an image with N rotated copies of each kernel.

    Maps ``(B, C_in, H, W)`` to ``(B, C_out, N, H, W)``; orientation ``r`` uses
    the kernel rotated by ``2πr/N``.

    Parameters
    ----------
    in_channels, out_channels : int
    n_rotations : int
        N.
    kernel_size : int
        Odd.
    """

    def __init__(self, in_channels, out_channels, n_rotations=4, kernel_size=5):
        super().__init__(in_channels, out_channels, n_rotations, kernel_size, group_axis=False)

    def forward(self, x):
        kernels = rotate_kernels(self.weight, self.n_rotations, self.resampling)  # (N, O, I, k, k)
        kernels = kernels.transpose(0, 1).reshape(-1, self.in_channels, self.kernel_size, self.kernel_size)
        return self._conv(x, kernels)


class GroupConv2d(_RotatedConv):
    """Correlate C_N feature maps with rotated, orientation-shifted kernels.

    Maps ``(B, C_in, N, H, W)`` to ``(B, C_out, N, H, W)``.  Output orientation
    ``r`` reads input orientation ``s`` through the base kernel of relative
    orientation ``s - r`` (mod N), rotated by ``2πr/N``.

    Parameters
    ----------
    in_channels, out_channels : int
    n_rotations : int
    kernel_size : int
        Odd.
    """

    def __init__(self, in_channels, out_channels, n_rotations=4, kernel_size=3):
        super().__init__(in_channels, out_channels, n_rotations, kernel_size, group_axis=True)

    def forward(self, x):
        n, k = self.n_rotations, self.kernel_size
        # Output orientation r: base kernel rolled so that input orientation s
        # meets relative orientation s - r, then rotated by r.
        rotated = torch.stack([
            rotate_kernel(torch.roll(self.weight, r, dims=2), r, n, self.resampling) for r in range(n)
        ])
        kernels = rotated.transpose(0, 1).reshape(self.out_channels * n, self.in_channels * n, k, k)
        return self._conv(x.flatten(1, 2), kernels)


class GroupBatchNorm(nn.BatchNorm3d):
    """Batch normalisation of ``(B, C, N, H, W)`` with statistics shared over orientations.

    One mean and variance per channel, over batch, orientations and pixels, so
    the layer commutes with rotations (in eval mode, exactly).
    """


class GroupPool(nn.Module):
    """Max or mean over the orientation axis: ``(B, C, N, H, W)`` → ``(B, C, H, W)``."""

    def __init__(self, mode="max"):
        super().__init__()
        if mode not in ("max", "mean"):
            raise ValueError(f"mode must be 'max' or 'mean', got {mode!r}")
        self.mode = mode

    def forward(self, x):
        return x.amax(dim=2) if self.mode == "max" else x.mean(dim=2)


def even_pool(x, spatial_dims, mode):
    """Halve every spatial size when all are even and > 1; identity otherwise.

    On even grids the 2×…×2 windows tile the grid symmetrically about its
    centre, so the pooling commutes with 90° rotations; on odd grids it would not.
    """
    spatial = x.shape[-spatial_dims:]
    if not all(s % 2 == 0 and s > 1 for s in spatial):
        return x
    lead = x.shape[:-spatial_dims]
    flat = x.reshape(-1, *spatial)
    pool = {
        ("max", 2): F.max_pool2d, ("mean", 2): F.avg_pool2d, ("max", 3): F.max_pool3d, ("mean", 3): F.avg_pool3d
    }[mode, spatial_dims]
    pooled = pool(flat.unsqueeze(1), 2).squeeze(1)
    return pooled.reshape(*lead, *pooled.shape[1:])


class GroupCNN(nn.Module):
    """A C_N-invariant image classifier: lifting, group convolutions, then pooling.

    ``LiftingConv2d → [GroupConv2d]* `` with batch norm and ReLU after each,
    2×2 max pooling over space after every layer but the last (where the grid
    is even), then pooling over orientations (:class:`GroupPool`), the mean
    over space, and a linear layer.  The logits are invariant to rotations of a
    square input by 90° multiples in C_N (see the module notes).

    Parameters
    ----------
    in_channels, n_classes : int
    n_rotations : int, default=4
    channels : tuple of int, default=(8, 16, 32)
        Channels per orientation of each layer; the first is the lifting layer.
    kernel_size : int, default=5
    group_pool : {"max", "mean"}, default="max"
    """

    def __init__(self, in_channels, n_classes, n_rotations=4, channels=(8, 16, 32), kernel_size=5, group_pool="max"):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        self.lift = LiftingConv2d(in_channels, channels[0], n_rotations, kernel_size)
        self.convs = nn.ModuleList(
            GroupConv2d(c_in, c_out, n_rotations, kernel_size) for c_in, c_out in zip(channels, channels[1:])
        )
        self.norms = nn.ModuleList(GroupBatchNorm(c) for c in channels)
        self.pool = GroupPool(group_pool)
        self.head = nn.Linear(channels[-1], n_classes)

    def features(self, x):
        """Invariant features (B, channels[-1]) of images (B, C, H, W)."""
        layers = [self.lift, *self.convs]
        for index, (conv, norm) in enumerate(zip(layers, self.norms)):
            x = torch.relu(norm(conv(x)))
            if index < len(layers) - 1:
                x = even_pool(x, 2, "max")
        return self.pool(x).mean(dim=(-2, -1))

    def forward(self, x):
        """Logits (B, n_classes) of images (B, C, H, W)."""
        return self.head(self.features(x))
