"""Small statistics used by the check cells: power-law fits and Monte-Carlo error bars.

These run on concrete (host) arrays after an experiment, so they use NumPy.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["PowerLawFit", "power_law_fit", "LogLinearFit", "log_linear_fit", "mean_stderr",
           "BootstrapSlope", "bootstrap_power_law",
           "CorrectedPowerLaw", "bootstrap_corrected_power_law"]


class PowerLawFit(NamedTuple):
    """``y ≈ exp(intercept) · x**slope``, fitted by least squares on ``(log x, log y)``.

    ``slope_stderr`` is the usual OLS standard error of the slope (0 for two points).
    """
    slope: float
    intercept: float
    slope_stderr: float

    def __call__(self, x):
        return np.exp(self.intercept) * np.asarray(x, dtype=float) ** self.slope


def _paired_1d(a, b, names, min_points):
    """``a`` and ``b`` as float64 1-D arrays of equal length ``>= min_points`` (else ``ValueError``
    naming them as ``names``)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be 1-D of equal length, got shapes {a.shape} and {b.shape}")
    if a.size < min_points:
        raise ValueError(f"{names[0]} needs at least {min_points} points for a fit, got {a.size}")
    return a, b


def power_law_fit(x, y) -> PowerLawFit:
    """Fit ``log y = intercept + slope · log x`` by ordinary least squares.

    Raises ``ValueError`` unless ``x`` and ``y`` are 1-D, of equal length >= 2, positive and finite.
    """
    x, y = _paired_1d(x, y, ("x", "y"), 2)
    for name, v in (("x", x), ("y", y)):
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{name} must be positive and finite for a log-log fit")
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    n = x.size
    if n > 2:
        resid = ly - (intercept + slope * lx)
        s2 = resid @ resid / (n - 2)
        stderr = float(np.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    else:
        stderr = 0.0
    return PowerLawFit(float(slope), float(intercept), stderr)


class LogLinearFit(NamedTuple):
    """``y ≈ exp(intercept + slope · t)``, fitted by least squares on ``(t, log y)`` (an exponential
    rate ``slope``); ``slope_stderr`` is the OLS standard error of the slope and ``half_drift`` the
    change of the fitted slope between the first and the second half of the points."""
    slope: float
    intercept: float
    slope_stderr: float
    half_drift: float


def _ols_line(t, u):
    """Slope, intercept and residuals of the least-squares line ``u ≈ intercept + slope · t``."""
    tc = t - t.mean()
    slope = float(tc @ (u - u.mean()) / (tc @ tc))
    intercept = float(u.mean() - slope * t.mean())
    return slope, intercept, u - intercept - slope * t


def log_linear_fit(t, y) -> LogLinearFit:
    """Fit ``log y = intercept + slope · t`` by ordinary least squares: the rate of an exponential
    decay or growth ``y ∝ exp(slope · t)`` over a window of times ``t``.

    ``slope = Σ (t_i − t̄)(log y_i − mean log y) / S_tt`` with ``S_tt = Σ (t_i − t̄)²``;
    ``slope_stderr = √(Σ r_i² / ((n − 2) S_tt))`` with ``r_i`` the residuals (the usual OLS standard
    error, which treats the residuals as independent); ``half_drift = |ŝ₁ − ŝ₂|``, the slopes fitted
    to the first ``⌊n/2⌋`` and to the remaining points. The drift measures curvature of ``log y``
    along the window that the residual-based error does not: for ``log y = a + s t + c t²`` on
    equally spaced ``t`` it is ``2|c| (t̄₂ − t̄₁)``, with ``t̄₁, t̄₂`` the halves' mean times.

    Raises ``ValueError`` unless ``t`` and ``y`` are 1-D of equal length ``n >= 4``, finite, ``y``
    positive, and each half has at least two distinct ``t``. Inputs may be float32 or float64; the
    fit is computed in float64.
    """
    t, y = _paired_1d(t, y, ("t", "y"), 4)
    if not np.all(np.isfinite(t)):
        raise ValueError("t must be finite")
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("y must be positive and finite for a log fit")
    h = t.size // 2
    if np.unique(t[:h]).size < 2 or np.unique(t[h:]).size < 2:
        raise ValueError("t must have at least two distinct values in each half")
    u = np.log(y)
    slope, intercept, resid = _ols_line(t, u)
    s_tt = np.sum((t - t.mean()) ** 2)
    stderr = float(np.sqrt(resid @ resid / ((t.size - 2) * s_tt)))
    drift = abs(_ols_line(t[:h], u[:h])[0] - _ols_line(t[h:], u[h:])[0])
    return LogLinearFit(slope, intercept, stderr, float(drift))


def mean_stderr(samples, axis: int = 0):
    """Monte-Carlo mean and its standard error ``std / sqrt(m)`` along ``axis`` (m = sample count)."""
    s = np.asarray(samples, dtype=float)
    m = s.shape[axis]
    if m < 2:
        raise ValueError(f"samples needs at least 2 draws along axis {axis}, got {m}")
    return s.mean(axis=axis), s.std(axis=axis, ddof=1) / np.sqrt(m)


class BootstrapSlope(NamedTuple):
    """What :func:`bootstrap_power_law` returns: the power-law ``fit`` of the per-x summary
    statistic, the bootstrap standard error ``stderr`` of its slope, and the bootstrap ``slopes``."""
    fit: PowerLawFit
    stderr: float
    slopes: np.ndarray


def _bootstrap_summaries(x, samples, statistic: str, n_boot: int, seed: int):
    """Per-x summary (median or mean over the R repetitions) of ``samples`` ``(len(x), R)`` and
    ``n_boot`` bootstrap copies of it, ``(n_boot, len(x))``: the repetitions are resampled with
    replacement independently for each x (NumPy generator seeded with ``seed``). ``samples`` may
    also be a list or tuple of ``len(x)`` 1-D arrays of different lengths ``R_i``."""
    if isinstance(samples, (list, tuple)) and len({np.size(r) for r in samples}) > 1:
        return _ragged_bootstrap_summaries(x, samples, statistic, n_boot, seed)
    s = np.asarray(samples, dtype=float)
    if x.ndim != 1 or s.ndim != 2 or s.shape[0] != x.shape[0]:
        raise ValueError(f"samples must have shape (len(x), R) = ({x.shape[0] if x.ndim == 1 else '?'}, R), "
                         f"got {s.shape}")
    if s.shape[1] < 2:
        raise ValueError(f"samples needs at least 2 repetitions per x, got {s.shape[1]}")
    stat = _summary_function(statistic, n_boot)
    idx = np.random.default_rng(seed).integers(0, s.shape[1], size=(n_boot, s.shape[0], s.shape[1]))
    return stat(s, axis=1), stat(np.take_along_axis(s[None], idx, axis=2), axis=2)


def _summary_function(statistic, n_boot):
    """The per-x summary (np.median or np.mean) after validating ``statistic`` and ``n_boot``."""
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}")
    if not isinstance(n_boot, int) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    return np.median if statistic == "median" else np.mean


