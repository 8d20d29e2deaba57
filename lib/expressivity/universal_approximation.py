"""Two-layer networks that approximate a function of one variable: explicit constructions and
a batched fitting loop.

Constructions
-------------
Both return ``lib.nets`` parameters ``[(W_0, b_0), (W_1, b_1)]`` of one hidden layer, evaluated as
``apply_mlp(params, x, activation=..., parameterization="standard", b_std=1.0)``, i.e.
``f(x) = σ(x W_0 + b_0) W_1 + b_1`` for ``x`` of shape ``(n, 1)``.

``relu_interpolant(knots, values)``  the piecewise-linear interpolant through
    ``(t_0, v_0), ..., (t_M, v_M)`` as a ReLU network of width M:

        f(x) = v_0 + Σ_{k=0}^{M-1} c_k relu(x − t_k),   c_0 = s_0,  c_k = s_k − s_{k−1},

    with ``s_k = (v_{k+1} − v_k)/(t_{k+1} − t_k)`` the slope on the k-th interval. It equals the
    interpolant on ``[t_0, t_M]``, is constant (``v_0``) left of ``t_0`` and continues with the
    last slope right of ``t_M``.
``sigmoid_staircase(knots, values, sharpness=a)``  the staircase behind Cybenko's theorem,

        f(x) = v_0 + Σ_{k=1}^{M} (v_k − v_{k−1}) σ(a (x − c_k)),   c_k = (t_{k−1} + t_k)/2,

    of width M. As ``a → ∞`` it tends to the step function equal to ``v_k`` on ``[c_k, c_{k+1})``
    (the value at the nearest knot). ``staircase_error_bound`` bounds its sup error through the
    modulus of continuity of the target.

Fitting
-------
``fit_two_layer(key, x, Y, width=M, ...)`` trains one two-layer network per column of ``Y`` on
the squared loss, all at once with :func:`lib.nets.train_ensemble` (full batch, Adam by default):
network i follows exactly the iterates of its own :func:`lib.nets.train` run.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import nets

__all__ = ["relu_interpolant", "sigmoid_staircase", "staircase_tail", "staircase_error_bound",
           "FitResult", "apply_stacked", "fit_two_layer"]


def _knots_values(knots, values):
    t = v.float_array(knots, "knots", ndim=1)
    y = v.float_array(values, "values", ndim=1)
    if t.shape[0] < 2:
        raise ValueError(f"knots needs at least 2 points (one interval), got {t.shape[0]}")
    if y.shape != t.shape:
        raise ValueError(f"values must have the same shape as knots {t.shape}, got {y.shape}")
    if not bool(jnp.all(jnp.diff(t) > 0)):
        raise ValueError("knots must be strictly increasing")
    dtype = jnp.result_type(t.dtype, y.dtype)
    return t.astype(dtype), y.astype(dtype)


def relu_interpolant(knots, values):
    """ReLU network of width ``len(knots) − 1`` equal to the piecewise-linear interpolant of
    ``(knots, values)`` on ``[knots[0], knots[-1]]`` (see the module docstring).

    Evaluate with ``nets.apply_mlp(params, x, parameterization="standard", b_std=1.0)``.
    """
    t, y = _knots_values(knots, values)
    slopes = jnp.diff(y) / jnp.diff(t)
    coef = jnp.concatenate([slopes[:1], jnp.diff(slopes)])
    m = slopes.shape[0]
    hidden = (jnp.ones((1, m), dtype=t.dtype), -t[:-1])
    return [hidden, (coef[:, None], y[:1])]


def sigmoid_staircase(knots, values, *, sharpness):
    """Sigmoid network of width ``len(knots) − 1``: a smoothed step function through
    ``(knots, values)`` with steps of slope-scale ``sharpness`` at the midpoints between knots.

    Evaluate with ``nets.apply_mlp(params, x, activation="sigmoid", parameterization="standard",
    b_std=1.0)``.
    """
    t, y = _knots_values(knots, values)
    a = v.scalar(sharpness, "sharpness", positive=True)
    mid = (t[:-1] + t[1:]) / 2
    m = mid.shape[0]
    hidden = (jnp.full((1, m), a, dtype=t.dtype), -a * mid)
    return [hidden, (jnp.diff(y)[:, None], y[:1])]


def staircase_tail(c, *, n_terms: int = 64) -> float:
    """``S(c) = 1/2 + Σ_{j≥1} [σ(−c j) + σ(−c (j − 1/2))]``, truncated after ``n_terms`` terms.

    For knots of spacing h and sharpness a, ``S(a h)`` bounds ``Σ_k σ(−a |x − c_k|)`` uniformly in
    x (the steps' total deviation from exact steps, in units of the largest jump). The truncation
    error is below ``2 e^{−c (n_terms − 1/2)}/(1 − e^{−c})``.
    """
    c = v.scalar(c, "c", positive=True)
    n_terms = v.integer(n_terms, "n_terms", minimum=1)
    j = np.arange(1, n_terms + 1, dtype=float)
    sig = lambda z: 0.5 * (1.0 + np.tanh(z / 2))  # noqa: E731  (overflow-free logistic)
    return float(0.5 + np.sum(sig(-c * j) + sig(-c * (j - 0.5))))


def staircase_error_bound(omega_half, omega_full, *, sharpness, spacing) -> float:
    """Sup-error bound ``ω(h/2) + ω(h) · S(a h)`` for :func:`sigmoid_staircase` on a uniform grid
    of ``spacing`` h with ``sharpness`` a, for a target with modulus of continuity ω
    (``omega_half = ω(h/2)``, ``omega_full = ω(h)``), valid on ``[knots[0], knots[-1]]``."""
    wh = v.scalar(omega_half, "omega_half", nonnegative=True)
    wf = v.scalar(omega_full, "omega_full", nonnegative=True)
    a = v.scalar(sharpness, "sharpness", positive=True)
    h = v.scalar(spacing, "spacing", positive=True)
    return wh + wf * staircase_tail(a * h)


class FitResult(NamedTuple):
    """What :func:`fit_two_layer` returns.

    ``params``: ``[(W_0, b_0), (W_1, b_1)]`` with a leading axis of size k (one network per
    target column); ``history``: the mean squared training error of each network, shape
    ``(n_records, k)``.
    """
    params: list
    history: jax.Array


def apply_stacked(params, x, *, activation: str = "relu", parameterization: str = "standard",
                  w_std: float = 1.0, b_std: float = 1.0) -> jax.Array:
    """Evaluate k stacked scalar networks (leading axis of every leaf) on ``x`` of shape
    ``(n, d)``; returns ``(n, k)``."""
    def one(p):
        return nets.apply_mlp(p, x, activation=activation, parameterization=parameterization,
                              w_std=w_std, b_std=b_std)[:, 0]
    return jax.vmap(one, out_axes=1)(params)


def fit_two_layer(key, x, Y, *, width: int, n_steps: int, step_size, optimizer: str = "adam",
                  activation: str = "relu", parameterization: str = "standard",
                  w_std: float = 1.0, b_std: float = 1.0, record_every: int | None = None
                  ) -> FitResult:
    """Fit one two-layer network of ``width`` hidden units to each column of ``Y``.

    ``x``: inputs ``(n, d)``; ``Y``: targets ``(n, k)`` (or ``(n,)`` for k = 1). Network i starts
    from ``nets.init_mlp(fold_in(key, i), [d, width, 1], ...)`` and minimizes
    ``mean_j (f_i(x_j) − Y_{j,i})²`` by full-batch ``nets.train`` with ``optimizer`` and
    ``step_size`` (a float or a schedule ``t ↦ η_t``). Returns :class:`FitResult`.
    """
    key = v.key(key)
    x = v.float_array(x, "x", ndim=2)
    Y = v.float_array(Y, "Y", ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape[0] != x.shape[0]:
        raise ValueError(f"x and Y must have the same number of rows, got {x.shape[0]} and "
                         f"{Y.shape[0]}")
    width = v.integer(width, "width", minimum=1)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = n_steps if record_every is None else record_every
    dtype = jnp.result_type(x.dtype, Y.dtype)
    params = nets.init_ensemble(key, [x.shape[1], width, 1], Y.shape[1],
                                parameterization=parameterization, w_std=w_std, b_std=b_std)
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype), params)
    res = nets.train_ensemble(_squared_error(activation, parameterization), params,
                              data=(x.astype(dtype), Y.astype(dtype), w_std, b_std),
                              data_axes=(None, 1, None, None), n_steps=n_steps,
                              step_size=step_size, optimizer=optimizer, record_every=record_every)
    return FitResult(res.params, res.history.T)


@lru_cache(maxsize=None)
def _squared_error(activation: str, parameterization: str):
    """``(params, (x, y, w_std, b_std)) ↦ mean_j (f(x_j) − y_j)²`` for one network; one function
    object per configuration, so that repeated fits reuse the compiled training loop."""
    def mse(params, data):
        x, y, w_std, b_std = data
        f = nets.apply_mlp(params, x, activation=activation, parameterization=parameterization,
                           w_std=w_std, b_std=b_std)[:, 0]
        return jnp.mean((f - y) ** 2)
    return mse
