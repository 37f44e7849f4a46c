"""Long-run Langevin sampling of a trained model: `python -m tf_ebm.sample --workdir=DIR`.

Runs unadjusted Langevin (`--method=ula`) or Metropolis-adjusted Langevin
(`--method=mala`) chains on the energy of a training workdir's latest checkpoint,
or of `--checkpoint=PATH` with the config of `--workdir`, in compiled chunks with
a progress bar (`tf_ebm.longrun.run_long_chains`), and writes what the chains did.

Defaults reproduce training-time sampling: epsilon, the number of steps and the
initialization come from the workdir's config, and the temperature is the
training temperature T_train = epsilon_train**2 / 2 (1 when epsilon_train = 0).
`--temperature_factor=f` samples exp(-F / (f T_train)) and `--temperature=T` sets
T directly. T stays tied to the training epsilon when `--epsilon` changes, so a
smaller `--epsilon` targets the same density with a smaller step. Each step is

    x' = x - (epsilon**2 / (2 T)) grad F(x) + epsilon z,    z ~ N(0, I),

which is the training update x' = x - grad F(x) + epsilon z with the defaults;
MALA accepts or rejects that proposal with the Metropolis-Hastings ratio. ULA
clips every state to [-1, 1] when the model was trained with
`sampler.clip_states` (`--clip_states` overrides it). MALA never clips, because
clipping would break the Metropolis-Hastings correction, and rejects
`--clip_states`.

Initializations (`--init`):

    uniform      noise in [-s, s], s = the config's sampler.init_scale (1 by default)
    gaussian     N(0, s^2 I)
    noise        the noise that training chains start from: the config's 'uniform' or
                 'gaussian'; 'uniform' for persistent and data runs, because persistent
                 banks start from uniform noise
    data         training examples from `tf_ebm.data.load_examples`, drawn without
                 replacement
    persistent   the first `--num_chains` chains of the checkpoint's persistent bank

Outputs, in `--output_dir` (default DIR/longrun/<method>_<num_steps>), for each
step k in `--save_at` and for the last step, with k written in 7 digits
(samples_0001000.png):

    samples_<k>.png     image grid (images) or point plot (2D toys) of the states
    states_<k>.npy      the states, float32 (num_chains, ...)

and once:

    paths.csv           step, energy, grad_norm (and acceptance_rate for MALA) per
                        recorded step; see `tf_ebm.longrun.run_long_chains`
    paths.png           the energy and gradient-norm paths
    acceptance.png      MALA only: the Metropolis-Hastings acceptance rate per
                        recorded step
    density.png         2D toys only: true, learned exp(-F / T) and KDE of the
                        final states, with KL(true || learned) and KL(true || KDE)
    summary.json        the resolved settings, acceptance rate, KLs, state
                        statistics per saved step and the wall time

NOTE: files of an earlier run in the same folder are overwritten where the names
match and are left in place otherwise, for example grids of other --save_at steps.

Examples:

    python -m tf_ebm.sample --workdir=runs/toy_gmm_convergent --num_steps=100000 --save_at=1000,10000
    python -m tf_ebm.sample --workdir=runs/fashion_mnist --method=mala --num_chains=64 \\
        --num_steps=10000 --save_at=100,1000
"""

import collections
import csv
import json
import math
import os
import sys
import time

import numpy as np
from absl import app
from absl import flags
from absl import logging

from tf_ebm import config as config_lib
from tf_ebm import density
from tf_ebm import longrun
from tf_ebm import model as model_lib
from tf_ebm import plots
from tf_ebm import sampler as sampler_lib
from tf_ebm import workdir as workdir_lib
from tf_ebm.data import toy

__all__ = ["INITS", "SamplingOutputs", "SamplingRequest", "resolve_request", "run_sampling"]

INITS = ("noise", "uniform", "gaussian", "data", "persistent")

# Recorded blocks are at most this many steps long, so paths of 10**4 to 10**5
# steps have 100 to 1000 points.
MAX_RECORD_EVERY = 100

# Stream ids folded into `--seed`, so the initial states and the chains draw
# independent noise.
_INITIAL_NOISE = 1
_CHAIN_NOISE = 2

