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
``F(μ) = ½ MMD²(g_s ∗ μ, ν_data)`` with the Gaussian kernel of :func:`lib.kernels.gaussian_kernel`
and a Gaussian smoothing density ``g_s`` (``s = 0``: no smoothing) is a squared RKHS norm of a
linear function of ``μ``, hence convex; its drift (:func:`mmd_drift`) makes the particles attract
the data and repel each other. In one dimension the self-consistent minimizer
``μ* ∝ exp(−δF/δμ(μ*)/λ)`` of ``F + λ Ent`` is computed on a grid by
:func:`mmd_gibbs_density_1d`, independently of the particles.

A bounded mean-field neuron
---------------------------
:func:`bounded_two_layer_drift` is the MFLD drift of the network ``f_μ(x) = ∫ R tanh(a) tanh(wᵀx) dμ``,
whose neuron is bounded by ``R`` — the setting in which the proximal Gibbs measures satisfy a
uniform log-Sobolev inequality by Holley–Stroock.

Stationary moments of the simulated chain
-----------------------------------------
:func:`stationary_second_moment` time-averages ``(1/N) Σ x_i²`` over a run with control variates
(:func:`one_step_moment_drifts`) whose mean is exactly zero under the stationary law of the
discretized chain itself, for any ``N`` and step size.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import kernels

__all__ = ["quadratic_mean_field_drift", "QuadraticMeanFieldDrift", "quadratic_mean_field_gap",
           "quadratic_mean_field_floor", "mmd2", "mmd_drift", "MMDDrift", "mmd_gibbs_density_1d",
           "bounded_two_layer_output", "bounded_two_layer_drift", "BoundedTwoLayerDrift",
           "one_step_moment_drifts", "StationaryMoment", "stationary_second_moment"]


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

def _smoothed(bandwidth, smoothing, copies, dim):
    """Bandwidth and prefactor of ``E k(x + sξ_1 + … + sξ_c, x')`` (``c = copies`` independent
    ``N(0, s² I)`` shifts): a Gaussian kernel of bandwidth ``√(h² + c s²)`` times
    ``(h²/(h² + c s²))^{p/2}``."""
    bw2 = bandwidth ** 2 + copies * smoothing ** 2
    return jnp.sqrt(bw2), (bandwidth ** 2 / bw2) ** (dim / 2)


@jax.jit
def _mmd2(x, y, bandwidth, smoothing):
    p = x.shape[1]
    h2, c2 = _smoothed(bandwidth, smoothing, 2, p)
    h1, c1 = _smoothed(bandwidth, smoothing, 1, p)
    k = kernels.gaussian_kernel
    return (c2 * jnp.mean(k(x, x, bandwidth=h2)) + jnp.mean(k(y, y, bandwidth=bandwidth))
            - 2 * c1 * jnp.mean(k(x, y, bandwidth=h1)))


def mmd2(x, y, *, bandwidth, smoothing=0.0) -> jax.Array:
    """Squared maximum mean discrepancy ``MMD²(g_s ∗ μ_x, μ_y)`` between the empirical measure of
    ``x (N, p)`` smoothed by the Gaussian density ``g_s = N(0, s² I)`` (``s = smoothing ≥ 0``) and
    the empirical measure of ``y (M, p)``, for the Gaussian kernel
    ``k(u, v) = exp(−‖u − v‖²/(2h²))`` (``h = bandwidth``; :func:`lib.kernels.gaussian_kernel`),
    V-statistic. Integrating the Gaussians out in closed form,

        MMD² = c₂ (1/N²) Σ k_{h₂}(x_i, x_j) + (1/M²) Σ k_h(y_l, y_m) − 2 c₁ (1/NM) Σ k_{h₁}(x_i, y_l),

    ``h_c² = h² + c s²``, ``c_c = (h²/h_c²)^{p/2}``; ``s = 0`` is the plain MMD² of the two samples.
    """
    x, y = v.points(x, y, "x", "y")
    h = v.scalar(bandwidth, "bandwidth", positive=True)
    s = v.scalar(smoothing, "smoothing", nonnegative=True)
    return _mmd2(x, y, jnp.asarray(h, x.dtype), jnp.asarray(s, x.dtype))


