"""`python -m tf_ebm.train` end to end: outputs, resume, configs and config errors."""

import csv
import glob
import gzip
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_ebm import config as config_lib
from tf_ebm import training
from tf_ebm import workdir as workdir_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_FILES = sorted(glob.glob(os.path.join(REPO, "configs", "*.py")))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def run_cli(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "tf_ebm.train", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def write_idx_images(path, images):
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(size).to_bytes(4, "big") for size in images.shape)
    with gzip.open(path, "wb") as file:
        file.write(header + images.astype(np.uint8).tobytes())


def tiny_toy_overrides(workdir, updates=100):
    return [
        f"--workdir={workdir}",
        f"--config.train.num_updates={updates}",
        "--config.train.log_every=100",
        "--config.train.checkpoint_every=100",
        "--config.train.batch_size=20",
        "--config.sampler.num_steps=5",
        "--config.sampler.bank_size=200",
        "--config.data.num_examples=500",
        "--config.toy.grid_resolution=40",
        "--config.toy.num_kde_samples=100",
        "--verbose=2",
    ]


def test_toy_cli_writes_every_output(tmp_path):
    workdir = str(tmp_path / "toy")
    result = run_cli(*tiny_toy_overrides(workdir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done: 100 updates. Outputs in {workdir}" in result.stderr

    config = workdir_lib.load_config(workdir)
    assert config.train.num_updates == 100
    assert config.sampler.num_steps == 5
    rows = read_csv(os.path.join(workdir, "metrics.csv"))
    assert [int(row["step"]) for row in rows] == list(range(1, 101))
    assert set(rows[0]) == {"step", "d", "r", "energy_pos", "energy_neg", "lr"}
    assert all(np.isfinite(float(row["r"])) for row in rows)
    assert os.path.exists(os.path.join(workdir, "checkpoints", "ckpt-100.index"))
    for name in ("samples/shortrun_0000100.png", "samples/bank_0000100.png", "density/density_0000100.png",
                 "diagnostics.png"):
        assert os.path.getsize(os.path.join(workdir, name)) > 1000, name
    verdict = open(os.path.join(workdir, "diagnostics.txt")).read()
    assert verdict.startswith("update 100, window 100:")
    toy_rows = read_csv(os.path.join(workdir, "toy_metrics.csv"))
    assert int(toy_rows[0]["step"]) == 100
    assert float(toy_rows[0]["kl_true_learned"]) > 0
    assert glob.glob(os.path.join(workdir, "tensorboard", "events.out.tfevents.*"))


def test_idx_cli_trains_image_model(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (40, 16, 16))
    write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", images)
    workdir = str(tmp_path / "idx")
    result = run_cli(
        f"--workdir={workdir}",
        "--config.data.dataset=idx", f"--config.data.path={tmp_path}",
        "--config.data.image_size=16", "--config.data.channels=1", "--config.data.num_examples=0",
        "--config.model.net=vanilla", "--config.model.num_filters=4",
        "--config.sampler.init_type=uniform", "--config.sampler.epsilon=0.01", "--config.sampler.num_steps=3",
        "--config.train.optimizer=adam", "--config.train.learning_rate=1e-4",
        "--config.train.batch_size=8", "--config.train.num_updates=20",
        "--config.train.log_every=20", "--config.train.checkpoint_every=20", "--config.train.num_sample_images=16",
        "--verbose=0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_csv(os.path.join(workdir, "metrics.csv"))) == 20
    grid = tf.io.decode_png(tf.io.read_file(os.path.join(workdir, "samples", "shortrun_0000020.png")))
    assert grid.shape[0] > 16
    assert grid.shape[1] > 16
    assert not os.path.exists(os.path.join(workdir, "samples", "bank_0000020.png"))


def test_resume_continues_and_restores_bank(tmp_path):
    workdir = str(tmp_path / "resume")
    config = config_lib.base_config()
    config.update_from_flattened_dict({
        "train.num_updates": 20, "train.log_every": 10, "train.checkpoint_every": 10,
        "train.batch_size": 20, "sampler.num_steps": 3, "sampler.bank_size": 100,
        "data.num_examples": 200, "toy.grid_resolution": 20, "toy.num_kde_samples": 50,
    })
    first = training.train_and_evaluate(config, workdir, verbose=0)
    bank = first.model.persistent_bank.numpy()
    weights = [w.numpy() for w in first.model.energy_net.weights]

    # Nothing left to do: the returned model is the restored checkpoint.
    same = training.train_and_evaluate(config, workdir, verbose=0)
    assert same.final_step == 20
    np.testing.assert_array_equal(same.model.persistent_bank.numpy(), bank)
    for restored, original in zip(same.model.energy_net.weights, weights):
        np.testing.assert_array_equal(restored.numpy(), original)

    config.train.num_updates = 30
    resumed = training.train_and_evaluate(config, workdir, verbose=0)
    assert resumed.final_step == 30
    assert int(resumed.model.optimizer.iterations.numpy()) == 30
    steps = [int(row["step"]) for row in read_csv(os.path.join(workdir, "metrics.csv"))]
    assert steps == list(range(1, 31))


def test_resume_drops_metrics_after_last_checkpoint(tmp_path):
    workdir = str(tmp_path)
    with open(os.path.join(workdir, "metrics.csv"), "w") as file:
        file.write("step,d,r,energy_pos,energy_neg,lr\n1,0,0,0,0,0\n2,0,0,0,0,0\n3,0,0,0,0,0\n")
    training._truncate_csv(os.path.join(workdir, "metrics.csv"), 2)
    assert [row["step"] for row in read_csv(os.path.join(workdir, "metrics.csv"))] == ["1", "2"]


def test_non_finite_metric_stops_with_name_and_step(tmp_path):
    writer = training.MetricsWriter(str(tmp_path), start_step=41)
    logs = {"d": 0.1, "r": float("nan"), "energy_pos": 0.0, "energy_neg": 0.0, "lr": 1e-4}
    with pytest.raises(training.NonFiniteMetricError, match=r"Metric `r` is nan at update 42"):
        writer.on_train_batch_end(0, logs)
    writer.on_train_end()


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
def test_every_config_loads_and_validates(path):
    spec = importlib.util.spec_from_file_location("config_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    assert module.__doc__ and "python -m tf_ebm.train" in module.__doc__
    if config.data.dataset == "idx" and not os.path.isdir(config.data.path):
        pytest.skip(f"{config.data.path} is missing; apt-get install -y dataset-fashion-mnist")
    config_lib.validate(config)
    config_lib.derived_values(config)


def test_paper_values_in_configs():
    def load(name):
        spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "configs", name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.get_config()

    cifar = load("cifar10_nonconvergent")
    assert (cifar.model.net, cifar.train.optimizer, cifar.train.learning_rate) == ("vanilla", "adam", 1e-4)
    assert (cifar.sampler.epsilon, cifar.train.data_epsilon, cifar.sampler.num_steps) == (0.01, 0.03, 150)
    assert (cifar.sampler.init_type, cifar.train.batch_size, cifar.train.num_updates) == ("uniform", 100, 100000)
    flowers = load("flowers_convergent")
    assert (flowers.train.learning_rate, flowers.train.lr_decay, flowers.train.lr_min) == (0.1, 0.99995, 5e-4)
    assert (flowers.sampler.epsilon, flowers.sampler.num_steps, flowers.train.num_updates) == (7.5e-3, 500, 200000)
    toy = load("toy_rings_convergent")
    assert (toy.train.optimizer, toy.train.learning_rate, toy.sampler.epsilon) == ("sgd", 0.1, 0.125)
    assert (toy.sampler.num_steps, toy.sampler.bank_size, toy.sampler.init_type) == (500, 10000, "persistent")
    toy = load("toy_gmm_nonconvergent")
    assert (toy.train.optimizer, toy.train.learning_rate, toy.sampler.epsilon) == ("adam", 1e-4, 0.01)
    assert (toy.sampler.num_steps, toy.sampler.init_type, toy.sampler.init_scale) == (100, "gaussian", 1.0)
    # The paper starts its non-convergent rings chains from N(0, 4 I).
    toy = load("toy_rings_nonconvergent")
    assert (toy.data.dataset, toy.sampler.init_type, toy.sampler.init_scale) == ("rings", "gaussian", 2.0)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"sampler.epsilon": -0.1}, r"Invalid `sampler.epsilon`=-0.1; it must be >= 0.0"),
        ({"sampler.num_steps": 0}, r"Invalid `sampler.num_steps`=0; it must be an integer >= 1"),
        ({"model.net": "resnet"}, r"Invalid `model.net`='resnet'; allowed values are toy, vanilla, nonlocal"),
        ({"sampler.init_type": "zeros"}, r"Invalid `sampler.init_type`='zeros'; allowed values are uniform"),
        ({"train.optimizer": "rmsprop"}, r"Invalid `train.optimizer`='rmsprop'; allowed values are adam, sgd"),
        ({"data.dataset": "imagenet"}, r"Invalid `data.dataset` 'imagenet'; expected one of \['rings'"),
        ({"train.checkpoint_every": 150}, r"`train.checkpoint_every`=150 must be a multiple of `train.log_every`=200"),
        ({"sampler.bank_size": 10}, r"`sampler.bank_size`=10 is smaller than `train.batch_size`=100"),
        ({"train.lr_decay": 1.5}, r"Invalid `train.lr_decay`=1.5; it must be > 0.0 and <= 1.0"),
        ({"model.net": "vanilla"}, r"`model.net`='vanilla' does not fit `data.dataset`='gaussian_mixture'"),
        ({"sampler.clip_states": True}, r"`sampler.clip_states`=True clips chains to the image range"),
        ({"sampler.init_scale": 0.0}, r"Invalid `sampler.init_scale`=0.0; it must be > 0.0"),
    ],
)
def test_invalid_config_values(overrides, match):
    config = config_lib.base_config()
    config.update_from_flattened_dict(overrides)
    with pytest.raises(ValueError, match=match):
        config_lib.validate(config)


