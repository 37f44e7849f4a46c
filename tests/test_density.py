"""Tests for tf_ebm.density and the image and density writers of tf_ebm.plots."""

import matplotlib.image
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tf_ebm import density
from tf_ebm import plots
from tf_ebm.data import toy


def _gaussian_energy(mean, scale=1.0):
    """F(x) = scale * |x - mean|^2 / 2, returned with shape (batch, 1) as Keras models do."""
    mean = tf.constant(mean, tf.float32)

    def energy_fn(x, training=False):
        del training
        return scale * 0.5 * tf.reduce_sum(tf.square(x - mean), axis=-1, keepdims=True)

    return energy_fn


def _normal_density(grid, mean, variance):
    values = scipy.stats.multivariate_normal(mean=mean, cov=variance * np.eye(2)).pdf(grid.points)
    return values.reshape(grid.shape)


# Grid and learned density.


def test_make_grid_layout():
    grid = density.make_grid(limits=(-1.0, 1.0), resolution=4)
    assert grid.points.shape == (16, 2)
    assert grid.shape == (4, 4)
    assert grid.cell_area == pytest.approx(0.25)
    np.testing.assert_allclose(grid.x, [-0.75, -0.25, 0.25, 0.75])
    # x varies fastest, so reshaping per-point values gives [y, x] images.
    np.testing.assert_allclose(grid.points[:4, 0], grid.x)
    np.testing.assert_allclose(grid.points[:4, 1], -0.75)
    assert not np.any(np.all(grid.points == 0.0, axis=1))


@pytest.mark.parametrize("limits, resolution", [((1.0, -1.0), 10), ((-1.0, 1.0), 1), ((-1.0, 1.0), 2.5)])
def test_make_grid_rejects_bad_arguments(limits, resolution):
    with pytest.raises(ValueError):
        density.make_grid(limits, resolution)


@pytest.mark.parametrize("temperature", [0.05, 0.2])
def test_grid_density_gaussian_at_temperature(temperature):
    grid = density.make_grid()
    mean = [0.3, -0.2]
    result = density.grid_density(_gaussian_energy(mean), grid, temperature=temperature)
    assert result.density.shape == grid.shape
    assert np.sum(result.density) * grid.cell_area == pytest.approx(1.0, abs=1e-9)
    expected = _normal_density(grid, mean, temperature)
    np.testing.assert_allclose(result.density, expected, atol=1e-3 * expected.max())
    np.testing.assert_allclose(result.log_density, np.log(result.density), rtol=1e-12)


def test_grid_density_training_temperature_from_epsilon():
    grid = density.make_grid()
    epsilon = 0.3
    result = density.grid_density(_gaussian_energy([0.0, 0.5]), grid, epsilon=epsilon)
    expected = _normal_density(grid, [0.0, 0.5], epsilon**2 / 2)
    np.testing.assert_allclose(result.density, expected, atol=1e-3 * expected.max())


def test_grid_density_temperature_overrides_epsilon():
    grid = density.make_grid(resolution=50)
    energy_fn = _gaussian_energy([0.0, 0.0])
    by_temperature = density.grid_density(energy_fn, grid, epsilon=0.1, temperature=0.3)
    direct = density.grid_density(energy_fn, grid, temperature=0.3)
    np.testing.assert_allclose(by_temperature.density, direct.density)


def test_grid_density_zero_epsilon_uses_unit_temperature():
    grid = density.make_grid()
    result = density.grid_density(_gaussian_energy([0.0, 0.0], scale=10.0), grid, epsilon=0.0)
    expected = _normal_density(grid, [0.0, 0.0], 0.1)
    np.testing.assert_allclose(result.density, expected, atol=1e-3 * expected.max())


def test_grid_density_large_energies_stay_finite():
    grid = density.make_grid(resolution=50)
    # exp(-F / T) underflows in float64 for every point, so only log-sum-exp works.
    result = density.grid_density(_gaussian_energy([0.0, 0.0], scale=1e4), grid, temperature=1e-3)
    assert np.all(np.isfinite(result.log_density))
    assert np.sum(result.density) * grid.cell_area == pytest.approx(1.0)


def test_grid_density_rejects_bad_temperature():
    grid = density.make_grid(resolution=10)
    with pytest.raises(ValueError, match="temperature"):
        density.grid_density(_gaussian_energy([0.0, 0.0]), grid, temperature=0.0)


def test_grid_density_rejects_nan_energy():
    grid = density.make_grid(resolution=10)
    with pytest.raises(ValueError, match="NaN or infinite at 100 grid points"):
        density.grid_density(lambda x, training=False: tf.fill([tf.shape(x)[0]], np.nan), grid)


