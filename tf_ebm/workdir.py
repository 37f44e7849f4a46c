"""Layout of a training workdir, and loading a trained model back from it.

A workdir holds:

    config.json          the resolved config of the run
    checkpoints/         TF checkpoints of the model (net, persistent bank, update
                         counter that seeds all randomness, sampler settings) and optimizer
    metrics.csv          one row per update: step, d, r, energy_pos, energy_neg, lr
    toy_metrics.csv      toy runs: KL(true || learned) and KL(true || KDE) per log interval
    samples/             PNG grids of short-run samples and of the persistent bank
    density/             toy runs: six-panel density plots
    diagnostics.png      d, r, their autocorrelations and cross-correlation
    diagnostics.txt      the text verdict of the learning diagnostics
    tensorboard/         TensorBoard event files of the same scalars
"""

import json
import os
import tempfile

import tensorflow as tf

from tf_ebm import config as config_lib
from tf_ebm import model as model_lib
from tf_ebm import networks

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "METRICS_CSV",
    "build_model",
    "checkpoint_manager",
    "example_shape",
    "flatten_config",
    "load_config",
    "load_model",
    "resolve_jit_compile",
    "restore_checkpoint",
    "save_config",
]

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
METRICS_CSV = "metrics.csv"
TOY_METRICS_CSV = "toy_metrics.csv"
SAMPLES_DIR = "samples"
DENSITY_DIR = "density"
DIAGNOSTICS_PNG = "diagnostics.png"
DIAGNOSTICS_TXT = "diagnostics.txt"
TENSORBOARD_DIR = "tensorboard"


def example_shape(config):
    """Return the shape of one training example, read from the config without loading data."""
    from tf_ebm import data as data_lib  # Imported here: the data package imports TFDS.

    return tuple(data_lib.element_shape(config.data))


def build_model(config, shape=None):
    """Build and compile the `EnergyModel` that `config` describes, in the current strategy scope."""
    shape = example_shape(config) if shape is None else tuple(shape)
    if config.model.net == "toy":
        energy_net = networks.toy_mlp(input_dim=shape[0])
    else:
        energy_net = networks.build_network(
            config.model.net, image_size=shape[0], channels=shape[-1], num_filters=config.model.num_filters
        )
    model = model_lib.EnergyModel(
        energy_net,
        epsilon=config.sampler.epsilon,
        num_steps=config.sampler.num_steps,
        init_type=config.sampler.init_type,
        init_scale=config.sampler.init_scale,
        data_epsilon=config.train.data_epsilon,
        bank_size=config.sampler.bank_size,
        rejuvenation=config.sampler.rejuvenation,
        input_shape=shape,
        seed=config.seed,
        sampler_jit_compile=resolve_jit_compile(config, energy_net),
        state_range=(-1.0, 1.0) if config.sampler.clip_states else None,
    )
    model.compile(
        optimizer=config.train.optimizer,
        learning_rate=config.train.learning_rate,
        lr_decay=config.train.lr_decay,
        lr_min=config.train.lr_min,
        jit_compile=resolve_jit_compile(config, energy_net),
    )
    # The optimizer's slot variables must exist before a checkpoint restores into them.
    model.optimizer.build(model.energy_net.trainable_variables)
    return model


def resolve_jit_compile(config, energy_net):
    """Map `train.jit_compile` ('auto', 'xla', 'graph') to a bool for `energy_net`.

    'auto' is graph mode with more than one replica in the current strategy, because XLA
    failed to compile the train step's cross-replica collectives with
    MultiWorkerMirroredStrategy on TF 2.21 CPUs. With one replica it is `default_jit_compile`.
    """
    mode = config.train.jit_compile
    if mode == "auto":
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return False
        return model_lib.default_jit_compile(energy_net)
    return mode == "xla"


def checkpoint_manager(model, workdir, max_to_keep=3):
    """Return a `tf.train.CheckpointManager` over the model and its optimizer.

    TensorFlow writes the checkpoint files first and then replaces the `checkpoint`
    index file in one rename, so a crash during a save leaves the previous checkpoint
    as the latest one.
    """
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    return tf.train.CheckpointManager(
        checkpoint, os.path.join(workdir, CHECKPOINT_DIR), max_to_keep=max_to_keep, step_counter=None
    )


def save_config(config, workdir):
    """Write `config` as JSON to `workdir/config.json` through a temporary file and a rename."""
    os.makedirs(workdir, exist_ok=True)
    _write_text_atomically(os.path.join(workdir, CONFIG_FILE), config.to_json(indent=2, sort_keys=True) + "\n")


def load_config(workdir):
    """Read the resolved config of a workdir; raises FileNotFoundError naming the file."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No training config at {path}: {workdir!r} is not a tf_ebm workdir. Pass the "
            "--workdir of a `python -m tf_ebm.train` run."
        )
    with open(path) as file:
        try:
            values = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"Corrupt training config {path}: {error}.") from error
    config = config_lib.base_config()
    config.update_from_flattened_dict(flatten_config(values))
    return config


def load_model(workdir, checkpoint=None, config=None):
    """Load a trained model from a workdir.

    Args:
      workdir: a training workdir.
      checkpoint: a checkpoint path prefix (e.g. `DIR/checkpoints/ckpt-3`) or None for
        the latest checkpoint of the workdir.
      config: the config to build the model from; None reads `workdir/config.json`.

    Returns:
      (model, config): the compiled `EnergyModel` with restored weights, and its config.

    Raises:
      FileNotFoundError: if the workdir has no config or no checkpoint.
      ValueError: if the checkpoint was written by a different network or settings.
    """
    config = load_config(workdir) if config is None else config
    model = build_model(config)
    if checkpoint is None:
        checkpoint = tf.train.latest_checkpoint(os.path.join(workdir, CHECKPOINT_DIR))
        if checkpoint is None:
            raise FileNotFoundError(
                f"No checkpoint in {os.path.join(workdir, CHECKPOINT_DIR)}; train first with "
                f"`python -m tf_ebm.train --workdir={workdir}`."
            )
    restore_checkpoint(model, checkpoint)
    return model, config


def restore_checkpoint(model, path):
    """Restore the model and optimizer from a checkpoint prefix, checking that it matches."""
    if not tf.io.gfile.exists(path + ".index"):
        raise FileNotFoundError(f"No checkpoint at {path} (expected the file {path}.index).")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as error:
        raise ValueError(
            f"Checkpoint {path} does not match the model built from the config "
            f"(network {model.energy_net.name!r}, {model.energy_net.count_params()} parameters): "
            f"it was written by a different network or settings. Details: {str(error)[:500]}"
        ) from error
    return status


def flatten_config(values, prefix=""):
    """Return a dict or ConfigDict as {"section.field": value}."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if hasattr(value, "items"):
            flat.update(flatten_config(value, name + "."))
        else:
            flat[name] = value
    return flat


def _write_text_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp creates files readable by the owner only.
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
