"""Paper image run: CIFAR-10, non-convergent short-run learning.

Vanilla ConvNet, Adam at 1e-4, epsilon = 0.01, epsilon_data = 0.03, 150 Langevin steps
from uniform noise, batch 100, 100,000 updates (Nijkamp et al., AAAI 2020). Expected
outcome: realistic short-run samples and oversaturated long-run samples. Needs TFDS
`cifar10` (downloaded once with a network, or prepared under --config.data.data_dir) and
a GPU: on a CPU one update takes seconds.

    python -m tf_ebm.train --config=configs/cifar10_nonconvergent.py --workdir=runs/cifar10_nonconvergent
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "cifar10"
    config.data.image_size = 32
    config.data.channels = 3
    config.data.num_examples = 0
    config.model.net = "vanilla"
    config.model.num_filters = 128
    config.sampler.epsilon = 0.01
    config.sampler.num_steps = 150
    config.sampler.init_type = "uniform"
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-4
    config.train.data_epsilon = 0.03
    config.train.batch_size = 100
    config.train.num_updates = 100000
    config.train.log_every = 1000
    config.train.checkpoint_every = 5000
    return config
