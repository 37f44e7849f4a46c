"""Paper image run: Oxford Flowers 102, non-convergent short-run learning.

The non-convergent recipe of the CIFAR-10 run applied to Oxford Flowers 102: vanilla
ConvNet, Adam at 1e-4, epsilon = 0.01, epsilon_data = 0.03, 150 Langevin steps from
uniform noise, batch 100 (Nijkamp et al., AAAI 2020). Needs TFDS `oxford_flowers102`
and a GPU.

    python -m tf_ebm.train --config=configs/flowers_nonconvergent.py --workdir=runs/flowers_nonconvergent
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "oxford_flowers102"
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
