"""tf_ebm: energy-based models trained by maximum likelihood with short-run Langevin MCMC.

After Nijkamp, Hill, Han, Zhu and Wu, "On the Anatomy of MCMC-Based Maximum Likelihood
Learning of Energy-Based Models" (AAAI 2020, arXiv:1903.12370).
"""

from tf_ebm.model import EnergyModel
from tf_ebm.model import INIT_TYPES
from tf_ebm.model import default_jit_compile
from tf_ebm.model import make_optimizer
from tf_ebm.networks import NonLocalBlock
from tf_ebm.networks import build_network
from tf_ebm.networks import nonlocal_convnet
from tf_ebm.networks import toy_mlp
from tf_ebm.networks import vanilla_convnet
from tf_ebm.sampler import LangevinResults
from tf_ebm.sampler import LangevinSampler
from tf_ebm.sampler import langevin_chain
from tf_ebm.schedules import ExponentialDecayWithFloor

__version__ = "0.1.0"

__all__ = [
    "EnergyModel",
    "ExponentialDecayWithFloor",
    "INIT_TYPES",
    "LangevinResults",
    "LangevinSampler",
    "NonLocalBlock",
    "build_network",
    "default_jit_compile",
    "langevin_chain",
    "make_optimizer",
    "nonlocal_convnet",
    "toy_mlp",
    "vanilla_convnet",
]
