"""Train an energy-based model: `python -m tf_ebm.train --config=configs/NAME.py --workdir=DIR`.

Any config field can be overridden on the command line, for example
`--config.sampler.num_steps=60 --config.train.batch_size=64`. Running again with the
same --workdir resumes from its latest checkpoint.
"""

import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "default.py")


def _exit_config_flag_error(error, argv):
    """End with one line for a --config file that fails to load or an unknown field.

    ml_collections raises OSError for a missing or unreadable file, with the reason on
    the last line. It raises AttributeError or KeyError for --config.SECTION.FIELD with
    no such field, and the innermost message names the field and suggests a close one.
    """
    if isinstance(error, OSError):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        configs_dir = os.path.dirname(_DEFAULT_CONFIG)
        available = []
        if os.path.isdir(configs_dir):
            available = sorted(name for name in os.listdir(configs_dir) if name.endswith(".py"))
        hint = ""
        if available:
            hint = f" Pass a Python file with get_config(), e.g. one of {configs_dir}/: {', '.join(available)}."
        sys.exit(f"Could not load the --config file: {lines[-1] if lines else error}.{hint}")
    while error.args and isinstance(error.args[0], Exception):
        error = error.args[0]
    field, _, suggestion = str(error.args[0] if error.args else error).partition("\n")
    field = field.strip("'\"")
    overrides = [arg.split("=")[0] for arg in argv if arg.startswith("--config.") and f".{field}" in arg]
    where = f" in {overrides[0]}" if overrides else ""
    parts = (
        f"Unknown config field '{field}'{where}.",
        suggestion.strip(),
        "Run with --helpfull to list the --config.SECTION.FIELD flags.",
    )
    sys.exit(" ".join(part for part in parts if part))


try:
    # With the default config file, ml_collections applies the overrides in sys.argv here.
    _CONFIG = config_flags.DEFINE_config_file(
        "config",
        _DEFAULT_CONFIG,
        "Path to a config file with a get_config() function, e.g. configs/default.py (the CPU-scale "
        "8-Gaussian toy run, the default). Override fields with --config.SECTION.FIELD=VALUE.",
        lock_config=True,
    )
except (AttributeError, KeyError, OSError) as error:
    _exit_config_flag_error(error, sys.argv)

_WORKDIR = flags.DEFINE_string(
    "workdir", "runs/default", "Output folder for the config, checkpoints, metrics and plots; an existing one is resumed."
)
_VERBOSE = flags.DEFINE_enum(
    "verbose", "auto", ["auto", "0", "1", "2"],
    "Keras progress output: 1 a progress bar, 2 one line per log interval, 0 none; auto picks 1 when "
    "standard output is a terminal and 2 otherwise.",
)


def _parse_flags(argv):
    """Parse the command line, ending with one line instead of a traceback for a bad --config."""
    try:
        # absl's parser reports bad flag values in one line itself.
        return app.parse_flags_with_usage(argv)
    except (AttributeError, KeyError, OSError) as error:
        _exit_config_flag_error(error, argv)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    from tf_ebm import config as config_lib
    from tf_ebm import training

    config = _CONFIG.value
    try:
        # Without overrides, ml_collections loads the file lazily, at the first access.
        config.get("seed")
    except OSError as error:
        _exit_config_flag_error(error, argv)
    try:
        config_lib.validate(config)
    except (ValueError, FileNotFoundError) as error:
        # FileNotFoundError: a data file that the config names is missing.
        sys.exit(f"Invalid config: {error}")
    if _VERBOSE.value == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    else:
        verbose = int(_VERBOSE.value)
    try:
        training.train_and_evaluate(config, _WORKDIR.value, verbose=verbose)
    except (training.NonFiniteMetricError, ValueError, FileNotFoundError) as error:
        # Bad data files, a workdir of another run and non-finite metrics end with one line.
        sys.exit(f"Error: {error}")


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
