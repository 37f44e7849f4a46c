"""Learning-rate schedules for EBM training."""

import keras
from keras import ops

__all__ = ["ExponentialDecayWithFloor"]


@keras.saving.register_keras_serializable(package="tf_ebm")
class ExponentialDecayWithFloor(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = scale * max(initial_learning_rate * decay_rate**step, min_learning_rate).

    The decay is applied per update (not per epoch), as in the paper's annealed runs
    (for example 0.1 * 0.99995**step down to 5e-4). `scale` carries the epsilon**2 / 2
    factor of SGD on the scaled EBM loss.

    Raises:
      ValueError: if `initial_learning_rate` <= 0, `decay_rate` is not in (0, 1],
        `min_learning_rate` < 0 or `scale` <= 0.
    """

    def __init__(self, initial_learning_rate, decay_rate=1.0, min_learning_rate=0.0, scale=1.0):
        if not initial_learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0; received {initial_learning_rate!r}.")
        if not 0 < decay_rate <= 1:
            raise ValueError(f"`lr_decay` must be in (0, 1]; received {decay_rate!r}.")
        if not min_learning_rate >= 0:
            raise ValueError(f"`lr_min` must be >= 0; received {min_learning_rate!r}.")
        if not scale > 0:
            raise ValueError(f"`scale` must be > 0; received {scale!r}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_rate = float(decay_rate)
        self.min_learning_rate = float(min_learning_rate)
        self.scale = float(scale)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decayed = self.initial_learning_rate * ops.power(self.decay_rate, step)
        return self.scale * ops.maximum(decayed, self.min_learning_rate)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_rate": self.decay_rate,
            "min_learning_rate": self.min_learning_rate,
            "scale": self.scale,
        }
