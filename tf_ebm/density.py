"""Densities of 2D toy models on a grid: learned, true and KDE, with KL divergences.

A learned energy F defines the density p(x) = exp(-U(x)) / Z with U = F / T. The
temperature follows the sampler (see `tf_ebm.sampler`): T = epsilon**2 / 2 for
the Langevin noise `epsilon` used in training, or an explicit temperature. All
densities here are normalized by a Riemann sum over the grid cells, so they
integrate to 1 over the grid (mass outside the grid is ignored).
"""

import collections
import os

import numpy as np
import scipy.special
import scipy.stats
import tensorflow as tf

from tf_ebm import plots
from tf_ebm.data import toy

__all__ = [
    "DEFAULT_GRID_LIMITS",
    "DEFAULT_GRID_RESOLUTION",
    "KL_DENSITY_FLOOR",
    "TOY_KDE_BANDWIDTH",
    "Grid",
    "GridDensity",
    "grid_density",
    "kde_grid_density",
    "kl_divergence",
    "make_grid",
    "toy_grid",
    "toy_density_report",
    "true_grid_density",
]

# The square of the 8-Gaussian mixture; `toy_grid` picks the square of each toy
# from `tf_ebm.data.toy.TOY_GRID_LIMITS`.
DEFAULT_GRID_LIMITS = toy.TOY_GRID_LIMITS["gaussian_mixture"]

# 200 cells per axis give cells 0.05 wide on the rings' square [-5, 5]^2 and
# 0.02 wide on the mixture's [-2, 2]^2. That is at most a third of the 0.15
# standard deviation of both toys, so the Riemann sums resolve them.
DEFAULT_GRID_RESOLUTION = 200

# Floor on the compared density q in `kl_divergence`, in density units (per unit
# area). Cells where q underflows to 0 then cost log(p / 1e-12), about 28 nats
# plus log p, per unit of p's mass in them instead of an infinite KL.
KL_DENSITY_FLOOR = 1e-12

# KDE bandwidth factor of `toy_density_report`, in scipy's convention (a factor
# on the sample standard deviation), as in the toy code of the ebm-anatomy
# repository (point0bar1/ebm-anatomy, `utils.py`). Scott's rule oversmooths the
# multimodal toys: for 3000 exact samples on their `toy_grid` KL(true || KDE) is
# 0.54 (rings) and 0.31 (mixture) with Scott's rule, 0.10 and 0.068 with 0.05.
TOY_KDE_BANDWIDTH = 0.05

Grid = collections.namedtuple(
    "Grid",
    [
        "points",  # float32 array (resolution**2, 2) of cell centres, x varying fastest.
        "x",  # float64 array (resolution,) of cell-centre coordinates on each axis.
        "cell_area",  # Area of one cell.
        "shape",  # (resolution, resolution): reshape per-point values to [y, x] images.
        "limits",  # (low, high) of the square.
    ],
)

GridDensity = collections.namedtuple(
    "GridDensity",
    [
        "density",  # float64 array of grid.shape, indexed [y, x]; sum(density) * cell_area = 1.
        "log_density",  # Its logarithm, computed without exponentiating first.
    ],
)


def make_grid(limits=DEFAULT_GRID_LIMITS, resolution=DEFAULT_GRID_RESOLUTION):
    """Build a square grid of cell centres.

    Points are centres of resolution x resolution equal cells covering
    [low, high]^2, so an even resolution on a symmetric square never evaluates
    the origin, where the rings density is infinite.

    Args:
      limits: (low, high) with low < high.
      resolution: cells per axis, >= 2.

    Returns:
      A `Grid`.

    Raises:
      ValueError: if `limits` is not increasing or `resolution` < 2.
    """
    low, high = (float(value) for value in limits)
    if not low < high:
        raise ValueError(f"`limits` must be (low, high) with low < high; received {limits!r}.")
    if int(resolution) != resolution or resolution < 2:
        raise ValueError(f"`resolution` must be an integer >= 2; received {resolution!r}.")
    resolution = int(resolution)
    width = (high - low) / resolution
    x = low + width * (np.arange(resolution) + 0.5)
    grid_x, grid_y = np.meshgrid(x, x)  # Both [y, x], x varying along the last axis.
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=-1).astype(np.float32)
    return Grid(points=points, x=x, cell_area=width**2, shape=(resolution, resolution), limits=(low, high))


