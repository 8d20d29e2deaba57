"""Mean-field Langevin dynamics beyond networks: a solvable model and MMD density estimation.

Chapter 3.7 runs these drifts through the core integrator :func:`lib.mfld.simulate`.

A solvable convex mean-field model
----------------------------------
``F(μ) = ∫ ‖x − m‖²/2 dμ + (κ/2) ‖∫x dμ − c‖²`` is convex in ``μ`` and genuinely mean-field (its
drift depends on the particle mean). With ``λ Ent`` added, its minimizer is the Gaussian
``N(m*, λ I)``, the objective gap of any Gaussian is explicit (:func:`quadratic_mean_field_gap`),
and for ``N`` particles with step ``η`` the stationary expectation of the plug-in gap — the
error floor left by finitely many particles and a finite step — is exact
(:func:`quadratic_mean_field_floor`).

MMD density estimation
----------------------
``F(μ) = ½ MMD²(μ, ν_data)`` with the Gaussian kernel of :func:`lib.kernels.gaussian_kernel` is a
squared RKHS norm of a linear function of ``μ``, hence convex; its drift
(:func:`mmd_drift`) makes the particles attract the data and repel each other.
"""
from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import kernels

__all__ = ["quadratic_mean_field_drift", "QuadraticMeanFieldDrift", "quadratic_mean_field_gap",
           "quadratic_mean_field_floor", "mmd2", "mmd_drift", "MMDDrift"]


# ------------------------------------------------------------------------------------------------
# the solvable quadratic model
# ------------------------------------------------------------------------------------------------

@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class QuadraticMeanFieldDrift:
    """MFLD drift ``(X_i − m) + κ (X̄ − c)`` of the convex quadratic mean-field model
    (built by :func:`quadratic_mean_field_drift`); ``center``, ``anchor``, ``coupling`` are leaves."""
    center: jax.Array
    anchor: jax.Array
    coupling: jax.Array

    def __call__(self, particles):
        xbar = jnp.mean(particles, axis=0)
        return (particles - self.center) + self.coupling * (xbar - self.anchor)


def quadratic_mean_field_drift(center, anchor, coupling) -> QuadraticMeanFieldDrift:
    """Drift of ``F(μ) = ∫ ‖x − m‖²/2 dμ + (κ/2) ‖∫x dμ − c‖²`` (``m = center``, ``c = anchor``,
    ``κ = coupling ≥ 0``), a functional that is convex in ``μ`` (linear plus the square of a linear
    functional) and genuinely mean-field (the drift depends on the particle mean):

        ∇ δF/δμ(μ, x) = (x − m) + κ (∫x dμ − c).

    With ``λ Ent`` added the unique minimizer is ``μ* = N(m*, λ I)``,
    ``m* = (m + κ c)/(1 + κ)`` (see :func:`quadratic_mean_field_gap`).
    """
    m, c = v.points(center, anchor, "center", "anchor", ndim=1)
    kappa = v.scalar(coupling, "coupling", nonnegative=True)
    return QuadraticMeanFieldDrift(m, c, jnp.asarray(kappa, m.dtype))


@jax.jit
def _qmf_gap(mean, cov, m, c, kappa, lam):
    b = 1 + kappa
    m_star = (m + kappa * c) / b
    diff = mean - m_star
    S = cov / lam
    _, logdet = jnp.linalg.slogdet(S)
    p = mean.shape[-1]
    return (0.5 * b * jnp.sum(diff ** 2, axis=-1) +
            0.5 * lam * (jnp.trace(S, axis1=-2, axis2=-1) - p - logdet))


def quadratic_mean_field_gap(mean, cov, *, center, anchor, coupling, temperature) -> jax.Array:
    """Objective gap ``L(μ) − L(μ*)`` of the quadratic model at a Gaussian ``μ = N(mean, cov)``.

    ``L(μ) = F(μ) + λ ∫ μ log μ`` with ``F`` of :func:`quadratic_mean_field_drift`; in closed form

        L(μ) − L* = (b/2) ‖mean − m*‖² + (λ/2) (tr S − p − log det S),   S = cov/λ,  b = 1 + κ,

    which is ``≥ 0`` with equality iff ``μ = μ* = N(m*, λ I)``. Broadcasts over leading axes of
    ``mean (..., p)`` and ``cov (..., p, p)``; applied to the particles' empirical mean and
    covariance it is the objective of the Gaussian fit of the particle cloud.
    """
    mean = v.float_array(mean, "mean")
    cov = v.float_array(cov, "cov")
    if mean.ndim < 1 or cov.shape != mean.shape + mean.shape[-1:]:
        raise ValueError(f"cov must have shape mean.shape + (p,) = {mean.shape + mean.shape[-1:]}, "
                         f"got {cov.shape}")
    m = v.float_array(center, "center", ndim=1)
    c = v.float_array(anchor, "anchor", ndim=1)
    v.same_dim(m, mean, "center", "mean")
    v.same_dim(c, mean, "anchor", "mean")
    kappa = v.scalar(coupling, "coupling", nonnegative=True)
    lam = v.scalar(temperature, "temperature", positive=True)
    dtype = jnp.result_type(mean.dtype, cov.dtype, m.dtype, c.dtype)
    return _qmf_gap(mean.astype(dtype), cov.astype(dtype), m.astype(dtype), c.astype(dtype),
                    jnp.asarray(kappa, dtype), jnp.asarray(lam, dtype))


