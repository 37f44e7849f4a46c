"""Tests of the TFDS source on `tfds.testing.mock_data`, which needs no network."""

from unittest import mock

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tf_ebm.data import pipeline
from tf_ebm.data import tfds_data

NUM_MOCK_EXAMPLES = 8


def make_config(**overrides):
    config = ml_collections.ConfigDict(
        dict(
            dataset="mnist",
            path="",
            data_dir="",
            split="train",
            image_size=32,
            channels=1,
            num_examples=0,
            shuffle_buffer=0,
        )
    )
    config.update(overrides)
    return config


def test_load_tfds_mnist_images(tmp_path):
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        images = tfds_data.load_tfds("mnist", split="train", data_dir=str(tmp_path))
        first = next(iter(images.dataset)).numpy()
    assert images.num_examples == NUM_MOCK_EXAMPLES
    assert images.image_shape == (28, 28, 1)
    assert first.shape == (28, 28, 1)
    assert first.dtype == np.uint8


@pytest.mark.parametrize(
    "name, image_size, channels",
    [
        ("mnist", 32, 1),
        ("mnist", 16, 3),
        ("fashion_mnist", 28, 1),
        ("cifar10", 32, 3),
        ("cifar10", 16, 1),
        ("svhn_cropped", 8, 3),
        ("oxford_flowers102", 32, 3),
        ("celeb_a", 64, 3),
    ],
)
def test_make_dataset_tfds_batches(name, image_size, channels):
    config = make_config(dataset=name, image_size=image_size, channels=channels, shuffle_buffer=4)
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        info = pipeline.make_dataset(config, batch_size=4, seed=0)
        batches = [batch.numpy() for batch in info.dataset.take(3)]

    assert info.num_examples == NUM_MOCK_EXAMPLES
    assert info.element_shape == (image_size, image_size, channels)
    assert info.dataset.element_spec.shape == (4, image_size, image_size, channels)
    for batch in batches:
        assert batch.shape == (4, image_size, image_size, channels)
        assert batch.dtype == np.float32
        assert batch.min() >= -1.0
        assert batch.max() <= 1.0
        # Mock images are uniform random bytes. Downscaling averages them, but
        # a batch still varies.
        assert batch.std() > 0.05


def test_make_dataset_tfds_scales_pixels():
    config = make_config(dataset="mnist", image_size=28, channels=1, shuffle_buffer=0)
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        raw = tfds_data.load_tfds("mnist", split="train")
        raw_images = np.stack([image.numpy() for image in raw.dataset])
        info = pipeline.make_dataset(config, batch_size=NUM_MOCK_EXAMPLES, seed=0, repeat=False)
        batches = [batch.numpy() for batch in info.dataset]
    assert len(batches) == 1
    np.testing.assert_allclose(batches[0], raw_images / 127.5 - 1.0, atol=1e-6)


def test_make_dataset_tfds_num_examples_limit():
    config = make_config(dataset="cifar10", num_examples=5, channels=3)
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        info = pipeline.make_dataset(config, batch_size=2, seed=0, repeat=False)
        num_batches = sum(1 for _ in info.dataset)
    assert info.num_examples == 5
    assert num_batches == 2


def test_make_dataset_tfds_batch_too_large():
    config = make_config(dataset="mnist")
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        with pytest.raises(ValueError) as error:
            pipeline.make_dataset(config, batch_size=16, seed=0)
    message = str(error.value)
    assert "`batch_size` 16 is larger than the 8 examples" in message
    assert "at most 8" in message


def test_load_examples_tfds():
    config = make_config(dataset="svhn_cropped", image_size=16, channels=3)
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        examples = pipeline.load_examples(config, split="test")
    assert examples.shape == (NUM_MOCK_EXAMPLES, 16, 16, 3)
    assert examples.dtype == np.float32
    assert examples.min() >= -1.0
    assert examples.max() <= 1.0


def test_load_tfds_not_prepared_offline(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        tfds_data.load_tfds("mnist", split="train", data_dir=str(tmp_path), download=False)
    message = str(error.value)
    assert "TFDS dataset 'mnist' is not prepared in" in message
    assert str(tmp_path) in message
    assert "--config.data.data_dir" in message


def test_load_tfds_download_failure(tmp_path):
    failure = ConnectionError("network is unreachable")
    with mock.patch.object(
        tfds.core.DatasetBuilder, "download_and_prepare", side_effect=failure
    ):
        with pytest.raises(RuntimeError) as error:
            tfds_data.load_tfds("cifar10", split="train", data_dir=str(tmp_path))
    message = str(error.value)
    assert "Failed to download and prepare TFDS dataset 'cifar10'" in message
    assert "ConnectionError: network is unreachable" in message
    assert "Run once with network access" in message
    assert "--config.data.data_dir" in message
    assert error.value.__cause__ is failure


def test_load_tfds_unknown_name():
    with pytest.raises(ValueError) as error:
        tfds_data.load_tfds("imagenet2012")
    message = str(error.value)
    assert "Unknown TFDS dataset 'imagenet2012'" in message
    for name in tfds_data.TFDS_DATASETS:
        assert name in message
