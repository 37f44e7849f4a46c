"""PNG figures of samples, densities, learning diagnostics and long-run paths.

Figures are built as `matplotlib.figure.Figure` objects and rendered by the Agg
canvas that matplotlib selects for PNG output, so nothing opens a window,
nothing needs a display and pyplot's global state is never touched. Each
writer creates the parent folder of `path` and returns `path`.
"""

import math
import os

import matplotlib.image
import numpy as np
from matplotlib.figure import Figure

from tf_ebm import diagnostics

__all__ = [
    "save_density_panels",
    "save_image_grid",
    "save_learning_diagnostics",
    "save_path_plot",
    "save_points",
]

# Log densities are shown down to this many nats below their maximum, so the
# floored or underflowed cells of a density do not stretch the colour scale.
LOG_DENSITY_DISPLAY_RANGE = 15.0


def save_image_grid(images, path, nrow=None, padding=2):
    """Tile images into one PNG, one image pixel per PNG pixel.

    Args:
      images: array-like of shape (N, H, W, C) with C in {1, 3} and values in
        [-1, 1]; values outside are clipped. C = 1 is written in gray.
      path: output PNG path.
      nrow: images per row; ceil(sqrt(N)) by default.
      padding: pixels of white border between and around images.

    Returns:
      `path`. The PNG is (rows * (H + padding) + padding) pixels high and
      (nrow * (W + padding) + padding) wide, with rows = ceil(N / nrow).

    Raises:
      ValueError: if `images` is not (N, H, W, C) with N >= 1 and C in {1, 3},
        or `nrow` or `padding` is invalid.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] < 1 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "`images` must have shape (N, H, W, C) with N >= 1 and C in {1, 3}; "
            f"received shape {images.shape}."
        )
    num_images, height, width, channels = images.shape
    if nrow is None:
        nrow = math.ceil(math.sqrt(num_images))
    if int(nrow) != nrow or nrow < 1:
        raise ValueError(f"`nrow` must be a positive integer; received {nrow!r}.")
    if int(padding) != padding or padding < 0:
        raise ValueError(f"`padding` must be an integer >= 0; received {padding!r}.")
    nrow, padding = int(nrow), int(padding)
    num_rows = math.ceil(num_images / nrow)

    # Map [-1, 1] to [0, 1]; NaN pixels become black rather than breaking the PNG.
    pixels = np.nan_to_num((np.clip(images, -1.0, 1.0) + 1.0) / 2.0, nan=0.0)
    canvas = np.ones(
        (num_rows * (height + padding) + padding, nrow * (width + padding) + padding, channels),
        dtype=np.float32,
    )
    for index in range(num_images):
        row, column = divmod(index, nrow)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        canvas[top : top + height, left : left + width] = pixels[index]

    _make_parent(path)
    # Gray images are written as equal RGB channels, which skips the 256-entry
    # colormap lookup that would shift values by up to one level.
    matplotlib.image.imsave(path, np.broadcast_to(canvas, canvas.shape[:2] + (3,)), format="png")
    return path


def save_points(points, path, limits=None, title=None, point_size=None, figsize=(4.0, 4.0), dpi=100):
    """Scatter 2D points into a PNG of figsize * dpi pixels.

    Args:
      points: array-like of shape (N, 2).
      path: output PNG path.
      limits: (low, high) for both axes, or None to fit the points.
      title: optional axes title.
      point_size: marker area in points**2, or None for 2 with 1,000 points or more,
        growing to 12 for fewer points so that small samples stay visible.
      figsize: figure size in inches.
      dpi: PNG pixels per inch.

    Returns:
      `path`.

    Raises:
      ValueError: if `points` is not of shape (N, 2).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"`points` must have shape (N, 2); received shape {points.shape}.")
    if point_size is None:
        point_size = float(np.clip(2000.0 / max(len(points), 1), 2.0, 12.0))
    figure = Figure(figsize=figsize, layout="constrained")
    axes = figure.add_subplot()
    axes.scatter(points[:, 0], points[:, 1], s=point_size, alpha=0.5, linewidths=0)
    axes.set_aspect("equal")
    if limits is not None:
        axes.set_xlim(limits)
        axes.set_ylim(limits)
    if title:
        axes.set_title(title)
    return _save(figure, path, dpi)