@pytest.mark.parametrize("name, limits", [("gaussian_mixture", (-2.0, 2.0)), ("rings", (-5.0, 5.0))])
def test_toy_grid_covers_the_toy_mass(name, limits):
    grid = density.toy_grid(name)
    assert grid.limits == limits
    assert grid.shape == (density.DEFAULT_GRID_RESOLUTION,) * 2
    # The unnormalized Riemann sum of the exact density: the square contains all its mass.
    log_prob = toy.toy_distribution(name).log_prob(grid.points).numpy().astype(np.float64)
    assert np.exp(log_prob).sum() * grid.cell_area == pytest.approx(1.0, abs=5e-3)


def test_toy_grid_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown toy dataset 'moons'; expected one of"):
        density.toy_grid("moons")


def test_true_grid_density_toy_datasets():
    for name in toy.TOY_DATASETS:
        grid = density.toy_grid(name)
        result = density.true_grid_density(toy.toy_distribution(name).log_prob, grid)
        assert np.all(np.isfinite(result.log_density)), name
        assert np.sum(result.density) * grid.cell_area == pytest.approx(1.0), name


def test_true_grid_density_matches_known_mixture():
    grid = density.make_grid()
    result = density.true_grid_density(toy.toy_distribution("gaussian_mixture").log_prob, grid)
    angles = 2 * np.pi * np.arange(8) / 8
    expected = sum(
        _normal_density(grid, [np.cos(angle), np.sin(angle)], 0.15**2) for angle in angles
    ) / 8
    np.testing.assert_allclose(result.density, expected, atol=1e-3 * expected.max())


# KL divergence.


def test_kl_divergence_of_density_with_itself_is_zero():
    grid = density.make_grid()
    p = _normal_density(grid, [0.1, 0.2], 0.1)
    # Only cells below the 1e-12 floor differ, by far less than 1e-9 nats in total.
    assert density.kl_divergence(p, p, grid.cell_area) == pytest.approx(0.0, abs=1e-9)
    assert density.kl_divergence(p, p, grid.cell_area, floor=0.0) == 0.0


@pytest.mark.parametrize("shift", [0.1, 0.2, 0.4])
def test_kl_divergence_shifted_gaussians(shift):
    grid = density.make_grid()
    variance = 0.3**2
    p = _normal_density(grid, [0.0, 0.0], variance)
    q = _normal_density(grid, [shift, 0.0], variance)
    expected = shift**2 / (2 * variance)
    assert density.kl_divergence(p, q, grid.cell_area) == pytest.approx(expected, rel=1e-3)


def test_kl_divergence_grows_with_shift():
    grid = density.make_grid()
    p = _normal_density(grid, [0.0, 0.0], 0.09)
    divergences = [
        density.kl_divergence(p, _normal_density(grid, [shift, 0.0], 0.09), grid.cell_area)
        for shift in (0.0, 0.05, 0.1, 0.3, 0.6)
    ]
    assert np.all(np.diff(divergences) > 0)


def test_kl_divergence_floor_keeps_it_finite():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([1.0, 0.0, 0.0])
    divergence = density.kl_divergence(p, q, cell_area=1.0)
    assert np.isfinite(divergence)
    # Half of p's mass sits where q is floored at 1e-12: about 0.5 * log(0.5 / 1e-12).
    assert divergence == pytest.approx(0.5 * np.log(0.5 / 1e-12) + 0.5 * np.log(0.5), rel=1e-6)


def test_kl_divergence_rejects_negative_density():
    with pytest.raises(ValueError, match="`q` must be finite and >= 0"):
        density.kl_divergence(np.ones(3), np.array([1.0, -1.0, 1.0]), 1.0)


# KDE and the toy report.


def test_kde_grid_density_of_gaussian_samples():
    grid = density.make_grid()
    mean, variance = [0.2, -0.1], 0.25**2
    samples = np.random.default_rng(0).normal(mean, np.sqrt(variance), size=(4000, 2))
    expected = _normal_density(grid, mean, variance)
    for bandwidth in (None, "silverman"):
        result = density.kde_grid_density(samples, grid, bandwidth=bandwidth)
        assert np.sum(result.density) * grid.cell_area == pytest.approx(1.0)
        assert density.kl_divergence(expected, result.density, grid.cell_area) < 0.03, bandwidth


def test_kde_bandwidth_scales_with_spread():
    grid = density.make_grid()
    samples = np.random.default_rng(1).normal(0.0, 0.5, size=(3000, 2))
    narrow = density.kde_grid_density(samples, grid, bandwidth=0.05)
    wide = density.kde_grid_density(samples, grid, bandwidth=1.0)
    # Factor 1 doubles the variance: the KDE is N(0, 2 * 0.25) up to sampling noise.
    expected_wide = _normal_density(grid, [0.0, 0.0], 0.5)
    assert density.kl_divergence(expected_wide, wide.density, grid.cell_area) < 0.01
    assert narrow.density.max() > 2 * wide.density.max()


