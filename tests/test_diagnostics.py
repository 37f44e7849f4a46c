"""Tests for tf_ebm.diagnostics (correlation estimators, learning verdicts) and its plot."""

import matplotlib.image
import numpy as np
import pytest

from tf_ebm import diagnostics
from tf_ebm import plots


def _ar1(coefficient, num_points, seed):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=num_points)
    series = np.empty(num_points)
    series[0] = noise[0] / np.sqrt(1.0 - coefficient**2)
    for t in range(1, num_points):
        series[t] = coefficient * series[t - 1] + noise[t]
    return series


def _direct_autocorrelation(x, lag):
    centred = x - x.mean()
    return np.sum(centred[: len(x) - lag] * centred[lag:]) / np.sum(centred**2)


# Correlation estimators.


def test_autocorrelation_white_noise():
    num_points = 20000
    x = np.random.default_rng(0).normal(size=num_points)
    acf = diagnostics.autocorrelation(x, max_lag=20)
    assert acf.shape == (21,)
    assert acf[0] == pytest.approx(1.0)
    # Each lag has standard deviation about 1 / sqrt(n); 4 of them bounds all 20 lags.
    np.testing.assert_array_less(np.abs(acf[1:]), 4.0 / np.sqrt(num_points))


@pytest.mark.parametrize("coefficient", [0.5, 0.9, -0.6])
def test_autocorrelation_ar1_decays_geometrically(coefficient):
    x = _ar1(coefficient, 50000, seed=1)
    acf = diagnostics.autocorrelation(x, max_lag=5)
    expected = coefficient ** np.arange(6)
    np.testing.assert_allclose(acf, expected, atol=0.03)


def test_autocorrelation_matches_direct_formula():
    x = np.random.default_rng(2).normal(size=300).cumsum()
    acf = diagnostics.autocorrelation(x, max_lag=30)
    expected = [_direct_autocorrelation(x, lag) for lag in range(31)]
    np.testing.assert_allclose(acf, expected, rtol=1e-10, atol=1e-12)


def test_autocorrelation_matches_numpy_correlate():
    x = np.random.default_rng(3).normal(size=257)
    centred = x - x.mean()
    full = np.correlate(centred, centred, mode="full") / np.dot(centred, centred)
    acf = diagnostics.autocorrelation(x, max_lag=40)
    np.testing.assert_allclose(acf, full[256 : 256 + 41], rtol=1e-10, atol=1e-12)


def test_autocorrelation_constant_series_is_nan():
    assert np.all(np.isnan(diagnostics.autocorrelation(np.ones(10), max_lag=3)))


def test_cross_correlation_peaks_at_shift():
    shift = 7
    base = np.random.default_rng(4).normal(size=2000 + shift)
    x = base[shift:]
    y = base[:-shift]  # y_t = x_{t - shift}: y repeats x `shift` points later.
    max_lag = 20
    values = diagnostics.cross_correlation(x, y, max_lag)
    lags = np.arange(-max_lag, max_lag + 1)
    assert values.shape == (2 * max_lag + 1,)
    assert lags[np.argmax(values)] == shift
    assert values[max_lag + shift] > 0.98
    others = np.delete(values, max_lag + shift)
    np.testing.assert_array_less(np.abs(others), 0.1)


def test_cross_correlation_matches_direct_formula():
    rng = np.random.default_rng(5)
    x = rng.normal(size=200)
    y = 0.5 * np.roll(x, 3) + rng.normal(size=200)
    max_lag = 10
    values = diagnostics.cross_correlation(x, y, max_lag)
    x_centred, y_centred = x - x.mean(), y - y.mean()
    norm = np.sqrt(np.sum(x_centred**2) * np.sum(y_centred**2))
    n = len(x)
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            expected = np.sum(x_centred[: n - lag] * y_centred[lag:]) / norm
        else:
            expected = np.sum(x_centred[-lag:] * y_centred[: n + lag]) / norm
        assert values[max_lag + lag] == pytest.approx(expected, abs=1e-12), lag


def test_cross_correlation_swapping_reverses_lags():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=100), rng.normal(size=100)
    np.testing.assert_allclose(
        diagnostics.cross_correlation(x, y, 9), diagnostics.cross_correlation(y, x, 9)[::-1], atol=1e-12
    )


