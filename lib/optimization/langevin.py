"""Gradient Langevin dynamics: Gibbs laws, discretization bias, KL decay and escape times.

The gradient Langevin dynamics (GLD) ``dθ = −∇L(θ) dt + √(2/β) dB`` has the Gibbs law
``π_β ∝ exp(−βL)`` as its stationary distribution; its Euler–Maruyama discretization (the
unadjusted Langevin algorithm, ULA) is :func:`lib.mfld.simulate` with a drift that ignores the
other particles and ``temperature = 1/β``. This module holds the closed forms and the measurements
the chapter compares that simulation with.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _validate as v

__all__ = ["double_well", "double_well_grad", "gibbs_on_grid", "kolmogorov_distance",
           "gaussian_kl", "ula_ou_variance", "first_passage_times", "kramers_time"]


def double_well(theta, *, barrier: float = 1.0, tilt: float = 0.0):
    """``L(θ) = h (θ² − 1)² + tilt·θ`` with ``h = barrier`` (elementwise).

    Without tilt: minima at ``±1`` with ``L'' = 8h``, a saddle (local maximum) at ``0`` with
    ``L'' = −4h``, and barrier height ``h``. A positive tilt lowers the left well.
    """
    theta = v.float_array(theta, "theta")
    barrier = v.scalar(barrier, "barrier", positive=True)
    tilt = v.scalar(tilt, "tilt")
    return barrier * (theta**2 - 1) ** 2 + tilt * theta


def double_well_grad(theta, *, barrier: float = 1.0, tilt: float = 0.0):
    """``L'(θ) = 4h θ(θ² − 1) + tilt`` (elementwise); a non-interacting particle drift."""
    return 4 * barrier * theta * (theta**2 - 1) + tilt


def gibbs_on_grid(potential_values, grid, beta):
    """Density and CDF of ``π ∝ exp(−β L)`` on a uniform 1-D ``grid`` (trapezoidal rule).

    ``potential_values`` are ``L`` at the grid points. Returns ``(density, cdf)``, each the length
    of ``grid``; the density integrates to one on the grid and ``cdf[-1] == 1``.
    """
    L = v.float_array(potential_values, "potential_values", ndim=1)
    x = v.float_array(grid, "grid", ndim=1)
    v.same_dim(L, x, "potential_values", "grid")
    beta = v.scalar(beta, "beta", positive=True)
    w = jnp.exp(-beta * (L - L.min()))
    dx = jnp.diff(x)
    pieces = 0.5 * (w[1:] + w[:-1]) * dx
    cdf = jnp.concatenate([jnp.zeros(1, w.dtype), jnp.cumsum(pieces)])
    return w / cdf[-1], cdf / cdf[-1]


def kolmogorov_distance(samples, grid, cdf):
    """``sup_x |F_n(x) − F(x)|`` between the empirical CDF of 1-D ``samples`` and a CDF on a grid.

    The reference CDF is linearly interpolated between grid points; the supremum is taken at the
    sample points (from both sides), where it is attained.
    """
    s = jnp.sort(v.float_array(samples, "samples", ndim=1))
    x = v.float_array(grid, "grid", ndim=1)
    F = jnp.interp(s, x, v.float_array(cdf, "cdf", ndim=1))
    n = s.shape[0]
    upper = jnp.arange(1, n + 1) / n - F
    lower = F - jnp.arange(n) / n
    return jnp.maximum(upper.max(), lower.max())


def gaussian_kl(mean, var, target_var):
    """``KL(N(mean, var) ‖ N(0, target_var))`` in one dimension (elementwise)."""
    mean = v.float_array(mean, "mean")
    var = v.float_array(var, "var")
    ratio = var / target_var
    return 0.5 * (ratio - 1.0 - jnp.log(ratio) + mean**2 / target_var)


def ula_ou_variance(curvature, beta, step_size):
    """Stationary variance of ULA on ``L(θ) = (m/2)θ²``: ``1 / (β m (1 − η m / 2))``.

    The chain ``θ ← (1 − ηm) θ + √(2η/β) ξ`` has stationary variance ``(2η/β)/(1 − (1 − ηm)²)``;
    the continuous-time Gibbs variance is ``1/(βm)``, so the relative bias is ``ηm/2 + O(η²)``.
    Requires ``0 < η m < 2`` (stability).
    """
    m = v.scalar(curvature, "curvature", positive=True)
    beta = v.scalar(beta, "beta", positive=True)
    eta = v.scalar(step_size, "step_size", positive=True)
    if not eta * m < 2:
        raise ValueError(f"step_size * curvature must be < 2 for a stable chain, got {eta * m}")
    return 1.0 / (beta * m * (1.0 - eta * m / 2.0))


@jax.jit
def _first_passage(path, threshold):
    crossed = path >= threshold
    first = jnp.argmax(crossed, axis=0)
    return jnp.where(crossed.any(axis=0), first, -1)


def first_passage_times(trajectory, threshold, dt):
    """First recorded time each chain is at or above ``threshold``; ``inf`` if it never is.

    ``trajectory`` has shape ``(T, N)`` (time-major, e.g. ``lib.mfld.simulate``'s record of 1-D
    particles, squeezed); snapshot ``t`` is at time ``(t + 1)·dt``. Returns shape ``(N,)``.
    """
    path = v.float_array(trajectory, "trajectory", ndim=2)
    threshold = v.scalar(threshold, "threshold")
    dt = v.scalar(dt, "dt", positive=True)
    first = _first_passage(path, threshold)
    return jnp.where(first >= 0, (first + 1) * dt, jnp.inf)


def kramers_time(barrier, curvature_min, curvature_saddle, beta):
    """Eyring–Kramers mean escape time ``2π / √(L''(min)·|L''(saddle)|) · exp(β ΔL)``.

    Asymptotically exact as ``β → ∞`` for GLD ``dθ = −L'(θ) dt + √(2/β) dB`` leaving a well of
    depth ``ΔL = barrier`` over a non-degenerate saddle; corrections are ``O(1/β)``.
    """
    barrier = v.scalar(barrier, "barrier", positive=True)
    c_min = v.scalar(curvature_min, "curvature_min", positive=True)
    c_sad = v.scalar(curvature_saddle, "curvature_saddle", positive=True)
    beta = v.float_array(beta, "beta")
    return 2 * jnp.pi / jnp.sqrt(c_min * c_sad) * jnp.exp(beta * barrier)