def test_cli_rejects_bad_value_before_work(tmp_path):
    workdir = tmp_path / "bad"
    result = run_cli(f"--workdir={workdir}", "--config.sampler.epsilon=-0.5")
    assert result.returncode != 0
    assert "Invalid `sampler.epsilon`=-0.5; it must be >= 0.0" in result.stderr
    assert not workdir.exists()


def test_cli_rejects_unknown_key(tmp_path):
    workdir = tmp_path / "bad"
    result = run_cli(f"--workdir={workdir}", "--config.sampler.num_step=5")
    assert result.returncode != 0
    assert "Unknown config field 'num_step' in --config.sampler.num_step. Did you mean \"num_steps\"" in result.stderr
    assert "--helpfull" in result.stderr
    assert "Traceback" not in result.stderr
    assert not workdir.exists()


@pytest.mark.parametrize("overrides", [(), ("--config.sampler.epsilon=0.1",)], ids=["alone", "with_override"])
def test_cli_rejects_missing_config_file(tmp_path, overrides):
    workdir = tmp_path / "bad"
    missing = tmp_path / "nope.py"
    result = run_cli(f"--workdir={workdir}", f"--config={missing}", *overrides)
    assert result.returncode != 0
    assert f"Could not load the --config file: [Errno 2] No such file or directory: '{missing}'" in result.stderr
    assert "toy_rings_convergent.py" in result.stderr
    assert "Traceback" not in result.stderr
    assert not workdir.exists()


