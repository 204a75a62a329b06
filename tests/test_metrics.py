import numpy as np
import pytest

from skniso.metrics import (
    block_energy,
    block_mask,
    block_sparsity,
    eigenvalue_blocks,
    equivariance_error,
    gram_invariance_ratio,
    off_block_energy,
    shift_operators,
    subspace_invariance_error,
)

from .integer_rule import names_the_value


def random_orthogonal(rng, n, k):
    q, r = np.linalg.qr(rng.standard_normal((n, k, k)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]


def rotation(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def block_diag(*blocks):
    k = sum(b.shape[0] for b in blocks)
    out = np.zeros((k, k))
    start = 0
    for b in blocks:
        out[start:start + b.shape[0], start:start + b.shape[0]] = b
        start += b.shape[0]
    return out


def fourier_modes(grid_shape, frequencies):
    """Orthonormal real cos/sin modes of the given frequencies on a periodic grid."""
    coords = np.meshgrid(*[np.arange(s) for s in grid_shape], indexing="ij")
    columns = []
    for freq in frequencies:
        phase = sum(2 * np.pi * f * c / s for f, c, s in zip(freq, coords, grid_shape))
        if not any(freq):
            columns.append(np.ones(grid_shape).ravel())
        else:
            columns += [np.cos(phase).ravel(), np.sin(phase).ravel()]
    basis = np.stack(columns, axis=1)
    return basis / np.linalg.norm(basis, axis=0)


# -- equivariance_error ----------------------------------------------------------
def test_equivariance_error_hand_computed():
    tau = np.eye(2)[None]
    source = np.array([[[1.0], [0.0]]])
    target = np.array([[[0.0], [1.0]]])
    # ‖I·e1 − e2‖ / ‖e2‖ = √2.
    np.testing.assert_allclose(equivariance_error(tau, source, target), [np.sqrt(2)])
    # The 90° rotation maps e1 onto e2 exactly.
    np.testing.assert_allclose(equivariance_error(rotation(np.pi / 2)[None], source, target), [0.0], atol=1e-15)


def test_equivariance_error_batched_and_relative():
    rng = np.random.default_rng(0)
    tau = random_orthogonal(rng, 5, 4)
    source = rng.standard_normal((5, 4, 3))
    target = tau @ source
    np.testing.assert_allclose(equivariance_error(tau, source, target), np.zeros(5), atol=1e-12)
    noisy = target + 0.1 * target  # residual is 0.1 ‖B̂‖/1.1 relative to the noisy target
    np.testing.assert_allclose(equivariance_error(tau, source, noisy), np.full(5, 0.1 / 1.1))
    # A single (K, K) τ with (K, C) latents returns a float.
    value = equivariance_error(tau[0], source[0], target[0])
    assert isinstance(value, float) and value < 1e-12
    # One (K, K) τ is applied to every sample of a batch.
    errors = equivariance_error(tau[0], source, tau[0] @ source)
    assert errors.shape == (5,) and errors.max() < 1e-12


def test_equivariance_error_zero_target():
    tau = np.eye(2)[None]
    zero = np.zeros((1, 2, 1))
    assert equivariance_error(tau, zero, zero)[0] == 0.0
    assert np.isinf(equivariance_error(tau, np.ones((1, 2, 1)), zero)[0])


@pytest.mark.parametrize(
    "tau,source,target",
    [
        (np.eye(3)[None], np.ones((1, 2, 4)), np.ones((1, 2, 4))),  # K mismatch
        (np.eye(2)[None], np.ones((1, 2, 4)), np.ones((1, 2, 3))),  # source/target differ
        (np.eye(2)[None].repeat(2, 0), np.ones((3, 2, 4)), np.ones((3, 2, 4))),  # n mismatch
        (np.ones((2, 3)), np.ones((2, 1)), np.ones((2, 1))),  # τ not square
        (np.ones((1, 1, 2, 2)), np.ones((1, 2, 1)), np.ones((1, 2, 1))),  # τ 4-D
    ],
)
def test_equivariance_error_bad_shapes(tau, source, target):
    with pytest.raises(ValueError):
        equivariance_error(tau, source, target)


def test_equivariance_error_transfer_between_pair_sets():
    # τ solved on one pair set, scored on other samples under the same transformations.
    rng = np.random.default_rng(5)
    tau = random_orthogonal(rng, 6, 4)
    other_source = rng.standard_normal((6, 4, 3))
    np.testing.assert_allclose(equivariance_error(tau, other_source, tau @ other_source), 0.0, atol=1e-12)
    # τ that also depends on the sample (an extra per-sample rotation) does not transfer.
    per_sample = random_orthogonal(rng, 6, 4) @ tau
    assert np.all(equivariance_error(tau, other_source, per_sample @ other_source) > 0.1)


# -- gram_invariance_ratio -----------------------------------------------------------
def test_gram_invariance_ratio_zero_under_orthogonal_maps():
    rng = np.random.default_rng(6)
    source = rng.standard_normal((20, 5, 3))
    target = random_orthogonal(rng, 20, 5) @ source  # a different Q for every sample
    other = source[np.roll(np.arange(20), 1)]
    assert gram_invariance_ratio(source, target, other) == pytest.approx(0.0, abs=1e-12)
    # A non-orthogonal map moves the Gram matrices.
    stretched = np.diag([2.0, 1.0, 1.0, 1.0, 1.0]) @ source
    assert gram_invariance_ratio(source, stretched, other) > 0.1
    # Swapping the sample for the comparison one scores exactly 1.
    assert gram_invariance_ratio(source, other, other) == pytest.approx(1.0)


def test_gram_invariance_ratio_hand_computed():
    # K = 2, C = 1: G = ‖e‖².  Sample 0: source e1 (G = 1), target 2·e1 (G = 4), other 0 (G = 0).
    # Sample 1: source e2 (G = 1), target e1 (G = 1, a rotation), other 3·e2 (G = 9).
    source = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])
    target = np.array([[[2.0], [0.0]], [[1.0], [0.0]]])
    other = np.array([[[0.0], [0.0]], [[0.0], [3.0]]])
    # mean(|4 − 1|, |1 − 1|) / mean(|0 − 1|, |9 − 1|) = 1.5 / 4.5
    assert gram_invariance_ratio(source, target, other) == pytest.approx(1 / 3)
    # C = 2: the off-diagonal entries count too.  G(source) = I, G(target) = [[1, 1], [1, 1]].
    source = np.eye(2)[None]
    target = np.array([[[1.0, 1.0], [0.0, 0.0]]])
    other = 2 * np.eye(2)[None]  # G(other) = 4·I
    # ‖[[0, 1], [1, 0]]‖_F / ‖4·I − I‖_F = √2 / (3√2)
    assert gram_invariance_ratio(source, target, other) == pytest.approx(1 / 3)
    assert gram_invariance_ratio(source, source, other) == 0.0