_WORKDIR = flags.DEFINE_string("workdir", None, "Training workdir whose config (and latest checkpoint) is sampled.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None,
    "Checkpoint prefix to sample, e.g. DIR/checkpoints/ckpt-2000; default: the latest checkpoint of --workdir. "
    "The model is built from the config of --workdir.",
)
_METHOD = flags.DEFINE_enum(
    "method", "ula", list(longrun.METHODS),
    "'ula': unadjusted Langevin, as in training. 'mala': Metropolis-adjusted Langevin, exact for exp(-F / T).",
)
_INIT = flags.DEFINE_enum(
    "init", None, list(INITS), "Initial states of the chains; default: the config's sampler.init_type."
)
_NUM_CHAINS = flags.DEFINE_integer(
    "num_chains", None,
    "Number of chains; default: toy.num_kde_samples for 2D toys, train.num_sample_images for images.",
)
_NUM_STEPS = flags.DEFINE_integer("num_steps", None, "Langevin steps per chain; default: the config's sampler.num_steps.")
_EPSILON = flags.DEFINE_float(
    "epsilon", None, "Noise standard deviation per step; default: the config's sampler.epsilon."
)
_TEMPERATURE = flags.DEFINE_float("temperature", None, "Absolute temperature T > 0; excludes --temperature_factor.")
_TEMPERATURE_FACTOR = flags.DEFINE_float(
    "temperature_factor", None,
    "T as a multiple of the training temperature epsilon_train**2 / 2; default 1.0 (the training density).",
)
_SAVE_AT = flags.DEFINE_list(
    "save_at", [], "Steps at which to write sample grids and states, e.g. 100,1000,10000; 0 is the initial states."
)
_RECORD_EVERY = flags.DEFINE_integer(
    "record_every", None,
    f"Steps per recorded point of the paths; default: the largest divisor of --num_steps and every --save_at "
    f"step that is at most {MAX_RECORD_EVERY}.",
)
_CHUNK_SIZE = flags.DEFINE_integer(
    "chunk_size", 1000, "Steps per compiled call, rounded down to a multiple of the recording interval."
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial states and the Langevin noise.")
_JIT_COMPILE = flags.DEFINE_enum(
    "jit_compile", None, list(config_lib.JIT_COMPILE_MODES),
    "'xla', 'graph', or 'auto' (XLA for nets without convolutions); default: the config's train.jit_compile.",
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Output folder; default: WORKDIR/longrun/<method>_<num_steps>.")
_CLIP_STATES = flags.DEFINE_bool(
    "clip_states", None,
    "Clip ULA states to the image range [-1, 1] after every step; default: the config's sampler.clip_states "
    "for ULA, off for MALA.",
)
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar over steps.")

SamplingRequest = collections.namedtuple(
    "SamplingRequest",
    [
        "method",  # 'ula' or 'mala'.
        "init",  # The resolved initialization: 'uniform', 'gaussian', 'data' or 'persistent'.
        "num_chains",
        "num_steps",
        "epsilon",  # Noise standard deviation per step.
        "temperature",  # T of the target exp(-F / T).
        "training_temperature",  # epsilon_train**2 / 2, or 1 when epsilon_train = 0.
        "save_at",  # Sorted tuple of steps in [0, num_steps] with grids and states.
        "record_every",
        "chunk_size",
        "seed",
        "jit_compile",  # 'auto', 'xla' or 'graph'.
        "state_range",  # (-1.0, 1.0) when ULA clips states, else None.
    ],
)

SamplingOutputs = collections.namedtuple(
    "SamplingOutputs",
    [
        "request",  # The `SamplingRequest` that ran.
        "results",  # `longrun.LongRunResults`.
        "output_dir",
        "summary",  # The dict written to summary.json.
    ],
)


def resolve_request(
    config,
    method="ula",
    init=None,
    num_chains=None,
    num_steps=None,
    epsilon=None,
    temperature=None,
    temperature_factor=None,
    save_at=(),
    record_every=None,
    chunk_size=1000,
    seed=0,
    jit_compile=None,
    clip_states=None,
):
    """Fill unset sampling settings from a training config and check every value.

    Args:
      config: the training config of a workdir (`workdir.load_config`).
      method, init, num_chains, num_steps, epsilon, temperature,
        temperature_factor, save_at, record_every, chunk_size, seed,
        jit_compile, clip_states: the settings of the command-line flags of the same names;
        None takes the default that the module docstring describes.

    Returns:
      A `SamplingRequest`.

    Raises:
      ValueError: naming the flag and the received value, when a value is
        invalid or does not fit the model (for example 'persistent' for a model
        trained without a persistent bank).
    """
    if method not in longrun.METHODS:
        raise ValueError(f"Invalid --method={method!r}; allowed values are {', '.join(longrun.METHODS)}.")
    init = _resolve_init(config, init)

    is_toy = config.model.net == "toy"
    if num_chains is None:
        num_chains = config.toy.num_kde_samples if is_toy else config.train.num_sample_images
    _check_integer("num_chains", num_chains, minimum=1)
    if init == "persistent" and num_chains > config.sampler.bank_size:
        raise ValueError(
            f"--num_chains={num_chains} exceeds the persistent bank of {config.sampler.bank_size} chains; "
            f"pass --num_chains={config.sampler.bank_size} or fewer."
        )

    num_steps = config.sampler.num_steps if num_steps is None else num_steps
    _check_integer("num_steps", num_steps, minimum=1)
    if epsilon is None:
        epsilon = config.sampler.epsilon
        source = f"sampler.epsilon={epsilon!r} of the config"
    else:
        source = f"--epsilon={epsilon!r}"
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(
            f"Invalid {source}; the noise standard deviation of a long run must be > 0. Pass "
            "--epsilon with a positive value."
        )

    training_temperature = config_lib.derived_values(config).temperature
    temperature = _resolve_temperature(training_temperature, temperature, temperature_factor)
    save_at, record_every, chunk_size = _resolve_recording(num_steps, save_at, record_every, chunk_size)

    jit_compile = config.train.jit_compile if jit_compile is None else jit_compile
    if jit_compile not in config_lib.JIT_COMPILE_MODES:
        raise ValueError(
            f"Invalid --jit_compile={jit_compile!r}; allowed values are {', '.join(config_lib.JIT_COMPILE_MODES)}."
        )
    clip_states = _resolve_clip_states(config, method, clip_states)
    return SamplingRequest(
        method=method,
        init=init,
        num_chains=int(num_chains),
        num_steps=int(num_steps),
        epsilon=float(epsilon),
        temperature=float(temperature),
        training_temperature=float(training_temperature),
        save_at=save_at,
        record_every=int(record_every),
        chunk_size=int(chunk_size),
        seed=int(seed),
        jit_compile=jit_compile,
        state_range=(-1.0, 1.0) if clip_states else None,
    )


def run_sampling(workdir, checkpoint=None, output_dir=None, progress=True, **settings):
    """Run long Langevin chains on a trained model and write their outputs.

    Every setting is checked before the model is built, and the checkpoint is
    restored before any chain runs.

    Args:
      workdir: a training workdir; its config builds the model.
      checkpoint: a checkpoint prefix, or None for the latest one of `workdir`.
      output_dir: output folder; None for `workdir/longrun/<method>_<num_steps>`.
      progress: show a tqdm progress bar.
      **settings: keyword arguments of `resolve_request`.

    Returns:
      `SamplingOutputs`.

    Raises:
      FileNotFoundError: when `workdir` has no config or checkpoint, or
        `checkpoint` does not exist.
      ValueError: for an invalid setting, or a checkpoint written by another
        network or settings than the config describes.
    """
    config = workdir_lib.load_config(workdir)
    request = resolve_request(config, **settings)
    if output_dir is None:
        output_dir = os.path.join(workdir, "longrun", f"{request.method}_{request.num_steps}")
    logging.info("Sampling %s with %s", checkpoint or workdir, request)

    if config.sampler.clip_states and request.state_range is None:
        logging.warning("The model was trained with clipped states; this %s run does not clip.", request.method)
    model, config = workdir_lib.load_model(workdir, checkpoint=checkpoint, config=config)
    initial_state = _initial_states(model, config, request)
    jit_compile = _resolve_jit_compile(request.jit_compile, model.energy_net)

    start = time.perf_counter()
    results = longrun.run_long_chains(
        model.energy_net,
        initial_state,
        num_steps=request.num_steps,
        epsilon=request.epsilon,
        temperature=request.temperature,
        method=request.method,
        seed=sampler_lib.step_seed(request.seed, _CHAIN_NOISE),
        chunk_size=request.chunk_size,
        record_every=request.record_every,
        save_at=request.save_at,
        progress=progress,
        jit_compile=jit_compile,
        state_range=request.state_range,
    )
    wall_s = time.perf_counter() - start

    summary = _write_outputs(model, config, request, results, output_dir)
    summary.update(
        workdir=os.path.abspath(workdir),
        checkpoint=checkpoint,
        update_count=int(model.update_count.numpy()),
        jit_compile=jit_compile,
        wall_s=wall_s,
    )
    _write_json(os.path.join(output_dir, "summary.json"), summary)
    return SamplingOutputs(request=request, results=results, output_dir=output_dir, summary=summary)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    if not _WORKDIR.value:
        sys.exit("Missing --workdir: pass the workdir of a `python -m tf_ebm.train` run.")
    try:
        outputs = run_sampling(
            _WORKDIR.value,
            checkpoint=_CHECKPOINT.value,
            output_dir=_OUTPUT_DIR.value,
            progress=_PROGRESS.value,
            method=_METHOD.value,
            init=_INIT.value,
            num_chains=_NUM_CHAINS.value,
            num_steps=_NUM_STEPS.value,
            epsilon=_EPSILON.value,
            temperature=_TEMPERATURE.value,
            temperature_factor=_TEMPERATURE_FACTOR.value,
            save_at=_SAVE_AT.value,
            record_every=_RECORD_EVERY.value,
            chunk_size=_CHUNK_SIZE.value,
            seed=_SEED.value,
            jit_compile=_JIT_COMPILE.value,
            clip_states=_CLIP_STATES.value,
        )
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"Sampling failed: {error}")

    request, summary = outputs.request, outputs.summary
    print(
        f"Ran {request.num_steps} {request.method.upper()} steps of {request.num_chains} chains "
        f"(epsilon {request.epsilon:g}, T {request.temperature:g}, init {request.init}, "
        f"{'clipped to [-1, 1]' if request.state_range else 'no clipping'}) in {summary['wall_s']:.1f} s."
    )
    print(f"Mean energy: {summary['initial_energy']:.6g} at step 0, {summary['final_energy']:.6g} at the end.")
    if summary["overall_acceptance_rate"] is not None:
        print(f"Overall Metropolis-Hastings acceptance rate: {summary['overall_acceptance_rate']:.4f}")
    if "kl_true_learned" in summary:
        print(
            f"KL(true || learned) = {summary['kl_true_learned']:.4f}, "
            f"KL(true || KDE of the final states) = {summary['kl_true_kde']:.4f}"
        )
        outside = summary["state_statistics"][str(request.num_steps)]["fraction_outside_grid"]
        if outside > OUTSIDE_GRID_WARNING:
            print(
                f"Warning: {outside:.1%} of the final states lie outside the density grid, and the "
                "KDE is normalized on the grid, so KL(true || KDE) does not describe them. See "
                "samples_*.png and the state statistics in summary.json."
            )
    print(f"Outputs in {outputs.output_dir}")


# Share of final toy states outside the density grid above which the KL of their
# KDE, normalized on the grid, is flagged as not describing the chains.
OUTSIDE_GRID_WARNING = 0.05


def _resolve_init(config, init):
    init = config.sampler.init_type if init is None else init
    if init not in INITS:
        raise ValueError(f"Invalid --init={init!r}; allowed values are {', '.join(INITS)}.")
    if init == "noise":
        init = config.sampler.init_type if config.sampler.init_type in ("uniform", "gaussian") else "uniform"
    if init == "persistent" and config.sampler.init_type != "persistent":
        raise ValueError(
            f"--init=persistent needs a persistent bank, but this model was trained with "
            f"sampler.init_type={config.sampler.init_type!r} and has none; use --init=noise, uniform, "
            "gaussian or data."
        )
    return init


def _resolve_temperature(training_temperature, temperature, temperature_factor):
    if temperature is not None and temperature_factor is not None:
        raise ValueError(
            f"Pass either --temperature ({temperature}) or --temperature_factor ({temperature_factor}), not both."
        )
    if temperature is None:
        factor = 1.0 if temperature_factor is None else temperature_factor
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"Invalid --temperature_factor={factor!r}; it must be > 0.")
        return factor * training_temperature
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"Invalid --temperature={temperature!r}; it must be > 0.")
    return temperature