def test_cli_reports_missing_data_file_as_invalid_config(tmp_path):
    workdir = tmp_path / "bad"
    result = run_cli(
        f"--workdir={workdir}", "--config.model.net=vanilla", "--config.data.dataset=array",
        f"--config.data.path={tmp_path / 'nope.npy'}",
    )
    assert result.returncode != 0
    assert f"Invalid config: `data.path` not found: {tmp_path / 'nope.npy'}" in result.stderr
    assert "--config file" not in result.stderr
    assert not workdir.exists()


def test_cli_rejects_workdir_that_is_a_file(tmp_path):
    workdir = tmp_path / "run.sh"
    workdir.write_text("echo\n")
    result = run_cli(f"--workdir={workdir}", "--config.train.num_updates=2")
    assert result.returncode != 0
    assert f"The workdir '{workdir}' is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert workdir.read_text() == "echo\n"


def test_cli_rejects_batch_larger_than_dataset(tmp_path):
    result = run_cli(
        f"--workdir={tmp_path / 'bad'}", "--config.data.num_examples=50", "--config.train.batch_size=100",
        "--config.sampler.bank_size=100",
    )
    assert result.returncode != 0
    assert "batch_size" in result.stderr
    assert "50" in result.stderr


def test_cli_help_lists_flags():
    # absl prints the help to stdout and exits with status 1.
    result = run_cli("--help")
    for flag in ("--config", "--workdir", "--verbose"):
        assert flag in result.stdout
    assert "Override fields with --config.SECTION.FIELD=VALUE" in " ".join(result.stdout.split())


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST), reason="apt-get install -y dataset-fashion-mnist")
def test_real_fashion_mnist_trains(tmp_path):
    spec = importlib.util.spec_from_file_location("fashion", os.path.join(REPO, "configs", "fashion_mnist_shortrun.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.update_from_flattened_dict({
        "train.num_updates": 4, "train.log_every": 2, "train.checkpoint_every": 4,
        "sampler.num_steps": 2, "train.batch_size": 16,
    })
    result = training.train_and_evaluate(config, str(tmp_path), verbose=0)
    assert result.final_step == 4
    rows = read_csv(os.path.join(tmp_path, "metrics.csv"))
    assert len(rows) == 4
    assert all(np.isfinite(float(row["d"])) for row in rows)
    assert os.path.exists(os.path.join(tmp_path, "samples", "shortrun_0000004.png"))


