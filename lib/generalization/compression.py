"""Compression of a hidden layer: effective degrees of freedom and spectral pruning.

A hidden layer with ``p`` units produces features ``φ(x) ∈ R^p``; its (uncentred) covariance is
``Σ = E[φ(x) φ(x)ᵀ]``, estimated on n inputs by ``Σ̂ = HᵀH / n`` with ``H`` the ``(n, p)`` matrix
of activations (:func:`covariance`).

Effective degrees of freedom
----------------------------
``N(λ) = tr(Σ (Σ + λI)^{-1}) = Σ_j μ_j / (μ_j + λ)`` with ``μ_j`` the eigenvalues of ``Σ``
(:func:`effective_dof`; :func:`lam_for_dof` inverts it); the diagonal of ``Σ(Σ+λI)^{-1}`` are the
*ridge leverage scores* (:func:`ridge_leverage_scores`), which sum to ``N(λ)``.

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
the ridge leverage scores without replacement (Gumbel top-m), a heuristic.

Leverage-score sampling with reweighting (Bach, 2017)
-----------------------------------------------------
The theorem samples ``m`` units i.i.d. with probabilities ``q_j`` (``q_j = τ_j/N(λ)`` for leverage
sampling, ``q_j = 1/p`` for uniform sampling) and reweights unit ``j`` by ``1/√(m q_j)``. A unit
drawn ``k_j`` times then carries the weight ``s_j = k_j/(m q_j)`` (``E s_j = 1``;
:func:`importance_weights`), and the ridge reconstruction from the reweighted units has residual

    R_s = Σ − Σ S^{1/2}(S^{1/2} Σ S^{1/2} + λI)^{-1} S^{1/2} Σ = λ Σ^{1/2}(Σ^{1/2} S Σ^{1/2} + λI)^{-1}Σ^{1/2}

(``S = diag(s)``), the same as :func:`residual_covariance` on the drawn units with the per-unit
ridges ``λ/s_j`` (``weights`` argument of :func:`reconstruction_matrix`);
:func:`reweighted_residual_norm` evaluates ``λ_max(R_s)/λ`` from the second, cancellation-free
form, for many draws at once.

Uncorrelated units
------------------
When the units are uncorrelated, ``Σ = diag(μ)`` in the unit basis, ``R_s`` is diagonal and
``ρ = max_j μ_j/(μ_j s_j + λ)`` (:func:`uncorrelated_residual_norm`, O(p) per draw). Then
``ρ <= c`` iff every unit with ``μ_j > cλ`` is drawn ``k_j >= m q_j (1/c − λ/μ_j)`` times, and the
multinomial counts are negatively associated, so the product of the binomial marginals bounds the
success probability from above (:func:`uncorrelated_success_bound`): a coupon-collector
computation, which needs ``m ∝ N(λ) log N(λ)`` draws.

:func:`prune_mlp` returns the parameters of the compressed network in the ``lib.nets`` format: the
pruned layer keeps the columns ``J`` of its incoming weights, and the next layer's weights become
``Aᵀ W`` (rescaled for the width-dependent multipliers of the parameterization), so that
``apply_mlp`` evaluates ``x ↦ ... W_next(A φ_J(x)) ...`` exactly.

Bounds
------
:func:`parameter_count_bound` ``sqrt((W log W log n + log(1/δ)) / n)`` for a class of ``W``
parameters (pseudo-dimension ``O(W log W)``) and :func:`compression_bound`
``sqrt(r̂) + sqrt((W_# log W_# log n + log(1/δ)) / n)`` for a network that compresses, with output
error ``r̂`` on the sample, to one with ``W_#`` parameters (shapes of the bounds with absolute
constants set to 1); :func:`nonvacuous_sample_size` is the smallest ``n`` at which such a bound
drops below 1.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from ..activations import activation_fn
from ..nets import PARAMETERIZATIONS, layer_multiplier

__all__ = ["covariance", "effective_dof", "effective_dof_from_eigs", "lam_for_dof", "ridge_leverage_scores",
           "select_units", "leverage_sample", "reconstruction_matrix", "residual_covariance",
           "importance_weights", "reweighted_reconstruction", "reweighted_residual_norm",
           "uncorrelated_residual_norm", "uncorrelated_success_bound", "hidden_activations", "prune_mlp",
           "count_params", "parameter_count_bound", "compression_bound", "nonvacuous_sample_size"]


def _check_cov(cov, name: str = "cov") -> jax.Array:
    cov = v.float_array(cov, name, ndim=2)
    if cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square (p, p) matrix, got shape {cov.shape}")
    return cov


def _check_lam(lam, *, positive: bool = False, scalar: bool = False) -> jax.Array:
    """Validated ridge: ``>= 0`` (``> 0`` with ``positive``); a scalar with ``scalar``, else a scalar
    or a 1-D array."""
    lam = v.float_array(lam, "lam", ndim=(0, 1))
    if scalar and lam.ndim:
        raise ValueError(f"lam must be a scalar here, got shape {lam.shape}")
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


@partial(jax.jit, static_argnames=("iters",))
def _lam_for_dof(eigs, dof, iters):
    eigs = jnp.clip(eigs, 0.0)
    pos = eigs > 0
    r = jnp.sum(pos).astype(eigs.dtype)
    mu_min = jnp.min(jnp.where(pos, eigs, jnp.inf))
    log_hi = jnp.log(jnp.sum(eigs) / dof)                  # N(λ) <= tr Σ/λ = dof there
    log_lo = jnp.log(mu_min * (r - dof) / dof)              # N(λ) >= r μ_min/(μ_min+λ) = dof there

    def body(_, bracket):
        lo, hi = bracket
        mid = (lo + hi) / 2
        above = _dof_from_eigs(eigs, jnp.exp(mid)) > dof    # N decreases in λ: the root is above mid
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iters, body, (log_lo, log_hi))
    return jnp.exp((lo + hi) / 2)


def lam_for_dof(eigs, dof, *, iters: int = 60) -> jax.Array:
    """The ridge ``λ`` with ``N(λ) = Σ_j μ_j/(μ_j+λ) = dof``, from eigenvalues ``eigs`` (1-D, ``>= 0``).

    ``N`` decreases from ``r`` (the number of positive ``μ_j``) to 0, so the root is unique for
    ``0 < dof < r``; ``dof``: a scalar or 1-D array of targets (result shaped alike). Bisection in
    ``log λ`` (``iters`` steps, vectorized over the targets, one jitted loop) on the bracket
    ``[μ_min (r − dof)/dof, tr Σ/dof]``, where ``N >= r μ_min/(μ_min+λ)`` and ``N <= tr Σ/λ``
    make the two ends straddle the target (``μ_min``: the smallest positive eigenvalue).

    Out-of-range targets raise ``ValueError`` only for concrete inputs. Under ``jax.jit``/``vmap``
    tracing the values cannot be checked and nothing is raised: ``dof > r`` (and ``dof < 0``) then
    returns NaN silently, ``dof = r`` returns 0 and ``dof = 0`` returns ``inf``."""
    eigs = v.float_array(eigs, "eigs", ndim=1)
    v.nonnegative(eigs, "eigs")
    dof = v.float_array(dof, "dof", ndim=(0, 1))
    v.positive(dof, "dof")
    iters = v.integer(iters, "iters", minimum=1)
    if not (v.is_tracer(eigs) or v.is_tracer(dof)):
        r = int(jnp.sum(eigs > 0))
        if float(jnp.max(dof)) >= r:
            raise ValueError(f"dof must be below the number of positive eigenvalues {r}, got {dof}")
    return _lam_for_dof(eigs, dof.astype(eigs.dtype), iters)


@jax.jit
def _leverage(cov, lam):
    p = cov.shape[0]
    M = jnp.linalg.solve(cov + lam * jnp.eye(p, dtype=cov.dtype), cov)   # (Σ+λ)^{-1}Σ
    return jnp.diag(M)


@jax.jit
def _leverage_eig(mu, U, lam):
    mu = jnp.clip(mu, 0.0)
    return (U ** 2) @ (mu / (mu + lam))


def _check_eig(eig, p: int):
    if not (isinstance(eig, (tuple, list)) and len(eig) == 2):
        raise ValueError("eig must be the pair (mu, U) returned by jnp.linalg.eigh(cov)")
    mu = v.float_array(eig[0], "eig", ndim=1)
    U = v.float_array(eig[1], "eig", ndim=2)
    if mu.shape != (p,) or U.shape != (p, p):
        raise ValueError(f"eig must hold mu of shape ({p},) and U of shape ({p}, {p}), "
                         f"got {mu.shape} and {U.shape}")
    return mu, U


def ridge_leverage_scores(cov, lam, *, eig=None) -> jax.Array:
    """Ridge leverage scores ``τ_j(λ) = [Σ(Σ+λI)^{-1}]_{jj} = Σ_k U_{jk}² μ_k/(μ_k+λ)``,
    ``Σ_j τ_j = N(λ)``, each in [0, 1). ``eig = (mu, U) = jnp.linalg.eigh(cov)`` (optional) reuses
    one eigendecomposition for many λ; without it one linear solve is done."""
    cov = _check_cov(cov)
    lam = _check_lam(lam, positive=True, scalar=True)
    if eig is not None:
        mu, U = _check_eig(eig, cov.shape[0])
        return _leverage_eig(mu, U, lam.astype(mu.dtype))
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
    lam = _check_lam(lam, scalar=True)
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
def _recon(cov, units, ridge):
    S_FJ = cov[:, units]
    S_JJ = S_FJ[units]
    return jnp.linalg.solve(S_JJ + jnp.diag(ridge), S_FJ.T).T


def _unit_ridge(lam, weights, m, dtype):
    lam = _check_lam(lam, scalar=True)
    if weights is None:
        return jnp.full((m,), lam, dtype)
    weights = v.float_array(weights, "weights", ndim=1)
    if weights.shape[0] != m:
        raise ValueError(f"weights must have one entry per unit ({m}), got {weights.shape[0]}")
    v.positive(weights, "weights")
    return (lam / weights).astype(dtype)


def reconstruction_matrix(cov, units, *, lam, weights=None) -> jax.Array:
    """Ridge reconstruction map ``A = Σ_{FJ}(Σ_{JJ}+λ diag(1/s))^{-1}`` of shape ``(p, m)``:
    ``φ ≈ A φ_J``. ``weights = s`` (length m, ``> 0``) are the sampling weights of the kept units
    (:func:`importance_weights`; unit j reweighted by ``√s_j``, ridge ``λ/s_j``); default ``s = 1``."""
    cov = _check_cov(cov)
    units = _check_units(units, cov.shape[0])
    ridge = _unit_ridge(lam, weights, units.shape[0], cov.dtype)
    return _recon(cov, units, ridge)


def residual_covariance(cov, units, *, lam, weights=None) -> jax.Array:
    """``R_J = Σ − Σ_{FJ}(Σ_{JJ}+λ diag(1/s))^{-1}Σ_{JF}`` (``s = weights``, default 1); ``tr R_J``
    is the regularized reconstruction error ``min_A E‖φ − Aφ_J‖² + λ‖A‖_F²`` and ``wᵀR_J w``
    bounds ``E[(wᵀφ − wᵀAφ_J)²]``."""
    cov = _check_cov(cov)
    A = reconstruction_matrix(cov, units, lam=lam, weights=weights)
    units = jnp.asarray(units)
    return cov - A @ cov[units, :]


@partial(jax.jit, static_argnames=("m_pad", "n_draws"))
def _importance(key, probs, m, m_pad, n_draws):
    p = probs.shape[0]
    draws = jax.random.choice(key, p, (n_draws, m_pad), replace=True, p=probs)
    safe = jnp.where(probs > 0, probs, 1.0)

    def weights(mk):                                          # the first mk draws count
        used = (jnp.arange(m_pad) < mk).astype(probs.dtype)
        counts = jax.vmap(lambda d: jnp.zeros(p, probs.dtype).at[d].add(used))(draws)
        return counts / (mk * safe)

    return jax.lax.map(weights, m)


def importance_weights(key, probs, m, *, n_draws: int = 1) -> jax.Array:
    """Weights ``s_j = k_j/(m q_j)`` of ``m`` i.i.d. draws of units with probabilities ``q = probs``
    (``k_j``: times unit j is drawn; ``E s_j = 1``), for ``n_draws`` independent samples: shape
    ``(n_draws, p)``. ``probs`` (1-D, ``>= 0``) is normalized to sum 1. Leverage sampling:
    ``probs = ridge_leverage_scores(cov, lam)``; uniform sampling: ``probs = ones(p)``.
    ``m`` may be a 1-D sequence of draw counts: then the result has shape ``(len(m), n_draws, p)``
    and is *nested* — entry ``i`` uses the first ``m[i]`` draws of the same ``n_draws`` sequences
    (one compiled shape per length of ``m`` and power of two above ``max(m)``)."""
    key = v.key(key)
    probs = v.float_array(probs, "probs", ndim=1)
    v.nonnegative(probs, "probs")
    total = float(jnp.sum(probs)) if not v.is_tracer(probs) else None
    if total is not None and total <= 0:
        raise ValueError("probs must have a positive sum")
    many = np.ndim(m) == 1
    ms = [v.integer(mk, "m", minimum=1) for mk in np.atleast_1d(m)] if np.ndim(m) <= 1 else None
    if not ms:
        raise ValueError(f"m must be a positive integer or a non-empty 1-D sequence of them, got {m!r}")
    n_draws = v.integer(n_draws, "n_draws", minimum=1)
    m_max = max(ms)
    m_pad = max(64, 1 << (m_max - 1).bit_length())    # one compilation per power of two
    out = _importance(key, probs / jnp.sum(probs), jnp.asarray(ms, probs.dtype), m_pad, n_draws)
    return out if many else out[0]


@jax.jit
def _reweighted_recon(cov, weights, lam):
    root = jnp.sqrt(weights)
    G = root[:, None] * cov * root[None, :] + lam * jnp.eye(cov.shape[0], dtype=cov.dtype)
    return (cov * root[None, :]) @ jnp.linalg.solve(G, jnp.diag(root))


def reweighted_reconstruction(cov, weights, *, lam) -> jax.Array:
    """Full-width form ``A = Σ S^{1/2}(S^{1/2}ΣS^{1/2} + λI)^{-1}S^{1/2}`` (``S = diag(s)``,
    ``s = weights >= 0`` of shape ``(p,)``) of the reweighted ridge map: column ``j`` is 0 when
    ``s_j = 0``, and the columns of the kept units ``J`` equal
    ``reconstruction_matrix(cov, J, lam=lam, weights=s_J)``, so ``A φ`` uses only the kept units.
    One compiled shape for any kept set: ``prune_mlp(params, arange(p), A)`` is the compressed
    network written at full width (dropped units get zero outgoing weights). ``s = 1_J`` gives the
    plain ridge map of :func:`reconstruction_matrix`."""
    cov = _check_cov(cov)
    weights = v.float_array(weights, "weights", ndim=1)
    if weights.shape[0] != cov.shape[0]:
        raise ValueError(f"weights must have p = {cov.shape[0]} entries, got {weights.shape[0]}")
    v.nonnegative(weights, "weights")
    lam = _check_lam(lam, positive=True, scalar=True)
    return _reweighted_recon(cov, weights.astype(cov.dtype), lam.astype(cov.dtype))


@jax.jit
def _reweighted_norm(Z, mu, weights, lam):
    half = jnp.sqrt(mu)
    eye = jnp.eye(mu.shape[0], dtype=Z.dtype)

    def one(s):
        G = Z.T @ (s[:, None] * Z) + lam * eye               # M^{1/2} U_rᵀ S U_r M^{1/2} + λI
        L = jax.scipy.linalg.cholesky(G, lower=True)
        B = jax.scipy.linalg.solve_triangular(L, jnp.diag(half), lower=True)
        return jnp.linalg.eigvalsh(B.T @ B)[-1]

    return jax.vmap(one)(weights)


def reweighted_residual_norm(cov, weights, *, lam, cutoff: float = 1e-3, eig=None) -> jax.Array:
    """``ρ = λ_max(R_s)/λ`` for the residual ``R_s = λ Σ^{1/2}(Σ^{1/2} S Σ^{1/2} + λI)^{-1}Σ^{1/2}``
    of the ridge reconstruction from units reweighted by ``√s_j`` (``S = diag(s)``,
    ``s = weights`` of shape ``(p,)`` or ``(n_draws, p)``, ``>= 0``; units with ``s_j = 0`` are not
    kept). ``R_s = Σ − Σ S^{1/2}(S^{1/2}ΣS^{1/2}+λI)^{-1}S^{1/2}Σ`` equals
    :func:`residual_covariance` on the kept units with ``weights``; ``R_s ⪯ cλI`` iff ``ρ <= c``.

    Computed in the span of the eigenvectors of ``Σ`` with eigenvalue ``μ_k >= cutoff · λ``
    (``r`` of them; an ``r × r`` problem per draw): ``ρ_r = λ_max(M_r^{1/2}(Z_rᵀSZ_r + λI)^{-1}M_r^{1/2})``,
    ``Z_r = U_r M_r^{1/2}``. Since ``R_s = (S/λ + Σ^{-1})^{-1}`` is operator-monotone in ``Σ``,
    ``ρ_r <= ρ`` exactly; dropping directions with ``μ_k < cutoff·λ`` lowers ρ by ``O(cutoff)``
    for a decaying spectrum (tested). ``cutoff = 0`` keeps every positive eigenvalue.
    ``eig = (mu, U) = jnp.linalg.eigh(cov)`` (optional) reuses one eigendecomposition."""
    cov = _check_cov(cov)
    weights, lam = _check_weights_lam(weights, lam, cov.shape[0])
    cutoff = v.scalar(cutoff, "cutoff", nonnegative=True)
    mu, U = jnp.linalg.eigh(cov) if eig is None else _check_eig(eig, cov.shape[0])
    floor = max(cutoff * float(lam), float(jnp.finfo(cov.dtype).eps) * float(mu[-1]))
    r = int(np.sum(np.asarray(mu) > floor))
    r_pad = min(cov.shape[0], 64 * -(-r // 64))      # pad to a multiple of 64: fewer compilations
    mu_r = jnp.where(jnp.arange(r_pad) < r, mu[::-1][:r_pad], 0.0)   # padded directions: μ = 0,
    Z = U[:, ::-1][:, :r_pad] * jnp.sqrt(mu_r)                        # they add 0 to ρ
    out = _reweighted_norm(Z, mu_r, jnp.atleast_2d(weights).astype(cov.dtype),
                           lam.astype(cov.dtype))
    return out if weights.ndim == 2 else out[0]


def _check_weights_lam(weights, lam, p: int):
    """Validated ``(weights, lam)``: weights ``(p,)`` or ``(n_draws, p)``, ``>= 0``; a scalar ``lam > 0``."""
    weights = v.float_array(weights, "weights", ndim=(1, 2))
    if weights.shape[-1] != p:
        raise ValueError(f"weights must have p = {p} entries per draw, got {weights.shape[-1]}")
    v.nonnegative(weights, "weights")
    lam = _check_lam(lam, positive=True, scalar=True)
    return weights, lam


def _check_mu(mu) -> jax.Array:
    mu = v.float_array(mu, "mu", ndim=1)
    v.nonnegative(mu, "mu")
    return mu


@jax.jit
def _uncorrelated_norm(mu, weights, lam):
    return jnp.max(mu / (mu * weights + lam), axis=-1)


def uncorrelated_residual_norm(mu, weights, *, lam) -> jax.Array:
    """``ρ = λ_max(R_s)/λ = max_j μ_j/(μ_j s_j + λ)`` for a layer of uncorrelated units,
    ``Σ = diag(μ)`` (``mu``: 1-D, ``>= 0``): then ``R_s = λΣ^{1/2}(Σ^{1/2}SΣ^{1/2}+λI)^{-1}Σ^{1/2}
    = diag(λμ_j/(μ_j s_j + λ))``, the same as :func:`reweighted_residual_norm` on ``diag(μ)`` with
    ``cutoff = 0``, in O(p). ``weights = s``: shape ``(p,)`` or ``(n_draws, p)``, ``>= 0``."""
    mu = _check_mu(mu)
    weights, lam = _check_weights_lam(weights, lam, mu.shape[0])
    return _uncorrelated_norm(mu, weights.astype(mu.dtype), lam.astype(mu.dtype))


def uncorrelated_success_bound(mu, m, *, lam, c: float = 4.0, probs=None) -> np.ndarray:
    """Upper bound on ``P(ρ <= c)`` for ``m`` i.i.d. draws with probabilities ``q = probs``
    (default: ridge leverage scores ``q_j = τ_j/N(λ)``, ``τ_j = μ_j/(μ_j+λ)``) and weights
    ``s_j = k_j/(m q_j)``, on a layer of uncorrelated units ``Σ = diag(μ)``:

        P(ρ <= c) <= Π_{j: μ_j > cλ} P(Bin(m, q_j) >= ⌈m q_j (1/c − λ/μ_j)⌉),

    since ``ρ <= c`` iff ``s_j >= 1/c − λ/μ_j`` for every j, and the multinomial counts ``k_j`` are
    negatively associated (Joag-Dev and Proschan, 1983), so increasing events on different units
    have at most the product probability. ``m``: a number or 1-D array of draw counts (returns the
    same shape, as NumPy, computed in float64 with SciPy's binomial tail); ``c > 0``; ``probs``
    (1-D, ``>= 0``) is normalized to sum 1."""
    from scipy import stats          # imported on use
    mu = _check_mu(mu)
    lam = _check_lam(lam, positive=True, scalar=True)
    c = v.scalar(c, "c", positive=True)
    m_arr = v.float_array(m, "m", ndim=(0, 1))
    v.positive(m_arr, "m")
    mu, lam = np.asarray(mu, np.float64), float(lam)
    if probs is None:
        q = mu / (mu + lam)
    else:
        q = v.float_array(probs, "probs", ndim=1)
        if q.shape != mu.shape:
            raise ValueError(f"probs must have the shape of mu {mu.shape}, got {q.shape}")
        v.nonnegative(q, "probs")
        q = np.asarray(q, np.float64)
    q = q / q.sum()
    need = mu > c * lam                               # only these units constrain ρ <= c
    mu_n, q_n = mu[need], q[need]
    mm = np.round(np.atleast_1d(np.asarray(m_arr, np.float64)))[:, None]
    k = np.maximum(np.ceil(mm * q_n * (1 / c - lam / mu_n)), 1.0)    # k_j >= a_j <=> ρ_j <= c
    out = np.exp(np.sum(stats.binom.logsf(k - 1, mm, q_n), axis=1))  # P(Bin >= k) = sf(k − 1)
    return out if m_arr.ndim else out[0]


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


def _check_W(n_params):
    W = v.float_array(n_params, "n_params", ndim=(0, 1))
    if not v.is_tracer(W):
        with jax.ensure_compile_time_eval():
            ok = bool(jnp.all(W >= 2))
        if not ok:
            raise ValueError("n_params must be >= 2")
    return W


def parameter_count_bound(n_params, n, *, delta: float = 0.05) -> jax.Array:
    """``sqrt((W log W · log n + log(1/δ)) / n)``: the shape of a uniform pseudo-dimension
    generalization bound for a class of piecewise-linear networks with ``W = n_params >= 2``
    parameters (pseudo-dimension ``O(W log W)`` at fixed depth; constants set to 1)."""
    W = _check_W(n_params)
    n = v.integer(n, "n", minimum=2)
    delta = v.scalar(delta, "delta", positive=True, upper=1.0)
    return jnp.sqrt((W * jnp.log(W) * jnp.log(n) + jnp.log(1.0 / delta)) / n)


def compression_bound(recon_error, n_params_compressed, n, *, delta: float = 0.05) -> jax.Array:
    """``sqrt(r̂) + sqrt((W_# log W_# · log n + log(1/δ)) / n)``: bias (output error
    ``r̂ = recon_error`` of the compressed net on the sample) plus the parameter-count bound of the
    compressed class (constants set to 1)."""
    r = v.float_array(recon_error, "recon_error", ndim=(0, 1))
    v.nonnegative(r, "recon_error")
    return jnp.sqrt(r) + parameter_count_bound(n_params_compressed, n, delta=delta)


def nonvacuous_sample_size(n_params, *, recon_error=0.0, delta: float = 0.05) -> jax.Array:
    """Smallest ``n >= 3`` (real-valued) with ``sqrt(r̂) + sqrt((W log W log n + log(1/δ))/n) <= 1``
    (``r̂ = recon_error < 1``, ``W = n_params``; the bound of :func:`compression_bound`, or of
    :func:`parameter_count_bound` for ``r̂ = 0``), by bisection on ``log n`` (the bound decreases
    in ``n`` for ``n >= 3``); ``r̂`` is held fixed, though in practice it changes with ``n``."""
    W = _check_W(n_params)
    r = v.float_array(recon_error, "recon_error", ndim=(0, 1))
    v.nonnegative(r, "recon_error")
    if not v.is_tracer(r):
        with jax.ensure_compile_time_eval():
            if bool(jnp.any(r >= 1)):
                raise ValueError("recon_error must be < 1 (otherwise no n makes the bound < 1)")
    delta = v.scalar(delta, "delta", positive=True, upper=1.0)
    W, r = jnp.broadcast_arrays(W, r.astype(W.dtype))
    return _nonvacuous(W, r, jnp.asarray(jnp.log(1.0 / delta), W.dtype))


@jax.jit
def _nonvacuous(W, r, log_inv_delta):
    target = (1.0 - jnp.sqrt(r)) ** 2

    def excess(log_n):       # > 0 while the complexity term is above its budget (1 - √r̂)²
        n = jnp.exp(log_n)
        return (W * jnp.log(W) * log_n + log_inv_delta) / n - target

    def body(_, bracket):
        lo, hi = bracket
        mid = (lo + hi) / 2
        above = excess(mid) > 0
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo = jnp.full_like(W, jnp.log(3.0))
    hi = jnp.full_like(W, 80.0)
    lo, hi = jax.lax.fori_loop(0, 100, body, (lo, hi))
    return jnp.exp(hi)
