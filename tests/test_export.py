"""Tests for tf_ebm.export_lib: SavedModel signatures, loaders, caps and version folders.

The signatures are checked the ways TF Serving and its tools reach them. A fresh process loads
each export with `tf.saved_model.load` and with the TF1 session loader, which TF Serving's C++
loader mirrors. A session callable feeds tensors without Python's shape check, as TF Serving
does. `saved_model_cli show` lists the signatures. TF Serving itself runs in test_serving.py.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_ebm import export_lib
from tf_ebm import model as model_lib
from tf_ebm import networks
from tf_ebm.data import toy

IMAGE_SHAPE = (8, 8, 3)
MAX_STEPS = 20
MAX_SAMPLES = 8
PROBE_SEED = 5
PROBE_NUM_SAMPLES = 4
PROBE_NUM_STEPS = 3

# Runs in a fresh Python process: loads each export with tf.saved_model.load and with the
# TF1 session loader, calls every signature and writes the outputs to an .npz file.
_PROBE_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import numpy as np
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2

    def probe(spec, tf1):
        x = np.load(spec["x"])
        count_inputs = {
            "seed": np.array([spec["seed"]], np.int64),
            "num_samples": np.array([spec["num_samples"]], np.int32),
            "num_steps": np.array([spec["num_steps"]], np.int32),
        }
        inputs = {
            "energy": {"x": x},
            "score": {"x": x},
            "sample": count_inputs,
            "serving_default": count_inputs,
            "refine": {"x": x[: spec["num_samples"]], "seed": count_inputs["seed"], "num_steps": count_inputs["num_steps"]},
            "metadata": {},
        }
        results = {}

        loaded = tf.saved_model.load(spec["path"])
        for name, signature_inputs in inputs.items():
            outputs = loaded.signatures[name](**{key: tf.constant(value) for key, value in signature_inputs.items()})
            for key, value in outputs.items():
                results[f"tf2/{name}/{key}"] = value.numpy()

        if tf1:
            graph = tf.Graph()
            with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
                meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], spec["path"])
                for name, signature_inputs in inputs.items():
                    signature = meta_graph.signature_def[name]
                    feeds = {signature.inputs[key].name: value for key, value in signature_inputs.items()}
                    fetches = {key: info.name for key, info in signature.outputs.items()}
                    for key, value in session.run(fetches, feeds).items():
                        results[f"tf1/{name}/{key}"] = value

                # A callable feeds tensors to the C++ session without Python's shape check, as
                # TF Serving does. Wrong shapes must fail the request, not abort the process.
                energy = meta_graph.signature_def["energy"]
                options = config_pb2.CallableOptions()
                options.feed.append(energy.inputs["x"].name)
                options.fetch.append(energy.outputs["energy"].name)
                run_energy = session._make_callable_from_options(options)
                bad_inputs = {
                    "wrong_size": np.zeros((2,) + x.shape[1:-1] + (x.shape[-1] + 1,), np.float32),
                    "missing_axis": np.zeros(x.shape[:-1], np.float32),
                    "extra_axis": np.zeros(x.shape + (1,), np.float32),
                }
                for case, bad in bad_inputs.items():
                    try:
                        run_energy(bad)
                        results[f"errors/{case}"] = np.array("no error")
                    except tf.errors.InvalidArgumentError as error:
                        results[f"errors/{case}"] = np.array(error.message)

        np.savez(spec["output"], **results)


    request = json.loads(sys.argv[1])
    for spec in request["exports"]:
        probe(spec, request["tf1"])
    """
)


class QuadraticEnergy(keras.layers.Layer):
    """F(x) = curvature / 2 * |x|^2, whose Langevin chains have closed-form moments."""

    def __init__(self, curvature, **kwargs):
        super().__init__(**kwargs)
        self.curvature = curvature

    def call(self, x):
        return 0.5 * self.curvature * keras.ops.sum(x * x, axis=-1)


