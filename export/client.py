"""Client for a tf_ebm model served by TensorFlow Serving, over REST (JSON) or gRPC.

    python export/client.py sample --server=127.0.0.1:8501 --seed=0 --num_samples=16 \\
        --num_steps=100 --output=samples.png
    python export/client.py sample --protocol=grpc --server=127.0.0.1:8500 --seed=0 \\
        --num_samples=16 --num_steps=100 --output=samples.png
    python export/client.py refine --input=start.npy --seed=0 --num_steps=50 --output=refined.png
    python export/client.py energy --input=images.npy
    python export/client.py metadata --protocol=grpc --server=127.0.0.1:8500

REST requests use TF Serving's row format, `{"signature_name": ..., "instances": [...]}`,
whose response is `{"predictions": ...}`. With `--format=columnar` they use the columnar
format, `{"inputs": {...}}`, whose response is `{"outputs": ...}`. The request builders and
response parsers are plain functions, usable from other code.

The REST `metadata` command prints the signature definitions from
`GET /v1/models/<name>/metadata`, because TF Serving's REST API cannot call a signature
without inputs; the gRPC command calls the `metadata` signature and prints its values.
"""

import argparse
import json
import math
import sys
import urllib.error
import urllib.request

import numpy as np

# Input dtypes of the signatures that tf_ebm.export_lib writes.
SIGNATURE_INPUT_DTYPES = {
    "energy": {"x": "float32"},
    "score": {"x": "float32"},
    "sample": {"seed": "int64", "num_samples": "int32", "num_steps": "int32"},
    "serving_default": {"seed": "int64", "num_samples": "int32", "num_steps": "int32"},
    "refine": {"x": "float32", "seed": "int64", "num_steps": "int32"},
    "metadata": {},
}
DEFAULT_SERVERS = {"rest": "127.0.0.1:8501", "grpc": "127.0.0.1:8500"}
DEFAULT_TIMEOUT_SECONDS = 60.0
# gRPC's default 4 MiB receive limit is below one response of 256 float32 samples of
# 64x64x3 images (12 MiB), so the client accepts messages up to this size.
GRPC_MAX_MESSAGE_BYTES = 1 << 30


class ServingError(RuntimeError):
    """An error response from TF Serving; `code` is the HTTP status or gRPC status name."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


# Signature inputs. Every input has a batch dimension, as TF Serving's Predict API expects.


def sample_inputs(seed, num_samples, num_steps):
    """Inputs of the `sample` signature: one value each."""
    return {
        "seed": np.array([seed], np.int64),
        "num_samples": np.array([num_samples], np.int32),
        "num_steps": np.array([num_steps], np.int32),
    }


def refine_inputs(x, seed, num_steps):
    """Inputs of the `refine` signature: initial states `x` and one seed and step count."""
    return {
        "x": np.asarray(x, np.float32),
        "seed": np.array([seed], np.int64),
        "num_steps": np.array([num_steps], np.int32),
    }


def examples_inputs(x):
    """Inputs of the `energy` and `score` signatures."""
    return {"x": np.asarray(x, np.float32)}


# REST request bodies and responses.


def row_request(signature_name, inputs):
    """Build a row-format ("instances") Predict request body.

    The row format needs every input to have the same batch size, so a one-row input is
    repeated for every row of the longest input (`refine` accepts `seed` and `num_steps`
    repeated this way).

    Raises:
      ValueError: if inputs have different batch sizes other than 1.
    """
    columns = {name: np.asarray(value) for name, value in inputs.items()}
    if not columns:
        raise ValueError(f"Signature {signature_name!r} has no inputs; the REST row format needs at least one.")
    batch_size = max(len(column) for column in columns.values())
    for name, column in columns.items():
        if len(column) not in (1, batch_size):
            raise ValueError(
                f"Input {name!r} has {len(column)} rows; the row format needs 1 or {batch_size} rows "
                "(the largest batch among the inputs)."
            )
    instances = []
    for row in range(batch_size):
        instances.append({name: column[row if len(column) > 1 else 0].tolist() for name, column in columns.items()})
    return {"signature_name": signature_name, "instances": instances}


def columnar_request(signature_name, inputs):
    """Build a columnar-format ("inputs") Predict request body."""
    return {
        "signature_name": signature_name,
        "inputs": {name: np.asarray(value).tolist() for name, value in inputs.items()},
    }


def parse_response(body, output_name="output"):
    """Parse a Predict response body into a dict of output name to NumPy array.

    Accepts both formats: `{"predictions": ...}` is the response to a row-format request
    and `{"outputs": ...}` the response to a columnar one. TF Serving leaves out the names when a signature has a
    single output; that output is returned under `output_name`. Float values become float32,
    the dtype of every float output of a tf_ebm export.

    Raises:
      ServingError: for an `{"error": ...}` body.
      ValueError: for a body with none of these keys.
    """
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if "error" in body:
        raise ServingError(body["error"])
    if "predictions" in body:
        rows = body["predictions"]
        if rows and isinstance(rows[0], dict):
            return {name: _to_array([row[name] for row in rows]) for name in rows[0]}
        return {output_name: _to_array(rows)}
    if "outputs" in body:
        outputs = body["outputs"]
        if isinstance(outputs, dict):
            return {name: _to_array(value) for name, value in outputs.items()}
        return {output_name: _to_array(outputs)}
    raise ValueError(f"Not a TF Serving Predict response: expected a 'predictions', 'outputs' or 'error' key; received keys {sorted(body)}.")


def predict_url(server, model_name, version=None):
    """Return the REST Predict URL: http://<server>/v1/models/<name>[/versions/<v>]:predict."""
    return _model_url(server, model_name, version) + ":predict"


