"""Datasets for tf_ebm: 2D toy densities and image sources."""

from tf_ebm.data.toy import TOY_DATASETS
from tf_ebm.data.toy import RingMixture
from tf_ebm.data.toy import sample_toy
from tf_ebm.data.toy import toy_distribution
