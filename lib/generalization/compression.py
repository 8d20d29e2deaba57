"""Compression of a hidden layer: effective degrees of freedom and spectral pruning.

A hidden layer with ``p`` units produces features ``φ(x) ∈ R^p``; its (uncentred) covariance is
``Σ = E[φ(x) φ(x)ᵀ]``, estimated on n inputs by ``Σ̂ = HᵀH / n`` with ``H`` the ``(n, p)`` matrix
of activations (:func:`covariance`).

Effective degrees of freedom
----------------------------
``N(λ) = tr(Σ (Σ + λI)^{-1}) = Σ_j μ_j / (μ_j + λ)`` with ``μ_j`` the eigenvalues of ``Σ``
(:func:`effective_dof`); the diagonal of ``Σ(Σ+λI)^{-1}`` are the *ridge leverage scores*
(:func:`ridge_leverage_scores`), which sum to ``N(λ)``.

Spectral pruning (Suzuki et al., 2020)
--------------------------------------
Keep a subset ``J`` of ``m`` units and rebuild all ``p`` units from them by the ridge map

    A = Σ_{FJ} (Σ_{JJ} + λI)^{-1}          (p × m, :func:`reconstruction_matrix`),

which attains ``min_A E‖φ(x) − Aφ_J(x)‖² + λ‖A‖_F² = tr R_J`` with the *residual*

    R_J = Σ − Σ_{FJ} (Σ_{JJ} + λI)^{-1} Σ_{JF}          (:func:`residual_covariance`).

:func:`select_units` picks ``J`` greedily: adding unit ``j`` changes the residual by the rank-one
update ``R ← R − r_j r_jᵀ / (R_jj + λ)`` (``r_j`` the j-th column of ``R``; block-inverse formula),
so each step takes the ``j`` with the largest decrease ``(‖r_j‖² + θ (wᵀr_j)²) / (R_jj + λ)`` of
``tr R + θ wᵀ R w`` (``w``: optional output weights, the "output-aware" term). The whole loop is one
``lax.fori_loop``. :func:`leverage_sample` draws ``J`` instead with probabilities proportional to
the ridge leverage scores (Bach, 2017), without replacement (Gumbel top-m).

:func:`prune_mlp` returns the parameters of the compressed network in the ``lib.nets`` format: the
pruned layer keeps the columns ``J`` of its incoming weights, and the next layer's weights become
``Aᵀ W`` (rescaled for the width-dependent multipliers of the parameterization), so that
``apply_mlp`` evaluates ``x ↦ ... W_next(A φ_J(x)) ...`` exactly.

Bounds
------
:func:`parameter_count_bound` ``sqrt((W log n + log(1/δ)) / n)`` for a class of ``W`` parameters
and :func:`compression_bound` ``sqrt(r̂) + sqrt((W_# log n + log(1/δ)) / n)`` for a network that
compresses, with output error ``r̂`` on the sample, to one with ``W_#`` parameters (shapes of the
bounds with absolute constants set to 1).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from .. import _validate as v
from ..activations import activation_fn
from ..nets import PARAMETERIZATIONS, layer_multiplier

__all__ = ["covariance", "effective_dof", "effective_dof_from_eigs", "ridge_leverage_scores",
           "select_units", "leverage_sample", "reconstruction_matrix", "residual_covariance",
           "hidden_activations", "prune_mlp", "count_params", "parameter_count_bound",
           "compression_bound"]


def _check_cov(cov, name: str = "cov") -> jax.Array:
    cov = v.float_array(cov, name, ndim=2)
    if cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square (p, p) matrix, got shape {cov.shape}")
    return cov


def _check_lam(lam, *, positive: bool = False) -> jax.Array:
    lam = v.float_array(lam, "lam", ndim=(0, 1))
    (v.positive if positive else v.nonnegative)(lam, "lam")
    return lam


def covariance(H) -> jax.Array:
    """Uncentred empirical covariance ``Σ̂ = HᵀH / n`` of activations ``H`` of shape ``(n, p)``."""
    H = v.float_array(H, "H", ndim=2)
    return H.T @ H / H.shape[0]


@jax.jit
def _dof_from_eigs(eigs, lam):
    eigs = jnp.clip(eigs, 0.0)
    lam = jnp.asarray(lam, eigs.dtype)
    return jnp.sum(eigs / (eigs + lam[..., None]), axis=-1)


def effective_dof(cov, lam) -> jax.Array:
    """Effective degrees of freedom ``N(λ) = tr(Σ(Σ+λI)^{-1}) = Σ_j μ_j/(μ_j+λ)``.

    ``cov``: symmetric PSD ``(p, p)`` matrix (one eigendecomposition serves every λ);
    ``lam``: scalar or 1-D array of ridges ``> 0``. Returns an array shaped like ``lam``.
    Negative round-off eigenvalues are clipped to 0.
    """
    cov = _check_cov(cov)
    lam = _check_lam(lam, positive=True)
    return _dof_from_eigs(jnp.linalg.eigvalsh(cov), lam)


def effective_dof_from_eigs(eigs, lam) -> jax.Array:
    """``N(λ) = Σ_j μ_j/(μ_j+λ)`` from given eigenvalues ``eigs`` (1-D, ``>= 0``)."""
    eigs = v.float_array(eigs, "eigs", ndim=1)
    lam = _check_lam(lam, positive=True)
    return _dof_from_eigs(eigs, lam)


@jax.jit
def _leverage(cov, lam):
    p = cov.shape[0]
    M = jnp.linalg.solve(cov + lam * jnp.eye(p, dtype=cov.dtype), cov)   # (Σ+λ)^{-1}Σ
    return jnp.diag(M)


def ridge_leverage_scores(cov, lam) -> jax.Array:
    """Ridge leverage scores ``τ_j(λ) = [Σ(Σ+λI)^{-1}]_{jj}``, ``Σ_j τ_j = N(λ)``, each in [0, 1)."""
    cov = _check_cov(cov)
    lam = _check_lam(lam, positive=True)
    if lam.ndim:
        raise ValueError("lam must be a scalar here")
    return _leverage(cov, lam)


@partial(jax.jit, static_argnames=("m",))
def _greedy(cov, m, lam, w, theta):
    p = cov.shape[0]

    def body(i, carry):
        R, chosen, units = carry
        gain = (jnp.sum(R * R, axis=0) + theta * (w @ R) ** 2) / (jnp.diag(R) + lam)
        gain = jnp.where(chosen, -jnp.inf, gain)
        j = jnp.argmax(gain)
        r = R[:, j]
        R = R - jnp.outer(r, r) / (R[j, j] + lam)
        return R, chosen.at[j].set(True), units.at[i].set(j.astype(units.dtype))

    init = (cov, jnp.zeros(p, bool), jnp.zeros(m, jnp.int32))
    _, _, units = jax.lax.fori_loop(0, m, body, init)
    return units


def select_units(cov, m: int, *, lam, out_weights=None, theta: float = 0.0) -> jax.Array:
    """Greedy spectral-pruning choice of ``m`` units (indices in the order chosen).

    Minimizes, one unit at a time, ``tr R_J + θ wᵀ R_J w`` with
    ``R_J = Σ − Σ_{FJ}(Σ_{JJ}+λI)^{-1}Σ_{JF}`` (input-aware term plus, with ``theta > 0``, the
    output-aware term for output weights ``w = out_weights`` of shape ``(p,)``). ``lam >= 0``;
    with ``lam = 0`` this is pivoted Cholesky with the trace-reduction rule (only valid while the
    chosen block stays non-singular, i.e. ``m <= rank Σ``).
    """
    cov = _check_cov(cov)
    p = cov.shape[0]
    m = v.integer(m, "m", minimum=1)
    if m > p:
        raise ValueError(f"m must be <= the number of units p = {p}, got {m}")
    lam = _check_lam(lam)
    if lam.ndim:
        raise ValueError("lam must be a scalar")
    theta = v.scalar(theta, "theta", nonnegative=True)
    if out_weights is None:
        w = jnp.zeros(p, cov.dtype)
    else:
        w = v.float_array(out_weights, "out_weights", ndim=1)
        if w.shape[0] != p:
            raise ValueError(f"out_weights must have length p = {p}, got {w.shape[0]}")
    return _greedy(cov, m, lam.astype(cov.dtype), w.astype(cov.dtype), theta)


def leverage_sample(key, cov, m: int, *, lam) -> jax.Array:
    """``m`` distinct units drawn with probabilities ``∝ τ_j(λ)`` (Gumbel top-m, no replacement)."""
    key = v.key(key)
    tau = ridge_leverage_scores(cov, lam)
    p = tau.shape[0]
    m = v.integer(m, "m", minimum=1)
    if m > p:
        raise ValueError(f"m must be <= the number of units p = {p}, got {m}")
    g = jax.random.gumbel(key, (p,), dtype=tau.dtype)
    score = jnp.log(jnp.clip(tau, jnp.finfo(tau.dtype).tiny)) + g
    return jax.lax.top_k(score, m)[1]


def _check_units(units, p: int) -> jax.Array:
    units = jnp.asarray(units)
    if units.ndim != 1 or not jnp.issubdtype(units.dtype, jnp.integer):
        raise ValueError(f"units must be a 1-D integer array, got {units.dtype} {units.shape}")
    if units.shape[0] < 1:
        raise ValueError("units must not be empty")
    if not v.is_tracer(units):
        with jax.ensure_compile_time_eval():
            ok = bool(jnp.all((units >= 0) & (units < p)))
            distinct = int(jnp.unique(units).shape[0]) == units.shape[0]
        if not ok:
            raise ValueError(f"units must lie in [0, {p}), got {units}")
        if not distinct:
            raise ValueError("units must be distinct")
    return units


@jax.jit
def _recon(cov, units, lam):
    m = units.shape[0]
    S_FJ = cov[:, units]
    S_JJ = S_FJ[units]
    return jnp.linalg.solve(S_JJ + lam * jnp.eye(m, dtype=cov.dtype), S_FJ.T).T


def reconstruction_matrix(cov, units, *, lam) -> jax.Array:
    """Ridge reconstruction map ``A = Σ_{FJ}(Σ_{JJ}+λI)^{-1}`` of shape ``(p, m)``: ``φ ≈ A φ_J``."""
    cov = _check_cov(cov)
    units = _check_units(units, cov.shape[0])
    lam = _check_lam(lam)
    if lam.ndim:
        raise ValueError("lam must be a scalar")
    return _recon(cov, units, lam.astype(cov.dtype))


def residual_covariance(cov, units, *, lam) -> jax.Array:
    """``R_J = Σ − Σ_{FJ}(Σ_{JJ}+λI)^{-1}Σ_{JF}``; ``tr R_J`` is the regularized reconstruction
    error ``min_A E‖φ − Aφ_J‖² + λ‖A‖_F²`` and ``wᵀR_J w`` bounds ``E[(wᵀφ − wᵀAφ_J)²]``."""
    cov = _check_cov(cov)
    A = reconstruction_matrix(cov, units, lam=lam)
    units = jnp.asarray(units)
    return cov - A @ cov[units, :]


def _check_mlp(params, layer: int):
    if not isinstance(params, (list, tuple)) or len(params) < 2:
        raise ValueError("params must be a list of (W, b) pairs with at least one hidden layer")
    layer = v.integer(layer, "layer", minimum=1)
    if layer > len(params) - 1:
        raise ValueError(f"layer must be in 1..{len(params) - 1} (hidden layers), got {layer}")
    return layer


def hidden_activations(params, x, *, layer: int = 1, activation: str = "relu",
                       parameterization: str = "ntk", w_std: float = 1.0,
                       b_std: float = 0.0) -> jax.Array:
    """Post-activations ``σ(h^layer)`` (shape ``(n, n_layer)``) of hidden layer ``layer`` (1-based)
    of a ``lib.nets`` MLP, with the same conventions as :func:`lib.nets.apply_mlp`."""
    layer = _check_mlp(params, layer)
    x = v.float_array(x, "x", ndim=2)
    v.choice(parameterization, "parameterization", PARAMETERIZATIONS)
    sigma = activation_fn(activation)
    h = x
    for l in range(layer):
        W, b = params[l]
        if l > 0:
            h = sigma(h)
        h = layer_multiplier(parameterization, W.shape[0], False, w_std) * (h @ W) + b_std * b
    return sigma(h)


def prune_mlp(params, units, recon, *, layer: int = 1, parameterization: str = "ntk",
              w_std: float = 1.0):
    """Compressed ``lib.nets`` parameters: hidden layer ``layer`` keeps ``units`` (m of its p
    units) and the next layer's weights become ``c · Aᵀ W_next`` with ``A = recon`` of shape
    ``(p, m)`` and ``c = m_p / m_m`` the ratio of the parameterization's multipliers at fan-in p and
    m, so that ``apply_mlp(pruned, x)`` equals the network with ``φ`` replaced by ``A φ_J``.
    ``recon = I[:, units]`` is plain pruning (the other units dropped, no reconstruction)."""
    layer = _check_mlp(params, layer)
    v.choice(parameterization, "parameterization", PARAMETERIZATIONS)
    W_in, b_in = params[layer - 1]
    W_out, b_out = params[layer]
    p = W_in.shape[1]
    units = _check_units(units, p)
    m = units.shape[0]
    recon = v.float_array(recon, "recon", ndim=2)
    if recon.shape != (p, m):
        raise ValueError(f"recon must have shape (p, m) = ({p}, {m}), got {recon.shape}")
    is_last = layer == len(params) - 1
    c = layer_multiplier(parameterization, p, is_last, w_std) / layer_multiplier(parameterization, m,
                                                                       is_last, w_std)
    new = list(params)
    new[layer - 1] = (W_in[:, units], b_in[units])
    new[layer] = (c * (recon.T @ W_out), b_out)
    return new


def count_params(widths) -> int:
    """Number of weights and biases of a fully connected net with layer sizes ``widths``."""
    if len(widths) < 2:
        raise ValueError(f"widths must list at least input and output sizes, got {widths!r}")
    widths = [v.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths)]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def parameter_count_bound(n_params, n, *, delta: float = 0.05) -> jax.Array:
    """``sqrt((W log n + log(1/δ)) / n)``: the shape of a uniform (VC / pseudo-dimension)
    generalization bound for a class with ``W = n_params`` parameters (constants set to 1)."""
    W = v.float_array(n_params, "n_params", ndim=(0, 1))
    v.positive(W, "n_params")
    n = v.integer(n, "n", minimum=2)
    delta = v.scalar(delta, "delta", positive=True, upper=1.0)
    return jnp.sqrt((W * jnp.log(n) + jnp.log(1.0 / delta)) / n)


def compression_bound(recon_error, n_params_compressed, n, *, delta: float = 0.05) -> jax.Array:
    """``sqrt(r̂) + sqrt((W_# log n + log(1/δ)) / n)``: bias (output error ``r̂ = recon_error`` of the
    compressed net on the sample) plus the parameter-count bound of the compressed class."""
    r = v.float_array(recon_error, "recon_error", ndim=(0, 1))
    v.nonnegative(r, "recon_error")
    return jnp.sqrt(r) + parameter_count_bound(n_params_compressed, n, delta=delta)
