"""Tests for export/client.py: TF Serving request and response formats, REST and gRPC calls.

REST calls go to a loopback HTTP server that records each request and returns canned
TF Serving responses. gRPC calls go to a loopback PredictionService built from the
tensorflow-serving-api stubs that runs the exported signatures in process.
"""

import concurrent.futures
import importlib.util
import http.server
import json
import pathlib
import subprocess
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from tf_ebm import export_lib
from tf_ebm import model as model_lib
from tf_ebm import networks

CLIENT_PATH = pathlib.Path(__file__).resolve().parent.parent / "export" / "client.py"
MAX_REQUEST_BYTES = 1 << 20
REQUEST_TIMEOUT_SECONDS = 10.0


def _load_client():
    spec = importlib.util.spec_from_file_location("tf_ebm_serving_client", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


client = _load_client()


# Request builders against hand-written TF Serving JSON.


def test_sample_row_request():
    request = client.row_request("sample", client.sample_inputs(seed=7, num_samples=16, num_steps=100))
    assert request == {"signature_name": "sample", "instances": [{"seed": 7, "num_samples": 16, "num_steps": 100}]}


def test_sample_columnar_request():
    request = client.columnar_request("sample", client.sample_inputs(seed=7, num_samples=16, num_steps=100))
    assert request == {"signature_name": "sample", "inputs": {"seed": [7], "num_samples": [16], "num_steps": [100]}}


def test_refine_row_request_repeats_counts():
    x = np.array([[0.5, -0.25], [1.0, 0.0]], np.float32)
    request = client.row_request("refine", client.refine_inputs(x, seed=3, num_steps=5))
    assert request == {
        "signature_name": "refine",
        "instances": [
            {"x": [0.5, -0.25], "seed": 3, "num_steps": 5},
            {"x": [1.0, 0.0], "seed": 3, "num_steps": 5},
        ],
    }


def test_refine_columnar_request():
    x = np.array([[0.5, -0.25], [1.0, 0.0]], np.float32)
    request = client.columnar_request("refine", client.refine_inputs(x, seed=3, num_steps=5))
    assert request == {"signature_name": "refine", "inputs": {"x": [[0.5, -0.25], [1.0, 0.0]], "seed": [3], "num_steps": [5]}}


def test_energy_row_request_of_images():
    x = np.zeros((2, 2, 2, 1), np.float32)
    request = client.row_request("energy", client.examples_inputs(x))
    assert request == {"signature_name": "energy", "instances": [{"x": [[[0.0], [0.0]], [[0.0], [0.0]]]}] * 2}


def test_requests_keep_float32_values_exact():
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (3, 2)).astype(np.float32)
    request = json.loads(json.dumps(client.row_request("energy", client.examples_inputs(x))))
    np.testing.assert_array_equal(np.array([row["x"] for row in request["instances"]], np.float32), x)


def test_row_request_rejects_mismatched_batches():
    inputs = {"x": np.zeros((3, 2), np.float32), "seed": np.array([1, 2], np.int64)}
    with pytest.raises(ValueError, match="'seed' has 2 rows; the row format needs 1 or 3 rows"):
        client.row_request("refine", inputs)


def test_predict_url():
    assert client.predict_url("127.0.0.1:8501", "ebm") == "http://127.0.0.1:8501/v1/models/ebm:predict"
    assert client.predict_url("127.0.0.1:8501", "ebm", version=3) == "http://127.0.0.1:8501/v1/models/ebm/versions/3:predict"


# Response parsers against hand-written TF Serving JSON.


def test_parse_row_response_with_named_outputs():
    body = {"predictions": [{"samples": [0.5, -0.5], "energy": 1.5}, {"samples": [0.25, 0.0], "energy": -2.0}]}
    outputs = client.parse_response(body)
    np.testing.assert_array_equal(outputs["samples"], np.array([[0.5, -0.5], [0.25, 0.0]], np.float32))
    np.testing.assert_array_equal(outputs["energy"], np.array([1.5, -2.0], np.float32))
    assert outputs["samples"].dtype == np.float32