def toy_grid(dataset_name, resolution=DEFAULT_GRID_RESOLUTION):
    """Build the grid of a toy density: its square from `toy.TOY_GRID_LIMITS`.

    Args:
      dataset_name: a name from `tf_ebm.data.toy.TOY_DATASETS`.
      resolution: cells per axis, >= 2.

    Returns:
      A `Grid`.

    Raises:
      ValueError: if `dataset_name` is not a toy density or `resolution` is
        invalid.
    """
    if dataset_name not in toy.TOY_GRID_LIMITS:
        raise ValueError(
            f"Unknown toy dataset {dataset_name!r}; expected one of {sorted(toy.TOY_GRID_LIMITS)}."
        )
    return make_grid(toy.TOY_GRID_LIMITS[dataset_name], resolution)


def grid_density(energy_fn, grid, epsilon=None, temperature=None, batch_size=10000):
    """Normalize the learned density exp(-F(x) / T) on the grid.

    T is `temperature` when given; otherwise epsilon**2 / 2 when `epsilon` > 0
    (the training temperature), otherwise 1 (U = F). Normalization uses
    log-sum-exp, so energies of any scale neither overflow nor underflow.

    Args:
      energy_fn: callable `energy_fn(x, training=False)` returning F(x) of shape
        (batch,) or (batch, 1).
      grid: a `Grid` from `make_grid`.
      epsilon: Langevin noise standard deviation used in training, or None.
      temperature: evaluation temperature T > 0, or None.
      batch_size: grid points per call of `energy_fn`.

    Returns:
      A `GridDensity`.

    Raises:
      ValueError: if `temperature` <= 0, `epsilon` < 0, or the energy is not
        finite at some grid point.
    """
    temperature = _resolve_temperature(epsilon, temperature)
    energies = []
    for start in range(0, len(grid.points), batch_size):
        batch = tf.constant(grid.points[start : start + batch_size])
        energy = tf.reshape(energy_fn(batch, training=False), [-1])
        energies.append(np.asarray(energy, dtype=np.float64))
    energy = np.concatenate(energies)
    if energy.shape != (len(grid.points),):
        raise ValueError(
            f"`energy_fn` must return one energy per point; received {energy.size} values for "
            f"{len(grid.points)} points."
        )
    if not np.all(np.isfinite(energy)):
        raise ValueError(
            f"The energy is NaN or infinite at {np.count_nonzero(~np.isfinite(energy))} grid points."
        )
    return _normalize(-energy / temperature, grid)


def true_grid_density(log_prob_fn, grid):
    """Normalize a known log density on the grid.

    Args:
      log_prob_fn: callable mapping float32 points (n, 2) to log densities (n,),
        such as `toy_distribution(name).log_prob`.
      grid: a `Grid`.

    Returns:
      A `GridDensity`, renormalized so the mass outside the grid is dropped.

    Raises:
      ValueError: if the log density is NaN or +infinity at a grid point.
    """
    log_prob = np.asarray(log_prob_fn(grid.points), dtype=np.float64).reshape(-1)
    if np.any(np.isnan(log_prob) | (log_prob == np.inf)):
        raise ValueError("The true log density is NaN or +infinity at some grid point.")
    return _normalize(log_prob, grid)


def kde_grid_density(samples, grid, bandwidth=None):
    """Estimate the density of 2D samples with a Gaussian KDE on the grid.

    Uses `scipy.stats.gaussian_kde`, whose kernel covariance is the sample
    covariance times bandwidth**2: the bandwidth is a factor relative to the
    spread of the samples, not a length in data units.

    Args:
      samples: array-like (N, 2) with N >= 3.
      grid: a `Grid`.
      bandwidth: None for Scott's rule (factor N**(-1/6) in 2D, scipy's
        default), 'scott' or 'silverman' for scipy's rules, or a float factor
        > 0. The toy code of the ebm-anatomy repository (point0bar1/ebm-anatomy,
        `utils.py`) passes 0.05 as this factor, a kernel standard deviation of
        about 0.036 for the 8-Gaussian mixture, whose coordinates have standard
        deviation 0.72.

    Returns:
      A `GridDensity`.

    Raises:
      ValueError: if `samples` is not (N, 2) with N >= 3 finite points, or
        `bandwidth` is a number <= 0.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or samples.shape[0] < 3:
        raise ValueError(f"`samples` must have shape (N, 2) with N >= 3; received shape {samples.shape}.")
    finite = np.all(np.isfinite(samples), axis=1)
    if not np.all(finite):
        raise ValueError(
            f"`samples` contains {np.count_nonzero(~finite)} points with NaN or infinity; "
            "the sampler diverged, so no KDE is possible."
        )
    if bandwidth is not None and not isinstance(bandwidth, str) and not bandwidth > 0:
        raise ValueError(
            f"`bandwidth` must be None, 'scott', 'silverman' or a float > 0; received {bandwidth!r}."
        )
    kde = scipy.stats.gaussian_kde(samples.T, bw_method=bandwidth)
    return _normalize(kde.logpdf(grid.points.T.astype(np.float64)), grid)


def kl_divergence(p, q, cell_area, floor=KL_DENSITY_FLOOR):
    """Compute KL(p || q) = sum p log(p / q) * cell_area on a grid, in nats.

    Both densities are turned into cell probabilities p * cell_area and q *
    cell_area and renormalized after q is floored at `floor`, so the result is
    a KL divergence between two discrete distributions and is >= 0. Cells with
    p = 0 contribute 0.

    Args:
      p, q: array-likes of equal shape with densities >= 0 on the same grid,
        each with a positive sum.
      cell_area: area of one grid cell.
      floor: density floor applied to q, per unit area.

    Returns:
      Python float >= 0.

    Raises:
      ValueError: on unequal shapes, negative or non-finite values, or a zero sum.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"`p` and `q` must have equal shapes; received {p.shape} and {q.shape}.")
    for name, values in (("p", p), ("q", q)):
        if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
            raise ValueError(f"`{name}` must be finite and >= 0 with a positive sum.")
    p_mass = p * cell_area
    p_mass /= p_mass.sum()
    q_mass = np.maximum(q, floor) * cell_area
    q_mass /= q_mass.sum()
    divergence = np.sum(scipy.special.rel_entr(p_mass, q_mass))
    # Rounding can leave -1e-16 for p = q.
    return float(max(divergence, 0.0))


