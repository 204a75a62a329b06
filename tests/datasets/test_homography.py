import pickle

import numpy as np
import pytest
import scipy.linalg
import torch

from skniso.datasets import (
    HOMNIST_SCALES,
    SL3_BASIS,
    RandomHomography,
    homography_matrices,
    load_mnist,
    make_homnist_pairs,
    make_homnist_test,
    warp_homography,
)
from skniso.datasets._homography import (
    _check_random_state,
    _warp_clamped_bilinear,
    sample_haar_coefficients,
    sl3_dvol,
)

from ..integer_rule import bad_integers, names_the_value


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist()
    # A few digits of every class (the bundled set is sorted by class).
    pick = np.arange(0, 5000, 500)[:, None] + np.arange(2)[None, :]
    pick = pick.ravel()
    return X[pick], y[pick]


def _blob_images(n=3, size=40, centre=(14.0, 22.0), width=4.0):
    """Smooth Gaussian blobs on a -1 background, shape (n, 1, size, size)."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    blob = np.exp(
        -((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * width**2)
    )
    image = 2.0 * blob - 1.0
    return torch.tensor(np.repeat(image[None, None], n, axis=0), dtype=torch.float32)


# --------------------------------------------------------------------------
# Basis and matrices
# --------------------------------------------------------------------------


def test_basis_order_and_tracelessness():
    assert SL3_BASIS.shape == (8, 3, 3)
    assert SL3_BASIS.dtype == np.float64
    np.testing.assert_allclose(np.trace(SL3_BASIS, axis1=1, axis2=2), 0, atol=1e-15)
    e = np.eye(3)
    expected = [
        np.outer(e[0], e[0]) - np.eye(3) / 3,
        np.outer(e[0], e[1]),
        np.outer(e[0], e[2]),
        np.outer(e[1], e[0]),
        np.outer(e[1], e[1]) - np.eye(3) / 3,
        np.outer(e[1], e[2]),
        np.outer(e[2], e[0]),
        np.outer(e[2], e[1]),
    ]
    np.testing.assert_array_equal(SL3_BASIS, np.stack(expected))
    # Linearly independent: they span the 8-dimensional sl(3).
    assert np.linalg.matrix_rank(SL3_BASIS.reshape(8, 9)) == 8
    assert not SL3_BASIS.flags.writeable


def test_scales():
    assert HOMNIST_SCALES == (0.15, 0.35, 0.17, 0.35, 0.15, 0.17, 0.15, 0.15)


def test_homography_matrices_numpy_and_torch():
    rng = np.random.default_rng(0)
    coefficients = 0.3 * rng.standard_normal((5, 8))
    H_np = homography_matrices(coefficients)
    assert isinstance(H_np, np.ndarray) and H_np.shape == (5, 3, 3)
    for c, H in zip(coefficients, H_np):
        np.testing.assert_allclose(
            H, scipy.linalg.expm(np.tensordot(c, SL3_BASIS, 1)), atol=1e-12
        )
    np.testing.assert_allclose(np.linalg.det(H_np), 1.0, atol=1e-10)

    H_t = homography_matrices(torch.tensor(coefficients, dtype=torch.float32))
    assert isinstance(H_t, torch.Tensor) and H_t.dtype == torch.float32
    np.testing.assert_allclose(H_t.numpy(), H_np, atol=1e-5)
    np.testing.assert_allclose(homography_matrices(np.zeros(8)), np.eye(3))


def test_homography_matrices_rejects_bad_shape():
    with pytest.raises(ValueError, match="length 8"):
        homography_matrices(np.zeros((2, 7)))


# --------------------------------------------------------------------------
# Differentiable warp
# --------------------------------------------------------------------------


def test_identity_warp_is_noop():
    images = torch.rand(4, 2, 40, 32, generator=torch.Generator().manual_seed(0))
    warped = warp_homography(images, torch.eye(3).expand(4, 3, 3))
    torch.testing.assert_close(warped, images, atol=1e-5, rtol=0)
    # A single shared (3, 3) matrix is broadcast, and numpy round-trips.
    np.testing.assert_allclose(
        warp_homography(images.numpy(), np.eye(3)), images.numpy(), atol=1e-5
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_warp_preserves_dtype(dtype):
    images = torch.zeros(2, 1, 8, 8, dtype=dtype)
    assert warp_homography(images, torch.eye(3)).dtype == dtype


def test_translation_moves_pattern_in_expected_direction():
    size, shift_px = 40, 3
    images = torch.full((1, 1, size, size), -1.0)
    images[0, 0, 20, 10] = 1.0
    step = 2.0 * shift_px / (size - 1)  # pixels -> normalised units
    # B3 = e1 e3^T: the sampling location moves down the rows by `step`,
    # so content moves up by `shift_px` rows.
    coefficients = torch.zeros(2, 8, dtype=torch.float64)
    coefficients[0, 2] = step
    coefficients[1, 5] = step  # B6 = e2 e3^T: same along columns
    H = homography_matrices(coefficients)
    warped = warp_homography(images.expand(2, 1, size, size), H)
    row_shifted = torch.nonzero(warped[0, 0] > 0.99).tolist()
    col_shifted = torch.nonzero(warped[1, 0] > 0.99).tolist()
    assert row_shifted == [[20 - shift_px, 10]]
    assert col_shifted == [[20, 10 - shift_px]]
    # Content pulled in from outside the image takes the image minimum (-1).
    assert torch.all(warped[0, 0, -shift_px:] == -1.0)


def test_out_of_bounds_takes_per_channel_minimum():
    images = torch.zeros(1, 2, 10, 10)
    images[0, 0] += 0.5
    images[0, 0, 5, 5] = 0.25  # min of channel 0
    images[0, 1] -= 0.75  # min of channel 1
    H = homography_matrices(torch.tensor([[0, 0, 5.0, 0, 0, 0, 0, 0]]))
    warped = warp_homography(images, H)
    assert torch.all(warped[0, 0] == 0.25)
    assert torch.all(warped[0, 1] == -0.75)


def test_warp_is_differentiable():
    images = _blob_images(2).requires_grad_(True)
    coefficients = torch.tensor(
        [[0.05, 0.1, 0.1, 0.0, 0.0, -0.1, 0.05, 0.0]] * 2,
        dtype=torch.float32,
        requires_grad=True,
    )
    warped = warp_homography(images, homography_matrices(coefficients))
    warped.square().mean().backward()
    for grad in (images.grad, coefficients.grad):
        assert grad is not None
        assert torch.isfinite(grad).all()
        assert grad.abs().sum() > 0


def test_inverse_homography_recovers_interior():
    images = _blob_images(2, centre=(19.0, 21.0), width=5.0)
    coefficients = torch.tensor(
        [
            [0.05, 0.1, 0.08, -0.05, 0.02, -0.06, 0.05, -0.04],
            [-0.08, -0.1, -0.05, 0.1, 0.06, 0.08, -0.05, 0.06],
        ],
        dtype=torch.float64,
    )
    H = homography_matrices(coefficients)
    # warp(warp(x, H), G)(p) = x(H G p): G = H^-1 undoes the first warp.
    recovered = warp_homography(warp_homography(images, H), torch.linalg.inv(H))
    interior = (slice(None), slice(None), slice(8, 32), slice(8, 32))
    error = (recovered[interior] - images[interior]).abs().max()
    assert error < 0.05


def test_warp_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(n, C, h, w\)"):
        warp_homography(torch.zeros(3, 8, 8), torch.eye(3))
    with pytest.raises(ValueError, match="H must have shape"):
        warp_homography(torch.zeros(3, 1, 8, 8), torch.eye(3).expand(2, 3, 3))
    with pytest.raises(TypeError, match="floating-point"):
        warp_homography(torch.zeros(1, 1, 8, 8, dtype=torch.int64), torch.eye(3))


# --------------------------------------------------------------------------
# RandomHomography
# --------------------------------------------------------------------------


def test_random_homography_seeded_and_shape():
    x = _blob_images(4)
    transform = RandomHomography()
    a = transform(x, torch.Generator().manual_seed(0))
    b = transform(x, torch.Generator().manual_seed(0))
    c = transform(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    # Independent draws per sample: identical inputs get different warps.
    assert not torch.allclose(a[0], a[1])
    # An int seed behaves like a freshly seeded generator.
    torch.testing.assert_close(transform(x, 0), a, rtol=0, atol=0)


def test_random_homography_leaves_global_rng_alone():
    x = _blob_images(2)
    transform = RandomHomography()
    before = torch.random.get_rng_state()
    transform(x, torch.Generator().manual_seed(3))
    transform(x)  # generator=None must not fall back on the global RNG
    transform.sample_coefficients(5)
    assert torch.equal(before, torch.random.get_rng_state())


def test_random_homography_return_matrices_and_coefficients():
    transform = RandomHomography(scale_multiplier=2.0)
    x = _blob_images(3)
    warped, H = transform(x, torch.Generator().manual_seed(0), return_matrices=True)
    assert warped.shape == x.shape and H.shape == (3, 3, 3)
    torch.testing.assert_close(warped, warp_homography(x, H))

    generator = torch.Generator().manual_seed(0)
    coefficients = transform.sample_coefficients(20000, generator)
    assert coefficients.shape == (20000, 8) and coefficients.dtype == torch.float64
    np.testing.assert_allclose(
        coefficients.std(dim=0).numpy(), 2.0 * np.array(HOMNIST_SCALES), rtol=0.05
    )
    # Zero scale multiplier gives the identity transform.
    identity = RandomHomography(scale_multiplier=0.0)
    torch.testing.assert_close(identity(x, 0), x, atol=1e-5, rtol=0)


def test_random_homography_pickle_clone_eq_repr():
    from sklearn.base import clone

    transform = RandomHomography(scale_multiplier=0.5)
    restored = pickle.loads(pickle.dumps(transform))
    assert restored == transform
    assert hash(restored) == hash(transform)
    assert clone(transform, safe=False) == transform
    assert transform != RandomHomography()
    assert "RandomHomography(" in repr(transform) and "0.5" in repr(transform)
    x = _blob_images(2)
    torch.testing.assert_close(
        restored(x, torch.Generator().manual_seed(7)),
        transform(x, torch.Generator().manual_seed(7)),
        rtol=0,
        atol=0,
    )


def test_random_homography_rejects_bad_input():
    with pytest.raises(ValueError, match="8"):
        RandomHomography(scales=(0.1,) * 7)
    with pytest.raises(ValueError, match="non-negative"):
        RandomHomography(scales=(-0.1,) + (0.1,) * 7)
    with pytest.raises(ValueError, match="scale_multiplier"):
        RandomHomography(scale_multiplier=-1.0)
    with pytest.raises(TypeError, match="scale_multiplier"):
        RandomHomography(scale_multiplier="big")
    transform = RandomHomography()
    with pytest.raises(TypeError, match="torch.Tensor"):
        transform(np.zeros((1, 1, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(n, C, h, w\)"):
        transform(torch.zeros(1, 8, 8))
    with pytest.raises(TypeError, match="generator"):
        transform(torch.zeros(1, 1, 8, 8), generator="seed")
    # Seeds are integers, numpy's too, of either sign; a bool or a float is no seed.
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(transform(x, generator=np.int64(-3)), transform(x, generator=-3), rtol=0, atol=0)
    for seed in (True, 3.0):
        with pytest.raises(TypeError, match="generator"):
            transform(x, generator=seed)


def test_integer_seeds_follow_the_rule():
    np.testing.assert_array_equal(_check_random_state(np.int64(0)).random(3), np.random.default_rng(0).random(3))
    with pytest.raises(ValueError, match=names_the_value("random_state", -1)):
        _check_random_state(-1)
    for seed in (True, 3.0):
        with pytest.raises(TypeError, match="random_state"):
            _check_random_state(seed)


@pytest.mark.parametrize("n", bad_integers(2, minimum=0))
def test_sample_coefficients_n_follows_the_integer_rule(n):
    with pytest.raises(ValueError, match=names_the_value("n", n)):
        RandomHomography().sample_coefficients(n, generator=0)
    assert RandomHomography().sample_coefficients(np.int64(0), generator=0).shape == (0, 8)


# --------------------------------------------------------------------------
# Haar sampler and homNIST test set
# --------------------------------------------------------------------------


def test_dvol_at_zero_and_against_integral_form():
    assert sl3_dvol(np.zeros(8)) == pytest.approx(1.0, abs=1e-15)
    # sum_k A^k/(k+1)! = int_0^1 expm(tA) dt, the top-right block of
    # expm([[A, I], [0, 0]]); for small v the 10-term truncation is exact
    # to rounding.
    from skniso.datasets._homography import _SL3_AD

    rng = np.random.default_rng(0)
    v = 0.2 * rng.standard_normal(8)
    ad_v = np.tensordot(v, _SL3_AD, 1)
    block = np.zeros((16, 16))
    block[:8, :8] = -ad_v
    block[:8, 8:] = np.eye(8)
    expected = abs(np.linalg.det(scipy.linalg.expm(block)[:8, 8:]))
    assert sl3_dvol(v) == pytest.approx(expected, rel=1e-9)
    # ad_v really is the adjoint: ad_v applied to B_j's coordinates gives [v, B_j].
    V = np.tensordot(v, SL3_BASIS, 1)
    for j in range(8):
        commutator = V @ SL3_BASIS[j] - SL3_BASIS[j] @ V
        np.testing.assert_allclose(
            np.tensordot(ad_v[:, j], SL3_BASIS, 1), commutator, atol=1e-12
        )
    assert sl3_dvol(rng.standard_normal((4, 3, 8))).shape == (4, 3)


def test_haar_sampler_seeded_and_deterministic():
    state = np.random.get_state()[1].copy()
    a = sample_haar_coefficients(64, random_state=0)
    b = sample_haar_coefficients(64, random_state=0)
    c = sample_haar_coefficients(64, random_state=1)
    d = sample_haar_coefficients(64, random_state=np.random.RandomState(0))
    assert a.shape == (64, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.isfinite(d).all()
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_haar_sampler_is_wider_than_one_step():
    # Every sample takes at least one walk step, so its spread is at least the
    # single-step spread 0.5 * sqrt(2) * scales of two Gaussian increments.
    x = sample_haar_coefficients(4000, random_state=0)
    ratio = x.std(axis=0) / (0.5 * np.array(HOMNIST_SCALES))
    assert np.all(ratio > 1.3)


def test_make_homnist_test_shapes_order_and_range(digits):
    images, labels = digits
    X, y, H = make_homnist_test(
        images, labels, n_transforms=3, random_state=0, return_matrices=True
    )
    n = len(images)
    assert X.shape == (n * 3, 1, 40, 40) and X.dtype == np.float32
    assert y.shape == (n * 3,) and y.dtype == np.int64
    assert H.shape == (n * 3, 3, 3)
    np.testing.assert_array_equal(y, np.repeat(labels, 3))
    assert X.min() >= -1.0 and X.max() <= 1.0
    np.testing.assert_allclose(np.linalg.det(H), 1.0, atol=1e-8)
    # Fixed default seed.
    X2, _ = make_homnist_test(images, labels, n_transforms=3)
    np.testing.assert_array_equal(X, X2)


def test_make_homnist_test_is_digit_major():
    # Digit i is a centred square of brightness level[i]: every transform of
    # digit i keeps that level visible, so row i*T + j must show level[i].
    levels = np.array([-0.5, 0.0, 0.5, 1.0])
    images = np.full((4, 1, 40, 40), -1.0)
    for i, level in enumerate(levels):
        images[i, 0, 10:30, 10:30] = level
    X, y = make_homnist_test(images, np.arange(4), n_transforms=5, random_state=2)
    brightest = X.reshape(20, -1).max(axis=1)
    np.testing.assert_allclose(brightest, np.repeat(levels, 5), atol=1e-6)
    np.testing.assert_array_equal(y, np.repeat(np.arange(4), 5))


def test_test_warp_matches_training_warp_convention(digits):
    images = digits[0][:4].astype(np.float64)
    u = homography_matrices(sample_haar_coefficients(4, random_state=5))
    u_inv = np.linalg.inv(u)
    reference = _warp_clamped_bilinear(images, np.arange(4), u_inv, fill_value=-1.0)
    differentiable = warp_homography(torch.from_numpy(images), torch.from_numpy(u_inv))
    # Same coordinates and interpolation; they only differ in tiny border
    # conventions, which fall on background for padded digits.
    np.testing.assert_allclose(reference, differentiable.numpy(), atol=1e-5)


def test_make_homnist_test_rejects_bad_input(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="n_transforms"):
        make_homnist_test(images, labels, n_transforms=0)
    with pytest.raises(ValueError, match="labels has"):
        make_homnist_test(images, labels[:-1])
    with pytest.raises(ValueError, match="shape"):
        make_homnist_test(images[:, 0, 0])
    with pytest.raises(ValueError, match="without images"):
        make_homnist_test(labels=labels)
    with pytest.raises(TypeError, match="random_state"):
        make_homnist_test(images, labels, random_state="zero")


# --------------------------------------------------------------------------
# Training pairs
# --------------------------------------------------------------------------


def test_make_homnist_pairs(digits):
    images, labels = digits
    X, y = make_homnist_pairs(images=images, labels=labels, random_state=0)
    assert X.shape == (len(images), 2, 1, 40, 40) and X.dtype == np.float32
    np.testing.assert_array_equal(X[:, 0], images)
    np.testing.assert_array_equal(y, labels)
    assert X.min() >= -1.0 and X.max() <= 1.0
    assert not np.allclose(X[:, 0], X[:, 1])

    X_again, _ = make_homnist_pairs(images=images, labels=labels, random_state=0)
    np.testing.assert_array_equal(X, X_again)
    X_other, _ = make_homnist_pairs(images=images, labels=labels, random_state=1)
    assert not np.allclose(X[:, 1], X_other[:, 1])


def test_make_homnist_pairs_subsampling(digits):
    images, labels = digits
    X, y = make_homnist_pairs(5, images=images, labels=labels, random_state=0)
    assert X.shape == (5, 2, 1, 40, 40) and y.shape == (5,)
    # View 0 is one of the inputs, with the matching label.
    for view0, label in zip(X[:, 0], y):
        match = np.flatnonzero((images == view0).all(axis=(1, 2, 3)))
        assert match.size >= 1 and labels[match[0]] == label
    with pytest.raises(ValueError, match="replace=True"):
        make_homnist_pairs(len(images) + 1, images=images, labels=labels)
    X_big, y_big = make_homnist_pairs(
        len(images) + 5, images=images, labels=labels, replace=True, random_state=0
    )
    assert X_big.shape[0] == len(images) + 5
    X_nolabel, y_none = make_homnist_pairs(images=images, random_state=0)
    assert y_none is None and X_nolabel.shape[0] == len(images)
    with pytest.raises(ValueError, match="n_samples"):
        make_homnist_pairs(0, images=images)


def test_make_homnist_pairs_default_data():
    X, y = make_homnist_pairs(3, random_state=0)
    assert X.shape == (3, 2, 1, 40, 40) and y.shape == (3,)


def test_test_warp_matches_literal_reference_formula():
    # Per-pixel transcription of the published recipe: grid linspace(-1, 1)
    # with rows first, sample at A [a, b, 1] / w, index (a' + 1) / 2 * (S - 1),
    # bilinear with corner indices clamped *before* the weights are formed
    # (in the zero-background [0, 1] space, mapped back to [-1, 1]).
    rng = np.random.default_rng(0)
    size = 12
    image01 = rng.uniform(size=(size, size))
    A = np.linalg.inv(
        homography_matrices(sample_haar_coefficients(1, random_state=3) * 3)[0]
    )
    grid = np.linspace(-1, 1, size)
    expected = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            p = A @ np.array([grid[i], grid[j], 1.0])
            x = (p[0] / p[2] + 1) / 2 * (size - 1)
            y = (p[1] / p[2] + 1) / 2 * (size - 1)
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            x1, y1 = x0 + 1, y0 + 1
            x0, x1 = np.clip([x0, x1], 0, size - 1)
            y0, y1 = np.clip([y0, y1], 0, size - 1)
            expected[i, j] = (
                (x1 - x) * (y1 - y) * image01[x0, y0]
                + (x1 - x) * (y - y0) * image01[x0, y1]
                + (x - x0) * (y1 - y) * image01[x1, y0]
                + (x - x0) * (y - y0) * image01[x1, y1]
            )
    images = (2 * image01 - 1)[None, None]
    got = _warp_clamped_bilinear(images, np.array([0]), A[None], fill_value=-1.0)
    np.testing.assert_allclose(got[0, 0], 2 * expected - 1, atol=1e-6)
    # The warp is non-trivial: a good share of pixels fall outside.
    assert 0 < np.mean(got == -1.0) < 0.9
