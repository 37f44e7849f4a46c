"""Paper toy run: concentric rings, convergent MCMC learning.

Persistent initialization (bank of 10,000 chains started from uniform noise), SGD at
learning rate 0.1, epsilon = 0.125, 500 Langevin steps per update (Nijkamp et al., AAAI
2020, toy experiments). Expected outcome: exp(-U) is close to the true density.

    python -m tf_ebm.train --config=configs/toy_rings_convergent.py --workdir=runs/toy_rings_convergent
"""

from tf_ebm import config as config_lib


def get_config():
    config = config_lib.base_config()
    config.data.dataset = "rings"
    config.sampler.num_steps = 500
    config.train.num_updates = 10000
    config.train.checkpoint_every = 1000
    config.train.log_every = 500
    return config
