"""Tests of the input pipeline on toy data, generated local files and real Fashion-MNIST."""

import gzip
import os
import struct
import types

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_ebm.data import pipeline
from tf_ebm.data import toy

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def make_config(**overrides):
    config = ml_collections.ConfigDict(
        dict(
            dataset="rings",
            path="",
            data_dir="",
            split="train",
            image_size=32,
            channels=1,
            num_examples=1000,
            shuffle_buffer=100,
        )
    )
    config.update(overrides)
    return config


def make_namespace(**overrides):
    """A plain attribute object, which unlike ConfigDict accepts any value type."""
    return types.SimpleNamespace(**{**make_config().to_dict(), **overrides})


def write_idx_images(path, images):
    header = bytes([0, 0, 0x08, images.ndim]) + struct.pack(f">{images.ndim}I", *images.shape)
    with open(path, "wb") as file:
        file.write(gzip.compress(header + images.astype(np.uint8).tobytes()))
    return str(path)


def first_batch(info):
    return next(iter(info.dataset)).numpy()


# Validation.


@pytest.mark.parametrize(
    "overrides, field, fragments",
    [
        (dict(dataset="moons"), "data.dataset", ["'moons'", "'rings'", "'mnist'", "'folder'"]),
        (dict(dataset="array", path=""), "data.path", ["'array'", "got ''"]),
        (dict(dataset="idx", path="/nonexistent/images"), "data.path", ["/nonexistent/images"]),
        (dict(dataset="mnist", image_size=4), "data.image_size", [">= 8", "got 4"]),
        (dict(dataset="mnist", image_size=32.0), "data.image_size", ["got 32.0"]),
        (dict(dataset="cifar10", channels=2), "data.channels", ["(1, 3)", "got 2"]),
        (dict(num_examples=-1), "data.num_examples", [">= 0", "got -1"]),
        (dict(num_examples=0), "data.num_examples", ["positive", "'rings'", "got 0"]),
        (dict(shuffle_buffer=-5), "data.shuffle_buffer", [">= 0", "got -5"]),
        (dict(split="validation"), "data.split", ["'validation'", "['train', 'test']"]),
        (dict(split=""), "data.split", ["non-empty", "got ''"]),
        (dict(dataset="mnist", data_dir=3), "data.data_dir", ["got 3"]),
    ],
)
def test_validate_rejects_invalid_field(overrides, field, fragments):
    config = make_namespace(**overrides)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        pipeline.validate_data_config(config)
    message = str(error.value)
    assert f"`{field}`" in message
    for fragment in fragments:
        assert fragment in message


def test_validate_missing_field():
    config = types.SimpleNamespace(dataset="rings", split="train")
    with pytest.raises(ValueError, match=r"no field `data.path`"):
        pipeline.validate_data_config(config)


def test_validate_accepts_every_dataset(tmp_path):
    write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 8, 8)))
    for name in pipeline.DATASETS:
        path = str(tmp_path) if name in pipeline.LOCAL_DATASETS else ""
        num_examples = 10 if name in toy.TOY_DATASETS else 0
        config = make_config(dataset=name, path=path, num_examples=num_examples)
        pipeline.validate_data_config(config)


def test_validate_tfds_accepts_split_slices():
    pipeline.validate_data_config(make_config(dataset="celeb_a", split="validation[:10%]"))


def test_element_shape():
    assert pipeline.element_shape(make_config()) == (2,)
    image_config = make_config(dataset="cifar10", image_size=16, channels=3)
    assert pipeline.element_shape(image_config) == (16, 16, 3)


# Toy data.


def test_make_dataset_toy_points_unscaled():
    config = make_config(dataset="gaussian_mixture", num_examples=256, shuffle_buffer=0)
    info = pipeline.make_dataset(config, batch_size=64, seed=7, repeat=False)
    batches = [batch.numpy() for batch in info.dataset]

    assert info.num_examples == 256
    assert info.element_shape == (2,)
    assert len(batches) == 4
    assert batches[0].shape == (64, 2)
    assert batches[0].dtype == np.float32
    np.testing.assert_array_equal(
        np.concatenate(batches), toy.sample_toy("gaussian_mixture", 256, seed=7)
    )


def test_load_examples_toy_matches_make_dataset():
    config = make_config(num_examples=100, shuffle_buffer=0)
    examples = pipeline.load_examples(config, seed=3)
    info = pipeline.make_dataset(config, batch_size=100, seed=3, repeat=False)
    np.testing.assert_array_equal(examples, first_batch(info))


def test_toy_test_split_differs_from_train():
    config = make_config(num_examples=50)
    train = pipeline.load_examples(config, split="train", seed=1)
    test = pipeline.load_examples(config, split="test", seed=1)
    assert test.shape == (50, 2)
    assert not np.allclose(train, test)


def test_make_dataset_repeats_forever():
    config = make_config(num_examples=10)
    info = pipeline.make_dataset(config, batch_size=4, seed=0)
    batches = [batch.numpy() for batch in info.dataset.take(7)]
    assert len(batches) == 7
    single_pass = pipeline.make_dataset(config, batch_size=4, seed=0, repeat=False)
    # 10 examples in batches of 4 drop the remainder of 2.
    assert sum(1 for _ in single_pass.dataset) == 2