def _resolve_recording(num_steps, save_at, record_every, chunk_size):
    """Return (save_at, record_every, chunk_size) checked against each other and `num_steps`."""
    save_at = _parse_save_at(save_at, num_steps)
    if record_every is None:
        record_every = _default_record_every(num_steps, save_at)
    _check_integer("record_every", record_every, minimum=1)
    misaligned = [step for step in (num_steps,) + save_at if step % record_every]
    if misaligned:
        raise ValueError(
            f"--num_steps and every --save_at step must be multiples of --record_every={record_every}; "
            f"received {misaligned}."
        )
    _check_integer("chunk_size", chunk_size, minimum=1)
    chunk_size = max(record_every, chunk_size // record_every * record_every)
    return save_at, record_every, chunk_size


def _resolve_clip_states(config, method, clip_states):
    if clip_states and method == "mala":
        raise ValueError(
            "--clip_states is for --method=ula only: clipping MALA proposals would break the "
            "Metropolis-Hastings correction. Drop --clip_states or use --method=ula."
        )
    if clip_states and config.model.net == "toy":
        raise ValueError(
            "--clip_states clips to the image range [-1, 1], but 2D toy points are not bounded to it; "
            "drop --clip_states."
        )
    if clip_states is None:
        return config.sampler.clip_states and method == "ula"
    return clip_states


def _check_integer(name, value, minimum):
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"Invalid --{name}={value!r}; it must be an integer >= {minimum}.")


