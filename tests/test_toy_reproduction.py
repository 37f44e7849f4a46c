"""Bounded toy reproduction: convergent vs non-convergent learning on rings and 8 Gaussians.

Nijkamp et al. (AAAI 2020) report that persistent, convergent MCMC learning (SGD,
epsilon = 0.125) yields an energy whose normalized density exp(-U) is close to the truth,
while short-run, non-convergent learning (Adam, epsilon = 0.01, 100 steps from Gaussian
noise) yields short-run samples close to the truth and an exp(-U) far from it. These
tests train the four `configs/toy_*.py` for TF_EBM_SLOW_UPDATES updates (300 by
default) and check the direction of that effect with the density report of the last
update: the KDE is built from the persistent bank for convergent runs and from fresh
short-run samples for non-convergent runs (`training.Visualizer._write_toy_density`).

Run with `TF_EBM_SLOW_UPDATES=300 python -m pytest -q -m slow tests/test_toy_reproduction.py`.
"""

import csv
import importlib.util
import os

import pytest

from tf_ebm import training

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# NOTE: the thresholds below were measured at 300 updates; other values may need others.
NUM_UPDATES = int(os.environ.get("TF_EBM_SLOW_UPDATES", "300"))

pytestmark = pytest.mark.slow


def load_config(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "configs", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def train_toy(name, workdir):
    """Train a toy config for NUM_UPDATES updates; return the last row of toy_metrics.csv."""
    config = load_config(name)
    config.train.num_updates = NUM_UPDATES
    config.train.log_every = NUM_UPDATES
    config.train.checkpoint_every = NUM_UPDATES
    training.train_and_evaluate(config, str(workdir), verbose=0)
    with open(os.path.join(workdir, "toy_metrics.csv"), newline="") as file:
        row = list(csv.DictReader(file))[-1]
    assert int(row["step"]) == NUM_UPDATES
    return {key: float(value) if key.startswith("kl") else value for key, value in row.items()}


# Thresholds come from runs at 300 updates on a 2-core CPU (TF 2.21). With the initial
# weights seeded from config.seed, two runs of this file gave identical values (the
# "seeded" column). For the mixtures, two earlier runs with unseeded initial weights (the
# "unseeded" column) show how far the values move with the initialization. The untrained
# column is the density report of a freshly built model. For convergent runs its KDE is
# that of the uniform bank start, which puts no mass on the rings beyond radius 1.
#
#   config                    KL(true || learned)                KL(true || KDE)
#                             untrained  seeded  unseeded        untrained  seeded  unseeded
#   toy_gmm_convergent        3.91       0.099   0.11, 0.21      3.53       0.18    0.17, 0.19
#   toy_rings_convergent      18.5       0.61    -               18.3       0.85    -
#   toy_gmm_nonconvergent     26.5       24.5    25.9, 26.1      17.8       1.07    1.03, 1.45
#   toy_rings_nonconvergent   24.1       24.1    -               14.5       0.91    -
#
# Convergent runs: KL(true || learned) and the bank's KL(true || KDE) must stay below
# about twice the measured values and well below the untrained ones. The gmm value is
# still volatile at 300 updates (one unseeded run gave 1.24, 0.80, 0.91, 0.41 and 0.21
# at updates 60 to 300), hence its wider margin.
CONVERGENT_MAX_KL_LEARNED = {"gmm": 1.0, "rings": 1.2}
CONVERGENT_MAX_KL_KDE = {"gmm": 0.5, "rings": 2.0}

# Non-convergent runs: the short-run KDE must be close to the truth (0.91 to 1.45
# measured, 14.5 and 17.8 untrained). exp(-U) must be far from it: its KL must exceed 5
# times the KDE's, a ratio that was 18 to 26 measured and 1.5 and 1.7 untrained.
NONCONVERGENT_MAX_KL_KDE = 4.0
NONCONVERGENT_MIN_RATIO = 5.0


@pytest.mark.parametrize("dataset", ["gmm", "rings"])
def test_convergent_learns_density(dataset, tmp_path):
    row = train_toy(f"toy_{dataset}_convergent", tmp_path / dataset)
    assert row["kde_source"].startswith("persistent bank")
    assert row["kl_true_learned"] < CONVERGENT_MAX_KL_LEARNED[dataset], row
    assert row["kl_true_kde"] < CONVERGENT_MAX_KL_KDE[dataset], row


@pytest.mark.parametrize("dataset", ["gmm", "rings"])
def test_nonconvergent_learns_sampler_not_density(dataset, tmp_path):
    row = train_toy(f"toy_{dataset}_nonconvergent", tmp_path / dataset)
    assert row["kde_source"].startswith("short-run samples (100 steps from gaussian init)")
    assert row["kl_true_kde"] < NONCONVERGENT_MAX_KL_KDE, row
    assert row["kl_true_learned"] > NONCONVERGENT_MIN_RATIO * row["kl_true_kde"], row
