"""Long-run Langevin sampling of a learned energy, unadjusted (ULA) or Metropolis-adjusted (MALA).

A short-run sampler (`tf_ebm.sampler`) runs tens to hundreds of steps. Long runs
of 10**4 to 10**5 steps show where the learned density keeps its mass, which is
how Nijkamp et al. (AAAI 2020) separate convergent from non-convergent models.

Target and conventions. For an energy F(x) and a temperature T the target is
p(x) proportional to exp(-U(x)) with U = F / T. `temperature=None` means the
training temperature T = epsilon**2 / 2. `epsilon` is the noise standard
deviation of one step, as in `tf_ebm.sampler`, and both methods propose

    x' = x - (epsilon**2 / 2) grad U(x) + epsilon z = x - (epsilon**2 / (2 T)) grad F(x) + epsilon z,

which is x' = x - grad F(x) + epsilon z at the training temperature.

- 'ula' accepts every proposal and runs `tf_ebm.sampler.langevin_chain`. Its
  stationary law is biased by the step size: for a Gaussian target with
  variance s**2 the chain's stationary variance is s**2 / (1 - epsilon**2 / (4 s**2)).
- 'mala' runs `tfp.mcmc.MetropolisHastings` around `LangevinProposal`, with
  `target_log_prob_fn = -F(x) / T` and `step_size = epsilon**2`. This follows
  TFP's convention: the proposal of `tfp.mcmc.MetropolisAdjustedLangevinAlgorithm`
  (tensorflow_probability 0.25, `mcmc/langevin.py`, `_euler_method` and
  `_get_drift`) is x + (step_size / 2) grad log p(x) + sqrt(step_size) z, so its
  `step_size` is epsilon**2 and the proposal equals the one above. The
  Metropolis-Hastings correction makes p(x) exactly stationary.

Structure. Steps are grouped into blocks of `record_every` steps, and one
compiled call (a `tf.function` around `tf.while_loop`s) runs the blocks of one
chunk, so 10**5 steps with chunks of 1000 are 100 calls. Block b draws its noise
from `step_seed(seed, b)`, so a seed replays the same chains whatever the chunk
size and `save_at` steps.
"""

import collections
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tqdm

from tf_ebm import sampler as sampler_lib

__all__ = [
    "LangevinProposal",
    "LangevinProposalResults",
    "LongRunResults",
    "METHODS",
    "run_long_chains",
]

METHODS = ("ula", "mala")

LongRunResults = collections.namedtuple(
    "LongRunResults",
    [
        "states",  # Final chain states, numpy array of the initial state's shape.
        "saved_states",  # Dict from each `save_at` step to the states after that many steps.
        "steps",  # int64 array (num_records,): record_every, 2 * record_every, ..., num_steps.
        "initial_energy",  # Mean over chains of F(x_0).
        "energy",  # (num_records,) mean over chains of F(x) at each recorded step.
        "grad_norm",  # (num_records,) mean ||grad_x F||_2 over chains and the block's steps.
        "acceptance_rate",  # (num_records,) MALA acceptance over chains and the block's steps; None for ULA.
        "overall_acceptance_rate",  # MALA acceptance over all steps and chains; None for ULA.
        "method",  # 'ula' or 'mala'.
        "epsilon",  # Noise standard deviation per step.
        "temperature",  # The temperature T used, epsilon**2 / 2 unless given.
    ],
)


