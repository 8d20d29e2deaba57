"""Fully connected networks in several parameterizations, and jitted training loops.

Networks
--------
``init_mlp(key, widths)`` draws the weights of ``widths = [d, n_1, ..., n_L, 1]`` and
``apply_mlp(params, x)`` evaluates

    h^0 = x,   h^{l+1} = m_l · W_l σ(h^l) + b_std · b_l   (no σ on the input),

with layer multipliers ``m_l`` set by the parameterization (``n_l`` = fan-in of layer l):

==============  =====================================  ==================================
name            hidden layers ``m_l``                  last layer ``m_L``
==============  =====================================  ==================================
``standard``    1 (weights drawn N(0, w_std²/n_l))     1 (weights drawn N(0, w_std²/n_L))
``ntk``         w_std/√n_l  (weights N(0, 1))          w_std/√n_L
``mean_field``  w_std/√n_l  (weights N(0, 1))          w_std/n_L
==============  =====================================  ==================================

``ntk`` matches neural-tangents' ``stax.Dense(W_std=w_std, b_std=b_std)`` convention, so the
analytic kernels of :mod:`lib.ntk` are the infinite-width limit of this network.

Training
--------
``train`` runs gradient descent, SGD (minibatches drawn with an explicit key), momentum or
Adam for ``n_steps`` steps inside one ``lax.scan`` (nested, so that a metric can be recorded
every ``record_every`` steps without a Python loop), with an optional Polyak–Ruppert average.
``train_ensemble`` runs the same iterations (one implementation of the optimizers) on R
independent networks at once, ``jax.vmap``-ed over a leading ensemble axis of the parameters
(seeds, data sets, widths of equal shape or masked to a common one); ``init_ensemble`` draws
such a stack. Both loops are jitted once at module level: calling them again with the same
shapes, the same functions (compared by identity) and the same static settings does not
recompile.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.tree_util import Partial

from . import _validate as v
from .activations import activation_fn

__all__ = ["PARAMETERIZATIONS", "OPTIMIZERS", "init_mlp", "init_ensemble", "layer_multiplier",
           "apply_mlp", "TrainResult", "train", "train_ensemble"]

PARAMETERIZATIONS = ("standard", "ntk", "mean_field")
OPTIMIZERS = ("gd", "momentum", "adam")


def _check_init(widths, parameterization, w_std, b_std) -> tuple:
    v.choice(parameterization, "parameterization", PARAMETERIZATIONS)
    if len(widths) < 2:
        raise ValueError(f"widths must list at least input and output sizes, got {widths!r}")
    widths = tuple(v.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths))
    v.scalar(w_std, "w_std", positive=True)
    v.scalar(b_std, "b_std", nonnegative=True)
    return widths


def _draw_mlp(key, widths, parameterization, w_std):
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(widths) - 1), zip(widths[:-1], widths[1:])):
        kw, kb = jax.random.split(k)
        W = jax.random.normal(kw, (n_in, n_out))
        if parameterization == "standard":
            W = W * (w_std / jnp.sqrt(n_in))
        params.append((W, jax.random.normal(kb, (n_out,))))
    return params


def init_mlp(key, widths, *, parameterization: str = "ntk", w_std: float = 1.0,
             b_std: float = 0.0):
    """Draw ``[(W_0, b_0), ..., (W_L, b_L)]`` with ``W_l`` of shape ``(n_l, n_{l+1})``.

    ``standard`` draws ``W ~ N(0, w_std²/n_l)``; ``ntk`` and ``mean_field`` draw ``W ~ N(0, 1)``
    and put the scale in the forward pass (see the module docstring). Biases are ``N(0, 1)``
    and enter multiplied by ``b_std`` (so ``b_std=0`` means no bias).
    """
    key = v.key(key)
    widths = _check_init(widths, parameterization, w_std, b_std)
    return _draw_mlp(key, widths, parameterization, w_std)


@partial(jax.jit, static_argnames=("n_members", "widths", "parameterization"))
def _draw_ensemble(key, w_std, *, n_members, widths, parameterization):
    return jax.vmap(lambda r: _draw_mlp(jax.random.fold_in(key, r), widths, parameterization,
                                        w_std))(jnp.arange(n_members))


def init_ensemble(key, widths, n_members: int, *, parameterization: str = "ntk",
                  w_std: float = 1.0, b_std: float = 0.0):
    """``n_members`` independent networks for :func:`train_ensemble`: member r is
    ``init_mlp(jax.random.fold_in(key, r), widths, ...)``, and every leaf gets a leading axis of
    size ``n_members`` (one jitted draw per ``widths``)."""
    key = v.key(key)
    widths = _check_init(widths, parameterization, w_std, b_std)
    n_members = v.integer(n_members, "n_members", minimum=1)
    return _draw_ensemble(key, w_std, n_members=n_members, widths=widths,
                          parameterization=parameterization)


def layer_multiplier(parameterization: str, n_in: int, is_last: bool, w_std: float) -> float:
    """The factor in front of ``h @ W`` in a layer with fan-in ``n_in``: 1 (standard),
    ``w_std/√n_in`` (NTK, and mean-field hidden layers), ``w_std/n_in`` (mean-field last layer)."""
    if parameterization == "standard":
        return 1.0
    if parameterization == "mean_field" and is_last:
        return w_std / n_in
    return w_std / jnp.sqrt(n_in)


def apply_mlp(params, x, *, activation: str = "relu", parameterization: str = "ntk",
              w_std: float = 1.0, b_std: float = 0.0) -> jax.Array:
    """Evaluate the network on ``x`` of shape ``(n, d)``; returns ``(n, n_out)``.

    Pure and traceable: use it inside ``jax.jit``/``jax.grad``. ``w_std``, ``b_std`` and the
    parameterization must match those given to :func:`init_mlp`.
    """
    sigma = activation_fn(activation)
    v.choice(parameterization, "parameterization", PARAMETERIZATIONS)
    h = x
    last = len(params) - 1
    for l, (W, b) in enumerate(params):
        if l > 0:
            h = sigma(h)
        h = layer_multiplier(parameterization, W.shape[0], l == last, w_std) * (h @ W) + b_std * b
    return h


class TrainResult(NamedTuple):
    """What :func:`train` and :func:`train_ensemble` return.

    ``params``: final parameters; ``history``: ``record_fn(params)`` after every
    ``record_every`` steps, shape ``(n_steps // record_every, ...)`` (a pair, current iterate and
    running average, with ``record_average=True``); ``averaged``: the
    Polyak–Ruppert average ``(1/T) Σ_t θ_t`` of the iterates (``None`` unless ``average=True``).
    From :func:`train_ensemble` every field has the leading ensemble axis R in front.
    """
    params: Any
    history: Any
    averaged: Any


def _constant(eta, t):
    """The constant schedule ``t ↦ η`` (``η`` is traced: a new step size does not recompile)."""
    return eta


def _as_partial(fn: Callable) -> Partial:
    """``fn`` as a :class:`jax.tree_util.Partial`, the form in which callables enter the jitted
    loops: the function itself is static (compared by identity), a Partial's bound arguments are
    traced."""
    return fn if isinstance(fn, Partial) else Partial(fn)


def _schedule(step_size) -> Partial:
    if callable(step_size):
        return _as_partial(step_size)
    return Partial(_constant, v.scalar(step_size, "step_size", positive=True))


def _hyper(momentum, betas, eps) -> tuple:
    momentum = v.scalar(momentum, "momentum", nonnegative=True, upper=1.0)
    try:
        b1, b2 = betas
    except (TypeError, ValueError) as err:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from err
    b1 = v.scalar(b1, "betas[0]", nonnegative=True, upper=1.0)
    b2 = v.scalar(b2, "betas[1]", nonnegative=True, upper=1.0)
    return momentum, b1, b2, v.scalar(eps, "eps", positive=True)


def _check_loop(n_steps, record_every, optimizer, average, record_average) -> tuple[int, int]:
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = v.integer(record_every, "record_every", minimum=1)
    if n_steps % record_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of record_every ({record_every})")
    v.choice(optimizer, "optimizer", OPTIMIZERS)
    if record_average and not average:
        raise ValueError("record_average=True needs average=True (there is no average to record)")
    return n_steps, record_every


def _optimize(grad_fn, record_fn, schedule, params, hyper, *, optimizer, n_steps, record_every,
              average, record_average):
    """The one implementation of GD, heavy-ball momentum and Adam (and of the Polyak–Ruppert
    average): ``n_steps // record_every`` chunks of ``record_every`` steps in a nested
    ``lax.scan``. ``grad_fn(θ, t)`` is the gradient used at step t, ``schedule(t)`` the step size."""
    tree_map = jax.tree_util.tree_map
    momentum, b1, b2, eps = hyper
    zeros = tree_map(jnp.zeros_like, params)

    def step(carry, t):
        p, m, s, avg = carry
        g = grad_fn(p, t)
        eta = schedule(t)
        if optimizer == "gd":
            p = tree_map(lambda a, ga: a - eta * ga, p, g)
        elif optimizer == "momentum":
            m = tree_map(lambda ma, ga: momentum * ma + ga, m, g)
            p = tree_map(lambda a, ma: a - eta * ma, p, m)
        else:
            m = tree_map(lambda ma, ga: b1 * ma + (1 - b1) * ga, m, g)
            s = tree_map(lambda sa, ga: b2 * sa + (1 - b2) * ga * ga, s, g)
            tt = t + 1
            p = tree_map(lambda a, ma, sa: a - eta * (ma / (1 - b1 ** tt))
                         / (jnp.sqrt(sa / (1 - b2 ** tt)) + eps), p, m, s)
        if average:
            avg = tree_map(lambda aa, a: aa + (a - aa) / (t + 1), avg, p)
        # keep every leaf's dtype (float32 parameters stay float32 when x64 is enabled)
        return tree_map(lambda new, old: new.astype(old.dtype), (p, m, s, avg), carry), None

    def chunk(carry, c):
        carry, _ = jax.lax.scan(step, carry, c * record_every + jnp.arange(record_every))
        if record_average:
            return carry, (record_fn(carry[0]), record_fn(carry[3]))
        return carry, record_fn(carry[0])

    (p, _, _, avg), history = jax.lax.scan(chunk, (params, zeros, zeros, params),
                                           jnp.arange(n_steps // record_every))
    return TrainResult(p, history, avg if average else None)


_LOOP_STATIC = ("optimizer", "n_steps", "record_every", "average", "record_average")


@partial(jax.jit, static_argnames=_LOOP_STATIC + ("batch_size",))
def _train_loop(loss_fn, record_fn, schedule, params, hyper, data, key, *, batch_size, **loop):
    if data is None:
        def grad_fn(p, t):
            return jax.grad(loss_fn)(p)
    else:
        n = jax.tree_util.tree_leaves(data)[0].shape[0]

        def grad_fn(p, t):
            idx = jax.random.randint(jax.random.fold_in(key, t), (batch_size,), 0, n)
            return jax.grad(loss_fn)(p, jax.tree_util.tree_map(lambda a: a[idx], data))
    return _optimize(grad_fn, record_fn, schedule, params, hyper, **loop)


def _leaf_axes(data_axes, data) -> list:
    """The ``data_axes`` entry (an int or None) of every leaf of ``data``, in leaf order."""
    axes = []
    jax.tree_util.tree_map(lambda ax, part: axes.extend([ax] * len(jax.tree_util.tree_leaves(part))),
                           data_axes, data, is_leaf=lambda x: x is None)
    return axes


@partial(jax.jit, static_argnames=_LOOP_STATIC + ("data_axes", "member_batch"))
def _train_ensemble_loop(loss_fn, record_fn, schedule, params, hyper, data, *, data_axes,
                         member_batch, **loop):
    def member(p, d):
        loss = loss_fn if d is None else (lambda q: loss_fn(q, d))
        record = record_fn if d is None else (lambda q: record_fn(q, d))
        return _optimize(lambda q, t: jax.grad(loss)(q), record, schedule, p, hyper, **loop)
    if member_batch is None:
        return jax.vmap(member, in_axes=(0, data_axes))(params, data)
    # lax.map over batches of members: the split leaves of data travel with the members (their
    # ensemble axis moved to the front), the shared ones are closed over
    leaves, treedef = jax.tree_util.tree_flatten(data)
    axes = _leaf_axes(data_axes, data)
    split = [jnp.moveaxis(a, ax, 0) for a, ax in zip(leaves, axes) if ax is not None]

    def one(args):
        p, own = args
        own = iter(own)
        d = treedef.unflatten([a if ax is None else next(own) for a, ax in zip(leaves, axes)])
        return member(p, d)
    return jax.lax.map(one, (params, split), batch_size=member_batch)


def train(loss_fn: Callable, params, *, n_steps: int, step_size, optimizer: str = "gd",
          data=None, batch_size: int | None = None, key=None, record_fn: Callable | None = None,
          record_every: int = 1, average: bool = False, record_average: bool = False,
          momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8) -> TrainResult:
    """Minimize ``loss_fn`` from ``params`` with one jitted ``lax.scan``.

    Full batch (``data=None``): ``loss_fn(params)``; the update is
    ``θ_{t+1} = θ_t − η_t ∇L(θ_t)`` for ``optimizer="gd"``.

    Minibatch SGD (``data`` given as an array or tuple of arrays with a common leading axis n):
    ``loss_fn(params, batch)``; each step draws ``batch_size`` indices uniformly with
    replacement using ``key``, so the gradient is unbiased for the full-data loss.

    ``step_size`` is a positive float or a traceable schedule ``t ↦ η_t`` (``t`` = 0, 1, ...),
    e.g. the Robbins–Monro choice ``lambda t: c / (t + t0)``.
    ``optimizer="momentum"`` uses heavy-ball ``m ← μ m + g; θ ← θ − η m``; ``"adam"`` the usual
    bias-corrected Adam with ``betas`` and ``eps``.

    ``record_fn(params)`` (default: the full-batch loss, only available without ``data``) is
    evaluated every ``record_every`` steps, and ``n_steps`` must be a multiple of it.

    ``average=True`` also returns the Polyak–Ruppert average of the iterates
    ``θ_1, ..., θ_T`` (those after each update). With ``record_average=True`` as well, the
    history becomes the pair ``(record_fn(θ_t), record_fn(θ̄_t))`` — the metric at the
    current iterate and at the running average ``θ̄_t = (1/t) Σ_{s=1}^t θ_s``.

    Compilation: the loop is jitted once at module level. A float ``step_size``, ``momentum``,
    ``betas``, ``eps``, ``params``, ``data`` and ``key`` are traced, so a second call with the same
    shapes, dtypes, functions and static settings (``optimizer``, ``n_steps``, ``record_every``,
    ``batch_size``, ``average``, ``record_average``) reuses the compiled loop. Functions
    (``loss_fn``, ``record_fn``, a schedule) are compared by identity: define them once, outside
    the loop that calls ``train`` — a new ``lambda`` or ``functools.partial`` per call compiles
    anew. To vary data bound into a function without recompiling, pass a
    :class:`jax.tree_util.Partial` (its bound arguments are traced), e.g.
    ``Partial(loss, X, y)`` for ``loss(X, y, params)``.
    """
    n_steps, record_every = _check_loop(n_steps, record_every, optimizer, average, record_average)
    schedule = _schedule(step_size)
    hyper = _hyper(momentum, betas, eps)
    if data is None:
        if batch_size is not None or key is not None:
            raise ValueError("batch_size and key are only used with data (minibatch SGD)")
        record_fn = record_fn or loss_fn
    else:
        data = tuple(data) if isinstance(data, (tuple, list)) else data
        leaves = jax.tree_util.tree_leaves(data)
        n = leaves[0].shape[0]
        if any(a.shape[0] != n for a in leaves):
            raise ValueError("all arrays in data must share their leading (sample) axis")
        batch_size = v.integer(batch_size, "batch_size", minimum=1)
        if key is None:
            raise ValueError("key is required with data (it draws the minibatches)")
        key = v.key(key)
        if record_fn is None:
            raise ValueError("record_fn is required with data (what should be recorded?)")
    return _train_loop(_as_partial(loss_fn), _as_partial(record_fn), schedule, params, hyper,
                       data, key, batch_size=batch_size, optimizer=optimizer, n_steps=n_steps,
                       record_every=record_every, average=average, record_average=record_average)


def train_ensemble(loss_fn: Callable, params, *, n_steps: int, step_size, optimizer: str = "gd",
                   data=None, data_axes=0, record_fn: Callable | None = None,
                   record_every: int = 1, average: bool = False, record_average: bool = False,
                   momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
                   eps: float = 1e-8, member_batch: int | None = None) -> TrainResult:
    """Full-batch :func:`train` of R independent members at once: ``jax.vmap`` over the leading
    (ensemble) axis R of every leaf of ``params``, in one jitted loop. With ``member_batch=B``
    the members are instead trained ``B`` at a time, one batch after the other
    (``jax.lax.map(..., batch_size=B)``): the same iterations, but only ``B`` members'
    activations are live at once, which on a CPU keeps them in cache for wide networks (e.g.
    ``B·width·n_samples`` of a few hundred thousand floats).

    Member r minimizes ``loss_fn(θ_r)``, or ``loss_fn(θ_r, data_r)`` when ``data`` is given, by
    exactly the iterations of :func:`train` (same ``optimizer``, ``step_size``, ``momentum``,
    ``betas``, ``eps``, ``average``), and records ``record_fn(θ_r)`` / ``record_fn(θ_r, data_r)``
    (default: the loss) every ``record_every`` steps. ``data`` is any pytree; ``data_axes`` says
    how it is split among the members, as ``in_axes`` of ``jax.vmap``: ``0`` (default) gives
    member r the slice ``data[r]`` of every leaf, ``None`` shares all of it, and a tuple matching
    a tuple ``data`` mixes both, e.g. ``data=(X, Y), data_axes=(None, 1)``: shared inputs,
    member r fits column r of ``Y``. Per-member data may carry what a record needs, such as the
    member's own initialization.

    Members of several widths: stack equal shapes (one call per width), or pad to the largest
    width and pass per-member masks in ``data``.
    :func:`init_ensemble` draws members that equal :func:`init_mlp` with keys
    ``fold_in(key, r)``. Returns :class:`TrainResult` with the leading axis R on every field.
    Compiles once per shapes, functions (by identity, as in :func:`train`) and static settings.
    """
    n_steps, record_every = _check_loop(n_steps, record_every, optimizer, average, record_average)
    schedule = _schedule(step_size)
    hyper = _hyper(momentum, betas, eps)
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable, got {loss_fn!r}")
    if record_fn is not None and not callable(record_fn):
        raise ValueError(f"record_fn must be callable, got {record_fn!r}")
    if member_batch is not None:
        member_batch = v.integer(member_batch, "member_batch", minimum=1)
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params must contain at least one array")
    R = jnp.shape(leaves[0])[0] if jnp.ndim(leaves[0]) else None
    if R is None or any(jnp.ndim(a) == 0 or jnp.shape(a)[0] != R for a in leaves):
        raise ValueError("every leaf of params must have the same leading (ensemble) axis")
    if isinstance(data, list):
        data = tuple(data)
    if isinstance(data_axes, list):
        data_axes = tuple(data_axes)
    if data is not None:
        pairs = []                                  # (axis, the part of data split along it)
        try:
            jax.tree_util.tree_map(lambda ax, part: pairs.append((ax, part)), data_axes, data,
                                   is_leaf=lambda x: x is None)
        except (ValueError, TypeError) as err:
            raise ValueError(f"data_axes must be 0, None or a tuple matching data, "
                             f"got {data_axes!r}") from err
        for ax, part in pairs:
            if ax is not None and any(jnp.ndim(a) <= ax or jnp.shape(a)[ax] != R
                                      for a in jax.tree_util.tree_leaves(part)):
                raise ValueError(f"data: every leaf split along its data_axes entry {ax} must "
                                 f"have the ensemble size R = {R} there")
    return _train_ensemble_loop(_as_partial(loss_fn), _as_partial(record_fn or loss_fn), schedule,
                                params, hyper, data, data_axes=data_axes,
                                member_batch=member_batch, optimizer=optimizer,
                                n_steps=n_steps, record_every=record_every, average=average,
                                record_average=record_average)