def _mmd_potential_grad(particles, data, bandwidth, smoothing):
    """``∇_x [∫ k̃₂(x, x') dμ_X(x') − (1/M) Σ_l k̃₁(x, z_l)]`` at the particles (``k̃_c`` the smoothed
    kernels of :func:`_smoothed`)."""
    p = particles.shape[1]

    def grad_mean_kernel(points, copies):
        h, c = _smoothed(bandwidth, smoothing, copies, p)
        K = kernels.gaussian_kernel(particles, points, bandwidth=h)     # (N, M)
        # ∇_x (1/M) Σ_l k(x, z_l) = −(1/(M h²)) Σ_l k(x, z_l) (x − z_l)
        return -c * (K.sum(1)[:, None] * particles - K @ points) / (points.shape[0] * h ** 2)
    return grad_mean_kernel(particles, 2) - grad_mean_kernel(data, 1)


@jax.jit
def _mmd_drift(particles, data, bandwidth, smoothing, reg):
    return _mmd_potential_grad(particles, data, bandwidth, smoothing) + reg * particles


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MMDDrift:
    """MFLD drift of ``½ MMD²(g_s ∗ μ, data) + reg ∫‖x‖²/2 dμ`` (built by :func:`mmd_drift`)."""
    data: jax.Array
    bandwidth: jax.Array
    reg: jax.Array
    smoothing: jax.Array

    def __call__(self, particles):
        return _mmd_drift(particles, self.data, self.bandwidth, self.smoothing, self.reg)


def mmd_drift(data, *, bandwidth, reg=0.0, smoothing=0.0) -> MMDDrift:
    """Drift for MMD density estimation with MFLD: ``F(μ) = ½ MMD²(g_s ∗ μ, ν_data) + reg ∫‖x‖²/2 dμ``
    (``g_s = N(0, s² I)``, ``s = smoothing``; the density estimate is ``g_s ∗ μ``), convex in ``μ``
    (a squared norm of the linear map ``μ ↦ ∫k(·, x) d(g_s ∗ μ)(x)``), with

        ∇ δF/δμ(μ, x) = ∇_x [ c₂ ∫k_{h₂}(x, x') dμ(x') − c₁ (1/M) Σ_l k_{h₁}(x, z_l) ] + reg · x

    for the Gaussian kernel and constants of :func:`mmd2` and data ``z_l`` (rows of ``data``). At
    the empirical measure of the particles this is ``N · ∇_{X_i}`` of
    ``½ mmd2(X, data, smoothing=s) + reg·mean ‖X_i‖²/2``.
    """
    data = v.float_array(data, "data", ndim=2)
    h = v.scalar(bandwidth, "bandwidth", positive=True)
    reg = v.scalar(reg, "reg", nonnegative=True)
    s = v.scalar(smoothing, "smoothing", nonnegative=True)
    return MMDDrift(data, jnp.asarray(h, data.dtype), jnp.asarray(reg, data.dtype),
                    jnp.asarray(s, data.dtype))


@partial(jax.jit, static_argnames="n_iter")
def _mmd_gibbs_1d(grid, data, h, s, reg, lam, damping, n_iter):
    dx = grid[1] - grid[0]
    h2, c2 = _smoothed(h, s, 2, 1)
    h1, c1 = _smoothed(h, s, 1, 1)
    K2 = c2 * jnp.exp(-(grid[:, None] - grid[None, :]) ** 2 / (2 * h2 ** 2))
    attract = c1 * jnp.mean(jnp.exp(-(grid[:, None] - data[None, :]) ** 2 / (2 * h1 ** 2)), axis=1)
    base = -attract + 0.5 * reg * grid ** 2

    def gibbs(rho):
        log_q = -(K2 @ rho * dx + base) / lam
        q = jnp.exp(log_q - log_q.max())
        return q / (q.sum() * dx)

    rho0 = gibbs(jnp.zeros_like(grid))
    rho = jax.lax.fori_loop(0, n_iter, lambda _, r: (1 - damping) * r + damping * gibbs(r), rho0)
    return rho, jnp.max(jnp.abs(gibbs(rho) - rho)) * dx * grid.shape[0]


