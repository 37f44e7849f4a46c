"""Learning diagnostics from the energy difference d_t and the gradient magnitude r_t.

Each training update t logs two numbers:

- d_t = mean F(X+) - mean F(X-), the energy of the positive (data) samples minus the
  energy of the negative (short-run Langevin) samples, which is the training loss.
  When F ends in a linear layer F = w . h(x) + b, the loss gradient with respect
  to w is g = mean h(X+) - mean h(X-) and d_t = w . g, so d_t is 0 wherever
  learning is at rest and oscillates around 0 while it fluctuates around rest.
- r_t = the mean over chains and Langevin steps of ||grad_x F(x)||_2 along the
  negative chains, the step size of the gradient part of the sampler.

Nijkamp et al., "On the Anatomy of MCMC-Based Maximum Likelihood Learning of
Energy-Based Models" (AAAI 2020, arXiv:1903.12370), read the pair as follows:
d_t < 0 expands the energy landscape (r_t grows), d_t > 0 contracts it (r_t
shrinks). Near-zero d_t with a weak oscillation of a settled r_t is the stable
regime. A large-amplitude oscillation of d_t and r_t together is strong
oscillation. A d_t that drifts towards -infinity means the negative samples no
longer reach the low energy of the data, and learning becomes unstable.

`analyze` turns the recent window of both series into numbers and one of the
`REGIMES` with a short verdict. Every threshold is a module constant below.
"""

import csv
import dataclasses

import numpy as np
import scipy.signal

__all__ = [
    "LearningDiagnostics",
    "REGIMES",
    "analyze",
    "autocorrelation",
    "cross_correlation",
    "diagnostics_from_csv",
]

# Number of most recent logged points that `analyze` uses by default. One point is
# usually one training update, so this covers the last 1000 updates: enough for
# several oscillations of d_t and r_t, short enough to ignore the start of training.
DEFAULT_WINDOW = 1000

# Minimum number of points that `analyze` accepts. With n points the sample autocorrelation of
# white noise has a standard deviation of about 1 / sqrt(n), 0.22 at n = 20;
# below that the lag-1 autocorrelation and the trend slopes are noise.
MIN_WINDOW = 20

# Largest lag of the d-r cross-correlation in `analyze`, in logged points; a
# quarter of the window when the window is shorter than 4 * MAX_ANALYSIS_LAG.
# The expansion/contraction feedback between d_t and r_t acts within tens of updates.
MAX_ANALYSIS_LAG = 50

# d_t oscillates around 0 only when its mean is within this many standard
# deviations of d_t from 0: a sinusoid offset by half a standard deviation still
# crosses 0 twice per period.
D_MEAN_TOLERANCE = 0.5

# ... and when the least-squares line through d_t changes by at most this many
# standard deviations of d_t across the window. A noise-free linear drift gives
# sqrt(12) = 3.5, and k whole periods of a sinusoid give 2.7 / k; oscillation
# with at least two periods in the window therefore stays below 2.
D_TREND_TOLERANCE = 2.0

# Minimum fraction of consecutive pairs of points where d_t changes sign, for d_t
# to count as oscillating around 0. One change per 100 points allows periods up
# to 200 points, which is at least five periods in the default window.
MIN_ZERO_CROSSING_RATE = 0.01

# r_t is settled when the least-squares line through the window changes by less
# than this fraction of mean r across the window. In the expansion phase r_t
# grows by orders of magnitude, while the sampling noise of a settled r_t moves
# the fitted change by a few percent over a window of hundreds of points.
R_DRIFT_TOLERANCE = 0.2

# The oscillation is strong when the standard deviation of r_t exceeds this
# fraction of its mean (coefficient of variation). In the stable regime r_t
# varies by a few percent from batch to batch. In strong oscillation it swings
# by a sizeable fraction of its level.
R_STRONG_OSCILLATION_CV = 0.25

# |cross-correlation| of d_t and r_t above which the two series move together.
# For independent series of n points its standard deviation is about 1 / sqrt(n),
# 0.1 at n = 100, so 0.3 is three standard deviations above chance.
COUPLED_CROSS_CORRELATION = 0.3

# A collapse warning also needs the mean of d over this last fraction of the window
# to be negative, so that it rests on measured values and not only on the fitted line.
COLLAPSE_RECENT_FRACTION = 0.25

