"""Input pipeline: one `tf.data.Dataset` of training batches for every data source.

`make_dataset` reads the `data` section of a config:

- `dataset`: a toy density (`TOY_DATASETS`), a TFDS dataset (`TFDS_DATASETS`)
  or a local source (`LOCAL_DATASETS`):
  - `"idx"`: an IDX images file, or a folder with MNIST-style
    `train-images-idx3-ubyte[.gz]` and `t10k-images-idx3-ubyte[.gz]`.
  - `"array"`: a `.npy` or `.npz` file.
  - `"folder"`: a folder of PNG, JPEG, BMP or GIF files, searched recursively.
- `path`: file or folder of a local source.
- `data_dir`: TFDS data folder, `""` for the TFDS default.
- `split`: `"train"` or `"test"`. TFDS also accepts its other splits and slices
  such as `"train[:10%]"`. Array files, image folders and single IDX files
  have no splits, so they ignore it.
- `image_size`: side of the square images fed to the model.
- `channels`: 1 or 3.
- `num_examples`: number of examples used, the first ones of the source, or
  0 for all of them. For a toy density it is the number of points drawn once
  from the seed.
- `shuffle_buffer`: `tf.data` shuffle buffer size, 0 for no shuffling.

Images become float32 in [-1, 1], channels-last, resized (bilinear,
antialiased when downscaling) so that the shorter side is `image_size`,
center-cropped to `image_size x image_size`, and converted to `channels`
(grayscale to RGB by repetition, RGB to grayscale by ITU-R 601-2 luma). Toy
points keep their coordinates. Images are kept as uint8 in memory where the
source is uint8 and scaled to [-1, 1] per batch.
"""

import collections
import os
import warnings

import numpy as np
import tensorflow as tf

from tf_ebm.data import idx
from tf_ebm.data import local
from tf_ebm.data import tfds_data
from tf_ebm.data import toy

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "LOCAL_DATASETS",
    "element_shape",
    "load_examples",
    "make_dataset",
    "prepare_images",
    "scale_images",
    "validate_data_config",
]

LOCAL_DATASETS = ("idx", "array", "folder")
DATASETS = toy.TOY_DATASETS + tfds_data.TFDS_DATASETS + LOCAL_DATASETS

DATA_FIELDS = (
    "dataset",
    "path",
    "data_dir",
    "split",
    "image_size",
    "channels",
    "num_examples",
    "shuffle_buffer",
)
MIN_IMAGE_SIZE = 8
CHANNELS = (1, 3)
# Splits of toy densities and of IDX folders.
BASIC_SPLITS = ("train", "test")

# Streamed TFDS images are cached in memory, as uint8 after resizing, when
# they take at most this many bytes. This is a fixed limit, not a check of the
# memory available.
TFDS_CACHE_MAX_BYTES = 2 * 1024**3

# Images resized per call when preparing in-memory arrays.
_PREPARE_CHUNK_SIZE = 2048

DatasetInfo = collections.namedtuple(
    "DatasetInfo",
    [
        "dataset",  # tf.data.Dataset of float32 batches (batch_size,) + element_shape.
        "num_examples",  # Examples in one pass over the data.
        "element_shape",  # Shape of one example, (2,) or (image_size, image_size, channels).
    ],
)


