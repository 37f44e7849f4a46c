"""Reader for IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file starts with a 4-byte magic number: two zero bytes, a type code and
the number of dimensions. Each dimension follows as a big-endian unsigned
32-bit integer, then the data in C order and big-endian byte order. Files are
often gzipped; `read_idx` recognizes gzip by its magic bytes `1f 8b`, whatever
the file name.
"""

import gzip
import os
import zlib

import numpy as np

__all__ = [
    "IDX_DTYPES",
    "find_idx_images",
    "read_idx",
]

# IDX type code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

# Image file stems per split, as MNIST and Fashion-MNIST name them.
_IDX_IMAGE_STEMS = {
    "train": "train-images",
    "test": "t10k-images",
}


def read_idx(path):
    """Read an IDX file, gzipped or not, into a numpy array.

    Args:
      path: path of the file.

    Returns:
      Array with the dimensions stored in the header and the native-endian
      dtype matching the IDX type code (uint8 for MNIST images and labels).

    Raises:
      FileNotFoundError: if `path` does not exist.
      ValueError: if the gzip stream is corrupt, the magic number or the type
        code is invalid, or the data is shorter or longer than the header
        promises.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as file:
        content = file.read()

    if content[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"Corrupt gzip stream in IDX file {path}: {err}") from err

    if len(content) < 4:
        raise ValueError(
            f"Truncated IDX file {path}: expected a 4-byte magic number, found "
            f"{len(content)} bytes."
        )
    if content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"Invalid IDX magic number in {path}: expected bytes 00 00 <type> "
            f"<ndim>, found {content[:4].hex(' ')}. The file is not an IDX file."
        )

    type_code = content[2]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(
            f"Unknown IDX type code 0x{type_code:02X} in {path}; expected one of "
            f"{known}."
        )
    dtype = IDX_DTYPES[type_code]

    ndim = content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"Truncated IDX file {path}: the header of {ndim} dimensions needs "
            f"{header_size} bytes, found {len(content)}."
        )
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", count=ndim, offset=4))

    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found_bytes = len(content) - header_size
    if found_bytes < expected_bytes:
        raise ValueError(
            f"Truncated IDX file {path}: shape {shape} of {dtype.name} needs "
            f"{expected_bytes} data bytes, found {found_bytes}."
        )
    if found_bytes > expected_bytes:
        raise ValueError(
            f"Trailing data in IDX file {path}: shape {shape} of {dtype.name} "
            f"needs {expected_bytes} data bytes, found {found_bytes} "
            f"({found_bytes - expected_bytes} extra)."
        )

    count = expected_bytes // dtype.itemsize
    array = np.frombuffer(content, dtype, count=count, offset=header_size)
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def find_idx_images(folder, split):
    """Find the IDX image file of `split` in `folder`.

    The names tried are `train-images-idx3-ubyte` for `"train"` and
    `t10k-images-idx3-ubyte` for `"test"`, with `-idx3` or `.idx3` and with or
    without a `.gz` suffix.

    Args:
      folder: folder with MNIST-style IDX files.
      split: `"train"` or `"test"`.

    Returns:
      Path of the first matching file.

    Raises:
      ValueError: if `split` is not `"train"` or `"test"`.
      FileNotFoundError: if `folder` does not exist or has no matching file.
    """
    if split not in _IDX_IMAGE_STEMS:
        raise ValueError(
            f"Invalid split {split!r} for an IDX folder; expected one of "
            f"{sorted(_IDX_IMAGE_STEMS)}."
        )
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"IDX folder not found: {folder}")

    stem = _IDX_IMAGE_STEMS[split]
    candidates = [
        f"{stem}{separator}idx3-ubyte{suffix}"
        for separator in ("-", ".")
        for suffix in ("", ".gz")
    ]
    for name in candidates:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"No IDX images for split {split!r} in {folder}; expected one of "
        f"{candidates}."
    )
