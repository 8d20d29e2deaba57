"""Mean-field Langevin dynamics (MFLD) of interacting particles: one integrator, one particle network.

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
A drift is one of two kinds.

* **Stateless**: any callable ``drift(X) -> G`` with ``G`` of the shape ``(N, p)`` of ``X`` — the
  exact drift, e.g. :func:`two_layer_drift` or a plain Python function.
* **Stateful**: an object with a method ``init(X) -> state`` that is called as
  ``drift(X, state, key, step) -> (G, state)``. :func:`simulate` calls ``init`` once on the
  initial particles, then at step ``t = 0, 1, …`` passes the carried ``state``, a fresh PRNG
  ``key`` of that step and the step index ``t`` (an int32 scalar), and carries the returned
  state (a pytree of fixed shapes) to the next step. Stochastic estimates of the drift and drifts
  with memory are stateful: :func:`minibatch_drift` (SGD-MFLD; state ``()``, the minibatch is
  drawn from ``key``) and :func:`svrg_drift` (SVRG-MFLD; the state is the anchor particles and
  their full drift, refreshed every ``epoch_length`` steps).

Drifts may be JAX pytrees (the ones built here are registered dataclasses holding their data as
leaves), so :func:`simulate` does not recompile for new data of the same shape; array leaves are
traced, everything else (functions, strings, ints) is static, and a plain Python function is
compiled once per function object.

Two-layer mean-field network
----------------------------
A particle is ``θ = (a, w) ∈ R^{1+d}`` (``particles[:, 0]`` is the output weight ``a``,
``particles[:, 1:]`` the input weights ``w``), ``h(θ, x) = a · σ(wᵀx)``, and the network with
output scale ``α`` is

    f_μ(x) = α · (1/N) Σ_j h(θ_j, x).

For a loss ``ℓ(f, y)`` — ``"square"``: ``(f − y)²/2``; ``"logistic"`` (labels ``y ∈ {±1}``):
``log(1 + e^{−yf})`` — the objective is

    F(μ) = (1/α²) (1/n) Σ_i ℓ(f_μ(x_i), y_i) + reg · ∫ ‖θ‖²/2 dμ(θ),

whose first variation is ``δF/δμ(θ) = (1/α)(1/n) Σ_i ∂_f ℓ(f_μ(x_i), y_i) h(θ, x_i) + reg ‖θ‖²/2``;
the L2 term makes the Gibbs measure ``∝ exp(−δF/δμ / λ)`` normalizable. ``α = 1`` is the
mean-field scaling; ``α = √N`` with ``O(1)`` particles is exactly gradient descent on the
NTK-parameterized net ``(1/√N) Σ_j a_j σ(w_jᵀx)`` (the lazy regime of Chizat, Oyallon and Bach,
whose objective ``α⁻² L(α f)`` this is). For the empirical measure the *mean-field gradient
identity* ``N · ∇_{θ_j} F(μ_X) = ∇_θ δF/δμ(μ_X, θ_j)`` holds: the MFLD drift is ``N`` times the
ordinary gradient of ``F`` in the particle positions.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v
from . import activations

__all__ = ["LOSSES", "simulate", "two_layer_output", "two_layer_objective", "two_layer_drift",
           "minibatch_drift", "svrg_drift", "TwoLayerDrift", "MinibatchDrift", "SVRGDrift"]

LOSSES = ("square", "logistic")


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


def _is_stateful(drift) -> bool:
    return callable(getattr(drift, "init", None))


def _evaluate(drift, stateful, x, state, key, t):
    """One drift evaluation ``(G, state)``; the shape checks run once, while tracing."""
    how = "drift(X, state, key, step) -> (G, state)" if stateful else "drift(X)"
    try:
        g, state = drift(x, state, key, t) if stateful else (drift(x), state)
    except TypeError as err:
        raise ValueError(f"drift could not be called as {how} on particles of shape "
                         f"{x.shape}: {err}") from err
    if getattr(g, "shape", None) != x.shape:
        raise ValueError(f"drift must return an array of the particles' shape {x.shape}, got "
                         f"{getattr(g, 'shape', type(g).__name__)}")
    return g.astype(x.dtype), state


def _report_progress(done, total, every):
    if int(done) % every == 0 or int(done) == total:     # about 20 lines per run, not one per chunk
        print(f"particle dynamics: step {int(done):,} / {total:,} ({100 * int(done) / total:.0f}%)",
              flush=True)


def _progress_chunks(n_steps: int, most: int = 20) -> int:
    """The largest number of equal chunks (at most ``most``) that ``n_steps`` splits into."""
    return max(k for k in range(1, most + 1) if n_steps % k == 0)


@partial(jax.jit, static_argnames=("static", "n_chunks", "chunk", "noisy", "stateful", "record",
                                   "progress"))
def _simulate(dynamic, x0, key, eta, temp, *, static, n_chunks, chunk, noisy, stateful, record,
              progress):
    drift = _combine(dynamic, static)
    noise_scale = jnp.sqrt(2 * eta * temp)

    def step(carry, t):
        x, state = carry
        k_noise, k_drift = jax.random.split(jax.random.fold_in(key, t))
        g, state = _evaluate(drift, stateful, x, state, k_drift, t)
        x = x - eta * g
        if noisy:
            x = x + noise_scale * jax.random.normal(k_noise, x.shape, x.dtype)
        return (x, state), None

    def run_chunk(carry, c):
        carry, _ = jax.lax.scan(step, carry, c * chunk + jnp.arange(chunk))
        if progress:
            jax.debug.callback(partial(_report_progress, total=n_chunks * chunk,
                                       every=chunk * max(1, n_chunks // 20)), (c + 1) * chunk)
        return carry, (carry[0] if record else None)

    state0 = drift.init(x0) if stateful else ()
    (final, _), traj = jax.lax.scan(run_chunk, (x0, state0), jnp.arange(n_chunks))
    return final, traj


def simulate(drift: Callable, particles, key, *, step_size, temperature, n_steps: int,
             record_every: int | None = None, progress: bool = False):
    """Run ``n_steps`` of ``N``-particle mean-field Langevin dynamics in one jitted ``lax.scan``.

    One step is ``X_i ← X_i − η · G_i + √(2ηλ) ξ_i`` with ``η = step_size``, ``λ = temperature``,
    ``ξ_i ~ N(0, I_p)`` iid and ``G = drift(X)`` for a stateless drift, or
    ``G, state = drift(X, state, key_t, t)`` for a stateful one (an object with ``init``; see the
    module docstring). ``G`` must have the shape of ``X``. ``temperature = 0`` skips the noise:
    deterministic particle gradient descent.

    The randomness of step ``t`` is ``jax.random.fold_in(key, t)``, split into the noise key and
    the drift's key ``key_t``, so the same ``key`` gives the same result, and the final particles
    do not depend on ``record_every`` or ``progress``.

    ``progress=True`` prints ``step k / n_steps`` from inside the jitted loop (via
    ``jax.debug.callback``) about every 5% of the run (at most about 20 lines, however many
    chunks are recorded), so that a long run at a large ``BOOK_SCALE`` shows it is alive.

    Returns the final particles ``(N, p)``; with ``record_every = k`` returns
    ``(final, trajectory)`` where ``trajectory[c]`` are the particles after ``(c + 1)·k`` steps,
    shape ``(n_steps // k, N, p)`` (``trajectory[-1] == final``); ``n_steps`` must be a multiple
    of ``k``.

    Validation copies no array to the host: the particles' finiteness is one jitted reduction to
    a scalar, and the drift's signature and output shape are checked while the loop is traced
    (the drift is never evaluated outside the loop).
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
    noisy = v.is_tracer(temp) or temp != 0.0
    dynamic, static = _partition(drift)
    final, traj = _simulate(dynamic, x0, key, jnp.asarray(eta, x0.dtype),
                            jnp.asarray(temp, x0.dtype), static=static, n_chunks=n_chunks,
                            chunk=chunk, noisy=noisy, stateful=_is_stateful(drift), record=record,
                            progress=bool(progress))
    return (final, traj) if record else final


# ------------------------------------------------------------------------------------------------
# two-layer mean-field network
# ------------------------------------------------------------------------------------------------

# Pre-activations are formed as ``W @ Xᵀ`` (particles-major, shape (N, n)): on the XLA CPU backend
# this avoids materialized transposes of the (n, N) matrix and is ~25% faster.

def _output(particles, X, scale, activation):
    feats = activations.activation_fn(activation)(particles[:, 1:] @ X.T)       # (N, n)
    return scale * (particles[:, 0] @ feats / particles.shape[0])


def _loss(f, y, loss):
    """``ℓ(f_i, y_i)`` and ``∂_f ℓ(f_i, y_i)``."""
    if loss == "square":
        return 0.5 * (f - y) ** 2, f - y
    return jnp.logaddexp(0.0, -y * f), -y * jax.nn.sigmoid(-y * f)


def _first_variation_grad(particles, X, y, reg, scale, activation, loss):
    """``∇_θ δF/δμ(θ_j)`` for every particle, on the data ``(X, y)`` (all of it or a batch), in
    closed form. With ``s_ij = w_jᵀx_i`` and ``g_i = ∂_f ℓ(f_μ(x_i), y_i)/α`` (``f_μ`` held fixed),

        ∂_a = (1/n) Σ_i g_i σ(s_ij) + reg a_j,    ∂_w = (a_j/n) Σ_i g_i σ'(s_ij) x_i + reg w_j:

    two ``(N, n, d)`` matmuls and one pass of ``σ`` and ``σ'`` over the ``(N, n)``
    pre-activations, which ``f_μ`` shares (``σ'(0) = 0`` for ReLU, as ``jax.grad`` takes it)."""
    a, W = particles[:, 0], particles[:, 1:]
    pre = W @ X.T                                                            # (N, n)
    feats = activations.activation_fn(activation)(pre)
    f = scale * (a @ feats / particles.shape[0])
    g = _loss(f, y, loss)[1] / (scale * X.shape[0])
    grad_a = feats @ g + reg * a
    grad_w = a[:, None] * ((activations.derivative_fn(activation)(pre) * g) @ X) + reg * W
    return jnp.concatenate([grad_a[:, None], grad_w], axis=1)


_jit_output = jax.jit(_output, static_argnames="activation")


@partial(jax.jit, static_argnames=("activation", "loss"))
def _objective(particles, X, y, reg, scale, activation, loss):
    data_term = jnp.mean(_loss(_output(particles, X, scale, activation), y, loss)[0])
    return data_term / scale ** 2 + 0.5 * reg * jnp.mean(jnp.sum(particles ** 2, axis=1))


def _check_net(particles, X, y=None):
    P = v.float_array(particles, "particles", ndim=2)
    X, y = (v.float_array(X, "X", ndim=2), None) if y is None else v.samples(X, y)
    if P.shape[1] != X.shape[1] + 1:
        raise ValueError(f"particles must have shape (N, 1 + d) = (N, {X.shape[1] + 1}) for X of "
                         f"shape {X.shape} (column 0 is the output weight a), got {P.shape}")
    if y is None:
        dtype = jnp.result_type(P.dtype, X.dtype)
        return P.astype(dtype), X.astype(dtype)
    dtype = jnp.result_type(P.dtype, X.dtype, y.dtype)
    return P.astype(dtype), X.astype(dtype), y.astype(dtype)


def _check_loss(loss, y, reg, scale, activation):
    """Validate the hyperparameters of the objective; returns ``(reg, scale)`` as floats."""
    v.choice(loss, "loss", LOSSES)
    if loss == "logistic" and not v.is_tracer(y):
        with jax.ensure_compile_time_eval():          # one scalar comes back
            labels = bool(jnp.all(jnp.abs(y) == 1))
        if not labels:
            raise ValueError("y must contain labels in {-1, +1} for loss='logistic'")
    activations.activation_fn(activation)
    return v.scalar(reg, "reg", nonnegative=True), v.scalar(scale, "scale", positive=True)


def two_layer_output(particles, X, *, activation: str = "tanh", scale=1.0) -> jax.Array:
    """Mean-field network output ``f_μ(x_i) = α (1/N) Σ_j a_j σ(w_jᵀ x_i)``, shape ``(n,)``.

    ``particles`` is ``(N, 1 + d)`` with rows ``θ_j = (a_j, w_j)``; ``X`` is ``(n, d)``;
    ``activation`` is one of ``lib.activations.ACTIVATIONS``; ``scale = α > 0``.
    """
    P, X = _check_net(particles, X)
    activations.activation_fn(activation)
    scale = v.scalar(scale, "scale", positive=True)
    return _jit_output(P, X, jnp.asarray(scale, P.dtype), activation)


def two_layer_objective(particles, X, y, *, reg, activation: str = "tanh", loss: str = "square",
                        scale=1.0) -> jax.Array:
    """``F(μ) = (1/α²)(1/n) Σ_i ℓ(f_μ(x_i), y_i) + reg · (1/N) Σ_j ‖θ_j‖²/2`` at the empirical
    measure, with ``ℓ(f, y) = (f − y)²/2`` (``loss="square"``) or ``log(1 + e^{−yf})``
    (``loss="logistic"``, labels in ``{±1}``) and ``f_μ`` of :func:`two_layer_output`
    (``α = scale``).

    The entropy term ``λ ∫ μ log μ`` of the MFLD objective is not included (it is infinite for
    an empirical measure).
    """
    P, X, y = _check_net(particles, X, y)
    reg, scale = _check_loss(loss, y, reg, scale, activation)
    return _objective(P, X, y, jnp.asarray(reg, P.dtype), jnp.asarray(scale, P.dtype),
                      activation, loss)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TwoLayerDrift:
    """Full-batch MFLD drift of the two-layer mean-field network (built by :func:`two_layer_drift`).

    ``drift(particles)`` returns ``∇_θ δF/δμ(μ_X, θ_j)`` for every particle ``j``, shape
    ``(N, 1 + d)``. A JAX pytree: ``X``, ``y``, ``reg``, ``scale`` are traced leaves,
    ``activation`` and ``loss`` static.
    """
    X: jax.Array
    y: jax.Array
    reg: jax.Array
    scale: jax.Array
    activation: str = dataclasses.field(default="tanh", metadata=dict(static=True))
    loss: str = dataclasses.field(default="square", metadata=dict(static=True))

    def __call__(self, particles):
        return _full_grad(particles, self)

    def on_samples(self, particles, idx):
        """The drift estimated on the samples ``idx`` only (``f_μ`` there is exact)."""
        return _first_variation_grad(particles, self.X[idx], self.y[idx], self.reg, self.scale,
                                     self.activation, self.loss)


@jax.jit
def _full_grad(particles, net):
    return _first_variation_grad(particles, net.X, net.y, net.reg, net.scale, net.activation,
                                 net.loss)


def _batch(key, net, batch_size):
    """``batch_size`` sample indices drawn uniformly with replacement."""
    return jax.random.randint(key, (batch_size,), 0, net.X.shape[0])


@partial(jax.jit, static_argnames="batch_size")
def _minibatch_grad(particles, key, net, batch_size):
    return net.on_samples(particles, _batch(key, net, batch_size))


@partial(jax.jit, static_argnames=("batch_size", "epoch_length"))
def _svrg_grad(particles, state, key, step, net, batch_size, epoch_length):
    refresh = (step > 0) & (step % epoch_length == 0)
    anchor, anchor_drift = jax.lax.cond(refresh, lambda: (particles, net(particles)),
                                        lambda: state)
    idx = _batch(key, net, batch_size)
    g = net.on_samples(particles, idx) - net.on_samples(anchor, idx) + anchor_drift
    return g, (anchor, anchor_drift)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MinibatchDrift:
    """Minibatch (SGD-MFLD) drift built by :func:`minibatch_drift`; a stateful drift (state ``()``).

    ``drift(X, state, key, step)`` draws ``batch_size`` sample indices uniformly *with
    replacement* from ``key`` and returns ``(G, state)`` with
    ``G_j = (1/α)(1/B) Σ_{i∈batch} ∂_f ℓ(f_μ(x_i), y_i) ∇_θ h(θ_j, x_i) + reg θ_j``, an unbiased
    estimate of the full drift ``net(X)`` (``f_μ`` at the sampled points is exact).
    """
    net: TwoLayerDrift
    batch_size: int = dataclasses.field(default=1, metadata=dict(static=True))

    def init(self, particles):
        return ()

    def __call__(self, particles, state, key, step):
        return _minibatch_grad(particles, key, self.net, self.batch_size), state


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SVRGDrift:
    """Variance-reduced (SVRG-MFLD) drift built by :func:`svrg_drift`; a stateful drift.

    The state is ``(X̃, g̃)``: anchor particles and their full drift ``g̃ = net(X̃)``. ``init(X)``
    anchors at ``X``; ``drift(X, state, key, step)`` first re-anchors at the current ``X`` when
    ``step`` is a positive multiple of ``epoch_length`` (so the anchor is refreshed at steps
    ``0, m, 2m, …``), then draws a minibatch ``B`` of ``batch_size`` indices with replacement from
    ``key`` and returns ``(g_B(X) − g_B(X̃) + g̃, state)``, ``g_B`` the drift on the batch (as in
    :class:`MinibatchDrift`).
    """
    net: TwoLayerDrift
    batch_size: int = dataclasses.field(default=1, metadata=dict(static=True))
    epoch_length: int = dataclasses.field(default=1, metadata=dict(static=True))

    def init(self, particles):
        return particles, self.net(particles)

    def __call__(self, particles, state, key, step):
        return _svrg_grad(particles, state, key, step, self.net, self.batch_size,
                          self.epoch_length)


def two_layer_drift(X, y, *, reg, activation: str = "tanh", loss: str = "square",
                    scale=1.0) -> TwoLayerDrift:
    """The MFLD drift of :func:`two_layer_objective` on data ``(X, y)``, for :func:`simulate`.

    ``drift(particles)_j = ∇_θ [ (1/α)(1/n) Σ_i ∂_f ℓ(f_μ(x_i), y_i) h(θ, x_i) + reg ‖θ‖²/2 ]``
    at ``θ = θ_j`` (``α = scale``; ``∂_f ℓ = f − y`` for the square loss and
    ``−y/(1 + e^{yf})`` for the logistic loss), computed in closed form with ``f_μ(x_i)`` held
    fixed: ``∂_a = (1/α)(1/n) Σ_i ∂_f ℓ_i σ(w_jᵀx_i) + reg a_j`` and
    ``∂_w = (a_j/α)(1/n) Σ_i ∂_f ℓ_i σ'(w_jᵀx_i) x_i + reg w_j`` (two matrix products over all
    particles and samples). Equals ``N · ∇_{θ_j} two_layer_objective(particles, X, y, ...)``
    with the same arguments (the mean-field gradient identity).
    """
    X, y = v.samples(X, y)
    reg, scale = _check_loss(loss, y, reg, scale, activation)
    dtype = jnp.result_type(X.dtype, y.dtype)
    return TwoLayerDrift(X.astype(dtype), y.astype(dtype), jnp.asarray(reg, dtype),
                         jnp.asarray(scale, dtype), activation, loss)


def minibatch_drift(X, y, *, batch_size: int, reg, activation: str = "tanh",
                    loss: str = "square", scale=1.0) -> MinibatchDrift:
    """Stochastic (SGD-MFLD) version of :func:`two_layer_drift` using ``batch_size`` samples per
    step, drawn uniformly with replacement from the step's key, so the estimate is unbiased.
    Cost: ``batch_size`` per-sample gradients per step (for all particles)."""
    batch_size = v.integer(batch_size, "batch_size", minimum=1)
    return MinibatchDrift(two_layer_drift(X, y, reg=reg, activation=activation, loss=loss,
                                          scale=scale), batch_size)


def svrg_drift(X, y, *, batch_size: int, epoch_length: int, reg, activation: str = "tanh",
               loss: str = "square", scale=1.0) -> SVRGDrift:
    """SVRG-MFLD drift for :func:`two_layer_drift`: every ``epoch_length`` steps the anchor
    ``X̃ ← X`` and its full drift ``g̃ = drift(X̃)`` are refreshed (``n`` per-sample gradients);
    each step then draws a minibatch ``B`` of ``batch_size`` indices with replacement and uses

        G = g_B(X) − g_B(X̃) + g̃,

    an unbiased estimate of the full drift whose variance vanishes as ``X → X̃`` (``2B``
    per-sample gradients per step). With :func:`simulate` and ``record_every = epoch_length``,
    the cost in per-sample gradients up to the end of epoch ``e`` (0-based) is
    ``(e + 1)(n + 2 B · epoch_length)``.
    """
    batch_size = v.integer(batch_size, "batch_size", minimum=1)
    epoch_length = v.integer(epoch_length, "epoch_length", minimum=1)
    return SVRGDrift(two_layer_drift(X, y, reg=reg, activation=activation, loss=loss,
                                     scale=scale), batch_size, epoch_length)
