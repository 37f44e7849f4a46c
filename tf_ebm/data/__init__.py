"""Datasets for tf_ebm: 2D toy densities and image sources.

`make_dataset` builds the training input pipeline from the `data` config
section. The loaders behind it are also usable on their own.
"""

from tf_ebm.data.idx import find_idx_images
from tf_ebm.data.idx import read_idx
from tf_ebm.data.local import load_array
from tf_ebm.data.local import load_image_folder
from tf_ebm.data.pipeline import DATASETS
from tf_ebm.data.pipeline import DatasetInfo
from tf_ebm.data.pipeline import LOCAL_DATASETS
from tf_ebm.data.pipeline import element_shape
from tf_ebm.data.pipeline import load_examples
from tf_ebm.data.pipeline import make_dataset
from tf_ebm.data.pipeline import validate_data_config
from tf_ebm.data.tfds_data import TFDS_DATASETS
from tf_ebm.data.tfds_data import load_tfds
from tf_ebm.data.toy import TOY_DATASETS
from tf_ebm.data.toy import RingMixture
from tf_ebm.data.toy import sample_toy
from tf_ebm.data.toy import toy_distribution
