"""Tests for tf_ebm.longrun: step-size convention, stationary laws, seeds and chunking."""

import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_ebm import longrun
from tf_ebm import plots


def _quadratic_energy(scale):
    """F(x) = scale * |x|^2 / 2 per example."""

    def energy_fn(x, training=False):
        del training
        return scale * 0.5 * tf.reduce_sum(tf.square(x), axis=-1)

    return energy_fn


def _pooled_variance(result):
    """Variance over chains, coordinates and the saved steps (far enough apart to be independent)."""
    pooled = np.concatenate([states.reshape(-1) for step, states in result.saved_states.items() if step > 0])
    return pooled.var(), pooled.mean()


# Step-size convention.


@pytest.mark.parametrize("method", longrun.METHODS)
@pytest.mark.parametrize("temperature", [None, 0.3])
def test_linear_energy_drift_and_noise_scale(method, temperature):
    # For U = F / T = c * x_1 every step moves x_1 by -(epsilon**2 / 2) c on average
    # with noise variance epsilon**2 (TFP's step_size = epsilon**2), and MALA
    # accepts every proposal because the Langevin proposal is reversible for a
    # linear log density.
    epsilon, slope, num_steps, num_chains = 0.5, 2.0, 200, 2000
    effective_temperature = epsilon**2 / 2 if temperature is None else temperature

    def energy_fn(x, training=False):
        del training
        return effective_temperature * slope * x[:, 0]

    result = longrun.run_long_chains(
        energy_fn,
        tf.zeros([num_chains, 2]),
        num_steps,
        epsilon,
        temperature=temperature,
        method=method,
        seed=3,
        record_every=100,
        progress=False,
    )
    displacement = result.states
    expected_shift = -num_steps * epsilon**2 * slope / 2
    expected_variance = num_steps * epsilon**2
    standard_error = np.sqrt(expected_variance / num_chains)
    assert displacement[:, 0].mean() == pytest.approx(expected_shift, abs=4 * standard_error)
    assert displacement[:, 1].mean() == pytest.approx(0.0, abs=4 * standard_error)
    np.testing.assert_allclose(displacement.var(axis=0), expected_variance, rtol=0.1)
    assert result.temperature == pytest.approx(effective_temperature)
    # ||grad F|| = T * c at every state.
    np.testing.assert_allclose(result.grad_norm, effective_temperature * slope, rtol=1e-5)
    if method == "mala":
        assert result.overall_acceptance_rate > 0.999


# Stationary laws on a Gaussian target.


def test_ula_variance_bias_grows_with_step_size():
    # U = |x|^2 / 2 (unit variance). ULA with h = epsilon**2 is the AR(1) process
    # x' = (1 - h / 2) x + sqrt(h) z, whose stationary variance is 1 / (1 - h / 4).
    num_chains = 2000
    measured = {}
    for epsilon in (np.sqrt(0.5), 1.0):
        temperature = epsilon**2 / 2
        result = longrun.run_long_chains(
            _quadratic_energy(temperature),
            tf.zeros([num_chains, 2]),
            300,
            epsilon,
            method="ula",
            seed=5,
            save_at=(100, 200, 300),
            progress=False,
        )
        variance, mean = _pooled_variance(result)
        expected = 1.0 / (1.0 - epsilon**2 / 4)
        # 12000 samples: the standard error of the variance is about 1.3 %.
        assert variance == pytest.approx(expected, rel=0.05), epsilon
        assert mean == pytest.approx(0.0, abs=0.05), epsilon
        # E F = T * E|x|^2 / 2 = T * variance in 2 dimensions.
        assert result.energy[1:].mean() == pytest.approx(temperature * expected, rel=0.05), epsilon
        measured[epsilon] = variance
    assert measured[1.0] > measured[np.sqrt(0.5)] + 0.1


def test_mala_removes_step_size_bias():
    epsilon, num_chains = 1.0, 2000
    temperature = epsilon**2 / 2
    results = {
        method: longrun.run_long_chains(
            _quadratic_energy(temperature),
            tf.zeros([num_chains, 2]),
            300,
            epsilon,
            method=method,
            seed=6,
            save_at=(100, 200, 300),
            progress=False,
        )
        for method in longrun.METHODS
    }
    ula_variance, _ = _pooled_variance(results["ula"])
    mala_variance, mala_mean = _pooled_variance(results["mala"])
    assert mala_variance == pytest.approx(1.0, rel=0.05)
    assert mala_mean == pytest.approx(0.0, abs=0.05)
    assert abs(mala_variance - 1.0) < 0.25 * abs(ula_variance - 1.0)

    mala = results["mala"]
    assert mala.acceptance_rate.shape == mala.energy.shape == (3,)
    assert np.all(mala.acceptance_rate > 0.0)
    assert np.all(mala.acceptance_rate <= 1.0)
    assert mala.overall_acceptance_rate == pytest.approx(mala.acceptance_rate.mean())
    assert results["ula"].acceptance_rate is None
    assert results["ula"].overall_acceptance_rate is None


