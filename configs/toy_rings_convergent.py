"""Paper toy run: concentric rings, convergent MCMC learning.

Persistent initialization (bank of 10,000 chains started from uniform noise), SGD at
learning rate 0.1, epsilon = 0.125, 500 Langevin steps per update (Nijkamp et al., AAAI
2020, toy experiments). Expected outcome: exp(-U) is close to the true density. The
paper trains for 200,000 updates. Here 10,000 updates (about 8 minutes on 2 CPU cores)
learn the inner ring, and 100,000 (about an hour) resolve all four in the persistent
bank. docs/toy_reproduction.md has the numbers and the command that continues a run.

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
