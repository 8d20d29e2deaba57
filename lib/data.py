"""Synthetic data sets. Every sampler takes an explicit PRNG ``key`` and is deterministic given it.

No data is downloaded: the book builds offline.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v

__all__ = ["sphere", "gaussian", "linear_teacher", "chunked_draws", "legendre_features", "SpectralProblem",
           "power_law_problem", "sample_spectral", "spectral_excess_risk", "spectral_ridge_risk",
           "spectral_krr_risk", "spectral_krr_equivalent_risk", "BLOCKS_LOCATIONS", "BLOCKS_HEIGHTS", "step_function", "blocks",
           "doppler", "kinked_profile", "kinked_ridge", "two_moons"]


def sphere(key, n: int, d: int, *, radius: float = 1.0, dtype=None) -> jax.Array:
    """``n`` points uniform on the sphere of radius ``radius`` in R^d: ``x = r · g/‖g‖``, g ~ N(0, I_d)
    (``dtype``: JAX's default float when None)."""
    key = v.key(key)
    n = v.integer(n, "n", minimum=1)
    d = v.integer(d, "d", minimum=1)
    radius = v.scalar(radius, "radius", positive=True)
    g = jax.random.normal(key, (n, d), dtype=dtype if dtype is not None else float)
    return radius * g / jnp.linalg.norm(g, axis=1, keepdims=True)


def gaussian(key, n: int, d: int, *, cov_eigs=None) -> jax.Array:
    """``n`` rows ``x ~ N(0, Σ)`` with ``Σ = diag(cov_eigs)`` (identity when ``cov_eigs`` is None)."""
    key = v.key(key)
    n = v.integer(n, "n", minimum=1)
    d = v.integer(d, "d", minimum=1)
    z = jax.random.normal(key, (n, d))
    if cov_eigs is None:
        return z
    eigs = v.float_array(cov_eigs, "cov_eigs", ndim=1)
    if eigs.shape[0] != d:
        raise ValueError(f"cov_eigs must have length d={d}, got {eigs.shape[0]}")
    v.nonnegative(eigs, "cov_eigs")
    return z * jnp.sqrt(eigs)


def linear_teacher(key, X, beta, *, noise: float = 0.0) -> jax.Array:
    """Responses ``y = X β + σ ε`` with ε ~ N(0, I_n) and σ = ``noise``."""
    key = v.key(key)
    X = v.float_array(X, "X", ndim=2)
    beta = v.float_array(beta, "beta", ndim=1)
    v.same_dim(X, beta, "X", "beta", axis=-1)
    noise = v.scalar(noise, "noise", nonnegative=True)
    return X @ beta + noise * jax.random.normal(key, (X.shape[0],), dtype=X.dtype)


@partial(jax.jit, static_argnums=0)
def _draw_chunk(sampler, key, c):
    return sampler(jax.random.fold_in(key, c))


def chunked_draws(key, sampler, size: int, chunk: int):
    """A stream of ``size`` random values drawn in chunks of a fixed length ``chunk``.

    With ``C = ⌈size / chunk⌉``, the stream is the first ``size`` entries (along axis 0) of

        sampler(fold_in(key, 0)) ‖ sampler(fold_in(key, 1)) ‖ … ‖ sampler(fold_in(key, C − 1)),

    ``‖`` concatenation. ``sampler`` maps a key to an array, or a pytree of arrays (e.g. a tuple of
    inputs and noise), whose leaves all have leading axis ``chunk``; the result has the same
    structure, each leaf of leading axis ``size``. Chunk ``c`` depends only on ``key`` and ``c``, so
    the stream of a larger ``size`` extends that of a smaller one, and the sampler, whose
    compilation can be slow (a normal or gamma draw), is compiled once for every ``size`` (pass the
    same ``sampler`` object, e.g. a module-level function, from call to call: it is a static
    argument of the compiled chunk). The chunks stay on the device (no host copies).
    """
    key = v.key(key)
    if not callable(sampler):
        raise ValueError(f"sampler must be a function key -> array(s), got {type(sampler).__name__}")
    size = v.integer(size, "size", minimum=1)
    chunk = v.integer(chunk, "chunk", minimum=1)
    parts = [_draw_chunk(sampler, key, c) for c in range(-(-size // chunk))]
    shapes = [jnp.shape(leaf) for leaf in jax.tree_util.tree_leaves(parts[0])]
    if not shapes or any(s[:1] != (chunk,) for s in shapes):
        raise ValueError(f"sampler must return arrays of leading axis chunk = {chunk}, got shapes {shapes}")
    return jax.tree_util.tree_map(lambda *a: jnp.concatenate(a)[:size], *parts)


# ------------------------------------------------------------------------------------------------
# Polynomial features on [-1, 1] and the synthetic-spectrum regression problem (chapter 0.1).
# ------------------------------------------------------------------------------------------------


@partial(jax.jit, static_argnames="degree")
def _legendre(x, degree):
    cols = [jnp.ones_like(x)]
    if degree >= 1:
        cols.append(x)
    for m in range(1, degree):  # (m+1) P_{m+1} = (2m+1) x P_m − m P_{m−1}
        cols.append(((2 * m + 1) * x * cols[m] - m * cols[m - 1]) / (m + 1))
    return jnp.stack(cols, axis=1)


def legendre_features(x, degree: int) -> jax.Array:
    """Design matrix ``(n, degree + 1)`` of the Legendre polynomials ``P_0, …, P_degree`` at ``x``.

    ``x`` has shape ``(n,)``. On ``[-1, 1]`` every entry is bounded by 1 in absolute value and the
    columns are orthogonal under the uniform distribution (``E[P_j P_k] = δ_jk / (2k + 1)``), so least
    squares in this basis is much better conditioned than in the monomials ``1, x, …, x^degree``,
    which span the same polynomials.
    """
    x = v.float_array(x, "x", ndim=1)
    degree = v.integer(degree, "degree", minimum=0)
    return _legendre(x, degree)


class SpectralProblem(NamedTuple):
    """Regression with a prescribed kernel spectrum ``mu`` and target coefficients ``theta``.

    An input is ``z ~ N(0, I_D)`` and its feature vector is ``φ(z) = (√μ_1 z_1, …, √μ_D z_D)``, so
    the kernel ``K(z, z') = φ(z)ᵀφ(z') = Σ_k μ_k z_k z'_k`` has integral operator ``T`` with
    eigenvalues ``μ_k`` and ``L²``-orthonormal eigenfunctions ``z ↦ z_k``. The regression function is
    ``f*(z) = Σ_k θ_k z_k`` — the linear predictor with coefficients ``θ / √μ`` on the features — and
    ``y = f*(z) + noise · ε`` with ``ε ~ N(0, 1)``.
    """
    mu: jax.Array
    theta: jax.Array
    noise: float


def power_law_problem(dim: int, *, beta: float, r: float, noise: float = 1.0) -> SpectralProblem:
    """The spectrum ``μ_k = k^{-β}`` (β > 1) and target ``θ_k = k^{-(2rβ+1)/2}``, ``k = 1, …, dim``.

    ``θ_k² / μ_k^{2r} = 1/k``: the target satisfies the source condition ``f* ∈ range(T^{r'})`` for
    every ``r' < r`` (and, with ``dim = ∞``, not for ``r`` itself), and the squared ``L²`` norm of
    its tail ``Σ_{k>K} θ_k²`` decays like ``K^{-2rβ} / (2rβ)``.
    """
    dim = v.integer(dim, "dim", minimum=1)
    beta = v.scalar(beta, "beta")
    if not beta > 1:
        raise ValueError(f"beta must be > 1 (a summable spectrum), got {beta}")
    r = v.scalar(r, "r", positive=True)
    noise = v.scalar(noise, "noise", nonnegative=True)
    k = jnp.arange(1, dim + 1, dtype=jnp.result_type(float))
    return SpectralProblem(k ** -beta, k ** (-(2 * r * beta + 1) / 2), noise)


def _check_problem(problem) -> SpectralProblem:
    if not isinstance(problem, SpectralProblem):
        raise ValueError(f"problem must be a SpectralProblem, got {type(problem).__name__}")
    mu = v.float_array(problem.mu, "problem.mu", ndim=1)
    theta = v.float_array(problem.theta, "problem.theta", ndim=1)
    v.same_dim(mu, theta, "problem.mu", "problem.theta")
    v.positive(mu, "problem.mu")
    noise = problem.noise
    if not v.is_tracer(noise):
        host = np.asarray(noise)
        if host.ndim != 0 or not np.issubdtype(host.dtype, np.number) or not np.isfinite(host):
            raise ValueError(f"problem.noise must be a finite real number, got {noise!r}")
        noise = float(host)
        if noise < 0:
            raise ValueError(f"problem.noise must be >= 0, got {noise}")
    return SpectralProblem(mu, theta, noise)


def sample_spectral(key, problem: SpectralProblem, n: int):
    """``n`` samples ``(X, y)`` of a :class:`SpectralProblem`: ``X = (φ(z_i))_i`` of shape ``(n, D)``
    (so that ``X Xᵀ`` is the kernel matrix) and ``y_i = f*(z_i) + noise · ε_i``."""
    key = v.key(key)
    problem = _check_problem(problem)
    n = v.integer(n, "n", minimum=1)
    kx, ky = jax.random.split(key)
    z = jax.random.normal(kx, (n, problem.mu.shape[0]), dtype=problem.mu.dtype)
    y = z @ problem.theta + problem.noise * jax.random.normal(ky, (n,), dtype=problem.mu.dtype)
    return z * jnp.sqrt(problem.mu), y


def spectral_excess_risk(problem: SpectralProblem, coef) -> jax.Array:
    """Excess risk ``E_z[(φ(z)ᵀcoef − f*(z))²] = Σ_k (√μ_k coef_k − θ_k)²`` of the linear predictor
    with feature-space coefficients ``coef`` (shape ``(..., D)``; one risk per leading index)."""
    problem = _check_problem(problem)
    coef = v.float_array(coef, "coef")
    if coef.ndim < 1 or coef.shape[-1] != problem.mu.shape[0]:
        raise ValueError(f"coef must have last dimension D={problem.mu.shape[0]}, got shape {coef.shape}")
    return jnp.sum((jnp.sqrt(problem.mu) * coef - problem.theta) ** 2, axis=-1)


def _problem_n_lam(problem, n, lam, *, lam_positive: bool):
    """Validate a spectral problem, sample sizes ``n > 0`` and ridges ``lam`` (``> 0`` or ``>= 0``);
    return them with ``n`` and ``lam`` broadcast against each other."""
    problem = _check_problem(problem)
    n = v.float_array(n, "n")
    lam = v.float_array(lam, "lam")
    v.positive(n, "n")
    (v.positive if lam_positive else v.nonnegative)(lam, "lam")
    n, lam = jnp.broadcast_arrays(n, lam)
    return problem, n, lam


def spectral_ridge_risk(problem: SpectralProblem, n, lam):
    """Closed-form ``(bias, variance)`` of ridge regression in the Gaussian *sequence model*.

    The sequence model observes every coefficient once with the noise of ``n`` samples,
    ``y_k = θ_k + (noise/√n) ξ_k``; the kernel ridge estimator (objective
    ``(1/n) Σ_i (y_i − f(x_i))² + lam ‖f‖²_H``) becomes the spectral filter
    ``θ̂_k = μ_k / (μ_k + lam) · y_k``, whose excess risk ``E‖θ̂ − θ‖²`` is exactly

        bias     = Σ_k (lam / (μ_k + lam))² θ_k²,
        variance = (noise² / n) Σ_k (μ_k / (μ_k + lam))².

    Kernel ridge regression on ``n`` random samples has this risk up to lower-order terms when the
    effective dimension ``Σ_k μ_k / (μ_k + lam)`` is small compared with ``n``. ``n`` and ``lam``
    broadcast against each other; the results have their broadcast shape.
    """
    problem, n, lam = _problem_n_lam(problem, n, lam, lam_positive=False)
    mu, theta = problem.mu, problem.theta
    shrink = lam[..., None] / (mu + lam[..., None])
    bias = jnp.sum(shrink ** 2 * theta ** 2, axis=-1)
    variance = problem.noise ** 2 / n * jnp.sum((1.0 - shrink) ** 2, axis=-1)
    return bias, variance


def spectral_krr_equivalent_risk(problem: SpectralProblem, n, lam) -> jax.Array:
    """Deterministic equivalent of the random-design kernel ridge risk (:func:`spectral_krr_risk`).

    The effective ridge ``κ > lam`` solves ``κ (1 − N(κ)/n) = lam`` with the effective dimension
    ``N(κ) = Σ_k μ_k / (μ_k + κ)``; then, with ``df₂(κ) = Σ_k μ_k² / (μ_k + κ)²``,

        risk ≈ (B(κ) + V(κ)) / (1 − df₂(κ)/n),

    where ``B + V`` is the sequence-model risk of :func:`spectral_ridge_risk` at ridge ``κ`` (the
    equivalent of Jacot et al. 2020, Bach 2024, Cheng–Montanari 2024 for Gaussian designs; the
    relative error vanishes as ``n`` grows with ``N(κ)/n`` bounded away from 1). ``κ`` is found by
    100 bisection steps on ``[lam, lam + Σμ/n]``, where the left side is increasing. ``lam > 0``;
    ``n`` and ``lam`` broadcast; the result has their broadcast shape.
    """
    problem, n, lam = _problem_n_lam(problem, n, lam, lam_positive=True)
    return _equivalent_risk(problem, n.astype(problem.mu.dtype), lam.astype(problem.mu.dtype))


@jax.jit
def _equivalent_risk(problem, n, lam):
    mu, theta = problem.mu, problem.theta

    def one(n, lam):
        def bisect(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = mid * (1.0 - jnp.sum(mu / (mu + mid)) / n) > lam
            return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

        lo, hi = jax.lax.fori_loop(0, 100, bisect, (lam, lam + jnp.sum(mu) / n))
        kappa = 0.5 * (lo + hi)
        shrink = kappa / (mu + kappa)
        seq = jnp.sum(shrink ** 2 * theta ** 2) + problem.noise ** 2 / n * jnp.sum((1 - shrink) ** 2)
        return seq / (1.0 - jnp.sum((1 - shrink) ** 2) / n)

    return jnp.vectorize(one)(n, lam)


@partial(jax.jit, static_argnames="n")
def _spectral_krr_risk(key, problem, n, lam):
    from . import ridgeless
    X, f_star = sample_spectral(key, problem._replace(noise=0.0), n)
    # The estimator is linear in y: one solve with the n + 1 right-hand sides (f*(x_i))_i and
    # e_1, …, e_n gives its noise-free part and the matrix A with ŵ = A y. Test "inputs" with feature
    # vectors e_1, …, e_D (K_test_train = Xᵀ) turn predictions into feature-space coefficients.
    W = ridgeless.kernel_ridge(X @ X.T, jnp.column_stack([f_star, jnp.eye(n, dtype=X.dtype)]),
                               X.T, lam)
    bias = jnp.sum((jnp.sqrt(problem.mu) * W[:, 0] - problem.theta) ** 2)
    variance = problem.noise ** 2 * jnp.sum(problem.mu[:, None] * W[:, 1:] ** 2)
    return bias, variance


def spectral_krr_risk(key, problem: SpectralProblem, n: int, lam):
    """``(bias, variance)`` of kernel ridge regression on ``n`` random samples of ``problem``,
    averaged exactly over the noise (one random design per ``key``).

    The random-design counterpart of :func:`spectral_ridge_risk`: with the design drawn from
    ``key`` and ``ŵ = A y`` the ridge coefficients (``lib.ridgeless.kernel_ridge`` with kernel
    matrix ``X Xᵀ``, objective ``(1/n) Σ_i (y_i − f(x_i))² + lam ‖f‖²_H``),

        bias     = Σ_k (√μ_k (A f*)_k − θ_k)²,
        variance = noise² Σ_k μ_k Σ_j A_kj²,

    so ``bias + variance = E_ε[spectral_excess_risk(problem, ŵ)]``. Costs one ``n × n``
    eigendecomposition.
    """
    key = v.key(key)
    problem = _check_problem(problem)
    n = v.integer(n, "n", minimum=1)
    lam = v.float_array(lam, "lam", ndim=0)
    v.nonnegative(lam, "lam")
    return _spectral_krr_risk(key, problem, n, lam.astype(problem.mu.dtype))


# ------------------------------------------------------------------------------------------------
# Inhomogeneous-smoothness targets on [0, 1] and a kinked ridge function (chapter 1.5).
# ------------------------------------------------------------------------------------------------

# Donoho & Johnstone (1994), "Ideal spatial adaptation by wavelet shrinkage", Table of "Blocks".
BLOCKS_LOCATIONS = (0.10, 0.13, 0.15, 0.23, 0.25, 0.40, 0.44, 0.65, 0.76, 0.78, 0.81)
BLOCKS_HEIGHTS = (4.0, -5.0, 3.0, -4.0, 5.0, -4.2, 2.1, 4.3, -3.1, 2.1, -4.2)


def step_function(x, locations, heights) -> jax.Array:
    """Piecewise-constant ``f(x) = Σ_j heights_j · 1{x ≥ locations_j}`` at ``x`` of shape ``(n,)``.

    A function with finitely many jumps lies in the Besov space ``B^{1/p}_{p,∞}`` for every
    ``p > 0``: its wavelet coefficients are non-zero only for the O(1) wavelets per level that
    straddle a jump.
    """
    x = v.float_array(x, "x", ndim=1)
    t = v.float_array(locations, "locations", ndim=1)
    h = v.float_array(heights, "heights", ndim=1)
    if t.shape != h.shape:
        raise ValueError(f"heights must have the same shape as locations {t.shape}, got {h.shape}")
    return jnp.sum(h * (x[:, None] >= t).astype(x.dtype), axis=1)


def blocks(x) -> jax.Array:
    """Donoho–Johnstone "Blocks": :func:`step_function` with 11 jumps (``BLOCKS_LOCATIONS``,
    ``BLOCKS_HEIGHTS``) on [0, 1]."""
    x = v.float_array(x, "x", ndim=1)
    return step_function(x, jnp.asarray(BLOCKS_LOCATIONS, x.dtype),
                         jnp.asarray(BLOCKS_HEIGHTS, x.dtype))


def doppler(x) -> jax.Array:
    """Donoho–Johnstone "Doppler" ``√(x(1 − x)) · sin(2π · 1.05 / (x + 0.05))`` on [0, 1]: smooth,
    with a local frequency that blows up near 0 (spatially inhomogeneous smoothness)."""
    x = v.float_array(x, "x", ndim=1)
    return jnp.sqrt(jnp.clip(x * (1 - x), 0.0)) * jnp.sin(2 * jnp.pi * 1.05 / (x + 0.05))


def kinked_profile(t) -> jax.Array:
    """The ridge profile ``g(t) = relu(t) − 2 relu(t − 1) + sin(2t)``: smooth except for kinks at
    t = 0 and t = 1."""
    t = v.float_array(t, "t")
    return jax.nn.relu(t) - 2.0 * jax.nn.relu(t - 1.0) + jnp.sin(2.0 * t)


def kinked_ridge(x, direction) -> jax.Array:
    """Single-index target ``f(x) = g(⟨w, x⟩)`` with ``g`` = :func:`kinked_profile` and
    ``w = direction/‖direction‖``; ``x`` has shape ``(n, d)``. ``f`` depends on x only through
    one direction, whatever the ambient dimension d."""
    x = v.float_array(x, "x", ndim=2)
    w = v.float_array(direction, "direction", ndim=1)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"direction must have length d={x.shape[1]}, got {w.shape[0]}")
    norm = jnp.linalg.norm(w)
    if not v.is_tracer(norm) and float(norm) == 0.0:
        raise ValueError("direction must be a non-zero vector")
    return kinked_profile(x @ (w / norm))


def two_moons(key, n: int, *, noise: float = 0.1):
    """Two interleaved half circles in the plane with labels ±1 (``n`` points, classes alternate).

    Class +1: ``(cos s, sin s)``; class −1: ``(1 − cos s, 1/2 − sin s)``, ``s ~ U[0, π]``; plus
    isotropic Gaussian noise of standard deviation ``noise``. Not linearly separable, but a smooth
    deformation of the plane separates the classes. Returns ``(X (n, 2), y (n,))``.
    """
    v.key(key, "key")
    n = v.integer(n, "n", minimum=2)
    noise = v.scalar(noise, "noise", nonnegative=True)
    ks, kn = jax.random.split(key)
    s = jnp.pi * jax.random.uniform(ks, (n,))
    y = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0)
    upper = jnp.stack([jnp.cos(s), jnp.sin(s)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(s), 0.5 - jnp.sin(s)], axis=1)
    X = jnp.where(y[:, None] > 0, upper, lower) + noise * jax.random.normal(kn, (n, 2))
    return X, y