def test_parse_row_response_with_one_output():
    outputs = client.parse_response({"predictions": [[1.0, 2.0], [3.0, 4.0]]}, output_name="score")
    np.testing.assert_array_equal(outputs["score"], np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))


def test_parse_columnar_response_with_named_outputs():
    body = {"outputs": {"samples": [[0.5, -0.5]], "energy": [1.5]}}
    outputs = client.parse_response(body)
    assert outputs["samples"].shape == (1, 2)
    assert outputs["energy"].shape == (1,)


def test_parse_columnar_response_with_one_output():
    outputs = client.parse_response({"outputs": [1.0, 2.0]})
    np.testing.assert_array_equal(outputs["output"], np.array([1.0, 2.0], np.float32))


def test_parse_response_reads_non_finite_tokens():
    # TF Serving writes NaN and Infinity as bare tokens, which Python's json module reads.
    outputs = client.parse_response('{"outputs": {"energy": [NaN, Infinity, -Infinity]}}')
    assert np.isnan(outputs["energy"][0])
    assert outputs["energy"][1] == np.inf
    assert outputs["energy"][2] == -np.inf


def test_parse_response_raises_serving_error():
    with pytest.raises(client.ServingError, match="num_steps"):
        client.parse_response({"error": "assertion failed: [`num_steps` must be between 0 and 1000]"})


def test_parse_response_rejects_other_bodies():
    with pytest.raises(ValueError, match="'predictions', 'outputs' or 'error'"):
        client.parse_response({"result": [1.0]})


# REST calls against a loopback server with canned TF Serving responses.

_SAMPLE_ROWS = [{"samples": np.full((8, 8, 3), 0.5).tolist(), "energy": -1.0}, {"samples": np.full((8, 8, 3), -0.5).tolist(), "energy": 2.0}]
_CAP_ERROR = "assertion failed: [`num_steps` must be between 0 and 20 (20 is the max_steps of this export)]"