def mmd_gibbs_density_1d(grid, data, *, bandwidth, temperature, reg=0.0, smoothing=0.0,
                         damping=0.3, n_iter: int = 3000):
    """Minimizer ``μ*`` of ``½ MMD²(g_s ∗ μ, ν_data) + reg ∫x²/2 dμ + λ ∫ μ log μ`` in one dimension,
    as a density on the uniform ``grid``: the solution of the self-consistency equation

        μ*(x) ∝ exp(−(1/λ) [c₂ ∫k_{h₂}(x, x') μ*(x') dx' − c₁ (1/M) Σ_l k_{h₁}(x, z_l) + reg x²/2])

    (``μ* = p_{μ*}``; constants of :func:`mmd2`), found by the damped fixed-point iteration
    ``ρ ← (1 − ω) ρ + ω p_ρ`` (``ω = damping``) with Riemann sums on the grid. The objective is
    strictly convex, so the fixed point is unique. Returns ``(density, residual)``: the density on
    the grid (Riemann sum 1) and ``max |p_ρ − ρ| / mean ρ`` of the last iterate, to check
    convergence. The grid must be uniform and cover the mass.
    """
    grid = v.float_array(grid, "grid", ndim=1)
    data = v.float_array(data, "data", ndim=1)
    if grid.shape[0] < 3:
        raise ValueError(f"grid must have at least 3 points, got {grid.shape[0]}")
    h = v.scalar(bandwidth, "bandwidth", positive=True)
    lam = v.scalar(temperature, "temperature", positive=True)
    reg = v.scalar(reg, "reg", nonnegative=True)
    s = v.scalar(smoothing, "smoothing", nonnegative=True)
    omega = v.scalar(damping, "damping", positive=True, upper=1.0)
    n_iter = v.integer(n_iter, "n_iter", minimum=1)
    dtype = jnp.result_type(grid.dtype, data.dtype)
    a = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    return _mmd_gibbs_1d(grid.astype(dtype), data.astype(dtype), a(h), a(s), a(reg), a(lam),
                         a(omega), n_iter)


# ------------------------------------------------------------------------------------------------
# a bounded mean-field neuron
# ------------------------------------------------------------------------------------------------

def _bounded_parts(particles, X, amplitude):
    a, W = particles[:, 0], particles[:, 1:]
    feats = jnp.tanh(W @ X.T)                                              # (N, n)
    return a, feats, amplitude * jnp.tanh(a) @ feats / particles.shape[0]


@jax.jit
def _bounded_output(particles, X, amplitude):
    return _bounded_parts(particles, X, amplitude)[2]


def bounded_two_layer_output(particles, X, *, amplitude) -> jax.Array:
    """Output ``f_μ(x_i) = (1/N) Σ_j R tanh(a_j) tanh(w_jᵀ x_i)`` of the bounded mean-field network
    (``R = amplitude``; rows of ``particles (N, 1 + d)`` are ``θ_j = (a_j, w_j)``), shape ``(n,)``.
    Every neuron ``h_θ(x) = R tanh(a) tanh(wᵀx)`` satisfies ``|h_θ| ≤ R``."""
    P = v.float_array(particles, "particles", ndim=2)
    X = v.float_array(X, "X", ndim=2)
    if P.shape[1] != X.shape[1] + 1:
        raise ValueError(f"particles must have shape (N, 1 + d) = (N, {X.shape[1] + 1}), got {P.shape}")
    R = v.scalar(amplitude, "amplitude", positive=True)
    dtype = jnp.result_type(P.dtype, X.dtype)
    return _bounded_output(P.astype(dtype), X.astype(dtype), jnp.asarray(R, dtype))


@jax.jit
def _bounded_drift(particles, X, y, weights, amplitude, reg):
    a, feats, f = _bounded_parts(particles, X, amplitude)
    g = weights * (f - y)                                                  # q_i ∂ℓ/∂f
    ta = jnp.tanh(a)
    grad_a = amplitude * (1 - ta ** 2) * (feats @ g) + reg * a
    grad_w = (amplitude * ta)[:, None] * (((1 - feats ** 2) * g) @ X) + reg * particles[:, 1:]
    return jnp.concatenate([grad_a[:, None], grad_w], axis=1)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BoundedTwoLayerDrift:
    """MFLD drift of the bounded mean-field network (built by :func:`bounded_two_layer_drift`)."""
    X: jax.Array
    y: jax.Array
    weights: jax.Array
    amplitude: jax.Array
    reg: jax.Array

    def __call__(self, particles):
        return _bounded_drift(particles, self.X, self.y, self.weights, self.amplitude, self.reg)


