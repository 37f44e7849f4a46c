"""Export an `EnergyModel` as a SavedModel for TensorFlow Serving.

`export_energy_model` writes `export_dir/<model_name>/<version>/`, the layout that
`tensorflow_model_server --model_base_path=export_dir/<model_name>` polls. The SavedModel
holds only the energy network F and five signatures:

| signature | inputs | outputs |
|---|---|---|
| `energy` | `x` float32 (batch,) + example_shape | `energy` F(x), `scaled_energy` U(x) = F(x) / T, float32 (batch,) |
| `score` | `x` | `score` = grad log p = -grad U(x), `energy_gradient` = grad U(x) = grad F(x) / T, float32 like `x` |
| `sample`, `serving_default` | `seed` int64, `num_samples` int32, `num_steps` int32, each of shape (batch,) with one element | `samples` float32 (num_samples,) + example_shape, `energy` F of the samples, float32 (num_samples,) |
| `refine` | `x`; `seed` int64 and `num_steps` int32 of shape (batch,), with one element or one equal value per row of `x` | `samples` (Langevin chains started at `x`), `energy` |
| `metadata` | none | the settings of `serving_metadata`, as string, float32 and int32 tensors |

T is the training temperature epsilon**2 / 2, or 1 when epsilon = 0. Every signature input
has a batch dimension because TF Serving's REST and gRPC Predict APIs batch inputs. In the
REST row format a `sample` request is one instance, `{"seed": 7, "num_samples": 16,
"num_steps": 100}`, and every instance of a `refine` request repeats the same `seed` and
`num_steps`. A columnar request passes one-element lists, `{"seed": [7], ...}`.

`sample` and `refine` run `sampler.langevin_chain`, the `tf.while_loop` that training uses,
with the training update x <- x - grad F(x) + epsilon * z, in graph mode (no XLA). Seeds are
stateless and derived as in `EnergyModel.sample(seed=...)`, so a seed replays the same
samples, and on the same hardware and TensorFlow build they equal those of
`model.sample(seed=seed)` on a model built with `sampler_jit_compile=False`.

Counts outside their caps fail with an InvalidArgument error whose text states the cap, and
they are never clipped. The checks are `tf.debugging` assertions, whose message TF Serving
returns as the request's error. Inputs of the wrong shape fail the same way before the
network runs.

Warning: TF Serving's REST API cannot call a signature without inputs (its JSON parser
rejects an empty input map), so REST clients read the metadata from
`assets.extra/tf_ebm_metadata.json` or through gRPC. TF Serving does not serve
`assets.extra`.
"""

import json
import math
import numbers
import os
import re
import shutil
import uuid

import numpy as np
import tensorflow as tf

import tf_ebm
from tf_ebm import model as model_lib
from tf_ebm import sampler as sampler_lib

__all__ = [
    "DEFAULT_DATA_RANGE",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_MAX_STEPS",
    "METADATA_PATH",
    "SIGNATURE_NAMES",
    "export_energy_model",
    "next_version",
    "read_metadata",
    "serving_metadata",
    "serving_temperature",
]

# Each request runs max_samples chains for max_steps forward and backward passes of F, so
# the caps bound the compute of one request. Raise them for large serving hardware.
DEFAULT_MAX_STEPS = 1000
DEFAULT_MAX_SAMPLES = 256
DEFAULT_DATA_RANGE = (-1.0, 1.0)

METADATA_PATH = os.path.join("assets.extra", "tf_ebm_metadata.json")
SIGNATURE_NAMES = ("energy", "score", "sample", "refine", "metadata", "serving_default")

# Initializations the `sample` signature can draw without training state; "data" and
# "persistent" models are sampled from uniform noise instead.
_NOISE_INIT_TYPES = ("uniform", "gaussian")
_MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Number of values of a rejected input that an error message shows.
_SUMMARIZE = 16


def serving_temperature(epsilon):
    """Return the temperature T of U = F / T: epsilon**2 / 2, or 1 when epsilon = 0."""
    epsilon = float(epsilon)
    return epsilon**2 / 2.0 if epsilon > 0 else 1.0