def test_kde_grid_density_rejects_non_finite_samples():
    samples = np.zeros((10, 2))
    samples[3, 0] = np.nan
    with pytest.raises(ValueError, match="1 points with NaN"):
        density.kde_grid_density(samples, density.make_grid(resolution=10))


def test_toy_density_report_with_exact_energy(tmp_path):
    epsilon = 0.2
    temperature = epsilon**2 / 2
    distribution = toy.toy_distribution("gaussian_mixture")

    def energy_fn(x, training=False):
        del training
        return -temperature * distribution.log_prob(x)

    samples = toy.sample_toy("gaussian_mixture", 3000, seed=0)
    path = tmp_path / "panels" / "toy.png"
    report = density.toy_density_report(
        energy_fn, samples, "gaussian_mixture", epsilon, grid=density.make_grid(resolution=120), path=path
    )
    for key in ("true", "learned", "kde"):
        assert report[f"{key}_density"].shape == (120, 120)
        assert report[f"{key}_log_density"].shape == (120, 120)
    assert report["kl_true_learned"] < 1e-6
    assert 0.0 < report["kl_true_kde"] < 0.1
    assert report["path"] == str(path)
    image = matplotlib.image.imread(report["path"])
    assert image.shape[:2] == (800, 1200)


# Image and point writers.


@pytest.mark.parametrize("channels", [1, 3])
def test_save_image_grid_pixel_size(tmp_path, channels):
    images = np.random.default_rng(2).uniform(-1.5, 1.5, size=(10, 8, 6, channels)).astype(np.float32)
    path = plots.save_image_grid(images, str(tmp_path / "grid.png"), nrow=4, padding=2)
    image = matplotlib.image.imread(path)
    # 3 rows of 4 images: 3 * (8 + 2) + 2 = 32 high, 4 * (6 + 2) + 2 = 34 wide.
    assert image.shape[:2] == (32, 34)
    first = image[2:10, 2:8, :3]
    expected = (np.clip(images[0], -1.0, 1.0) + 1.0) / 2.0
    np.testing.assert_allclose(first, np.broadcast_to(expected, first.shape), atol=1.0 / 255 + 1e-6)
    if channels == 1:
        np.testing.assert_array_equal(image[..., 0], image[..., 1])


def test_save_image_grid_default_is_square(tmp_path):
    images = np.zeros((16, 4, 4, 3))
    image = matplotlib.image.imread(plots.save_image_grid(images, str(tmp_path / "grid.png"), padding=0))
    assert image.shape[:2] == (16, 16)


def test_save_image_grid_rejects_bad_channels(tmp_path):
    with pytest.raises(ValueError, match="C in"):
        plots.save_image_grid(np.zeros((2, 4, 4, 2)), str(tmp_path / "grid.png"))


def test_save_points_pixel_size(tmp_path):
    points = np.random.default_rng(3).normal(size=(500, 2))
    path = plots.save_points(points, str(tmp_path / "points.png"), limits=(-2, 2), title="samples", dpi=50)
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (200, 200)
    assert image[..., :3].std() > 0


def test_save_points_enlarges_markers_of_few_points(tmp_path):
    points = np.random.default_rng(4).uniform(-1.5, 1.5, size=(64, 2))

    def inked_pixels(name, point_size, values=points):
        path = plots.save_points(values, str(tmp_path / name), limits=(-2, 2), point_size=point_size)
        return int(np.count_nonzero(matplotlib.image.imread(path)[..., :3].mean(axis=-1) < 0.95))

    # Marker pixels: those of the plot minus those of the same axes without points.
    frame = inked_pixels("empty.png", 2.0, values=np.zeros((0, 2)))
    default = inked_pixels("default.png", None) - frame
    # The default for 64 points is the largest size, 12, six times the area of size 2.
    assert default == inked_pixels("twelve.png", 12.0) - frame
    assert default > 3 * (inked_pixels("two.png", 2.0) - frame)


def test_save_density_panels_pixel_size(tmp_path):
    grid = density.make_grid(resolution=30)
    panel = _normal_density(grid, [0.0, 0.0], 0.2)
    path = plots.save_density_panels(
        [panel, panel, panel], [np.log(panel)] * 3, grid.limits, str(tmp_path / "d.png"), figsize=(6, 4), dpi=50
    )
    assert matplotlib.image.imread(path).shape[:2] == (200, 300)
