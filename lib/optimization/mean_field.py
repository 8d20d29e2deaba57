"""Mean-field limit of two-layer networks: 1-D optimal transport and particle alignment.

Optimal transport on the line
-----------------------------
For probability measures ``μ, ν`` on ``R`` with quantile functions ``Q_μ, Q_ν`` the monotone
rearrangement ``T = Q_ν ∘ F_μ`` is the optimal transport map and

    W_2(μ, ν)² = ∫_0^1 |Q_μ(u) − Q_ν(u)|² du.

For two empirical measures with the same number ``n`` of atoms this is
``(1/n) Σ_i (x_(i) − y_(i))²`` with the order statistics (sort both samples):
:func:`wasserstein2_1d`. :func:`quantile_map` is the empirical monotone map (send the ``k``-th
smallest ``x`` to the ``k``-th smallest ``y``) and :func:`displacement_interpolation` the
constant-speed geodesic ``μ_t = ((1 − t) id + t T)_# μ`` (McCann interpolation).

Particles and teachers
----------------------
Particles are rows ``θ_j = (a_j, w_j) ∈ R^{1+d}`` as in :mod:`lib.mfld`. The *mass* of a neuron
is ``m_j = |a_j| ‖w_j‖`` (its contribution to the variation norm for a positively homogeneous
activation). :func:`teacher_cosines` gives ``cos(w_j, u_k)``; :func:`weighted_alignment` the
mass-weighted alignment of the particles to each teacher direction; :func:`participation_ratio`
the effective fraction of active neurons ``(Σ m_j)² / (N Σ m_j²)``.

The particle network itself (square and logistic losses, mean-field and NTK output scales) and its
drifts are the core's :mod:`lib.mfld`.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from .. import _validate as v

__all__ = ["wasserstein2_1d", "gaussian_w2", "quantile_map", "displacement_interpolation",
           "teacher_cosines", "weighted_alignment", "neuron_mass", "participation_ratio",
           "effective_directions"]


# ------------------------------------------------------------------------------------------------
# optimal transport on the line
# ------------------------------------------------------------------------------------------------

def _pair(x, y):
    x = v.float_array(x, "x", ndim=1)
    y = v.float_array(y, "y", ndim=1)
    if x.shape[0] == 0:
        raise ValueError("x must not be empty")
    v.same_dim(x, y, "x", "y", axis=0)
    dtype = jnp.result_type(x.dtype, y.dtype)
    return x.astype(dtype), y.astype(dtype)


@jax.jit
def _w2(x, y):
    return jnp.sqrt(jnp.mean((jnp.sort(x) - jnp.sort(y)) ** 2))


@jax.jit
def _qmap(x, y):
    ranks = jnp.argsort(jnp.argsort(x))
    return jnp.sort(y)[ranks]


def wasserstein2_1d(x, y) -> jax.Array:
    """``W_2`` between the empirical measures of two 1-D samples of equal size ``n``:
    ``sqrt((1/n) Σ_i (x_(i) − y_(i))²)`` with ``x_(i)``, ``y_(i)`` the order statistics."""
    x, y = _pair(x, y)
    return _w2(x, y)


def gaussian_w2(m1, s1, m2, s2) -> float:
    """Closed form ``W_2(N(m1, s1²), N(m2, s2²)) = sqrt((m1 − m2)² + (s1 − s2)²)`` (s1, s2 ≥ 0)."""
    m1, m2 = v.scalar(m1, "m1"), v.scalar(m2, "m2")
    s1 = v.scalar(s1, "s1", nonnegative=True)
    s2 = v.scalar(s2, "s2", nonnegative=True)
    return float(((m1 - m2) ** 2 + (s1 - s2) ** 2) ** 0.5)


def quantile_map(x, y) -> jax.Array:
    """Empirical monotone (optimal) transport map from sample ``x`` to sample ``y`` (equal size):
    returns ``T(x_i) = y_(r_i)``, the order statistic of ``y`` of the same rank ``r_i`` as ``x_i``
    (ties in ``x`` are broken by position). ``T`` pushes the empirical measure of ``x`` exactly
    onto that of ``y``, is non-decreasing, and ``mean((x − T(x))²) = W_2²``."""
    x, y = _pair(x, y)
    return _qmap(x, y)


def displacement_interpolation(x, y, t) -> jax.Array:
    """McCann's interpolation ``(1 − t) x_i + t T(x_i)`` with ``T`` = :func:`quantile_map`;
    its empirical measure ``μ_t`` is the constant-speed ``W_2`` geodesic,
    ``W_2(μ_s, μ_t) = |t − s| W_2(μ_0, μ_1)`` for ``s, t ∈ [0, 1]``."""
    x, y = _pair(x, y)
    t = v.scalar(t, "t", nonnegative=True, upper=1.0)
    return (1 - t) * x + t * _qmap(x, y)


# ------------------------------------------------------------------------------------------------
# particles: alignment and concentration
# ------------------------------------------------------------------------------------------------

def _particles(particles, name="particles"):
    P = v.float_array(particles, name, ndim=2)
    if P.shape[1] < 2:
        raise ValueError(f"{name} must have shape (N, 1 + d) with d >= 1, got {P.shape}")
    return P


@jax.jit
def _cos(W, U):
    Wn = W / jnp.maximum(jnp.linalg.norm(W, axis=1, keepdims=True), 1e-30)
    Un = U / jnp.linalg.norm(U, axis=1, keepdims=True)
    return Wn @ Un.T


def teacher_cosines(particles, U) -> jax.Array:
    """``cos(w_j, u_k) = w_jᵀu_k / (‖w_j‖ ‖u_k‖)`` for particles ``(N, 1 + d)`` (column 0 is the
    output weight, ignored) and teacher directions ``U`` ``(K, d)``; shape ``(N, K)``."""
    P = _particles(particles)
    U = v.float_array(U, "U", ndim=2)
    if U.shape[1] != P.shape[1] - 1:
        raise ValueError(f"U must have shape (K, {P.shape[1] - 1}) for particles of shape "
                         f"{P.shape}, got {U.shape}")
    if bool(jnp.any(jnp.linalg.norm(U, axis=1) == 0)):
        raise ValueError("U must not contain zero rows")
    dtype = jnp.result_type(P.dtype, U.dtype)
    return _cos(P[:, 1:].astype(dtype), U.astype(dtype))


def neuron_mass(particles) -> jax.Array:
    """``m_j = |a_j| ‖w_j‖``, shape ``(N,)``."""
    P = _particles(particles)
    return _mass(P)


@jax.jit
def _mass(P):
    return jnp.abs(P[:, 0]) * jnp.linalg.norm(P[:, 1:], axis=1)


def weighted_alignment(particles, U, *, signed: bool = True) -> jax.Array:
    """Mass-weighted alignment of the particles to each teacher direction, shape ``(K,)``.

    Each particle is assigned to its nearest teacher ``k(j) = argmax_k c_jk`` where
    ``c_jk = cos(w_j, u_k)`` (``|cos|`` if ``signed`` is false, for odd activations whose
    neurons ``(a, w)`` and ``(−a, −w)`` coincide), and

        A_k = Σ_{j: k(j) = k} m_j c_jk / Σ_{j: k(j) = k} m_j,     m_j = |a_j| ‖w_j‖,

    (``A_k = 0`` if no particle is assigned to ``k``). ``A_k = 1`` iff all mass assigned to
    teacher ``k`` sits exactly on its direction.
    """
    C = teacher_cosines(particles, U)
    P = _particles(particles)
    return _alignment(P.astype(C.dtype), C, bool(signed))


@partial(jax.jit, static_argnames="signed")
def _alignment(P, C, signed):
    if not signed:
        C = jnp.abs(C)
    m = jnp.abs(P[:, 0]) * jnp.linalg.norm(P[:, 1:], axis=1)
    assign = jax.nn.one_hot(jnp.argmax(C, axis=1), C.shape[1], dtype=C.dtype)   # (N, K)
    num = jnp.sum(assign * C * m[:, None], axis=0)
    den = jnp.sum(assign * m[:, None], axis=0)
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), 0.0)


def participation_ratio(particles) -> jax.Array:
    """Effective fraction of active neurons ``(Σ_j m_j)² / (N Σ_j m_j²) ∈ [1/N, 1]`` with
    ``m_j = |a_j| ‖w_j‖``: 1 when all neurons carry equal mass, ``k/N`` when ``k`` share it."""
    m = neuron_mass(particles)
    if not bool(jnp.any(m > 0)):
        raise ValueError("particles must have at least one neuron of nonzero mass |a| ||w||")
    return _pr(m)


@jax.jit
def _pr(m):
    return jnp.sum(m) ** 2 / (m.shape[0] * jnp.sum(m ** 2))


def effective_directions(particles) -> jax.Array:
    """Effective number of directions carrying the mass, ``tr(M)² / tr(M²) ∈ [1, d]`` with
    ``M = Σ_j m_j ŵ_j ŵ_jᵀ``, ``ŵ_j = w_j/‖w_j‖``, ``m_j = |a_j| ‖w_j‖``: 1 when all mass lies on one
    line ``±u``, ``d`` when the mass-weighted directions are isotropic (the participation ratio
    of the eigenvalues of ``M``)."""
    P = _particles(particles)
    m = neuron_mass(P)
    if not bool(jnp.any(m > 0)):
        raise ValueError("particles must have at least one neuron of nonzero mass |a| ||w||")
    return _eff_dirs(P, m)


@jax.jit
def _eff_dirs(P, m):
    W = P[:, 1:]
    Wn = W / jnp.maximum(jnp.linalg.norm(W, axis=1, keepdims=True), 1e-30)
    M = (Wn * m[:, None]).T @ Wn
    return jnp.trace(M) ** 2 / jnp.sum(M * M)