def serving_metadata(model, max_steps, max_samples, default_steps=None, data_range=DEFAULT_DATA_RANGE):
    """Collect the settings an export records, as a JSON-ready dict.

    Keys: `epsilon`, `temperature`, `default_steps` (the training number of Langevin
    steps unless given), `max_steps`, `max_samples`, `init_type` (training's),
    `sample_init_type` (what the `sample` signature draws), `init_scale` (the scale of
    that noise), `example_shape`,
    `data_range`, `network` (the Keras name of F) and `tf_ebm_version`.

    Raises:
      ValueError: for a model without a known example shape, or a cap, default or range
        outside the allowed values (the message names it).
    """
    example_shape = getattr(model, "example_shape", None)
    if not example_shape:
        raise ValueError(
            "The model has no known example shape; build EnergyModel with `input_shape`, "
            "e.g. input_shape=(32, 32, 3), before exporting it."
        )
    _check_count(max_steps, "max_steps", minimum=1)
    _check_count(max_samples, "max_samples", minimum=1)
    default_steps = model.num_steps if default_steps is None else default_steps
    _check_count(default_steps, "default_steps", minimum=0)
    max_steps, max_samples, default_steps = int(max_steps), int(max_samples), int(default_steps)
    if default_steps > max_steps:
        raise ValueError(
            f"`default_steps`={default_steps} exceeds `max_steps`={max_steps}; raise "
            "`max_steps` or lower `default_steps`."
        )
    data_range = _check_data_range(data_range)

    # The model stores epsilon as float32; its shortest decimal form keeps 0.015 from
    # reading as 0.014999999664723873.
    epsilon = float(str(np.float32(model.epsilon)))
    sample_init_type = model.init_type if model.init_type in _NOISE_INIT_TYPES else "uniform"
    return {
        "epsilon": epsilon,
        "temperature": serving_temperature(epsilon),
        "default_steps": int(default_steps),
        "max_steps": int(max_steps),
        "max_samples": int(max_samples),
        "init_type": model.init_type,
        "sample_init_type": sample_init_type,
        "init_scale": float(getattr(model, "init_scale", 1.0)),
        "example_shape": [int(size) for size in example_shape],
        "data_range": list(data_range),
        "network": model.energy_net.name,
        "tf_ebm_version": tf_ebm.__version__,
    }


def export_energy_model(
    model,
    export_dir,
    model_name="ebm",
    version=None,
    max_steps=DEFAULT_MAX_STEPS,
    max_samples=DEFAULT_MAX_SAMPLES,
    default_steps=None,
    data_range=DEFAULT_DATA_RANGE,
):
    """Write `model` as a TF Serving SavedModel to `export_dir/<model_name>/<version>/`.

    The SavedModel is written to a hidden sibling folder and renamed into place at the end,
    so a failed export leaves no partial version folder for TF Serving to load. TF Serving
    skips folders whose names do not parse as integers (file_system_storage_path_source.cc).

    Args:
      model: a trained `EnergyModel` with a known `example_shape`.
      export_dir: base folder; the model folder `export_dir/<model_name>` is created.
      model_name: the name TF Serving serves the model under (letters, digits, `_`, `.`, `-`).
      version: positive integer version; None takes one more than the largest existing
        version, or 1.
      max_steps: largest `num_steps` a `sample` or `refine` request may ask for.
      max_samples: largest `num_samples` of a `sample` request and largest batch of a
        `refine` request.
      default_steps: the number of steps recorded for clients; defaults to the model's
        training `num_steps`.
      data_range: (low, high) range of the data, recorded for clients; images are in
        [-1, 1], toy points need their own box.

    Returns:
      The path of the new version folder.

    Raises:
      FileExistsError: if the version folder already exists; it is left untouched.
      ValueError: for an argument outside the allowed values (the message names it).
    """
    if not _MODEL_NAME_PATTERN.match(str(model_name)):
        raise ValueError(
            "`model_name` must start with a letter or digit and contain only letters, digits, "
            f"'_', '.' and '-'; received {model_name!r}."
        )
    metadata = serving_metadata(model, max_steps, max_samples, default_steps, data_range)
    model_dir = os.path.join(os.fspath(export_dir), model_name)
    if version is None:
        version = next_version(model_dir)
    _check_count(version, "version", minimum=1)
    version = int(version)
    version_dir = os.path.join(model_dir, str(version))
    if os.path.exists(version_dir):
        raise FileExistsError(
            f"Version folder {version_dir} already exists and was left untouched; pass another "
            f"`version` or version=None (the next free version is {next_version(model_dir)})."
        )

    os.makedirs(model_dir, exist_ok=True)
    staging_dir = os.path.join(model_dir, f".tmp-{version}-{uuid.uuid4().hex}")
    try:
        functions = _serving_functions(model, metadata)
        module = _ServingModule(model.energy_net, functions)
        tf.saved_model.save(module, staging_dir, signatures=dict(functions, serving_default=functions["sample"]))
        _write_metadata(staging_dir, metadata)
        # NOTE: the check and the rename are separate steps. If another exporter creates the
        # same version folder in between, the rename fails with OSError, or replaces that
        # folder while it is still empty.
        if os.path.exists(version_dir):
            raise FileExistsError(f"Version folder {version_dir} appeared during the export; nothing was written.")
        os.rename(staging_dir, version_dir)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return version_dir


