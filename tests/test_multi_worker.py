"""Training under MultiWorkerMirroredStrategy: two worker processes on loopback."""

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_workers_train_and_chief_writes_outputs(tmp_path):
    workdir = str(tmp_path / "run")
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    args = [
        sys.executable, "-m", "tf_ebm.train", f"--workdir={workdir}", "--verbose=0",
        "--config.train.strategy=multi_worker", "--config.train.num_updates=20",
        "--config.train.log_every=10", "--config.train.checkpoint_every=10",
        "--config.train.batch_size=20", "--config.sampler.num_steps=3", "--config.sampler.bank_size=100",
        "--config.data.num_examples=200", "--config.toy.grid_resolution=20", "--config.toy.num_kde_samples=50",
    ]
    processes = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="2")
        processes.append(subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]

    with open(os.path.join(workdir, "metrics.csv"), newline="") as file:
        steps = [int(row["step"]) for row in csv.DictReader(file)]
    assert steps == list(range(1, 21))
    chief = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")))
    worker = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(workdir, "workers", "worker_1", "checkpoints")))
    bank_key = next(key for key in chief.get_variable_to_shape_map() if "persistent_bank" in key)
    # Both workers hold the same synchronized bank and network after training.
    np.testing.assert_array_equal(chief.get_tensor(bank_key), worker.get_tensor(bank_key))
    assert not os.path.exists(os.path.join(workdir, "workers", "worker_1", "metrics.csv"))
