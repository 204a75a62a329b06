import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")
from e3nn import o3  # noqa: E402

from skniso.baselines.cnn3d import CNN3D  # noqa: E402
from skniso.datasets._tetris import TETRIS3D_SHAPES, random_rotations, render_blocks  # noqa: E402
from skniso.nn.init import build_module  # noqa: E402
from skniso.nn.steerable import SteerableCNN, SteerableConv3d, gaussian_pool, steerable_basis  # noqa: E402

from ..integer_rule import bad_integers, names_the_value  # noqa: E402

# torch.rot90(x, 1, dims=(2, 3)) on (B, C, D, H, W) moves the voxel at centred
# coordinates (d, h, w) to (-h, d, w): the rotation below, on (x, y, z) = (D, H, W).
QUARTER_DH = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _build(factory, seed=0):
    return build_module(factory, torch.Generator().manual_seed(seed)).eval()


def _rotate_fields(x, mults, turns=1):
    """Rotate a (B, C, D, H, W) field spatially by rot90 on (D, H) and its components by D^l."""
    rotation = torch.linalg.matrix_power(QUARTER_DH, turns)
    spatial = torch.rot90(x, turns, dims=(2, 3))
    blocks, start = [], 0
    for l, m in enumerate(mults):
        size = 2 * l + 1
        part = spatial[:, start:start + m * size].unflatten(1, (m, size))
        wigner = o3.Irrep(l, 1).D_from_matrix(rotation).to(x.dtype)
        blocks.append(torch.einsum("ij,bmj...->bmi...", wigner, part).flatten(1, 2))
        start += m * size
    return torch.cat(blocks, dim=1)


@pytest.mark.parametrize("l_in, l_out", [(0, 1), (1, 1), (1, 2), (2, 0)])
def test_basis_kernels_satisfy_the_steerability_constraint_on_the_lattice(l_in, l_out):
    basis = steerable_basis(l_in, l_out, 5)
    assert basis.shape[1:] == (2 * l_out + 1, 2 * l_in + 1, 5, 5, 5) and basis.shape[0] > 0
    torch.testing.assert_close(basis.flatten(1).norm(dim=1), torch.ones(basis.shape[0], dtype=torch.float64))
    d_in = o3.Irrep(l_in, 1).D_from_matrix(QUARTER_DH)
    d_out = o3.Irrep(l_out, 1).D_from_matrix(QUARTER_DH)
    # K(Rx) = D_out K(x) D_inᵀ; rot90 of the lattice gives K(R⁻¹x) = D_outᵀ K(x) D_in.
    turned = torch.rot90(basis, 1, dims=(3, 4))
    expected = torch.einsum("ji,bjk...,kl->bil...", d_out, basis, d_in)
    torch.testing.assert_close(turned, expected, rtol=0, atol=1e-6)  # e3nn's D is float32-accurate


def test_odd_couplings_are_kept_so_mirror_images_differ():
    assert steerable_basis(1, 1, 3).shape[0] == 1 + 3  # ring 0: l_f = 0; ring 1: l_f = 0, 1, 2
    cross = o3.wigner_3j(1, 1, 1)  # antisymmetric: the coupling of a cross product
    torch.testing.assert_close(cross, -cross.transpose(0, 1))