def validate_data_config(data_config):
    """Check the `data` config fields without loading data.

    Local sources are checked to exist on disk, but nothing is read.

    Args:
      data_config: `ml_collections.ConfigDict` or any object with the
        attributes listed in the module docstring.

    Raises:
      ValueError: naming the first invalid field, its value and the allowed
        values.
      FileNotFoundError: if `path` of a local source does not exist.
    """
    for field in DATA_FIELDS:
        if not hasattr(data_config, field):
            raise ValueError(
                f"The data config has no field `data.{field}`; expected the fields "
                f"{list(DATA_FIELDS)}."
            )

    dataset = data_config.dataset
    if dataset not in DATASETS:
        raise ValueError(
            f"Invalid `data.dataset` {dataset!r}; expected one of {list(DATASETS)}."
        )
    _check_split(data_config, data_config.split)

    num_examples = data_config.num_examples
    if not _is_int(num_examples) or num_examples < 0:
        raise ValueError(
            "`data.num_examples` must be an integer >= 0 (0 uses all examples), "
            f"got {num_examples!r}."
        )
    if dataset in toy.TOY_DATASETS and num_examples == 0:
        raise ValueError(
            f"`data.num_examples` must be positive for the toy dataset {dataset!r} "
            "because it is the number of points drawn, got 0."
        )
    shuffle_buffer = data_config.shuffle_buffer
    if not _is_int(shuffle_buffer) or shuffle_buffer < 0:
        raise ValueError(
            "`data.shuffle_buffer` must be an integer >= 0 (0 disables shuffling), "
            f"got {shuffle_buffer!r}."
        )
    if dataset in toy.TOY_DATASETS:
        return

    image_size = data_config.image_size
    if not _is_int(image_size) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"`data.image_size` must be an integer >= {MIN_IMAGE_SIZE}, got {image_size!r}."
        )
    channels = data_config.channels
    if not _is_int(channels) or channels not in CHANNELS:
        raise ValueError(f"`data.channels` must be one of {CHANNELS}, got {channels!r}.")
    data_dir = data_config.data_dir
    if data_dir is not None and not isinstance(data_dir, str):
        raise ValueError(
            f"`data.data_dir` must be a string ('' for the TFDS default), got {data_dir!r}."
        )

    if dataset in LOCAL_DATASETS:
        path = data_config.path
        if not isinstance(path, str) or not path:
            raise ValueError(
                f"`data.path` must name a file or folder for `data.dataset` {dataset!r}, "
                f"got {path!r}."
            )
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"`data.path` not found: {path} (for `data.dataset` {dataset!r})."
            )


def element_shape(data_config):
    """Return the shape of one example without loading data.

    Returns:
      `(2,)` for toy densities, else `(image_size, image_size, channels)`.
    """
    if data_config.dataset in toy.TOY_DATASETS:
        return (2,)
    return (data_config.image_size, data_config.image_size, data_config.channels)


def load_examples(data_config, split=None, seed=0):
    """Load a whole dataset into memory as a numpy array.

    Meant for small data, tests and plots: a large TFDS dataset is read whole.

    Args:
      data_config: the `data` config, see the module docstring.
      split: split to load, or None for `data_config.split`.
      seed: integer seed of the toy points. `make_dataset` with the same seed
        draws the same points.

    Returns:
      float32 array of shape `(N,) + element_shape(data_config)`: images in
      [-1, 1] or toy points as drawn.
    """
    validate_data_config(data_config)
    split = _resolve_split(data_config, split)
    if data_config.dataset in tfds_data.TFDS_DATASETS:
        images, _ = _tfds_images(data_config, split)
        batches = [batch.numpy() for batch in images.batch(_PREPARE_CHUNK_SIZE)]
        return scale_images(np.concatenate(batches))
    examples = _load_in_memory(data_config, split, seed)
    if examples.dtype == np.uint8:
        return scale_images(examples)
    return examples


