"""Paper toy run: concentric rings, non-convergent short-run learning.

Gaussian noise initialization N(0, 4 I), whose spread reaches the outer rings at radius
4, Adam at learning rate 1e-4, epsilon = 0.01, 100 Langevin steps per update (Nijkamp
et al., AAAI 2020, toy experiments). Expected outcome: the short-run samples' density
(KDE) is close to the truth, while exp(-U) is far from it.

    python -m tf_ebm.train --config=configs/toy_rings_nonconvergent.py --workdir=runs/toy_rings_nonconvergent
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "rings"
    config.sampler.epsilon = 0.01
    config.sampler.num_steps = 100
    config.sampler.init_type = "gaussian"
    config.sampler.init_scale = 2.0
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-4
    config.train.num_updates = 10000
    config.train.checkpoint_every = 1000
    config.train.log_every = 500
    return config
