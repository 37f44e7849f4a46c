"""Train an energy-based model: `python -m tf_ebm.train --config=configs/NAME.py --workdir=DIR`.

Any config field can be overridden on the command line, for example
`--config.sampler.num_steps=60 --config.train.batch_size=64`. Running again with the
same --workdir resumes from its latest checkpoint.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "default.py")


def _exit_unknown_field(error):
    """End with one line for an override of a config field that does not exist.

    ml_collections raises AttributeError or KeyError for --config.SECTION.FIELD with no
    such field, and the innermost message names the field and suggests a close one.
    """
    while error.args and isinstance(error.args[0], Exception):
        error = error.args[0]
    message = " ".join(str(error.args[0] if error.args else error).split())
    sys.exit(f"No config field {message} Run with --helpfull to list the --config.SECTION.FIELD flags.")


try:
    # With the default config file, ml_collections applies the overrides in sys.argv here.
    _CONFIG = config_flags.DEFINE_config_file(
        "config",
        _DEFAULT_CONFIG,
        "Path to a config file with a get_config() function, e.g. configs/default.py (the CPU-scale "
        "8-Gaussian toy run, the default). Override fields with --config.SECTION.FIELD=VALUE.",
        lock_config=True,
    )
except (AttributeError, KeyError) as error:
    _exit_unknown_field(error)

_WORKDIR = flags.DEFINE_string(
    "workdir", "runs/default", "Output folder for the config, checkpoints, metrics and plots; an existing one is resumed."
)
_VERBOSE = flags.DEFINE_enum(
    "verbose", "auto", ["auto", "0", "1", "2"],
    "Keras progress output: 1 a progress bar, 2 one line per log interval, 0 none; auto picks 1 when "
    "standard output is a terminal and 2 otherwise.",
)


def _parse_flags(argv):
    """Parse the command line, ending with one line instead of a traceback for an unknown config field."""
    try:
        # absl's parser reports bad flag values in one line itself.
        return app.parse_flags_with_usage(argv)
    except (AttributeError, KeyError) as error:
        _exit_unknown_field(error)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from tf_ebm import config as config_lib
    from tf_ebm import training

    config = _CONFIG.value
    try:
        config_lib.validate(config)
    except OSError as error:
        # ml_collections loads the file lazily and raises here for a missing or broken file.
        sys.exit(f"Could not load the --config file: {' '.join(str(error).split())}")
    except ValueError as error:
        logging.error("Invalid config: %s", error)
        sys.exit(f"Invalid config: {error}")
    if _VERBOSE.value == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    else:
        verbose = int(_VERBOSE.value)
    try:
        training.train_and_evaluate(config, _WORKDIR.value, verbose=verbose)
    except (training.NonFiniteMetricError, ValueError, FileNotFoundError) as error:
        # Bad data files, a workdir of another run and non-finite metrics end with one line.
        logging.error("%s", error)
        sys.exit(f"Error: {error}")


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