def _ragged_bootstrap_summaries(x, samples, statistic, n_boot, seed):
    """:func:`_bootstrap_summaries` for ``R_i`` repetitions at ``x_i`` (a list of 1-D arrays).

    Row ``i`` is resampled within itself, ``R_i`` draws with replacement, so the bootstrap variance
    of its mean is the plug-in ``(R_i − 1)/R_i · s_i²/R_i`` (``s_i²`` the sample variance, ddof=1):
    low against ``s_i²/R_i`` by the factor ``(R_i − 1)/R_i``, different from row to row (see
    :func:`bootstrap_corrected_power_law`). No rescaling is applied."""
    rows = [np.asarray(r, dtype=float) for r in samples]
    if x.ndim != 1 or len(rows) != x.shape[0] or any(r.ndim != 1 for r in rows):
        raise ValueError(f"samples must be len(x) = {x.shape[0] if x.ndim == 1 else '?'} 1-D arrays, "
                         f"got shapes {[r.shape for r in rows]}")
    if min(r.size for r in rows) < 2:
        raise ValueError(f"samples needs at least 2 repetitions per x, got {[r.size for r in rows]}")
    stat = _summary_function(statistic, n_boot)
    rng = np.random.default_rng(seed)
    boot = [stat(r[rng.integers(0, r.size, size=(n_boot, r.size))], axis=1) for r in rows]
    return np.array([stat(r) for r in rows]), np.stack(boot, axis=1)