def quadratic_mean_field_floor(n_particles: int, dim: int, *, step_size, coupling,
                               temperature) -> float:
    """Exact stationary expectation of :func:`quadratic_mean_field_gap` at the empirical mean and
    (1/N-normalized) covariance of ``N`` particles run by :func:`lib.mfld.simulate` with step ``η``.

    The particle mean is an AR(1) with stationary variance ``λ/(N b (1 − ηb/2))`` per coordinate,
    and the deviations ``X_i − X̄`` are independent of it with empirical covariance
    ``(λ c_η/N) W``, ``W ~ Wishart_p(N − 1, I)``, ``c_η = 1/(1 − η/2)``. Hence

        E gap = pλ / (2N(1 − ηb/2)) + (λ/2) [ c_η p (N−1)/N − p − p log(2c_η/N)
                                              − Σ_{i=1}^p ψ((N − i)/2) ]

    (``ψ`` the digamma function). Both parts are ``O(1/N)`` (≈ ``λ(p/2 + p(p+1)/4)/N``) plus an
    ``O(η²)`` step-size part ``(λp/2)(c_η − 1 − log c_η)``. Needs ``N > dim`` and ``ηb < 2``.
    Computed in float64 on the host (the terms cancel to ``O(1/N)``).
    """
    from scipy.special import digamma   # scipy is imported on use only
    dim = v.integer(dim, "dim", minimum=1)
    N = v.integer(n_particles, "n_particles", minimum=dim + 1)
    eta = v.scalar(step_size, "step_size", positive=True)
    kappa = v.scalar(coupling, "coupling", nonnegative=True)
    lam = v.scalar(temperature, "temperature", positive=True)
    b = 1 + kappa
    if eta * b >= 2 or eta >= 2:
        raise ValueError(f"step_size must satisfy step_size·(1 + coupling) < 2, got {eta}")
    c = 1 / (1 - eta / 2)
    mean_part = dim * lam / (2 * N * (1 - eta * b / 2))
    psi = float(np.sum(digamma((N - np.arange(1, dim + 1)) / 2)))
    cov_part = 0.5 * lam * (c * dim * (N - 1) / N - dim - dim * np.log(2 * c / N) - psi)
    return float(mean_part + cov_part)


# ------------------------------------------------------------------------------------------------
# MMD density estimation
# ------------------------------------------------------------------------------------------------

@jax.jit
def _mmd2(x, y, bandwidth):
    k = partial(kernels.gaussian_kernel, bandwidth=bandwidth)
    return jnp.mean(k(x, x)) + jnp.mean(k(y, y)) - 2 * jnp.mean(k(x, y))


def mmd2(x, y, *, bandwidth) -> jax.Array:
    """Squared maximum mean discrepancy of the empirical measures of ``x (N, p)`` and ``y (M, p)``
    with the Gaussian kernel ``k(u, v) = exp(−‖u − v‖²/(2h²))`` (``h = bandwidth``;
    :func:`lib.kernels.gaussian_kernel`), V-statistic:

        MMD²(μ_x, μ_y) = (1/N²) Σ k(x_i, x_j) + (1/M²) Σ k(y_l, y_m) − (2/NM) Σ k(x_i, y_l) ≥ 0.
    """
    x, y = v.points(x, y, "x", "y")
    h = v.scalar(bandwidth, "bandwidth", positive=True)
    return _mmd2(x, y, jnp.asarray(h, x.dtype))


@jax.jit
def _mmd_drift(particles, data, bandwidth, reg):
    def grad_mean_kernel(points):
        K = kernels.gaussian_kernel(particles, points, bandwidth=bandwidth)     # (N, M)
        # ∇_x (1/M) Σ_l k(x, z_l) = −(1/(M h²)) Σ_l k(x, z_l) (x − z_l)
        return -(K.sum(1)[:, None] * particles - K @ points) / (points.shape[0] * bandwidth ** 2)
    return grad_mean_kernel(particles) - grad_mean_kernel(data) + reg * particles


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MMDDrift:
    """MFLD drift of ``½ MMD²(μ, data) + reg ∫‖x‖²/2 dμ`` (built by :func:`mmd_drift`)."""
    data: jax.Array
    bandwidth: jax.Array
    reg: jax.Array

    def __call__(self, particles):
        return _mmd_drift(particles, self.data, self.bandwidth, self.reg)


def mmd_drift(data, *, bandwidth, reg=0.0) -> MMDDrift:
    """Drift for MMD density estimation with MFLD: ``F(μ) = ½ MMD²(μ, ν_data) + reg ∫‖x‖²/2 dμ``,
    convex in ``μ`` (a squared norm of the linear map ``μ ↦ ∫k(·, x) dμ``), with

        ∇ δF/δμ(μ, x) = ∇_x [ ∫k(x, x') dμ(x') − (1/M) Σ_l k(x, z_l) ] + reg · x

    for the Gaussian kernel of :func:`mmd2` and data ``z_l`` (rows of ``data``). At the empirical
    measure of the particles this is ``N · ∇_{X_i}`` of ``½ mmd2(X, data) + reg·mean ‖X_i‖²/2``.
    """
    data = v.float_array(data, "data", ndim=2)
    h = v.scalar(bandwidth, "bandwidth", positive=True)
    reg = v.scalar(reg, "reg", nonnegative=True)
    return MMDDrift(data, jnp.asarray(h, data.dtype), jnp.asarray(reg, data.dtype))
