"""Paper image run: Oxford Flowers 102, convergent learning.

Non-local ConvNet, SGD at 0.1 annealed by 0.99995 per update down to 5e-4,
epsilon = 7.5e-3, 500 Langevin steps from a persistent bank, 200,000 updates
(Nijkamp et al., AAAI 2020). epsilon_data = 0.015 as in the MNIST convergent run.
Needs TFDS `oxford_flowers102` and a GPU.

    python -m tf_ebm.train --config=configs/flowers_convergent.py --workdir=runs/flowers_convergent
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "oxford_flowers102"
    config.data.image_size = 32
    config.data.channels = 3
    config.data.num_examples = 0
    config.model.net = "nonlocal"
    config.model.num_filters = 32
    config.sampler.epsilon = 7.5e-3
    config.sampler.num_steps = 500
    config.sampler.init_type = "persistent"
    config.sampler.bank_size = 10000
    config.train.optimizer = "sgd"
    config.train.learning_rate = 0.1
    config.train.lr_decay = 0.99995
    config.train.lr_min = 5e-4
    config.train.data_epsilon = 0.015
    config.train.batch_size = 100
    config.train.num_updates = 200000
    config.train.log_every = 1000
    config.train.checkpoint_every = 5000
    return config