def _parse_save_at(save_at, num_steps):
    steps = []
    for item in save_at:
        try:
            step = int(str(item).strip())
        except ValueError:
            raise ValueError(f"Invalid --save_at entry {item!r}; pass integer steps such as 100,1000.") from None
        steps.append(step)
    beyond = sorted(step for step in steps if not 0 <= step <= num_steps)
    if beyond:
        raise ValueError(
            f"--save_at steps must lie in [0, --num_steps={num_steps}]; received {beyond}. "
            "Raise --num_steps or drop those steps."
        )
    return tuple(sorted(set(steps)))


def _default_record_every(num_steps, save_at):
    common = math.gcd(num_steps, *save_at) if save_at else num_steps
    return max(divisor for divisor in range(1, min(common, MAX_RECORD_EVERY) + 1) if common % divisor == 0)


def _resolve_jit_compile(mode, energy_net):
    if mode == "auto":
        return model_lib.default_jit_compile(energy_net)
    return mode == "xla"


def _initial_states(model, config, request):
    """Draw the (num_chains, ...) initial states that `request.init` names."""
    if request.init == "data":
        from tf_ebm import data as data_lib  # Imported here: the data package imports TFDS.

        examples = data_lib.load_examples(config.data, seed=config.seed)
        if request.num_chains > len(examples):
            raise ValueError(
                f"--num_chains={request.num_chains} exceeds the {len(examples)} training examples for --init=data; "
                f"pass --num_chains={len(examples)} or fewer."
            )
        rows = np.random.default_rng(request.seed).choice(len(examples), request.num_chains, replace=False)
        return examples[np.sort(rows)]
    seed = sampler_lib.step_seed(request.seed, _INITIAL_NOISE)
    return model.initial_states(request.num_chains, seed, init_type=request.init).numpy()


