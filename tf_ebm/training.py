"""`train_and_evaluate(config, workdir)`: the training run behind `python -m tf_ebm.train`.

The run validates the config, restores the latest checkpoint of the workdir if there is
one, and calls `model.fit` in chunks of `train.log_every` updates (one Keras epoch each).
Callbacks write the per-update scalars, checkpoints, sample grids, learning diagnostics
and, for 2D toys, density plots and KLs. See `tf_ebm.workdir` for the file layout.
"""

import collections
import csv
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tf_ebm import config as config_lib
from tf_ebm import distribute
from tf_ebm import workdir as workdir_lib

__all__ = ["TrainResult", "train_and_evaluate"]

METRIC_NAMES = ("d", "r", "energy_pos", "energy_neg", "lr")
# Fewer updates than this give trend and correlation estimates too noisy for a verdict
# (a lag-1 autocorrelation of white noise has a standard error of 0.1 at 100 points).
MIN_UPDATES_FOR_VERDICT = 100

TrainResult = collections.namedtuple("TrainResult", ["model", "final_step", "history", "workdir"])


class NonFiniteMetricError(RuntimeError):
    """A training metric became NaN or infinite; training stopped before checkpointing it."""


def train_and_evaluate(config, workdir, strategy=None, verbose="auto"):
    """Train the EBM that `config` describes, writing everything to `workdir`.

    Resumes from the latest checkpoint of `workdir` when there is one.

    Args:
      config: an `ml_collections.ConfigDict` based on `tf_ebm.config.base_config()`.
      workdir: output folder, created if needed.
      strategy: a `tf.distribute.Strategy`; None builds one from `train.strategy`.
      verbose: Keras progress output (0, 1, 2 or 'auto').

    Returns:
      `TrainResult(model, final_step, history, workdir)`.

    Raises:
      ValueError: for an invalid config or a workdir path that is a file (before any
        work is done).
      NonFiniteMetricError: when d, r or an energy becomes NaN or infinite.
    """
    config_lib.validate(config)
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ValueError(f"The workdir {workdir!r} is a file, not a folder; pass a new or existing folder.")
    strategy = strategy or distribute.make_strategy(config.train.strategy)
    derived = config_lib.derived_values(config, strategy.num_replicas_in_sync)
    is_chief = distribute.is_chief(strategy)
    checkpoint_dir = workdir if is_chief else distribute.worker_scratch_dir(workdir, strategy)
    latest = tf.train.latest_checkpoint(os.path.join(workdir, workdir_lib.CHECKPOINT_DIR))
    if latest:
        _check_resumable(workdir_lib.load_config(workdir), config, workdir)
    os.makedirs(checkpoint_dir, exist_ok=True)
    _log_start(config, derived, workdir)

    # The nets' initial weights come from Keras's global seed, so it is set from the config.
    # Every later random draw of training uses stateless seeds derived from config.seed.
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = workdir_lib.build_model(config)
    manager = workdir_lib.checkpoint_manager(model, checkpoint_dir, config.train.max_checkpoints_to_keep)
    start_step = 0
    # Every worker resumes from the chief's latest checkpoint, so all start in step.
    if latest:
        workdir_lib.restore_checkpoint(model, latest)
        start_step = int(model.update_count.numpy())
        logging.info("Resumed from %s at update %d.", latest, start_step)
    # Written after a successful restore, so a failed resume leaves the old config.
    if is_chief:
        workdir_lib.save_config(config, workdir)
    if start_step >= config.train.num_updates:
        logging.info("The workdir already holds %d updates; nothing to train.", start_step)
        return TrainResult(model, start_step, {}, workdir)

    from tf_ebm import data as data_lib  # Imported here: the data package imports TFDS.

    # The same seed keeps a resumed toy run on the same points.
    # NOTE: a resumed run restarts the shuffle order from its beginning, so its batches
    # differ from those an uninterrupted run would have drawn at that point.
    info = data_lib.make_dataset(config.data, derived.global_batch_size, seed=config.seed)
    logging.info("Data: %s, %d examples of shape %s.", config.data.dataset, info.num_examples, info.element_shape)

    log_every = config.train.log_every
    callbacks = [StopAtUpdate(start_step, config.train.num_updates)]
    if is_chief:
        callbacks += [MetricsWriter(workdir, start_step), Visualizer(config, workdir)]
    # Saving is collective under MultiWorkerMirroredStrategy, so every worker checkpoints.
    callbacks.append(Checkpointer(manager, config.train.checkpoint_every, config.train.num_updates))
    epochs = math.ceil(config.train.num_updates / log_every)
    logging.info("Compiling the train step; the first update includes tracing and compilation.")
    history = model.fit(
        info.dataset,
        epochs=epochs,
        initial_epoch=start_step // log_every,
        steps_per_epoch=log_every,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # The input pipeline shuffles.
    )
    final_step = int(model.update_count.numpy())
    logging.info(
        "Done: %d updates. Outputs in %s: %s.", final_step, workdir, ", ".join(_output_names(workdir)),
    )
    return TrainResult(model, final_step, history.history, workdir)