REGIMES = (
    "stable",  # d_t oscillates around 0 and r_t is settled with a weak oscillation.
    "strong_oscillation",  # As stable, but r_t swings by more than R_STRONG_OSCILLATION_CV.
    "unstable",  # r_t is still growing or shrinking across the window.
    "collapse",  # d_t stays negative and is not returning to 0.
    "biased",  # d_t does not oscillate around 0 but ends above 0 or is returning to 0.
    "diverged",  # d_t or r_t contains NaN or infinity.
)


@dataclasses.dataclass(frozen=True)
class LearningDiagnostics:
    """Summary of the recent window of the d_t and r_t series.

    Attributes:
      num_points: number of points in the window.
      d_mean: mean of d over the window.
      d_standard_error: standard error of `d_mean`, corrected for autocorrelation
        with the effective sample size n (1 - rho1) / (1 + rho1), where rho1 is the
        lag-1 autocorrelation clipped to [0, 1).
      d_std: standard deviation of d.
      d_zero_crossing_rate: fraction of consecutive pairs of d whose signs differ.
      d_lag1_autocorrelation: lag-1 autocorrelation of d (NaN for a constant d).
      d_change: change of the least-squares line through d across the window,
        in energy units; negative when d is decreasing.
      d_fitted_end: value of that line at the last point.
      r_mean: mean of r.
      r_relative_drift: change of the least-squares line through r across the
        window divided by `r_mean`; +0.5 means r grew by half its mean.
      r_coefficient_of_variation: standard deviation of r divided by `r_mean`.
      d_r_max_abs_cross_correlation: maximum over lags of |corr(d_t, r_{t+k})|.
      d_r_cross_correlation_lag: lag k of that maximum, in logged points; k > 0
        means r follows d by k points.
      d_oscillates_around_zero: whether d is centred at 0, changes sign and
        does not drift (D_MEAN_TOLERANCE, MIN_ZERO_CROSSING_RATE, D_TREND_TOLERANCE).
      r_trend: 'stable', 'growing' or 'shrinking'; 'undefined' when diverged.
      oscillation: 'weak' or 'strong', from `r_coefficient_of_variation`;
        'undefined' when diverged.
      collapse_warning: whether d ends the window below 0, the fitted line
        extended by one more window stays below 0 and the last
        COLLAPSE_RECENT_FRACTION of the window averages below 0. It is also True
        when diverged.
      regime: one of `REGIMES`.
      verdict: one or two sentences that explain `regime` with the numbers.
    """

    num_points: int
    d_mean: float
    d_standard_error: float
    d_std: float
    d_zero_crossing_rate: float
    d_lag1_autocorrelation: float
    d_change: float
    d_fitted_end: float
    r_mean: float
    r_relative_drift: float
    r_coefficient_of_variation: float
    d_r_max_abs_cross_correlation: float
    d_r_cross_correlation_lag: int
    d_oscillates_around_zero: bool
    r_trend: str
    oscillation: str
    collapse_warning: bool
    regime: str
    verdict: str


def autocorrelation(x, max_lag):
    """Compute the sample autocorrelation of a series at lags 0..max_lag.

    rho(k) = sum_{t=0}^{n-k-1} (x_t - mean)(x_{t+k} - mean) / sum_t (x_t - mean)^2,
    the usual biased estimator (both sums over n), so rho(0) = 1 and |rho(k)| <= 1.

    Args:
      x: 1-D array-like of finite floats with n > max_lag points.
      max_lag: int >= 0, the largest lag.

    Returns:
      float64 array of shape (max_lag + 1,), index k for lag k. All NaN when x is
      constant, because the autocorrelation of a constant series is undefined.

    Raises:
      ValueError: if x is not 1-D or not finite, or max_lag is not in [0, n).
    """
    x = _as_series(x, "x")
    max_lag = _check_max_lag(max_lag, len(x))
    centred = x - x.mean()
    sum_of_squares = np.dot(centred, centred)
    if sum_of_squares == 0.0:
        return np.full(max_lag + 1, np.nan)
    full = scipy.signal.correlate(centred, centred, mode="full")
    zero = len(x) - 1
    return full[zero : zero + max_lag + 1] / sum_of_squares