def bounded_two_layer_drift(X, y, *, amplitude, reg, weights=None) -> BoundedTwoLayerDrift:
    """MFLD drift ``∇_θ δF/δμ(μ_X, θ_j)`` for
    ``F(μ) = ½ Σ_i q_i (f_μ(x_i) − y_i)² + reg ∫‖θ‖²/2 dμ`` with the bounded network of
    :func:`bounded_two_layer_output` and sample weights ``q_i = weights`` (``≥ 0``, summing to 1;
    default ``1/n``: the mean squared loss; zero weights let data sets of different sizes share
    one padded shape, hence one compilation). With ``g_i = q_i (f_μ(x_i) − y_i)`` and
    ``t_{ij} = tanh(w_jᵀx_i)``,

        ∂_a = R (1 − tanh² a_j) Σ_i g_i t_ij + reg a_j,    ∂_w = R tanh(a_j) Σ_i g_i (1 − t_ij²) x_i + reg w_j.

    The data part ``Σ_i g_i h_θ(x_i)`` of the first variation is bounded by ``R (R + max|y|)``, so
    the proximal Gibbs measures are bounded perturbations of ``N(0, (λ/reg) I)``.
    """
    X, y = v.samples(X, y)
    R = v.scalar(amplitude, "amplitude", positive=True)
    reg = v.scalar(reg, "reg", nonnegative=True)
    dtype = jnp.result_type(X.dtype, y.dtype)
    if weights is None:
        q = jnp.full(X.shape[0], 1.0 / X.shape[0], dtype)
    else:
        q = v.float_array(weights, "weights", ndim=1)
        v.same_dim(X, q, "X", "weights", axis=0)
        v.nonnegative(q, "weights")
        with jax.ensure_compile_time_eval():
            total = float(jnp.sum(q))
        if abs(total - 1) > 1e-5:
            raise ValueError(f"weights must sum to 1, got {total}")
        q = q.astype(dtype)
    return BoundedTwoLayerDrift(X.astype(dtype), y.astype(dtype), q, jnp.asarray(R, dtype),
                                jnp.asarray(reg, dtype))


# ------------------------------------------------------------------------------------------------
# stationary moments of a simulated chain, with zero-mean control variates
# ------------------------------------------------------------------------------------------------

def one_step_moment_drifts(particles, drift_values, *, step_size, temperature) -> np.ndarray:
    """One-step drifts ``h_k = (E[φ_k(X') | X] − φ_k(X))/η`` of ``φ_k(X) = (1/N) Σ_i x_i^k``,
    ``k = 2, 4``, for the chain ``X' = X − ηG(X) + √(2ηλ) ξ`` of :func:`lib.mfld.simulate`
    (``ξ ~ N(0, I)``; scalar particles ``x_i``). With ``y_i = x_i − ηG_i`` and ``s² = 2ηλ``,

        E[x_i'² | X] = y_i² + s²,     E[x_i'⁴ | X] = y_i⁴ + 6 s² y_i² + 3 s⁴.

    Since the chain's stationary law is invariant under one step, ``E h_k = 0`` exactly under it,
    for any ``N`` and ``η`` (the identity ``E[Pφ − φ] = 0``, ``P`` the transition operator, needs
    stationarity only, not reversibility). ``particles`` and ``drift_values`` (``G`` at the
    particles) have the same shape ``(..., N)``; returns ``(..., 2)`` = ``(h₂, h₄)`` in float64
    NumPy (host), whatever the input dtype.
    """
    x = np.asarray(v.float_array(particles, "particles"), np.float64)
    g = np.asarray(v.float_array(drift_values, "drift_values"), np.float64)
    if x.ndim < 1 or g.shape != x.shape:
        raise ValueError(f"drift_values must have the shape of particles {x.shape}, got {g.shape}")
    eta = v.scalar(step_size, "step_size", positive=True)
    lam = v.scalar(temperature, "temperature", positive=True)
    y, s2 = x - eta * g, 2 * eta * lam
    return np.stack([(y ** 2 + s2 - x ** 2).mean(axis=-1),
                     (y ** 4 + 6 * s2 * y ** 2 + 3 * s2 ** 2 - x ** 4).mean(axis=-1)], axis=-1) / eta


@jax.jit
def _drift_records_dynamic(drift, traj):
    return jax.lax.map(lambda x: drift(x[:, None])[:, 0], traj)


