"""Loaders for image data on local disk: numpy arrays and image folders.

Both loaders return whole datasets in memory as numpy arrays of shape
`(N, H, W)` or `(N, H, W, C)`. `tf_ebm.data.pipeline` converts them to float32
in [-1, 1] at the requested size.
"""

import os

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError

__all__ = [
    "ARRAY_KEYS",
    "IMAGE_EXTENSIONS",
    "check_image_array",
    "list_image_files",
    "load_array",
    "load_image_folder",
]

# Keys tried in order when an .npz file stores several arrays and no key is given.
ARRAY_KEYS = ("x", "images", "arr_0")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

_ACCEPTED_SHAPES = "(N, H, W) or (N, H, W, C) with C in (1, 3)"


def load_array(path, key=None):
    """Load an image array from a `.npy` or `.npz` file.

    For an `.npz` file the array is `key` when given, else the only array in
    the file, else the first of `ARRAY_KEYS` present in the file.

    Args:
      path: path of a file written by `numpy.save` or `numpy.savez`.
      key: name of the array in an `.npz` file, or None.

    Returns:
      Numeric array of shape `(N, H, W)` or `(N, H, W, C)` with `C` in (1, 3),
      as stored (usually uint8 or float).

    Raises:
      FileNotFoundError: if `path` does not exist.
      ValueError: if the file is not a numpy file, `key` is missing, no array
        can be chosen, or the array is not a numeric image array.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Array file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(
            f"Failed to read array file {path}: {err}. Expected a .npy or .npz "
            "file written by numpy.save or numpy.savez."
        ) from err

    if isinstance(loaded, np.ndarray):
        if key is not None:
            raise ValueError(
                f"`key` is {key!r} but {path} is a .npy file with a single array; "
                "pass key=None."
            )
        array = loaded
    else:
        with loaded:
            array = _select_npz_array(loaded, path, key)

    check_image_array(array, path)
    return array


def check_image_array(array, source):
    """Check that `array` is a numeric image array of an accepted shape.

    Args:
      array: numpy array.
      source: file or folder the array came from, used in error messages.

    Raises:
      ValueError: if `array` is empty, not numeric, or not of shape `(N, H, W)`
        or `(N, H, W, C)` with `C` in (1, 3).
    """
    shape = tuple(array.shape)
    if array.ndim not in (3, 4) or (array.ndim == 4 and shape[-1] not in (1, 3)):
        raise ValueError(
            f"Invalid image array shape {shape} in {source}; expected "
            f"{_ACCEPTED_SHAPES}."
        )
    if array.size == 0:
        raise ValueError(f"Empty image array of shape {shape} in {source}.")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"Invalid image array dtype {array.dtype} in {source}; expected an "
            "integer (usually uint8) or floating dtype."
        )


def list_image_files(path):
    """List the image files under folder `path`, recursively and sorted.

    Files count as images by extension, case-insensitively: `IMAGE_EXTENSIONS`.
    """
    files = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                files.append(os.path.join(root, name))
    return files


def load_image_folder(path, image_size=None, channels=3, max_images=0):
    """Load every image under a folder, recursively, with Pillow.

    Files are read in sorted path order. A GIF contributes its first frame and
    an alpha channel is dropped. When `image_size` is given, each image is
    resized with Pillow's antialiased bilinear filter so that its shorter side
    is `image_size` and then center-cropped to `image_size x image_size`.

    Args:
      path: folder with PNG, JPEG, BMP or GIF files in it or in subfolders.
      image_size: side of the square output images, or None to keep the stored
        size, which then has to be the same for every image.
      channels: 1 for grayscale (ITU-R 601-2 luma, Pillow's mode "L") or 3 for
        RGB.
      max_images: read only the first `max_images` files when positive.

    Returns:
      uint8 array of shape `(N, H, W, channels)`.

    Raises:
      FileNotFoundError: if `path` is not a folder.
      ValueError: if `channels` is not 1 or 3, the folder has no image files, a
        file cannot be read as an image, or, with `image_size=None`, the images
        differ in size.
    """
    path = os.fspath(path)
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3, got {channels!r}.")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Image folder not found: {path}")

    files = list_image_files(path)
    if not files:
        raise ValueError(
            f"No image files found in folder {path}; expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)} (any case), in the folder or its "
            "subfolders."
        )
    if max_images > 0:
        files = files[:max_images]

    mode = "L" if channels == 1 else "RGB"
    images = []
    for file_path in files:
        image = _read_image(file_path, mode)
        if image_size is not None:
            image = _resize_and_center_crop(image, image_size)
        if images and image.size != images[0].size:
            first_width, first_height = images[0].size
            width, height = image.size
            raise ValueError(
                f"Image {file_path} is {width}x{height} but {files[0]} is "
                f"{first_width}x{first_height}; pass `image_size` to resize "
                "all images to one size."
            )
        images.append(image)

    array = np.stack([np.asarray(image, dtype=np.uint8) for image in images])
    return array.reshape(array.shape[:3] + (channels,))


def _select_npz_array(npz_file, path, key):
    keys = list(npz_file.files)
    if key is not None:
        if key not in keys:
            raise ValueError(f"Key {key!r} not found in {path}; the file contains keys {keys}.")
        return npz_file[key]
    if len(keys) == 1:
        return npz_file[keys[0]]
    for candidate in ARRAY_KEYS:
        if candidate in keys:
            return npz_file[candidate]
    raise ValueError(
        f"Cannot choose an array in {path}: it contains keys {keys} and none of "
        f"{list(ARRAY_KEYS)}. Pass `key`, or save the images under the key 'x'."
    )


def _read_image(file_path, mode):
    try:
        with Image.open(file_path) as image:
            image.seek(0)
            return image.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(f"Failed to read image file {file_path}: {err}") from err


def _resize_and_center_crop(image, image_size):
    width, height = image.size
    scale = image_size / min(width, height)
    new_width = max(image_size, round(width * scale))
    new_height = max(image_size, round(height * scale))
    if (new_width, new_height) != (width, height):
        image = image.resize((new_width, new_height), Image.Resampling.BILINEAR)
    left = (new_width - image_size) // 2
    top = (new_height - image_size) // 2
    return image.crop((left, top, left + image_size, top + image_size))