def make_dataset(data_config, batch_size, seed, repeat=True, split=None):
    """Build the batched input pipeline.

    The pipeline shuffles with a buffer of `data_config.shuffle_buffer`
    examples, batches with `drop_remainder=True` and prefetches with
    `tf.data.AUTOTUNE`. With `repeat=True` it repeats forever, reshuffling
    every pass. In-memory sources (toy, IDX, arrays, folders) are sliced from
    one array. TFDS images are cached in memory after resizing when they fit in
    `TFDS_CACHE_MAX_BYTES`.

    Args:
      data_config: the `data` config, see the module docstring.
      batch_size: global batch size, at most the number of examples.
      seed: integer seed for the toy points and the shuffle order.
      repeat: repeat forever for training, or make a single pass.
      split: split to load, or None for `data_config.split`.

    Returns:
      `DatasetInfo(dataset, num_examples, element_shape)` whose dataset yields
      float32 tensors of shape `(batch_size,) + element_shape`.

    Raises:
      ValueError: if a config field is invalid, `batch_size` is not a positive
        integer or is larger than the number of examples.
    """
    validate_data_config(data_config)
    if not _is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}.")
    split = _resolve_split(data_config, split)
    shape = element_shape(data_config)

    if data_config.dataset in tfds_data.TFDS_DATASETS:
        dataset, num_examples = _tfds_images(data_config, split)
        _check_batch_size(batch_size, num_examples, data_config, split)
        num_bytes = num_examples * int(np.prod(shape))
        if num_bytes <= TFDS_CACHE_MAX_BYTES:
            dataset = dataset.cache()
    else:
        examples = _load_in_memory(data_config, split, seed)
        num_examples = len(examples)
        _check_batch_size(batch_size, num_examples, data_config, split)
        # NOTE: the from_tensor_slices docstring (TF 2.21) warns that outside
        # eager execution arrays over about 1 GB become graph constants and can
        # exceed graph serialization limits. No test covers arrays that large.
        dataset = tf.data.Dataset.from_tensor_slices(examples)

    if data_config.shuffle_buffer > 0:
        dataset = dataset.shuffle(
            min(data_config.shuffle_buffer, num_examples),
            seed=seed,
            reshuffle_each_iteration=True,
        )
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if dataset.element_spec.dtype == tf.uint8:
        dataset = dataset.map(scale_images, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return DatasetInfo(dataset=dataset, num_examples=num_examples, element_shape=shape)


def scale_images(images):
    """Map uint8 images in [0, 255] to float32 in [-1, 1].

    Accepts numpy arrays (returning numpy) and tensors (returning tensors).
    """
    if isinstance(images, np.ndarray):
        return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def prepare_images(images, image_size, channels, source="the image array"):
    """Resize, center-crop and convert the channels of an in-memory image array.

    Args:
      images: numpy array of shape `(N, H, W)` or `(N, H, W, C)` with `C` in
        (1, 3). uint8 images are in [0, 255]. Floating images may be in
        [0, 1], [-1, 1] or [0, 255], and other integer images in [0, 255].
      image_size: side of the square output images.
      channels: 1 or 3.
      source: file or folder the images came from, used in error messages.

    Returns:
      Array of shape `(N, image_size, image_size, channels)`: uint8 for uint8
      input, else float32 in [-1, 1].

    Raises:
      ValueError: if the values are outside the ranges above.
    """
    if images.ndim == 3:
        images = images[..., np.newaxis]
    keep_uint8 = images.dtype == np.uint8
    if not keep_uint8:
        images = _to_unit_range(images, source)

    height, width, input_channels = images.shape[1:]
    if (height, width, input_channels) == (image_size, image_size, channels):
        return images
    chunks = []
    for start in range(0, len(images), _PREPARE_CHUNK_SIZE):
        chunk = tf.convert_to_tensor(images[start : start + _PREPARE_CHUNK_SIZE])
        chunk = _transform_images(chunk, image_size, channels, keep_uint8)
        chunks.append(chunk.numpy())
    return np.concatenate(chunks)


def _transform_images(images, image_size, channels, keep_uint8):
    """Resize, crop and convert a batch of images, all in one dtype range.

    uint8 input is returned as uint8 after rounding. Float input, assumed in
    [-1, 1], is returned as float32 clipped to [-1, 1].
    """
    images = tf.cast(images, tf.float32)
    if channels == 1 and images.shape[-1] == 3:
        images = tf.image.rgb_to_grayscale(images)

    height, width = images.shape[1], images.shape[2]
    if height is None or width is None or (height, width) != (image_size, image_size):
        images = _resize_and_center_crop(images, image_size)

    if channels == 3 and images.shape[-1] == 1:
        images = tf.image.grayscale_to_rgb(images)
    if keep_uint8:
        return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)
    return tf.clip_by_value(images, -1.0, 1.0)


def _resize_and_center_crop(images, image_size):
    """Resize a float batch so its shorter side is `image_size`, then center-crop."""
    shape = tf.shape(images)
    height = tf.cast(shape[1], tf.float32)
    width = tf.cast(shape[2], tf.float32)
    scale = image_size / tf.minimum(height, width)
    new_height = tf.maximum(image_size, tf.cast(tf.round(height * scale), tf.int32))
    new_width = tf.maximum(image_size, tf.cast(tf.round(width * scale), tf.int32))
    # Antialiasing only changes downscaling. Without it TF runs the faster
    # ResizeBilinear op, so it is off when static shapes show an upscale.
    static_height, static_width = images.shape[1], images.shape[2]
    antialias = static_height is None or static_width is None
    antialias = antialias or min(static_height, static_width) > image_size
    images = tf.image.resize(
        images, tf.stack([new_height, new_width]), method="bilinear", antialias=antialias
    )
    top = (new_height - image_size) // 2
    left = (new_width - image_size) // 2
    images = images[:, top : top + image_size, left : left + image_size, :]
    return tf.ensure_shape(images, [None, image_size, image_size, None])


