"""CNNClassifier3D: a plain (not rotation-equivariant) 3-D CNN on voxel grids."""

import torch
from torch import nn

from ..nn.group_conv import even_pool
from ._base import GridClassifierBase, check_positive_int, check_widths

__all__ = ["CNNClassifier3D", "CNN3D"]


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


class CNNClassifier3D(GridClassifierBase):
    """A conventional 3-D CNN classifier of voxel grids, the non-equivariant baseline.

    Parameters
    ----------
    channels : tuple of int, default=(16, 32, 64)
        Channels of each convolution.
    kernel_size : int, default=5
    input_shape : tuple of int or None, default=None
        (C, D, H, W) of one volume, to un-flatten 2-D input.  Without it 5-D
        input carries its shape and 2-D rows are read as C channels of one voxel.
    max_steps : int, default=300
    batch_size : int, default=32
    lr : float, default=1e-2
    weight_decay : float, default=1e-4
    warmup_steps : int, default=30
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : CNN3D
    input_shape_ : tuple of int
    channel_mean_, channel_std_ : ndarray of shape (C, 1, 1, 1)
    history_ : list of dict
    device_ : torch.device
    n_features_in_ : int
    """

    _spatial_dims = 3

    def __init__(
        self,
        channels=(16, 32, 64),
        *,
        kernel_size=5,
        input_shape=None,
        max_steps=300,
        batch_size=32,
        lr=1e-2,
        weight_decay=1e-4,
        warmup_steps=30,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.channels = channels
        self.kernel_size = kernel_size
        self.input_shape = input_shape
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_network_params(self):
        check_widths("channels", self.channels)
        check_positive_int("kernel_size", self.kernel_size)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")

    def _network(self, in_channels, spatial_shape, n_classes):
        channels, kernel_size = tuple(self.channels), int(self.kernel_size)
        return lambda: CNN3D(in_channels, n_classes, channels, kernel_size)