def test_cross_correlation_with_itself_is_acf():
    x = _ar1(0.8, 500, seed=7)
    acf = diagnostics.autocorrelation(x, 12)
    values = diagnostics.cross_correlation(x, x, 12)
    np.testing.assert_allclose(values[12:], acf, atol=1e-12)
    np.testing.assert_allclose(values[:13][::-1], acf, atol=1e-12)


@pytest.mark.parametrize("max_lag", [-1, 10, 2.5])
def test_correlation_rejects_bad_max_lag(max_lag):
    with pytest.raises(ValueError, match="max_lag"):
        diagnostics.autocorrelation(np.arange(10.0), max_lag)


def test_correlation_rejects_non_finite():
    with pytest.raises(ValueError, match="finite"):
        diagnostics.autocorrelation([0.0, np.nan, 1.0], 1)


def test_cross_correlation_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="equal length"):
        diagnostics.cross_correlation(np.arange(10.0), np.arange(11.0), 2)


# Verdicts on synthetic training series.


def _stable_series(num_points=1500, seed=10):
    d = 0.05 * _ar1(0.3, num_points, seed)
    r = 1.0 + 0.03 * np.random.default_rng(seed + 1).normal(size=num_points)
    return d, r


def test_analyze_stable_regime():
    d, r = _stable_series()
    result = diagnostics.analyze(d, r)
    assert result.num_points == diagnostics.DEFAULT_WINDOW
    assert result.d_oscillates_around_zero
    assert result.r_trend == "stable"
    assert result.oscillation == "weak"
    assert not result.collapse_warning
    assert result.regime == "stable"
    assert result.verdict.startswith("Stable")
    assert result.d_r_max_abs_cross_correlation < diagnostics.COUPLED_CROSS_CORRELATION
    assert abs(result.d_mean) < 3 * result.d_standard_error
    assert 0.2 < result.d_zero_crossing_rate < 0.6


def test_analyze_strong_oscillation_couples_d_and_r():
    lag = 5
    d = _ar1(0.5, 1000 + lag, seed=11)
    # r shrinks after d > 0 (contraction) and grows after d < 0 (expansion), `lag` points later.
    r = np.exp(-0.3 * d[:-lag])
    d = d[lag:]
    result = diagnostics.analyze(d, r)
    assert result.d_oscillates_around_zero
    assert result.r_trend == "stable"
    assert result.oscillation == "strong"
    assert result.regime == "strong_oscillation"
    assert result.d_r_max_abs_cross_correlation > 0.9
    assert result.d_r_cross_correlation_lag == lag
    assert "move together" in result.verdict


def test_analyze_d_to_minus_infinity_warns_collapse():
    rng = np.random.default_rng(12)
    t = np.arange(800)
    d = -0.05 * t + 0.5 * rng.normal(size=t.size)
    r = 1.0 + 0.03 * rng.normal(size=t.size)
    result = diagnostics.analyze(d, r)
    assert result.collapse_warning
    assert not result.d_oscillates_around_zero
    assert result.d_change < 0
    assert result.regime == "collapse"
    assert "Collapse warning" in result.verdict


def test_analyze_d_drifting_through_zero_is_not_oscillation():
    rng = np.random.default_rng(15)
    d = np.linspace(5.0, -5.0, 800) + 1.0 * rng.normal(size=800)
    r = 1.0 + 0.03 * rng.normal(size=800)
    result = diagnostics.analyze(d, r)
    assert abs(result.d_mean) < diagnostics.D_MEAN_TOLERANCE * result.d_std
    assert not result.d_oscillates_around_zero
    assert result.regime == "collapse"


def test_analyze_growing_r_is_unstable():
    d, _ = _stable_series(num_points=1000)
    t = np.arange(1000)
    r = np.exp(t / 1000.0) * (1.0 + 0.03 * np.random.default_rng(13).normal(size=t.size))
    result = diagnostics.analyze(d, r)
    assert result.r_trend == "growing"
    assert result.r_relative_drift > diagnostics.R_DRIFT_TOLERANCE
    assert result.regime == "unstable"