def _trained_toy_model():
    model = model_lib.EnergyModel(networks.toy_mlp(), epsilon=0.1, num_steps=5, seed=1, sampler_jit_compile=False)
    model.compile(optimizer="adam", learning_rate=1e-3, jit_compile=False)
    model.fit(toy.sample_toy("gaussian_mixture", 64, seed=0), batch_size=16, epochs=1, verbose=0)
    return model


def _trained_image_model():
    net = networks.vanilla_convnet(image_size=IMAGE_SHAPE[0], channels=IMAGE_SHAPE[2], num_filters=4)
    model = model_lib.EnergyModel(net, epsilon=0.2, num_steps=3, init_type="persistent", bank_size=32, seed=2)
    model.compile(optimizer="adam", learning_rate=1e-3, jit_compile=False)
    images = np.random.default_rng(0).uniform(-1.0, 1.0, (32,) + IMAGE_SHAPE).astype(np.float32)
    model.fit(images, batch_size=8, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Two trained models, their exports and probe inputs, keyed by "toy" and "image"."""
    export_dir = tmp_path_factory.mktemp("exports")
    rng = np.random.default_rng(3)
    cases = {}
    for name, model in (("toy", _trained_toy_model()), ("image", _trained_image_model())):
        path = export_lib.export_energy_model(
            model, export_dir, model_name=name, max_steps=MAX_STEPS, max_samples=MAX_SAMPLES
        )
        x = rng.uniform(-1.0, 1.0, (6,) + model.example_shape).astype(np.float32)
        x_path = export_dir / f"{name}_x.npy"
        np.save(x_path, x)
        cases[name] = {"model": model, "path": path, "x": x, "x_path": str(x_path)}
    return cases


def _start_probe(exported, folder, run, tf1):
    request = {
        "tf1": tf1,
        "exports": [
            {
                "path": case["path"], "x": case["x_path"], "output": str(folder / f"{name}_{run}.npz"),
                "seed": PROBE_SEED, "num_samples": PROBE_NUM_SAMPLES, "num_steps": PROBE_NUM_STEPS,
            }
            for name, case in exported.items()
        ],
    }
    return subprocess.Popen(
        [sys.executable, "-c", _PROBE_SCRIPT, json.dumps(request)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )


@pytest.fixture(scope="module")
def probes(exported, tmp_path_factory):
    """Outputs of two fresh processes per model; the first also runs the TF1 loader."""
    folder = tmp_path_factory.mktemp("probes")
    processes = [_start_probe(exported, folder, "a", tf1=True), _start_probe(exported, folder, "b", tf1=False)]
    for process in processes:
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-4000:]
    results = {}
    for name in exported:
        with np.load(folder / f"{name}_a.npz") as first, np.load(folder / f"{name}_b.npz") as second:
            results[name] = (dict(first), dict(second))
    return results


def _energy_gradient(model, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        energy = model(x)
    return tape.gradient(energy, x).numpy()


def _call(signature, **inputs):
    return {key: value.numpy() for key, value in signature(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def _sample_inputs(seed=PROBE_SEED, num_samples=PROBE_NUM_SAMPLES, num_steps=PROBE_NUM_STEPS):
    return {
        "seed": np.array([seed], np.int64),
        "num_samples": np.array([num_samples], np.int32),
        "num_steps": np.array([num_steps], np.int32),
    }


def _folder_state(folder):
    """Map each file under `folder` to (mtime in ns, SHA-256 of its contents)."""
    state = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                state[os.path.relpath(path, folder)] = (os.stat(path).st_mtime_ns, hashlib.sha256(handle.read()).hexdigest())
    return state


# Signatures in a fresh process.


@pytest.mark.parametrize("name", ["toy", "image"])
def test_energy_matches_keras(exported, probes, name):
    case = exported[name]
    results, _ = probes[name]
    temperature = case["model"].epsilon ** 2 / 2
    expected = case["model"](case["x"]).numpy()

    np.testing.assert_allclose(results["tf2/energy/energy"], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(results["tf2/energy/scaled_energy"], expected / temperature, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["toy", "image"])
def test_score_matches_gradient_tape(exported, probes, name):
    case = exported[name]
    results, _ = probes[name]
    temperature = case["model"].epsilon ** 2 / 2
    expected = _energy_gradient(case["model"], case["x"]) / temperature

    np.testing.assert_allclose(results["tf2/score/energy_gradient"], expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_array_equal(results["tf2/score/score"], -results["tf2/score/energy_gradient"])


@pytest.mark.parametrize("name", ["toy", "image"])
def test_sample_shapes_and_energies(exported, probes, name):
    case = exported[name]
    results, _ = probes[name]
    samples = results["tf2/sample/samples"]

    assert samples.shape == (PROBE_NUM_SAMPLES,) + case["model"].example_shape
    np.testing.assert_allclose(results["tf2/sample/energy"], case["model"](samples).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(results["tf2/serving_default/samples"], samples)
    assert results["tf2/refine/samples"].shape == (PROBE_NUM_SAMPLES,) + case["model"].example_shape


@pytest.mark.parametrize("name", ["toy", "image"])
def test_sample_identical_across_processes(probes, name):
    first, second = probes[name]
    for key in ("tf2/sample/samples", "tf2/sample/energy", "tf2/refine/samples"):
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("name", ["toy", "image"])
def test_metadata_signature_matches_json(exported, probes, name):
    case = exported[name]
    results, _ = probes[name]
    metadata = export_lib.read_metadata(case["path"])

    assert metadata["example_shape"] == list(case["model"].example_shape)
    assert metadata["max_steps"] == MAX_STEPS
    assert metadata["max_samples"] == MAX_SAMPLES
    assert metadata["default_steps"] == case["model"].num_steps
    assert metadata["network"] == case["model"].energy_net.name
    for key, value in metadata.items():
        tensor = results[f"tf2/metadata/{key}"]
        if isinstance(value, str):
            assert tensor.item().decode() == value, key
        else:
            np.testing.assert_allclose(tensor, value, rtol=1e-6, err_msg=key)


def test_metadata_records_sample_initialization(exported):
    toy_metadata = export_lib.read_metadata(exported["toy"]["path"])
    image_metadata = export_lib.read_metadata(exported["image"]["path"])

    assert toy_metadata["sample_init_type"] == "uniform"
    assert image_metadata["init_type"] == "persistent"
    assert image_metadata["sample_init_type"] == "uniform"
    assert image_metadata["temperature"] == pytest.approx(0.2**2 / 2)


def test_sample_draws_noise_at_init_scale(tmp_path):
    model = model_lib.EnergyModel(
        networks.toy_mlp(input_dim=2), epsilon=0.1, num_steps=5, init_type="gaussian", init_scale=2.0
    )
    path = export_lib.export_energy_model(model, tmp_path, max_steps=10, max_samples=4000)
    assert export_lib.read_metadata(path)["init_scale"] == 2.0
    signature = tf.saved_model.load(path).signatures["sample"]
    # Zero steps return the initial states: 4000 x 2 draws of N(0, 4), standard error of
    # the standard deviation about 2 / sqrt(2 * 8000) = 0.016.
    states = _call(signature, **_sample_inputs(seed=3, num_samples=4000, num_steps=0))["samples"]
    assert abs(states.std() - 2.0) < 0.08


# The TF1 session loader, as TF Serving binds signatures.


@pytest.mark.parametrize("name", ["toy", "image"])
def test_tf1_loader_matches_tf2_loader(probes, name):
    results, _ = probes[name]
    tf1_keys = sorted(key for key in results if key.startswith("tf1/"))

    assert {key.split("/")[1] for key in tf1_keys} == set(export_lib.SIGNATURE_NAMES)
    for key in tf1_keys:
        tf2_value = results["tf2/" + key[len("tf1/") :]]
        if tf2_value.dtype.kind == "f":
            np.testing.assert_allclose(results[key], tf2_value, rtol=1e-6, atol=1e-7, err_msg=key)
        else:
            np.testing.assert_array_equal(results[key], tf2_value, err_msg=key)


@pytest.mark.parametrize("name", ["toy", "image"])
def test_tf1_loader_rejects_wrong_shapes(exported, probes, name):
    results, _ = probes[name]
    shape_text = ", ".join(str(size) for size in exported[name]["model"].example_shape)

    for case in ("wrong_size", "missing_axis", "extra_axis"):
        message = str(results[f"errors/{case}"])
        assert f"must have shape (batch, {shape_text})" in message, message


# saved_model_cli.


def _parse_saved_model_cli(text):
    """Map signature name to {"inputs"|"outputs": {name: (dtype, shape)}, "method": ...}."""
    signatures = {}
    current = None
    section = None
    for line in text.splitlines():
        line = line.strip()
        if match := re.match(r"signature_def\['(.+)'\]:", line):
            current = signatures.setdefault(match.group(1), {"inputs": {}, "outputs": {}})
        elif current is None:
            continue
        elif match := re.match(r"(inputs|outputs)\['(.+)'\] tensor_info:", line):
            section, tensor = match.group(1), match.group(2)
            current[section][tensor] = [None, None]
        elif line.startswith("dtype:"):
            current[section][tensor][0] = line.split(":", 1)[1].strip()
        elif line.startswith("shape:"):
            current[section][tensor][1] = line.split(":", 1)[1].strip()
        elif line.startswith("Method name is:"):
            current["method"] = line.split(":", 1)[1].strip()
    return {
        name: {
            "method": value.get("method"),
            "inputs": {k: tuple(v) for k, v in value["inputs"].items()},
            "outputs": {k: tuple(v) for k, v in value["outputs"].items()},
        }
        for name, value in signatures.items()
    }


def _expected_signatures(example_shape):
    x = ("DT_FLOAT", "(-1, " + ", ".join(str(size) for size in example_shape) + ")")
    seed = ("DT_INT64", "(-1)")
    count = ("DT_INT32", "(-1)")
    per_example = ("DT_FLOAT", "(-1)")
    sample = {"inputs": {"seed": seed, "num_samples": count, "num_steps": count}, "outputs": {"samples": x, "energy": per_example}}
    scalar_float, scalar_int, scalar_string = ("DT_FLOAT", "()"), ("DT_INT32", "()"), ("DT_STRING", "()")
    metadata_outputs = {
        "epsilon": scalar_float, "temperature": scalar_float, "default_steps": scalar_int, "max_steps": scalar_int,
        "max_samples": scalar_int, "init_type": scalar_string, "sample_init_type": scalar_string,
        "init_scale": scalar_float,
        "example_shape": ("DT_INT32", f"({len(example_shape)})"), "data_range": ("DT_FLOAT", "(2)"),
        "network": scalar_string, "tf_ebm_version": scalar_string,
    }
    signatures = {
        "energy": {"inputs": {"x": x}, "outputs": {"energy": per_example, "scaled_energy": per_example}},
        "score": {"inputs": {"x": x}, "outputs": {"score": x, "energy_gradient": x}},
        "sample": sample,
        "serving_default": sample,
        "refine": {"inputs": {"x": x, "seed": seed, "num_steps": count}, "outputs": {"samples": x, "energy": per_example}},
        "metadata": {"inputs": {}, "outputs": metadata_outputs},
    }
    return {name: dict(value, method="tensorflow/serving/predict") for name, value in signatures.items()}


def test_saved_model_cli_lists_signatures(exported):
    # One model only: `saved_model_cli show --all` loads the whole SavedModel (about 12 s).
    completed = subprocess.run(
        ["saved_model_cli", "show", "--dir", exported["image"]["path"], "--all"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    listed = _parse_saved_model_cli(completed.stdout)
    # saved_model_cli also lists the internal "__saved_model_init_op" signature.
    listed.pop("__saved_model_init_op", None)

    assert listed == _expected_signatures(IMAGE_SHAPE)


# Sampler agreement with the training sampler.


def _quadratic_model(curvature, epsilon, num_steps, jit_compile):
    inputs = keras.Input(shape=(2,))
    net = keras.Model(inputs, QuadraticEnergy(curvature)(inputs), name="quadratic")
    return model_lib.EnergyModel(net, epsilon=epsilon, num_steps=num_steps, sampler_jit_compile=jit_compile)


def test_sample_statistics_match_training_sampler(tmp_path):
    # With F = c |x|^2 / 2 the update x <- x - grad F + eps z is x <- a x + eps z with
    # a = 1 - c, so from uniform noise on [-1, 1] (mean 0, variance 1/3) after L steps
    # every coordinate has mean 0 and variance a^(2L) / 3 + eps^2 (1 - a^(2L)) / (1 - a^2).
    curvature, epsilon, num_steps, num_samples = 0.2, 0.3, 10, 2048
    a = 1.0 - curvature
    variance = a ** (2 * num_steps) / 3 + epsilon**2 * (1 - a ** (2 * num_steps)) / (1 - a**2)
    model = _quadratic_model(curvature, epsilon, num_steps, jit_compile=True)
    path = export_lib.export_energy_model(model, tmp_path, max_steps=num_steps, max_samples=num_samples)
    signature = tf.saved_model.load(path).signatures["sample"]

    exported_samples = _call(signature, **_sample_inputs(seed=1, num_samples=num_samples, num_steps=num_steps))["samples"]
    training_samples = model.sample(num_samples=num_samples, seed=2).numpy()

    # n = 4096 independent coordinates per sampler. Tolerances are 4.5 standard errors:
    # sqrt(v / n) for a mean and v sqrt(2 / (n - 1)) for a variance, times sqrt(2) when two
    # estimates are compared.
    count = exported_samples.size
    mean_error = np.sqrt(variance / count)
    variance_error = variance * np.sqrt(2.0 / (count - 1))
    for samples in (exported_samples, training_samples):
        assert abs(samples.mean()) < 4.5 * mean_error
        assert abs(samples.var() - variance) < 4.5 * variance_error
    assert abs(exported_samples.mean() - training_samples.mean()) < 4.5 * np.sqrt(2) * mean_error
    assert abs(exported_samples.var() - training_samples.var()) < 4.5 * np.sqrt(2) * variance_error


def test_sample_replays_model_sample_without_xla(exported):
    case = exported["toy"]
    signatures = tf.saved_model.load(case["path"]).signatures
    model = case["model"]

    exported_samples = _call(signatures["sample"], **_sample_inputs(seed=11, num_samples=MAX_SAMPLES, num_steps=MAX_STEPS))
    model_samples = model.sample(num_samples=MAX_SAMPLES, num_steps=MAX_STEPS, seed=11).numpy()
    np.testing.assert_allclose(exported_samples["samples"], model_samples, rtol=1e-5, atol=1e-6)

    refined = _call(signatures["refine"], x=case["x"], seed=np.array([11], np.int64), num_steps=np.array([MAX_STEPS], np.int32))
    model_refined = model.sample(initial_states=case["x"], num_steps=MAX_STEPS, seed=11).numpy()
    np.testing.assert_allclose(refined["samples"], model_refined, rtol=1e-5, atol=1e-6)


def test_refine_accepts_seed_per_row(exported):
    case = exported["image"]
    signature = tf.saved_model.load(case["path"]).signatures["refine"]
    rows = len(case["x"])

    shared = _call(signature, x=case["x"], seed=np.array([4], np.int64), num_steps=np.array([2], np.int32))
    repeated = _call(signature, x=case["x"], seed=np.full([rows], 4, np.int64), num_steps=np.full([rows], 2, np.int32))
    np.testing.assert_array_equal(shared["samples"], repeated["samples"])


# Bad requests.


@pytest.fixture(scope="module")
def image_signatures(exported):
    return tf.saved_model.load(exported["image"]["path"]).signatures


def _good_sample_request(signatures):
    outputs = _call(signatures["sample"], **_sample_inputs())
    assert outputs["samples"].shape == (PROBE_NUM_SAMPLES,) + IMAGE_SHAPE


_COUNTS = {"seed": [PROBE_SEED], "num_samples": [PROBE_NUM_SAMPLES], "num_steps": [PROBE_NUM_STEPS]}
_BAD_SAMPLE_REQUESTS = [
    ("steps_above_cap", dict(_COUNTS, num_steps=[MAX_STEPS + 1]), f"between 0 and {MAX_STEPS} ({MAX_STEPS} is the max_steps"),
    ("negative_steps", dict(_COUNTS, num_steps=[-1]), f"between 0 and {MAX_STEPS}"),
    ("samples_above_cap", dict(_COUNTS, num_samples=[MAX_SAMPLES + 1]), f"between 1 and {MAX_SAMPLES} ({MAX_SAMPLES} is the max_samples"),
    ("negative_samples", dict(_COUNTS, num_samples=[-3]), f"between 1 and {MAX_SAMPLES}"),
    ("zero_samples", dict(_COUNTS, num_samples=[0]), f"between 1 and {MAX_SAMPLES}"),
    ("two_seeds", dict(_COUNTS, seed=[1, 2]), "`seed` must contain exactly one value"),
    ("no_steps", dict(_COUNTS, num_steps=[]), "`num_steps` must contain exactly one value"),
]


@pytest.mark.parametrize("case, counts, expected", _BAD_SAMPLE_REQUESTS, ids=[case[0] for case in _BAD_SAMPLE_REQUESTS])
def test_sample_rejects_bad_counts(image_signatures, case, counts, expected):
    inputs = {
        "seed": np.array(counts["seed"], np.int64),
        "num_samples": np.array(counts["num_samples"], np.int32),
        "num_steps": np.array(counts["num_steps"], np.int32),
    }
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        _call(image_signatures["sample"], **inputs)

    assert expected in raised.value.message
    _good_sample_request(image_signatures)


def test_scalar_counts_equal_one_element_lists(image_signatures):
    # gRPC clients often send scalars, although the signatures declare shape (None,).
    listed = _call(image_signatures["sample"], **_sample_inputs())
    scalars = _call(
        image_signatures["sample"],
        seed=np.int64(PROBE_SEED), num_samples=np.int32(PROBE_NUM_SAMPLES), num_steps=np.int32(PROBE_NUM_STEPS),
    )
    np.testing.assert_array_equal(scalars["samples"], listed["samples"])
    assert scalars["samples"].shape == (PROBE_NUM_SAMPLES,) + IMAGE_SHAPE

    x = listed["samples"]
    refined_listed = _call(image_signatures["refine"], x=x, seed=np.array([5], np.int64), num_steps=np.array([2], np.int32))
    refined_scalars = _call(image_signatures["refine"], x=x, seed=np.int64(5), num_steps=np.int32(2))
    np.testing.assert_array_equal(refined_scalars["samples"], refined_listed["samples"])


@pytest.mark.parametrize(
    "shape",
    [(2, 16, 16, 3), (2, 8, 8, 1), (2, 8, 8), (2, 8, 8, 3, 1)],
    ids=["larger_image", "one_channel", "missing_channels", "extra_axis"],
)
@pytest.mark.parametrize("signature_name", ["energy", "score"])
def test_examples_reject_wrong_shape(image_signatures, signature_name, shape):
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        image_signatures[signature_name](x=tf.zeros(shape))

    assert "`x` must have shape (batch, 8, 8, 3)" in raised.value.message
    assert "received shape" in raised.value.message
    _good_sample_request(image_signatures)


def test_refine_rejects_bad_requests(image_signatures):
    x = np.zeros((3,) + IMAGE_SHAPE, np.float32)
    bad_requests = [
        (dict(x=np.zeros((MAX_SAMPLES + 1,) + IMAGE_SHAPE, np.float32), seed=[1], num_steps=[1]), f"between 1 and {MAX_SAMPLES} rows"),
        (dict(x=np.zeros((0,) + IMAGE_SHAPE, np.float32), seed=[1], num_steps=[1]), f"between 1 and {MAX_SAMPLES} rows"),
        (dict(x=x, seed=[1], num_steps=[MAX_STEPS + 1]), f"{MAX_STEPS} is the max_steps"),
        (dict(x=x, seed=[1, 2, 1], num_steps=[1]), "`seed` must contain one value, or the same value once per row"),
        (dict(x=x, seed=[1, 1], num_steps=[1]), "`seed` must contain one value, or the same value once per row"),
        (dict(x=x, seed=[1], num_steps=[1, 2, 2]), "`num_steps` must contain one value, or the same value once per row"),
    ]
    for request, expected in bad_requests:
        inputs = dict(request, seed=np.array(request["seed"], np.int64), num_steps=np.array(request["num_steps"], np.int32))
        with pytest.raises(tf.errors.InvalidArgumentError) as raised:
            _call(image_signatures["refine"], **inputs)
        assert expected in raised.value.message

    _good_sample_request(image_signatures)


def test_signatures_reject_wrong_dtype(image_signatures):
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        image_signatures["energy"](x=tf.zeros((2,) + IMAGE_SHAPE, tf.float64))
    assert "expected to be a float tensor but is a double tensor" in raised.value.message

    inputs = {key: tf.constant(value) for key, value in _sample_inputs().items()}
    inputs["seed"] = tf.cast(inputs["seed"], tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        image_signatures["sample"](**inputs)
    assert "expected to be a int64 tensor but is a int32 tensor" in raised.value.message

    _good_sample_request(image_signatures)


# Version folders.


def test_existing_version_is_left_untouched(exported):
    path = exported["toy"]["path"]
    model_dir = os.path.dirname(path)
    before = _folder_state(model_dir)

    with pytest.raises(FileExistsError, match=re.escape(path)):
        export_lib.export_energy_model(
            exported["toy"]["model"], os.path.dirname(model_dir), model_name="toy", version=int(os.path.basename(path))
        )

    assert _folder_state(model_dir) == before
    assert os.listdir(model_dir) == [os.path.basename(path)]


def test_versions_increment_past_largest(tmp_path):
    model = _quadratic_model(curvature=1.0, epsilon=0.1, num_steps=2, jit_compile=False)
    (tmp_path / "ebm" / "7").mkdir(parents=True)
    (tmp_path / "ebm" / "notes").mkdir()

    path = export_lib.export_energy_model(model, tmp_path, max_steps=4, max_samples=4)

    assert path == str(tmp_path / "ebm" / "8")
    assert sorted(os.listdir(tmp_path / "ebm")) == ["7", "8", "notes"]
    assert export_lib.next_version(tmp_path / "ebm") == 9


def test_failed_export_leaves_no_folder(tmp_path, monkeypatch):
    model = _quadratic_model(curvature=1.0, epsilon=0.1, num_steps=2, jit_compile=False)

    def failing_save(module, export_dir, signatures=None, options=None):
        os.makedirs(os.path.join(export_dir, "variables"))
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        export_lib.export_energy_model(model, tmp_path, version=3, max_steps=4, max_samples=4)

    assert os.listdir(tmp_path / "ebm") == []


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(version=0), "`version` must be an integer >= 1"),
        (dict(version=1.5), "`version` must be an integer >= 1"),
        (dict(max_steps=0), "`max_steps` must be an integer >= 1"),
        (dict(max_samples=-2), "`max_samples` must be an integer >= 1"),
        (dict(max_steps=4, default_steps=5), "`default_steps`=5 exceeds `max_steps`=4"),
        (dict(model_name="../ebm"), "`model_name` must start with a letter or digit"),
        (dict(data_range=(1.0, -1.0)), "`data_range` must be finite with low < high"),
    ],
)
def test_export_rejects_bad_arguments(tmp_path, arguments, message):
    model = _quadratic_model(curvature=1.0, epsilon=0.1, num_steps=2, jit_compile=False)
    with pytest.raises(ValueError, match=re.escape(message)):
        export_lib.export_energy_model(model, tmp_path, **arguments)
    assert not os.path.exists(tmp_path / "ebm" / "1")


def test_temperature_is_one_without_noise():
    assert export_lib.serving_temperature(0.0) == 1.0
    assert export_lib.serving_temperature(0.1) == pytest.approx(0.005)


# The command line.

def train_tiny_toy_workdir(workdir):
    from tf_ebm import config as config_lib
    from tf_ebm import training

    config = config_lib.base_config()
    config.update_from_flattened_dict({
        "train.num_updates": 10, "train.log_every": 10, "train.checkpoint_every": 10,
        "train.batch_size": 20, "sampler.num_steps": 7, "sampler.bank_size": 100,
        "data.num_examples": 200, "toy.grid_resolution": 20, "toy.num_kde_samples": 50,
    })
    return training.train_and_evaluate(config, str(workdir), verbose=0)


def run_export_cli(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "tf_ebm.export", *arguments],
        capture_output=True, text=True, timeout=240, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )


def test_command_line_exports_and_prints_metadata(tmp_path):
    trained = train_tiny_toy_workdir(tmp_path / "run")
    export_dir = tmp_path / "export"
    completed = run_export_cli(
        f"--workdir={tmp_path / 'run'}", f"--export_dir={export_dir}", "--max_steps=20", "--max_samples=4"
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    printed = json.loads(completed.stdout[completed.stdout.index("{") :])

    assert printed["path"] == str(export_dir / "ebm" / "1")
    assert printed["metadata"]["default_steps"] == 7
    assert printed["metadata"]["max_steps"] == 20
    assert printed["metadata"]["init_type"] == "persistent"
    # Toy models record the square of the toy density plots as their data range.
    assert printed["metadata"]["data_range"] == [-2.0, 2.0]
    assert os.path.isfile(export_dir / "ebm" / "1" / "saved_model.pb")
    loaded = tf.saved_model.load(str(export_dir / "ebm" / "1"))
    x = np.array([[0.5, -0.25], [1.0, 0.0]], np.float32)
    np.testing.assert_allclose(
        loaded.signatures["energy"](x=tf.constant(x))["energy"].numpy(), trained.model.energy(x).numpy(), rtol=1e-5
    )

    again = run_export_cli(f"--workdir={tmp_path / 'run'}", f"--export_dir={export_dir}", "--version=1")
    assert again.returncode != 0
    assert f"Export failed: version folder {export_dir / 'ebm' / '1'} already exists" in again.stderr
    assert "omit it to take the next free one (2)" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize("flag", ["--max_steps=0", "--max_samples=-1", "--version=0", "--default_steps=-2"])
def test_command_line_rejects_bad_counts_before_loading(tmp_path, flag):
    # The workdir does not exist: the flag check must come first.
    completed = run_export_cli(f"--workdir={tmp_path / 'missing'}", f"--export_dir={tmp_path / 'export'}", flag)
    assert completed.returncode != 0
    assert f"flag {flag}: " in completed.stderr
    assert "No training config" not in completed.stderr


def test_command_line_rejects_missing_workdir(tmp_path):
    completed = run_export_cli(f"--workdir={tmp_path / 'missing'}", f"--export_dir={tmp_path / 'export'}")
    assert completed.returncode != 0
    assert "Export failed: No training config at" in completed.stderr
    assert "is not a tf_ebm workdir" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not os.path.exists(tmp_path / "export")
