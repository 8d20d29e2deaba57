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
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from . import _validate as v
from .activations import ACTIVATIONS, activation_fn  # noqa: F401  (nets.activation_fn still works)

__all__ = ["PARAMETERIZATIONS", "OPTIMIZERS", "init_mlp", "layer_multiplier", "apply_mlp",
           "TrainResult", "train"]

PARAMETERIZATIONS = ("standard", "ntk", "mean_field")
OPTIMIZERS = ("gd", "momentum", "adam")


def init_mlp(key, widths, *, parameterization: str = "ntk", w_std: float = 1.0,
             b_std: float = 0.0):
    """Draw ``[(W_0, b_0), ..., (W_L, b_L)]`` with ``W_l`` of shape ``(n_l, n_{l+1})``.

    ``standard`` draws ``W ~ N(0, w_std²/n_l)``; ``ntk`` and ``mean_field`` draw ``W ~ N(0, 1)``
    and put the scale in the forward pass (see the module docstring). Biases are ``N(0, 1)``
    and enter multiplied by ``b_std`` (so ``b_std=0`` means no bias).
    """
    key = v.key(key)
    v.choice(parameterization, "parameterization", PARAMETERIZATIONS)
    if len(widths) < 2:
        raise ValueError(f"widths must list at least input and output sizes, got {widths!r}")
    widths = [v.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths)]
    v.scalar(w_std, "w_std", positive=True)
    v.scalar(b_std, "b_std", nonnegative=True)
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(widths) - 1), zip(widths[:-1], widths[1:])):
        kw, kb = jax.random.split(k)
        W = jax.random.normal(kw, (n_in, n_out))
        if parameterization == "standard":
            W = W * (w_std / jnp.sqrt(n_in))
        params.append((W, jax.random.normal(kb, (n_out,))))
    return params


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
    """What :func:`train` returns.

    ``params``: final parameters; ``history``: ``record_fn(params)`` after every
    ``record_every`` steps, shape ``(n_steps // record_every, ...)`` (a pair, current iterate and
    running average, with ``record_average=True``); ``averaged``: the
    Polyak–Ruppert average ``(1/T) Σ_t θ_t`` of the iterates (``None`` unless ``average=True``).
    """
    params: Any
    history: Any
    averaged: Any


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
    """
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = v.integer(record_every, "record_every", minimum=1)
    if n_steps % record_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of record_every ({record_every})")
    v.choice(optimizer, "optimizer", OPTIMIZERS)
    schedule = step_size if callable(step_size) else None
    if schedule is None:
        eta_const = v.scalar(step_size, "step_size", positive=True)
        schedule = lambda t: eta_const  # noqa: E731
    v.scalar(momentum, "momentum", nonnegative=True, upper=1.0)
    if record_average and not average:
        raise ValueError("record_average=True needs average=True (there is no average to record)")

    if data is None:
        if batch_size is not None or key is not None:
            raise ValueError("batch_size and key are only used with data (minibatch SGD)")
        grad_fn = lambda p, t, k: jax.grad(loss_fn)(p)  # noqa: E731
        record_fn = record_fn or loss_fn
    else:
        leaves = data if isinstance(data, (tuple, list)) else (data,)
        n = leaves[0].shape[0]
        if any(a.shape[0] != n for a in leaves):
            raise ValueError("all arrays in data must share their leading (sample) axis")
        batch_size = v.integer(batch_size, "batch_size", minimum=1)
        if key is None:
            raise ValueError("key is required with data (it draws the minibatches)")
        key = v.key(key)
        if record_fn is None:
            raise ValueError("record_fn is required with data (what should be recorded?)")

        def grad_fn(p, t, k):
            idx = jax.random.randint(jax.random.fold_in(k, t), (batch_size,), 0, n)
            batch = jax.tree_util.tree_map(lambda a: a[idx], data)
            return jax.grad(loss_fn)(p, batch)

    tree_map = jax.tree_util.tree_map
    zeros = tree_map(jnp.zeros_like, params)
    b1, b2 = betas

    def step(carry, t):
        p, m, s, avg = carry
        g = grad_fn(p, t, key)
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
        return (p, m, s, avg), None

    def chunk(carry, c):
        ts = c * record_every + jnp.arange(record_every)
        carry, _ = jax.lax.scan(step, carry, ts)
        if record_average:
            return carry, (record_fn(carry[0]), record_fn(carry[3]))
        return carry, record_fn(carry[0])

    @jax.jit
    def run(p0):
        carry = (p0, zeros, zeros, p0)
        return jax.lax.scan(chunk, carry, jnp.arange(n_steps // record_every))

    (p, _, _, avg), history = run(params)
    return TrainResult(p, history, avg if average else None)
