"""Implicit bias of gradient methods: preconditioned least squares, factorized models, weight decay,
logistic regression on separable data.

Three settings in which *which* minimizer an algorithm finds is decided by the algorithm (its
preconditioner, its initialization, its parameterization) rather than by the loss alone.

Preconditioned least squares (Amari et al., 2021)
-------------------------------------------------
For ``X`` of shape ``(n, d)``, ``d > n``, and a symmetric positive-definite ``P``, preconditioned
gradient descent on ``L(β) = (1/2n)‖Xβ − y‖²``,

    β_{t+1} = β_t − η P Xᵀ (Xβ_t − y) / n,

started at ``β_0`` converges (for ``0 < η < 2/λ_max(P^{1/2}XᵀXP^{1/2}/n)``) to

    β̂_P = β_0 + P Xᵀ (X P Xᵀ)⁻¹ (y − Xβ_0) = argmin {‖β − β_0‖_{P⁻¹} : Xβ = y}.

``P = I`` is plain GD (minimum Euclidean norm); ``P = Σ⁻¹`` with ``Σ = E[xxᵀ]`` is natural
gradient descent (NGD, the inverse population Fisher matrix). :func:`preconditioned_gd` runs the
iteration as plain GD (:func:`lib.nets.train`) on ``θ`` with ``β = β_0 + P^{1/2} θ``: the two
iterations coincide, which is the proof of the implicit bias in one line.

:func:`interpolator_bias_variance` gives, *conditional on X*, the bias (averaged over a Gaussian
prior on ``β*``) and the variance of ``β̂_P`` in the ``Σ``-norm, for diagonal ``Σ``, ``P`` and
prior covariance (the eigenvectors are shared: assumption A3 of Amari et al.);
:func:`bias_variance_monte_carlo` averages them over Gaussian designs, and
:func:`preconditioned_variance_limit` is the proportional-asymptotic variance.

Factorized models
-----------------
:func:`factorized_sensing` runs GD on ``U`` for the symmetric matrix-sensing loss of ``X = UUᵀ``
from ``U_0 = α I`` (Gunasekar et al., 2017); :func:`effective_rank` measures how low-rank the result
is. :func:`deep_linear_fit` trains a deep linear network (:mod:`lib.nets`, identity activation)
with weight decay; :func:`schatten_shrinkage` is the exact minimizer of the equivalent
Schatten-``2/L`` penalized problem and :func:`representation_cost` the penalty itself.

Separable classification (Soudry et al., 2018)
----------------------------------------------
:func:`logistic_gd` runs gradient descent on the mean logistic loss of a linear classifier;
:func:`max_margin_svm` computes the ℓ2 max-margin vector ``ŵ`` independently (exact coordinate
ascent on the hard-margin SVM dual), and :func:`logistic_gd_offset` the bounded part ``w̃`` of the
expansion ``w_k = ŵ log k + w̃ + o(1)``.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.tree_util import Partial

from .. import _validate as v
from .. import nets

__all__ = [
    "preconditioned_interpolator", "preconditioned_gd", "preconditioner_sqrt", "max_stable_step",
    "interpolator_bias_variance", "bias_variance_monte_carlo", "preconditioned_variance_limit",
    "preconditioned_bias_limit",
    "symmetric_measurements", "factorized_sensing", "effective_rank", "SensingResult", "DeepLinearResult",
    "deep_linear_fit", "schatten_shrinkage", "representation_cost",
    "MaxMarginResult", "max_margin_svm", "logistic_gd", "logistic_gd_offset",
]


# ------------------------------------------------------------------------------------------------
# preconditioned least squares
# ------------------------------------------------------------------------------------------------

@jax.jit
def _smallest_eigenvalue(P):
    return jnp.linalg.eigvalsh(P)[0]


def _precond(P, d: int, name: str = "P") -> jax.Array:
    """Validate ``P``: a ``(d,)`` vector of positive diagonal entries or a ``(d, d)`` SPD matrix.
    Returns it as a full matrix."""
    P = v.float_array(P, name, ndim=(1, 2))
    if P.ndim == 1:
        if P.shape[0] != d:
            raise ValueError(f"{name} must have length d={d} (a diagonal), got shape {P.shape}")
        v.positive(P, name)                                 # a positive-definite diagonal
        return jnp.diag(P)
    if P.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got {P.shape}")
    v.symmetric(P, name)
    if not v.is_tracer(P):
        with jax.ensure_compile_time_eval():                # one scalar comes back
            smallest = float(_smallest_eigenvalue(P))
        if not smallest > 0:
            raise ValueError(f"{name} must be positive definite, got smallest eigenvalue "
                             f"{smallest:.3g}")
    return P


def _problem(X, y, P, beta0):
    X, y = v.samples(X, y)
    n, d = X.shape
    if d < n:
        raise ValueError(f"X must be wide (d >= n: over-parameterized), got shape {X.shape}")
    P = _precond(P, d)
    dtype = jnp.result_type(X.dtype, y.dtype, P.dtype)
    if beta0 is None:
        b0 = jnp.zeros(d, dtype)
    else:
        b0 = v.float_array(beta0, "beta0", ndim=1)
        if b0.shape != (d,):
            raise ValueError(f"beta0 must have shape ({d},), got {b0.shape}")
    return X.astype(dtype), y.astype(dtype), P.astype(dtype), b0.astype(dtype)


@jax.jit
def _pi_core(X, y, P, b0):
    XP = X @ P                                               # (n, d): rows x_iᵀP
    K = XP @ X.T
    K = 0.5 * (K + K.T)
    coef = jnp.linalg.solve(K, y - X @ b0)
    return b0 + XP.T @ coef


def preconditioned_interpolator(X, y, P, *, beta0=None) -> jax.Array:
    """Closed-form limit of preconditioned GD: ``β̂_P = β_0 + P Xᵀ (X P Xᵀ)⁻¹ (y − Xβ_0)``.

    It is the interpolator (``Xβ̂ = y``) closest to ``β_0`` in the ``P⁻¹``-norm,
    ``argmin {(β − β_0)ᵀ P⁻¹ (β − β_0) : Xβ = y}`` (Lagrange: ``P⁻¹(β − β_0) = Xᵀμ``).
    ``X`` is ``(n, d)`` with ``d ≥ n`` and full row rank, ``y`` is ``(n,)``, ``P`` is a ``(d, d)``
    symmetric positive-definite matrix or a ``(d,)`` vector (its diagonal); ``beta0`` defaults to 0.
    Solved with one ``n × n`` linear system (no inverse formed).
    """
    X, y, P, b0 = _problem(X, y, P, beta0)
    return _pi_core(X, y, P, b0)


@jax.jit
def _psd_sqrt(P):
    w, Q = jnp.linalg.eigh(0.5 * (P + P.T))
    return (Q * jnp.sqrt(jnp.maximum(w, 0.0))) @ Q.T


def preconditioner_sqrt(P) -> jax.Array:
    """Symmetric square root ``P^{1/2} = Q diag(√w) Qᵀ`` of an SPD ``P`` (``(d, d)`` or diagonal
    ``(d,)``, returned as ``(d, d)``), from ``eigh``."""
    P = v.float_array(P, "P", ndim=(1, 2))
    return _psd_sqrt(_precond(P, P.shape[0]))


def max_stable_step(X, P) -> float:
    """``2 / λ_max(P^{1/2} XᵀX P^{1/2} / n)``: preconditioned GD on ``(1/2n)‖Xβ − y‖²`` converges
    for every step size below this value (the nonzero eigenvalues are those of ``XPXᵀ/n``)."""
    X = v.float_array(X, "X", ndim=2)
    P = _precond(P, X.shape[1])
    K = X @ P @ X.T / X.shape[0]
    return float(2.0 / jnp.linalg.eigvalsh(0.5 * (K + K.T))[-1])


def preconditioned_gd(X, y, P, *, step_size, n_steps: int, record_every: int | None = None,
                      beta0=None) -> nets.TrainResult:
    """Preconditioned gradient descent ``β_{t+1} = β_t − η P Xᵀ(Xβ_t − y)/n`` from ``β_0``.

    Implemented as plain GD (:func:`lib.nets.train`, one jitted ``lax.scan``) on
    ``L(θ) = (1/2n)‖X(β_0 + P^{1/2}θ) − y‖²`` from ``θ_0 = 0``: since
    ``∇_θ L = P^{1/2} Xᵀ(Xβ − y)/n``, the image ``β_t = β_0 + P^{1/2}θ_t`` follows exactly the
    preconditioned iteration. Returns a :class:`lib.nets.TrainResult` whose ``params`` is the final
    ``β_T`` (shape ``(d,)``) and whose ``history`` holds ``β_t`` after every ``record_every`` steps
    (default: ``n_steps``, i.e. only the end), shape ``(n_steps // record_every, d)``.
    Converges to :func:`preconditioned_interpolator` when ``0 < step_size < max_stable_step(X, P)``.
    """
    X, y, P, b0 = _problem(X, y, P, beta0)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = n_steps if record_every is None else v.integer(record_every, "record_every",
                                                                  minimum=1)
    v.scalar(step_size, "step_size", positive=True)
    R = _psd_sqrt(P)
    # the problem enters through Partial (traced): calls with new X, y, P reuse one compilation
    res = nets.train(Partial(_preconditioned_loss, X, y, b0, X @ R),
                     jnp.zeros(X.shape[1], X.dtype), n_steps=n_steps, step_size=step_size,
                     record_fn=Partial(_beta, b0, R), record_every=record_every)
    return nets.TrainResult(_beta(b0, R, res.params), res.history, None)


def _preconditioned_loss(X, y, b0, XR, theta):
    """``(1/2n)‖X(β_0 + P^{1/2}θ) − y‖²`` with ``XR = X P^{1/2}``."""
    r = X @ b0 + XR @ theta - y
    return 0.5 * (r @ r) / X.shape[0]


def _beta(b0, R, theta):
    return b0 + R @ theta


@jax.jit
def _bv_core(X, p, s, b, noise):
    """Bias (per prior row of ``b``) and variance of ``β̂_P``, all covariances diagonal."""
    XP = X * p                                               # (n, d)
    K = XP @ X.T
    K = 0.5 * (K + K.T)
    A = jnp.linalg.solve(K, XP).T                            # (d, n) = P Xᵀ (XPXᵀ)⁻¹
    AtSA = (A * s[:, None]).T @ A                            # (n, n) = Aᵀ Σ A
    variance = noise ** 2 * jnp.trace(AtSA)
    diag_AX = jnp.sum(A * X.T, axis=1)                       # (d,) = diag(A X)

    def bias(bj):
        XBXt = (X * bj) @ X.T
        return jnp.sum(s * bj) - 2 * jnp.sum(s * bj * diag_AX) + jnp.sum(AtSA * XBXt)
    return jax.vmap(bias)(b), variance


def _diag_vec(x, name, d=None):
    x = v.float_array(x, name, ndim=1)
    if d is not None and x.shape[0] != d:
        raise ValueError(f"{name} must have length d={d}, got {x.shape[0]}")
    v.nonnegative(x, name)
    return x


def _diag_rows(x, name, d):
    x = v.float_array(x, name, ndim=(1, 2))
    x2 = x[None] if x.ndim == 1 else x
    if x2.shape[1] != d:
        raise ValueError(f"{name} must have last axis of length d={d}, got shape {x.shape}")
    return x2


def interpolator_bias_variance(X, P, cov_eigs, prior_eigs, *, noise):
    """Exact bias and variance of ``β̂_P = P Xᵀ(XPXᵀ)⁻¹y`` given the design ``X``.

    Model: ``y = Xβ* + ε``, ``ε ~ (0, noise² I_n)``, test risk in the ``Σ``-norm
    ``‖β̂ − β*‖²_Σ``, ``Σ = diag(cov_eigs)``; prior ``E[β*β*ᵀ] = diag(prior_eigs)``;
    ``P = diag(P)`` (a ``(d,)`` vector; shared eigenvectors, assumption A3 of Amari et al. 2021).
    With ``A = P Xᵀ (XPXᵀ)⁻¹`` (so ``β̂ = A y``),

        bias     = E_{β*} ‖(I − AX) β*‖²_Σ = tr((I − AX)ᵀ Σ (I − AX) diag(prior)),
        variance = E_ε ‖A ε‖²_Σ           = noise² tr(Aᵀ Σ A),

    computed in ``O(dn² + n³)`` as ``tr(ΣB) − 2 Σ_j s_j b_j (AX)_jj + ⟨AᵀΣA, X B Xᵀ⟩``.
    ``P`` may be ``(k, d)`` (k preconditioners) and ``prior_eigs`` ``(m, d)`` (m priors); returns
    ``(bias, variance)`` of shapes ``(k, m)`` and ``(k,)`` (leading axes dropped for 1-D inputs).
    """
    X = v.float_array(X, "X", ndim=2)
    n, d = X.shape
    if d < n:
        raise ValueError(f"X must be wide (d >= n), got shape {X.shape}")
    Ps = _diag_rows(P, "P", d)
    v.positive(Ps, "P")
    s = _diag_vec(cov_eigs, "cov_eigs", d)
    B = _diag_rows(prior_eigs, "prior_eigs", d)
    v.nonnegative(B, "prior_eigs")
    noise = v.scalar(noise, "noise", nonnegative=True)
    dtype = jnp.result_type(X.dtype, Ps.dtype, s.dtype, B.dtype)
    bias, var = jax.vmap(lambda p: _bv_core(X.astype(dtype), p.astype(dtype), s.astype(dtype),
                                            B.astype(dtype), jnp.asarray(noise, dtype)))(Ps)
    if jnp.ndim(prior_eigs) == 1:
        bias = bias[:, 0]
    if jnp.ndim(P) == 1:
        bias, var = bias[0], var[0]
    return bias, var


@partial(jax.jit, static_argnames=("n", "reps"))
def _bv_mc(key, Ps, s, B, noise, n, reps):
    d = s.shape[0]

    def one(k):
        X = jax.random.normal(k, (n, d), dtype=s.dtype) * jnp.sqrt(s)
        return jax.vmap(lambda p: _bv_core(X, p, s, B, noise))(Ps)
    return jax.lax.map(one, jax.random.split(key, reps))


def bias_variance_monte_carlo(key, *, n: int, cov_eigs, preconditioners, prior_eigs, noise,
                              reps: int):
    """:func:`interpolator_bias_variance` for ``reps`` independent Gaussian designs.

    Each draw has rows ``x ~ N(0, diag(cov_eigs))`` (``n`` of them, ``d = len(cov_eigs) > n``); every
    preconditioner (rows of ``preconditioners``, ``(k, d)`` positive diagonals) and every prior (rows
    of ``prior_eigs``, ``(m, d)``) is evaluated on the *same* designs, so differences between
    preconditioners are paired. Returns ``(bias, variance)`` of shapes ``(reps, k, m)`` and
    ``(reps, k)``. Jitted; ``lax.map`` over draws, ``vmap`` over preconditioners.
    """
    key = v.key(key)
    n = v.integer(n, "n", minimum=1)
    reps = v.integer(reps, "reps", minimum=1)
    s = _diag_vec(cov_eigs, "cov_eigs")
    d = s.shape[0]
    if d <= n:
        raise ValueError(f"cov_eigs must have length d > n = {n} (over-parameterized), got {d}")
    Ps = v.float_array(preconditioners, "preconditioners", ndim=2)
    if Ps.shape[1] != d:
        raise ValueError(f"preconditioners must have shape (k, {d}), got {Ps.shape}")
    v.positive(Ps, "preconditioners")
    B = v.float_array(prior_eigs, "prior_eigs", ndim=2)
    if B.shape[1] != d:
        raise ValueError(f"prior_eigs must have shape (m, {d}), got {B.shape}")
    v.nonnegative(B, "prior_eigs")
    noise = v.scalar(noise, "noise", nonnegative=True)
    dtype = jnp.result_type(s.dtype, Ps.dtype, B.dtype)
    return _bv_mc(key, Ps.astype(dtype), s.astype(dtype), B.astype(dtype),
                  jnp.asarray(noise, dtype), n, reps)


@jax.jit
def _stieltjes_root(gamma, tau):
    # m > 0 solves γ · mean(τ m / (1 + τ m)) = 1; the left side increases from 0 to γ > 1,
    # so bisection on log m brackets the unique root.
    def f(logm):
        m = jnp.exp(logm)
        return gamma * jnp.mean(tau * m / (1 + tau * m)) - 1

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        up = f(mid) > 0
        return jnp.where(up, lo, mid), jnp.where(up, mid, hi)

    tmax, tmin = jnp.max(tau), jnp.min(tau)
    lo, hi = jax.lax.fori_loop(0, 200, body, (-jnp.log(tmax) - 60.0, -jnp.log(tmin) + 60.0))
    m = jnp.exp(0.5 * (lo + hi))
    q = gamma * jnp.mean((tau * m / (1 + tau * m)) ** 2)
    return m, 1.0 / (1.0 - q)                                # m and m'/m² at z = 0


def _var_limit(gamma, tau):
    return _stieltjes_root(gamma, tau)[1] - 1.0


def preconditioned_variance_limit(gamma, tau_eigs, *, noise) -> float:
    """Proportional limit (``n, d → ∞``, ``d/n → γ > 1``) of the variance of ``β̂_P``.

    ``tau_eigs`` are the eigenvalues of ``P^{1/2} Σ P^{1/2}`` (their empirical law is ``H``).
    With ``m > 0`` the root of ``γ ∫ τm/(1 + τm) dH(τ) = 1`` (the self-consistent equation of the
    Stieltjes transform of ``XPXᵀ/n`` at ``z = 0``),

        V = noise² · ( 1 / (1 − γ ∫ (τm/(1 + τm))² dH(τ)) − 1 )

    — the form ``σ²(m'/m² − 1)`` of Amari et al. (2021) with ``m'`` eliminated. For ``H = δ_c``
    (NGD, ``P ∝ Σ⁻¹``) it is ``noise²/(γ − 1)``, the smallest value over all ``H``.
    """
    gamma = v.scalar(gamma, "gamma", positive=True)
    if not gamma > 1:
        raise ValueError(f"gamma must be > 1 (over-parameterized), got {gamma}")
    tau = v.float_array(tau_eigs, "tau_eigs", ndim=1)
    v.positive(tau, "tau_eigs")
    noise = v.scalar(noise, "noise", nonnegative=True)
    return float(noise ** 2 * _var_limit(jnp.asarray(gamma, tau.dtype), tau))


def preconditioned_bias_limit(gamma, cov_eigs, precond_eigs, prior_eigs) -> float:
    """Proportional limit of the bias ``E_{β*} B(P)`` of ``β̂_P`` when ``P``, ``Σ`` and the prior
    covariance share their eigenvectors (assumption A3 of Amari et al., 2021; not needed for the
    variance).

    With ``s_i``, ``p_i``, ``b_i`` the eigenvalues of ``Σ``, ``P`` and ``E[β*β*ᵀ]`` on the common
    eigenvectors (so ``E‖β*‖² = Σ_i b_i``), ``τ_i = p_i s_i`` and ``m > 0`` the root of
    ``γ · mean_i τ_i m/(1 + τ_i m) = 1`` (as in :func:`preconditioned_variance_limit`),

        B → (m'/m²) · Σ_i s_i b_i / (1 + τ_i m)²,   m'/m² = 1 / (1 − γ · mean_i (τ_i m/(1 + τ_i m))²),

    the lecture's ``(m'/m²) E[v_x v_θ (1 + v_xp m)⁻²]`` with ``v_θ = d·b_i``. For ``Σ = P = I`` it
    is ``E‖β*‖² (1 − 1/γ)``, the exact bias of the min-norm interpolator on isotropic data.
    """
    gamma = v.scalar(gamma, "gamma", positive=True)
    if not gamma > 1:
        raise ValueError(f"gamma must be > 1 (over-parameterized), got {gamma}")
    s = v.float_array(cov_eigs, "cov_eigs", ndim=1)
    v.positive(s, "cov_eigs")
    p = _diag_vec(precond_eigs, "precond_eigs", s.shape[0])
    v.positive(p, "precond_eigs")
    b = _diag_vec(prior_eigs, "prior_eigs", s.shape[0])
    dtype = jnp.result_type(s.dtype, p.dtype, b.dtype)
    s, p, b = s.astype(dtype), p.astype(dtype), b.astype(dtype)
    tau = p * s
    m, ratio = _stieltjes_root(jnp.asarray(gamma, dtype), tau)
    return float(ratio * jnp.sum(s * b / (1 + tau * m) ** 2))


# ------------------------------------------------------------------------------------------------
# matrix sensing with a factorized parameterization
# ------------------------------------------------------------------------------------------------

def symmetric_measurements(key, m: int, d: int) -> jax.Array:
    """``m`` symmetric Gaussian sensing matrices ``A_i = (G_i + G_iᵀ)/2``, ``G_i`` iid ``N(0, 1)``
    entries; shape ``(m, d, d)``. For symmetric ``M``, ``⟨A_i, M⟩ = ⟨G_i, M⟩ ~ N(0, ‖M‖_F²)``."""
    key = v.key(key)
    m = v.integer(m, "m", minimum=1)
    d = v.integer(d, "d", minimum=1)
    G = jax.random.normal(key, (m, d, d))
    return 0.5 * (G + jnp.swapaxes(G, 1, 2))


class SensingResult(NamedTuple):
    """What :func:`factorized_sensing` returns: the final factor ``U`` and matrix ``M = UUᵀ``,
    and the training ``loss`` recorded every ``record_every`` steps."""
    U: jax.Array
    M: jax.Array
    loss: jax.Array


def _sensing_loss(A, y, U):
    r = jnp.einsum("mij,ij->m", A, U @ U.T) - y
    return 0.25 * jnp.mean(r * r)


def factorized_sensing(A, y, *, init_scale, n_steps: int, step_size,
                       record_every: int | None = None) -> SensingResult:
    """Gradient descent on ``U ∈ R^{d×d}`` for ``L(U) = (1/4m) Σ_i (⟨A_i, UUᵀ⟩ − y_i)²``
    from ``U_0 = init_scale · I`` (Gunasekar et al. 2017).

    ``init_scale`` is a positive scalar or a 1-D array of them; in the latter case the runs are
    vmapped and every field of the result gets a leading axis of that length.

    The gradient is ``∇L(U) = (1/m) Σ_i r_i A_i U`` (``A_i`` symmetric, ``r`` the residuals), so
    ``M = UUᵀ`` stays symmetric PSD. Runs :func:`lib.nets.train` (one jitted ``lax.scan``).
    ``A`` is ``(m, d, d)`` symmetric (e.g. :func:`symmetric_measurements`), ``y`` ``(m,)``.
    With ``m < d(d+1)/2`` the loss has infinitely many global minima; small ``init_scale``
    selects a low-rank (approximately minimum nuclear norm) one.
    """
    A = v.float_array(A, "A", ndim=3)
    if A.shape[1] != A.shape[2]:
        raise ValueError(f"A must have shape (m, d, d), got {A.shape}")
    y = v.float_array(y, "y", ndim=1)
    v.same_dim(A, y, "A", "y", axis=0)
    scales = v.float_array(init_scale, "init_scale", ndim=(0, 1))
    v.positive(scales, "init_scale")
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = n_steps if record_every is None else v.integer(record_every, "record_every",
                                                                  minimum=1)
    v.scalar(step_size, "step_size", positive=True)
    dtype = jnp.result_type(A.dtype, y.dtype)
    A, y = A.astype(dtype), y.astype(dtype)
    eye = jnp.eye(A.shape[1], dtype=dtype)

    def run(scale):
        res = nets.train(Partial(_sensing_loss, A, y), scale * eye, n_steps=n_steps,
                         step_size=step_size, record_every=record_every)
        return res.params, res.history

    if scales.ndim == 0:
        U, hist = run(scales.astype(dtype))
    else:
        U, hist = jax.vmap(run)(scales.astype(dtype))
    return SensingResult(U, U @ jnp.swapaxes(U, -1, -2), hist)


@jax.jit
def _erank(s):
    p = s / jnp.sum(s)
    ent = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0))
    return jnp.exp(ent)


def effective_rank(M) -> jax.Array:
    """Entropy effective rank ``exp(−Σ_i p_i log p_i)``, ``p_i = σ_i / Σ_j σ_j`` (Roy & Vetterli,
    2007), of a matrix ``(..., a, b)`` (leading batch axes allowed). Between 1 and ``min(a, b)``;
    equal to ``r`` for a matrix with ``r`` equal nonzero singular values."""
    M = v.float_array(M, "M")
    if M.ndim < 2:
        raise ValueError(f"M must have rank >= 2 (a matrix or a batch of matrices), got {M.shape}")
    s = jnp.linalg.svd(M, compute_uv=False)
    if not v.is_tracer(s) and bool(jnp.any(jnp.sum(s, axis=-1) == 0)):
        raise ValueError("M must be nonzero (the effective rank of 0 is undefined)")
    return jnp.vectorize(_erank, signature="(k)->()")(s)


# ------------------------------------------------------------------------------------------------
# deep linear networks with weight decay
# ------------------------------------------------------------------------------------------------

class DeepLinearResult(NamedTuple):
    """What :func:`deep_linear_fit` returns: the end-to-end matrix ``W`` (``(a, b)``), the layer
    parameters (``lib.nets`` format), the recorded objective, and ``½ Σ_l ‖W_l‖_F²``."""
    W: jax.Array
    params: list
    objective: jax.Array
    weight_norm: jax.Array


def _product(params, d_in):
    eye = jnp.eye(d_in, dtype=params[0][0].dtype)
    return nets.apply_mlp(params, eye, activation="identity", parameterization="standard")


def _half_sq_norm(params):
    return 0.5 * sum(jnp.sum(W * W) for W, _ in params)


def deep_linear_fit(key, Y, *, depth: int, weight_decay, n_steps: int, step_size,
                    init_std=1.0, width: int | None = None,
                    record_every: int | None = None) -> DeepLinearResult:
    """Gradient descent on a depth-``L`` linear network with weight decay fitting the matrix ``Y``:

        minimize  ½ ‖W_1 W_2 ⋯ W_L − Y‖_F² + (λ/2) Σ_l ‖W_l‖_F²,   λ = weight_decay.

    Equivalently least squares ``Σ_i ½‖f(x_i) − y_i‖²`` with orthonormal inputs ``x_i = e_i`` and
    targets the rows of ``Y``. The network is :func:`lib.nets.init_mlp` /
    :func:`lib.nets.apply_mlp` with widths ``[a, h, …, h, b]`` (``h = width``, default ``max(a, b)``),
    identity activation, standard parameterization (weights ``N(0, init_std²/fan_in)``), no
    biases; it is trained by :func:`lib.nets.train`. The end-to-end matrix is ``W = f(I_a)``.
    """
    key = v.key(key)
    Y = v.float_array(Y, "Y", ndim=2)
    depth = v.integer(depth, "depth", minimum=1)
    lam = v.scalar(weight_decay, "weight_decay", nonnegative=True)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = n_steps if record_every is None else v.integer(record_every, "record_every",
                                                                  minimum=1)
    v.scalar(step_size, "step_size", positive=True)
    init_std = v.scalar(init_std, "init_std", positive=True)
    a, b = Y.shape
    h = max(a, b) if width is None else v.integer(width, "width", minimum=1)
    widths = [a] + [h] * (depth - 1) + [b]
    params = nets.init_mlp(key, widths, parameterization="standard", w_std=init_std)
    params = [(W.astype(Y.dtype), jnp.zeros_like(bb, dtype=Y.dtype)) for W, bb in params]

    def objective(p):
        R = _product(p, a) - Y
        return 0.5 * jnp.sum(R * R) + lam * _half_sq_norm(p)

    # biases are zero and enter with b_std = 0: freeze them by differentiating weights only
    def loss_w(ws):
        return objective([(W, bb) for W, (_, bb) in zip(ws, params)])

    res = nets.train(loss_w, [W for W, _ in params], n_steps=n_steps, step_size=step_size,
                     record_every=record_every)
    final = [(W, bb) for W, (_, bb) in zip(res.params, params)]
    return DeepLinearResult(_product(final, a), final, res.history, _half_sq_norm(final))


def representation_cost(W, *, depth: int) -> jax.Array:
    """``(L/2) Σ_i σ_i(W)^{2/L}``: the least ``½ Σ_l ‖W_l‖_F²`` over all factorizations
    ``W = W_1 ⋯ W_L`` with inner widths ``≥ rank W`` (AM–GM on the singular values of balanced
    factors). ``L = 1``: ``½‖W‖_F²``; ``L = 2``: the nuclear norm ``‖W‖_*``; ``L ≥ 3``: a
    Schatten-``2/L`` quasi-norm to the power ``2/L``, times ``L/2``."""
    W = v.float_array(W, "W", ndim=2)
    depth = v.integer(depth, "depth", minimum=1)
    s = jnp.linalg.svd(W, compute_uv=False)
    return 0.5 * depth * jnp.sum(s ** (2.0 / depth))


@partial(jax.jit, static_argnames=("depth", "branch"))
def _shrink(y, lam, depth, branch):
    if depth == 1:
        return y / (1 + lam)
    if depth == 2:
        return jnp.maximum(y - lam, 0.0)
    q = 2.0 / depth
    # stationary points s > 0 of ½(s − y)² + (λL/2)s^q solve g(s) = s + λ s^{q−1} − y = 0; g is
    # convex on (0, ∞) with minimum at s_m = (λ(1 − q))^{1/(2 − q)}; the larger root (in [s_m, y])
    # is the local minimum. Compare it with s = 0.
    s_m = (lam * (1 - q)) ** (1.0 / (2 - q))
    g = lambda s: s + lam * s ** (q - 1) - y  # noqa: E731
    hi = jnp.maximum(y, s_m)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        pos = g(mid) > 0
        return jnp.where(pos, lo, mid), jnp.where(pos, mid, hi)

    lo, hi = jax.lax.fori_loop(0, 200, body, (jnp.full_like(y, s_m), hi))
    root = 0.5 * (lo + hi)
    has_root = g(s_m) <= 0
    if branch == "nonzero":
        return jnp.where(has_root, root, 0.0)
    f_root = 0.5 * (root - y) ** 2 + 0.5 * lam * depth * root ** q
    better = has_root & (f_root < 0.5 * y ** 2)
    return jnp.where(better, root, 0.0)


def schatten_shrinkage(y, *, weight_decay, depth: int, branch: str = "global") -> jax.Array:
    """Singular values of the global minimizer of ``½‖W − Y‖_F² + λ · representation_cost(W, L)``.

    By von Neumann's trace inequality the minimizer shares the singular vectors of ``Y``, and each
    singular value ``y_i ≥ 0`` of ``Y`` is mapped to ``argmin_{s ≥ 0} ½(s − y)² + (λL/2) s^{2/L}``:

    * ``L = 1``: ``y/(1 + λ)`` (ridge: no singular value is removed);
    * ``L = 2``: ``max(y − λ, 0)`` (soft thresholding, the prox of the nuclear norm);
    * ``L ≥ 3``: ``0`` or the larger root of ``s + λ s^{2/L − 1} = y``, whichever has the lower
      objective (bisection, 200 halvings) — a thresholding rule whose threshold grows with L.

    This is therefore also the end-to-end matrix of the *global* minimum of the weight-decay
    problem of :func:`deep_linear_fit`. ``y`` is a 1-D array of non-negative values.

    For ``L ≥ 3`` both ``s = 0`` and the larger root can be *local* minima, and gradient descent
    may stop at either. ``branch="nonzero"`` returns the larger root wherever it exists (0 where
    it does not) instead of the global choice; for ``L ≤ 2`` the two branches coincide.
    """
    y = v.float_array(y, "y", ndim=1)
    v.nonnegative(y, "y")                                   # singular values
    lam = v.scalar(weight_decay, "weight_decay", positive=True)
    depth = v.integer(depth, "depth", minimum=1)
    v.choice(branch, "branch", ("global", "nonzero"))
    return _shrink(y, jnp.asarray(lam, y.dtype), depth, branch)


# ------------------------------------------------------------------------------------------------
# separable classification: logistic loss and the l2 max-margin direction (Soudry et al., 2018)
# ------------------------------------------------------------------------------------------------

def _labels(X, y):
    X, y = v.samples(X, y)
    if not v.is_tracer(y):
        with jax.ensure_compile_time_eval():
            ok = bool(jnp.all(jnp.abs(y) == 1))
        if not ok:
            raise ValueError("y must contain labels -1 and +1 only")
    return X, y


@partial(jax.jit, static_argnames=("max_sweeps",))
def _svm_dual(Z, tol, max_sweeps):
    n = Z.shape[0]
    sq = jnp.sum(Z * Z, axis=1)

    def coord(i, carry):
        a, w = carry
        new = jnp.maximum(a[i] + (1.0 - Z[i] @ w) / sq[i], 0.0)
        return a.at[i].set(new), w + (new - a[i]) * Z[i]

    def violation(a, w):
        m = Z @ w
        return jnp.maximum(jnp.max(jnp.maximum(1.0 - m, 0.0)),
                           jnp.max(jnp.where(a > 0, jnp.abs(m - 1.0), 0.0)))

    def cond(state):
        a, w, k = state
        return (k < max_sweeps) & (violation(a, w) > tol)

    def body(state):
        a, w, k = state
        a, w = jax.lax.fori_loop(0, n, coord, (a, w))
        return a, w, k + 1

    a0 = jnp.zeros(n, Z.dtype)
    a, w, k = jax.lax.while_loop(cond, body, (a0, jnp.zeros(Z.shape[1], Z.dtype), 0))
    return w, a, violation(a, w), k


class MaxMarginResult(NamedTuple):
    """What :func:`max_margin_svm` returns: the hard-margin vector ``w_hat`` (``min_i y_i x_iᵀw = 1``),
    the dual variables ``alpha`` (``w_hat = Σ_i alpha_i y_i x_i``), the final KKT violation and the
    number of sweeps used."""
    w_hat: jax.Array
    alpha: jax.Array
    kkt_violation: jax.Array
    sweeps: jax.Array


def max_margin_svm(X, y, *, tol=1e-12, max_sweeps: int = 100_000) -> MaxMarginResult:
    """Hard-margin linear SVM through the origin, by exact coordinate ascent on its dual.

    Primal: ``ŵ = argmin {‖w‖² : y_i x_iᵀw ≥ 1 for all i}``, so ``ŵ/‖ŵ‖`` maximizes the margin
    ``min_i y_i x_iᵀu`` over unit vectors ``u`` and the margin is ``1/‖ŵ‖``.
    Dual (``z_i = y_i x_i``): maximize ``Σ_i α_i − ½‖Σ_i α_i z_i‖²`` over ``α ≥ 0``; the primal
    solution is ``ŵ = Σ_i α_i z_i``. Each sweep updates every coordinate exactly
    (Hildreth's method): ``α_i ← max(0, α_i + (1 − z_iᵀw)/‖z_i‖²)``, ``w ← w + Δα_i z_i``.
    Stops when the KKT violation ``max(max_i (1 − z_iᵀw)_+, max_{α_i > 0} |z_iᵀw − 1|)`` is at
    most ``tol`` (or after ``max_sweeps`` sweeps; check ``kkt_violation``). Its points with
    ``α_i > 0`` are the *support vectors*. Requires linearly separable data (``X`` ``(n, d)``,
    labels ``y ∈ {−1, +1}ⁿ``); it is independent of gradient descent on any loss.
    """
    X, y = _labels(X, y)
    v.scalar(tol, "tol", positive=True)
    max_sweeps = v.integer(max_sweeps, "max_sweeps", minimum=1)
    if not v.is_tracer(X):
        with jax.ensure_compile_time_eval():
            zero_row = bool(jnp.any(jnp.sum(X * X, axis=1) == 0))
        if zero_row:
            raise ValueError("X must have no zero row (such a point cannot be separated)")
    w, a, viol, k = _svm_dual(X * y[:, None], jnp.asarray(tol, X.dtype), max_sweeps)
    return MaxMarginResult(w, a, viol, k)


@jax.jit
def _logistic_gd_core(Z, w0, eta, seg):
    n = Z.shape[0]

    def step(_, w):
        return w + eta / n * (jax.nn.sigmoid(-(Z @ w)) @ Z)     # −η ∇L(w), L = mean log(1 + e^{−zᵀw})

    def segment(w, length):
        w = jax.lax.fori_loop(0, length, step, w)
        return w, w

    return jax.lax.scan(segment, w0, seg)


def logistic_gd(X, y, *, step_size, record_steps, w0=None) -> jax.Array:
    """Gradient descent on the logistic loss of a linear classifier, recorded at chosen steps.

        L(w) = (1/n) Σ_i log(1 + exp(−y_i x_iᵀw)),   w_{k+1} = w_k − η ∇L(w_k)
             = w_k + (η/n) Σ_i σ(−y_i x_iᵀw_k) y_i x_i      (σ the logistic sigmoid),

    from ``w0`` (default 0). ``record_steps`` is a strictly increasing 1-D array of positive step
    counts ``k``; returns the iterates ``w_k`` there, shape ``(len(record_steps), d)``. One jitted
    ``lax.scan`` over the gaps between recorded steps, so ``10⁶`` steps cost one compilation.
    ``L`` is ``β``-smooth with ``β = λ_max(XᵀX)/(4n)``; for separable data and ``η < 2/β`` the
    iterates diverge in norm and converge in direction to the max-margin vector of
    :func:`max_margin_svm` (Soudry et al., 2018; see :func:`logistic_gd_offset`).
    """
    X, y = _labels(X, y)
    v.scalar(step_size, "step_size", positive=True)
    ks = jnp.asarray(record_steps)
    if ks.ndim != 1 or ks.shape[0] == 0 or not jnp.issubdtype(ks.dtype, jnp.integer):
        raise ValueError(f"record_steps must be a non-empty 1-D integer array, got {record_steps!r}")
    if not (bool(ks[0] >= 1) and bool(jnp.all(jnp.diff(ks) > 0))):
        raise ValueError("record_steps must be positive and strictly increasing")
    d = X.shape[1]
    if w0 is None:
        w0 = jnp.zeros(d, X.dtype)
    else:
        w0 = v.float_array(w0, "w0", ndim=1)
        if w0.shape != (d,):
            raise ValueError(f"w0 must have shape ({d},), got {w0.shape}")
    seg = jnp.diff(ks, prepend=0).astype(jnp.int32)
    _, hist = _logistic_gd_core(X * y[:, None], w0.astype(X.dtype), jnp.asarray(step_size, X.dtype),
                                seg)
    return hist


def logistic_gd_offset(X, y, alpha, *, step_size, support_tol=1e-8) -> jax.Array:
    """The bounded part ``w̃`` of the logistic GD iterates: ``w_k = ŵ log k + w̃ + o(1)``.

    Soudry et al. (2018, Thm. 3 and its refinement): for separable data, almost every data set,
    and step ``η`` small enough, GD on the *mean* logistic loss (:func:`logistic_gd`) satisfies
    ``w_k − ŵ log k → w̃``, where ``ŵ = Σ_s α_s z_s`` is the max-margin vector (``z_s = y_s x_s``)
    and, on the support vectors ``S = {s : α_s > 0}``,

        (η/n) exp(−z_sᵀ w̃) = α_s,   i.e.   z_sᵀ w̃ = log(η / (n α_s))      (s ∈ S).

    (With the *sum* of the losses, as in the paper, ``η/n`` becomes ``η``.) These equations fix
    ``w̃`` on ``span{z_s}``; this function returns their minimum-norm solution, which is the
    whole of ``w̃`` when the support vectors span ``R^d`` (the generic case ``|S| = d``).
    ``alpha`` are the dual variables of :func:`max_margin_svm`; support vectors are the ``α_s``
    above ``support_tol · max α``.
    """
    X, y = _labels(X, y)
    alpha = v.float_array(alpha, "alpha", ndim=1)
    v.same_dim(X, alpha, "X", "alpha", axis=0)
    v.nonnegative(alpha, "alpha")
    eta = v.scalar(step_size, "step_size", positive=True)
    v.scalar(support_tol, "support_tol", positive=True)
    a = jnp.asarray(alpha, X.dtype)
    sv = a > support_tol * jnp.max(a)
    if not bool(jnp.any(sv)):
        raise ValueError("alpha must have a positive entry (no support vector)")
    Z = (X * y[:, None])[sv]
    rhs = jnp.log(eta / (X.shape[0] * a[sv]))
    return jnp.linalg.pinv(Z) @ rhs
