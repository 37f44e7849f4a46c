"""Tests of the numpy array and image folder loaders."""

import os

import numpy as np
import pytest
from PIL import Image

from tf_ebm.data import local


def _save_image(path, array, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return str(path)


# Arrays.


@pytest.mark.parametrize(
    "shape, dtype",
    [((5, 6, 7), np.uint8), ((5, 6, 7, 1), np.uint8), ((5, 6, 7, 3), np.float32)],
)
def test_load_array_npy(tmp_path, shape, dtype):
    array = np.random.default_rng(0).integers(0, 256, size=shape).astype(dtype)
    path = str(tmp_path / "images.npy")
    np.save(path, array)
    result = local.load_array(path)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, array)


def test_load_array_npz_single_array(tmp_path):
    array = np.ones((2, 4, 4), np.uint8)
    path = str(tmp_path / "images.npz")
    np.savez(path, pictures=array)
    np.testing.assert_array_equal(local.load_array(path), array)


@pytest.mark.parametrize("image_key", ["x", "images", "arr_0"])
def test_load_array_npz_known_key(tmp_path, image_key):
    images = np.full((3, 4, 4), 7, np.uint8)
    path = str(tmp_path / "data.npz")
    np.savez(path, labels=np.arange(3), **{image_key: images})
    np.testing.assert_array_equal(local.load_array(path), images)


def test_load_array_npz_explicit_key(tmp_path):
    images = np.full((3, 4, 4), 9, np.uint8)
    path = str(tmp_path / "data.npz")
    np.savez(path, x=np.zeros((3, 4, 4), np.uint8), faces=images)
    np.testing.assert_array_equal(local.load_array(path, key="faces"), images)


def test_load_array_npz_ambiguous_keys(tmp_path):
    path = str(tmp_path / "data.npz")
    np.savez(path, faces=np.zeros((3, 4, 4)), labels=np.arange(3))
    with pytest.raises(ValueError) as error:
        local.load_array(path)
    message = str(error.value)
    assert path in message
    assert "['faces', 'labels']" in message
    assert "Pass `key`" in message


def test_load_array_npz_missing_key(tmp_path):
    path = str(tmp_path / "data.npz")
    np.savez(path, faces=np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=r"Key 'x' not found in .*keys \['faces'\]"):
        local.load_array(path, key="x")


def test_load_array_npy_rejects_key(tmp_path):
    path = str(tmp_path / "images.npy")
    np.save(path, np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="single array; pass key=None"):
        local.load_array(path, key="x")


@pytest.mark.parametrize("shape", [(10, 2), (10,), (2, 3, 4, 5, 6), (2, 8, 8, 2), (2, 8, 8, 4)])
def test_load_array_wrong_shape(tmp_path, shape):
    path = str(tmp_path / "points.npy")
    np.save(path, np.zeros(shape, np.float32))
    with pytest.raises(ValueError) as error:
        local.load_array(path)
    message = str(error.value)
    assert f"Invalid image array shape {shape}" in message
    assert path in message
    assert "(N, H, W) or (N, H, W, C) with C in (1, 3)" in message


def test_load_array_rejects_non_numeric(tmp_path):
    path = str(tmp_path / "strings.npy")
    np.save(path, np.full((2, 3, 3), "a"))
    with pytest.raises(ValueError, match="Invalid image array dtype <U1"):
        local.load_array(path)


def test_load_array_rejects_empty(tmp_path):
    path = str(tmp_path / "empty.npy")
    np.save(path, np.zeros((0, 3, 3), np.uint8))
    with pytest.raises(ValueError, match=r"Empty image array of shape \(0, 3, 3\)"):
        local.load_array(path)


def test_load_array_not_numpy_file(tmp_path):
    path = tmp_path / "notes.npy"
    path.write_text("not an array")
    with pytest.raises(ValueError) as error:
        local.load_array(str(path))
    assert f"Failed to read array file {path}" in str(error.value)


def test_load_array_missing_file(tmp_path):
    path = str(tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError, match="Array file not found: .*absent.npz"):
        local.load_array(path)


