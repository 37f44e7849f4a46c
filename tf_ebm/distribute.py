"""Distribution helpers: choosing a strategy, and which worker writes the outputs.

Under MultiWorkerMirroredStrategy every worker runs the same training loop, and saving a
checkpoint is a collective operation in which all workers take part. Only the chief's
copy goes to the workdir. The other workers save to a scratch folder of their own and
write no metrics or plots, so they never write the chief's files.
"""

import os

import tensorflow as tf

__all__ = ["STRATEGIES", "is_chief", "make_strategy", "worker_scratch_dir"]

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def make_strategy(name):
    """Return the `tf.distribute` strategy for `train.strategy`.

    'auto' is MirroredStrategy over all GPUs when there are two or more, else the
    default (single-device) strategy. 'multi_worker' reads the cluster from the
    TF_CONFIG environment variable.
    """
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Invalid `train.strategy`={name!r}; allowed values are {', '.join(STRATEGIES)}.")


def is_chief(strategy):
    """Return whether this process writes the run's outputs.

    True for single-process strategies; under a multi-worker strategy, True for the task
    of type 'chief', or for worker 0 when the cluster has no chief.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_scratch_dir(workdir, strategy):
    """Return the folder a non-chief worker saves its checkpoint copies to."""
    resolver = strategy.cluster_resolver
    return os.path.join(workdir, "workers", f"{resolver.task_type}_{resolver.task_id}")