def cross_correlation(x, y, max_lag):
    """Compute the sample cross-correlation corr(x_t, y_{t+k}) at lags -max_lag..max_lag.

    rho_xy(k) = sum_t (x_t - mean x)(y_{t+k} - mean y) / sqrt(sum (x - mean x)^2
    sum (y - mean y)^2), summing over the t where both terms exist. A peak at
    k > 0 means y repeats x k points later.

    Args:
      x, y: 1-D array-likes of finite floats, both with n > max_lag points.
      max_lag: int >= 0, the largest lag.

    Returns:
      float64 array of shape (2 * max_lag + 1,); index max_lag + k contains lag k, so
      `np.arange(-max_lag, max_lag + 1)` gives the lags. All NaN when x or y is
      constant.

    Raises:
      ValueError: if x or y is not 1-D or not finite, their lengths differ, or
        max_lag is not in [0, n).
    """
    x = _as_series(x, "x")
    y = _as_series(y, "y")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have equal length; received {len(x)} and {len(y)}.")
    max_lag = _check_max_lag(max_lag, len(x))
    x_centred = x - x.mean()
    y_centred = y - y.mean()
    norm = np.sqrt(np.dot(x_centred, x_centred) * np.dot(y_centred, y_centred))
    if norm == 0.0:
        return np.full(2 * max_lag + 1, np.nan)
    # correlate(a, v)[zero + k] = sum_t a[t + k] v[t]; with a = y, v = x this is lag k.
    full = scipy.signal.correlate(y_centred, x_centred, mode="full")
    zero = len(x) - 1
    return full[zero - max_lag : zero + max_lag + 1] / norm