def _write_outputs(model, config, request, results, output_dir):
    """Write grids, states, paths and (for toys) the density report; return the summary dict."""
    os.makedirs(output_dir, exist_ok=True)
    is_toy = config.model.net == "toy"
    states_by_step = dict(results.saved_states)
    states_by_step[request.num_steps] = results.states

    statistics = {}
    for step, states in sorted(states_by_step.items()):
        np.save(os.path.join(output_dir, f"states_{step:07d}.npy"), states.astype(np.float32))
        image_path = os.path.join(output_dir, f"samples_{step:07d}.png")
        if is_toy:
            plots.save_points(states, image_path, title=f"{request.method.upper()}, step {step}")
        else:
            plots.save_image_grid(states, image_path)
        statistics[str(step)] = _state_statistics(states, config.data.dataset if is_toy else None)

    _write_paths(request, results, output_dir)
    summary = dict(
        request._asdict(),
        init_scale=model.init_scale,  # Scale of 'uniform' and 'gaussian' starts.
        initial_energy=results.initial_energy,
        final_energy=float(results.energy[-1]),
        overall_acceptance_rate=results.overall_acceptance_rate,
        state_statistics=statistics,
    )
    if is_toy:
        summary.update(_write_toy_density(model, config, request, results.states, output_dir))
    return summary


