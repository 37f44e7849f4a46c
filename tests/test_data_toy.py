"""Tests of the 2D toy densities against closed forms and sample statistics."""

import numpy as np
import pytest
from scipy import special
from scipy import stats

from tf_ebm.data import toy

# Even point counts keep the origin, where the rings density diverges, off the grid.
GRID_POINTS = 1000


def _grid(name):
    low, high = toy.TOY_GRID_LIMITS[name]
    axis = np.linspace(low, high, GRID_POINTS)
    xx, yy = np.meshgrid(axis, axis)
    points = np.stack([xx.ravel(), yy.ravel()], axis=-1).astype(np.float32)
    cell_area = (axis[1] - axis[0]) ** 2
    return points, cell_area


def _gaussian_mixture_log_prob_numpy(x):
    angles = 2.0 * np.pi * np.arange(8) / 8
    means = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    sd = 0.15
    squared_distance = ((x[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    component_log_prob = -squared_distance / (2 * sd**2) - np.log(2 * np.pi * sd**2)
    return special.logsumexp(component_log_prob, axis=1) - np.log(8)


def _rings_log_prob_numpy(x):
    radii = np.array([1.0, 2.0, 3.0, 4.0])
    weights = np.full(4, 0.25)
    sd = 0.15
    r = np.linalg.norm(x, axis=-1)[:, None]
    radial = stats.norm.pdf(r, loc=radii, scale=sd) / stats.norm.cdf(radii / sd)
    return np.log((weights * radial).sum(-1) / (2 * np.pi * r[:, 0]))


@pytest.mark.parametrize("name", toy.TOY_DATASETS)
def test_density_integrates_to_one(name):
    points, cell_area = _grid(name)
    log_prob = toy.toy_distribution(name).log_prob(points).numpy()
    assert log_prob.shape == (GRID_POINTS**2,)
    assert np.all(np.isfinite(log_prob))
    total = np.exp(log_prob.astype(np.float64)).sum() * cell_area
    assert abs(total - 1.0) < 1e-2


def test_gaussian_mixture_log_prob_closed_form():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.3, -0.7], [2.0, 2.0]], np.float32)
    log_prob = toy.toy_distribution("gaussian_mixture").log_prob(x).numpy()
    np.testing.assert_allclose(log_prob, _gaussian_mixture_log_prob_numpy(x), rtol=1e-5, atol=1e-4)


def test_rings_log_prob_closed_form():
    x = np.array([[1.0, 0.0], [0.0, -2.0], [2.0, 2.0], [2.4, 3.2], [0.1, 0.05], [4.5, 0.0]], np.float32)
    log_prob = toy.toy_distribution("rings").log_prob(x).numpy()
    np.testing.assert_allclose(log_prob, _rings_log_prob_numpy(x), rtol=1e-5, atol=1e-4)


def test_rings_log_prob_infinite_at_origin():
    log_prob = toy.toy_distribution("rings").log_prob([[0.0, 0.0]]).numpy()
    assert log_prob[0] == np.inf


def test_gaussian_mixture_sample_statistics():
    points = toy.sample_toy("gaussian_mixture", 20000, seed=3).astype(np.float64)
    # Standard error of each mean coordinate: sqrt(0.5 + 0.15**2) / sqrt(20000) ~ 0.005.
    np.testing.assert_allclose(points.mean(axis=0), [0.0, 0.0], atol=0.025)
    # E|x|^2 = 1 + 2 * 0.15**2.
    assert abs((points**2).sum(axis=1).mean() - 1.045) < 0.02

    angles = 2.0 * np.pi * np.arange(8) / 8
    means = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    nearest = np.argmin(((points[:, None, :] - means) ** 2).sum(-1), axis=1)
    fractions = np.bincount(nearest, minlength=8) / len(points)
    np.testing.assert_allclose(fractions, np.full(8, 1 / 8), atol=0.015)


def test_rings_sample_statistics():
    points = toy.sample_toy("rings", 20000, seed=5).astype(np.float64)
    radius = np.linalg.norm(points, axis=1)
    radii = np.array([1.0, 2.0, 3.0, 4.0])

    # E|x| = mean of the radii = 2.5 with equal ring weights. The truncation at
    # r = 0 is 6.7 standard deviations below the inner ring and changes nothing.
    # Standard error: sd(|x|) / sqrt(20000) = 1.12 / 141 ~ 0.008.
    assert abs(radius.mean() - 2.5) < 0.03
    # Each coordinate has variance E|x|^2 / 2 = (7.5 + 0.15**2) / 2 ~ 3.76.
    np.testing.assert_allclose(points.mean(axis=0), [0.0, 0.0], atol=0.06)

    nearest = np.argmin(np.abs(radius[:, None] - radii), axis=1)
    fractions = np.bincount(nearest, minlength=4) / len(points)
    np.testing.assert_allclose(fractions, np.full(4, 0.25), atol=0.015)
    radial_offset = radius - radii[nearest]
    assert abs(radial_offset.std() - 0.15) < 0.006

    angles = np.arctan2(points[:, 1], points[:, 0])
    quadrant_fractions = np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0] / len(points)
    np.testing.assert_allclose(quadrant_fractions, np.full(4, 0.25), atol=0.015)


@pytest.mark.parametrize("name", toy.TOY_DATASETS)
def test_sample_toy_replays_seed(name):
    first = toy.sample_toy(name, 64, seed=11)
    again = toy.sample_toy(name, 64, seed=11)
    other = toy.sample_toy(name, 64, seed=12)
    assert first.shape == (64, 2)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("name", toy.TOY_DATASETS)
def test_distribution_sample_shape(name):
    distribution = toy.toy_distribution(name)
    points = distribution.sample(7, seed=[1, 2])
    assert tuple(points.shape) == (7, 2)
    assert points.dtype.name == "float32"
    assert tuple(distribution.log_prob(points).shape) == (7,)


def test_toy_distribution_unknown_name():
    with pytest.raises(ValueError) as error:
        toy.toy_distribution("moons")
    message = str(error.value)
    assert "'moons'" in message
    assert "rings" in message
    assert "gaussian_mixture" in message


def test_sample_toy_rejects_zero_count():
    with pytest.raises(ValueError, match="`num_examples` must be positive, got 0"):
        toy.sample_toy("rings", 0, seed=0)


def test_ring_mixture_rejects_bad_arguments():
    with pytest.raises(ValueError, match="equal length"):
        toy.RingMixture(radii=[0.5, 1.0], weights=[1.0], radial_stddev=0.1)
    with pytest.raises(ValueError, match="`radii` must be positive"):
        toy.RingMixture(radii=[0.0, 1.0], weights=[1.0, 1.0], radial_stddev=0.1)
    with pytest.raises(ValueError, match="`weights` must be nonnegative"):
        toy.RingMixture(radii=[0.5, 1.0], weights=[-1.0, 1.0], radial_stddev=0.1)
    with pytest.raises(ValueError, match="`radial_stddev` must be positive"):
        toy.RingMixture(radii=[0.5, 1.0], weights=[1.0, 1.0], radial_stddev=0.0)