def test_mala_acceptance_falls_with_step_size():
    rates = []
    for epsilon in (0.5, 1.5, 2.5):
        result = longrun.run_long_chains(
            _quadratic_energy(1.0),
            tf.random.stateless_normal([500, 2], seed=[0, 1]),
            200,
            epsilon,
            temperature=1.0,
            method="mala",
            seed=7,
            progress=False,
        )
        rates.append(result.overall_acceptance_rate)
    assert rates[0] > rates[1] > rates[2] > 0.0


def test_mala_acceptance_matches_tfp_mala():
    # A non-Gaussian target, log p = -2 (|x|^2 - 1)^2, at a step size with
    # visible rejections; both kernels start from the same states.
    epsilon, num_chains, num_steps = 0.5, 1000, 200

    def energy_fn(x, training=False):
        del training
        return 2.0 * tf.square(tf.reduce_sum(tf.square(x), axis=-1) - 1.0)

    initial_state = tf.random.stateless_normal([num_chains, 2], seed=[1, 2])
    ours = longrun.run_long_chains(
        energy_fn, initial_state, num_steps, epsilon, temperature=1.0, method="mala", seed=8, progress=False
    )
    kernel = tfp.mcmc.MetropolisAdjustedLangevinAlgorithm(
        target_log_prob_fn=lambda x: -energy_fn(x), step_size=epsilon**2
    )
    is_accepted = tfp.mcmc.sample_chain(
        num_results=num_steps,
        current_state=initial_state,
        kernel=kernel,
        trace_fn=lambda _, results: results.is_accepted,
        seed=[3, 4],
    ).trace
    tfp_rate = float(tf.reduce_mean(tf.cast(is_accepted, tf.float32)))
    assert 0.3 < tfp_rate < 0.99
    assert ours.overall_acceptance_rate == pytest.approx(tfp_rate, abs=0.02)


