"""`python -m tf_ebm.sample` end to end on tiny trained workdirs: outputs, paths and request errors."""

import csv
import gzip
import json
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from tf_ebm import config as config_lib
from tf_ebm import data as data_lib
from tf_ebm import training
from tf_ebm import workdir as workdir_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY_TOY = {
    "train.num_updates": 20,
    "train.log_every": 20,
    "train.checkpoint_every": 20,
    "train.batch_size": 20,
    "sampler.num_steps": 5,
    "sampler.bank_size": 200,
    "data.num_examples": 500,
    "toy.grid_resolution": 40,
    "toy.num_kde_samples": 100,
}


def run_cli(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "tf_ebm.sample", "--progress=false", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def train(workdir, overrides):
    config = config_lib.base_config()
    config.update_from_flattened_dict(overrides)
    training.train_and_evaluate(config, str(workdir), verbose=0)
    return str(workdir)


def write_idx_images(path, images):
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(size).to_bytes(4, "big") for size in images.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + images.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def persistent_workdir(tmp_path_factory):
    """A toy 8-Gaussian workdir trained for 20 updates with a persistent bank of 200 chains."""
    return train(tmp_path_factory.mktemp("persistent"), TINY_TOY)


@pytest.fixture(scope="module")
def gaussian_workdir(tmp_path_factory):
    """A toy rings workdir trained non-persistently from N(0, 4 I) noise with epsilon 0.01."""
    overrides = dict(TINY_TOY)
    overrides.update({
        "data.dataset": "rings", "sampler.init_type": "gaussian", "sampler.init_scale": 2.0, "sampler.epsilon": 0.01,
        "train.optimizer": "adam", "train.learning_rate": 1e-4,
    })
    return train(tmp_path_factory.mktemp("gaussian"), overrides)


@pytest.fixture(scope="module")
def image_workdir(tmp_path_factory):
    """A 16x16 grayscale vanilla-ConvNet workdir trained on 40 random IDX images, with clipped chains."""
    folder = tmp_path_factory.mktemp("idx")
    images = np.random.default_rng(0).integers(0, 256, (40, 16, 16))
    write_idx_images(folder / "train-images-idx3-ubyte.gz", images)
    return train(folder / "workdir", {
        "data.dataset": "idx", "data.path": str(folder), "data.image_size": 16, "data.channels": 1,
        "data.num_examples": 0, "model.net": "vanilla", "model.num_filters": 4,
        "sampler.init_type": "uniform", "sampler.epsilon": 0.01, "sampler.num_steps": 3, "sampler.clip_states": True,
        "train.optimizer": "adam", "train.learning_rate": 1e-4, "train.batch_size": 8,
        "train.num_updates": 10, "train.log_every": 10, "train.checkpoint_every": 10,
        "train.num_sample_images": 16,
    })


def test_toy_ula_writes_every_output(persistent_workdir):
    result = run_cli(f"--workdir={persistent_workdir}", "--num_steps=300", "--save_at=0,100", "--num_chains=150")
    assert result.returncode == 0, result.stderr[-3000:]
    output_dir = os.path.join(persistent_workdir, "longrun", "ula_300")
    assert f"Outputs in {output_dir}" in result.stdout
    assert "KL(true || learned) = " in result.stdout
    assert "acceptance" not in result.stdout

    for step in (0, 100, 300):
        states = np.load(os.path.join(output_dir, f"states_{step:07d}.npy"))
        assert states.shape == (150, 2)
        assert np.all(np.isfinite(states))
        assert os.path.getsize(os.path.join(output_dir, f"samples_{step:07d}.png")) > 1000
    for name in ("paths.png", "density.png"):
        assert os.path.getsize(os.path.join(output_dir, name)) > 1000, name
    assert not os.path.exists(os.path.join(output_dir, "acceptance.png"))

    # The default recording interval is 100 = gcd(300, 100), so the paths have 3 rows.
    rows = read_csv(os.path.join(output_dir, "paths.csv"))
    assert [int(row["step"]) for row in rows] == [100, 200, 300]
    assert set(rows[0]) == {"step", "energy", "grad_norm"}
    assert all(np.isfinite(float(row["energy"])) for row in rows)
    assert all(float(row["grad_norm"]) > 0 for row in rows)

    # Defaults come from the config: persistent init, epsilon 0.125, T = 0.125**2 / 2.
    summary = json.load(open(os.path.join(output_dir, "summary.json")))
    assert summary["init"] == "persistent"
    assert summary["epsilon"] == 0.125
    assert summary["temperature"] == pytest.approx(0.125**2 / 2)
    assert summary["record_every"] == 100
    assert summary["overall_acceptance_rate"] is None
    assert summary["kl_true_learned"] > 0
    assert summary["kl_true_kde"] > 0
    assert set(summary["state_statistics"]) == {"0", "100", "300"}

    # Persistent chains start from the first rows of the checkpoint's bank.
    model, _ = workdir_lib.load_model(persistent_workdir)
    np.testing.assert_array_equal(
        np.load(os.path.join(output_dir, "states_0000000.npy")), model.persistent_bank.numpy()[:150]
    )


def test_toy_mala_acceptance_rates(gaussian_workdir, tmp_path):
    output_dir = str(tmp_path / "mala")
    result = run_cli(
        f"--workdir={gaussian_workdir}", "--method=mala", "--num_steps=200", "--record_every=50",
        "--num_chains=50", "--init=noise", "--temperature_factor=2", f"--output_dir={output_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]

    rows = read_csv(os.path.join(output_dir, "paths.csv"))
    assert [int(row["step"]) for row in rows] == [50, 100, 150, 200]
    rates = np.array([float(row["acceptance_rate"]) for row in rows])
    assert np.all((rates > 0) & (rates <= 1)), rates
    assert os.path.getsize(os.path.join(output_dir, "acceptance.png")) > 1000

    summary = json.load(open(os.path.join(output_dir, "summary.json")))
    assert summary["init"] == "gaussian"
    assert summary["init_scale"] == 2.0
    assert summary["temperature"] == pytest.approx(2 * 0.01**2 / 2)
    assert summary["overall_acceptance_rate"] == pytest.approx(rates.mean(), abs=1e-6)
    assert f"Overall Metropolis-Hastings acceptance rate: {rates.mean():.4f}" in result.stdout
    assert np.load(os.path.join(output_dir, "states_0000200.npy")).shape == (50, 2)


def test_toy_states_outside_grid_are_flagged(gaussian_workdir, tmp_path):
    # epsilon = 1 for 100 steps spreads the chains over about 10 units per axis, well
    # beyond the rings' grid [-5, 5]^2. T = 100 makes the drift negligible.
    output_dir = str(tmp_path / "spread")
    result = run_cli(
        f"--workdir={gaussian_workdir}", "--num_steps=100", "--num_chains=200", "--epsilon=1.0",
        "--temperature=100", f"--output_dir={output_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.load(open(os.path.join(output_dir, "summary.json")))
    outside = summary["state_statistics"]["100"]["fraction_outside_grid"]
    assert outside > 0.3
    assert f"Warning: {outside:.1%} of the final states lie outside the density grid" in result.stdout

    # One tiny step from N(0, 4 I) keeps nearly all chains inside the grid: no warning.
    inside_dir = str(tmp_path / "inside")
    result = run_cli(
        f"--workdir={gaussian_workdir}", "--num_steps=1", "--num_chains=200", "--epsilon=0.001",
        "--temperature=100", f"--output_dir={inside_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.load(open(os.path.join(inside_dir, "summary.json")))
    assert summary["state_statistics"]["1"]["fraction_outside_grid"] < 0.05
    assert "outside the density grid" not in result.stdout


def test_image_data_init_writes_grids(image_workdir, tmp_path):
    output_dir = str(tmp_path / "images")
    result = run_cli(
        f"--workdir={image_workdir}", "--init=data", "--num_chains=9", "--num_steps=20", "--save_at=0,10",
        f"--output_dir={output_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "KL" not in result.stdout

    # Chains start from training images; a 3 x 3 grid of 16 x 16 images with 2-pixel padding is 56 wide.
    config = workdir_lib.load_config(image_workdir)
    examples = data_lib.load_examples(config.data, seed=config.seed).reshape(40, -1)
    initial = np.load(os.path.join(output_dir, "states_0000000.npy"))
    assert initial.shape == (9, 16, 16, 1)
    for state in initial.reshape(9, -1):
        assert np.any(np.all(examples == state, axis=1))
    for step in (0, 10, 20):
        grid = matplotlib.image.imread(os.path.join(output_dir, f"samples_{step:07d}.png"))
        assert grid.shape[:2] == (56, 56)
    assert len(read_csv(os.path.join(output_dir, "paths.csv"))) == 2

    # ULA clips to [-1, 1] by default because the model was trained with clipped chains.
    summary = json.load(open(os.path.join(output_dir, "summary.json")))
    assert summary["state_range"] == [-1.0, 1.0]
    assert np.abs(np.load(os.path.join(output_dir, "states_0000020.npy"))).max() <= 1.0
    assert 0 <= summary["state_statistics"]["20"]["fraction_saturated"] <= 1


BAD_REQUESTS = [
    ("zero_steps", "persistent", ["--num_steps=0"], "Invalid --num_steps=0; it must be an integer >= 1."),
    ("missing_workdir", None, [], "No training config at"),
    ("unknown_method", "persistent", ["--method=hmc"], "flag --method=hmc: value should be one of <ula|mala>"),
    ("unknown_init", "persistent", ["--init=bank"], "flag --init=bank: value should be one of"),
    ("save_at_beyond", "persistent", ["--num_steps=100", "--save_at=50,500"],
     "--save_at steps must lie in [0, --num_steps=100]; received [500]."),
    ("persistent_without_bank", "gaussian", ["--init=persistent"], "--init=persistent needs a persistent bank"),
    ("two_temperatures", "persistent", ["--temperature=1", "--temperature_factor=2"],
     "Pass either --temperature (1.0) or --temperature_factor (2.0), not both."),
    ("mala_with_clipping", "image", ["--method=mala", "--clip_states"], "--clip_states is for --method=ula only"),
    ("negative_epsilon", "persistent", ["--epsilon=-1"], "Invalid --epsilon=-1.0; the noise standard deviation"),
    ("other_network_checkpoint", "persistent", ["--checkpoint=IMAGE_CHECKPOINT"],
     "does not match the model built from the config"),
]


@pytest.mark.parametrize(
    "workdir_name, args, message", [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS]
)
def test_bad_request_fails_with_message(
    workdir_name, args, message, persistent_workdir, gaussian_workdir, image_workdir, tmp_path
):
    workdirs = {
        "persistent": persistent_workdir,
        "gaussian": gaussian_workdir,
        "image": image_workdir,
        None: str(tmp_path / "missing"),
    }
    image_checkpoint = os.path.join(image_workdir, "checkpoints", "ckpt-10")
    args = [arg.replace("IMAGE_CHECKPOINT", image_checkpoint) for arg in args]
    output_dir = tmp_path / "out"
    result = run_cli(f"--workdir={workdirs[workdir_name]}", f"--output_dir={output_dir}", *args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-3000:]
    # The message appears once: as the exit line, not also as a log line.
    assert result.stderr.count(message) == 1
    assert not output_dir.exists()
