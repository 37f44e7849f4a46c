"""Tests of the IDX reader on small generated files and the real Fashion-MNIST files."""

import gzip
import os
import struct

import numpy as np
import pytest

from tf_ebm.data import idx

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array, type_code=None):
    """Encode `array` as IDX: magic, big-endian dimensions, big-endian data."""
    array = np.asarray(array)
    if type_code is None:
        type_code = _TYPE_CODES[array.dtype]
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, compress=False):
    content = idx_bytes(array)
    if compress:
        content = gzip.compress(content)
    with open(path, "wb") as file:
        file.write(content)
    return str(path)


def write_bytes(path, content):
    with open(path, "wb") as file:
        file.write(content)
    return str(path)


@pytest.mark.parametrize("dtype", list(_TYPE_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    array = (np.arange(2 * 3 * 4).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    suffix = ".gz" if compress else ""
    path = write_idx(tmp_path / f"data-idx3{suffix}", array, compress=compress)

    result = idx.read_idx(path)

    assert result.dtype == dtype
    assert result.dtype.isnative
    assert result.shape == (2, 3, 4)
    np.testing.assert_array_equal(result, array)


def test_read_idx_detects_gzip_by_magic(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gzipped_without_suffix = write_idx(tmp_path / "labels-idx2-ubyte", array, compress=True)
    plain_with_suffix = write_idx(tmp_path / "plain-idx2-ubyte.gz", array, compress=False)
    np.testing.assert_array_equal(idx.read_idx(gzipped_without_suffix), array)
    np.testing.assert_array_equal(idx.read_idx(plain_with_suffix), array)


def test_read_idx_one_dimension(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    path = write_idx(tmp_path / "labels-idx1-ubyte", labels)
    np.testing.assert_array_equal(idx.read_idx(path), labels)


def test_read_idx_missing_file(tmp_path):
    path = str(tmp_path / "absent-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError) as error:
        idx.read_idx(path)
    assert "IDX file not found" in str(error.value)
    assert path in str(error.value)


def test_read_idx_bad_magic(tmp_path):
    content = bytearray(idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    content[0] = 0x1F
    path = write_bytes(tmp_path / "bad-magic", bytes(content))
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    message = str(error.value)
    assert "Invalid IDX magic number" in message
    assert path in message
    assert "1f 00 08 03" in message


def test_read_idx_unknown_type_code(tmp_path):
    content = idx_bytes(np.zeros((2, 2), np.uint8), type_code=0x0A)
    path = write_bytes(tmp_path / "bad-type", content)
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    message = str(error.value)
    assert "Unknown IDX type code 0x0A" in message
    assert path in message
    assert "0x08" in message


def test_read_idx_truncated_data(tmp_path):
    content = idx_bytes(np.zeros((4, 5, 5), np.uint8))
    path = write_bytes(tmp_path / "truncated-idx3-ubyte", content[:-10])
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    message = str(error.value)
    assert "Truncated IDX file" in message
    assert path in message
    assert "needs 100 data bytes, found 90" in message


def test_read_idx_truncated_gzipped_data(tmp_path):
    content = idx_bytes(np.zeros((4, 5, 5), np.int16))
    path = write_bytes(tmp_path / "truncated.gz", gzip.compress(content[:-1]))
    with pytest.raises(ValueError, match="needs 200 data bytes, found 199"):
        idx.read_idx(path)


def test_read_idx_truncated_header(tmp_path):
    content = idx_bytes(np.zeros((4, 5, 5), np.uint8))
    path = write_bytes(tmp_path / "short-header", content[:9])
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    assert "header of 3 dimensions needs 16 bytes, found 9" in str(error.value)
    assert path in str(error.value)


def test_read_idx_empty_file(tmp_path):
    path = write_bytes(tmp_path / "empty", b"")
    with pytest.raises(ValueError, match="expected a 4-byte magic number, found 0 bytes"):
        idx.read_idx(path)


def test_read_idx_trailing_data(tmp_path):
    content = idx_bytes(np.zeros((2, 3, 3), np.uint8)) + b"junk"
    path = write_bytes(tmp_path / "trailing", content)
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    message = str(error.value)
    assert "Trailing data in IDX file" in message
    assert path in message
    assert "needs 18 data bytes, found 22 (4 extra)" in message


def test_read_idx_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    path = write_bytes(tmp_path / "cut.gz", compressed[: len(compressed) // 2])
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    assert "Corrupt gzip stream in IDX file" in str(error.value)
    assert path in str(error.value)


def test_read_idx_corrupt_gzip_stream(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32))))
    # Bytes past the 10-byte gzip header are deflate data; flipping them breaks
    # the stream or its CRC.
    for position in range(20, 40):
        compressed[position] ^= 0xFF
    path = write_bytes(tmp_path / "corrupt.gz", bytes(compressed))
    with pytest.raises(ValueError) as error:
        idx.read_idx(path)
    assert "Corrupt gzip stream in IDX file" in str(error.value)
    assert path in str(error.value)


@pytest.mark.parametrize(
    "name",
    ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte"],
)
def test_find_idx_images_names(tmp_path, name):
    write_bytes(tmp_path / name, b"")
    assert idx.find_idx_images(tmp_path, "train") == os.path.join(tmp_path, name)


def test_find_idx_images_test_split(tmp_path):
    write_bytes(tmp_path / "train-images-idx3-ubyte.gz", b"")
    write_bytes(tmp_path / "t10k-images-idx3-ubyte.gz", b"")
    path = idx.find_idx_images(tmp_path, "test")
    assert path == os.path.join(tmp_path, "t10k-images-idx3-ubyte.gz")


def test_find_idx_images_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        idx.find_idx_images(tmp_path, "test")
    message = str(error.value)
    assert str(tmp_path) in message
    assert "t10k-images-idx3-ubyte.gz" in message


def test_find_idx_images_invalid_split(tmp_path):
    with pytest.raises(ValueError, match=r"Invalid split 'validation'.*\['test', 'train'\]"):
        idx.find_idx_images(tmp_path, "validation")


def test_read_idx_real_fashion_mnist():
    path = os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")
    if not os.path.isfile(path):
        pytest.skip(
            f"{path} is absent; install it with `apt-get install -y dataset-fashion-mnist`."
        )
    images = idx.read_idx(path)
    assert images.shape == (60000, 28, 28)
    assert images.dtype == np.uint8
    # The Fashion-MNIST training images have mean pixel value 0.2860 * 255.
    assert abs(images.mean() - 72.94) < 0.01

    labels = idx.read_idx(os.path.join(FASHION_MNIST_DIR, "train-labels-idx1-ubyte.gz"))
    assert labels.shape == (60000,)
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 6000))
