"""Train the four toy configs and tabulate KL(true || learned) and KL(true || KDE).

    python scripts/reproduce_toy.py --runs_dir=runs/toy_reproduction [--num_updates=N] [--figures_dir=DIR]

Each config in `configs/toy_{gmm,rings}_{convergent,nonconvergent}.py` is trained with
`training.train_and_evaluate`, one after the other in this process, into
RUNS_DIR/<config name>, so each run equals `python -m tf_ebm.train` on that config with
the same overrides. `--num_updates` overrides `train.num_updates` of every config (0
keeps the configs' 10,000), and then sets `train.log_every` and `train.checkpoint_every`
so that the last update writes a density report. `--set KEY=VALUE` overrides any other
config field, with VALUE a Python literal. A finished workdir is resumed, so rerunning
the script only trains what is missing.

The script prints a Markdown table with the last row of each run's `toy_metrics.csv`,
the number of updates and the wall time of `train_and_evaluate`, and writes the same
rows to RUNS_DIR/results.csv. A run whose metrics become NaN or infinite stops there,
and its row shows the last density report before that update and the error. In
`toy_metrics.csv` the KDE of convergent runs is built from the persistent bank and that
of non-convergent runs from short-run samples. With `--figures_dir` the last six-panel
density plot of each run is copied there as <config name>.png. The wall time of a
resumed run covers only the updates it trained.
"""

import argparse
import ast
import csv
import glob
import importlib.util
import os
import shutil
import time

from absl import logging

from tf_ebm import training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = ("toy_gmm_convergent", "toy_gmm_nonconvergent", "toy_rings_convergent", "toy_rings_nonconvergent")
FIELDS = ("config", "num_updates", "wall_s", "kl_true_learned", "kl_true_kde", "kde_source", "status")


def load_config(name, num_updates, overrides=()):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "configs", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    if num_updates:
        config.train.num_updates = num_updates
        # Five density reports per run when num_updates divides by 5, else one at the end.
        config.train.log_every = num_updates // 5 if num_updates % 5 == 0 else num_updates
        config.train.checkpoint_every = num_updates
    for override in overrides:
        key, _, value = override.partition("=")
        config.update_from_flattened_dict({key: ast.literal_eval(value)})
    return config


def train(name, workdir, num_updates, overrides=()):
    """Train one config into `workdir`; return (wall time in seconds, status).

    The status is 'finished', or the `NonFiniteMetricError` message when a metric
    became NaN or infinite, in which case the table shows the last density report
    before that update.
    """
    config = load_config(name, num_updates, overrides)
    start = time.perf_counter()
    try:
        training.train_and_evaluate(config, workdir, verbose=2)
        status = "finished"
    except training.NonFiniteMetricError as error:
        status = str(error).split(";")[0]
    return time.perf_counter() - start, status


def last_row(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs_dir", default="runs/toy_reproduction", help="Folder of the four workdirs.")
    parser.add_argument(
        "--num_updates", type=int, default=0,
        help="Updates per run; 0 keeps the configs' value. A nonzero value also sets train.log_every "
        "to num_updates / 5 (or num_updates when 5 does not divide it) and train.checkpoint_every to num_updates.",
    )
    parser.add_argument("--figures_dir", default="", help="Folder to copy the final density plots to.")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="Comma-separated subset of the four configs.")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="Config override applied to every run, e.g. --set sampler.epsilon=0.05; repeatable.",
    )
    args = parser.parse_args()
    logging.set_verbosity(logging.INFO)

    os.makedirs(args.runs_dir, exist_ok=True)
    rows = []
    for name in args.configs.split(","):
        workdir = os.path.join(os.path.abspath(args.runs_dir), name)
        wall_s, status = train(name, workdir, args.num_updates, args.set)
        metrics = last_row(os.path.join(workdir, "toy_metrics.csv"))
        rows.append(dict(
            config=name, num_updates=int(metrics["step"]), wall_s=round(wall_s, 1),
            kl_true_learned=float(metrics["kl_true_learned"]), kl_true_kde=float(metrics["kl_true_kde"]),
            kde_source=metrics["kde_source"], status=status,
        ))
        print(f"{name}: {rows[-1]}", flush=True)
        if args.figures_dir:
            os.makedirs(args.figures_dir, exist_ok=True)
            final_plot = sorted(glob.glob(os.path.join(workdir, "density", "density_*.png")))[-1]
            shutil.copyfile(final_plot, os.path.join(args.figures_dir, f"{name}.png"))

    with open(os.path.join(args.runs_dir, "results.csv"), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print("| config | updates | wall time (s) | KL(true ‖ learned) | KL(true ‖ KDE) | KDE of | status |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {row['num_updates']} | {row['wall_s']:.0f} | {row['kl_true_learned']:.3f} | "
              f"{row['kl_true_kde']:.3f} | {row['kde_source']} | {row['status']} |")


if __name__ == "__main__":
    main()