class _CannedServingHandler(http.server.BaseHTTPRequestHandler):
    """Records requests and responds like TF Serving's REST API for a model named "ebm"."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        if length > MAX_REQUEST_BYTES:
            self._send(413, {"error": "request too large"})
            return
        body = json.loads(self.rfile.read(length))
        self.server.requests.append((self.path, body))
        if not self.path.startswith("/v1/models/ebm") or not self.path.endswith(":predict"):
            self._send(404, {"error": "Servable not found for request"})
        elif "instances" in body and body["instances"][0]["num_steps"] > 20:
            self._send(400, {"error": _CAP_ERROR})
        elif "instances" in body:
            self._send(200, {"predictions": _SAMPLE_ROWS})
        else:
            outputs = {"samples": [row["samples"] for row in _SAMPLE_ROWS], "energy": [row["energy"] for row in _SAMPLE_ROWS]}
            self._send(200, {"outputs": outputs})

    def do_GET(self):
        self.server.requests.append((self.path, None))
        self._send(200, {"model_spec": {"name": "ebm", "version": "1"}, "metadata": {"signature_def": {}}})

    def log_message(self, format, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def canned_server_module():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CannedServingHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=REQUEST_TIMEOUT_SECONDS)


@pytest.fixture
def canned_server(canned_server_module):
    canned_server_module.requests.clear()
    return canned_server_module


def _address(server):
    return f"127.0.0.1:{server.server_address[1]}"


def test_rest_predict_row_format(canned_server):
    request = client.row_request("sample", client.sample_inputs(seed=1, num_samples=2, num_steps=5))
    outputs = client.rest_predict(_address(canned_server), "ebm", request, timeout=REQUEST_TIMEOUT_SECONDS)

    assert canned_server.requests == [("/v1/models/ebm:predict", request)]
    assert outputs["samples"].shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(outputs["energy"], [-1.0, 2.0])


def test_rest_predict_columnar_format_with_version(canned_server):
    request = client.columnar_request("sample", client.sample_inputs(seed=1, num_samples=2, num_steps=5))
    outputs = client.rest_predict(_address(canned_server), "ebm", request, version=4, timeout=REQUEST_TIMEOUT_SECONDS)

    assert canned_server.requests == [("/v1/models/ebm/versions/4:predict", request)]
    assert outputs["samples"].shape == (2, 8, 8, 3)


def test_rest_predict_raises_error_text(canned_server):
    request = client.row_request("sample", client.sample_inputs(seed=1, num_samples=2, num_steps=50))
    with pytest.raises(client.ServingError, match="20 is the max_steps") as raised:
        client.rest_predict(_address(canned_server), "ebm", request, timeout=REQUEST_TIMEOUT_SECONDS)
    assert raised.value.code == 400


def test_rest_predict_unknown_model(canned_server):
    request = client.row_request("sample", client.sample_inputs(seed=1, num_samples=2, num_steps=5))
    with pytest.raises(client.ServingError, match="Servable not found") as raised:
        client.rest_predict(_address(canned_server), "other", request, timeout=REQUEST_TIMEOUT_SECONDS)
    assert raised.value.code == 404


def test_rest_model_metadata_path(canned_server):
    metadata = client.rest_model_metadata(_address(canned_server), "ebm", version=2, timeout=REQUEST_TIMEOUT_SECONDS)
    assert canned_server.requests == [("/v1/models/ebm/versions/2/metadata", None)]
    assert metadata["model_spec"]["name"] == "ebm"


def test_command_line_writes_png_grid(canned_server, tmp_path):
    output = tmp_path / "samples.png"
    arguments = ["sample", f"--server={_address(canned_server)}", "--num_samples=2", "--num_steps=5", f"--output={output}"]
    assert client.main(arguments) == 0

    path, body = canned_server.requests[0]
    assert body == {"signature_name": "sample", "instances": [{"seed": 0, "num_samples": 2, "num_steps": 5}]}
    with Image.open(output) as image:
        assert image.size == (16, 8)
        assert image.mode == "RGB"
        pixels = np.asarray(image)
    # 0.5 and -0.5 in [-1, 1] map to 191 and 64.
    assert pixels[0, 0].tolist() == [191, 191, 191]
    assert pixels[0, 8].tolist() == [64, 64, 64]


def test_command_line_requires_num_steps():
    with pytest.raises(SystemExit):
        client.main(["sample", "--server=127.0.0.1:1"])


def test_save_png_draws_points(tmp_path):
    points = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    client.save_png(points, tmp_path / "points.png", data_range=(-3.0, 3.0))
    with Image.open(tmp_path / "points.png") as image:
        assert image.format == "PNG"


def test_save_png_rejects_other_shapes(tmp_path):
    with pytest.raises(ValueError, match=r"received shape \(4, 3\)"):
        client.save_png(np.zeros((4, 3)), tmp_path / "bad.png")


# gRPC calls against a loopback PredictionService that runs the exported signatures.


class _SavedModelPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Runs Predict like TF Serving: signature by name, errors as INVALID_ARGUMENT."""

    def __init__(self, model_name, path):
        self._model_name = model_name
        self._signatures = tf.saved_model.load(path).signatures

    def Predict(self, request, context):
        if request.model_spec.name != self._model_name:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({request.model_spec.name})")
        signature = self._signatures[request.model_spec.signature_name or "serving_default"]
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        try:
            outputs = signature(**inputs)
        except tf.errors.InvalidArgumentError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        response = predict_pb2.PredictResponse()
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


@pytest.fixture(scope="module")
def grpc_service(tmp_path_factory):
    model = model_lib.EnergyModel(networks.toy_mlp(), epsilon=0.1, num_steps=3, seed=4)
    path = export_lib.export_energy_model(model, tmp_path_factory.mktemp("grpc"), max_steps=10, max_samples=8)
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_SavedModelPredictionService("ebm", path), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield {"address": f"127.0.0.1:{port}", "path": path}
    server.stop(grace=None)