def rest_predict(server, model_name, request, version=None, timeout=DEFAULT_TIMEOUT_SECONDS):
    """POST a Predict request body to TF Serving's REST API and parse the response."""
    data = json.dumps(request).encode("utf-8")
    http_request = urllib.request.Request(
        predict_url(server, model_name, version), data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    return parse_response(_read_json(http_request, timeout))


def rest_model_metadata(server, model_name, version=None, timeout=DEFAULT_TIMEOUT_SECONDS):
    """GET the model's signature definitions from /v1/models/<name>[/versions/<v>]/metadata."""
    http_request = urllib.request.Request(_model_url(server, model_name, version) + "/metadata", method="GET")
    return _read_json(http_request, timeout)


# gRPC.


def grpc_predict(server, model_name, signature_name, inputs, version=None, timeout=DEFAULT_TIMEOUT_SECONDS):
    """Call PredictionService.Predict over gRPC; returns a dict of output name to array.

    Inputs are converted to the signature's dtypes from `SIGNATURE_INPUT_DTYPES`.
    """
    # Imported here so that REST use needs neither grpcio nor TensorFlow.
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    dtypes = SIGNATURE_INPUT_DTYPES.get(signature_name, {})
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtypes.get(name)))

    options = [
        ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
    ]
    with grpc.insecure_channel(server, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(f"gRPC {error.code().name} from {server}: {error.details()}", code=error.code().name) from None
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


# Output files.


def save_png(samples, path, data_range=(-1.0, 1.0)):
    """Write samples as a PNG: a grid of images (n, h, w, 1 or 3) or a scatter of points (n, 2).

    Image values in `data_range` map to 0..255; values outside it are clipped.
    """
    samples = np.asarray(samples, np.float32)
    if samples.ndim == 2 and samples.shape[1] == 2:
        _save_scatter(samples, path, data_range)
    elif samples.ndim == 4 and samples.shape[-1] in (1, 3):
        _save_image_grid(samples, path, data_range)
    else:
        raise ValueError(
            "save_png draws images of shape (n, height, width, 1 or 3) or points of shape (n, 2); "
            f"received shape {samples.shape}."
        )


def _save_image_grid(images, path, data_range):
    from PIL import Image

    low, high = data_range
    pixels = np.clip((images - low) / (high - low), 0.0, 1.0)
    pixels = np.round(pixels * 255.0).astype(np.uint8)
    count, height, width, channels = pixels.shape
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    grid = np.zeros((rows * height, columns * width, channels), np.uint8)
    for index in range(count):
        row, column = divmod(index, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = pixels[index]
    # A 2-D uint8 array becomes a grayscale image, an (h, w, 3) one an RGB image.
    Image.fromarray(grid[..., 0] if channels == 1 else grid).save(path, format="PNG")


def _save_scatter(points, path, data_range):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(4, 4))
    axes.scatter(points[:, 0], points[:, 1], s=2)
    axes.set_xlim(*data_range)
    axes.set_ylim(*data_range)
    axes.set_aspect("equal")
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


# Helpers.


def _to_array(value):
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


def _model_url(server, model_name, version):
    url = f"http://{server}/v1/models/{model_name}"
    if version is not None:
        url += f"/versions/{int(version)}"
    return url


def _read_json(http_request, timeout):
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            message = json.loads(text).get("error", text)
        except ValueError:
            message = text
        raise ServingError(f"HTTP {error.code} from {http_request.full_url}: {message}", code=error.code) from None
    except urllib.error.URLError as error:
        raise ServingError(f"Failed to connect to {http_request.full_url}: {error.reason}") from None


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Call a tf_ebm model served by TensorFlow Serving.")
    parser.add_argument("command", choices=("sample", "refine", "energy", "score", "metadata"), help="Signature to call.")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest", help="API to use.")
    parser.add_argument("--server", help="host:port; 127.0.0.1:8501 for REST and 127.0.0.1:8500 for gRPC if unset.")
    parser.add_argument("--model_name", default="ebm", help="Name the model is served under.")
    parser.add_argument("--version", type=int, help="Model version; the latest served version if unset.")
    parser.add_argument("--format", choices=("row", "columnar"), default="row", help="REST request format.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of sample and refine; equal seeds give equal samples.")
    parser.add_argument("--num_samples", type=int, default=16, help="Number of samples drawn by sample.")
    parser.add_argument("--num_steps", type=int, help="Langevin steps of sample and refine (required for them).")
    parser.add_argument("--input", help=".npy file of examples for refine, energy and score.")
    parser.add_argument("--output", help="Output file: .png (sample, refine) or .npy (any array command).")
    parser.add_argument("--data_range", type=float, nargs=2, default=(-1.0, 1.0), metavar=("LOW", "HIGH"), help="Value range drawn in the PNG.")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="Request timeout in seconds.")
    arguments = parser.parse_args(argv)
    if arguments.command in ("sample", "refine") and arguments.num_steps is None:
        parser.error(f"{arguments.command} needs --num_steps (the export's metadata lists default_steps and max_steps).")
    if arguments.command in ("refine", "energy", "score") and arguments.input is None:
        parser.error(f"{arguments.command} needs --input, a .npy file of examples.")
    return arguments