def toy_density_report(
    energy_fn,
    samples,
    dataset_name,
    epsilon,
    temperature=None,
    grid=None,
    bandwidth=TOY_KDE_BANDWIDTH,
    path=None,
):
    """Compare the true, learned and sample (KDE) densities of a toy model.

    Args:
      energy_fn: callable `energy_fn(x, training=False)`, the learned energy F.
      samples: array-like (N, 2) of model samples, such as long-run chain states.
      dataset_name: a name from `tf_ebm.data.toy.TOY_DATASETS`.
      epsilon: Langevin noise standard deviation of training; sets T = epsilon**2 / 2.
      temperature: evaluation temperature overriding epsilon**2 / 2, or None.
      grid: a `Grid`; `toy_grid(dataset_name)` by default.
      bandwidth: KDE bandwidth factor, see `kde_grid_density`.
      path: if given, the six-panel PNG (densities on top, log densities below)
        is written there.

    Returns:
      dict with the [y, x] arrays 'true_density', 'learned_density',
      'kde_density', 'true_log_density', 'learned_log_density',
      'kde_log_density', the floats 'kl_true_learned' = KL(true || learned)
      and 'kl_true_kde' = KL(true || KDE), 'grid', and 'path' (None when no PNG
      was written).
    """
    if grid is None:
        grid = toy_grid(dataset_name)
    true = true_grid_density(toy.toy_distribution(dataset_name).log_prob, grid)
    learned = grid_density(energy_fn, grid, epsilon=epsilon, temperature=temperature)
    kde = kde_grid_density(samples, grid, bandwidth=bandwidth)
    report = dict(
        true_density=true.density,
        learned_density=learned.density,
        kde_density=kde.density,
        true_log_density=true.log_density,
        learned_log_density=learned.log_density,
        kde_log_density=kde.log_density,
        kl_true_learned=kl_divergence(true.density, learned.density, grid.cell_area),
        kl_true_kde=kl_divergence(true.density, kde.density, grid.cell_area),
        grid=grid,
        path=None,
    )
    if path is not None:
        report["path"] = plots.save_density_panels(
            [true.density, learned.density, kde.density],
            [true.log_density, learned.log_density, kde.log_density],
            grid.limits,
            os.fspath(path),
            suptitle=(
                f"{dataset_name}: KL(true || learned) = {report['kl_true_learned']:.3f}, "
                f"KL(true || KDE) = {report['kl_true_kde']:.3f}"
            ),
        )
    return report


def _resolve_temperature(epsilon, temperature):
    if temperature is not None:
        if not temperature > 0:
            raise ValueError(f"`temperature` must be None or a float > 0; received {temperature!r}.")
        return float(temperature)
    if epsilon is None:
        return 1.0
    if not epsilon >= 0:
        raise ValueError(f"`epsilon` must be None or a float >= 0; received {epsilon!r}.")
    return epsilon**2 / 2.0 if epsilon > 0 else 1.0


def _normalize(unnormalized_log_density, grid):
    """Normalize log densities so that sum(exp(log_density)) * cell_area = 1."""
    log_density = unnormalized_log_density - scipy.special.logsumexp(unnormalized_log_density)
    log_density -= np.log(grid.cell_area)
    log_density = log_density.reshape(grid.shape)
    return GridDensity(density=np.exp(log_density), log_density=log_density)