def test_gram_invariance_ratio_accepts_lists_and_float32():
    source = np.eye(2, dtype=np.float32)[None].tolist()
    value = gram_invariance_ratio(source, source, 2 * np.eye(2, dtype=np.float32)[None])
    assert isinstance(value, float) and value == 0.0


@pytest.mark.parametrize(
    "source,target,other,match",
    [
        (np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((2, 3, 5)), "same shape"),
        (np.ones((2, 3, 4)), np.ones((1, 3, 4)), np.ones((2, 3, 4)), "same shape"),
        (np.ones((3, 4)), np.ones((3, 4)), 2 * np.ones((3, 4)), r"\(n, K, C\)"),
        (np.ones((1, 2, 3, 4)), np.ones((1, 2, 3, 4)), 2 * np.ones((1, 2, 3, 4)), r"\(n, K, C\)"),
        (np.ones((0, 3, 4)), np.ones((0, 3, 4)), np.ones((0, 3, 4)), "n >= 1"),
        (np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((2, 3, 4)), "undefined"),
        (np.zeros((2, 3, 4)), np.ones((2, 3, 4)), np.zeros((2, 3, 4)), "undefined"),
        (np.full((2, 3, 4), np.nan), np.ones((2, 3, 4)), 2 * np.ones((2, 3, 4)), "source contains NaN"),
        (np.ones((2, 3, 4)), np.full((2, 3, 4), np.inf), 2 * np.ones((2, 3, 4)), "target contains NaN"),
        (np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.full((2, 3, 4), -np.inf), "other contains NaN"),
    ],
)
def test_gram_invariance_ratio_bad_inputs(source, target, other, match):
    with pytest.raises(ValueError, match=match):
        gram_invariance_ratio(source, target, other)


