"""Langevin sampler against closed forms on quadratic energies."""

import numpy as np
import pytest
import tensorflow as tf

from tf_ebm import sampler as sampler_lib


def quadratic_energy(center, scale):
    """F(x) = scale * |x - center|^2 / 2, so grad F = scale * (x - center)."""
    center = tf.constant(center, tf.float32)

    def energy_fn(x, training=False):
        del training
        return 0.5 * scale * tf.reduce_sum(tf.square(x - center), axis=-1)

    return energy_fn


def test_langevin_reaches_gaussian_mean_and_variance():
    # With T = eps^2 / 2 and F = T * |x - m|^2 / (2 s^2), U is the N(m, s^2 I) potential.
    # ULA with step h = eps^2 has stationary variance s^2 / (1 - h / (4 s^2)).
    epsilon, sigma = 0.2, 0.5
    temperature = epsilon**2 / 2
    center = [0.7, -0.3]
    energy_fn = quadratic_energy(center, temperature / sigma**2)
    x0 = tf.random.stateless_uniform([20000, 2], seed=[1, 2], minval=-1, maxval=1)
    result = sampler_lib.langevin_chain(energy_fn, x0, 400, epsilon, seed=[3, 4])
    states = result.states.numpy()
    expected_variance = sigma**2 / (1 - epsilon**2 / (4 * sigma**2))
    # The standard error of the mean is sigma / sqrt(20000) ~ 0.0035; 0.015 is ~4 of them.
    np.testing.assert_allclose(states.mean(axis=0), center, atol=0.015)
    # The sample variance of 20000 draws has relative standard error 1%; allow 5%.
    np.testing.assert_allclose(states.var(axis=0), expected_variance, rtol=0.05)


def test_one_step_equals_closed_form():
    energy_fn = quadratic_energy([0.0, 0.0, 0.0], 0.3)
    x0 = tf.constant([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    seed = tf.constant([7, 11], tf.int64)
    result = sampler_lib.langevin_chain(energy_fn, x0, 1, 0.05, seed=seed)
    noise = tf.random.stateless_normal([2, 3], seed=sampler_lib.step_seed(seed, 0))
    expected = x0 - 0.3 * x0 + 0.05 * noise
    np.testing.assert_allclose(result.states.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_zero_epsilon_is_gradient_descent():
    energy_fn = quadratic_energy([0.0, 0.0], 0.25)
    x0 = tf.constant([[2.0, -4.0]])
    result = sampler_lib.langevin_chain(energy_fn, x0, 5, 0.0, seed=[0, 0])
    np.testing.assert_allclose(result.states.numpy(), x0.numpy() * 0.75**5, rtol=1e-6)


def test_diagnostics_match_known_gradient():
    # F = |x|^2 / 2 with eps = 0 and one step: r = |x0|, F(x0) = |x0|^2 / 2, x1 = 0.
    energy_fn = quadratic_energy([0.0, 0.0], 1.0)
    x0 = tf.constant([[3.0, 4.0], [0.0, 1.0]])
    result = sampler_lib.langevin_chain(energy_fn, x0, 1, 0.0, seed=[0, 0])
    np.testing.assert_allclose(result.grad_norm.numpy(), [5.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(result.initial_energy.numpy(), [12.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(result.final_energy.numpy(), [0.0, 0.0], atol=1e-6)


def test_temperature_form_stationary_variance():
    # U = F / T with F = |x|^2 / 2 is N(0, T I); ULA bias as in the first test.
    epsilon, temperature = 0.1, 0.2
    sampler = sampler_lib.LangevinSampler(
        quadratic_energy([0.0], 1.0), epsilon=epsilon, num_steps=600, temperature=temperature
    )
    x0 = tf.zeros([20000, 1])
    states = sampler.run(x0, seed=5).states.numpy()
    expected_variance = temperature / (1 - epsilon**2 / (4 * temperature))
    # Relative standard error of the variance is 1%; allow 5%.
    np.testing.assert_allclose(states.var(), expected_variance, rtol=0.05)


def test_seed_replays_chain_and_steps_draw_fresh_noise():
    energy_fn = quadratic_energy([0.0, 0.0], 0.0)  # Flat energy: the path is pure noise.
    x0 = tf.zeros([1000, 2])
    first = sampler_lib.langevin_chain(energy_fn, x0, 2, 1.0, seed=[1, 1]).states.numpy()
    again = sampler_lib.langevin_chain(energy_fn, x0, 2, 1.0, seed=[1, 1]).states.numpy()
    other = sampler_lib.langevin_chain(energy_fn, x0, 2, 1.0, seed=[1, 2]).states.numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    # Two independent N(0, 1) steps sum to variance 2; a reused draw would give 4.
    np.testing.assert_allclose(first.var(), 2.0, rtol=0.1)


def test_changing_steps_and_epsilon_does_not_retrace():
    sampler = sampler_lib.LangevinSampler(quadratic_energy([0.0], 1.0), epsilon=0.1, num_steps=3)
    x0 = tf.zeros([4, 1])
    sampler.run(x0, seed=0)
    sampler.run(x0, seed=1, num_steps=7)
    sampler.run(x0, seed=2, epsilon=0.3)
    sampler.run(x0, seed=3, num_steps=2, epsilon=0.05, temperature=0.5)
    assert sampler.compiled_run.experimental_get_tracing_count() == 1


def test_energy_of_wrong_shape_is_rejected():
    def bad_energy(x, training=False):
        return tf.zeros([tf.shape(x)[0], 2])

    with pytest.raises(ValueError, match=r"one energy per example"):
        sampler_lib.langevin_chain(bad_energy, tf.zeros([3, 2]), 1, 0.1, seed=[0, 0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epsilon=-0.1, num_steps=5), "`epsilon` must be a float >= 0"),
        (dict(epsilon=0.1, num_steps=0), "`num_steps` must be an integer >= 1"),
        (dict(epsilon=0.1, num_steps=5, temperature=0.0), "`temperature` must be None"),
    ],
)
def test_invalid_sampler_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sampler_lib.LangevinSampler(quadratic_energy([0.0], 1.0), **kwargs)


def test_state_range_clips_every_step():
    # A linear energy F = -10 * sum(x) pushes chains up by 10 per step; clipping keeps
    # them at the upper bound, and without it they leave the range.
    def energy_fn(x, training=False):
        return -10.0 * tf.reduce_sum(x, axis=-1)

    x0 = tf.zeros([100, 3])
    clipped = sampler_lib.langevin_chain(energy_fn, x0, 5, 0.1, seed=[0, 1], state_range=(-1.0, 1.0))
    free = sampler_lib.langevin_chain(energy_fn, x0, 5, 0.1, seed=[0, 1])
    assert clipped.states.numpy().max() <= 1.0
    assert clipped.states.numpy().min() >= -1.0
    np.testing.assert_allclose(clipped.states.numpy(), 1.0, atol=0.35)
    assert free.states.numpy().min() > 40.0