def test_analyze_shrinking_r_is_unstable():
    d, _ = _stable_series(num_points=500)
    r = np.linspace(2.0, 1.0, 500)
    result = diagnostics.analyze(d, r)
    assert result.r_trend == "shrinking"
    assert result.regime == "unstable"


def test_analyze_positive_d_is_biased():
    rng = np.random.default_rng(14)
    d = 1.0 + 0.1 * rng.normal(size=400)
    r = 1.0 + 0.03 * rng.normal(size=400)
    result = diagnostics.analyze(d, r)
    assert not result.d_oscillates_around_zero
    assert not result.collapse_warning
    assert result.regime == "biased"


def test_analyze_decaying_positive_d_is_biased():
    # d falls from 0.13 towards 0 from above. A line fitted through the decay ends below
    # 0, but no value of d is negative.
    rng = np.random.default_rng(16)
    t = np.arange(100)
    d = 0.13 * np.exp(-t / 25.0) + 0.001 + 0.0005 * rng.random(size=t.size)
    r = 1.0 + 0.03 * rng.normal(size=t.size)
    result = diagnostics.analyze(d, r)
    assert np.all(d > 0)
    assert result.d_fitted_end < 0
    assert not result.collapse_warning
    assert result.regime == "biased"


def test_analyze_non_finite_is_diverged():
    d, r = _stable_series(num_points=100)
    r[-1] = np.nan
    result = diagnostics.analyze(d, r)
    assert result.regime == "diverged"
    assert result.collapse_warning
    assert np.isnan(result.d_mean)


def test_analyze_uses_only_window():
    d, r = _stable_series(num_points=600)
    d[:300] = -100.0  # A collapse long ago lies outside the window.
    result = diagnostics.analyze(d, r, window=200)
    assert result.num_points == 200
    assert result.regime == "stable"


def test_analyze_drift_independent_of_step_unit():
    d, _ = _stable_series(num_points=300)
    r = np.linspace(1.0, 1.5, 300)
    by_index = diagnostics.analyze(d, r)
    by_step = diagnostics.analyze(d, r, steps=100 * np.arange(300))
    assert by_index.r_relative_drift == pytest.approx(by_step.r_relative_drift)
    assert by_index.r_relative_drift == pytest.approx(0.5 / 1.25, rel=1e-6)


def test_analyze_rejects_short_series():
    with pytest.raises(ValueError, match="at least"):
        diagnostics.analyze(np.zeros(5), np.ones(5))


def test_analyze_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="equal length"):
        diagnostics.analyze(np.zeros(50), np.ones(40))


# CSV reading.


def test_diagnostics_from_csv(tmp_path):
    d, r = _stable_series(num_points=300)
    path = tmp_path / "metrics.csv"
    lines = ["step,d,r,energy_pos,energy_neg,lr"]
    for step, (d_value, r_value) in enumerate(zip(d.tolist(), r.tolist())):
        lines.append(f"{step},{d_value!r},{r_value!r},0.5,{0.5 - d_value!r},0.0001")
    path.write_text("\n".join(lines) + "\n")
    from_file = diagnostics.diagnostics_from_csv(str(path), window=200)
    direct = diagnostics.analyze(d, r, window=200)
    assert from_file == direct


def test_save_learning_diagnostics_pixel_size(tmp_path):
    d, r = _stable_series(num_points=300)
    path = plots.save_learning_diagnostics(d, r, str(tmp_path / "plots" / "diagnostics.png"), figsize=(8, 6), dpi=50)
    assert matplotlib.image.imread(path).shape[:2] == (300, 400)


def test_save_learning_diagnostics_with_nan(tmp_path):
    d, r = _stable_series(num_points=100)
    d[-1] = np.nan
    path = plots.save_learning_diagnostics(d, r, str(tmp_path / "diagnostics.png"))
    assert matplotlib.image.imread(path).shape[:2] == (700, 1000)


def test_diagnostics_from_csv_missing_column(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,d\n0,0.1\n")
    with pytest.raises(ValueError, match=r"missing the columns \['r'\]"):
        diagnostics.diagnostics_from_csv(str(path))


def test_diagnostics_from_csv_bad_cell(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,d,r\n0,0.1,1.0\n1,abc,1.0\n")
    with pytest.raises(ValueError, match="Invalid number .abc. .*line 3"):
        diagnostics.diagnostics_from_csv(str(path))