# Image folders.


def test_load_image_folder_formats_recursive(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, size=(6, 6), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    _save_image(tmp_path / "a.png", rgb)
    _save_image(tmp_path / "b.BMP", rgb)
    _save_image(tmp_path / "sub" / "c.png", gray)
    flat_color = np.full((6, 6, 3), (200, 100, 50), np.uint8)
    _save_image(tmp_path / "sub" / "d.jpg", flat_color, quality=95)
    _save_image(tmp_path / "sub" / "deeper" / "e.gif", gray)
    (tmp_path / "readme.txt").write_text("not an image")

    images = local.load_image_folder(str(tmp_path), channels=3)

    assert images.shape == (5, 6, 6, 3)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], rgb)
    np.testing.assert_array_equal(images[1], rgb)
    np.testing.assert_array_equal(images[2], np.repeat(gray[..., None], 3, axis=-1))
    # JPEG is lossy, but a flat color survives it within a few levels.
    assert np.abs(images[3].astype(int) - flat_color).max() <= 3
    np.testing.assert_array_equal(images[4], np.repeat(gray[..., None], 3, axis=-1))


def test_load_image_folder_grayscale(tmp_path):
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    _save_image(tmp_path / "red.png", red)
    images = local.load_image_folder(str(tmp_path), channels=1)
    assert images.shape == (1, 4, 4, 1)
    # ITU-R 601-2 luma of pure red: 255 * 299 / 1000.
    np.testing.assert_array_equal(images, np.full((1, 4, 4, 1), 76, np.uint8))


def test_load_image_folder_resize_and_crop(tmp_path):
    # A 20x10 (width x height) image: left and right quarters black, middle white.
    wide = np.zeros((10, 20), np.uint8)
    wide[:, 5:15] = 255
    _save_image(tmp_path / "wide.png", wide)
    _save_image(tmp_path / "square.png", np.full((16, 16), 128, np.uint8))

    images = local.load_image_folder(str(tmp_path), image_size=8, channels=1)

    assert images.shape == (2, 8, 8, 1)
    square, cropped = images[0, ..., 0], images[1, ..., 0]
    np.testing.assert_array_equal(square, np.full((8, 8), 128, np.uint8))
    # Resized to 16x8, the white band covers columns 4..11, so the center
    # crop keeps the band, with filtered edges in its outer columns.
    assert np.all(cropped[:, 1:7] == 255)


def test_load_image_folder_mixed_sizes_need_image_size(tmp_path):
    _save_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    _save_image(tmp_path / "b.png", np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError) as error:
        local.load_image_folder(str(tmp_path), channels=1)
    message = str(error.value)
    assert "b.png is 4x5" in message
    assert "a.png is 4x4" in message
    assert "pass `image_size`" in message


def test_load_image_folder_max_images(tmp_path):
    for index in range(4):
        _save_image(tmp_path / f"{index}.png", np.full((3, 3), index, np.uint8))
    images = local.load_image_folder(str(tmp_path), channels=1, max_images=2)
    assert images.shape == (2, 3, 3, 1)
    np.testing.assert_array_equal(images[:, 0, 0, 0], [0, 1])


def test_load_image_folder_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError) as error:
        local.load_image_folder(str(tmp_path))
    message = str(error.value)
    assert f"No image files found in folder {tmp_path}" in message
    assert ".png" in message


def test_load_image_folder_unreadable_file(tmp_path):
    _save_image(tmp_path / "good.png", np.zeros((4, 4), np.uint8))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    with pytest.raises(ValueError) as error:
        local.load_image_folder(str(tmp_path))
    assert f"Failed to read image file {broken}" in str(error.value)


def test_load_image_folder_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        local.load_image_folder(str(tmp_path / "absent"))


def test_load_image_folder_invalid_channels(tmp_path):
    with pytest.raises(ValueError, match="`channels` must be 1 or 3, got 4"):
        local.load_image_folder(str(tmp_path), channels=4)