def test_gram_invariance_ratio_identical_up_to_rotation_is_undefined():
    # other is an orthogonal image of source: the denominator is rounding noise only.
    rng = np.random.default_rng(7)
    source = rng.standard_normal((5, 4, 3))
    other = random_orthogonal(rng, 5, 4) @ source
    with pytest.raises(ValueError, match="undefined"):
        gram_invariance_ratio(source, source + 0.1, other)


def test_gram_invariance_ratio_non_numeric():
    with pytest.raises(TypeError, match="other"):
        gram_invariance_ratio(np.ones((1, 2, 2)), np.ones((1, 2, 2)), "abc")


# -- eigenvalue_blocks -----------------------------------------------------------
def _as_lists(blocks):
    return [b.tolist() for b in blocks]


def test_eigenvalue_blocks_pairs_with_singleton():
    values = [0.0, 3.0, 3.05, 7.0, 7.1]
    assert _as_lists(eigenvalue_blocks(values)) == [[0], [1, 2], [3, 4]]


def test_eigenvalue_blocks_unsorted_input_keeps_original_indices():
    values = [7.1, 0.0, 3.05, 7.0, 3.0]
    assert _as_lists(eigenvalue_blocks(values)) == [[1], [4, 2], [3, 0]]


def test_eigenvalue_blocks_evenly_spread_are_singletons():
    assert [len(b) for b in eigenvalue_blocks(np.linspace(0, 3, 10))] == [1] * 10


def test_eigenvalue_blocks_collapsed_spectrum_is_one_block():
    values = [0.0, 1e-4, 5e-4, 1e-3]  # noise-level spread, below atol
    assert [len(b) for b in eigenvalue_blocks(values)] == [4]
    assert [len(b) for b in eigenvalue_blocks(values, atol=0.0)] != [4]
    assert [len(b) for b in eigenvalue_blocks([2.0, 2.0, 2.0])] == [3]
    assert [len(b) for b in eigenvalue_blocks([1.5])] == [1]


def test_eigenvalue_blocks_explicit_tol():
    values = [0.0, 0.5, 1.0, 4.0]
    assert [len(b) for b in eigenvalue_blocks(values, tol=0.6)] == [3, 1]
    assert [len(b) for b in eigenvalue_blocks(values, tol=0.4)] == [1, 1, 1, 1]


@pytest.mark.parametrize("kwargs", [{"tol": -1.0}, {"rtol": -0.1}, {"atol": -1.0}, {"tol": "a"}])
def test_eigenvalue_blocks_bad_tolerances(kwargs):
    with pytest.raises(ValueError):
        eigenvalue_blocks([0.0, 1.0], **kwargs)


@pytest.mark.parametrize("values", [[], [[0.0, 1.0]], [0.0, np.nan]])
def test_eigenvalue_blocks_bad_eigenvalues(values):
    with pytest.raises(ValueError):
        eigenvalue_blocks(values)


# -- block_energy ----------------------------------------------------------------
def test_block_energy_of_planted_block_diagonal_is_one():
    rng = np.random.default_rng(0)
    tau = block_diag(np.eye(1), rotation(0.3), random_orthogonal(rng, 1, 3)[0])
    blocks = [[0], [1, 2], [3, 4, 5]]
    assert block_energy(tau, blocks) == pytest.approx(1.0)
    # Same partition as a label array.
    assert block_energy(tau, np.array([0, 1, 1, 2, 2, 2])) == pytest.approx(1.0)