def next_version(model_dir):
    """Return one more than the largest integer-named folder in `model_dir`, or 1."""
    if not os.path.isdir(model_dir):
        return 1
    versions = [
        int(name) for name in os.listdir(model_dir)
        if name.isdigit() and os.path.isdir(os.path.join(model_dir, name))
    ]
    return max(versions, default=0) + 1


def read_metadata(version_dir):
    """Read the metadata dict that `export_energy_model` wrote into a version folder."""
    with open(os.path.join(version_dir, METADATA_PATH), encoding="utf-8") as handle:
        return json.load(handle)


class _ServingModule(tf.Module):
    """The trackable root of an export: the network, its variables and the serving functions."""

    def __init__(self, energy_net, functions):
        super().__init__(name="tf_ebm_serving")
        self.energy_net = energy_net
        # Keras 3 variables wrap tf.Variables, and tracking the wrapped variables puts them in
        # the SavedModel's restore op. Without it the TF1 loader that TF Serving and
        # `saved_model_cli run` use fails with "Could not find variable" (TF 2.21, Keras 3.15).
        self.network_variables = [variable.value for variable in energy_net.variables]
        for name, function in functions.items():
            setattr(self, name, function)


def _serving_functions(model, metadata):
    """Build the `tf.function`s of the signatures; settings are frozen as constants."""
    energy_net = model.energy_net
    example_shape = tuple(metadata["example_shape"])
    temperature = metadata["temperature"]
    epsilon = metadata["epsilon"]
    max_steps = metadata["max_steps"]
    max_samples = metadata["max_samples"]
    drift = sampler_lib.drift_coefficient(epsilon)

    x_spec = tf.TensorSpec((None,) + example_shape, tf.float32, name="x")
    seed_spec = tf.TensorSpec((None,), tf.int64, name="seed")
    num_samples_spec = tf.TensorSpec((None,), tf.int32, name="num_samples")
    num_steps_spec = tf.TensorSpec((None,), tf.int32, name="num_steps")

    def per_example_energy(x):
        return sampler_lib._as_per_example(energy_net(x, training=False), x)

    def run_chains(initial_states, seed, num_steps):
        # The same seed streams as `EnergyModel.sample(seed=...)`.
        chains = sampler_lib.langevin_chain(
            energy_net, initial_states, num_steps, epsilon,
            sampler_lib.step_seed(seed, model_lib._LANGEVIN_NOISE), drift=drift, training=False,
            state_range=model.state_range,
        )
        return {"samples": chains.states, "energy": chains.final_energy}

    @tf.function(input_signature=[x_spec])
    def energy(x):
        x = _checked_examples(x, example_shape)
        value = per_example_energy(x)
        return {"energy": value, "scaled_energy": value / temperature}

    @tf.function(input_signature=[x_spec])
    def score(x):
        x = _checked_examples(x, example_shape)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total_energy = tf.reduce_sum(per_example_energy(x))
        energy_gradient = tape.gradient(total_energy, x) / temperature
        return {"score": -energy_gradient, "energy_gradient": energy_gradient}

    @tf.function(input_signature=[seed_spec, num_samples_spec, num_steps_spec])
    def sample(seed, num_samples, num_steps):
        seed = _single_value(seed, "seed")
        num_samples = _checked_count(_single_value(num_samples, "num_samples"), "num_samples", 1, max_samples, "max_samples")
        num_steps = _checked_count(_single_value(num_steps, "num_steps"), "num_steps", 0, max_steps, "max_steps")
        seed = sampler_lib.step_seed(seed)
        initial_states = model.initial_states(
            num_samples, sampler_lib.step_seed(seed, model_lib._INITIAL_NOISE), metadata["sample_init_type"]
        )
        return run_chains(initial_states, seed, num_steps)

    @tf.function(input_signature=[x_spec, seed_spec, num_steps_spec])
    def refine(x, seed, num_steps):
        x = _checked_examples(x, example_shape, max_rows=max_samples)
        batch_size = tf.shape(x)[0]
        seed = _shared_value(seed, "seed", batch_size)
        num_steps = _checked_count(_shared_value(num_steps, "num_steps", batch_size), "num_steps", 0, max_steps, "max_steps")
        return run_chains(x, sampler_lib.step_seed(seed), num_steps)

    @tf.function(input_signature=[])
    def metadata_function():
        return {key: _metadata_tensor(value) for key, value in metadata.items()}

    return {"energy": energy, "score": score, "sample": sample, "refine": refine, "metadata": metadata_function}


