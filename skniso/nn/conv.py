"""Residual convolutional encoder and decoder of the reference NIso pipeline.

The networks work on 1-D, 2-D or 3-D grids, laid out channels-first as
``(batch, channels, *spatial)``.  The reference normalisation ("LayerNorm" over
the spatial axes, per sample and channel, with a learnable per-channel affine)
is exactly an instance normalisation, and its per-pixel ``Dense`` layers are
1x1 convolutions.
"""

from torch import nn

from .._validation import check_int, check_ints

__all__ = ["ResBlock", "ConvEncoder", "ConvDecoder", "check_grid_divisible"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
_AVG_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}

# Same epsilon as the reference normalisation (added to the variance).
_NORM_EPS = 1e-6


def _check_spatial_dims(spatial_dims):
    return check_int(spatial_dims, "spatial_dims", maximum=3)


def _check_levels(channels, blocks_per_level):
    channels = check_ints(channels, "channels")
    # A level without blocks would have no layer that changes its width.
    blocks_per_level = check_ints(blocks_per_level, "blocks_per_level")
    if len(channels) != len(blocks_per_level):
        raise ValueError(
            f"channels {channels} and blocks_per_level {blocks_per_level} must "
            "have the same length (one entry per resolution level)"
        )
    return channels, blocks_per_level


def _instance_norm(channels, spatial_dims):
    return _INSTANCE_NORM[spatial_dims](channels, eps=_NORM_EPS, affine=True)


def _pointwise_conv(in_channels, out_channels, spatial_dims):
    """A per-grid-point dense layer, written as a 1x1 convolution."""
    return _CONV[spatial_dims](in_channels, out_channels, kernel_size=1)


def check_grid_divisible(spatial_shape, factor):
    """Raise if any spatial size is not a multiple of the downsampling factor.

    Average pooling would otherwise silently drop the trailing rows, and the
    decoder could not reproduce the input shape.

    Parameters
    ----------
    spatial_shape : sequence of int
        Grid sizes, without batch and channel axes.
    factor : int
        Total downsampling factor of the encoder.

    Raises
    ------
    ValueError
        If some entry of ``spatial_shape`` is not divisible by ``factor``.
    """
    spatial_shape = tuple(int(size) for size in spatial_shape)
    factor = int(factor)
    if any(size < factor for size in spatial_shape):
        raise ValueError(
            f"spatial shape {spatial_shape} is too small for the encoder, which pools "
            f"by a factor {factor}; every grid size must be a positive multiple of {factor}"
        )
    if any(size % factor for size in spatial_shape):
        raise ValueError(
            f"spatial shape {spatial_shape} is not divisible by the encoder's "
            f"downsampling factor {factor}; every grid size must be a multiple "
            f"of {factor}"
        )


class ResBlock(nn.Module):
    """Pre-activation residual block with an always-present 1x1 skip projection.

    ``[IN -> SiLU -> Conv -> IN -> SiLU -> Conv](x) + Conv1x1(x)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel widths before and after the block.
    spatial_dims : {1, 2, 3}
        Number of grid axes.
    kernel_size : int, default=3
        Size of the two 'same'-padded convolutions.
    """

    def __init__(self, in_channels, out_channels, spatial_dims=2, kernel_size=3):
        super().__init__()
        spatial_dims = _check_spatial_dims(spatial_dims)
        conv = _CONV[spatial_dims]
        self.residual = nn.Sequential(
            _instance_norm(in_channels, spatial_dims),
            nn.SiLU(),
            conv(in_channels, out_channels, kernel_size, padding="same"),
            _instance_norm(out_channels, spatial_dims),
            nn.SiLU(),
            conv(out_channels, out_channels, kernel_size, padding="same"),
        )
        # The reference projects the skip even when the widths already match.
        self.skip = _pointwise_conv(in_channels, out_channels, spatial_dims)

    def forward(self, x):
        """Map ``(B, in_channels, *grid)`` to ``(B, out_channels, *grid)``."""
        return self.residual(x) + self.skip(x)


