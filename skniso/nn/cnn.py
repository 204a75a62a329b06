"""A plain convolutional classifier network (the CNN baseline of the benchmarks)."""

import math

from torch import nn

__all__ = ["PlainConvNet"]

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
