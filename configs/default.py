"""Default run: convergent learning of the 8-Gaussian circle, CPU-scale.

Reproduces, at a smaller scale, the convergent toy setting of Nijkamp et al. (AAAI 2020):
persistent initialization, SGD at 0.1, epsilon = 0.125, 500 Langevin steps, so that the
learned energy's density exp(-U) approaches the true mixture. It runs 2,000 updates
instead of 10,000, needs no download and finishes in minutes on 2 CPU cores. With 100
steps instead of 500 the learned density drifted away from the truth (KL up to 1.0)
while the persistent bank still matched it.

    python -m tf_ebm.train --workdir=runs/default
"""

from tf_ebm import config as config_lib


def get_config():
    return config_lib.base_config()