def test_steerable_convolution_is_equivariant_for_vector_fields():
    conv = _build(lambda: SteerableConv3d((2, 2, 1), (3, 2, 2), 5)).double()
    mults_in, mults_out = (2, 2, 1), (3, 2, 2)
    x = torch.randn(2, 2 + 6 + 5, 8, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for turns in (1, 2, 3):
        torch.testing.assert_close(
            conv(_rotate_fields(x, mults_in, turns)), _rotate_fields(conv(x), mults_out, turns), rtol=0, atol=1e-5
        )
    # The check can fail: a spatial rotation alone does not commute with it.
    assert (conv(torch.rot90(x, 1, dims=(2, 3))) - torch.rot90(conv(x), 1, dims=(2, 3))).abs().max() > 1e-3


@pytest.mark.parametrize("dims", [(2, 3), (3, 4), (2, 4)])
def test_network_logits_are_invariant_to_quarter_turns_about_every_axis(dims):
    net = _build(lambda: SteerableCNN(1, 8))
    x = torch.randn(2, 1, 16, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = net(x)
        for turns in (1, 2, 3):
            torch.testing.assert_close(net(torch.rot90(x, turns, dims=dims)), logits, rtol=0, atol=2e-5)


def test_readout_has_pseudo_scalars_that_flip_under_inversion():
    # Inversion x -> -x maps scalar fields s(x) to s(-x) and (true) vector
    # fields v(x) to -v(-x): dot products stay, triple products change sign.
    net = _build(lambda: SteerableCNN(1, 8, fields=((2, 3),), kernel_size=3))
    fields = torch.randn(2, 2 + 9, 6, 6, 6, generator=torch.Generator().manual_seed(5))
    inverted = torch.flip(fields, dims=(2, 3, 4))
    inverted[:, 2:] *= -1
    plain, mirrored = net.readout(fields), net.readout(inverted)
    n_even = 2 + 6  # two scalars, six dot products (pairs i <= j of three vectors)
    torch.testing.assert_close(mirrored[:, :n_even], plain[:, :n_even])
    torch.testing.assert_close(mirrored[:, n_even:], -plain[:, n_even:])
    assert plain.shape == (2, n_even + 1) and plain[:, n_even:].abs().min() > 1e-3


def test_rotations_off_the_lattice_change_features_far_less_than_a_plain_cnn():
    # Analytically rotated shapes (block centres rotated before rendering).
    rng = np.random.default_rng(0)
    centres = (TETRIS3D_SHAPES - TETRIS3D_SHAPES.mean(1, keepdims=True)) * 3.0
    rotated = centres @ random_rotations(8, rng).transpose(0, 2, 1)
    X, X_rot = (torch.from_numpy(render_blocks(c, 16, 1.5)) for c in (centres, rotated))

    def relative_change(features):
        with torch.no_grad():
            a, b = features(X), features(X_rot)
        return float((a - b).norm(dim=1).mean() / (a - a.mean(0)).norm(dim=1).mean())

    steerable = np.mean([relative_change(_build(lambda: SteerableCNN(1, 8), s).features) for s in range(3)])
    plain = np.mean([relative_change(_build(lambda: CNN3D(1, 8), s)) for s in range(3)])
    assert steerable < 0.5 * plain, (steerable, plain)


def test_gaussian_pool_commutes_with_quarter_turns_and_skips_odd_grids():
    x = torch.randn(1, 2, 8, 8, 8, generator=torch.Generator().manual_seed(3))
    pooled = gaussian_pool(x)
    assert pooled.shape == (1, 2, 4, 4, 4)
    torch.testing.assert_close(gaussian_pool(torch.rot90(x, 1, dims=(3, 4))), torch.rot90(pooled, 1, dims=(3, 4)))
    torch.testing.assert_close(pooled.mean(), x.mean(), atol=0.05, rtol=0)  # a normalised low-pass
    odd = torch.zeros(1, 1, 5, 5, 5)
    assert gaussian_pool(odd) is odd


@pytest.mark.parametrize("kernel_size", [*bad_integers(3), 4, -1])
def test_kernel_size_follows_the_integer_rule(kernel_size):
    with pytest.raises(ValueError, match=names_the_value("kernel_size", kernel_size)):
        SteerableConv3d((1,), (1,), kernel_size)
    conv = _build(lambda: SteerableConv3d((1,), (1,), np.int64(1)))
    assert conv.kernel_size == 1 and conv(torch.randn(1, 1, 3, 3, 3)).shape == (1, 1, 3, 3, 3)
