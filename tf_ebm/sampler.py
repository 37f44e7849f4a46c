"""Short-run Langevin sampling of an energy F(x) as one compiled `tf.while_loop`.

Conventions follow Nijkamp et al., "On the Anatomy of MCMC-Based Maximum Likelihood
Learning of Energy-Based Models" (AAAI 2020). The noise scale `epsilon` is the standard
deviation of the Gaussian noise added at each step; TFP's Langevin `step_size` is
epsilon**2.
For an energy U(x) = F(x) / T the unadjusted Langevin update is

    x <- x - (epsilon**2 / 2) * grad U(x) + epsilon * z,    z ~ N(0, I).

With the temperature T = epsilon**2 / 2 that the paper trains at, this becomes

    x <- x - grad F(x) + epsilon * z,

which is what training uses. Passing another `temperature` gives the plain form
with drift coefficient epsilon**2 / (2 T). With epsilon = 0 and no temperature
the update is plain gradient descent on F with unit step.
"""

import collections

import tensorflow as tf

__all__ = [
    "LangevinResults",
    "LangevinSampler",
    "langevin_chain",
    "drift_coefficient",
    "step_seed",
]


LangevinResults = collections.namedtuple(
    "LangevinResults",
    [
        "states",  # Final chain states, shape of the initial states.
        "grad_norm",  # Per-chain mean of ||grad F(x_t)||_2 over the steps, shape (chains,).
        "initial_energy",  # F(x_0), shape (chains,).
        "final_energy",  # F(x_L), shape (chains,).
    ],
)