def save_learning_diagnostics(d, r, path, max_lag=50, steps=None, figsize=(10.0, 7.0), dpi=100):
    """Plot d_t, r_t, their autocorrelations and their cross-correlation (2 x 2 panels).

    The autocorrelation panels show the band +-1.96 / sqrt(n), inside which the
    sample autocorrelation of white noise falls with probability 0.95 per lag.

    Args:
      d: 1-D array-like, mean F(X+) - mean F(X-) per logged update.
      r: 1-D array-like of the same length, the mean Langevin gradient norm.
      path: output PNG path.
      max_lag: largest lag of the correlation panels, clipped to n - 1.
      steps: optional training steps of the points, the x axis of the series.
      figsize: figure size in inches.
      dpi: PNG pixels per inch.

    Returns:
      `path`.

    Raises:
      ValueError: if `d` and `r` are not 1-D with equal length >= 2.
    """
    d = np.asarray(d, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if d.ndim != 1 or d.shape != r.shape or len(d) < 2:
        raise ValueError(
            f"`d` and `r` must be 1-D with equal length >= 2; received shapes {d.shape} and {r.shape}."
        )
    steps = np.arange(len(d)) if steps is None else np.asarray(steps)
    max_lag = int(min(max_lag, len(d) - 1))

    figure = Figure(figsize=figsize, layout="constrained")
    (d_axes, r_axes), (acf_axes, cross_axes) = figure.subplots(2, 2)

    d_axes.plot(steps, d, linewidth=0.8)
    d_axes.axhline(0.0, color="black", linewidth=0.6)
    d_axes.set(title="energy difference d = mean F(X+) - mean F(X-)", xlabel="step", ylabel="d")
    r_axes.plot(steps, r, linewidth=0.8, color="tab:orange")
    r_axes.set(title="gradient magnitude r = mean ||grad F||", xlabel="step", ylabel="r")

    finite = np.all(np.isfinite(d)) and np.all(np.isfinite(r))
    if finite:
        lags = np.arange(max_lag + 1)
        acf_axes.plot(lags, diagnostics.autocorrelation(d, max_lag), label="d")
        acf_axes.plot(lags, diagnostics.autocorrelation(r, max_lag), label="r")
        band = 1.96 / math.sqrt(len(d))
        acf_axes.axhspan(-band, band, color="gray", alpha=0.2)
        acf_axes.legend()
        cross_lags = np.arange(-max_lag, max_lag + 1)
        cross_axes.plot(cross_lags, diagnostics.cross_correlation(d, r, max_lag), color="tab:green")
        cross_axes.axhspan(-band, band, color="gray", alpha=0.2)
    else:
        for axes in (acf_axes, cross_axes):
            axes.text(0.5, 0.5, "d or r is not finite", ha="center", va="center", transform=axes.transAxes)
    acf_axes.set(title="autocorrelation", xlabel="lag", ylim=(-1.05, 1.05))
    cross_axes.set(title="cross-correlation corr(d_t, r_{t+k})", xlabel="lag k", ylim=(-1.05, 1.05))
    return _save(figure, path, dpi)


def save_density_panels(
    densities,
    log_densities,
    limits,
    path,
    titles=("true", "learned", "sample KDE"),
    suptitle=None,
    figsize=(12.0, 8.0),
    dpi=100,
):
    """Plot densities on a square grid (top row) and their logs (bottom row).

    Arrays are indexed [y, x] as `tf_ebm.density.make_grid` lays them out. Each
    panel has its own colour scale. Log panels show LOG_DENSITY_DISPLAY_RANGE
    nats below their maximum.

    Args:
      densities: sequence of K 2-D arrays of equal shape.
      log_densities: sequence of K 2-D arrays, the logs of `densities`.
      limits: (low, high) of the grid on both axes.
      path: output PNG path.
      titles: K panel titles.
      suptitle: optional figure title.
      figsize: figure size in inches.
      dpi: PNG pixels per inch.

    Returns:
      `path`.

    Raises:
      ValueError: if the numbers of densities, log densities and titles differ
        or an array is not 2-D.
    """
    if not len(densities) == len(log_densities) == len(titles) >= 1:
        raise ValueError(
            "`densities`, `log_densities` and `titles` must have the same positive length; received "
            f"{len(densities)}, {len(log_densities)} and {len(titles)}."
        )
    extent = (limits[0], limits[1], limits[0], limits[1])
    figure = Figure(figsize=figsize, layout="constrained")
    axes_grid = figure.subplots(2, len(densities), squeeze=False)
    for column, (density, log_density, title) in enumerate(zip(densities, log_densities, titles)):
        density = _as_image(density, "densities")
        log_density = _as_image(log_density, "log_densities")
        top, bottom = axes_grid[0, column], axes_grid[1, column]
        image = top.imshow(density, origin="lower", extent=extent, cmap="viridis")
        figure.colorbar(image, ax=top, shrink=0.8)
        top.set_title(f"{title} density")
        finite = log_density[np.isfinite(log_density)]
        vmax = float(finite.max()) if finite.size else 0.0
        image = bottom.imshow(
            log_density,
            origin="lower",
            extent=extent,
            cmap="viridis",
            vmin=vmax - LOG_DENSITY_DISPLAY_RANGE,
            vmax=vmax,
        )
        figure.colorbar(image, ax=bottom, shrink=0.8)
        bottom.set_title(f"{title} log density")
    if suptitle:
        figure.suptitle(suptitle)
    return _save(figure, path, dpi)


def save_path_plot(steps, paths, path, title=None, log_scale=(), figsize=None, dpi=100):
    """Plot long-run paths (energy, gradient norm, acceptance rate) against the step.

    Args:
      steps: 1-D array-like of the recorded steps.
      paths: mapping from panel label to an array of shape (len(steps),), or
        (len(steps), K) for K lines in one panel. One panel per entry, stacked.
      path: output PNG path.
      title: optional figure title.
      log_scale: labels of the panels drawn with a logarithmic y axis.
      figsize: figure size in inches; (8, 2.5 per panel) by default.
      dpi: PNG pixels per inch.

    Returns:
      `path`.

    Raises:
      ValueError: if `paths` is empty or a path does not have len(steps) rows.
    """
    steps = np.asarray(steps)
    if not paths:
        raise ValueError("`paths` must contain at least one series; received an empty mapping.")
    for label, values in paths.items():
        if np.shape(values)[:1] != steps.shape:
            raise ValueError(
                f"Path {label!r} must have {len(steps)} rows, one per step; received shape {np.shape(values)}."
            )
    if figsize is None:
        figsize = (8.0, 2.5 * len(paths))
    figure = Figure(figsize=figsize, layout="constrained")
    axes_list = figure.subplots(len(paths), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (label, values) in zip(axes_list, paths.items()):
        axes.plot(steps, np.asarray(values), linewidth=0.8)
        axes.set_ylabel(label)
        if label in log_scale:
            axes.set_yscale("log")
    axes_list[-1].set_xlabel("Langevin step")
    if title:
        figure.suptitle(title)
    return _save(figure, path, dpi)


def _as_image(array, name):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"Every array in `{name}` must be 2-D; received shape {array.shape}.")
    return array


def _make_parent(path):
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)


def _save(figure, path, dpi):
    _make_parent(path)
    figure.savefig(path, dpi=dpi, format="png")
    return path
