"""Export a trained model from a training workdir as a TF Serving SavedModel.

    python -m tf_ebm.export --workdir=/tmp/ebm_cifar10 --export_dir=/tmp/serving \\
        --model_name=ebm --max_steps=1000 --max_samples=256

writes /tmp/serving/ebm/<version>/ and prints the recorded metadata as JSON. Serve it with
`tensorflow_model_server --rest_api_port=8501 --port=8500 --model_name=ebm
--model_base_path=/tmp/serving/ebm`; see export/README.md.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from tf_ebm import export_lib

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir that holds the config and checkpoints.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Checkpoint to export; the latest one in --workdir if unset.")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Base folder; the export goes to <export_dir>/<model_name>/<version>.")
_MODEL_NAME = flags.DEFINE_string("model_name", "ebm", "Name TF Serving serves the model under.")
# The bounds make absl reject bad values at parse time, with the flag name, before the
# model loads.
_VERSION = flags.DEFINE_integer(
    "version", None, "Positive version number; one more than the largest existing version if unset.", lower_bound=1
)
_MAX_STEPS = flags.DEFINE_integer(
    "max_steps", export_lib.DEFAULT_MAX_STEPS, "Largest num_steps a sample or refine request may ask for.", lower_bound=1
)
_MAX_SAMPLES = flags.DEFINE_integer(
    "max_samples", export_lib.DEFAULT_MAX_SAMPLES,
    "Largest num_samples of a sample request and largest batch of a refine request.", lower_bound=1,
)
_DEFAULT_STEPS = flags.DEFINE_integer(
    "default_steps", None, "Number of Langevin steps recorded for clients; the training num_steps if unset.", lower_bound=0
)
_DATA_RANGE = flags.DEFINE_list("data_range", None, "Data range recorded for clients as 'low,high'; if unset, -1,1 (image pixels) for image models and the square of the toy density plots for 2D toy models: -2,2 for the 8-Gaussian mixture, -5,5 for the rings.")

flags.mark_flags_as_required(["workdir", "export_dir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    # Imported here so that only this command needs the training package.
    from tf_ebm import workdir as workdir_lib

    try:
        model, config = workdir_lib.load_model(_WORKDIR.value, checkpoint=_CHECKPOINT.value)
    except (FileNotFoundError, ValueError) as error:
        # A missing or corrupt workdir or checkpoint ends with one line.
        sys.exit(f"Export failed: {error}")
    logging.info(
        "Loaded %s from %s (epsilon %g, num_steps %d, init_type %s).",
        model.energy_net.name, _WORKDIR.value, model.epsilon, model.num_steps, model.init_type,
    )
    data_range = _DATA_RANGE.value
    if data_range is None and config.model.net == "toy":
        from tf_ebm.data import toy

        # Toy points are unbounded, so record the square that the toy density plots cover.
        data_range = toy.TOY_GRID_LIMITS[config.data.dataset]
    elif data_range is None:
        data_range = export_lib.DEFAULT_DATA_RANGE
    try:
        path = export_lib.export_energy_model(
            model,
            _EXPORT_DIR.value,
            model_name=_MODEL_NAME.value,
            version=_VERSION.value,
            max_steps=_MAX_STEPS.value,
            max_samples=_MAX_SAMPLES.value,
            default_steps=_DEFAULT_STEPS.value,
            data_range=data_range,
        )
    except FileExistsError:
        model_dir = os.path.join(_EXPORT_DIR.value, _MODEL_NAME.value)
        sys.exit(
            f"Export failed: version folder {os.path.join(model_dir, str(_VERSION.value))} already exists and was "
            f"left untouched. Pass another --version, or omit it to take the next free one "
            f"({export_lib.next_version(model_dir)})."
        )
    except ValueError as error:
        # A bad data range, or default steps above the cap, ends with one line.
        sys.exit(f"Export failed: {error}")
    logging.info("Exported SavedModel to %s.", path)
    print(json.dumps({"path": path, "metadata": export_lib.read_metadata(path)}, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
