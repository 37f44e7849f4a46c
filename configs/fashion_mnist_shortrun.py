"""CPU-scale Fashion-MNIST: non-convergent short-run learning from uniform noise.

The non-convergent image recipe of Nijkamp et al. (AAAI 2020) (vanilla ConvNet, Adam, epsilon = 0.01,
epsilon_data about 2 epsilon, chains from uniform noise in [-1, 1]) scaled down to fit
2,000 updates in under an hour on 2 CPU cores: n_f = 16, 28x28 grayscale images (the
vanilla net's last conv then spans a 4x4 map, as at 32x32), batch 64 and 50 Langevin
steps, with Adam at the paper's 1e-4. Langevin states are clipped to [-1, 1] after each
step (`sampler.clip_states`), which the paper does not do: without clipping, two runs of
this config diverged, at Adam 3e-4 after about 650 updates and at 1e-4 after about 1,100
(r grew past 1, the chains left the data range, and d fell below -1e4).
Reads the IDX files of Debian's dataset-fashion-mnist package; no download.

    apt-get install -y dataset-fashion-mnist
    python -m tf_ebm.train --config=configs/fashion_mnist_shortrun.py --workdir=runs/fashion_mnist
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "idx"
    config.data.path = "/usr/share/datasets/fashion-mnist"
    config.data.image_size = 28
    config.data.channels = 1
    config.data.num_examples = 0
    config.model.net = "vanilla"
    config.model.num_filters = 16
    config.sampler.epsilon = 0.01
    config.sampler.num_steps = 50
    config.sampler.init_type = "uniform"
    config.sampler.clip_states = True
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-4
    config.train.data_epsilon = 0.02
    config.train.batch_size = 64
    config.train.num_updates = 2000
    config.train.log_every = 100
    config.train.checkpoint_every = 500
    return config
