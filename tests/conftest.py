"""Test set-up: two logical CPU devices, so distribution tests can run MirroredStrategy.

The logical devices must be configured before TensorFlow initializes its runtime, which
is why this runs at import time of the test session.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:
    # The runtime was already initialized by an earlier import; tests needing two
    # devices skip themselves.
    pass