def _to_unit_range(images, source):
    """Map a non-uint8 image array to float32 in [-1, 1], inferring its range.

    Integer arrays are read as [0, 255]. Floating arrays with negative values
    are read as [-1, 1], with values in [0, 1] as [0, 1], and with values in
    [0, 255] as [0, 255].
    """
    low = float(images.min())
    high = float(images.max())
    if np.issubdtype(images.dtype, np.integer):
        if low >= 0 and high <= 255:
            return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        raise ValueError(
            f"Integer image values in {source} span [{low:g}, {high:g}]; expected [0, 255]."
        )

    images = images.astype(np.float32)
    if -1.0 <= low < 0.0 and high <= 1.0:
        return images
    # NOTE: a [-1, 1] array without negative values is read as [0, 1].
    if 0.0 <= low and high <= 1.0:
        return images * np.float32(2.0) - np.float32(1.0)
    if 0.0 <= low and high <= 255.0:
        return images / np.float32(127.5) - np.float32(1.0)
    raise ValueError(
        f"Floating image values in {source} span [{low:g}, {high:g}]; expected [0, 1], "
        "[-1, 1] or [0, 255]."
    )


def _load_in_memory(data_config, split, seed):
    """Load a toy, IDX, array or folder source as one prepared numpy array."""
    dataset = data_config.dataset
    num_examples = data_config.num_examples
    if dataset in toy.TOY_DATASETS:
        return _sample_toy_split(dataset, num_examples, seed, split)

    image_size = data_config.image_size
    channels = data_config.channels
    if dataset == "folder":
        return local.load_image_folder(
            data_config.path, image_size=image_size, channels=channels, max_images=num_examples
        )

    if dataset == "idx":
        path = data_config.path
        if os.path.isdir(path):
            path = idx.find_idx_images(path, split)
        images = idx.read_idx(path)
        local.check_image_array(images, path)
    else:
        path = data_config.path
        images = local.load_array(path)
    images = _take(images, num_examples, path)
    return prepare_images(images, image_size, channels, source=path)


def _sample_toy_split(name, num_examples, seed, split):
    """Draw toy points, from the stream of `sample_toy` for the train split."""
    if split == "train":
        return toy.sample_toy(name, num_examples, seed)
    stateless_seed = tf.constant([int(seed) % (2**31 - 1), 1], dtype=tf.int32)
    points = toy.toy_distribution(name).sample(num_examples, seed=stateless_seed)
    return points.numpy().astype(np.float32)


def _tfds_images(data_config, split):
    """Stream prepared TFDS images (uint8) and count them."""
    images = tfds_data.load_tfds(
        data_config.dataset, split=split, data_dir=data_config.data_dir or None
    )
    num_examples = images.num_examples
    dataset = images.dataset
    if data_config.num_examples > 0:
        num_examples = _limit_count(num_examples, data_config.num_examples, data_config.dataset)
        dataset = dataset.take(num_examples)

    def prepare(image):
        batch = _transform_images(
            image[tf.newaxis], data_config.image_size, data_config.channels, keep_uint8=True
        )
        return batch[0]

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, num_examples


def _take(images, num_examples, source):
    if num_examples > 0:
        return images[: _limit_count(len(images), num_examples, source)]
    return images


def _limit_count(available, requested, source):
    if requested > available:
        warnings.warn(
            f"`data.num_examples` is {requested} but {source} has {available} "
            f"examples; using all {available}.",
            stacklevel=3,
        )
        return available
    return requested


def _check_batch_size(batch_size, num_examples, data_config, split):
    if batch_size > num_examples:
        raise ValueError(
            f"`batch_size` {batch_size} is larger than the {num_examples} examples of "
            f"`data.dataset` {data_config.dataset!r} (split {split!r}); batches drop the "
            f"remainder, so no batch would be produced. Use a `batch_size` of at most "
            f"{num_examples}, or more examples (`data.num_examples` 0 uses all)."
        )


def _resolve_split(data_config, split):
    if split is None:
        return data_config.split
    _check_split(data_config, split)
    return split


def _check_split(data_config, split):
    if not isinstance(split, str) or not split:
        raise ValueError(f"`data.split` must be a non-empty string, got {split!r}.")
    dataset = data_config.dataset
    path = data_config.path
    idx_folder = dataset == "idx" and isinstance(path, str) and os.path.isdir(path)
    if (dataset in toy.TOY_DATASETS or idx_folder) and split not in BASIC_SPLITS:
        raise ValueError(
            f"Invalid `data.split` {split!r} for `data.dataset` {dataset!r}; expected "
            f"one of {list(BASIC_SPLITS)}."
        )


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