class ConvEncoder(nn.Module):
    """Residual encoder: image grid -> latent grid, halving resolution per level.

    Stem ``Conv1x1(in -> stem_channels) -> SiLU``; then for each level ``l``:
    ``AvgPool x2`` (if ``l > 0``) and ``blocks_per_level[l]`` :class:`ResBlock`
    of width ``channels[l]``; then ``IN -> SiLU -> Conv1x1(-> latent_channels)``.

    Parameters
    ----------
    in_channels : int
        Channels of the input grid.
    latent_channels : int
        Channels of the output latent grid.
    channels : sequence of int, default=(64, 128)
        Width of each resolution level, finest first.
    blocks_per_level : sequence of int, default=(3, 3)
        Residual blocks at each level.
    spatial_dims : {1, 2, 3}, default=2
        Number of grid axes.
    stem_channels : int or None, default=None
        Width of the per-pixel input layer; ``None`` uses ``channels[0]``.
        The reference code uses a fixed 48.
    kernel_size : int, default=3
        Convolution size inside the residual blocks.

    Attributes
    ----------
    downsample_factor : int
        ``2 ** (len(channels) - 1)``; every input grid size must be a multiple.
    """

    def __init__(
        self,
        in_channels,
        latent_channels,
        channels=(64, 128),
        blocks_per_level=(3, 3),
        spatial_dims=2,
        stem_channels=None,
        kernel_size=3,
    ):
        super().__init__()
        spatial_dims = _check_spatial_dims(spatial_dims)
        channels, blocks_per_level = _check_levels(channels, blocks_per_level)
        self.spatial_dims = spatial_dims
        self.in_channels = int(in_channels)
        self.latent_channels = int(latent_channels)
        self.downsample_factor = 2 ** (len(channels) - 1)

        width = channels[0] if stem_channels is None else int(stem_channels)
        layers = [_pointwise_conv(in_channels, width, spatial_dims), nn.SiLU()]
        for level, (level_width, n_blocks) in enumerate(zip(channels, blocks_per_level)):
            if level > 0:
                layers.append(_AVG_POOL[spatial_dims](kernel_size=2, stride=2))
            for _ in range(n_blocks):
                layers.append(ResBlock(width, level_width, spatial_dims, kernel_size))
                width = level_width
        layers += [
            _instance_norm(width, spatial_dims),
            nn.SiLU(),
            _pointwise_conv(width, latent_channels, spatial_dims),
        ]
        self.layers = nn.Sequential(*layers)

    def latent_grid_shape(self, spatial_shape):
        """Latent grid shape produced for an input grid of ``spatial_shape``."""
        check_grid_divisible(spatial_shape, self.downsample_factor)
        return tuple(int(size) // self.downsample_factor for size in spatial_shape)

    def forward(self, x):
        """Encode ``(B, in_channels, *grid)`` to ``(B, latent_channels, *grid / f)``.

        Raises
        ------
        ValueError
            If ``x`` has the wrong number of axes or a grid size that is not a
            multiple of :attr:`downsample_factor`.
        """
        if x.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"expected a (batch, channels, {self.spatial_dims} spatial axes) "
                f"tensor, got shape {tuple(x.shape)}"
            )
        check_grid_divisible(x.shape[2:], self.downsample_factor)
        return self.layers(x)


class ConvDecoder(nn.Module):
    """Residual decoder, the mirror image of :class:`ConvEncoder`.

    Levels run widest (coarsest) first: ``blocks_per_level[l]`` :class:`ResBlock`
    of width ``channels[l]`` for ``l = L-1, ..., 0``, with nearest-neighbour x2
    upsampling between levels; then ``IN -> SiLU -> Conv1x1(-> out_channels)``.
    There is no input dense layer (the first block maps ``latent_channels``) and
    the output is linear.

    Parameters
    ----------
    latent_channels : int
        Channels of the latent grid.
    out_channels : int
        Channels of the reconstructed grid.
    channels : sequence of int, default=(64, 128)
        Width of each level, finest first (pass the encoder's tuple as is).
    blocks_per_level : sequence of int, default=(3, 3)
        Residual blocks at each level, finest first.
    spatial_dims : {1, 2, 3}, default=2
        Number of grid axes.
    kernel_size : int, default=3
        Convolution size inside the residual blocks.

    Attributes
    ----------
    upsample_factor : int
        ``2 ** (len(channels) - 1)``.
    """

    def __init__(
        self,
        latent_channels,
        out_channels,
        channels=(64, 128),
        blocks_per_level=(3, 3),
        spatial_dims=2,
        kernel_size=3,
    ):
        super().__init__()
        spatial_dims = _check_spatial_dims(spatial_dims)
        channels, blocks_per_level = _check_levels(channels, blocks_per_level)
        self.spatial_dims = spatial_dims
        self.latent_channels = int(latent_channels)
        self.out_channels = int(out_channels)
        self.upsample_factor = 2 ** (len(channels) - 1)

        width = self.latent_channels
        layers = []
        coarse_to_fine = list(zip(channels, blocks_per_level))[::-1]
        for step, (level_width, n_blocks) in enumerate(coarse_to_fine):
            if step > 0:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            for _ in range(n_blocks):
                layers.append(ResBlock(width, level_width, spatial_dims, kernel_size))
                width = level_width
        layers += [
            _instance_norm(width, spatial_dims),
            nn.SiLU(),
            _pointwise_conv(width, out_channels, spatial_dims),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, z):
        """Decode ``(B, latent_channels, *grid)`` to ``(B, out_channels, *grid * f)``."""
        if z.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"expected a (batch, channels, {self.spatial_dims} spatial axes) "
                f"tensor, got shape {tuple(z.shape)}"
            )
        return self.layers(z)