def test_langevin_proposal_correction_matches_formula():
    # Gaussian target log p = -|x - m|^2 / 2, so grad log p = m - x.
    mean = np.array([0.5, -1.0], np.float32)
    step_size = 0.7
    kernel = longrun.LangevinProposal(
        lambda x: -0.5 * tf.reduce_sum(tf.square(x - mean), axis=-1), step_size=step_size
    )
    state = tf.random.stateless_normal([6, 2], seed=[5, 6])
    results = kernel.bootstrap_results(state)
    proposed, proposed_results = kernel.one_step(state, results, seed=tf.constant([7, 8], tf.int32))

    x, x_new = state.numpy().astype(np.float64), proposed.numpy().astype(np.float64)

    def log_q(to_state, from_state):
        proposal_mean = from_state + 0.5 * step_size * (mean - from_state)
        return -np.sum((to_state - proposal_mean) ** 2, axis=-1) / (2 * step_size)

    np.testing.assert_allclose(
        proposed_results.log_acceptance_correction, log_q(x, x_new) - log_q(x_new, x), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(proposed_results.grads_target_log_prob, mean - x_new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        proposed_results.target_log_prob, -0.5 * np.sum((x_new - mean) ** 2, axis=-1), rtol=1e-5
    )


# Seeds, chunks and saved states.


@pytest.mark.parametrize("method", longrun.METHODS)
def test_seed_replays_across_chunk_sizes(method):
    energy_fn = _quadratic_energy(0.5)
    initial_state = tf.random.stateless_normal([8, 3], seed=[9, 9])

    def run(chunk_size, save_at=(), seed=11):
        return longrun.run_long_chains(
            energy_fn,
            initial_state,
            600,
            1.0,
            method=method,
            seed=seed,
            chunk_size=chunk_size,
            record_every=50,
            save_at=save_at,
            progress=False,
        )

    reference = run(chunk_size=600)
    chunked = run(chunk_size=100, save_at=(0, 150, 600))
    np.testing.assert_array_equal(reference.states, chunked.states)
    np.testing.assert_array_equal(reference.energy, chunked.energy)
    np.testing.assert_array_equal(reference.grad_norm, chunked.grad_norm)
    np.testing.assert_array_equal(reference.steps, np.arange(50, 601, 50))
    assert sorted(chunked.saved_states) == [0, 150, 600]
    np.testing.assert_array_equal(chunked.saved_states[0], initial_state.numpy())
    np.testing.assert_array_equal(chunked.saved_states[600], chunked.states)

    shorter = run(chunk_size=600)
    np.testing.assert_array_equal(shorter.states, reference.states)
    other_seed = run(chunk_size=600, seed=12)
    assert not np.array_equal(other_seed.states, reference.states)


def test_saved_states_equal_shorter_run():
    energy_fn = _quadratic_energy(0.5)
    initial_state = tf.zeros([4, 2])
    common = dict(epsilon=1.0, seed=13, record_every=100, progress=False)
    long_run = longrun.run_long_chains(energy_fn, initial_state, 500, save_at=(300,), **common)
    short_run = longrun.run_long_chains(energy_fn, initial_state, 300, **common)
    np.testing.assert_array_equal(long_run.saved_states[300], short_run.states)
    np.testing.assert_array_equal(long_run.energy[:3], short_run.energy)


def test_chunk_runner_traces_once():
    runner = longrun._ChunkRunner(_quadratic_energy(0.5), "mala", 1.0, 0.5, 10, jit_compile=False)
    seed = tf.constant([1, 2], tf.int64)
    state = tf.zeros([4, 2])
    for first_block, num_blocks in ((0, 3), (3, 1), (4, 7)):
        state, records = runner.run(state, seed, first_block, num_blocks)
        assert records["energy"].shape == (num_blocks,)
    assert runner.compiled_run.experimental_get_tracing_count() == 1


def test_image_states_and_keras_shaped_energy():
    def energy_fn(x, training=False):
        del training
        return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]  # Shape (batch, 1).

    result = longrun.run_long_chains(
        energy_fn, tf.zeros([3, 4, 4, 1]), 20, 0.1, temperature=1.0, method="mala", record_every=10, progress=False
    )
    assert result.states.shape == (3, 4, 4, 1)
    assert result.grad_norm.shape == (2,)
    assert np.all(np.isfinite(result.energy))


def test_diverging_chains_warn():
    # ULA on U = |x|^2 / 2 with h = 9 multiplies x by 1 - h / 2 = -3.5 per step.
    with pytest.warns(RuntimeWarning, match="NaN or infinite"):
        longrun.run_long_chains(
            _quadratic_energy(1.0),
            tf.ones([2, 2]),
            200,
            3.0,
            temperature=1.0,
            method="ula",
            progress=False,
        )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(method="hmc"), "method"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(temperature=-1.0), "temperature"),
        (dict(num_steps=150), "multiple of `record_every`"),
        (dict(chunk_size=250), "multiple of `record_every`"),
        (dict(save_at=(50,)), "save_at"),
        (dict(save_at=(400,)), "save_at"),
    ],
)
def test_run_long_chains_rejects_bad_arguments(arguments, message):
    call = dict(
        energy_fn=_quadratic_energy(1.0),
        initial_state=tf.zeros([2, 2]),
        num_steps=300,
        epsilon=0.5,
        progress=False,
    )
    call.update(arguments)
    with pytest.raises(ValueError, match=message):
        longrun.run_long_chains(**call)


# Path plot.


def test_save_path_plot_pixel_size(tmp_path):
    result = longrun.run_long_chains(
        _quadratic_energy(0.5), tf.zeros([10, 2]), 300, 1.0, method="mala", progress=False
    )
    path = plots.save_path_plot(
        result.steps,
        {"energy": result.energy, "gradient norm": result.grad_norm, "acceptance rate": result.acceptance_rate},
        str(tmp_path / "paths.png"),
        title="MALA",
        log_scale=("gradient norm",),
        figsize=(6, 6),
        dpi=50,
    )
    assert matplotlib.image.imread(path).shape[:2] == (300, 300)


def test_save_path_plot_rejects_length_mismatch(tmp_path):
    with pytest.raises(ValueError, match="must have 3 rows"):
        plots.save_path_plot(np.arange(3), {"energy": np.zeros(4)}, str(tmp_path / "paths.png"))
