"""Mean-field Langevin dynamics (MFLD) of interacting particles.

The dynamics
------------
For an objective ``F(μ)`` on probability measures over ``R^p`` and a temperature ``λ ≥ 0``, MFLD
is the McKean–Vlasov SDE ``dθ_t = −∇ (δF/δμ)(μ_t, θ_t) dt + √(2λ) dB_t`` whose stationary law is
the minimizer of the entropy-regularized objective ``F(μ) + λ ∫ μ log μ``; it satisfies the
self-consistency (Gibbs) equation ``μ* ∝ exp(−(1/λ) δF/δμ(μ*, ·))``. :func:`simulate` runs the
``N``-particle Euler–Maruyama discretization with step ``η``,

    X_i ← X_i − η · drift(X)_i + √(2ηλ) ξ_i,      ξ_i ~ N(0, I_p) iid,

where ``drift(X)`` maps all particles ``X`` (shape ``(N, p)``) to ``(∇ δF/δμ(μ_X, X_i))_i`` with
``μ_X = (1/N) Σ_j δ_{X_j}`` the empirical measure, so the particles interact through ``μ_X``.
A drift that ignores the other particles gives ``N`` independent copies of the unadjusted
Langevin algorithm (ULA) for the potential ``V``; ``temperature = 0`` is deterministic particle
gradient descent.

Drifts
------
A drift is any callable ``drift(X) -> (N, p)``. A *stochastic* drift (e.g. a minibatch estimate)
has the attribute ``stochastic = True`` and is called as ``drift(X, key)`` with a fresh key at
every step (set the attribute on your own function with ``fn.stochastic = True``). Drifts may be
JAX pytrees (the ones built here are registered dataclasses holding their data as leaves), so
:func:`simulate` does not recompile for new data of the same shape; array leaves are traced,
everything else (functions, strings, ints) is static, and a plain Python function is compiled
once per function object.

Two-layer mean-field network
----------------------------
A particle is ``θ = (a, w) ∈ R^{1+d}`` (``particles[:, 0]`` is the output weight ``a``,
``particles[:, 1:]`` the input weights ``w``), ``h(θ, x) = a · σ(wᵀx)`` and the network is the
mean ``f_μ(x) = (1/N) Σ_j h(θ_j, x)``. The objective is

    F(μ) = (1/2n) Σ_i (f_μ(x_i) − y_i)² + reg · ∫ ‖θ‖²/2 dμ(θ),

whose first variation is ``δF/δμ(θ) = (1/n) Σ_i (f_μ(x_i) − y_i) h(θ, x_i) + reg ‖θ‖²/2``; the L2
term makes the Gibbs measure ``∝ exp(−δF/δμ / λ)`` normalizable. For the empirical measure the
*mean-field gradient identity* ``N · ∇_{θ_j} F(μ_X) = ∇_θ δF/δμ(μ_X, θ_j)`` holds, i.e. the MFLD
drift is ``N`` times the ordinary gradient of ``F`` in the particle positions.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v
from . import nets

__all__ = ["simulate", "two_layer_output", "two_layer_objective", "two_layer_drift",
           "minibatch_drift", "TwoLayerDrift", "MinibatchDrift"]


# ------------------------------------------------------------------------------------------------
# the particle integrator
# ------------------------------------------------------------------------------------------------

class _ById:
    """Hashable-by-identity holder for static pieces of a drift that are not hashable."""
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, _ById) and other.obj is self.obj


_DYNAMIC = object()


def _partition(drift):
    """Split ``drift`` into traced array leaves and a hashable static description."""
    leaves, treedef = jax.tree_util.tree_flatten(drift)
    dynamic, static = [], []
    for leaf in leaves:
        if isinstance(leaf, (jax.Array, np.ndarray)):
            dynamic.append(leaf)
            static.append(_DYNAMIC)
        else:
            try:
                hash(leaf)
                static.append(leaf)
            except TypeError:
                static.append(_ById(leaf))
    return dynamic, (treedef, tuple(static))


def _combine(dynamic, static):
    treedef, pieces = static
    it = iter(dynamic)
    leaves = [next(it) if p is _DYNAMIC else (p.obj if isinstance(p, _ById) else p)
              for p in pieces]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _report_progress(done, total):
    print(f"particle dynamics: step {int(done):,} / {total:,} ({100 * int(done) / total:.0f}%)",
          flush=True)


def _progress_chunks(n_steps: int, most: int = 20) -> int:
    """The largest number of equal chunks (at most ``most``) that ``n_steps`` splits into."""
    return max(k for k in range(1, most + 1) if n_steps % k == 0)


@partial(jax.jit, static_argnames=("static", "n_chunks", "chunk", "noisy", "stochastic", "record",
                                   "progress"))
def _simulate(dynamic, x0, key, eta, temp, *, static, n_chunks, chunk, noisy, stochastic, record,
              progress):
    drift = _combine(dynamic, static)
    noise_scale = jnp.sqrt(2 * eta * temp)

    def step(x, t):
        k_noise, k_drift = jax.random.split(jax.random.fold_in(key, t))
        g = drift(x, k_drift) if stochastic else drift(x)
        x = x - eta * g.astype(x.dtype)
        if noisy:
            x = x + noise_scale * jax.random.normal(k_noise, x.shape, x.dtype)
        return x, None

    def run_chunk(x, c):
        x, _ = jax.lax.scan(step, x, c * chunk + jnp.arange(chunk))
        if progress:
            jax.debug.callback(partial(_report_progress, total=n_chunks * chunk), (c + 1) * chunk)
        return x, (x if record else None)

    return jax.lax.scan(run_chunk, x0, jnp.arange(n_chunks))


def simulate(drift: Callable, particles, key, *, step_size, temperature, n_steps: int,
             record_every: int | None = None, progress: bool = False):
    """Run ``n_steps`` of ``N``-particle mean-field Langevin dynamics in one jitted ``lax.scan``.

    One step is ``X_i ← X_i − η · drift(X)_i + √(2ηλ) ξ_i`` with ``η = step_size``,
    ``λ = temperature`` and ``ξ_i ~ N(0, I_p)`` iid (see the module docstring for what ``drift``
    computes; ``drift(X)`` must return an array shaped like ``X``). ``temperature = 0`` skips the
    noise: deterministic particle gradient descent. If ``drift.stochastic`` is true the drift is
    called as ``drift(X, key)`` with an independent key per step.

    The randomness of step ``t`` is ``jax.random.fold_in(key, t)``, so the same ``key`` gives the
    same result, and the final particles do not depend on ``record_every`` or ``progress``.

    ``progress=True`` prints ``step k / n_steps`` from inside the jitted loop (via
    ``jax.debug.callback``) after every recorded chunk, or about every 5% of the run, so that a
    long run at a large ``BOOK_SCALE`` shows it is alive.

    Returns the final particles ``(N, p)``; with ``record_every = k`` returns
    ``(final, trajectory)`` where ``trajectory[c]`` are the particles after ``(c + 1)·k`` steps,
    shape ``(n_steps // k, N, p)`` (``trajectory[-1] == final``); ``n_steps`` must be a multiple
    of ``k``.
    """
    if not callable(drift):
        raise ValueError(f"drift must be callable (X -> (N, p) array), got {type(drift).__name__}")
    x0 = v.float_array(particles, "particles", ndim=2)
    key = v.key(key)
    eta = v.scalar(step_size, "step_size", positive=True)
    temp = v.scalar(temperature, "temperature", nonnegative=True)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    if record_every is None:
        n_chunks = _progress_chunks(n_steps) if progress else 1
        chunk, record = n_steps // n_chunks, False
    else:
        record_every = v.integer(record_every, "record_every", minimum=1)
        if n_steps % record_every:
            raise ValueError(f"record_every ({record_every}) must divide n_steps ({n_steps})")
        n_chunks, chunk, record = n_steps // record_every, record_every, True
    stochastic = bool(getattr(drift, "stochastic", False))
    x_spec = jax.ShapeDtypeStruct(x0.shape, x0.dtype)
    try:
        out = (jax.eval_shape(drift, x_spec, key) if stochastic
               else jax.eval_shape(drift, x_spec))
    except TypeError as err:
        how = "drift(X, key)" if stochastic else "drift(X)"
        raise ValueError(f"drift could not be called as {how} on particles of shape "
                         f"{x0.shape}: {err}") from err
    if getattr(out, "shape", None) != x0.shape:
        raise ValueError(f"drift must return an array of the particles' shape {x0.shape}, got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    noisy = not (not v._is_tracer(temp) and temp == 0.0)
    dynamic, static = _partition(drift)
    final, traj = _simulate(dynamic, x0, key, jnp.asarray(eta, x0.dtype),
                            jnp.asarray(temp, x0.dtype), static=static, n_chunks=n_chunks,
                            chunk=chunk, noisy=noisy, stochastic=stochastic, record=record,
                            progress=bool(progress))
    return (final, traj) if record else final


# ------------------------------------------------------------------------------------------------
# two-layer mean-field network
# ------------------------------------------------------------------------------------------------

# Pre-activations are formed as ``w @ Xᵀ`` (particles-major, shape (N, n) once vmapped): on the
# XLA CPU backend this avoids materialized transposes of the (n, N) matrix and is ~25% faster.

def _h(theta, X, activation):
    """``h(θ, x_i) = a σ(wᵀx_i)`` for every row of ``X``: shape ``(n,)``."""
    return theta[0] * nets.activation_fn(activation)(theta[1:] @ X.T)


@partial(jax.jit, static_argnames="activation")
def _output(particles, X, activation):
    feats = nets.activation_fn(activation)(particles[:, 1:] @ X.T)       # (N, n)
    return particles[:, 0] @ feats / particles.shape[0]


@partial(jax.jit, static_argnames="activation")
def _objective(particles, X, y, reg, activation):
    resid = _output(particles, X, activation) - y
    return 0.5 * jnp.mean(resid ** 2) + 0.5 * reg * jnp.mean(jnp.sum(particles ** 2, axis=1))


@partial(jax.jit, static_argnames="activation")
def _first_variation_grad(particles, X, y, reg, activation):
    """``∇_θ δF/δμ(θ_j)`` for every particle: autodiff of the first variation with f_μ fixed."""
    resid = _output(particles, X, activation) - y                        # f_μ(x_i) − y_i, fixed

    def first_variation(theta):
        return jnp.mean(resid * _h(theta, X, activation)) + 0.5 * reg * jnp.dot(theta, theta)

    return jax.vmap(jax.grad(first_variation))(particles)


def _check_net(particles, X, y=None):
    P = v.float_array(particles, "particles", ndim=2)
    X = v.float_array(X, "X", ndim=2)
    if P.shape[1] != X.shape[1] + 1:
        raise ValueError(f"particles must have shape (N, 1 + d) = (N, {X.shape[1] + 1}) for X of "
                         f"shape {X.shape} (column 0 is the output weight a), got {P.shape}")
    if y is None:
        dtype = jnp.result_type(P.dtype, X.dtype)
        return P.astype(dtype), X.astype(dtype)
    y = v.float_array(y, "y", ndim=1)
    v.same_dim(X, y, "X", "y", axis=0)
    dtype = jnp.result_type(P.dtype, X.dtype, y.dtype)
    return P.astype(dtype), X.astype(dtype), y.astype(dtype)


def _check_data(X, y):
    X = v.float_array(X, "X", ndim=2)
    y = v.float_array(y, "y", ndim=1)
    v.same_dim(X, y, "X", "y", axis=0)
    dtype = jnp.result_type(X.dtype, y.dtype)
    return X.astype(dtype), y.astype(dtype)


def two_layer_output(particles, X, *, activation: str = "tanh") -> jax.Array:
    """Mean-field network output ``f_μ(x_i) = (1/N) Σ_j a_j σ(w_jᵀ x_i)``, shape ``(n,)``.

    ``particles`` is ``(N, 1 + d)`` with rows ``θ_j = (a_j, w_j)``; ``X`` is ``(n, d)``;
    ``activation`` is one of ``lib.nets.ACTIVATIONS``.
    """
    P, X = _check_net(particles, X)
    nets.activation_fn(activation)
    return _output(P, X, activation)


def two_layer_objective(particles, X, y, *, reg, activation: str = "tanh") -> jax.Array:
    """``F(μ) = (1/2n) Σ_i (f_μ(x_i) − y_i)² + reg · (1/N) Σ_j ‖θ_j‖²/2`` at the empirical measure.

    The entropy term ``λ ∫ μ log μ`` of the MFLD objective is not included (it is infinite for
    an empirical measure).
    """
    P, X, y = _check_net(particles, X, y)
    reg = v.scalar(reg, "reg", nonnegative=True)
    nets.activation_fn(activation)
    return _objective(P, X, y, jnp.asarray(reg, P.dtype), activation)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TwoLayerDrift:
    """Full-batch MFLD drift of the two-layer mean-field network (built by :func:`two_layer_drift`).

    ``drift(particles)`` returns ``∇_θ δF/δμ(μ_X, θ_j)`` for every particle ``j``, shape
    ``(N, 1 + d)``. A JAX pytree: ``X``, ``y``, ``reg`` are traced leaves, ``activation`` static.
    """
    X: jax.Array
    y: jax.Array
    reg: jax.Array
    activation: str = dataclasses.field(default="tanh", metadata=dict(static=True))
    stochastic: ClassVar[bool] = False

    def __call__(self, particles):
        return _first_variation_grad(particles, self.X, self.y, self.reg, self.activation)


@partial(jax.jit, static_argnames=("batch_size", "activation"))
def _minibatch_grad(particles, key, X, y, reg, batch_size, activation):
    idx = jax.random.randint(key, (batch_size,), 0, X.shape[0])
    return _first_variation_grad(particles, X[idx], y[idx], reg, activation)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MinibatchDrift:
    """Minibatch (SGD-MFLD) drift built by :func:`minibatch_drift`; called as ``drift(X, key)``.

    Draws ``batch_size`` sample indices uniformly *with replacement* from ``key`` and returns
    ``(1/B) Σ_{i∈batch} (f_μ(x_i) − y_i) ∇_θ h(θ_j, x_i) + reg θ_j``, an unbiased estimate of the
    full drift (``f_μ`` at the sampled points is exact).
    """
    X: jax.Array
    y: jax.Array
    reg: jax.Array
    batch_size: int = dataclasses.field(default=1, metadata=dict(static=True))
    activation: str = dataclasses.field(default="tanh", metadata=dict(static=True))
    stochastic: ClassVar[bool] = True

    def __call__(self, particles, key):
        return _minibatch_grad(particles, key, self.X, self.y, self.reg, self.batch_size,
                               self.activation)


def two_layer_drift(X, y, *, reg, activation: str = "tanh") -> TwoLayerDrift:
    """The MFLD drift of :func:`two_layer_objective` on data ``(X, y)``, for :func:`simulate`.

    ``drift(particles)_j = ∇_θ [ (1/n) Σ_i (f_μ(x_i) − y_i) h(θ, x_i) + reg ‖θ‖²/2 ]`` at
    ``θ = θ_j``, computed by ``jax.grad`` of the first variation with the residuals
    ``f_μ(x_i) − y_i`` held fixed, vmapped over the particles. Equals
    ``N · ∇_{θ_j} two_layer_objective(particles, X, y, reg=reg)``.
    """
    X, y = _check_data(X, y)
    reg = v.scalar(reg, "reg", nonnegative=True)
    nets.activation_fn(activation)
    return TwoLayerDrift(X, y, jnp.asarray(reg, X.dtype), activation)


def minibatch_drift(X, y, *, batch_size: int, reg, activation: str = "tanh") -> MinibatchDrift:
    """Stochastic (SGD-MFLD) version of :func:`two_layer_drift` using ``batch_size`` samples per
    call (drawn uniformly with replacement, so the estimate is unbiased); ``drift.stochastic`` is
    true and :func:`simulate` passes it a fresh key every step."""
    X, y = _check_data(X, y)
    batch_size = v.integer(batch_size, "batch_size", minimum=1)
    reg = v.scalar(reg, "reg", nonnegative=True)
    nets.activation_fn(activation)
    return MinibatchDrift(X, y, jnp.asarray(reg, X.dtype), batch_size, activation)


# ------------------------------------------------------------------------------------------------
# additions: a solvable convex mean-field model, SVRG-MFLD
# ------------------------------------------------------------------------------------------------

__all__ += ["quadratic_mean_field_drift", "QuadraticMeanFieldDrift", "quadratic_mean_field_gap",
            "quadratic_mean_field_floor", "simulate_svrg"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class QuadraticMeanFieldDrift:
    """MFLD drift ``(X_i − m) + κ (X̄ − c)`` of the convex quadratic mean-field model
    (built by :func:`quadratic_mean_field_drift`); ``center``, ``anchor``, ``coupling`` are leaves."""
    center: jax.Array
    anchor: jax.Array
    coupling: jax.Array
    stochastic: ClassVar[bool] = False

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
    m = v.float_array(center, "center", ndim=1)
    c = v.float_array(anchor, "anchor", ndim=1)
    v.same_dim(m, c, "center", "anchor")
    kappa = v.scalar(coupling, "coupling", nonnegative=True)
    dtype = jnp.result_type(m.dtype, c.dtype)
    return QuadraticMeanFieldDrift(m.astype(dtype), c.astype(dtype), jnp.asarray(kappa, dtype))


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
    (1/N-normalized) covariance of ``N`` particles run by :func:`simulate` with step ``η``.

    The particle mean is an AR(1) with stationary variance ``λ/(N b (1 − ηb/2))`` per coordinate,
    and the deviations ``X_i − X̄`` are independent of it with empirical covariance
    ``(λ c_η/N) W``, ``W ~ Wishart_p(N − 1, I)``, ``c_η = 1/(1 − η/2)``. Hence

        E gap = pλ / (2N(1 − ηb/2)) + (λ/2) [ c_η p (N−1)/N − p − p log(2c_η/N)
                                              − Σ_{i=1}^p ψ((N − i)/2) ]

    (``ψ`` the digamma function). Both parts are ``O(1/N)`` (≈ ``λ(p/2 + p(p+1)/4)/N``) plus an
    ``O(η²)`` step-size part ``(λp/2)(c_η − 1 − log c_η)``. Needs ``N > dim`` and ``ηb < 2``.
    """
    from scipy.special import digamma
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


@partial(jax.jit, static_argnames=("batch_size", "epoch_length", "n_epochs", "activation"))
def _simulate_svrg(P0, key, X, y, reg, eta, temp, batch_size, epoch_length, n_epochs,
                   activation):
    noise_scale = jnp.sqrt(2 * eta * temp)
    n = X.shape[0]

    def epoch(P, e):
        snap = P
        full = _first_variation_grad(snap, X, y, reg, activation)    # g̃ = full drift at snapshot

        def step(P, t):
            k_idx, k_noise = jax.random.split(jax.random.fold_in(key, e * epoch_length + t))
            idx = jax.random.randint(k_idx, (batch_size,), 0, n)
            g = (_first_variation_grad(P, X[idx], y[idx], reg, activation) -
                 _first_variation_grad(snap, X[idx], y[idx], reg, activation) + full)
            P = P - eta * g + noise_scale * jax.random.normal(k_noise, P.shape, P.dtype)
            return P, None

        P, _ = jax.lax.scan(step, P, jnp.arange(epoch_length))
        return P, P

    return jax.lax.scan(epoch, P0, jnp.arange(n_epochs))


def simulate_svrg(X, y, particles, key, *, step_size, temperature, n_epochs: int,
                  epoch_length: int, batch_size: int, reg, activation: str = "tanh"):
    """SVRG-MFLD for the two-layer mean-field network of :func:`two_layer_drift`.

    Every ``epoch_length`` steps the snapshot ``X̃ ← X`` and its full drift
    ``g̃ = drift(X̃)`` are refreshed (``n`` per-sample gradients); each step then draws a minibatch
    ``B`` of ``batch_size`` indices with replacement and moves

        X_i ← X_i − η (g_B(X)_i − g_B(X̃)_i + g̃_i) + √(2ηλ) ξ_i,

    with ``g_B`` the minibatch drift of :func:`minibatch_drift` on the same indices — an unbiased
    estimate of the full drift whose variance vanishes as ``X → X̃`` (cost ``2B`` per-sample
    gradients per step). One jitted ``lax.scan`` over epochs (the state ``(X̃, g̃)`` is carried
    inside, which the stateless drift interface of :func:`simulate` cannot do).

    Returns ``(final, trajectory)`` with ``trajectory[e]`` the particles at the end of epoch
    ``e``, shape ``(n_epochs, N, 1 + d)``. The cost in per-sample gradients up to the end of epoch
    ``e`` (0-based) is ``(e + 1)(n + 2 B · epoch_length)``.
    """
    P, X, y = _check_net(particles, X, y)
    key = v.key(key)
    eta = v.scalar(step_size, "step_size", positive=True)
    temp = v.scalar(temperature, "temperature", nonnegative=True)
    n_epochs = v.integer(n_epochs, "n_epochs", minimum=1)
    epoch_length = v.integer(epoch_length, "epoch_length", minimum=1)
    batch_size = v.integer(batch_size, "batch_size", minimum=1)
    reg = v.scalar(reg, "reg", nonnegative=True)
    nets.activation_fn(activation)
    return _simulate_svrg(P, key, X, y, jnp.asarray(reg, P.dtype), jnp.asarray(eta, P.dtype),
                          jnp.asarray(temp, P.dtype), batch_size, epoch_length, n_epochs,
                          activation)


# ------------------------------------------------------------------------------------------------
# additions: MMD density estimation
# ------------------------------------------------------------------------------------------------

__all__ += ["mmd2", "mmd_drift", "MMDDrift"]


def _gauss(x1, x2, bandwidth):
    sq = jnp.sum(x1 ** 2, 1)[:, None] + jnp.sum(x2 ** 2, 1)[None, :] - 2 * x1 @ x2.T
    return jnp.exp(-jnp.maximum(sq, 0.0) / (2 * bandwidth ** 2))


@jax.jit
def _mmd2(x, y, bandwidth):
    return (jnp.mean(_gauss(x, x, bandwidth)) + jnp.mean(_gauss(y, y, bandwidth)) -
            2 * jnp.mean(_gauss(x, y, bandwidth)))


def mmd2(x, y, *, bandwidth) -> jax.Array:
    """Squared maximum mean discrepancy of the empirical measures of ``x (N, p)`` and ``y (M, p)``
    with the Gaussian kernel ``k(u, v) = exp(−‖u − v‖²/(2h²))`` (``h = bandwidth``), V-statistic:

        MMD²(μ_x, μ_y) = (1/N²) Σ k(x_i, x_j) + (1/M²) Σ k(y_l, y_m) − (2/NM) Σ k(x_i, y_l) ≥ 0.
    """
    x = v.float_array(x, "x", ndim=2)
    y = v.float_array(y, "y", ndim=2)
    v.same_dim(x, y, "x", "y")
    h = v.scalar(bandwidth, "bandwidth", positive=True)
    dtype = jnp.result_type(x.dtype, y.dtype)
    return _mmd2(x.astype(dtype), y.astype(dtype), jnp.asarray(h, dtype))


@jax.jit
def _mmd_drift(particles, data, bandwidth, reg):
    def grad_mean_kernel(points):
        K = _gauss(particles, points, bandwidth)                       # (N, M)
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
    stochastic: ClassVar[bool] = False

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
