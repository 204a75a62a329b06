import numpy as np
import pytest
import torch

from skniso.datasets import CircularShift, make_circular_shifts, make_circular_shifts_1d

from ..integer_rule import bad_integers, names_the_value


def test_circular_shifts_2d_shapes_and_roll():
    X, shifts = make_circular_shifts(
        20, image_size=6, n_channels=3, return_shifts=True, random_state=0
    )
    assert X.shape == (20, 2, 3, 6, 6) and X.dtype == np.float32
    assert shifts.shape == (20, 2) and shifts.dtype == np.int64
    assert shifts.min() >= 0 and shifts.max() <= 5
    for pair, (dy, dx) in zip(torch.from_numpy(X), shifts):
        expected = torch.roll(pair[0], shifts=(int(dy), int(dx)), dims=(-2, -1))
        assert torch.equal(pair[1], expected)
    # Default fields are smooth periodic images scaled to [-1, 1].
    assert np.abs(X).max() <= 1.0 + 1e-6
    np.testing.assert_allclose(np.abs(X[:, 0]).max(axis=(-2, -1)), 1.0, atol=1e-6)


def test_circular_shifts_defaults():
    X = make_circular_shifts(random_state=0)
    assert X.shape == (512, 2, 1, 8, 8)


def test_circular_shifts_seeding():
    a = make_circular_shifts(8, random_state=1)
    b = make_circular_shifts(8, random_state=1)
    c = make_circular_shifts(8, random_state=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    d = make_circular_shifts(8, random_state=np.random.default_rng(1))
    assert d.shape == a.shape
    state = np.random.get_state()[1].copy()
    make_circular_shifts(8)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_circular_shifts_max_shift_and_source():
    source = np.random.default_rng(0).standard_normal((4, 2, 5, 7))
    X, shifts = make_circular_shifts(
        50, source=source, max_shift=1, return_shifts=True, random_state=0
    )
    assert X.shape == (50, 2, 2, 5, 7)
    assert shifts.min() >= -1 and shifts.max() <= 1
    # View 0 is always one of the source images.
    for view0 in X[:, 0]:
        assert np.any(np.all(np.isclose(source, view0, atol=1e-6), axis=(1, 2, 3)))
    for pair, (dy, dx) in zip(torch.from_numpy(X), shifts):
        assert torch.equal(pair[1], torch.roll(pair[0], (int(dy), int(dx)), (-2, -1)))
    # A channel-less source and torch input both work.
    X_t = make_circular_shifts(3, source=torch.zeros(2, 5, 5), random_state=0)
    assert X_t.shape == (3, 2, 1, 5, 5)


def test_circular_shifts_1d():
    X, shifts = make_circular_shifts_1d(30, return_shifts=True, random_state=0)
    assert X.shape == (30, 2, 1, 24) and X.dtype == np.float32
    assert shifts.shape == (30,) and shifts.dtype == np.int64
    for pair, shift in zip(torch.from_numpy(X), shifts):
        assert torch.equal(pair[1], torch.roll(pair[0], int(shift), dims=-1))
    X2 = make_circular_shifts_1d(4, length=10, n_channels=2, random_state=0)
    assert X2.shape == (4, 2, 2, 10)
    np.testing.assert_array_equal(
        X2, make_circular_shifts_1d(4, length=10, n_channels=2, random_state=0)
    )
    X3 = make_circular_shifts_1d(3, source=np.ones((2, 9)), random_state=0)
    assert X3.shape == (3, 2, 1, 9)


def test_circular_shifts_bad_input():
    with pytest.raises(ValueError, match="n_samples"):
        make_circular_shifts(0)
    with pytest.raises(ValueError, match="image_size"):
        make_circular_shifts(2, image_size=-3)
    with pytest.raises(ValueError, match="max_shift"):
        make_circular_shifts(2, max_shift=-1)
    with pytest.raises(ValueError, match="source"):
        make_circular_shifts(2, source=np.zeros((5, 5)))
    with pytest.raises(ValueError, match="does not match"):
        make_circular_shifts(2, image_size=4, source=np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="n_channels"):
        make_circular_shifts(2, n_channels=3, source=np.zeros((1, 1, 5, 5)))
    with pytest.raises(TypeError, match="random_state"):
        make_circular_shifts(2, random_state="zero")
    with pytest.raises(ValueError, match="length"):
        make_circular_shifts_1d(2, length=0)


@pytest.mark.parametrize("value", bad_integers(1, minimum=0))
def test_max_shift_follows_the_integer_rule(value):
    with pytest.raises(ValueError, match=names_the_value("max_shift", value)):
        make_circular_shifts(2, max_shift=value)
    with pytest.raises(ValueError, match=names_the_value("max_shift", value)):
        CircularShift(max_shift=value)(torch.zeros(2, 1, 4, 4))
    # The minimum, 0, as a numpy integer: no shift at all.
    X = make_circular_shifts(2, max_shift=np.int64(0), random_state=0)
    np.testing.assert_array_equal(X[:, 0], X[:, 1])
    x = torch.randn(2, 1, 4, 4)
    assert torch.equal(CircularShift(max_shift=np.int64(0))(x), x)


@pytest.mark.parametrize("value", bad_integers(1, maximum=2))
def test_circular_shift_n_axes_follows_the_integer_rule(value):
    x = torch.randn(2, 1, 4, 4)
    with pytest.raises(ValueError, match=names_the_value("n_axes", value)):
        CircularShift(n_axes=value)(x)
    # The minimum, 1, as a numpy integer: the rows stay rows.
    rolled = CircularShift(n_axes=np.int64(1))(x)
    assert torch.equal(rolled.sort(dim=-1).values, x.sort(dim=-1).values)


def test_circular_shift_seeds_are_integers():
    x = torch.randn(4, 1, 6, 6)
    assert torch.equal(CircularShift()(x, np.int64(3)), CircularShift()(x, 3))
    for seed in (True, 3.0):
        with pytest.raises(TypeError):
            CircularShift()(x, seed)