def test_block_energy_hand_computed():
    tau = np.array([[3.0, 1.0], [2.0, 4.0]])
    # (3² + 4²) / (9 + 1 + 4 + 16)
    assert block_energy(tau, [[0], [1]]) == pytest.approx(25 / 30)
    assert block_energy(tau, [[0, 1]]) == pytest.approx(1.0)


def test_block_energy_of_random_orthogonal_is_block_fraction():
    rng = np.random.default_rng(1)
    tau = random_orthogonal(rng, 4000, 8)
    blocks = [[0, 1], [2, 3], [4, 5], [6, 7]]
    energy = block_energy(tau, blocks)
    assert energy.shape == (4000,)
    # E[τ_ij²] = 1/K for Haar τ: the expected share is Σ|b|²/K² = 16/64.
    assert energy.mean() == pytest.approx(0.25, abs=0.01)
    assert block_energy(tau, blocks, average=True) == pytest.approx(energy.mean())


def test_block_energy_bad_blocks():
    tau = np.eye(3)
    with pytest.raises(ValueError, match="overlap"):
        block_energy(tau, [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="missing"):
        block_energy(tau, [[0, 1]])
    with pytest.raises(ValueError):
        block_energy(tau, [[0, 1], [3]])
    with pytest.raises(ValueError):
        block_energy(tau, np.array([0, 0]))


def test_block_mask():
    np.testing.assert_array_equal(
        block_mask([[0], [2, 1]], 3),
        [[True, False, False], [False, True, True], [False, True, True]],
    )


# -- off_block_energy / block_sparsity --------------------------------------------
def test_off_block_energy_block_diagonal_and_permutation():
    eigenvalues = np.array([0.0, 0.0, 5.0, 5.0])
    tau = block_diag(rotation(0.4), rotation(-1.1))
    assert off_block_energy(tau, eigenvalues) == pytest.approx(0.0, abs=1e-15)
    swap = np.zeros((4, 4))
    swap[[0, 1, 2, 3], [2, 3, 0, 1]] = 1.0  # only couples distant eigenvalues
    assert off_block_energy(swap, eigenvalues) == pytest.approx(1.0)
    assert block_sparsity(swap, eigenvalues) == pytest.approx(1.0)


def test_off_block_energy_fuzzy_threshold_hand_computed():
    # Gaps: 0.5 (mask e^-0.5 = 0.61 ≥ 0.5, on-block) and 0.8 (e^-0.8 = 0.45, off).
    tau = np.array([[1.0, 2.0], [0.0, 1.0]])
    assert off_block_energy(tau, [0.0, 0.5]) == pytest.approx(0.0)
    assert off_block_energy(tau, [0.0, 0.8]) == pytest.approx(4 / 6)
    # A higher temperature widens the blocks: e^(-0.8/2) = 0.67.
    assert off_block_energy(tau, [0.0, 0.8], temperature=2.0) == pytest.approx(0.0)
    # The hard mask counts any gap above tol.
    assert off_block_energy(tau, [0.0, 0.5], mask="hard") == pytest.approx(4 / 6)
    assert off_block_energy(tau, [0.0, 0.0], mask="hard") == pytest.approx(0.0)


def test_off_block_energy_batched():
    rng = np.random.default_rng(2)
    tau = random_orthogonal(rng, 7, 4)
    eigenvalues = [0.0, 0.1, 3.0, 3.1]
    values = off_block_energy(tau, eigenvalues)
    assert values.shape == (7,)
    np.testing.assert_allclose(values, 1.0 - block_energy(tau, [[0, 1], [2, 3]]))
    assert off_block_energy(tau, eigenvalues, average=True) == pytest.approx(values.mean())
    np.testing.assert_allclose(block_sparsity(tau, eigenvalues), values)


@pytest.mark.parametrize(
    "kwargs",
    [{"mask": "soft"}, {"temperature": 0.0}, {"threshold": 0.0}, {"threshold": 1.5}],
)
def test_off_block_energy_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        off_block_energy(np.eye(2), [0.0, 1.0], **kwargs)


def test_off_block_energy_eigenvalue_count_must_match():
    with pytest.raises(ValueError, match="must match"):
        off_block_energy(np.eye(3), [0.0, 1.0])


# -- shift operators and invariant subspaces ----------------------------------------
def test_shift_operators_match_np_roll():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 5))
    ops = shift_operators((4, 5), shifts=[(1, 0), (0, 1), (2, -1)])
    assert ops.shape == (3, 20, 20)
    for op, shift in zip(ops, [(1, 0), (0, 1), (2, -1)]):
        np.testing.assert_array_equal(op @ z.ravel(), np.roll(z, shift, axis=(0, 1)).ravel())
        np.testing.assert_array_equal(op @ op.T, np.eye(20))
    assert shift_operators((6,)).shape == (1, 6, 6)
    assert shift_operators((3, 4)).shape == (2, 12, 12)