def analyze(d, r, window=DEFAULT_WINDOW, steps=None):
    """Summarize the last `window` points of the d_t and r_t series.

    Args:
      d: 1-D array-like, the energy difference mean F(X+) - mean F(X-) per update.
      r: 1-D array-like of the same length, the mean Langevin gradient norm.
      window: number of most recent points to analyze; the whole series when it
        is shorter. At least MIN_WINDOW points must be available.
      steps: optional 1-D array-like of the training steps of the points, used as
        the time axis of the trend lines; the point index by default. The
        relative drift and d_change do not depend on the unit of this axis.

    Returns:
      A `LearningDiagnostics`. When the window contains NaN or infinity, its
      statistics are NaN and the regime is 'diverged'.

    Raises:
      ValueError: if the inputs are not 1-D, differ in length, hold fewer than
        MIN_WINDOW points, or `window` < MIN_WINDOW.
    """
    d = _as_series(d, "d", allow_non_finite=True)
    r = _as_series(r, "r", allow_non_finite=True)
    if len(d) != len(r):
        raise ValueError(f"`d` and `r` must have equal length; received {len(d)} and {len(r)}.")
    if steps is None:
        steps = np.arange(len(d), dtype=np.float64)
    else:
        steps = _as_series(steps, "steps")
        if len(steps) != len(d):
            raise ValueError(f"`steps` must have the length of `d` ({len(d)}); received {len(steps)}.")
    if int(window) != window or window < MIN_WINDOW:
        raise ValueError(f"`window` must be an integer >= {MIN_WINDOW}; received {window!r}.")
    if len(d) < MIN_WINDOW:
        raise ValueError(
            f"`analyze` needs at least {MIN_WINDOW} points of d and r; received {len(d)}. "
            "Log d and r more often or train longer."
        )

    window = min(int(window), len(d))
    d, r, steps = d[-window:], r[-window:], steps[-window:]
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(r))):
        return _diverged(window)

    d_stats = _d_statistics(d, steps)
    r_stats = _r_statistics(r, steps)
    max_lag = min(MAX_ANALYSIS_LAG, window // 4)
    correlations = cross_correlation(d, r, max_lag)
    if np.all(np.isnan(correlations)):
        max_abs_correlation, correlation_lag = float("nan"), 0
    else:
        magnitudes = np.nan_to_num(np.abs(correlations), nan=-1.0)
        best = int(np.argmax(magnitudes))
        max_abs_correlation, correlation_lag = float(magnitudes[best]), best - max_lag

    d_oscillates = _oscillates_around_zero(d_stats)
    if r_stats["relative_drift"] > R_DRIFT_TOLERANCE:
        r_trend = "growing"
    elif r_stats["relative_drift"] < -R_DRIFT_TOLERANCE:
        r_trend = "shrinking"
    else:
        r_trend = "stable"
    oscillation = "strong" if r_stats["coefficient_of_variation"] > R_STRONG_OSCILLATION_CV else "weak"
    # Collapse: d ends the window below 0, the fitted line extended by one more window
    # would still be below 0, and the last points are below 0 on average. The last
    # condition excludes a positive d decaying towards 0, whose fitted line crosses 0.
    d_end = d_stats["fitted_end"]
    recent_size = max(int(window * COLLAPSE_RECENT_FRACTION), 1)
    d_recent_mean = float(np.mean(d[-recent_size:]))
    collapse_warning = (
        (not d_oscillates) and d_end < 0.0 and d_end + d_stats["change"] < 0.0 and d_recent_mean < 0.0
    )

    summary = dict(
        num_points=window,
        d_mean=d_stats["mean"],
        d_standard_error=d_stats["standard_error"],
        d_std=d_stats["std"],
        d_zero_crossing_rate=d_stats["zero_crossing_rate"],
        d_lag1_autocorrelation=d_stats["lag1_autocorrelation"],
        d_change=d_stats["change"],
        d_fitted_end=d_stats["fitted_end"],
        r_mean=r_stats["mean"],
        r_relative_drift=r_stats["relative_drift"],
        r_coefficient_of_variation=r_stats["coefficient_of_variation"],
        d_r_max_abs_cross_correlation=max_abs_correlation,
        d_r_cross_correlation_lag=correlation_lag,
        d_oscillates_around_zero=d_oscillates,
        r_trend=r_trend,
        oscillation=oscillation,
        collapse_warning=collapse_warning,
    )
    regime, verdict = _verdict(summary)
    return LearningDiagnostics(regime=regime, verdict=verdict, **summary)


def diagnostics_from_csv(path, window=DEFAULT_WINDOW):
    """Read a training metrics CSV and `analyze` its d and r columns.

    Args:
      path: CSV file with a header row that contains at least the columns `step`,
        `d` and `r`; other columns (such as `energy_pos`, `energy_neg`, `lr`) are
        ignored. Empty cells and `nan` read as NaN.
      window: passed to `analyze`.

    Returns:
      The `LearningDiagnostics` of the file's rows in file order.

    Raises:
      ValueError: if a required column is missing or a cell is not a number.
    """
    columns = {"step": [], "d": [], "r": []}
    with open(path, newline="") as csv_file:
        reader = csv.DictReader(csv_file)
        missing = sorted(set(columns) - set(reader.fieldnames or ()))
        if missing:
            raise ValueError(
                f"Metrics CSV {path} is missing the columns {missing}; it has "
                f"{reader.fieldnames}. Expected at least `step`, `d` and `r`."
            )
        for line, row in enumerate(reader, start=2):
            for name, values in columns.items():
                values.append(_parse_float(row[name], path, line, name))
    return analyze(columns["d"], columns["r"], window=window, steps=columns["step"])


def _d_statistics(d, steps):
    n = len(d)
    mean = float(d.mean())
    std = float(d.std())
    lag1 = float(autocorrelation(d, 1)[1])
    # Effective sample size under an AR(1) model; negative correlation is not
    # credited, so the standard error is never smaller than the i.i.d. one.
    rho = 0.0 if np.isnan(lag1) else min(max(lag1, 0.0), 1.0 - 1e-6)
    effective_size = max(n * (1.0 - rho) / (1.0 + rho), 1.0)
    signs = np.sign(d)
    sign_changes = np.count_nonzero(signs[1:] * signs[:-1] < 0)
    return dict(
        mean=mean,
        std=std,
        standard_error=std / np.sqrt(effective_size),
        zero_crossing_rate=sign_changes / (n - 1),
        lag1_autocorrelation=lag1,
        **_fitted_line(steps, d),
    )


def _r_statistics(r, steps):
    mean = float(r.mean())
    if mean == 0.0:
        # r is a norm, so a zero mean means r is 0 throughout: no drift, no spread.
        return dict(mean=0.0, relative_drift=0.0, coefficient_of_variation=0.0)
    return dict(
        mean=mean,
        relative_drift=_fitted_line(steps, r)["change"] / abs(mean),
        coefficient_of_variation=float(r.std()) / abs(mean),
    )


def _fitted_line(steps, values):
    """Fit a least-squares line; return its change across the steps and its value at the last step."""
    span = steps[-1] - steps[0]
    if span == 0.0:
        return dict(change=0.0, fitted_end=float(values.mean()))
    slope, intercept = np.polyfit(steps, values, deg=1)
    return dict(change=float(slope * span), fitted_end=float(slope * steps[-1] + intercept))


def _oscillates_around_zero(d_stats):
    if d_stats["zero_crossing_rate"] < MIN_ZERO_CROSSING_RATE:
        return False
    centred = abs(d_stats["mean"]) <= D_MEAN_TOLERANCE * d_stats["std"]
    no_drift = abs(d_stats["change"]) <= D_TREND_TOLERANCE * d_stats["std"]
    return bool(centred and no_drift)


def _verdict(summary):
    """Pick the regime and write the verdict from the numbers of `analyze`."""
    d_text = (
        f"mean d = {summary['d_mean']:.4g} (standard error {summary['d_standard_error']:.2g}, "
        f"standard deviation {summary['d_std']:.2g}, sign changes in "
        f"{100 * summary['d_zero_crossing_rate']:.0f}% of consecutive points)"
    )
    r_text = (
        f"r drifts by {100 * summary['r_relative_drift']:+.0f}% of its mean "
        f"{summary['r_mean']:.3g} across the window (coefficient of variation "
        f"{summary['r_coefficient_of_variation']:.2f})"
    )
    coupled = summary["d_r_max_abs_cross_correlation"] >= COUPLED_CROSS_CORRELATION
    coupling_text = (
        f"d and r move together (|cross-correlation| {summary['d_r_max_abs_cross_correlation']:.2f} "
        f"at lag {summary['d_r_cross_correlation_lag']})"
        if coupled
        else "d and r are not strongly coupled"
    )

    if summary["collapse_warning"]:
        return "collapse", (
            f"Collapse warning: d is negative and not returning to 0 ({d_text}; the "
            f"fitted line ends at {summary['d_fitted_end']:.3g} after a change of "
            f"{summary['d_change']:+.3g} across the window). The negative "
            "samples no longer reach the low energy of the data, so learning is unstable."
        )
    if summary["r_trend"] != "stable":
        return "unstable", (
            f"Unstable: r is still {summary['r_trend']}; {r_text}. Learning has not "
            f"settled. Also {d_text}."
        )
    if not summary["d_oscillates_around_zero"]:
        side = "is positive" if summary["d_fitted_end"] >= 0 else "is negative but returning towards 0"
        return "biased", (
            f"Biased: d {side} instead of oscillating around 0 ({d_text}); "
            f"r is settled ({r_text})."
        )
    if summary["oscillation"] == "strong":
        return "strong_oscillation", (
            f"Strong oscillation: d oscillates around 0 ({d_text}), and r swings by a "
            f"large fraction of its level ({r_text}); {coupling_text}."
        )
    return "stable", (
        f"Stable: d oscillates around 0 ({d_text}) with a weak oscillation of a "
        f"settled r ({r_text}); {coupling_text}."
    )


def _diverged(window):
    nan = float("nan")
    return LearningDiagnostics(
        num_points=window,
        d_mean=nan,
        d_standard_error=nan,
        d_std=nan,
        d_zero_crossing_rate=nan,
        d_lag1_autocorrelation=nan,
        d_change=nan,
        d_fitted_end=nan,
        r_mean=nan,
        r_relative_drift=nan,
        r_coefficient_of_variation=nan,
        d_r_max_abs_cross_correlation=nan,
        d_r_cross_correlation_lag=0,
        d_oscillates_around_zero=False,
        r_trend="undefined",
        oscillation="undefined",
        collapse_warning=True,
        regime="diverged",
        verdict="Diverged: d or r contains NaN or infinity in the window, so training has failed.",
    )


def _as_series(values, name, allow_non_finite=False):
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D series; received shape {array.shape}.")
    if not allow_non_finite and not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must contain only finite values; it contains NaN or infinity.")
    return array


def _check_max_lag(max_lag, length):
    if int(max_lag) != max_lag or not 0 <= max_lag < length:
        raise ValueError(
            f"`max_lag` must be an integer in [0, {length}) for a series of {length} points; "
            f"received {max_lag!r}."
        )
    return int(max_lag)


def _parse_float(text, path, line, column):
    text = (text or "").strip()
    if not text:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"Invalid number {text!r} in column `{column}` of metrics CSV {path}, line {line}."
        ) from None
