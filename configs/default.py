"""Default run: convergent learning of the 8-Gaussian circle, CPU-scale.

Reproduces, at a smaller scale, the paper's convergent toy setting (persistent
initialization, SGD at 0.1, epsilon = 0.125): the learned energy's density exp(-U)
approaches the true mixture. It shortens the Langevin chains to 100 steps and the run
to 3,000 updates so it needs no download and finishes in minutes on 2 CPU cores.

    python -m tf_ebm.train --workdir=runs/default
"""

from tf_ebm import config as config_lib


def get_config():
    return config_lib.base_config()
