"""Plain convolutional classifier networks (the CNN baselines of the benchmarks)."""

import math

import torch
from torch import nn

from .group_conv import even_pool

__all__ = ["PlainConvNet", "CNN3D"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}


class PlainConvNet(nn.Module):
    """``[conv 3 → ReLU → max-pool 2] × levels → flatten → Linear → ReLU → Linear``.

    Parameters
    ----------
    in_channels, n_classes : int
    spatial_shape : tuple of int
        Spatial size of the input (1 to 3 axes); it fixes the flattened width.
    channels : sequence of int, default=(32, 64, 64)
        Width of each convolution level.
    hidden : int, default=128
        Width of the fully connected layer.

    Notes
    -----
    A level pools only the axes that are at least 2 long, so any input size
    works; tiny inputs simply stop shrinking.
    """

    def __init__(self, in_channels, n_classes, spatial_shape, channels=(32, 64, 64), hidden=128):
        super().__init__()
        dims = len(spatial_shape)
        if dims not in _CONV:
            raise ValueError(f"inputs need 1 to 3 spatial axes, got shape {tuple(spatial_shape)}")
        layers, width, size = [], in_channels, list(spatial_shape)
        for out in channels:
            layers += [_CONV[dims](width, out, kernel_size=3, padding=1), nn.ReLU()]
            pool = tuple(2 if s >= 2 else 1 for s in size)
            if max(pool) > 1:
                layers.append(_MAX_POOL[dims](pool))
                size = [s // p for s, p in zip(size, pool)]
            width = out
        self.features = nn.Sequential(*layers)
        flat = width * math.prod(size)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):
        """Logits (B, n_classes) of inputs (B, C, *spatial)."""
        return self.head(self.features(x))


class CNN3D(nn.Module):
    """``[Conv3d → BatchNorm → ReLU → 2³ max pool]*`` then the spatial mean and a linear layer.

    Pooling halves the grid after every layer but the last where all sizes are
    even, as in the steerable network, so the two differ only in their kernels.
    """

    def __init__(self, in_channels, n_classes, channels=(16, 32, 64), kernel_size=5):
        super().__init__()
        widths = (int(in_channels),) + tuple(int(c) for c in channels)
        self.convs = nn.ModuleList(
            nn.Conv3d(c_in, c_out, kernel_size, padding=kernel_size // 2) for c_in, c_out in zip(widths, widths[1:])
        )
        self.norms = nn.ModuleList(nn.BatchNorm3d(c) for c in widths[1:])
        self.head = nn.Linear(widths[-1], n_classes)

    def forward(self, x):
        """Logits (B, n_classes) of volumes (B, C, D, H, W)."""
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = torch.relu(norm(conv(x)))
            if index < len(self.convs) - 1:
                x = even_pool(x, 3, "max")
        return self.head(x.mean(dim=(-3, -2, -1)))
