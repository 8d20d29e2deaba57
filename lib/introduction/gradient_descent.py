"""Ridge least squares as a test bed for gradient descent and SGD, and the cost accounting of chapter 0.2.

The objective is the empirical risk

    f(θ) = (1/n) Σ_i ℓ_i(θ),    ℓ_i(θ) = ½ (x_iᵀθ − y_i)² + (ridge/2) ‖θ‖²,

a quadratic with Hessian ``H = XᵀX/n + ridge·I``: its smoothness ``L = λ_max(H)``, strong
convexity ``μ = λ_min(H)``, minimizer and minimum are all in closed form, so the suboptimality
``f(θ) − f* = ½ (θ − θ*)ᵀ H (θ − θ*)`` of any iterate is computed exactly (no cancellation
between two nearly equal losses). A minibatch loss averages ``ℓ_i`` over the batch, so its
gradient is an unbiased estimate of ``∇f``.

Functions
---------
``least_squares(X, y, ridge=...)``     the problem (Hessian, spectrum, minimizer, minimum)
``loss(problem, params, batch=None)``  full or minibatch objective, for :func:`lib.nets.train`
``suboptimality(problem, params)``     exact ``f(θ) − f*``
``gradient_noise(problem)``            covariance ``S`` of a one-example gradient at ``θ*``
``sgd_limit_constant(problem, c)``     ``lim t·(E f(θ_t) − f*)`` of SGD with ``η_t = c/(t + t0)``
``averaged_limit_constant(problem)``   ``½ tr(H⁻¹S)``, the Polyak–Juditsky limit of averaged SGD
``sgd_histories(problem, keys, ...)``  independent SGD runs (one per key), vmapped over keys
``sgd_exact_mean(problem, ...)``       exact ``E f(θ_t) − f*`` and ``E f(θ̄_t) − f*`` of one-example SGD
``steps_to_reach(history, eps, ...)``  first recorded step at which a curve is ``<= eps``
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import nets, ridgeless

__all__ = ["LeastSquares", "least_squares", "loss", "suboptimality", "gradient_noise",
           "sgd_limit_constant", "averaged_limit_constant", "sgd_histories", "sgd_exact_mean", "steps_to_reach"]


class LeastSquares(NamedTuple):
    """Ridge least squares ``f(θ) = (1/2n)‖Xθ − y‖² + (ridge/2)‖θ‖²`` and its closed forms.

    ``eigenvalues`` of the Hessian are ascending; ``smoothness`` ``L``, ``strong_convexity``
    ``μ`` and ``condition_number`` ``κ = L/μ`` are read off them.
    """
    X: jax.Array
    y: jax.Array
    ridge: float
    hessian: jax.Array
    eigenvalues: jax.Array
    minimizer: jax.Array
    min_value: jax.Array

    @property
    def smoothness(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def strong_convexity(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def condition_number(self) -> float:
        return self.smoothness / self.strong_convexity


def _objective(X, y, ridge, theta):
    r = X @ theta - y
    return 0.5 * jnp.mean(r * r) + 0.5 * ridge * theta @ theta


def least_squares(X, y, *, ridge) -> LeastSquares:
    """Build the ridge least-squares problem on data ``X`` ``(n, d)`` and ``y`` ``(n,)``.

    ``ridge >= 0``; with ``ridge = 0`` and a rank-deficient ``X`` the minimizer returned is the
    minimum-norm one (``μ`` is then 0 and the problem is not strongly convex).
    """
    X, y = v.samples(X, y)
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    n, d = X.shape
    H = X.T @ X / n + ridge * jnp.eye(d, dtype=X.dtype)
    H = 0.5 * (H + H.T)
    eigs = jnp.linalg.eigvalsh(H)
    theta = ridgeless.ridge(X, y, ridge)      # argmin (1/n)‖y − Xθ‖² + ridge‖θ‖²: the same θ*
    return LeastSquares(X, y, ridge, H, eigs, theta, _objective(X, y, ridge, theta))


def _check(problem) -> LeastSquares:
    if not isinstance(problem, LeastSquares):
        raise ValueError(f"problem must be a LeastSquares (from least_squares), got {type(problem).__name__}")
    return problem


def _check_params(problem, params, name="params"):
    params = jnp.asarray(params)
    d = problem.X.shape[1]
    if params.ndim < 1 or params.shape[-1] != d:
        raise ValueError(f"{name} must have last axis of length d={d}, got shape {params.shape}")
    return params


def loss(problem: LeastSquares, params, batch=None) -> jax.Array:
    """``f(θ)`` on the whole data set (``batch=None``) or the average of ``ℓ_i(θ)`` over a
    minibatch ``batch = (X_b, y_b)``: pass ``partial(loss, problem)`` to :func:`lib.nets.train`."""
    problem = _check(problem)
    params = _check_params(problem, params)
    if batch is None:
        return _objective(problem.X, problem.y, problem.ridge, params)
    Xb, yb = batch
    return _objective(Xb, yb, problem.ridge, params)


def suboptimality(problem: LeastSquares, params) -> jax.Array:
    """Exact ``f(θ) − f* = ½ (θ − θ*)ᵀ H (θ − θ*)``; ``params`` may carry leading batch axes."""
    problem = _check(problem)
    e = _check_params(problem, params) - problem.minimizer
    return 0.5 * jnp.einsum("...i,ij,...j->...", e, problem.hessian, e)


def gradient_noise(problem: LeastSquares) -> jax.Array:
    """``S = (1/n) Σ_i ∇ℓ_i(θ*) ∇ℓ_i(θ*)ᵀ``: the covariance of a one-example stochastic gradient
    at the optimum (its mean ``∇f(θ*)`` is zero)."""
    problem = _check(problem)
    th = problem.minimizer
    G = problem.X * (problem.X @ th - problem.y)[:, None] + problem.ridge * th
    return G.T @ G / G.shape[0]


def _noise_in_eigenbasis(problem):
    h, V = jnp.linalg.eigh(problem.hessian)
    S = gradient_noise(problem)
    return h, jnp.einsum("ik,ij,jk->k", V, S, V)


def sgd_limit_constant(problem: LeastSquares, c: float) -> float:
    """``lim_t t·(E f(θ_t) − f*)`` for one-example SGD with steps ``η_t = c/(t + t0)``.

    In the eigenbasis of ``H`` (eigenvalues ``h_k``, noise variances ``s_k = (VᵀSV)_kk``) the
    second moments obey ``v_{t+1} ≈ (1 − η_t h_k)² v_t + η_t² s_k``, whose solution is
    ``v_t ≈ c² s_k / ((2c h_k − 1) t)``; hence the limit ``Σ_k c² s_k h_k / (2(2c h_k − 1))``.
    It exists only when ``2cμ > 1``; otherwise the error decays like ``t^{−2cμ}``, slower than 1/t.
    """
    problem = _check(problem)
    c = v.scalar(c, "c", positive=True)
    h, s = _noise_in_eigenbasis(problem)
    if not 2 * c * float(h[0]) > 1:
        raise ValueError(f"c must exceed 1/(2μ) = {1 / (2 * float(h[0])):.4g} for a 1/t rate, got {c}")
    return float(jnp.sum(c ** 2 * s * h / (2 * (2 * c * h - 1))))


def averaged_limit_constant(problem: LeastSquares) -> float:
    """``½ tr(H⁻¹ S)``: ``t·(E f(θ̄_t) − f*)`` tends to it for Polyak–Ruppert averaged SGD, the
    asymptotic covariance of ``√t(θ̄_t − θ*)`` being ``H⁻¹ S H⁻¹`` (Polyak and Juditsky, 1992)."""
    problem = _check(problem)
    eigs = problem.eigenvalues
    if not float(eigs[0]) > 1e3 * jnp.finfo(eigs.dtype).eps * float(eigs[-1]):
        raise ValueError("problem must be strongly convex (μ > 0) for the averaged limit")
    return float(0.5 * jnp.trace(jnp.linalg.solve(problem.hessian, gradient_noise(problem))))


def sgd_histories(problem: LeastSquares, keys, *, step_size, n_steps: int, record_every: int,
                  batch_size: int = 1, params0=None, average: bool = False):
    """Run one minibatch SGD per key (vmapped :func:`lib.nets.train`) from ``params0`` (default 0)
    and record the exact suboptimality every ``record_every`` steps.

    Returns an array ``(len(keys), n_steps // record_every)``; with ``average=True`` a pair
    ``(last_iterate, polyak_average)`` of such arrays. Each step costs ``batch_size`` per-example
    gradients.
    """
    problem = _check(problem)
    keys = jnp.asarray(keys)
    if not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key) or keys.ndim != 1:
        raise ValueError(f"keys must be a 1-D array of typed PRNG keys (jax.random.split), got "
                         f"dtype {keys.dtype} and shape {keys.shape}")
    d = problem.X.shape[1]
    p0 = jnp.zeros(d, problem.X.dtype) if params0 is None else _check_params(problem, params0, "params0")
    if p0.shape != (d,):
        raise ValueError(f"params0 must have shape ({d},), got {p0.shape}")

    def one(key):
        return nets.train(partial(loss, problem), p0, n_steps=n_steps, step_size=step_size,
                          data=(problem.X, problem.y), batch_size=batch_size, key=key,
                          record_fn=partial(suboptimality, problem), record_every=record_every,
                          average=average, record_average=average).history

    return jax.vmap(one)(keys)


@partial(jax.jit, static_argnames=("schedule", "n_steps", "record_every"))
def _exact_moments(H, K4, T3, S, M, ridge, gbar, e0, *, schedule, n_steps, record_every):
    d = H.shape[0]
    eye = jnp.eye(d, dtype=H.dtype)

    def step(carry, t):
        m, P, C, R = carry
        eta = jnp.asarray(schedule(t), H.dtype)
        APA = (K4 @ P.reshape(-1)).reshape(d, d) + ridge * (M @ P + P @ M) + ridge ** 2 * P
        B = jnp.einsum("jkl,k->jl", T3, m) + ridge * jnp.outer(m, gbar)
        P_new = P - eta * (H @ P + P @ H) + eta ** 2 * (APA + B + B.T + S)
        D = (eye - eta * H) @ C
        C_new = D + P_new
        R_new = R + D + D.T + P_new
        return ((eye - eta * H) @ m, P_new, C_new, R_new), None

    def block(carry, j):
        carry, _ = jax.lax.scan(step, carry, j * record_every + jnp.arange(record_every))
        t = (j + 1) * record_every
        _, P, _, R = carry
        return carry, (0.5 * jnp.sum(H * P), 0.5 * jnp.sum(H * R) / t ** 2)

    zero = jnp.zeros((d, d), H.dtype)
    _, (last, avg) = jax.lax.scan(block, (e0, jnp.outer(e0, e0), zero, zero),
                                  jnp.arange(n_steps // record_every))
    return last, avg


def sgd_exact_mean(problem: LeastSquares, *, step_size, n_steps: int, record_every: int,
                   params0=None):
    """Exact ``E f(θ_t) − f*`` and ``E f(θ̄_t) − f*`` of one-example SGD (index ``i_t`` uniform
    with replacement, as :func:`sgd_histories` with ``batch_size=1``), ``θ̄_t = (1/t) Σ_{s=1}^t θ_s``.

    With ``e_t = θ_t − θ*``, ``A_i = x_i x_iᵀ + ridge·I`` and ``g_i = ∇ℓ_i(θ*)`` the update is
    ``e_{t+1} = (I − η_t A_i) e_t − η_t g_i`` with ``i`` independent of ``e_t``, so the moments
    ``m_t = E e_t``, ``P_t = E e_t e_tᵀ``, ``C_t = E e_t s_tᵀ`` and ``R_t = E s_t s_tᵀ``
    (``s_t = Σ_{s=1}^t e_s``) obey the closed recursion

        m_{t+1} = (I − η_t H) m_t,
        P_{t+1} = P_t − η_t (H P_t + P_t H) + η_t² (E_i[A_i P_t A_i] + B_t + B_tᵀ + S),
        C_{t+1} = (I − η_t H) C_t + P_{t+1},   R_{t+1} = R_t + D_t + D_tᵀ + P_{t+1},

    with ``B_t = E_i[A_i m_t g_iᵀ]``, ``D_t = (I − η_t H) C_t`` and ``S`` of :func:`gradient_noise`;
    ``E_i[A_i P A_i]`` uses the empirical fourth moment of the inputs (a ``d² × d²`` matrix). Then
    ``E f(θ_t) − f* = ½ tr(H P_t)`` and ``E f(θ̄_t) − f* = ½ tr(H R_t)/t²``. ``step_size`` is a
    float or a traceable schedule ``t ↦ η_t`` (``t = 0, 1, ...``; pass the same function object to
    reuse the compilation). Returns two arrays of length ``n_steps // record_every``, the values
    after ``record_every, 2·record_every, ...`` steps; cost ``O(n_steps·d⁴)``, independent of ``n``.
    """
    problem = _check(problem)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = v.integer(record_every, "record_every", minimum=1)
    if n_steps % record_every:
        raise ValueError(f"n_steps must be a multiple of record_every, got {n_steps} and {record_every}")
    if callable(step_size):
        schedule = step_size
    else:
        eta = v.scalar(step_size, "step_size", positive=True)
        schedule = partial(_constant_schedule, eta)
    X, th = problem.X, problem.minimizer
    n, d = X.shape
    p0 = jnp.zeros(d, X.dtype) if params0 is None else _check_params(problem, params0, "params0")
    if p0.shape != (d,):
        raise ValueError(f"params0 must have shape ({d},), got {p0.shape}")
    G = X * (X @ th - problem.y)[:, None] + problem.ridge * th            # g_i = ∇ℓ_i(θ*)
    Z = (X[:, :, None] * X[:, None, :]).reshape(n, d * d)
    K4 = Z.T @ Z / n                                                        # E_i[(x_i⊗x_i)(x_i⊗x_i)ᵀ]
    T3 = jnp.einsum("nj,nk,nl->jkl", X, X, G) / n
    M = X.T @ X / n
    last, avg = _exact_moments(problem.hessian, K4, T3, G.T @ G / n, M, problem.ridge, G.mean(axis=0),
                               p0 - th, schedule=schedule, n_steps=n_steps, record_every=record_every)
    return last, avg


def _constant_schedule(eta, t):
    return eta


def steps_to_reach(history, eps, *, record_every: int = 1) -> np.ndarray:
    """Steps until a recorded curve first drops to ``<= eps``.

    ``history[j]`` is the value after ``(j + 1)·record_every`` steps (as recorded by
    :func:`lib.nets.train`). ``eps`` may be a scalar or an array; the answer has its shape, with
    ``inf`` where the curve never gets there.
    """
    h = np.asarray(history, dtype=float)
    if h.ndim != 1 or h.size == 0:
        raise ValueError(f"history must be a non-empty 1-D curve, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("history contains NaN or infinite values")
    record_every = v.integer(record_every, "record_every", minimum=1)
    e = np.asarray(eps, dtype=float)
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        raise ValueError("eps must be positive and finite")
    below = h[None, :] <= e.reshape(-1)[:, None]
    first = np.where(below.any(axis=1), below.argmax(axis=1) + 1.0, np.inf) * record_every
    return first.reshape(e.shape)