def test_grpc_sample_matches_signature(grpc_service):
    inputs = client.sample_inputs(seed=2, num_samples=5, num_steps=4)
    outputs = client.grpc_predict(grpc_service["address"], "ebm", "sample", inputs, timeout=REQUEST_TIMEOUT_SECONDS)

    direct = tf.saved_model.load(grpc_service["path"]).signatures["sample"](**{k: tf.constant(v) for k, v in inputs.items()})
    np.testing.assert_array_equal(outputs["samples"], direct["samples"].numpy())
    np.testing.assert_array_equal(outputs["energy"], direct["energy"].numpy())


def test_grpc_metadata_without_inputs(grpc_service):
    outputs = client.grpc_predict(grpc_service["address"], "ebm", "metadata", {}, timeout=REQUEST_TIMEOUT_SECONDS)
    assert outputs["max_steps"] == 10
    assert outputs["init_type"] == b"uniform"
    np.testing.assert_array_equal(outputs["example_shape"], [2])


def test_grpc_cap_error(grpc_service):
    inputs = client.sample_inputs(seed=2, num_samples=5, num_steps=11)
    with pytest.raises(client.ServingError, match="10 is the max_steps of this export") as raised:
        client.grpc_predict(grpc_service["address"], "ebm", "sample", inputs, timeout=REQUEST_TIMEOUT_SECONDS)
    assert raised.value.code == "INVALID_ARGUMENT"


def test_grpc_command_line_writes_scatter_png(grpc_service, tmp_path, capsys):
    output = tmp_path / "points.png"
    arguments = [
        "sample", "--protocol=grpc", f"--server={grpc_service['address']}",
        "--num_samples=8", "--num_steps=2", f"--output={output}",
    ]
    assert client.main(arguments) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == [8, 2]
    with Image.open(output) as image:
        assert image.format == "PNG"


def test_grpc_command_line_prints_metadata(grpc_service, capsys):
    assert client.main(["metadata", "--protocol=grpc", f"--server={grpc_service['address']}"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["init_type"] == "uniform"
    assert printed["max_samples"] == 8


# Serving files.


def test_models_config_parses_as_model_server_config():
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    text = (CLIENT_PATH.parent / "models.config").read_text()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())

    (model,) = config.model_config_list.config
    assert model.name == "ebm"
    assert model.base_path == "/models/ebm"
    assert model.model_platform == "tensorflow"
    assert model.model_version_policy.latest.num_versions == 1


def test_serve_script_points_config_at_export(tmp_path):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    (tmp_path / "ebm" / "1").mkdir(parents=True)
    script = str(CLIENT_PATH.parent / "serve.sh")
    environment = {"PATH": "/usr/bin:/bin", "DRY_RUN": "1", "REST_PORT": "9501", "GRPC_PORT": "9500"}

    local = subprocess.run([script, str(tmp_path)], capture_output=True, text=True, env=environment, timeout=30)
    docker = subprocess.run([script, str(tmp_path), "docker"], capture_output=True, text=True, env=environment, timeout=30)

    assert local.returncode == 0, local.stderr
    assert local.stdout.split() == [
        "tensorflow_model_server", "--port=9500", "--rest_api_port=9501", f"--model_config_file={tmp_path}/models.config",
    ]
    config = text_format.Parse((tmp_path / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    assert config.model_config_list.config[0].base_path == str(tmp_path / "ebm")
    assert docker.returncode == 0, docker.stderr
    assert docker.stdout.split() == [
        "docker", "run", "--rm", "-p", "127.0.0.1:9501:8501", "-p", "127.0.0.1:9500:8500",
        "-v", f"{tmp_path}/ebm:/models/ebm", "-e", "MODEL_NAME=ebm", "tensorflow/serving",
    ]


def test_serve_script_rejects_missing_model(tmp_path):
    script = str(CLIENT_PATH.parent / "serve.sh")
    completed = subprocess.run([script, str(tmp_path)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert completed.returncode == 1
    assert f"Model folder {tmp_path}/ebm not found" in completed.stderr