class StopAtUpdate(keras.callbacks.Callback):
    """Stop training once the model has made `num_updates` updates (mid-epoch if needed)."""

    def __init__(self, start_step, num_updates):
        super().__init__()
        self.step = start_step
        self.num_updates = num_updates

    def on_train_batch_end(self, batch, logs=None):
        # Counting batches avoids reading the update counter, a device sync, every step.
        self.step += 1
        if self.step >= self.num_updates:
            self.model.stop_training = True


class MetricsWriter(keras.callbacks.Callback):
    """Write d, r, energies and learning rate of every update to CSV and TensorBoard.

    Also logs throughput and raises
    `NonFiniteMetricError` naming the metric and update when a value is not finite.
    """

    def __init__(self, workdir, start_step):
        super().__init__()
        self.path = os.path.join(workdir, workdir_lib.METRICS_CSV)
        self.step = start_step
        self.writer = tf.summary.create_file_writer(os.path.join(workdir, workdir_lib.TENSORBOARD_DIR))
        _truncate_csv(self.path, start_step)
        is_new = not os.path.exists(self.path)
        self.file = open(self.path, "a", newline="")
        self.csv = csv.writer(self.file)
        if is_new:
            self.csv.writerow(("step",) + METRIC_NAMES)
        self.interval_start = None
        self.interval_start_step = start_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        values = [float(np.asarray(logs[name])) for name in METRIC_NAMES]
        for name, value in zip(METRIC_NAMES, values):
            if not math.isfinite(value):
                self.file.flush()
                raise NonFiniteMetricError(
                    f"Metric `{name}` is {value} at update {self.step}; training stopped without "
                    "saving this state. Lower the learning rate or epsilon, or check the data range."
                )
        self.csv.writerow([self.step] + values)
        with self.writer.as_default(step=self.step):
            for name, value in zip(METRIC_NAMES, values):
                tf.summary.scalar(name, value)
        if self.interval_start is None:
            logging.info("First update of this run done (includes compilation).")
            self.interval_start = time.perf_counter()
            self.interval_start_step = self.step

    def on_epoch_end(self, epoch, logs=None):
        self.file.flush()
        self.writer.flush()
        elapsed = time.perf_counter() - self.interval_start
        updates = self.step - self.interval_start_step
        rate = updates / elapsed if elapsed > 0 else float("nan")
        logging.info("Update %d: %s; %.2f updates/s.", self.step, _format_logs(logs), rate)
        self.interval_start = time.perf_counter()
        self.interval_start_step = self.step

    def on_train_end(self, logs=None):
        self.file.close()
        self.writer.close()


class Checkpointer(keras.callbacks.Callback):
    """Save a checkpoint every `every` updates and at the end of training."""

    def __init__(self, manager, every, num_updates):
        super().__init__()
        self.manager = manager
        self.every = every
        self.num_updates = num_updates

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.update_count.numpy())
        if step % self.every == 0 or step >= self.num_updates:
            path = self.manager.save(checkpoint_number=step)
            logging.info("Saved checkpoint %s.", path)


