"""Training configuration: defaults, one validation pass, and derived values.

Experiment files in `configs/` start from `base_config()` and change fields. `validate`
checks every field once before any work. `derived_values` computes the quantities that
follow from the config (temperature, loss and learning-rate scaling, batch split), and it
never edits the config.
"""

import collections
import math

import ml_collections

from tf_ebm import model as model_lib
from tf_ebm import networks
from tf_ebm.distribute import STRATEGIES

__all__ = ["DerivedValues", "base_config", "derived_values", "validate", "JIT_COMPILE_MODES", "STRATEGIES"]

JIT_COMPILE_MODES = ("auto", "xla", "graph")

DerivedValues = collections.namedtuple(
    "DerivedValues",
    [
        "temperature",  # T = epsilon**2 / 2 (1 when epsilon = 0).
        "loss_scale",  # 2 / epsilon**2 (1 when epsilon = 0).
        "learning_rate_scale",  # epsilon**2 / 2 for SGD with epsilon > 0, else 1.
        "effective_learning_rate",  # learning_rate * learning_rate_scale at update 0.
        "global_batch_size",
        "per_replica_batch_size",
        "num_replicas",
    ],
)


def base_config():
    """Return the default config: the convergent 8-Gaussian toy run (see configs/default.py)."""
    config = ml_collections.ConfigDict()
    config.seed = 0

    config.data = ml_collections.ConfigDict()
    # Dataset: 'rings' or 'gaussian_mixture' (2D toys), a TFDS name (mnist, fashion_mnist,
    # cifar10, svhn_cropped, oxford_flowers102, celeb_a), or local files: 'idx', 'array', 'folder'.
    config.data.dataset = "gaussian_mixture"
    config.data.path = ""  # File or folder for 'idx', 'array' and 'folder'.
    config.data.data_dir = ""  # TFDS data_dir; '' uses the TFDS default.
    config.data.split = "train"
    config.data.image_size = 32
    config.data.channels = 3
    config.data.num_examples = 10000  # 0 = all; toys draw this many points once from the seed.
    config.data.shuffle_buffer = 10000

    config.model = ml_collections.ConfigDict()
    config.model.net = "toy"  # 'toy', 'vanilla' or 'nonlocal'.
    config.model.num_filters = 32  # n_f of the ConvNets.

    config.sampler = ml_collections.ConfigDict()
    config.sampler.epsilon = 0.125  # Langevin noise standard deviation.
    config.sampler.num_steps = 500  # Langevin updates per training step (L).
    config.sampler.init_type = "persistent"  # 'uniform', 'gaussian', 'data' or 'persistent'.
    # Scale s of noise starts: 'uniform' draws on [-s, s], 'gaussian' from N(0, s^2 I), and
    # the persistent bank starts on [-s, s].
    config.sampler.init_scale = 1.0
    config.sampler.bank_size = 10000  # Persistent chains.
    config.sampler.rejuvenation = 0.0  # Fraction of persistent chains restarted per update.
    # Clip image chains to the data range [-1, 1] after every step; Nijkamp et al. do not clip.
    config.sampler.clip_states = False

    config.train = ml_collections.ConfigDict()
    config.train.batch_size = 100  # Global batch size, split over replicas.
    config.train.num_updates = 2000
    config.train.optimizer = "sgd"  # 'adam' or 'sgd'.
    config.train.learning_rate = 0.1  # Before the SGD factor epsilon**2 / 2.
    config.train.lr_decay = 1.0  # Multiplicative decay per update.
    config.train.lr_min = 0.0  # Floor of the decayed learning rate.
    config.train.data_epsilon = 0.0  # Noise on the positives; Nijkamp et al. (AAAI 2020) use about 2 epsilon for images.
    config.train.jit_compile = "auto"  # 'auto' (XLA for nets without convolutions), 'xla', 'graph'.
    config.train.strategy = "auto"  # 'auto', 'default', 'mirrored' or 'multi_worker'.
    config.train.log_every = 200  # Updates between logs, sample grids and plots.
    config.train.checkpoint_every = 1000  # Updates between checkpoints; a multiple of log_every.
    config.train.max_checkpoints_to_keep = 3
    config.train.num_sample_images = 64  # Chains drawn for the sample grids.
    config.train.diagnostics_window = 500  # Recent updates used by the learning diagnostics.

    config.toy = ml_collections.ConfigDict()
    config.toy.grid_resolution = 200  # Grid cells per axis for the toy density plots and KLs.
    config.toy.num_kde_samples = 2000  # Short-run samples behind the KDE.
    return config