def test_resume_with_other_network_is_rejected(tmp_path):
    workdir = str(tmp_path)
    config = config_lib.base_config()
    config.update_from_flattened_dict({
        "train.num_updates": 10, "train.log_every": 10, "train.checkpoint_every": 10,
        "train.batch_size": 20, "sampler.num_steps": 2, "sampler.bank_size": 100,
        "data.num_examples": 200, "toy.grid_resolution": 20, "toy.num_kde_samples": 50,
    })
    training.train_and_evaluate(config, workdir, verbose=0)
    saved = open(os.path.join(workdir, "config.json")).read()

    other = config_lib.base_config()
    other.update_from_flattened_dict({"sampler.bank_size": 200, "train.num_updates": 20})
    with pytest.raises(ValueError, match=r"different config \(.*sampler.bank_size: 100 -> 200"):
        training.train_and_evaluate(other, workdir, verbose=0)
    assert open(os.path.join(workdir, "config.json")).read() == saved


def test_same_seed_gives_identical_runs(tmp_path):
    config = config_lib.base_config()
    config.update_from_flattened_dict({
        "train.num_updates": 10, "train.log_every": 10, "train.checkpoint_every": 10,
        "train.batch_size": 20, "sampler.num_steps": 3, "sampler.bank_size": 100,
        "data.num_examples": 200, "toy.grid_resolution": 20, "toy.num_kde_samples": 50,
    })
    first = training.train_and_evaluate(config, str(tmp_path / "first"), verbose=0)
    second = training.train_and_evaluate(config, str(tmp_path / "second"), verbose=0)
    for a, b in zip(first.model.energy_net.weights, second.model.energy_net.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(first.model.persistent_bank.numpy(), second.model.persistent_bank.numpy())
