"""End-to-end tests against a real `tensorflow_model_server`, skipped where it is not on PATH.

The server loads a small export through export/models.config's format and the client in
export/client.py calls it over REST and gRPC on 127.0.0.1.

Warning: tensorflow_model_server binds its gRPC port on 0.0.0.0 (TF Serving's server.cc
builds the address "0.0.0.0:<port>") and has no flag that limits it to loopback, so run these
tests on a machine whose ports are not reachable from other hosts. The clients here only
connect to 127.0.0.1.
"""

import importlib.util
import json
import pathlib
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from tf_ebm import export_lib
from tf_ebm import model as model_lib
from tf_ebm import networks

pytestmark = [
    pytest.mark.serving,
    pytest.mark.skipif(shutil.which("tensorflow_model_server") is None, reason="tensorflow_model_server is not on PATH"),
]

CLIENT_PATH = pathlib.Path(__file__).resolve().parent.parent / "export" / "client.py"
MODEL_NAME = "ebm"
MAX_STEPS = 10
MAX_SAMPLES = 8
STARTUP_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0


def _load_client():
    spec = importlib.util.spec_from_file_location("tf_ebm_serving_client", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


client = _load_client()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_available(rest_address, process):
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    url = f"http://{rest_address}/v1/models/{MODEL_NAME}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tensorflow_model_server exited with status {process.returncode} during startup.")
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                states = [entry["state"] for entry in json.loads(response.read())["model_version_status"]]
            if "AVAILABLE" in states:
                return
        except (urllib.error.URLError, ConnectionError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"Model {MODEL_NAME!r} was not AVAILABLE at {url} after {STARTUP_TIMEOUT_SECONDS} s.")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serving")
    model = model_lib.EnergyModel(networks.toy_mlp(), epsilon=0.1, num_steps=3, seed=5)
    path = export_lib.export_energy_model(model, folder, model_name=MODEL_NAME, max_steps=MAX_STEPS, max_samples=MAX_SAMPLES)
    config = folder / "models.config"
    config.write_text(
        "model_config_list {\n"
        "  config {\n"
        f'    name: "{MODEL_NAME}"\n'
        f'    base_path: "{folder / MODEL_NAME}"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n"
    )
    grpc_port, rest_port = _free_port(), _free_port()
    log = open(folder / "server.log", "w")
    process = subprocess.Popen(
        [
            "tensorflow_model_server",
            f"--port={grpc_port}",
            f"--rest_api_port={rest_port}",
            f"--model_config_file={config}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_available(f"127.0.0.1:{rest_port}", process)
        yield {
            "rest": f"127.0.0.1:{rest_port}",
            "grpc": f"127.0.0.1:{grpc_port}",
            "model": model,
            "signatures": tf.saved_model.load(path).signatures,
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _direct(signature, inputs):
    return {key: value.numpy() for key, value in signature(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


@pytest.mark.parametrize("build", ["row_request", "columnar_request"])
def test_rest_sample_matches_loaded_signature(server, build):
    inputs = client.sample_inputs(seed=3, num_samples=4, num_steps=5)
    request = getattr(client, build)("sample", inputs)
    outputs = client.rest_predict(server["rest"], MODEL_NAME, request, timeout=REQUEST_TIMEOUT_SECONDS)

    expected = _direct(server["signatures"]["sample"], inputs)
    # TF Serving runs its own TensorFlow build, so float results may differ in the last bits.
    np.testing.assert_allclose(outputs["samples"], expected["samples"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["energy"], expected["energy"], rtol=1e-4, atol=1e-5)


def test_rest_energy_matches_keras(server):
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (5, 2)).astype(np.float32)
    request = client.row_request("energy", client.examples_inputs(x))
    outputs = client.rest_predict(server["rest"], MODEL_NAME, request, timeout=REQUEST_TIMEOUT_SECONDS)

    np.testing.assert_allclose(outputs["energy"], server["model"](x).numpy(), rtol=1e-5, atol=1e-6)


def test_rest_refine_row_format(server):
    x = np.random.default_rng(1).uniform(-1.0, 1.0, (3, 2)).astype(np.float32)
    inputs = client.refine_inputs(x, seed=2, num_steps=4)
    outputs = client.rest_predict(server["rest"], MODEL_NAME, client.row_request("refine", inputs), timeout=REQUEST_TIMEOUT_SECONDS)

    expected = _direct(server["signatures"]["refine"], inputs)
    np.testing.assert_allclose(outputs["samples"], expected["samples"], rtol=1e-4, atol=1e-5)


def test_rest_cap_error_states_cap(server):
    request = client.row_request("sample", client.sample_inputs(seed=3, num_samples=4, num_steps=MAX_STEPS + 1))
    with pytest.raises(client.ServingError, match=f"{MAX_STEPS} is the max_steps of this export"):
        client.rest_predict(server["rest"], MODEL_NAME, request, timeout=REQUEST_TIMEOUT_SECONDS)

    good = client.row_request("sample", client.sample_inputs(seed=3, num_samples=4, num_steps=1))
    assert client.rest_predict(server["rest"], MODEL_NAME, good, timeout=REQUEST_TIMEOUT_SECONDS)["samples"].shape == (4, 2)


def test_rest_wrong_shape_error(server):
    request = client.row_request("energy", client.examples_inputs(np.zeros((2, 3), np.float32)))
    with pytest.raises(client.ServingError, match=r"must have shape \(batch, 2\)"):
        client.rest_predict(server["rest"], MODEL_NAME, request, timeout=REQUEST_TIMEOUT_SECONDS)


def test_rest_cannot_call_metadata_signature(server):
    # TF Serving's JSON parser rejects a signature without inputs; export_lib documents this.
    with pytest.raises(client.ServingError, match="Failed to get input map"):
        client.rest_predict(server["rest"], MODEL_NAME, {"signature_name": "metadata", "inputs": {}}, timeout=REQUEST_TIMEOUT_SECONDS)


def test_grpc_sample_and_metadata(server):
    inputs = client.sample_inputs(seed=3, num_samples=4, num_steps=5)
    outputs = client.grpc_predict(server["grpc"], MODEL_NAME, "sample", inputs, timeout=REQUEST_TIMEOUT_SECONDS)
    expected = _direct(server["signatures"]["sample"], inputs)
    np.testing.assert_allclose(outputs["samples"], expected["samples"], rtol=1e-4, atol=1e-5)

    metadata = client.grpc_predict(server["grpc"], MODEL_NAME, "metadata", {}, timeout=REQUEST_TIMEOUT_SECONDS)
    assert metadata["max_steps"] == MAX_STEPS
    assert metadata["max_samples"] == MAX_SAMPLES


def test_client_command_line_writes_png(server, tmp_path):
    output = tmp_path / "samples.png"
    arguments = ["sample", f"--server={server['rest']}", "--num_samples=8", "--num_steps=3", f"--output={output}"]
    assert client.main(arguments) == 0
    assert output.stat().st_size > 0