def validate(config):
    """Check every field once; raise ValueError naming the key, the value and the allowed values.

    Data fields are checked by `tf_ebm.data.validate_data_config`, which reads no data.
    """
    _check_choice(config, "model.net", networks.NETWORKS)
    _check_int(config, "model.num_filters", minimum=1)
    _check_float(config, "sampler.epsilon", minimum=0.0)
    _check_int(config, "sampler.num_steps", minimum=1)
    _check_choice(config, "sampler.init_type", model_lib.INIT_TYPES)
    _check_float(config, "sampler.init_scale", exclusive_minimum=0.0)
    _check_int(config, "sampler.bank_size", minimum=1)
    _check_float(config, "sampler.rejuvenation", minimum=0.0, below=1.0)
    if not isinstance(_lookup(config, "sampler.clip_states"), bool):
        raise ValueError(f"Invalid `sampler.clip_states`={config.sampler.clip_states!r}; it must be True or False.")
    _check_int(config, "train.batch_size", minimum=1)
    _check_int(config, "train.num_updates", minimum=1)
    _check_choice(config, "train.optimizer", model_lib.OPTIMIZERS)
    _check_float(config, "train.learning_rate", exclusive_minimum=0.0)
    _check_float(config, "train.lr_decay", exclusive_minimum=0.0, maximum=1.0)
    _check_float(config, "train.lr_min", minimum=0.0)
    _check_float(config, "train.data_epsilon", minimum=0.0)
    _check_choice(config, "train.jit_compile", JIT_COMPILE_MODES)
    _check_choice(config, "train.strategy", STRATEGIES)
    _check_int(config, "train.log_every", minimum=1)
    _check_int(config, "train.checkpoint_every", minimum=1)
    _check_int(config, "train.max_checkpoints_to_keep", minimum=1)
    _check_int(config, "train.num_sample_images", minimum=1)
    _check_int(config, "train.diagnostics_window", minimum=10)
    _check_int(config, "toy.grid_resolution", minimum=10)
    _check_int(config, "toy.num_kde_samples", minimum=10)

    if config.train.checkpoint_every % config.train.log_every:
        raise ValueError(
            f"`train.checkpoint_every`={config.train.checkpoint_every} must be a multiple of "
            f"`train.log_every`={config.train.log_every}, so that a resumed run starts at a log boundary."
        )
    if config.sampler.init_type == "persistent" and config.sampler.bank_size < config.train.batch_size:
        raise ValueError(
            f"`sampler.bank_size`={config.sampler.bank_size} is smaller than `train.batch_size`="
            f"{config.train.batch_size}; the persistent bank needs at least one chain per example."
        )
    is_toy = config.model.net == "toy"
    from tf_ebm import data as data_lib  # Imported here: the data package imports TFDS.

    # The dataset's own fields first, so an unknown dataset or a missing path is reported
    # as such and not as a mismatch with the net.
    data_lib.validate_data_config(config.data)
    toy_dataset = config.data.dataset in data_lib.TOY_DATASETS
    if is_toy != toy_dataset:
        raise ValueError(
            f"`model.net`={config.model.net!r} does not fit `data.dataset`={config.data.dataset!r}: "
            f"use net 'toy' with the 2D datasets {', '.join(data_lib.TOY_DATASETS)} and "
            "'vanilla' or 'nonlocal' with images."
        )
    if config.sampler.clip_states and is_toy:
        raise ValueError(
            "`sampler.clip_states`=True clips chains to the image range [-1, 1]; 2D toy points "
            "are not bounded to it, so use it only with image data."
        )
    return config


def derived_values(config, num_replicas=1):
    """Return `DerivedValues` for `config` on `num_replicas` replicas; `config` is not changed."""
    epsilon = float(config.sampler.epsilon)
    temperature = epsilon**2 / 2 if epsilon > 0 else 1.0
    learning_rate_scale = temperature if (config.train.optimizer == "sgd" and epsilon > 0) else 1.0
    if config.train.batch_size % num_replicas:
        raise ValueError(
            f"`train.batch_size`={config.train.batch_size} must be divisible by the number of "
            f"replicas, {num_replicas}."
        )
    return DerivedValues(
        temperature=temperature,
        loss_scale=1.0 / temperature,
        learning_rate_scale=learning_rate_scale,
        effective_learning_rate=config.train.learning_rate * learning_rate_scale,
        global_batch_size=config.train.batch_size,
        per_replica_batch_size=config.train.batch_size // num_replicas,
        num_replicas=num_replicas,
    )


def _lookup(config, key):
    value = config
    for part in key.split("."):
        if part not in value:
            raise ValueError(f"Missing config key `{key}`; start the config from tf_ebm.config.base_config().")
        value = value[part]
    return value


def _check_choice(config, key, allowed):
    value = _lookup(config, key)
    if value not in allowed:
        raise ValueError(f"Invalid `{key}`={value!r}; allowed values are {', '.join(map(str, allowed))}.")


def _check_int(config, key, minimum):
    value = _lookup(config, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Invalid `{key}`={value!r}; it must be an integer >= {minimum}.")


def _check_float(config, key, minimum=None, exclusive_minimum=None, maximum=None, below=None):
    value = _lookup(config, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Invalid `{key}`={value!r}; it must be a finite number.")
    bounds = []
    if minimum is not None:
        bounds.append((value >= minimum, f">= {minimum}"))
    if exclusive_minimum is not None:
        bounds.append((value > exclusive_minimum, f"> {exclusive_minimum}"))
    if maximum is not None:
        bounds.append((value <= maximum, f"<= {maximum}"))
    if below is not None:
        bounds.append((value < below, f"< {below}"))
    failed = [text for ok, text in bounds if not ok]
    if failed:
        allowed = " and ".join(text for _, text in bounds)
        raise ValueError(f"Invalid `{key}`={value!r}; it must be {allowed}.")