@partial(jax.jit, static_argnames="drift")
def _drift_records_static(drift, traj):
    return jax.lax.map(lambda x: drift(x[:, None])[:, 0], traj)


class StationaryMoment(NamedTuple):
    """What :func:`stationary_second_moment` returns: the control-variate estimate ``mean`` of the
    stationary ``E (1/N) Σ_i x_i²`` and its overlapping-batch-means standard error ``stderr``."""
    mean: float
    stderr: float


def stationary_second_moment(traj, drift, *, step_size, temperature, discard: float = 0.1,
                             n_windows: int = 10) -> StationaryMoment:
    """Time average of ``φ(X) = (1/N) Σ_i x_i²`` over a recorded run of :func:`lib.mfld.simulate`
    with scalar particles, with zero-mean control variates, and its standard error.

    ``traj`` ``(S, N)``: the records (``traj[:, :, 0]`` of the simulator's output); the first
    ``⌊discard·S⌋`` are dropped as burn-in, leaving ``n``. ``drift`` is the simulated drift
    ``G``, a callable ``(N, 1) → (N, 1)`` (a pytree such as :class:`MMDDrift` or any hashable
    function), evaluated at every kept record in ``traj``'s dtype under ``jax.jit``. With
    ``h = (h₂, h₄)`` of :func:`one_step_moment_drifts` (exactly zero-mean under the stationary law
    of the chain, for any ``N`` and step ``η``), the estimate is the mean of

        z_t = φ(X_t) − β̂ᵀ h(X_t),     β̂ = least-squares coefficient of φ on h (both centred),

    which has the same mean as ``φ`` for a fixed ``β``; fitting ``β̂`` on the same series adds a bias
    of order ``1/n_eff``. Its variance is small when ``φ`` nearly solves the Poisson equation of
    the dynamics (for a linear drift ``h₂`` is affine in ``φ`` and ``z`` is constant). Standard
    error by overlapping batch means over all ``n − b + 1`` windows of ``b = ⌊n/n_windows⌋``
    records: ``σ̂² = n b Σ_j (z̄_j − z̄)² / ((n − b)(n − b + 1))``, ``stderr = √(σ̂²/n)`` (the batch
    length of ``n_windows`` disjoint batches, about 2/3 of their variance of the variance
    estimate; the windows must be several correlation times long). Statistics in float64 NumPy.
    """
    traj = v.float_array(traj, "traj", ndim=2)
    if not callable(drift):
        raise ValueError(f"drift must be a callable (N, 1) -> (N, 1), got {drift!r}")
    eta = v.scalar(step_size, "step_size", positive=True)
    lam = v.scalar(temperature, "temperature", positive=True)
    discard = v.scalar(discard, "discard", nonnegative=True, upper=0.9)
    n_windows = v.integer(n_windows, "n_windows", minimum=2)
    x = np.asarray(traj[int(np.floor(traj.shape[0] * discard + 1e-9)):], np.float64)
    n = x.shape[0]
    if n < 2 * n_windows:
        raise ValueError(f"traj must keep at least 2·n_windows = {2 * n_windows} records after the "
                         f"burn-in, got {n}")
    leaves = jax.tree_util.tree_leaves(drift)
    opaque = len(leaves) == 1 and leaves[0] is drift             # not a pytree: a static argument
    records = _drift_records_static if opaque else _drift_records_dynamic
    g = np.asarray(records(drift, jnp.asarray(x, traj.dtype)), np.float64)
    if g.shape != x.shape:
        raise ValueError(f"drift must map (N, 1) particles to (N, 1), got shape {g.shape[1:]}")
    h = one_step_moment_drifts(x, g, step_size=eta, temperature=lam)
    second = (x ** 2).mean(axis=1)
    beta = np.linalg.lstsq(h - h.mean(axis=0), second - second.mean(), rcond=None)[0]
    z = second - h @ beta
    b = n // n_windows
    csum = np.concatenate([[0.0], np.cumsum(z - z.mean())])
    window_dev = (csum[b:] - csum[:-b]) / b                      # z̄_j − z̄ for all n − b + 1 windows
    var_obm = n * b * np.sum(window_dev ** 2) / ((n - b) * (n - b + 1))
    return StationaryMoment(float(z.mean()), float(np.sqrt(var_obm / n)))
