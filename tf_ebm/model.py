"""`EnergyModel`: a Keras model whose `train_step` is one maximum-likelihood EBM update."""

import math
import warnings

import keras
import tensorflow as tf

from tf_ebm import sampler as sampler_lib
from tf_ebm import schedules

__all__ = ["EnergyModel", "INIT_TYPES", "OPTIMIZERS", "default_jit_compile", "make_optimizer"]

INIT_TYPES = ("uniform", "gaussian", "data", "persistent")
OPTIMIZERS = ("adam", "sgd")

# Stream ids folded into the stateless seed, so each random draw of one update is independent.
_POSITIVE_NOISE = 1
_INITIAL_NOISE = 2
_LANGEVIN_NOISE = 3
_BANK_INDICES = 4
_REJUVENATION = 5
_SAMPLE_CALL = 6


def default_jit_compile(energy_net):
    """Return the measured compile-mode default for `energy_net`.

    Measured with `benchmarks/langevin_speed.py` on a 2-core CPU machine with TF 2.21
    (docs/benchmarks.md): XLA ran the dense toy net's Langevin loop 1.8x faster than graph
    mode, and the convolution nets 2.3x to 5x slower. So XLA is the default only for nets
    without convolutions.
    """
    has_convolution = any(isinstance(layer, keras.layers.Conv2D) for layer in _all_layers(energy_net))
    return not has_convolution