class Visualizer(keras.callbacks.Callback):
    """At each log interval, write sample grids, learning diagnostics and toy densities."""

    def __init__(self, config, workdir):
        super().__init__()
        self.config = config
        self.workdir = workdir
        self.is_toy = config.model.net == "toy"
        self.metrics_path = os.path.join(workdir, workdir_lib.METRICS_CSV)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.update_count.numpy())
        self._write_samples(step)
        self._write_diagnostics()
        if self.is_toy:
            self._write_toy_density(step)

    def _write_samples(self, step):
        from tf_ebm import plots

        samples_dir = os.path.join(self.workdir, workdir_lib.SAMPLES_DIR)
        count = self.config.train.num_sample_images
        init_type = "uniform" if self.model.init_type == "persistent" else self.model.init_type
        if init_type == "data":
            init_type = "uniform"
        # A fixed seed shows the same chains at every interval, so grids are comparable.
        samples = self.model.sample(count, init_type=init_type, seed=self.config.seed).numpy()
        if self.is_toy:
            plots.save_points(
                samples, os.path.join(samples_dir, f"shortrun_{step:07d}.png"), title=f"short-run samples, update {step}"
            )
        else:
            plots.save_image_grid(samples, os.path.join(samples_dir, f"shortrun_{step:07d}.png"))
        if self.model.persistent_bank is not None:
            bank = self.model.persistent_bank.numpy()[: max(count, 1000) if self.is_toy else count]
            name = os.path.join(samples_dir, f"bank_{step:07d}.png")
            if self.is_toy:
                plots.save_points(bank, name, title=f"persistent bank, update {step}")
            else:
                plots.save_image_grid(bank, name)

    def _write_diagnostics(self):
        from tf_ebm import diagnostics
        from tf_ebm import plots

        series = _read_metrics(self.metrics_path)
        if len(series["d"]) < MIN_UPDATES_FOR_VERDICT:
            return
        window = min(self.config.train.diagnostics_window, len(series["d"]))
        max_lag = max(1, min(diagnostics.MAX_ANALYSIS_LAG, window // 4))
        plots.save_learning_diagnostics(
            series["d"][-window:], series["r"][-window:], os.path.join(self.workdir, workdir_lib.DIAGNOSTICS_PNG),
            max_lag=max_lag, steps=series["step"][-window:],
        )
        result = diagnostics.analyze(series["d"], series["r"], window=window, steps=series["step"])
        text = f"update {int(series['step'][-1])}, window {window}: {result.regime}\n{result.verdict}\n"
        with open(os.path.join(self.workdir, workdir_lib.DIAGNOSTICS_TXT), "w") as file:
            file.write(text)
        logging.info("Diagnostics at update %d: %s", int(series["step"][-1]), result.verdict)

    def _write_toy_density(self, step):
        from tf_ebm import density
        from tf_ebm import plots

        # The KDE is built from the states that this run's MCMC produces: the persistent
        # bank (the steady-state chains) for persistent runs, otherwise fresh short-run
        # chains from the training initialization with the training epsilon and steps.
        num_kde_samples = self.config.toy.num_kde_samples
        init_type = self.model.init_type
        if init_type == "persistent":
            # Training updates random bank rows, so the first rows are a sample of the bank.
            samples = self.model.persistent_bank.numpy()[:num_kde_samples]
            source = f"persistent bank ({len(samples)} of {self.model.bank_size} chains)"
        else:
            initial_states = None
            if init_type == "data":
                from tf_ebm import data as data_lib  # Imported here: the data package imports TFDS.

                initial_states = data_lib.load_examples(self.config.data, seed=self.config.seed)[:num_kde_samples]
            samples = self.model.sample(
                num_kde_samples, initial_states=initial_states, seed=self.config.seed + 1
            ).numpy()
            source = f"short-run samples ({self.model.num_steps} steps from {init_type} init)"

        grid = density.toy_grid(self.config.data.dataset, resolution=self.config.toy.grid_resolution)
        report = density.toy_density_report(
            self.model.energy_net, samples, self.config.data.dataset, self.model.epsilon, grid=grid
        )
        plots.save_density_panels(
            [report["true_density"], report["learned_density"], report["kde_density"]],
            [report["true_log_density"], report["learned_log_density"], report["kde_log_density"]],
            grid.limits,
            os.path.join(self.workdir, workdir_lib.DENSITY_DIR, f"density_{step:07d}.png"),
            titles=("true", "learned exp(-U)", "KDE"),
            suptitle=(
                f"{self.config.data.dataset}, update {step}: KL(true || learned) = {report['kl_true_learned']:.3f}, "
                f"KL(true || KDE) = {report['kl_true_kde']:.3f}\nKDE of the {source}"
            ),
        )
        path = os.path.join(self.workdir, workdir_lib.TOY_METRICS_CSV)
        is_new = not os.path.exists(path)
        with open(path, "a", newline="") as file:
            writer = csv.writer(file)
            if is_new:
                writer.writerow(("step", "kl_true_learned", "kl_true_kde", "kde_source"))
            writer.writerow((step, report["kl_true_learned"], report["kl_true_kde"], source))
        logging.info(
            "Toy density at update %d: KL(true || learned) = %.4f, KL(true || KDE of the %s) = %.4f.",
            step, report["kl_true_learned"], source, report["kl_true_kde"],
        )


# Config fields that change the model or its data; a resumed run must keep them.
_FIELDS_FIXED_ON_RESUME = ("seed", "data.", "model.", "sampler.init_type", "sampler.bank_size", "train.optimizer")


def _check_resumable(previous, config, workdir):
    """Raise ValueError if `config` cannot continue the run saved in `workdir`; log other changes."""
    old = workdir_lib.flatten_config(previous)
    new = workdir_lib.flatten_config(config)
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    fixed = [key for key in changed if key.startswith(_FIELDS_FIXED_ON_RESUME)]
    if fixed:
        details = "; ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in fixed)
        raise ValueError(
            f"{workdir} holds a run trained with a different config ({details}). To resume it, "
            "pass the same --config and overrides as before; to start a new run, choose a new --workdir."
        )
    if changed:
        details = "; ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in changed)
        logging.warning("Resuming %s with changed settings: %s.", workdir, details)


def _read_metrics(path):
    columns = {name: [] for name in ("step",) + METRIC_NAMES}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            for name in columns:
                columns[name].append(float(row[name]))
    return {name: np.asarray(values) for name, values in columns.items()}


def _truncate_csv(path, step):
    """Drop rows after `step`, which a crash after the last checkpoint left behind."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    if not rows:
        os.remove(path)
        return
    kept = [rows[0]] + [row for row in rows[1:] if row and int(row[0]) <= step]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as file:
            csv.writer(file).writerows(kept)


def _output_names(workdir):
    names = []
    for name in sorted(os.listdir(workdir)):
        if name != "workers":
            names.append(name + "/" if os.path.isdir(os.path.join(workdir, name)) else name)
    return names


def _format_logs(logs):
    return ", ".join(f"{name} = {float(logs[name]):.4g}" for name in METRIC_NAMES if logs and name in logs)


def _log_start(config, derived, workdir):
    logging.info("Workdir: %s", workdir)
    logging.info("Config:\n%s", config)
    logging.info(
        "Replicas: %d; batch %d global, %d per replica; temperature T = epsilon^2/2 = %.3g; "
        "loss scale 2/epsilon^2 = %.3g; learning rate %.3g (x %.3g = %.3g at update 0).",
        derived.num_replicas, derived.global_batch_size, derived.per_replica_batch_size,
        derived.temperature, derived.loss_scale, config.train.learning_rate,
        derived.learning_rate_scale, derived.effective_learning_rate,
    )