# Request checks. Each returns its input behind a control dependency on the assertion, so
# nothing downstream (the network, the sampler) runs on an invalid request. TF Serving does
# not check input shapes, and a convolution fed an input of the wrong rank aborts the whole
# process (a CHECK failure in TF 2.21's oneDNN convolution) instead of failing the request.


def _checked_examples(x, example_shape, max_rows=None):
    """Assert that `x` has shape (batch,) + example_shape, and at most `max_rows` rows.

    The check reads the shape at run time. `tf.rank(x)` and `tf.size(tf.shape(x))` become
    the signature's static rank as a constant while tracing, so a check built on them
    passes inputs of the wrong rank.
    """
    rank = len(example_shape) + 1
    shape = tf.shape(x)
    # Padding with -1 to a fixed length makes an input of another rank differ in some
    # position instead of broadcasting in the comparison.
    padded = tf.concat([shape, tf.fill([rank + 1], -1)], axis=0)[1 : rank + 1]
    shape_ok = tf.reduce_all(tf.equal(padded, tf.constant(example_shape + (-1,), tf.int32)))
    expected_text = ", ".join(str(size) for size in example_shape)
    message = f"`x` must have shape (batch, {expected_text}) for this model; received shape"
    checks = [tf.debugging.Assert(shape_ok, [message, shape], summarize=_SUMMARIZE)]
    if max_rows is not None:
        message = f"`x` must have between 1 and {max_rows} rows (max_samples of this export); received"
        rows_ok = tf.logical_and(shape[0] >= 1, shape[0] <= max_rows)
        checks.append(tf.debugging.Assert(rows_ok, [message, shape[0]]))
    # EnsureShape also fails a wrong shape at run time, as a second guard. It runs after the
    # checks, so their message is the one a client receives.
    with tf.control_dependencies(checks):
        return tf.ensure_shape(x, (None,) + example_shape)


def _flat_values(tensor):
    """Return the values of `tensor` as a vector, whatever its rank at run time.

    The signatures declare counts as shape (None,). The graph optimizer removes
    `tf.reshape(tensor, [-1])` as a no-op on that shape, so a scalar request would reach
    ops that assume rank 1. Reshaping to (1, -1) is never a no-op and works for any rank.
    """
    return tf.reshape(tensor, [1, -1])[0]


def _single_value(tensor, name):
    """Assert that `tensor` contains exactly one value and return it as a scalar."""
    values = _flat_values(tensor)
    message = (
        f"`{name}` must contain exactly one value (one instance in the REST row format, a "
        "one-element list in the columnar format); received values"
    )
    check = tf.debugging.Assert(tf.equal(tf.size(values), 1), [message, values], summarize=_SUMMARIZE)
    with tf.control_dependencies([check]):
        return tf.identity(values)[0]


def _shared_value(tensor, name, batch_size):
    """Assert that `tensor` contains one value, or one equal value per row of `x`; return it."""
    values = _flat_values(tensor)
    size = tf.size(values)
    size_ok = tf.logical_or(tf.equal(size, 1), tf.equal(size, batch_size))
    equal_ok = tf.reduce_all(tf.equal(values, tf.reduce_max(values)))
    message = f"`{name}` must contain one value, or the same value once per row of `x`; received values"
    check = tf.debugging.Assert(tf.logical_and(size_ok, equal_ok), [message, values], summarize=_SUMMARIZE)
    with tf.control_dependencies([check]):
        return tf.identity(values)[0]


def _checked_count(value, name, minimum, maximum, cap_name):
    """Assert minimum <= value <= maximum, naming the export's cap in the message."""
    message = f"`{name}` must be between {minimum} and {maximum} ({maximum} is the {cap_name} of this export)"
    checks = [
        tf.debugging.assert_greater_equal(value, minimum, message=message),
        tf.debugging.assert_less_equal(value, maximum, message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(value)


# Helpers.


def _metadata_tensor(value):
    if isinstance(value, str):
        return tf.constant(value, tf.string)
    if isinstance(value, float) or (isinstance(value, list) and any(isinstance(item, float) for item in value)):
        return tf.constant(value, tf.float32)
    return tf.constant(value, tf.int32)


def _write_metadata(saved_model_dir, metadata):
    path = os.path.join(saved_model_dir, METADATA_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(metadata, handle, indent=2, sort_keys=True)
        handle.write("\n")


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; received {value!r}.")


def _check_data_range(data_range):
    try:
        low, high = (float(bound) for bound in data_range)
    except (TypeError, ValueError):
        raise ValueError(f"`data_range` must be a pair (low, high) of floats; received {data_range!r}.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"`data_range` must be finite with low < high; received {data_range!r}.")
    return low, high