def _write_paths(request, results, output_dir):
    columns = collections.OrderedDict(step=results.steps, energy=results.energy, grad_norm=results.grad_norm)
    if results.acceptance_rate is not None:
        columns["acceptance_rate"] = results.acceptance_rate
    with open(os.path.join(output_dir, "paths.csv"), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(list(columns))
        for row in zip(*columns.values()):
            writer.writerow([int(row[0])] + [float(value) for value in row[1:]])

    title = (
        f"{request.method.upper()}, {request.num_chains} chains, epsilon {request.epsilon:g}, "
        f"T {request.temperature:g}, init {request.init}"
    )
    plots.save_path_plot(
        results.steps,
        {"mean energy F(x)": results.energy, "mean ||grad F(x)||": results.grad_norm},
        os.path.join(output_dir, "paths.png"),
        title=title,
    )
    if results.acceptance_rate is not None:
        plots.save_path_plot(
            results.steps,
            {"acceptance rate": results.acceptance_rate},
            os.path.join(output_dir, "acceptance.png"),
            title=f"{title}; overall acceptance {results.overall_acceptance_rate:.3f}",
        )


def _write_toy_density(model, config, request, states, output_dir):
    grid = density.toy_grid(config.data.dataset, resolution=config.toy.grid_resolution)
    report = density.toy_density_report(
        model.energy_net, states, config.data.dataset, request.epsilon, temperature=request.temperature, grid=grid
    )
    plots.save_density_panels(
        [report["true_density"], report["learned_density"], report["kde_density"]],
        [report["true_log_density"], report["learned_log_density"], report["kde_log_density"]],
        grid.limits,
        os.path.join(output_dir, "density.png"),
        titles=("true", f"learned, T = {request.temperature:.3g}", f"KDE of {request.method.upper()} states"),
        suptitle=(
            f"{config.data.dataset}, {request.num_steps} steps from {request.init}: "
            f"KL(true || learned) = {report['kl_true_learned']:.3f}, KL(true || KDE) = {report['kl_true_kde']:.3f}"
        ),
    )
    return dict(kl_true_learned=report["kl_true_learned"], kl_true_kde=report["kl_true_kde"])


def _state_statistics(states, toy_dataset):
    """Compute summary numbers of one saved step.

    For a toy (`toy_dataset` names it) they include the share of chains outside
    its density grid. For images (`toy_dataset` None) they include the share of
    pixel values at or beyond +-1.
    """
    states = np.asarray(states, dtype=np.float64)
    statistics = dict(
        mean=float(states.mean()), std=float(states.std()), min=float(states.min()), max=float(states.max())
    )
    if toy_dataset is not None:
        low, high = toy.TOY_GRID_LIMITS[toy_dataset]
        outside = np.any((states < low) | (states > high), axis=1)
        statistics["fraction_outside_grid"] = float(outside.mean())
    else:
        # Grids show values at or beyond +-1 as pure black or white.
        statistics["fraction_saturated"] = float(np.mean(np.abs(states) >= 1.0))
        statistics["fraction_outside_range"] = float(np.mean(np.abs(states) > 1.0))
    return statistics


def _write_json(path, values):
    with open(path, "w") as file:
        json.dump(values, file, indent=2, sort_keys=True, default=_to_builtin)
        file.write("\n")


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot write {type(value).__name__} to JSON.")


if __name__ == "__main__":
    app.run(main)