def step_seed(seed, *data):
    """Fold integers into a stateless seed of shape (2,). Each tuple of integers gives an independent stream."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros_like(seed)])
    for value in data:
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(value, tf.int64))
    return seed


def drift_coefficient(epsilon, temperature=None):
    """Return the coefficient c of the update x <- x - c * grad F(x) + epsilon * z.

    Args:
      epsilon: noise standard deviation, a float or scalar tensor.
      temperature: None for the paper's T = epsilon**2 / 2 (c = 1), else T > 0
        giving c = epsilon**2 / (2 T).
    """
    if temperature is None:
        return tf.constant(1.0, tf.float32)
    epsilon = tf.cast(epsilon, tf.float32)
    return epsilon**2 / (2.0 * tf.cast(temperature, tf.float32))


def _energy_and_gradient(energy_fn, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        energy = _as_per_example(energy_fn(x, training=training), x)
        total_energy = tf.reduce_sum(energy)
    gradient = tape.gradient(total_energy, x)
    return energy, gradient


def _as_per_example(energy, x):
    """Reshape an energy of shape (batch,) or (batch, 1) to (batch,)."""
    energy = tf.convert_to_tensor(energy)
    batch = tf.shape(x)[0]
    if energy.shape.rank == 2 and energy.shape[-1] == 1:
        energy = tf.reshape(energy, [batch])
    elif energy.shape.rank != 1:
        raise ValueError(
            "The energy function must return one energy per example, shape (batch,) "
            f"or (batch, 1); received shape {energy.shape} for inputs of shape {x.shape}."
        )
    return tf.cast(energy, tf.float32)


def langevin_chain(
    energy_fn,
    initial_state,
    num_steps,
    epsilon,
    seed,
    drift=1.0,
    training=False,
    state_range=None,
):
    """Run `num_steps` Langevin updates as one `tf.while_loop` (no Python loop over steps).

    x_{t+1} = x_t - drift * grad F(x_t) + epsilon * z_t, where z_t is drawn fresh at every
    step from a stateless normal seeded by `fold_in(seed, t)`, so a seed replays the same
    chain and no two steps share a draw.

    Args:
      energy_fn: callable `energy_fn(x, training=...)` returning F(x) of shape (batch,)
        or (batch, 1). It is always called with an explicit `training` flag.
      initial_state: float32 tensor of shape (batch, ...).
      num_steps: int scalar (tensor or Python), the number of updates L >= 0.
      epsilon: float scalar, the noise standard deviation.
      seed: int tensor of shape (2,), a stateless seed.
      drift: float scalar, the gradient coefficient (see `drift_coefficient`).
      training: Python bool passed to `energy_fn`.
      state_range: None, or a (low, high) pair: each state is clipped to it after every
        update, a projected Langevin step. This keeps image chains in the data range,
        because under the unit gradient step a chain diverges once the energy's
        curvature exceeds 2. The paper's sampler does not clip.

    Returns:
      `LangevinResults` of tensors. `grad_norm` is 0 when `num_steps` is 0.
    """
    x0 = tf.convert_to_tensor(initial_state, tf.float32)
    num_steps = tf.cast(num_steps, tf.int32)
    epsilon = tf.cast(epsilon, tf.float32)
    drift = tf.cast(drift, tf.float32)
    seed = step_seed(seed)
    batch = tf.shape(x0)[0]
    reduce_axes = list(range(1, x0.shape.rank))

    initial_energy, initial_gradient = _energy_and_gradient(energy_fn, x0, training)

    def body(step, x, gradient, grad_norm_sum):
        # The gradient at x_t comes in from the previous iteration, so each step costs
        # one forward and one backward pass.
        grad_norm_sum += tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=reduce_axes))
        noise = tf.random.stateless_normal(tf.shape(x), seed=step_seed(seed, step))
        x = x - drift * gradient + epsilon * noise
        if state_range is not None:
            x = tf.clip_by_value(x, state_range[0], state_range[1])
        _, gradient = _energy_and_gradient(energy_fn, x, training)
        return step + 1, x, gradient, grad_norm_sum

    _, x, _, grad_norm_sum = tf.while_loop(
        lambda step, *_: step < num_steps,
        body,
        (tf.constant(0, tf.int32), x0, initial_gradient, tf.zeros([batch], tf.float32)),
    )
    final_energy = _as_per_example(energy_fn(x, training=training), x)
    grad_norm = grad_norm_sum / tf.maximum(tf.cast(num_steps, tf.float32), 1.0)
    return LangevinResults(
        states=x,
        grad_norm=grad_norm,
        initial_energy=initial_energy,
        final_energy=final_energy,
    )


class LangevinSampler:
    """Compiled short-run Langevin sampler, shaped like a TFP transition kernel.

    Parameters given at construction are defaults; `run` takes `num_steps`, `epsilon`
    and `temperature` as tensors, so changing them never retraces the compiled loop
    (only a new input shape or dtype does).

    Args:
      energy_fn: callable `energy_fn(x, training=...)` returning F(x) per example.
      epsilon: noise standard deviation, >= 0.
      num_steps: default number of Langevin updates, >= 1.
      temperature: None for the paper's T = epsilon**2 / 2 (update
        x <- x - grad F + epsilon z), or a positive float for U = F / T.
      jit_compile: compile the loop with XLA.

    Raises:
      ValueError: if `epsilon` < 0, `num_steps` < 1 or `temperature` <= 0.
    """

    def __init__(self, energy_fn, epsilon, num_steps, temperature=None, jit_compile=False):
        _check_sampler_arguments(epsilon, num_steps, temperature)
        self._energy_fn = energy_fn
        self._parameters = dict(
            epsilon=float(epsilon),
            num_steps=int(num_steps),
            temperature=None if temperature is None else float(temperature),
            jit_compile=bool(jit_compile),
        )
        self._compiled_run = tf.function(self._run, jit_compile=bool(jit_compile), reduce_retracing=True)

    @property
    def parameters(self):
        """Dict of the construction parameters."""
        return dict(self._parameters)

    @property
    def epsilon(self):
        return self._parameters["epsilon"]

    @property
    def num_steps(self):
        return self._parameters["num_steps"]

    @property
    def temperature(self):
        return self._parameters["temperature"]

    @property
    def compiled_run(self):
        """The underlying `tf.function`, for `experimental_get_tracing_count()`."""
        return self._compiled_run

    def run(self, initial_state, seed, num_steps=None, epsilon=None, temperature=None):
        """Run the chains from `initial_state`; returns `LangevinResults`.

        Args:
          initial_state: float tensor of shape (chains, ...).
          seed: int seed: a scalar or a shape (2,) stateless seed.
          num_steps, epsilon, temperature: override the construction defaults. A
            temperature of None keeps the default; the paper's T = epsilon**2 / 2 is
            used when both are None.
        """
        num_steps = self.num_steps if num_steps is None else num_steps
        epsilon = self.epsilon if epsilon is None else epsilon
        temperature = self.temperature if temperature is None else temperature
        _check_sampler_arguments(epsilon, num_steps, temperature, allow_zero_steps=True)
        drift = drift_coefficient(epsilon, temperature)
        return self._compiled_run(
            tf.convert_to_tensor(initial_state, tf.float32),
            step_seed(seed),
            tf.constant(num_steps, tf.int32),
            tf.constant(epsilon, tf.float32),
            drift,
        )

    def _run(self, initial_state, seed, num_steps, epsilon, drift):
        return langevin_chain(
            self._energy_fn, initial_state, num_steps, epsilon, seed, drift=drift, training=False
        )


def _check_sampler_arguments(epsilon, num_steps, temperature, allow_zero_steps=False):
    if isinstance(epsilon, tf.Tensor) or isinstance(num_steps, tf.Tensor):
        return
    if not epsilon >= 0:
        raise ValueError(f"`epsilon` must be a float >= 0 (the Langevin noise standard deviation); received {epsilon!r}.")
    minimum = 0 if allow_zero_steps else 1
    if int(num_steps) != num_steps or num_steps < minimum:
        raise ValueError(f"`num_steps` must be an integer >= {minimum}; received {num_steps!r}.")
    if temperature is not None and not temperature > 0:
        raise ValueError(
            f"`temperature` must be None (the paper's T = epsilon**2 / 2) or a float > 0; received {temperature!r}."
        )