def bootstrap_power_law(x, samples, *, n_boot: int = 400, seed: int = 0,
                        statistic: str = "median") -> BootstrapSlope:
    """Power-law fit of ``statistic(samples[i, :])`` against ``x[i]``, with a bootstrap error bar.

    ``samples`` has shape ``(len(x), R)``: R independent repetitions of the experiment at each x
    (positive values, e.g. test errors). The summary per x is the ``"median"`` or ``"mean"`` over
    repetitions; the bootstrap resamples the R repetitions with replacement, independently for each
    x, ``n_boot`` times (NumPy generator seeded with ``seed``) and refits the slope. With the
    ``"mean"`` summary the error bar has the small-sample biases stated in
    :func:`bootstrap_corrected_power_law` (low by ``√((R − 1)/R)``).
    """
    x = np.asarray(x, dtype=float)
    m, boot = _bootstrap_summaries(x, samples, statistic, n_boot, seed)
    fit = power_law_fit(x, m)
    lx = np.log(x) - np.log(x).mean()
    slopes = (np.log(boot) - np.log(boot).mean(axis=1, keepdims=True)) @ lx / (lx @ lx)
    return BootstrapSlope(fit, float(np.std(slopes, ddof=1)), slopes)


class CorrectedPowerLaw(NamedTuple):
    """What :func:`bootstrap_corrected_power_law` returns.

    The joint least-squares fit ``log m(x) = intercept + slope · log x + Σ_k c_k · x**(-order_k)``
    of the per-x summary ``m``, the bootstrap standard errors of its coefficients, and the bootstrap
    coefficients ``boot`` (shape ``(n_boot, 2 + K)``: intercept, slope, c_1, ..., c_K). With one
    correction (``order`` a number) ``order``, ``correction`` and ``correction_stderr`` are floats;
    with a tuple of K orders they are tuples of length K.
    """
    slope: float
    intercept: float
    correction: float | tuple
    order: float | tuple
    slope_stderr: float
    intercept_stderr: float
    correction_stderr: float | tuple
    boot: np.ndarray

    def tilt(self, x) -> float:
        """``|Σ_k c_k κ_k|`` with ``κ_k`` the least-squares slope of ``x**(-order_k)`` against
        ``log x`` over the points ``x``: the shift that the fitted correction terms leave on the
        slope of a plain power-law fit (:func:`power_law_fit`) over those points."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)) or np.any(x <= 0):
            raise ValueError("x must be 1-D, positive and finite, with at least 2 points")
        orders, cs = np.atleast_1d(self.order), np.atleast_1d(self.correction)
        kappa = np.polyfit(np.log(x), x[:, None] ** -orders[None, :], 1)[0]
        return float(abs(cs @ kappa))


def bootstrap_corrected_power_law(x, samples, *, order: float | tuple = 0.5, n_boot: int = 400,
                                  seed: int = 0, statistic: str = "mean") -> CorrectedPowerLaw:
    """Power law with finite-size corrections, ``m(x) ≈ exp(b) · x**s · exp(Σ_k c_k · x**(-a_k))``.

    Fits ``log m(x_i) = b + s · log x_i + Σ_{k=1}^K c_k · x_i**(-a_k)`` by least squares, where
    ``a = order`` is one positive number (K = 1) or a tuple of K distinct positive numbers (e.g.
    ``(0.5, 1.0)`` for an expansion in powers of ``x^{-1/2}`` to second order), and ``m(x_i)`` is
    the ``"mean"`` or ``"median"`` of the repetitions at ``x_i`` (positive values): ``samples`` is
    an array ``(len(x), R)`` or a list of ``len(x)`` 1-D arrays of lengths ``R_i`` (more repetitions
    where they are cheap). The terms model the relative finite-size correction
    ``1 + c_1 x^{-a_1} + ...`` of the quantity (``a = 1/2`` for a CLT average, ``1`` for an
    expansion in ``1/x``); because ``s`` and the ``c_k`` are fitted together, a pure power law with
    any exponent is recovered with all ``c_k ≈ 0`` and is not absorbed into the corrections.
    Standard errors: the repetitions are resampled with replacement independently for each x,
    ``n_boot`` times (NumPy generator seeded with ``seed``, as in :func:`bootstrap_power_law`), and
    all coefficients are refitted. Needs at least ``K + 2`` distinct x. Inputs may be float32 or
    float64; the fit is computed in float64.

    Two small-sample biases of the ``"mean"`` summary that the standard errors do not include:

    * The bootstrap variance of a mean of ``R_i`` draws is ``(R_i − 1)/R_i · s_i²/R_i``, so each
      row's contribution to the bootstrap variance is low by ``(R_i − 1)/R_i``. By the delta
      method, with ``P = pinv(A)`` for the design ``A = [1, log x, x^(-a_1), ...]`` and ``CV_i`` the
      coefficient of variation of the repetitions at ``x_i``,
      ``slope_stderr² ≈ Σ_i P[1,i]² CV_i² (R_i − 1)/R_i²`` against the true
      ``Var(slope) ≈ Σ_i P[1,i]² CV_i²/R_i``. With one ``R`` for all x the standard errors are low by
      the factor ``√((R − 1)/R)`` (29 % at ``R = 2``, 3 % at ``R = 16``); ``R_i >= 2`` is required,
      and a caller with small ``R`` should multiply by ``√(R/(R − 1))`` or use more repetitions.
      The bootstrap deviations are not rescaled here, so the numbers are the plain bootstrap ones.
    * ``E log m_i ≈ log E m_i − CV_i²/(2 R_i)``. With one ``R`` this is a constant, absorbed by the
      intercept; with ragged ``R_i`` it varies with x and shifts the slope by
      ``−Σ_i P[1,i] CV_i²/(2 R_i)``, a bias the bootstrap does not see. Against the standard error
      it grows like ``CV``: at ``CV = 1`` it is 0.02 standard errors for the kernel design of
      chapter 1.5 (``R_i = 768, ..., 48`` over ``n = 256, ..., 65536``, orders ``(1/2, 1)``), and
      0.12 for ``R_i = 64, ..., 4`` over 9 points from 256 to 65536 with the same orders.
    """
    x = np.asarray(x, dtype=float)
    orders = np.atleast_1d(np.asarray(order, dtype=float))
    if orders.ndim != 1 or orders.size == 0 or not np.all(np.isfinite(orders)) or np.any(orders <= 0) \
            or np.unique(orders).size != orders.size:
        raise ValueError(f"order must be positive and finite (a number or a tuple of distinct ones), got {order!r}")
    if x.ndim == 1 and np.unique(x).size < orders.size + 2:
        raise ValueError(f"x needs at least {orders.size + 2} distinct points to fit slope and "
                         f"{orders.size} correction(s), got {x}")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("x must be positive and finite")
    rows = samples if isinstance(samples, (list, tuple)) else [np.asarray(samples, dtype=float)]
    if not all(np.all(np.isfinite(np.asarray(r, dtype=float))) and np.all(np.asarray(r, dtype=float) > 0)
               for r in rows):
        raise ValueError("samples must be positive and finite for a log fit")
    m, boot_m = _bootstrap_summaries(x, samples, statistic, n_boot, seed)
    A = np.c_[np.ones(x.size), np.log(x), x[:, None] ** -orders[None, :]]
    coef = np.linalg.lstsq(A, np.log(m), rcond=None)[0]
    boot = np.linalg.lstsq(A, np.log(boot_m).T, rcond=None)[0].T                # (n_boot, 2 + K)
    se = np.std(boot, axis=0, ddof=1)
    one = np.ndim(order) == 0
    pick = (lambda v: float(v[0])) if one else (lambda v: tuple(float(u) for u in v))
    return CorrectedPowerLaw(float(coef[1]), float(coef[0]), pick(coef[2:]),
                             float(order) if one else tuple(float(a) for a in orders),
                             float(se[1]), float(se[0]), pick(se[2:]), boot)
