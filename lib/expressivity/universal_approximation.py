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

Integral representation (ridgelet transform), d = 1
---------------------------------------------------
``gaussian_derivative(t, order=k)``  ψ_k = φ^{(k)}, the k-th derivative of the standard normal
    density, with Fourier transform ψ̂_k(ξ) = (iξ)^k e^{−ξ²/2} (convention f̂(ξ) = ∫ f e^{−iξt} dt).
``relu_admissibility_constant(order=k, d)``  K_{ψ,η} = (2π)^{d−1} ∫ conj(ψ̂(ξ)) η̂(ξ) |ξ|^{−d} dξ for
    ψ = φ^{(k)} and η = ReLU (η̂(ξ) = −1/ξ² for ξ ≠ 0), in closed form.
``ridgelet_quadrature(...)``  nodes and weights in (a, b): Gauss–Legendre in the scale a on
    [−A, A], a uniform trapezoid grid in the offset b for each a.
``ridgelet_transform(y, f_y, a, b, order=k)``  T(a, b) = |a| ∫ f(y) ψ_k(a y − b) dy (trapezoid rule).
``dual_ridgelet(x, a, b, T, ...)``  R†T(x) = ∫∫ T(a, b) relu(a x − b) |a|^{−1} db da by the given
    quadrature: a ReLU network with one unit per node (a_i, b_ij).
``dual_ridgelet_kink_bound(...)``  the trapezoid error bound of the b-sum caused by the ReLU kink.

