"""Image datasets from TensorFlow Datasets (TFDS), images only.

`load_tfds` goes through the usual TFDS steps (`tfds.builder`,
`download_and_prepare`, `as_dataset`), so a machine with network access
downloads and prepares a dataset on first use. Offline, point `data_dir` at a
folder where the dataset was prepared before, for example by one run with
network access, and pass `download=False` to skip the download step.
"""

import collections

import tensorflow_datasets as tfds

__all__ = [
    "TFDS_DATASETS",
    "TfdsImages",
    "load_tfds",
]

TFDS_DATASETS = (
    "mnist",
    "fashion_mnist",
    "cifar10",
    "svhn_cropped",
    "oxford_flowers102",
    "celeb_a",
)

TfdsImages = collections.namedtuple(
    "TfdsImages",
    [
        "dataset",  # tf.data.Dataset of uint8 images of shape (H, W, C).
        "num_examples",  # Number of images in the split.
        "image_shape",  # (H, W, C) from the dataset info; H and W are None for
        # datasets of varying image sizes such as oxford_flowers102.
    ],
)

_OFFLINE_HINT = (
    "Run once with network access to download and prepare it, or pass `data_dir` "
    "(--config.data.data_dir on the command line) pointing to a folder where TFDS "
    "prepared it before."
)


def load_tfds(name, split="train", data_dir=None, download=True, shuffle_files=False):
    """Load the images of a TFDS dataset split, dropping labels and other features.

    Args:
      name: one of `TFDS_DATASETS`.
      split: TFDS split, for example `"train"`, `"test"` or `"train[:10%]"`.
      data_dir: TFDS data folder, or None or `""` for the TFDS default
        (`~/tensorflow_datasets` unless `TFDS_DATA_DIR` is set).
      download: whether to download and prepare the dataset when `data_dir` does
        not contain it yet.
      shuffle_files: whether TFDS reads the files of the split in random order.

    Returns:
      `TfdsImages(dataset, num_examples, image_shape)`.

    Raises:
      ValueError: if `name` is not in `TFDS_DATASETS`.
      FileNotFoundError: if the dataset is not prepared in `data_dir` and
        `download` is False.
      RuntimeError: if downloading or preparing the dataset fails.
    """
    if name not in TFDS_DATASETS:
        raise ValueError(
            f"Unknown TFDS dataset {name!r}; expected one of {list(TFDS_DATASETS)}."
        )
    builder = tfds.builder(name, data_dir=data_dir or None)

    if download:
        try:
            builder.download_and_prepare()
        # Downloads fail in many ways (network, checksums, missing optional
        # packages, manual-download datasets), so every failure is reported
        # with the dataset name and the offline options.
        except Exception as err:  # pylint: disable=broad-except
            raise RuntimeError(
                f"Failed to download and prepare TFDS dataset {name!r} in "
                f"{builder.data_dir}: {type(err).__name__}: {err}. {_OFFLINE_HINT}"
            ) from err

    try:
        dataset = builder.as_dataset(
            split=split,
            decoders=tfds.decode.PartialDecoding({"image": True}),
            shuffle_files=shuffle_files,
        )
    # TFDS 4.9 raises AssertionError when the data folder does not exist.
    except AssertionError as err:
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir} and "
            f"download is disabled. {_OFFLINE_HINT}"
        ) from err
    dataset = dataset.map(lambda example: example["image"])

    num_examples = int(dataset.cardinality())
    if num_examples < 0:
        num_examples = builder.info.splits[split].num_examples
    image_shape = tuple(builder.info.features["image"].shape)
    return TfdsImages(dataset=dataset, num_examples=num_examples, image_shape=image_shape)