@keras.saving.register_keras_serializable(package="tf_ebm")
class EnergyModel(keras.Model):
    """Energy-based model trained by maximum likelihood with short-run Langevin MCMC.

    One `train_step` follows Nijkamp et al. (AAAI 2020):

    1. positives X+ = batch + data_epsilon * N(0, I);
    2. negatives X- = `num_steps` Langevin updates x <- x - grad F(x) + epsilon * z from
       the initial states chosen by `init_type`;
    3. d = mean F(X+) - mean F(X-), and the optimizer steps on d * 2 / epsilon**2 (on d
       when epsilon = 0). The energy is F / T with T = epsilon**2 / 2, so this is the
       maximum-likelihood gradient of U = F / T.

    Because the loss is multiplied by 2 / epsilon**2, the learning rate of an SGD
    optimizer built by `compile(optimizer="sgd", ...)` is multiplied by epsilon**2 / 2
    (when epsilon > 0), which makes SGD's step independent of epsilon. Adam is invariant
    to the loss scale and is not rescaled.

    Args:
      energy_net: a Keras model or layer mapping a batch to energies of shape (batch,)
        or (batch, 1).
      epsilon: Langevin noise standard deviation, >= 0.
      num_steps: Langevin updates per training step, >= 1.
      init_type: "uniform" (noise in [-1, 1]), "gaussian" (N(0, I)), "data"
        (contrastive divergence from the batch) or "persistent" (a bank of chains).
      init_scale: scale of every noise start, > 0: "uniform" draws from
        [-init_scale, init_scale], "gaussian" from N(0, init_scale**2 I), and the
        persistent bank starts and rejuvenates from the uniform draw. 1 in the paper,
        except 2 for its non-convergent rings run.
      data_epsilon: standard deviation of the noise added to the positives, >= 0.
      bank_size: number of persistent chains; used when `init_type="persistent"` and must
        be at least the global batch size.
      rejuvenation: fraction in [0, 1) of the sampled persistent chains restarted from
        uniform noise at each update (0 in the paper).
      input_shape: shape of one example, e.g. (32, 32, 3). Defaults to the input shape
        of `energy_net`; required when `energy_net` has no known input shape.
      seed: integer seed of all randomness; updates fold in the update count and replica id.
      sampler_jit_compile: compile `sample()` with XLA; None picks `default_jit_compile`.
      state_range: None, or (low, high) to clip every Langevin state to, e.g. (-1, 1) for
        images. Off in the paper; see `sampler.langevin_chain`.

    Raises:
      ValueError: for an argument outside the allowed values (the message names it).
    """

    def __init__(
        self,
        energy_net,
        epsilon=0.01,
        num_steps=100,
        init_type="uniform",
        init_scale=1.0,
        data_epsilon=0.02,
        bank_size=10000,
        rejuvenation=0.0,
        input_shape=None,
        seed=0,
        sampler_jit_compile=None,
        state_range=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_model_arguments(epsilon, num_steps, init_type, init_scale, data_epsilon, bank_size, rejuvenation)
        self.energy_net = energy_net
        self.init_type = init_type
        self.init_scale = float(init_scale)
        self.data_epsilon = float(data_epsilon)
        self.bank_size = int(bank_size)
        self.rejuvenation = float(rejuvenation)
        self.seed = int(seed)
        self.state_range = _check_state_range(state_range)
        self.example_shape = _resolve_example_shape(energy_net, input_shape)
        self.sampler_jit_compile = (
            default_jit_compile(energy_net) if sampler_jit_compile is None else bool(sampler_jit_compile)
        )

        # Sampler settings are variables so that changing them never retraces the compiled step.
        self.epsilon_variable = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(float(epsilon)), trainable=False,
            dtype="float32", aggregation="only_first_replica", name="epsilon",
        )
        self.num_steps_variable = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(int(num_steps)), trainable=False,
            dtype="int32", aggregation="only_first_replica", name="num_steps",
        )
        self.update_count = self.add_weight(
            shape=(), initializer="zeros", trainable=False, dtype="int64",
            aggregation="only_first_replica", name="update_count",
        )
        self.sample_count = self.add_weight(
            shape=(), initializer="zeros", trainable=False, dtype="int64",
            aggregation="only_first_replica", name="sample_count",
        )
        self.persistent_bank = None
        if init_type == "persistent":
            if self.example_shape is None:
                raise ValueError(
                    "`input_shape` is required for init_type='persistent' when `energy_net` has no "
                    "known input shape; pass e.g. input_shape=(32, 32, 3)."
                )
            self.persistent_bank = self.add_weight(
                shape=(self.bank_size,) + self.example_shape,
                initializer=keras.initializers.RandomUniform(-self.init_scale, self.init_scale, seed=self.seed),
                trainable=False, dtype="float32", aggregation="only_first_replica",
                name="persistent_bank",
            )

        self.d_tracker = keras.metrics.Mean(name="d")
        self.energy_pos_tracker = keras.metrics.Mean(name="energy_pos")
        self.energy_neg_tracker = keras.metrics.Mean(name="energy_neg")
        self._compiled_sample = None
        if getattr(energy_net, "built", False):
            self.built = True

    def build(self, input_shape):
        if not self.energy_net.built:
            self.energy_net.build(input_shape)
        self.built = True

    # Properties and settings.

    @property
    def epsilon(self):
        """Langevin noise standard deviation, a Python float."""
        return float(keras.ops.convert_to_numpy(self.epsilon_variable))

    @property
    def num_steps(self):
        """Langevin updates per training step, a Python int."""
        return int(keras.ops.convert_to_numpy(self.num_steps_variable))

    def set_sampler(self, epsilon=None, num_steps=None):
        """Change epsilon or the number of Langevin steps without retracing the train step."""
        _check_model_arguments(
            self.epsilon if epsilon is None else epsilon,
            self.num_steps if num_steps is None else num_steps,
            self.init_type, self.init_scale, self.data_epsilon, self.bank_size, self.rejuvenation,
        )
        if epsilon is not None:
            self.epsilon_variable.assign(float(epsilon))
        if num_steps is not None:
            self.num_steps_variable.assign(int(num_steps))

    @property
    def loss_scale(self):
        """The factor 2 / epsilon**2 applied to d (1 when epsilon = 0), a float tensor."""
        epsilon = tf.convert_to_tensor(self.epsilon_variable)
        return tf.where(epsilon > 0, 2.0 / tf.maximum(epsilon, 1e-12) ** 2, 1.0)

    @property
    def metrics(self):
        return [self.d_tracker, self.energy_pos_tracker, self.energy_neg_tracker]

    def compile(self, optimizer="adam", learning_rate=1e-4, lr_decay=1.0, lr_min=0.0, jit_compile=None, **kwargs):
        """Configure training. With no arguments: Adam at 1e-4, no decay.

        Args:
          optimizer: "adam", "sgd", or a `keras.optimizers.Optimizer`. A name builds the
            optimizer with `schedules.ExponentialDecayWithFloor(learning_rate, lr_decay,
            lr_min)`; for "sgd" with epsilon > 0 the schedule is multiplied by
            epsilon**2 / 2 (see the class docstring). An optimizer instance is used as
            given, with no rescaling.
          learning_rate: initial learning rate, > 0.
          lr_decay: multiplicative decay per update, in (0, 1].
          lr_min: floor of the decayed learning rate, >= 0.
          jit_compile: XLA for the train step; None picks `default_jit_compile`.
          **kwargs: passed to `keras.Model.compile` (e.g. `steps_per_execution`).
        """
        if isinstance(optimizer, str):
            optimizer = make_optimizer(optimizer, learning_rate, lr_decay, lr_min, self.epsilon)
        elif isinstance(optimizer, keras.optimizers.SGD) and self.epsilon > 0:
            warnings.warn(
                "An SGD optimizer instance is used with its own learning rate; pass "
                "optimizer='sgd' to have the learning rate multiplied by epsilon**2 / 2.",
                stacklevel=2,
            )
        if jit_compile is None:
            jit_compile = default_jit_compile(self.energy_net)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    # Energies and sampling.

    def call(self, inputs, training=False):
        """Return the energies F(x) of a batch, shape (batch,)."""
        return sampler_lib._as_per_example(self.energy_net(inputs, training=training), inputs)

    def energy(self, inputs, training=False):
        """Evaluate F(x) on a batch; returns a float32 tensor of shape (batch,)."""
        return self(tf.convert_to_tensor(inputs, tf.float32), training=training)

    def initial_states(self, num_chains, seed, init_type=None, data=None):
        """Draw initial Langevin states of shape (num_chains,) + example_shape.

        "data" starts from `data`; "persistent" reads the first chains of the bank
        without updating it (training samples bank rows in `train_step`).
        """
        init_type = self.init_type if init_type is None else init_type
        shape = tf.concat([[num_chains], tf.constant(self._example_shape_or_raise(data), tf.int32)], 0)
        if init_type == "uniform":
            return tf.random.stateless_uniform(shape, seed=seed, minval=-self.init_scale, maxval=self.init_scale)
        if init_type == "gaussian":
            return tf.random.stateless_normal(shape, seed=seed, stddev=self.init_scale)
        if init_type == "data":
            if data is None:
                raise ValueError(
                    "init_type='data' starts chains from data; pass `initial_states` to "
                    "`sample()` or choose init_type 'uniform' or 'gaussian'."
                )
            return tf.convert_to_tensor(data, tf.float32)
        if init_type == "persistent":
            if self.persistent_bank is None:
                raise ValueError(
                    "init_type='persistent' needs a persistent bank; build the model with "
                    "init_type='persistent'."
                )
            return tf.convert_to_tensor(self.persistent_bank)[:num_chains]
        raise ValueError(f"Unknown `init_type`={init_type!r}; allowed values are {', '.join(INIT_TYPES)}.")

    def sample(
        self,
        num_samples=None,
        initial_states=None,
        num_steps=None,
        epsilon=None,
        init_type=None,
        temperature=None,
        seed=None,
        return_results=False,
    ):
        """Draw short-run samples by Langevin MCMC, compiled once per input shape.

        Args:
          num_samples: number of chains when `initial_states` is not given.
          initial_states: states to start from (overrides `init_type`).
          num_steps: Langevin updates; defaults to the training value.
          epsilon: noise standard deviation; defaults to the training value.
          init_type: initialization; defaults to the training one. "persistent" reads the
            first `num_samples` bank chains without updating them.
          temperature: None for training's T = epsilon**2 / 2, else U = F / temperature.
          seed: integer seed; None uses the model seed and a per-call counter.
          return_results: return `sampler.LangevinResults` instead of the states.
        """
        num_steps = self.num_steps if num_steps is None else num_steps
        epsilon = self.epsilon if epsilon is None else epsilon
        sampler_lib._check_sampler_arguments(epsilon, num_steps, temperature, allow_zero_steps=True)
        if seed is None:
            seed = sampler_lib.step_seed(self.seed, _SAMPLE_CALL, self.sample_count)
            self.sample_count.assign_add(1)
        else:
            seed = sampler_lib.step_seed(seed)
        if initial_states is None:
            if num_samples is None:
                raise ValueError("Pass `num_samples` or `initial_states` to `sample()`.")
            initial_states = self.initial_states(int(num_samples), sampler_lib.step_seed(seed, _INITIAL_NOISE), init_type)
        if self._compiled_sample is None:
            self._compiled_sample = tf.function(
                self._sample_graph, jit_compile=self.sampler_jit_compile, reduce_retracing=True
            )
        results = self._compiled_sample(
            tf.convert_to_tensor(initial_states, tf.float32),
            tf.constant(int(num_steps), tf.int32),
            tf.constant(float(epsilon), tf.float32),
            sampler_lib.drift_coefficient(epsilon, temperature),
            sampler_lib.step_seed(seed, _LANGEVIN_NOISE),
        )
        return results if return_results else results.states

    def _sample_graph(self, initial_states, num_steps, epsilon, drift, seed):
        return sampler_lib.langevin_chain(
            self.energy_net, initial_states, num_steps, epsilon, seed, drift=drift, training=False,
            state_range=self.state_range,
        )

    # Training and evaluation.

    def train_step(self, data):
        x = tf.convert_to_tensor(_images_from(data), tf.float32)
        update_seed = self._update_seed()
        epsilon = tf.convert_to_tensor(self.epsilon_variable)

        # Positives: data plus a little noise, so the data law is not degenerate.
        x_pos = x + self.data_epsilon * tf.random.stateless_normal(
            tf.shape(x), seed=sampler_lib.step_seed(update_seed, _POSITIVE_NOISE)
        )

        # Negatives: short-run Langevin chains from the chosen initial states.
        x_init, bank_indices = self._training_initial_states(x, update_seed)
        chains = sampler_lib.langevin_chain(
            self.energy_net, x_init, self.num_steps_variable, epsilon,
            sampler_lib.step_seed(update_seed, _LANGEVIN_NOISE), training=False,
            state_range=self.state_range,
        )
        x_neg = tf.stop_gradient(chains.states)
        if bank_indices is not None:
            self._update_bank(bank_indices, x_neg)

        # Loss d = mean F(X+) - mean F(X-), scaled by 2 / epsilon**2 and split over replicas.
        batch = tf.shape(x)[0]
        with tf.GradientTape() as tape:
            energies = self(tf.concat([x_pos, x_neg], axis=0), training=True)
            energy_pos = tf.reduce_mean(energies[:batch])
            energy_neg = tf.reduce_mean(energies[batch:])
            d = energy_pos - energy_neg
            loss = d * self.loss_scale / tf.cast(_num_replicas(), tf.float32)

        # Gradient step; the Keras optimizer sums gradients over replicas.
        variables = self.energy_net.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self.update_count.assign_add(1)

        # Per-step metrics; Keras averages returned values over replicas.
        metrics = {
            "d": d,
            "r": tf.reduce_mean(chains.grad_norm),
            "energy_pos": energy_pos,
            "energy_neg": energy_neg,
            "lr": tf.cast(self.optimizer.learning_rate, tf.float32),
        }
        return _reducible_over_workers(metrics)

    def test_step(self, data):
        x = tf.convert_to_tensor(_images_from(data), tf.float32)
        seed = sampler_lib.step_seed(self.seed, -1 - self.update_count, _replica_id())
        x_pos = x + self.data_epsilon * tf.random.stateless_normal(
            tf.shape(x), seed=sampler_lib.step_seed(seed, _POSITIVE_NOISE)
        )
        init_type = "uniform" if self.init_type == "persistent" else self.init_type
        x_init = self.initial_states(tf.shape(x)[0], sampler_lib.step_seed(seed, _INITIAL_NOISE), init_type, data=x)
        chains = sampler_lib.langevin_chain(
            self.energy_net, x_init, self.num_steps_variable, self.epsilon_variable,
            sampler_lib.step_seed(seed, _LANGEVIN_NOISE), training=False,
            state_range=self.state_range,
        )
        energy_pos = tf.reduce_mean(self(x_pos, training=False))
        energy_neg = tf.reduce_mean(self(chains.states, training=False))
        self.d_tracker.update_state(energy_pos - energy_neg)
        self.energy_pos_tracker.update_state(energy_pos)
        self.energy_neg_tracker.update_state(energy_neg)
        return _reducible_over_workers({metric.name: metric.result() for metric in self.metrics})

    def _update_seed(self):
        """Return the stateless seed of the current update on this replica."""
        return sampler_lib.step_seed(self.seed, self.update_count, _replica_id())

    def _training_initial_states(self, x, seed):
        """Return (initial states, bank row indices or None) for one training update."""
        batch = tf.shape(x)[0]
        if self.init_type != "persistent":
            return self.initial_states(batch, sampler_lib.step_seed(seed, _INITIAL_NOISE), data=x), None

        # All replicas draw the same permutation of the bank (the seed has no replica id)
        # and each takes its own slice, so every row is used by exactly one chain.
        context = tf.distribute.get_replica_context()
        if x.shape[0] is not None and x.shape[0] * _num_replicas() > self.bank_size:
            raise ValueError(
                f"`bank_size`={self.bank_size} is smaller than the global batch size "
                f"{x.shape[0] * _num_replicas()}; use a bank at least as large as the batch."
            )
        batch_sizes = context.all_gather(tf.reshape(batch, [1]), axis=0)
        offset = tf.reduce_sum(batch_sizes[: _replica_id()])
        global_seed = sampler_lib.step_seed(self.seed, self.update_count, _BANK_INDICES)
        permutation = tf.argsort(tf.random.stateless_uniform([self.bank_size], seed=global_seed))
        tf.debugging.assert_less_equal(
            tf.reduce_sum(batch_sizes), self.bank_size,
            message=f"`bank_size`={self.bank_size} is smaller than the global batch size",
        )
        indices = permutation[offset : offset + batch]
        states = tf.gather(tf.convert_to_tensor(self.persistent_bank), indices)

        if self.rejuvenation > 0:
            restart = tf.random.stateless_uniform([batch], seed=sampler_lib.step_seed(seed, _REJUVENATION)) < self.rejuvenation
            noise = tf.random.stateless_uniform(
                tf.shape(states), seed=sampler_lib.step_seed(seed, _INITIAL_NOISE),
                minval=-self.init_scale, maxval=self.init_scale,
            )
            mask = tf.reshape(restart, tf.concat([[batch], tf.ones([tf.rank(states) - 1], tf.int32)], 0))
            states = tf.where(mask, noise, states)
        return states, indices

    def _update_bank(self, indices, states):
        """Write the final chain states back to their bank rows, on every replica alike."""
        context = tf.distribute.get_replica_context()
        all_indices = context.all_gather(indices, axis=0)[:, None]
        all_states = context.all_gather(states, axis=0)
        bank = self.persistent_bank.value
        if not isinstance(bank, tf.distribute.DistributedValues):
            bank.scatter_nd_update(all_indices, all_states)
            return
        # A mirrored variable has no scatter in replica context, so the update moves to
        # cross-replica context and is applied to each device's copy.
        context.merge_call(_scatter_on_every_copy, args=(bank, all_indices, all_states))

    def _example_shape_or_raise(self, data):
        if self.example_shape is not None:
            return self.example_shape
        if data is not None:
            return tuple(tf.convert_to_tensor(data).shape[1:])
        raise ValueError(
            "The example shape is unknown; build EnergyModel with `input_shape`, e.g. input_shape=(32, 32, 3)."
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            energy_net=keras.saving.serialize_keras_object(self.energy_net),
            epsilon=self.epsilon,
            num_steps=self.num_steps,
            init_type=self.init_type,
            init_scale=self.init_scale,
            data_epsilon=self.data_epsilon,
            bank_size=self.bank_size,
            rejuvenation=self.rejuvenation,
            input_shape=self.example_shape,
            seed=self.seed,
            sampler_jit_compile=self.sampler_jit_compile,
            state_range=self.state_range,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["energy_net"] = keras.saving.deserialize_keras_object(config["energy_net"])
        return cls(**config)


def make_optimizer(name, learning_rate=1e-4, lr_decay=1.0, lr_min=0.0, epsilon=0.0):
    """Build "adam" or "sgd" with an exponentially decaying learning rate and a floor.

    For "sgd" with epsilon > 0 the schedule is multiplied by epsilon**2 / 2, cancelling
    the 2 / epsilon**2 loss scale of `EnergyModel`.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown `optimizer`={name!r}; allowed values are {', '.join(OPTIMIZERS)}.")
    scale = epsilon**2 / 2.0 if (name == "sgd" and epsilon > 0) else 1.0
    schedule = schedules.ExponentialDecayWithFloor(learning_rate, lr_decay, lr_min, scale=scale)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=schedule)
    return keras.optimizers.SGD(learning_rate=schedule)


def _scatter_on_every_copy(strategy, bank, indices, states):
    # After the all-gather every replica has the same rows and values, so the first
    # replica's copy of them updates every device's copy of the bank.
    indices = strategy.experimental_local_results(indices)[0]
    states = strategy.experimental_local_results(states)[0]
    strategy.extended.update(bank, lambda copy: copy.scatter_nd_update(indices, states))


def _images_from(data):
    """Return the inputs of a batch that may be `x`, `(x,)`, `(x, y)` or `(x, y, w)`."""
    if isinstance(data, (tuple, list)):
        return data[0]
    if isinstance(data, dict):
        for key in ("image", "images", "x"):
            if key in data:
                return data[key]
        raise ValueError(f"A dict batch needs an 'image' key; received keys {sorted(data)}.")
    return data


def _reducible_over_workers(metrics):
    """Give each metric shape (1,) under a multi-worker strategy.

    Keras 3.15 averages step outputs across workers with `strategy.reduce("MEAN", v,
    axis=0)`, which fails on scalars; with shape (1,) it returns the scalar mean over
    replicas. Other strategies get the scalars unchanged.
    """
    strategy = tf.distribute.get_strategy()
    extended = getattr(strategy, "extended", None)
    in_multi_worker_mode = getattr(extended, "_in_multi_worker_mode", None)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and in_multi_worker_mode and in_multi_worker_mode():
        return {name: tf.reshape(value, [1]) for name, value in metrics.items()}
    return metrics


def _replica_id():
    context = tf.distribute.get_replica_context()
    if context is None:
        return tf.constant(0, tf.int32)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)


def _num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def _resolve_example_shape(energy_net, input_shape):
    if input_shape is not None:
        return tuple(int(size) for size in input_shape)
    shape = getattr(energy_net, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) > 1 and all(size is not None for size in shape[1:]):
        return tuple(int(size) for size in shape[1:])
    return None


def _all_layers(layer):
    found = [layer]
    for child in getattr(layer, "layers", None) or getattr(layer, "_layers", None) or []:
        found.extend(_all_layers(child))
    return found


def _check_state_range(state_range):
    if state_range is None:
        return None
    try:
        low, high = (float(bound) for bound in state_range)
    except (TypeError, ValueError):
        raise ValueError(f"`state_range` must be None or a pair (low, high); received {state_range!r}.") from None
    if not low < high:
        raise ValueError(f"`state_range` must have low < high; received {state_range!r}.")
    return (low, high)


def _check_model_arguments(epsilon, num_steps, init_type, init_scale, data_epsilon, bank_size, rejuvenation):
    if not (isinstance(epsilon, (int, float)) and epsilon >= 0):
        raise ValueError(f"`epsilon` must be a float >= 0 (the Langevin noise standard deviation); received {epsilon!r}.")
    if not (isinstance(num_steps, int) and num_steps >= 1):
        raise ValueError(f"`num_steps` must be an integer >= 1; received {num_steps!r}.")
    if init_type not in INIT_TYPES:
        raise ValueError(f"Unknown `init_type`={init_type!r}; allowed values are {', '.join(INIT_TYPES)}.")
    if isinstance(init_scale, bool) or not (isinstance(init_scale, (int, float)) and 0 < init_scale < math.inf):
        raise ValueError(f"`init_scale` must be a finite float > 0 (the scale of noise starts); received {init_scale!r}.")
    if not (isinstance(data_epsilon, (int, float)) and data_epsilon >= 0):
        raise ValueError(f"`data_epsilon` must be a float >= 0; received {data_epsilon!r}.")
    if not (isinstance(bank_size, int) and bank_size >= 1):
        raise ValueError(f"`bank_size` must be an integer >= 1; received {bank_size!r}.")
    if not (isinstance(rejuvenation, (int, float)) and 0 <= rejuvenation < 1):
        raise ValueError(f"`rejuvenation` must be a fraction in [0, 1); received {rejuvenation!r}.")