@pytest.mark.parametrize("grid_shape", [(0, 4), (True, 4), (4.0, 4), (), 4.0])
def test_shift_operators_bad_arguments(grid_shape):
    with pytest.raises(ValueError):
        shift_operators((4, 4), shifts=[(1,)])
    with pytest.raises(ValueError, match=names_the_value("grid_shape", grid_shape)):
        shift_operators(grid_shape)
    # Integers at the minimum, numpy's too, alone or in a tuple.
    assert shift_operators((np.int64(1), 1)).shape == (2, 1, 1)
    assert shift_operators(np.int64(6)).shape == (1, 6, 6)


def test_fourier_span_is_shift_invariant():
    grid = (8, 8)
    phi = fourier_modes(grid, [(0, 0), (1, 0), (0, 1), (1, 1), (1, -1)])  # 1 + 4 pairs
    ops = shift_operators(grid, shifts=[(1, 0), (0, 1), (3, 5), (-2, 1)])
    assert subspace_invariance_error(phi, None, ops) < 1e-10
    np.testing.assert_allclose(subspace_invariance_error(phi, None, ops, average=False), 0.0, atol=1e-10)
    # A uniform mass M = 2·I with Φ rescaled to stay M-orthonormal.
    assert subspace_invariance_error(phi / np.sqrt(2.0), np.full(64, 2.0), ops) < 1e-10


def test_fourier_span_on_a_ring():
    phi = fourier_modes((24,), [(0,), (1,), (2,)])
    assert subspace_invariance_error(phi, np.ones(24), shift_operators((24,))) < 1e-10


def test_half_a_pair_is_not_invariant_hand_computed():
    # cos(2πx/8) shifted by one pixel along x: cos(θ − π/4) = cos θ cos π/4 + sin θ sin π/4,
    # so the relative part outside span{cos} is sin(π/4) = 1/√2; a shift along y leaves it
    # invariant.  Mean over the two unit shifts: 1/(2√2).
    phi = fourier_modes((8, 8), [(0, 1)])[:, :1]
    errors = subspace_invariance_error(phi, None, shift_operators((8, 8)), average=False)
    np.testing.assert_allclose(sorted(errors), [0.0, 1 / np.sqrt(2)], atol=1e-12)
    assert subspace_invariance_error(phi, None, shift_operators((8, 8))) == pytest.approx(1 / (2 * np.sqrt(2)))


def test_random_subspace_is_far_from_invariant():
    rng = np.random.default_rng(4)
    phi, _ = np.linalg.qr(rng.standard_normal((64, 8)))
    error = subspace_invariance_error(phi, None, shift_operators((8, 8)))
    # About sqrt(1 − K/N) = 0.935 for a random subspace.
    assert 0.85 < error < 1.0


def test_subspace_invariance_bad_shapes():
    phi = np.ones((16, 2))
    with pytest.raises(ValueError, match="mass"):
        subspace_invariance_error(phi, np.ones(15), np.eye(16))
    with pytest.raises(ValueError, match="positive"):
        subspace_invariance_error(phi, -np.ones(16), np.eye(16))
    with pytest.raises(ValueError, match="operator_matrices"):
        subspace_invariance_error(phi, None, np.eye(15))
    with pytest.raises(ValueError, match="eigenfunctions"):
        subspace_invariance_error(np.ones(16), None, np.eye(16))
