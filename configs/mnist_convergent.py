"""Paper image run: MNIST, convergent learning with realistic long-run samples.

Non-local ConvNet, SGD at 1e-2, epsilon = 7.5e-3, epsilon_data = 0.015, 500 Langevin
steps from a persistent bank (Nijkamp et al., AAAI 2020). Images resized to 32x32, one
channel. Needs TFDS `mnist` and a GPU.

    python -m tf_ebm.train --config=configs/mnist_convergent.py --workdir=runs/mnist_convergent
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "mnist"
    config.data.image_size = 32
    config.data.channels = 1
    config.data.num_examples = 0
    config.model.net = "nonlocal"
    config.model.num_filters = 32
    config.sampler.epsilon = 7.5e-3
    config.sampler.num_steps = 500
    config.sampler.init_type = "persistent"
    config.sampler.bank_size = 10000
    config.train.optimizer = "sgd"
    config.train.learning_rate = 1e-2
    config.train.data_epsilon = 0.015
    config.train.batch_size = 100
    config.train.num_updates = 100000
    config.train.log_every = 1000
    config.train.checkpoint_every = 5000
    return config