def test_make_dataset_shuffle_replays_seed():
    config = make_config(num_examples=200, shuffle_buffer=200)
    first = first_batch(pipeline.make_dataset(config, batch_size=32, seed=5))
    again = first_batch(pipeline.make_dataset(config, batch_size=32, seed=5))
    unshuffled = first_batch(
        pipeline.make_dataset(make_config(num_examples=200, shuffle_buffer=0), 32, seed=5)
    )
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, unshuffled)
    # Shuffling permutes the points drawn from the seed.
    points = toy.sample_toy("rings", 200, seed=5)
    for row in first:
        assert np.any(np.all(points == row, axis=1))


def test_make_dataset_batch_too_large():
    config = make_config(num_examples=100)
    with pytest.raises(ValueError) as error:
        pipeline.make_dataset(config, batch_size=128, seed=0)
    message = str(error.value)
    assert "`batch_size` 128 is larger than the 100 examples" in message
    assert "'rings'" in message
    assert "at most 100" in message
    assert "`data.num_examples` 0 uses all" in message


@pytest.mark.parametrize("batch_size", [0, -2, 8.0])
def test_make_dataset_invalid_batch_size(batch_size):
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        pipeline.make_dataset(make_config(), batch_size=batch_size, seed=0)


def test_make_dataset_unknown_dataset():
    with pytest.raises(ValueError, match=r"Invalid `data.dataset` 'imagenet'; expected one of"):
        pipeline.make_dataset(make_namespace(dataset="imagenet"), batch_size=8, seed=0)


# Local images.


def test_make_dataset_idx_folder(tmp_path):
    train = np.zeros((6, 10, 12), np.uint8)
    train[:3] = 255
    test = np.full((4, 10, 12), 255, np.uint8)
    write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", train)
    write_idx_images(tmp_path / "t10k-images-idx3-ubyte.gz", test)
    config = make_config(
        dataset="idx", path=str(tmp_path), image_size=8, channels=3, num_examples=0, shuffle_buffer=0
    )

    info = pipeline.make_dataset(config, batch_size=6, seed=0, repeat=False)
    batch = first_batch(info)
    test_info = pipeline.make_dataset(config, batch_size=2, seed=0, split="test")

    assert info.num_examples == 6
    assert info.element_shape == (8, 8, 3)
    assert batch.shape == (6, 8, 8, 3)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch[:3], np.ones((3, 8, 8, 3), np.float32))
    np.testing.assert_array_equal(batch[3:], -np.ones((3, 8, 8, 3), np.float32))
    assert test_info.num_examples == 4


def test_make_dataset_idx_file_num_examples(tmp_path):
    path = write_idx_images(tmp_path / "images-idx3-ubyte.gz", np.zeros((20, 8, 8), np.uint8))
    config = make_config(dataset="idx", path=path, image_size=8, num_examples=12)
    info = pipeline.make_dataset(config, batch_size=4, seed=0)
    assert info.num_examples == 12
    assert first_batch(info).shape == (4, 8, 8, 1)


def test_make_dataset_idx_labels_file_rejected(tmp_path):
    path = str(tmp_path / "labels-idx1-ubyte")
    with open(path, "wb") as file:
        file.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + bytes([1, 2, 3]))
    config = make_config(dataset="idx", path=path, num_examples=0)
    with pytest.raises(ValueError) as error:
        pipeline.make_dataset(config, batch_size=1, seed=0)
    assert f"Invalid image array shape (3,) in {path}" in str(error.value)


def test_make_dataset_num_examples_above_available_warns(tmp_path):
    path = write_idx_images(tmp_path / "images-idx3-ubyte.gz", np.zeros((5, 8, 8), np.uint8))
    config = make_config(dataset="idx", path=path, image_size=8, num_examples=50)
    with pytest.warns(UserWarning, match="`data.num_examples` is 50 but .* has 5 examples"):
        info = pipeline.make_dataset(config, batch_size=5, seed=0)
    assert info.num_examples == 5


@pytest.mark.parametrize(
    "values, expected",
    [
        (np.array([0.0, 0.5, 1.0]), np.array([-1.0, 0.0, 1.0])),
        (np.array([-1.0, 0.0, 1.0]), np.array([-1.0, 0.0, 1.0])),
        (np.array([0.0, 127.5, 255.0]), np.array([-1.0, 0.0, 1.0])),
    ],
)
def test_make_dataset_float_array_ranges(tmp_path, values, expected):
    images = np.broadcast_to(values[:, None, None], (3, 8, 8)).astype(np.float32)
    path = str(tmp_path / "images.npy")
    np.save(path, images)
    config = make_config(dataset="array", path=path, image_size=8, num_examples=0, shuffle_buffer=0)
    batch = first_batch(pipeline.make_dataset(config, batch_size=3, seed=0))
    np.testing.assert_allclose(batch[:, 0, 0, 0], expected, atol=1e-6)