def _command_inputs(arguments):
    if arguments.command == "sample":
        return sample_inputs(arguments.seed, arguments.num_samples, arguments.num_steps)
    if arguments.command == "metadata":
        return {}
    x = np.load(arguments.input)
    if arguments.command == "refine":
        return refine_inputs(x, arguments.seed, arguments.num_steps)
    return examples_inputs(x)


def main(argv=None):
    arguments = _parse_arguments(sys.argv[1:] if argv is None else argv)
    server = arguments.server or DEFAULT_SERVERS[arguments.protocol]
    inputs = _command_inputs(arguments)

    if arguments.command == "metadata" and arguments.protocol == "rest":
        print(json.dumps(rest_model_metadata(server, arguments.model_name, arguments.version, arguments.timeout), indent=2))
        return 0
    if arguments.protocol == "grpc":
        outputs = grpc_predict(server, arguments.model_name, arguments.command, inputs, arguments.version, arguments.timeout)
    else:
        build = row_request if arguments.format == "row" else columnar_request
        outputs = rest_predict(server, arguments.model_name, build(arguments.command, inputs), arguments.version, arguments.timeout)

    if arguments.command == "metadata":
        print(json.dumps({name: _json_value(value) for name, value in sorted(outputs.items())}, indent=2))
        return 0
    main_output = "samples" if arguments.command in ("sample", "refine") else arguments.command
    if arguments.output and arguments.output.endswith(".png"):
        save_png(outputs[main_output], arguments.output, tuple(arguments.data_range))
    elif arguments.output:
        np.save(arguments.output, outputs[main_output])
    summary = {name: list(value.shape) for name, value in outputs.items()}
    if "energy" in outputs:
        summary["mean_energy"] = float(np.mean(outputs["energy"]))
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def _json_value(array):
    array = np.asarray(array)
    if array.dtype.kind in ("S", "O"):
        decoded = np.vectorize(lambda item: item.decode("utf-8") if isinstance(item, bytes) else item)(array)
        return decoded.tolist()
    return array.tolist()


if __name__ == "__main__":
    sys.exit(main())