Fitting
-------
``fit_two_layer(key, x, Y, width=M, ...)`` trains one two-layer network per column of ``Y`` on
the squared loss, all at once with :func:`lib.nets.train_ensemble` (full batch, Adam by default):
network i follows exactly the iterates of its own :func:`lib.nets.train` run.
"""
from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import nets

__all__ = ["relu_interpolant", "sigmoid_staircase", "staircase_tail", "staircase_error_bound",
           "staircase_slope_error", "gaussian_derivative", "relu_admissibility_constant", "RidgeletGrid", "ridgelet_quadrature",
           "ridgelet_transform", "dual_ridgelet", "dual_ridgelet_kink_bound",
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


def gaussian_derivative(t, *, order: int) -> jax.Array:
    """``ψ_k(t) = φ^{(k)}(t) = (−1)^k He_k(t) φ(t)``, ``φ(t) = e^{−t²/2}/√(2π)``, with ``He_k`` the
    probabilists' Hermite polynomials (``He_0 = 1``, ``He_1 = t``, ``He_{j+1} = t He_j − j He_{j−1}``).

    Its Fourier transform is ``ψ̂_k(ξ) = (iξ)^k e^{−ξ²/2}``; for ``k ≥ 1`` it has ``k`` vanishing
    moments, ``∫ t^j ψ_k(t) dt = 0`` for ``j < k``.
    """
    t = v.float_array(t, "t")
    order = v.integer(order, "order", minimum=0)
    he_prev, he = jnp.zeros_like(t), jnp.ones_like(t)
    for j in range(order):
        he_prev, he = he, t * he - j * he_prev
    return (-1.0) ** order * he * jnp.exp(-t ** 2 / 2) / math.sqrt(2 * math.pi)


def relu_admissibility_constant(*, order: int, d: int = 1) -> float:
    """Admissibility constant of the pair ``(ψ, η) = (φ^{(k)}, ReLU)`` in dimension ``d``,

        K = (2π)^{d−1} ∫_{ℝ∖0} conj(ψ̂(ξ)) η̂(ξ) |ξ|^{−d} dξ,   ψ̂(ξ) = (iξ)^k e^{−ξ²/2},  η̂(ξ) = −1/ξ²,

    in closed form: ``K = −(2π)^{d−1} (−1)^{k/2} 2^{(k−d−1)/2} Γ((k−d−1)/2)`` for even ``k``, and
    ``K = 0`` for odd ``k`` (odd integrand: the pair is not admissible). The integral converges at
    ξ = 0 iff ``k > d + 1``; smaller ``k`` raise ``ValueError``. Example: ``k = 4, d = 1`` gives −2.
    """
    order = v.integer(order, "order", minimum=0)
    d = v.integer(d, "d", minimum=1)
    if order <= d + 1:
        raise ValueError(f"order must be > d + 1 = {d + 1} for the integral to converge at 0, "
                         f"got {order}")
    if order % 2:
        return 0.0
    p = (order - d - 1) / 2
    return -(2 * math.pi) ** (d - 1) * (-1) ** (order // 2) * 2 ** p * math.gamma(p)


class RidgeletGrid(NamedTuple):
    """Quadrature nodes of :func:`ridgelet_quadrature`: scales ``a`` (n_a,) with weights
    ``a_weights``; offsets ``b`` (n_a, n_b) with trapezoid weights ``b_weights`` (n_a, n_b) and
    spacing ``b_step`` (n_a,)."""
    a: jax.Array
    a_weights: jax.Array
    b: jax.Array
    b_weights: jax.Array
    b_step: jax.Array


def ridgelet_quadrature(*, scale_cutoff, n_scales: int, n_offsets: int, support, margin: float = 9.0
                        ) -> RidgeletGrid:
    """Nodes for ``∫_{−A}^{A} da ∫ db``: ``n_scales`` Gauss–Legendre nodes ``a_i`` on ``[−A, A]``
    (``A = scale_cutoff``; an even count keeps a = 0 out), and for each ``a_i`` a uniform grid of
    ``n_offsets`` points ``b`` from ``min(a_i lo, a_i hi) − margin`` to
    ``max(a_i lo, a_i hi) + margin`` (``support = (lo, hi)``), with trapezoid weights. For f
    supported in ``support`` and ψ negligible outside ``[−margin, margin]``, T(a_i, b) vanishes
    outside this b-range.
    """
    A = v.scalar(scale_cutoff, "scale_cutoff", positive=True)
    n_a = v.integer(n_scales, "n_scales", minimum=2)
    if n_a % 2:
        raise ValueError(f"n_scales must be even (no node at a = 0), got {n_a}")
    n_b = v.integer(n_offsets, "n_offsets", minimum=2)
    try:
        lo, hi = (float(s) for s in support)
    except (TypeError, ValueError) as err:
        raise ValueError(f"support must be a pair (lo, hi), got {support!r}") from err
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"support must satisfy lo < hi, got {support!r}")
    margin = v.scalar(margin, "margin", positive=True)
    nodes, weights = np.polynomial.legendre.leggauss(n_a)
    a = jnp.asarray(A * nodes)
    wa = jnp.asarray(A * weights)
    start = jnp.minimum(a * lo, a * hi) - margin
    stop = jnp.maximum(a * lo, a * hi) + margin
    step = (stop - start) / (n_b - 1)
    b = start[:, None] + step[:, None] * jnp.arange(n_b)
    wb = jnp.broadcast_to(step[:, None], b.shape).at[:, [0, -1]].multiply(0.5)
    return RidgeletGrid(a, wa, b, wb, step)


def ridgelet_transform(y, f_y, a, b, *, order: int = 4) -> jax.Array:
    """Ridgelet transform ``T(a_i, b_ij) = |a_i| ∫ f(y) ψ_k(a_i y − b_ij) dy`` with ``ψ_k = φ^{(k)}``
    (:func:`gaussian_derivative`; real, so no conjugate), by the trapezoid rule on the increasing grid
    ``y`` (n_y,) with samples ``f_y = f(y)``; f must be negligible outside the grid.

    ``a``: (n_a,); ``b``: (n_a, n_b), one row of offsets per scale (or (n_b,), shared). Returns
    (n_a, n_b). Computed one scale at a time (``lax.map``), memory O(n_b · n_y).
    """
    y = v.float_array(y, "y", ndim=1)
    f_y = v.float_array(f_y, "f_y", ndim=1)
    v.same_dim(y, f_y, "y", "f_y")
    if y.shape[0] < 2 or not bool(jnp.all(jnp.diff(y) > 0)):
        raise ValueError("y must be strictly increasing with at least 2 points")
    a = v.float_array(a, "a", ndim=1)
    b = v.float_array(b, "b", ndim=(1, 2))
    b = jnp.broadcast_to(b, (a.shape[0], b.shape[-1])) if b.ndim == 1 else b
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"b must have one row per scale a ({a.shape[0]}), got shape {b.shape}")
    order = v.integer(order, "order", minimum=0)
    dtype = jnp.result_type(y.dtype, f_y.dtype, a.dtype, b.dtype)
    dy = jnp.diff(y)
    w = jnp.concatenate([dy[:1], dy[1:] + dy[:-1], dy[-1:]]) / 2
    return _ridgelet_transform(y.astype(dtype), (w * f_y).astype(dtype), a.astype(dtype),
                               b.astype(dtype), order)


@partial(jax.jit, static_argnums=4)
def _ridgelet_transform(y, wf, a, b, order):
    def one(ab):
        ai, bi = ab
        psi = gaussian_derivative(ai * y[None, :] - bi[:, None], order=order)
        return jnp.abs(ai) * (psi @ wf)
    return jax.lax.map(one, (a, b))


def dual_ridgelet(x, grid: RidgeletGrid, T) -> jax.Array:
    """Dual ridgelet transform with η = ReLU by the quadrature ``grid``
    (:func:`ridgelet_quadrature`):

        R†T(x) ≈ Σ_i Σ_j wa_i wb_ij T_ij relu(a_i x − b_ij) / |a_i|,

    a two-layer ReLU network of width n_a · n_b with inner weights a_i, biases −b_ij and outer
    weights wa_i wb_ij T_ij / |a_i|. ``x``: (n_x,) points; ``T``: (n_a, n_b). Returns (n_x,).
    """
    x = v.float_array(x, "x", ndim=1)
    T = v.float_array(T, "T", ndim=2)
    if T.shape != grid.b.shape:
        raise ValueError(f"T must have the shape of grid.b {grid.b.shape}, got {T.shape}")
    dtype = jnp.result_type(x.dtype, T.dtype, grid.a.dtype)
    coef = (grid.a_weights[:, None] * grid.b_weights * T / jnp.abs(grid.a)[:, None]).astype(dtype)
    return _dual_ridgelet(x.astype(dtype), grid.a.astype(dtype), grid.b.astype(dtype), coef)


@jax.jit
def _dual_ridgelet(x, a, b, coef):
    def step(acc, abc):
        ai, bi, ci = abc
        return acc + jax.nn.relu(ai * x[:, None] - bi[None, :]) @ ci, None
    return jax.lax.scan(step, jnp.zeros_like(x), (a, b, coef))[0]


def dual_ridgelet_kink_bound(x, grid: RidgeletGrid, y, f_y, *, order: int = 4) -> jax.Array:
    """Bound on the error of the b-sum in :func:`dual_ridgelet` applied to ``T = R_ψ f``, caused by the
    kink of relu(a x − b) at b = a x:

        Σ_i wa_i (Δb_i² / 8) |τ(a_i, a_i x)|,   τ(a, b) = T(a, b)/|a| = ∫ f(y) ψ(a y − b) dy.

    The trapezoid rule with step Δ on a function whose derivative jumps by J at a point θΔ inside
    a cell errs by J θ(1−θ) Δ²/2 ≤ J Δ²/8 at leading order; here J = τ(a, a x). ``y``, ``f_y`` as in
    :func:`ridgelet_transform`. Returns (n_x,).
    """
    x = v.float_array(x, "x", ndim=1)
    T_kink = ridgelet_transform(y, f_y, grid.a, grid.a[:, None] * x[None, :], order=order)
    tau = jnp.abs(T_kink) / jnp.abs(grid.a)[:, None]
    return jnp.sum((grid.a_weights * grid.b_step ** 2 / 8)[:, None] * tau, axis=0)


def staircase_slope_error(c, *, n_terms: int = 64) -> tuple[float, float]:
    """Sup error of the sigmoid staircase of the line ``x ↦ x`` (knots at the integers, steps of
    sharpness c at the half-integers), and the curvature of the error at its maximum:

        e_c(u) = u − Σ_{j≥0} [σ(c(u − j − ½)) − σ(−c(u + j + ½))],   E(c) = max_{u∈[−½,½]} |e_c(u)|.

    On a grid of spacing h with sharpness a, a target of local slope s has staircase error
    ``|s| h E(a h)`` at leading order. Returns ``(E(c), |e_c''(u*)|)`` at the maximizer u*
    (sums truncated after ``n_terms`` terms; e_c is odd, so u* ∈ [0, ½]).
    """
    from scipy.optimize import minimize_scalar
    c = v.scalar(c, "c", positive=True)
    n_terms = v.integer(n_terms, "n_terms", minimum=1)
    j = np.arange(n_terms, dtype=float)
    sig = lambda z: 0.5 * (1.0 + np.tanh(z / 2))  # noqa: E731  (overflow-free logistic)

    def e(u):
        return u - np.sum(sig(c * (u - j - 0.5)) - sig(-c * (u + j + 0.5)))

    res = minimize_scalar(lambda u: -e(u), bounds=(0.0, 0.5), method="bounded",
                          options={"xatol": 1e-12})
    u, du = float(res.x), 1e-4
    curvature = abs(e(u + du) - 2 * e(u) + e(u - du)) / du ** 2
    return float(e(u)), float(curvature)


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
