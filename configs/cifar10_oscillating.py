"""Paper image run: CIFAR-10 with a persistent bank and 500 Langevin steps.

The CIFAR-10 non-convergent recipe (vanilla ConvNet, Adam at 1e-4, epsilon = 0.01,
epsilon_data = 0.03, batch 100) with persistent initialization and 500 steps per update:
the setting whose d and r show the oscillating learning regime in Nijkamp et al. (AAAI
2020). Needs TFDS `cifar10` and a GPU.

    python -m tf_ebm.train --config=configs/cifar10_oscillating.py --workdir=runs/cifar10_oscillating
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
    config.sampler.num_steps = 500
    config.sampler.init_type = "persistent"
    config.sampler.bank_size = 10000
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-4
    config.train.data_epsilon = 0.03
    config.train.batch_size = 100
    config.train.num_updates = 100000
    config.train.log_every = 1000
    config.train.checkpoint_every = 5000
    return config