def run_long_chains(
    energy_fn,
    initial_state,
    num_steps,
    epsilon,
    temperature=None,
    method="ula",
    seed=0,
    chunk_size=1000,
    record_every=100,
    save_at=(),
    progress=True,
    jit_compile=False,
    state_range=None,
):
    """Run long Langevin chains in compiled chunks, recording energy and gradient paths.

    Recorded values are block summaries: at each step k = record_every,
    2 * record_every, ..., `energy` is the mean of F(x_k) over chains, while
    `grad_norm` and `acceptance_rate` average over chains and the `record_every`
    steps that end at k (the gradient is taken at the state each step starts from).

    Args:
      energy_fn: callable `energy_fn(x, training=False)` returning F(x) of shape
        (batch,) or (batch, 1).
      initial_state: float array of shape (num_chains, ...).
      num_steps: number of steps, a positive multiple of `record_every`.
      epsilon: noise standard deviation per step, > 0.
      temperature: T > 0, or None for the training temperature epsilon**2 / 2.
      method: 'ula' or 'mala'.
      seed: int or int tensor of shape (2,), a stateless seed.
      chunk_size: steps per compiled call, a positive multiple of `record_every`.
      record_every: steps per recorded block.
      save_at: steps at which to keep a copy of the states: multiples of
        `record_every` in [0, num_steps]; 0 keeps the initial states.
      progress: show a tqdm progress bar over steps.
      jit_compile: compile each chunk with XLA.
      state_range: None, or (low, high) to clip ULA states to after every step, as
        training does for models built with a `state_range`. MALA rejects it,
        because clipping would break the Metropolis-Hastings correction.

    Returns:
      `LongRunResults` with numpy arrays. A `RuntimeWarning` is issued when the
      recorded energy becomes NaN or infinite.

    Raises:
      ValueError: on an unknown `method`, a non-positive `temperature` or
        `epsilon`, or step counts that are not multiples of `record_every`.
    """
    initial_state = tf.convert_to_tensor(initial_state, tf.float32)
    save_at = _check_arguments(
        method, num_steps, epsilon, temperature, chunk_size, record_every, save_at, initial_state
    )
    if temperature is None:
        temperature = epsilon**2 / 2.0
    if state_range is not None and method == "mala":
        raise ValueError(
            "`state_range` is for method='ula' only: clipping MALA proposals would break the "
            "Metropolis-Hastings correction. Pass state_range=None for MALA."
        )
    chunk = _ChunkRunner(
        energy_fn, method, float(epsilon), float(temperature), int(record_every), jit_compile, state_range
    )
    seed = sampler_lib.step_seed(seed)

    boundaries = set(range(chunk_size, num_steps, chunk_size)) | {num_steps}
    boundaries |= {step for step in save_at if step > 0}
    saved_states = {0: initial_state.numpy()} if 0 in save_at else {}
    state = initial_state
    records = collections.defaultdict(list)
    start = 0
    with tqdm.tqdm(total=num_steps, unit="step", desc=f"{method} long run", disable=not progress) as bar:
        for end in sorted(boundaries):
            state, block_records = chunk.run(state, seed, start // record_every, (end - start) // record_every)
            for name, values in block_records.items():
                records[name].append(values.numpy())
            if end in save_at:
                saved_states[end] = state.numpy()
            bar.update(end - start)
            start = end

    energy = np.concatenate(records["energy"])
    steps = record_every * np.arange(1, len(energy) + 1, dtype=np.int64)
    _warn_if_not_finite(energy, steps)
    acceptance_rate = np.concatenate(records["acceptance"]) if method == "mala" else None
    return LongRunResults(
        states=state.numpy(),
        saved_states=saved_states,
        steps=steps,
        initial_energy=float(chunk.mean_energy(initial_state)),
        energy=energy,
        grad_norm=np.concatenate(records["grad_norm"]),
        acceptance_rate=acceptance_rate,
        overall_acceptance_rate=None if acceptance_rate is None else float(acceptance_rate.mean()),
        method=method,
        epsilon=float(epsilon),
        temperature=float(temperature),
    )


class _ChunkRunner:
    """Compiled runner of `num_blocks` blocks of `record_every` steps from block `first_block`.

    `first_block` and `num_blocks` are tensors, so every chunk reuses one trace.
    """

    def __init__(self, energy_fn, method, epsilon, temperature, record_every, jit_compile, state_range=None):
        self._energy_fn = energy_fn
        self._state_range = state_range
        self._epsilon = epsilon
        self._temperature = temperature
        self._record_every = record_every
        self._block = self._ula_block if method == "ula" else self._mala_block
        self.compiled_run = tf.function(self._run, jit_compile=jit_compile, reduce_retracing=True)

    def run(self, state, seed, first_block, num_blocks):
        return self.compiled_run(state, seed, tf.constant(first_block, tf.int32), tf.constant(num_blocks, tf.int32))

    def mean_energy(self, state):
        return tf.reduce_mean(_energy(self._energy_fn, state))

    def _run(self, state, seed, first_block, num_blocks):
        records = {
            name: tf.TensorArray(tf.float32, size=num_blocks) for name in ("energy", "grad_norm", "acceptance")
        }

        def body(index, state, records):
            block_seed = sampler_lib.step_seed(seed, first_block + index)
            state, summary = self._block(state, block_seed)
            records = {name: records[name].write(index, summary[name]) for name in records}
            return index + 1, state, records

        _, state, records = tf.while_loop(
            lambda index, *_: index < num_blocks, body, (tf.constant(0, tf.int32), state, records)
        )
        return state, {name: array.stack() for name, array in records.items()}

    def _ula_block(self, state, block_seed):
        drift = sampler_lib.drift_coefficient(self._epsilon, self._temperature)
        chain = sampler_lib.langevin_chain(
            self._energy_fn, state, self._record_every, self._epsilon, block_seed, drift=drift,
            state_range=self._state_range,
        )
        summary = dict(
            energy=tf.reduce_mean(chain.final_energy),
            grad_norm=tf.reduce_mean(chain.grad_norm),
            acceptance=tf.constant(1.0),
        )
        return chain.states, summary

    def _mala_block(self, state, block_seed):
        temperature = self._temperature
        kernel = tfp.mcmc.MetropolisHastings(
            LangevinProposal(lambda x: -_energy(self._energy_fn, x) / temperature, step_size=self._epsilon**2)
        )
        # Bootstrapping evaluates F and its gradient once per block, 1 / record_every
        # extra work, and keeps the kernel results out of the chunk's loop variables.
        kernel_results = kernel.bootstrap_results(state)

        def body(step, state, kernel_results, grad_norm_sum, accepted_sum):
            # grad log p = -grad F / T at the current state.
            grads = kernel_results.accepted_results.grads_target_log_prob
            grad_norms = tf.norm(tf.reshape(grads, [tf.shape(grads)[0], -1]), axis=1)
            grad_norm_sum += temperature * tf.reduce_mean(grad_norms)
            one_step_seed = tf.random.stateless_uniform(
                [2], seed=sampler_lib.step_seed(block_seed, step), minval=None, maxval=None, dtype=tf.int32
            )
            state, kernel_results = kernel.one_step(state, kernel_results, seed=one_step_seed)
            accepted_sum += tf.reduce_mean(tf.cast(kernel_results.is_accepted, tf.float32))
            return step + 1, state, kernel_results, grad_norm_sum, accepted_sum

        _, state, kernel_results, grad_norm_sum, accepted_sum = tf.while_loop(
            lambda step, *_: step < self._record_every,
            body,
            (tf.constant(0, tf.int32), state, kernel_results, tf.constant(0.0), tf.constant(0.0)),
        )
        summary = dict(
            energy=-temperature * tf.reduce_mean(kernel_results.accepted_results.target_log_prob),
            grad_norm=grad_norm_sum / self._record_every,
            acceptance=accepted_sum / self._record_every,
        )
        return state, summary


LangevinProposalResults = collections.namedtuple(
    "LangevinProposalResults",
    [
        "target_log_prob",  # log p at the state, shape (num_chains,).
        "grads_target_log_prob",  # grad log p at the state, the state's shape.
        "log_acceptance_correction",  # log q(x | x') - log q(x' | x) of the last proposal.
    ],
)


class LangevinProposal(tfp.mcmc.TransitionKernel):
    """Uncalibrated Langevin proposal with unit volatility, for `tfp.mcmc.MetropolisHastings`.

    Proposes x' = x + (step_size / 2) grad log p(x) + sqrt(step_size) z, the
    proposal of TFP's `UncalibratedLangevin` with its default `volatility_fn`, and
    returns the log ratio of the Gaussian proposal densities that
    `MetropolisHastings` needs. TFP's kernel also differentiates the volatility
    function with `tfp.math.diag_jacobian`, which loops over every coordinate of
    the state at every step, although the Jacobian of a unit volatility is 0.
    Measured on a 2-core CPU with 16 chains of 32 x 32 x 3 images and a small
    two-layer convolutional energy, a step took 13 ms with TFP's MALA and about
    1 ms with this kernel.
    """

    def __init__(self, target_log_prob_fn, step_size, name="langevin_proposal"):
        self._parameters = dict(target_log_prob_fn=target_log_prob_fn, step_size=step_size, name=name)

    @property
    def target_log_prob_fn(self):
        return self._parameters["target_log_prob_fn"]

    @property
    def step_size(self):
        return self._parameters["step_size"]

    @property
    def parameters(self):
        return dict(self._parameters)

    @property
    def is_calibrated(self):
        return False

    def bootstrap_results(self, init_state):
        target_log_prob, grads = tfp.math.value_and_gradient(self.target_log_prob_fn, init_state)
        return LangevinProposalResults(target_log_prob, grads, tf.zeros_like(target_log_prob))

    def one_step(self, current_state, previous_kernel_results, seed=None):
        step_size = tf.cast(self.step_size, current_state.dtype)
        seed = tfp.random.sanitize_seed(seed)
        noise = tf.random.stateless_normal(tf.shape(current_state), seed=seed, dtype=current_state.dtype)
        forward_mean = current_state + 0.5 * step_size * previous_kernel_results.grads_target_log_prob
        proposed_state = forward_mean + tf.sqrt(step_size) * noise
        target_log_prob, grads = tfp.math.value_and_gradient(self.target_log_prob_fn, proposed_state)

        # log q(x | x') - log q(x' | x) for q(. | y) = N(y + (h / 2) grad log p(y), h I);
        # the normalizing constants cancel and (x' - forward_mean) / sqrt(h) = z.
        backward_mean = proposed_state + 0.5 * step_size * grads
        event_axes = tf.range(1, tf.rank(current_state))
        log_backward = -tf.reduce_sum(tf.square(current_state - backward_mean), axis=event_axes) / (2.0 * step_size)
        log_forward = -0.5 * tf.reduce_sum(tf.square(noise), axis=event_axes)
        results = LangevinProposalResults(target_log_prob, grads, log_backward - log_forward)
        return proposed_state, results


def _energy(energy_fn, x):
    """F(x) as shape (batch,) float32."""
    energy = tf.convert_to_tensor(energy_fn(x, training=False))
    return tf.reshape(tf.cast(energy, tf.float32), [tf.shape(x)[0]])


def _check_arguments(method, num_steps, epsilon, temperature, chunk_size, record_every, save_at, initial_state):
    """Validate the arguments of `run_long_chains`; return `save_at` as a set of ints."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}; received {method!r}.")
    if initial_state.shape.rank is None or initial_state.shape.rank < 2 or initial_state.shape[0] == 0:
        raise ValueError(
            f"`initial_state` must have shape (num_chains, ...) with num_chains >= 1; received {initial_state.shape}."
        )
    if temperature is not None and not temperature > 0:
        raise ValueError(f"`temperature` must be None (epsilon**2 / 2) or a float > 0; received {temperature!r}.")
    if not epsilon > 0:
        raise ValueError(f"`epsilon` must be a float > 0 (the noise standard deviation per step); received {epsilon!r}.")
    for name, value in (("record_every", record_every), ("num_steps", num_steps), ("chunk_size", chunk_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    for name, value in (("num_steps", num_steps), ("chunk_size", chunk_size)):
        if value % record_every:
            raise ValueError(
                f"`{name}` ({value}) must be a multiple of `record_every` ({record_every}), "
                "because steps run in whole recorded blocks."
            )
    save_at = {int(step) for step in save_at}
    invalid = sorted(step for step in save_at if step % record_every or not 0 <= step <= num_steps)
    if invalid:
        raise ValueError(
            f"`save_at` steps must be multiples of `record_every` ({record_every}) in [0, {num_steps}]; "
            f"received invalid steps {invalid}."
        )
    return save_at


def _warn_if_not_finite(energy, steps):
    not_finite = ~np.isfinite(energy)
    if np.any(not_finite):
        first = int(steps[np.argmax(not_finite)])
        warnings.warn(
            f"The mean energy of the long-run chains is NaN or infinite from step {first} on; "
            "the chains diverged. Lower `epsilon` or use method='mala'.",
            RuntimeWarning,
            stacklevel=3,
        )