def test_make_dataset_array_out_of_range(tmp_path):
    path = str(tmp_path / "images.npy")
    np.save(path, np.full((3, 8, 8), 300.0, np.float32))
    config = make_config(dataset="array", path=path, image_size=8, num_examples=0)
    with pytest.raises(ValueError) as error:
        pipeline.make_dataset(config, batch_size=3, seed=0)
    message = str(error.value)
    assert f"values in {path} span [300, 300]" in message
    assert "[0, 1], [-1, 1] or [0, 255]" in message


def test_make_dataset_npz_rgb_to_gray(tmp_path):
    images = np.zeros((4, 16, 16, 3), np.uint8)
    images[..., 1] = 255
    path = str(tmp_path / "images.npz")
    np.savez(path, x=images, y=np.arange(4))
    config = make_config(dataset="array", path=path, image_size=8, channels=1, num_examples=0)
    batch = first_batch(pipeline.make_dataset(config, batch_size=4, seed=0))
    assert batch.shape == (4, 8, 8, 1)
    # Luma of pure green: round(255 * 0.587) = 150, scaled to [-1, 1].
    np.testing.assert_allclose(batch, 150 / 127.5 - 1.0, atol=1e-6)


def test_make_dataset_folder(tmp_path):
    for index in range(3):
        image = np.full((12, 20, 3), 60 * index, np.uint8)
        Image.fromarray(image).save(tmp_path / f"{index}.png")
    config = make_config(
        dataset="folder", path=str(tmp_path), image_size=8, channels=3, num_examples=0, shuffle_buffer=0
    )
    batch = first_batch(pipeline.make_dataset(config, batch_size=3, seed=0))
    assert batch.shape == (3, 8, 8, 3)
    np.testing.assert_allclose(batch[:, 0, 0, 0], np.array([0, 60, 120]) / 127.5 - 1.0, atol=1e-6)


def test_make_dataset_empty_folder(tmp_path):
    config = make_config(dataset="folder", path=str(tmp_path), image_size=8, num_examples=0)
    with pytest.raises(ValueError, match=f"No image files found in folder {tmp_path}"):
        pipeline.make_dataset(config, batch_size=1, seed=0)


# Image transforms.


def test_prepare_images_center_crop():
    # Height 8, width 24: the shorter side is already 8, so only the crop acts.
    images = np.zeros((1, 8, 24), np.uint8)
    images[:, :, 8:16] = 200
    prepared = pipeline.prepare_images(images, image_size=8, channels=1)
    assert prepared.dtype == np.uint8
    np.testing.assert_array_equal(prepared, np.full((1, 8, 8, 1), 200, np.uint8))


def test_prepare_images_resize_shorter_side():
    images = np.full((2, 28, 28), 255, np.uint8)
    prepared = pipeline.prepare_images(images, image_size=32, channels=3)
    assert prepared.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(prepared, np.full((2, 32, 32, 3), 255, np.uint8))

    tall = np.arange(40 * 20, dtype=np.float32).reshape(1, 40, 20) / 800.0
    prepared_tall = pipeline.prepare_images(tall, image_size=10, channels=1)
    assert prepared_tall.shape == (1, 10, 10, 1)
    assert prepared_tall.dtype == np.float32
    # The crop keeps the middle rows of a vertical ramp, so values stay near the middle.
    assert -0.6 < prepared_tall.min() < prepared_tall.max() < 0.6


def test_prepare_images_gray_to_rgb_repeats():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 1), dtype=np.uint8)
    prepared = pipeline.prepare_images(images, image_size=8, channels=3)
    for channel in range(3):
        np.testing.assert_array_equal(prepared[..., channel], images[..., 0])


def test_scale_images_range():
    images = np.array([0, 255, 128], np.uint8)
    expected = [-1.0, 1.0, 128 / 127.5 - 1.0]
    scaled = pipeline.scale_images(images)
    scaled_tensor = pipeline.scale_images(tf.constant(images))
    assert scaled.dtype == np.float32
    assert scaled_tensor.dtype == tf.float32
    np.testing.assert_allclose(scaled, expected, atol=1e-6)
    np.testing.assert_allclose(scaled_tensor.numpy(), expected, atol=1e-6)


# Real data.


def test_make_dataset_real_fashion_mnist():
    path = os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")
    if not os.path.isfile(path):
        pytest.skip(
            f"{path} is absent; install it with `apt-get install -y dataset-fashion-mnist`."
        )
    config = make_config(
        dataset="idx", path=FASHION_MNIST_DIR, image_size=32, channels=1, num_examples=0,
        shuffle_buffer=1000,
    )
    info = pipeline.make_dataset(config, batch_size=64, seed=0)
    batch = first_batch(info)

    assert info.num_examples == 60000
    assert batch.shape == (64, 32, 32, 1)
    assert batch.dtype == np.float32
    assert batch.min() == -1.0
    assert batch.max() <= 1.0
    # Fashion-MNIST has dark backgrounds: mean pixel 72.9 of 255, about -0.43 here.
    assert -0.6 < batch.mean() < -0.25
