"""Tests for the residual convolutional encoder and decoder."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from skniso.nn import ConvDecoder, ConvEncoder, ResBlock, build_module, check_grid_divisible

from ..integer_rule import bad_integers, names_the_value

SMALL = dict(channels=(4, 6), blocks_per_level=(1, 2))


def _seeded(factory, seed=0, dtype=torch.float32):
    return build_module(factory, torch.Generator().manual_seed(seed), dtype=dtype)


def _count(module, kind):
    return sum(isinstance(sub, kind) for sub in module.modules())


@pytest.mark.parametrize(
    "spatial_dims, grid", [(1, (16,)), (2, (8, 12)), (3, (4, 8, 4))]
)
def test_encoder_decoder_shapes_all_dims(spatial_dims, grid):
    encoder = _seeded(lambda: ConvEncoder(2, 5, spatial_dims=spatial_dims, **SMALL))
    decoder = _seeded(lambda: ConvDecoder(5, 3, spatial_dims=spatial_dims, **SMALL))
    x = torch.randn(3, 2, *grid)
    z = encoder(x)
    latent_grid = tuple(size // 2 for size in grid)
    assert z.shape == (3, 5, *latent_grid)
    assert encoder.latent_grid_shape(grid) == latent_grid
    assert decoder(z).shape == (3, 3, *grid)


def test_three_levels_downsample_by_four():
    kwargs = dict(channels=(2, 3, 4), blocks_per_level=(1, 1, 1))
    encoder = _seeded(lambda: ConvEncoder(1, 2, **kwargs))
    decoder = _seeded(lambda: ConvDecoder(2, 1, **kwargs))
    assert encoder.downsample_factor == 4 and decoder.upsample_factor == 4
    z = encoder(torch.randn(1, 1, 8, 12))
    assert z.shape == (1, 2, 2, 3)
    assert decoder(z).shape == (1, 1, 8, 12)


def test_check_grid_divisible_message_names_shape_and_factor():
    check_grid_divisible((40, 40), 2)
    with pytest.raises(ValueError, match=r"\(40, 41\).*factor 4"):
        check_grid_divisible((40, 41), 4)


def test_encoder_rejects_bad_inputs():
    encoder = _seeded(lambda: ConvEncoder(1, 2, **SMALL))
    with pytest.raises(ValueError, match="divisible"):
        encoder(torch.randn(1, 1, 8, 9))
    with pytest.raises(ValueError, match="spatial axes"):
        encoder(torch.randn(1, 8, 8))
    with pytest.raises(ValueError, match="divisible"):
        encoder.latent_grid_shape((7, 8))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(channels=(4, 6), blocks_per_level=(1,)), "same length"),
        *[(dict(spatial_dims=value), names_the_value("spatial_dims", value)) for value in bad_integers(2, maximum=3)],
        *[(dict(channels=value, blocks_per_level=(1, 1)), names_the_value("channels", value))
          for value in [(), (4, 0), (4, True), (4.0, 6), 4]],
        *[(dict(blocks_per_level=value), names_the_value("blocks_per_level", value))
          for value in [(1, 0), (1, True), (1.0, 2)]],
    ],
)
def test_invalid_configurations(kwargs, message):
    config = dict(SMALL, **kwargs)
    with pytest.raises(ValueError, match=message):
        ConvEncoder(1, 2, **config)
    with pytest.raises(ValueError, match=message):
        ConvDecoder(2, 1, **config)
    if "spatial_dims" in kwargs:
        with pytest.raises(ValueError, match=message):
            ResBlock(2, 2, spatial_dims=kwargs["spatial_dims"])


def test_numpy_integers_at_the_minimum_are_accepted():
    one = np.int64(1)
    encoder = _seeded(lambda: ConvEncoder(1, 2, channels=(one,), blocks_per_level=(one,), spatial_dims=one))
    decoder = _seeded(lambda: ConvDecoder(2, 1, channels=(one,), blocks_per_level=(one,), spatial_dims=one))
    assert decoder(encoder(torch.randn(2, 1, 6))).shape == (2, 1, 6)
    assert _seeded(lambda: ResBlock(1, 1, spatial_dims=one))(torch.randn(2, 1, 6)).shape == (2, 1, 6)


def test_encoder_structure_follows_reference():
    encoder = ConvEncoder(1, 16, channels=(64, 128), blocks_per_level=(3, 3))
    layers = list(encoder.layers)
    # Per-pixel stem, defaulting to the first level's width.
    assert isinstance(layers[0], nn.Conv2d) and layers[0].kernel_size == (1, 1)
    assert layers[0].out_channels == 64 and isinstance(layers[1], nn.SiLU)
    assert _count(encoder, ResBlock) == 6 and _count(encoder, nn.AvgPool2d) == 1
    assert isinstance(layers[5], nn.AvgPool2d)  # after the three level-0 blocks
    assert isinstance(layers[-3], nn.InstanceNorm2d) and layers[-3].num_features == 128
    assert isinstance(layers[-2], nn.SiLU)
    assert layers[-1].kernel_size == (1, 1) and layers[-1].out_channels == 16
    assert encoder.downsample_factor == 2

    reference_stem = ConvEncoder(1, 16, stem_channels=48)
    assert reference_stem.layers[0].out_channels == 48
    assert reference_stem.layers[2].residual[2].in_channels == 48


def test_decoder_structure_mirrors_encoder():
    decoder = ConvDecoder(16, 1, channels=(64, 128), blocks_per_level=(2, 3))
    blocks = [sub for sub in decoder.modules() if isinstance(sub, ResBlock)]
    widths = [block.skip.out_channels for block in blocks]
    assert widths == [128, 128, 128, 64, 64]  # widest level first
    assert blocks[0].skip.in_channels == 16  # no input dense layer
    layers = list(decoder.layers)
    assert isinstance(layers[3], nn.Upsample)
    assert _count(decoder, nn.Upsample) == 1
    assert isinstance(layers[-3], nn.InstanceNorm2d) and layers[-3].num_features == 64
    assert layers[-1].out_channels == 1


def test_resblock_matches_reference_computation():
    block = _seeded(lambda: ResBlock(3, 5), dtype=torch.float64)
    with torch.no_grad():  # non-trivial affine parameters
        for norm in (block.residual[0], block.residual[3]):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)

    def spatial_layer_norm(h, norm):
        # The reference normalises over the spatial axes per sample and channel.
        mean = h.mean(dim=(2, 3), keepdim=True)
        var = h.var(dim=(2, 3), keepdim=True, unbiased=False)
        scaled = (h - mean) / torch.sqrt(var + 1e-6)
        return scaled * norm.weight[:, None, None] + norm.bias[:, None, None]

    conv_a, conv_b = block.residual[2], block.residual[5]
    h = F.silu(spatial_layer_norm(x, block.residual[0]))
    h = F.conv2d(h, conv_a.weight, conv_a.bias, padding=1)
    h = F.silu(spatial_layer_norm(h, block.residual[3]))
    h = F.conv2d(h, conv_b.weight, conv_b.bias, padding=1)
    expected = h + F.conv2d(x, block.skip.weight, block.skip.bias)
    torch.testing.assert_close(block(x), expected, rtol=1e-10, atol=1e-10)


def test_resblock_keeps_skip_projection_at_equal_widths():
    block = ResBlock(4, 4, spatial_dims=1)
    assert isinstance(block.skip, nn.Conv1d) and block.skip.kernel_size == (1,)


def test_reproducible_and_float64_with_gradients():
    make = lambda: ConvEncoder(1, 3, spatial_dims=2, **SMALL)  # noqa: E731
    first = _seeded(make, seed=5, dtype=torch.float64)
    second = _seeded(make, seed=5, dtype=torch.float64)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b) and a.dtype == torch.float64
    decoder = _seeded(lambda: ConvDecoder(3, 1, **SMALL), dtype=torch.float64)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    loss = (decoder(first(x)) - x).abs().mean()
    loss.backward()
    for module in (first, decoder):
        for name, parameter in module.named_parameters():
            assert parameter.grad is not None, name
            assert torch.isfinite(parameter.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in first.parameters())


def test_parameter_count_of_homnist_configuration():
    encoder = ConvEncoder(1, 32, channels=(64, 128), blocks_per_level=(3, 3))
    decoder = ConvDecoder(32, 1, channels=(64, 128), blocks_per_level=(3, 3))

    def resblock(c_in, c_out):
        convs = 9 * c_in * c_out + c_out + 9 * c_out * c_out + c_out
        return convs + c_in * c_out + c_out + 2 * c_in + 2 * c_out

    stem = 1 * 64 + 64
    encoder_count = (
        stem + resblock(64, 64) * 3 + resblock(64, 128) + resblock(128, 128) * 2
        + 2 * 128 + 128 * 32 + 32
    )
    decoder_count = (
        resblock(32, 128) + resblock(128, 128) * 2 + resblock(128, 64)
        + resblock(64, 64) * 2 + 2 * 64 + 64 * 1 + 1
    )
    assert sum(p.numel() for p in encoder.parameters()) == encoder_count
    assert sum(p.numel() for p in decoder.parameters()) == decoder_count
