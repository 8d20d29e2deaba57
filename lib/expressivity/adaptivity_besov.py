"""Nonparametric regression estimators compared side by side: tuned kernel ridge, trained nets, k-NN.

Kernels
-------
``KERNELS`` names the kernels of the core used here: ``"gaussian"`` is
:func:`lib.kernels.gaussian_kernel`, ``exp(−‖x − x'‖² / (2ℓ²))``, and ``"laplace"`` is
:func:`lib.kernels.laplace_kernel`, ``exp(−‖x − x'‖ / ℓ)`` (in one dimension its RKHS is the
Sobolev space ``H¹``), with bandwidth ℓ.

Kernel ridge over a grid
------------------------
``tuned_kernel_ridge`` fits ``f̂_λ(x) = k(x, X)(K + nλI)⁻¹y`` — the normalization of
:func:`lib.ridgeless.kernel_ridge` — for every bandwidth ℓ in a grid and every λ in a grid, and
keeps the pair with the smallest mean squared error on a validation set. One eigendecomposition
per bandwidth serves all λ at once (:func:`lib.ridgeless.kernel_ridge` with a vector of
ridges). For the Laplace kernel in one dimension an exact
O(n) algorithm is used instead (:func:`laplace_kernel_ridge_1d`: Kalman smoothing of the
Ornstein–Uhlenbeck process whose covariance is the kernel), and ``laplace_ridge_step_error_1d``
integrates the error of every (bandwidth, λ) against a step function exactly between the data
points, for many data sets and sample sizes in one compiled call. When the validation targets are the noiseless
regression function, this is the *oracle* linear smoother of the family: no tuning rule based on
data can do better, so it is the right opponent for the claim "every linear estimator is slow".

Trained networks with early stopping
------------------------------------
``fit_relu_nets`` trains k ReLU MLPs (``lib.nets``, standard parameterization with biases),
net i on data set i, on the squared loss (plus an optional weight decay) by full-batch Adam, all
in one :func:`lib.nets.train_ensemble` call (every net follows exactly the iterates of its own
:func:`lib.nets.train` run).
Every ``record_every`` steps it records each net's validation error and its parameters; each net
is then *early-stopped* at the checkpoint with the smallest validation error, and only that
checkpoint (and the last) is evaluated at the query points. Data sets of several sizes can share
one compilation: pad them to a common size and pass 0/1 masks of the real points.
``step_quadrature`` gives a Gauss rule on cells aligned with the jumps of a step function, exact
for the squared error of a piecewise-linear fit up to the cells that contain its kinks. The first layer is initialized through the data (:func:`init_through_data`), so that the
initial kinks lie where the inputs are.

Exact least squares over step functions
---------------------------------------
``least_squares_steps`` is the least-squares estimator over the functions with at most K jumps
on the line, computed exactly by dynamic programming over the sorted points (O(K n²)), and
``step_fit_l2_error`` integrates its squared error against a step function exactly.

k-nearest-neighbour regression on a curve
-----------------------------------------
``knn_regression`` gives the k-NN averages ``f̂_k(x) = (1/k) Σ_{i ∈ N_k(x)} y_i`` for every
k = 1..k_max at once (one sort per query point). ``closed_curve`` embeds a unit-speed closed curve
(intrinsic dimension 1) in R^d, and ``knn_curve_risk`` is the bias–variance model of the k-NN risk
for inputs uniform on such a curve, the prediction the chapter's manifold experiment checks.

Wavelet coefficients
--------------------
``haar_coefficients`` gives the Haar expansion of a function sampled on a dyadic grid, used to
show that functions with jumps have *sparse* wavelet coefficients (few non-zero per level).
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from .. import _validate as v
from .. import kernels, nets, ridgeless

__all__ = ["KERNELS", "TunedKernelRidge",
           "tuned_kernel_ridge", "laplace_kernel_ridge_1d", "laplace_ridge_step_error_1d",
           "step_quadrature", "StepFit", "least_squares_steps", "step_fit_l2_error", "NetFit",
           "init_through_data",
           "fit_relu_nets", "cosine_schedule", "HaarCoefficients", "haar_coefficients",
           "knn_regression", "closed_curve", "knn_curve_risk"]


KERNELS = {"gaussian": kernels.gaussian_kernel, "laplace": kernels.laplace_kernel}


def _check_jumps(locations, heights):
    """Validated jump ``locations`` in (0, 1) and ``heights`` of the same shape, as arrays."""
    t = v.float_array(locations, "locations", ndim=1)
    h = v.float_array(heights, "heights", ndim=1)
    if t.shape != h.shape:
        raise ValueError(f"heights must have the same shape as locations {t.shape}, got {h.shape}")
    if t.shape[0] and (float(jnp.min(t)) <= 0.0 or float(jnp.max(t)) >= 1.0):
        raise ValueError("locations must lie in (0, 1)")
    return t, h


def _kalman_step(m, P, r, obs, val, noise):
    """One Kalman step of the Ornstein–Uhlenbeck prior ``s' = r s + N(0, 1 − r²)``: predict, then
    update with the observation ``val`` of variance ``noise`` where ``obs`` (else no update).
    Returns the filtered ``(m_f, P_f)``."""
    m_pred, P_pred = r * m, r * r * P + (1.0 - r * r)
    gain = jnp.where(obs, P_pred / (P_pred + noise), 0.0)
    return m_pred + gain * (val - m_pred), (1.0 - gain) * P_pred


def _rts_step(ms_next, m_f, P_f, r_next):
    """One Rauch–Tung–Striebel step: the smoothed mean at a node from the filtered ``(m_f, P_f)``
    there and the smoothed mean ``ms_next`` at the next node (``r_next`` = its correlation)."""
    m_pred_next, P_pred_next = r_next * m_f, r_next * r_next * P_f + (1.0 - r_next * r_next)
    tiny = jnp.finfo(P_f.dtype).tiny
    return m_f + P_f * r_next / jnp.maximum(P_pred_next, tiny) * (ms_next - m_pred_next)


def _kalman_filter(rho, observed, values, noise, shape):
    """Filtered ``(m_f, P_f)`` at every node (``lax.scan`` of :func:`_kalman_step`), starting from
    the prior N(0, 1); ``noise`` has one row per node, ``shape`` is that of the carried state."""
    def forward(carry, inp):
        m_f, P_f = _kalman_step(*carry, *inp)
        return (m_f, P_f), (m_f, P_f)

    zero = jnp.zeros(shape, rho.dtype)
    return jax.lax.scan(forward, (zero, zero + 1.0), (rho, observed, values, noise))[1]


@jax.jit
def _ou_smoother(x, y, x_eval, bandwidth, noise_vars):
    """Kernel ridge with the 1-D Laplace kernel by a Kalman filter / RTS smoother, ``(L, m)``."""
    n = x.shape[0]
    t = jnp.concatenate([x, x_eval])
    observed = jnp.concatenate([jnp.ones(n, bool), jnp.zeros(x_eval.shape[0], bool)])
    values = jnp.concatenate([y, jnp.zeros(x_eval.shape[0], y.dtype)])
    order = jnp.argsort(t, stable=True)
    t, observed, values = t[order], observed[order], values[order]
    # s_{i+1} = ρ_i s_i + N(0, 1 − ρ_i²), the Ornstein–Uhlenbeck process with covariance k;
    # ρ_0 = 0 starts from the prior N(0, 1). Ties (ρ = 1) are harmless.
    rho = jnp.concatenate([jnp.zeros(1, t.dtype), jnp.exp(-jnp.diff(t) / bandwidth)])
    noise = jnp.broadcast_to(noise_vars, (t.shape[0], noise_vars.shape[0]))
    mf, Pf = _kalman_filter(rho[:, None], observed[:, None], values[:, None], noise,
                            noise_vars.shape)                               # (n + m, L)

    def backward(ms_next, inp):
        ms = _rts_step(ms_next, *inp)
        return ms, ms

    _, ms = jax.lax.scan(backward, mf[-1], (mf[:-1], Pf[:-1], rho[1:, None]), reverse=True)
    smoothed = jnp.concatenate([ms, mf[-1:]]).T                             # (L, n + m), sorted
    return smoothed[:, jnp.argsort(order)][:, n:]


def _positive_grid(x, name):
    """``x`` as a non-empty 1-D float array of positive numbers (a grid of λ or bandwidths)."""
    x = v.float_array(x, name, ndim=1)
    if x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of positive numbers")
    v.positive(x, name)
    return x


def laplace_kernel_ridge_1d(x, y, x_eval, *, bandwidth, lams) -> jax.Array:
    """Kernel ridge predictions ``k(x_eval, X)(K + nλI)⁻¹y`` for the 1-D Laplace kernel
    ``exp(−|x − x'|/bandwidth)``, for every λ in ``lams``, in O((n + m)·len(lams)) time.

    The Laplace kernel is the covariance of a stationary Ornstein–Uhlenbeck process, a Markov
    process, so the kernel ridge predictor — the Gaussian-process posterior mean with noise
    variance ``nλ`` — is computed exactly by a Kalman filter and Rauch–Tung–Striebel smoother
    over the sorted points, with no n×n matrix. ``x`` ``(n, 1)``, ``y`` ``(n,)``, ``x_eval``
    ``(m, 1)``, ``lams`` 1-D positive; returns ``(len(lams), m)``. Agrees with
    :func:`lib.ridgeless.kernel_ridge` on :func:`lib.kernels.laplace_kernel` Gram matrices.
    """
    x, y = v.samples(x, y, "x", "y")
    x_eval = v.float_array(x_eval, "x_eval", ndim=2)
    if x.shape[1] != 1 or x_eval.shape[1] != 1:
        raise ValueError(f"x and x_eval must have one column (1-D inputs), got shapes {x.shape} "
                         f"and {x_eval.shape}")
    bandwidth = v.scalar(bandwidth, "bandwidth", positive=True)
    lams = _positive_grid(lams, "lams")
    dtype = jnp.result_type(x.dtype, y.dtype, x_eval.dtype)
    return _ou_smoother(x[:, 0].astype(dtype), y.astype(dtype), x_eval[:, 0].astype(dtype),
                        jnp.asarray(bandwidth, dtype), (x.shape[0] * lams).astype(dtype))


_GAUSS3_NODES, _GAUSS3_WEIGHTS = np.polynomial.legendre.leggauss(3)
_GAUSS3_NODES, _GAUSS3_WEIGHTS = (_GAUSS3_NODES + 1) / 2, _GAUSS3_WEIGHTS / 2   # on [0, 1]


@partial(jax.jit, static_argnames="sizes")
def _ou_step_errors(x, y, locations, heights, bandwidths, lams, sizes):
    """∫₀¹(f̂ − f°)² per (size, bandwidth, λ) for one row of concatenated data sets; see the wrapper."""
    dtype, n_extra, k = x.dtype, locations.shape[0] + 2, len(sizes)
    seg_x = np.repeat(np.arange(k), sizes)
    seg = jnp.asarray(np.concatenate([seg_x, np.repeat(np.arange(k), n_extra)]))
    extra = jnp.tile(jnp.concatenate([jnp.zeros(1, dtype), jnp.ones(1, dtype), locations]), k)
    t = jnp.concatenate([x, extra])
    observed = jnp.concatenate([jnp.ones(x.shape[0], bool), jnp.zeros(extra.shape[0], bool)])
    values = jnp.concatenate([y, jnp.zeros(extra.shape[0], dtype)])
    order = jnp.lexsort((t, seg))                            # by data set, then by position
    t, observed, values, seg = t[order], observed[order], values[order], seg[order]
    same = seg[1:] == seg[:-1]                               # False where a new data set starts
    gaps = jnp.where(same, jnp.diff(t), 0.0)                 # the nodes cut [0, 1] into pieces
    mid = t[:-1] + gaps / 2                                  # f° is constant on each piece
    level = jnp.sum(heights * (mid[:, None] >= locations), axis=1)
    # ρ = 0 at the first node of each data set restarts the filter from the prior N(0, 1)
    rho = jnp.concatenate([jnp.zeros((1, bandwidths.shape[0]), dtype),
                           jnp.where(same[:, None], jnp.exp(-gaps[:, None] / bandwidths), 0.0)])
    rho = rho[:, :, None]                                    # (N, B, 1)
    noise = (jnp.asarray(np.asarray(sizes), dtype)[:, None] * lams)[seg]      # (N, L)
    mf, Pf = _kalman_filter(rho, observed[:, None, None], values[:, None, None], noise,
                            (bandwidths.shape[0], lams.shape[1]))            # (N, B, L)

    # bridge weights sinh((g − a)/ℓ)/sinh(g/ℓ) = e^{−a/ℓ} expm1(−2(g − a)/ℓ)/expm1(−2g/ℓ), stably
    a = gaps[:, None] * _GAUSS3_NODES.astype(dtype)[None, :]                # (N − 1, 3)
    lb = bandwidths[None, None, :]

    def bridge(a, b):
        return jnp.exp(-a[..., None] / lb) * jnp.expm1(-2 * b[..., None] / lb) \
            / jnp.expm1(-2 * gaps[:, None, None] / lb)

    empty = (gaps == 0)[:, None, None, None]                 # an empty piece adds nothing
    w0 = jnp.where(empty, 0.5, bridge(a, gaps[:, None] - a)[..., None])    # (N − 1, 3, B, 1)
    w1 = jnp.where(empty, 0.5, bridge(gaps[:, None] - a, a)[..., None])
    gw = _GAUSS3_WEIGHTS.astype(dtype)

    def backward(ms_next, inp):
        m_f, P_f, r_next, gap, c, w0, w1 = inp
        ms = _rts_step(ms_next, m_f, P_f, r_next)
        # 3-point Gauss–Legendre rule on the piece, with the bridge's values at its nodes
        e = ms * w0 + ms_next * w1 - c                       # (3, B, L)
        return ms, gap * jnp.einsum("q,qbl->bl", gw, e * e)

    _, pieces = jax.lax.scan(backward, mf[-1], (mf[:-1], Pf[:-1], rho[1:], gaps, level, w0, w1),
                             reverse=True)
    return jax.ops.segment_sum(pieces, seg[:-1], num_segments=k)            # (K, B, L)


@partial(jax.jit, static_argnames="sizes")
def _ou_step_errors_sets(x, y, locations, heights, bandwidths, lams, sizes):
    """:func:`_ou_step_errors` for each row of ``x``, ``y``, one row after another."""
    return jax.lax.map(lambda xy: _ou_step_errors(xy[0], xy[1], locations, heights, bandwidths,
                                                  lams, sizes), (x, y))


def laplace_ridge_step_error_1d(xs, ys, *, locations, heights, bandwidths, lams) -> list:
    """Integrated squared errors ``∫₀¹ (f̂_{ℓ,λ} − f°)² dx`` of 1-D Laplace kernel ridge against the
    step function ``f° = Σ_j heights_j 1{x ≥ locations_j}`` (as :func:`lib.data.step_function`),
    for every bandwidth ℓ and every λ, for R data sets of each of K sizes, in
    O(R·Σn·len(ℓ)·len(λ)) time and one compilation for all sizes.

    ``xs``, ``ys``: sequences of K arrays of shapes ``(R, n_k)`` (inputs in ``[0, 1]``);
    ``bandwidths`` 1-D; ``lams`` ``(K, L)``, the λ grid of each size (or 1-D, shared). Returns a
    list of K arrays ``(R, len(bandwidths), L)``. ``f̂_{ℓ,λ}(x) = k(x, X)(K + nλI)⁻¹y`` with
    ``k = exp(−|x − x'|/ℓ)`` is computed by the Kalman smoother of :func:`laplace_kernel_ridge_1d`
    at the data, at 0, 1 and at the jump locations. These nodes cut ``[0, 1]`` into pieces on which
    ``f°`` is a constant ``c`` and ``f̂`` is the Ornstein–Uhlenbeck bridge between its end values
    ``m₀, m₁``: ``f̂(t₀ + a) = [m₀ sinh((g − a)/ℓ) + m₁ sinh(a/ℓ)] / sinh(g/ℓ)`` on a piece of
    length ``g``, and the integral of ``(f̂ − c)²`` over the piece is taken by the 3-point
    Gauss–Legendre rule (exact for polynomials of degree 5, error ``O((g/ℓ)⁶)`` relative to the
    piece's scale ``m²g``). No evaluation grid is needed, however narrow the smoothing window.
    """
    if isinstance(xs, (jax.Array, np.ndarray)) or isinstance(ys, (jax.Array, np.ndarray)):
        raise ValueError("xs and ys must be sequences of (R, n_k) arrays, one per sample size")
    xs = [v.float_array(x, "xs", ndim=2) for x in xs]
    ys = [v.float_array(y, "ys", ndim=2) for y in ys]
    if not xs or len(xs) != len(ys) or any(x.shape != y.shape for x, y in zip(xs, ys)) \
            or len({x.shape[0] for x in xs}) != 1:
        raise ValueError("xs and ys must be equally long non-empty sequences of arrays of the same "
                         f"shapes (R, n_k) with a common R, got {[x.shape for x in xs]} and "
                         f"{[y.shape for y in ys]}")
    if min(float(jnp.min(x)) for x in xs) < 0.0 or max(float(jnp.max(x)) for x in xs) > 1.0:
        raise ValueError("xs must lie in [0, 1]")
    t, h = _check_jumps(locations, heights)
    bws = _positive_grid(bandwidths, "bandwidths")
    lams = v.float_array(lams, "lams", ndim=(1, 2))
    lams = jnp.broadcast_to(lams, (len(xs), lams.shape[-1])) if lams.ndim == 1 else lams
    if lams.shape[0] != len(xs) or lams.shape[1] == 0:
        raise ValueError(f"lams must have shape (K, L) = ({len(xs)}, L) or (L,), got {lams.shape}")
    v.positive(lams, "lams")
    dtype = jnp.result_type(*xs, *ys)
    sizes = tuple(int(x.shape[1]) for x in xs)
    err = _ou_step_errors_sets(jnp.concatenate(xs, axis=1).astype(dtype),
                               jnp.concatenate(ys, axis=1).astype(dtype), t.astype(dtype),
                               h.astype(dtype), bws.astype(dtype), lams.astype(dtype), sizes)
    return [err[:, i] for i in range(len(sizes))]


def step_quadrature(locations, n_cells: int):
    """Nodes and weights of ``∫₀¹ g ≈ Σ_q w_q g(t_q)`` for functions that jump at ``locations``:
    each interval between consecutive points of ``{0, locations, 1}``, of length L, is cut into
    ``max(1, round(n_cells · L))`` equal cells, and each cell gets the 3-point Gauss–Legendre rule
    (``numpy.polynomial.legendre.leggauss(3)``). The rule is exact for piecewise polynomials of
    degree ≤ 5 whose breaks are among the cell edges — e.g. ``(f − f°)²`` for a piecewise-linear
    ``f`` with kinks on cell edges and the step function ``f°`` of :func:`lib.data.step_function`
    with jumps at ``locations``. On a cell of width h that contains a kink of a piecewise-linear
    ``f`` the integrand's derivative jumps there, and the error is ``O(h² · |Δslope| · |f − f°|)``
    (one order less than for a smooth integrand), plus ``O(h³ Δslope²)``. ``locations`` 1-D in
    ``(0, 1)``; returns ``(nodes, weights)``, both ``(m,)`` in the dtype of ``locations``, with the
    weights summing to 1.
    """
    t = v.float_array(locations, "locations", ndim=1)
    n_cells = v.integer(n_cells, "n_cells", minimum=1)
    tt = np.asarray(t, dtype=float)
    if tt.size and (tt.min() <= 0.0 or tt.max() >= 1.0):
        raise ValueError("locations must lie in (0, 1)")
    breaks = np.unique(np.concatenate([[0.0, 1.0], tt]))
    edges = np.concatenate([np.linspace(a, b, max(1, int(round(n_cells * (b - a)))) + 1)[:-1]
                            for a, b in zip(breaks[:-1], breaks[1:])] + [[1.0]])
    width = np.diff(edges)[:, None]
    nodes = edges[:-1, None] + width * _GAUSS3_NODES[None, :]
    weights = width * _GAUSS3_WEIGHTS[None, :]
    return jnp.asarray(nodes.ravel(), t.dtype), jnp.asarray(weights.ravel(), t.dtype)


class StepFit(NamedTuple):
    """What :func:`least_squares_steps` returns, for R data sets with at most K jumps each:
    ``f̂(x) = base + Σ_j heights_j · 1{x ≥ locations_j}`` (the form of
    :func:`lib.data.step_function` plus a constant). ``base`` ``(R,)``; ``locations``,
    ``heights`` ``(R, K)`` (unused jumps have height 0); ``fitted`` ``(R, n)``, the values
    ``f̂(x_i)`` in the input order; ``sse`` ``(R,)``, the residual sum of squares
    ``Σ_i (y_i − f̂(x_i))²``."""
    base: jax.Array
    locations: jax.Array
    heights: jax.Array
    fitted: jax.Array
    sse: jax.Array


def _segment_costs(s1, s2, start, end):
    """``Σ_{start ≤ t < end} (y_t − ȳ)²`` from prefix sums ``s1``, ``s2`` of y and y² (inf when empty)."""
    count = end - start
    c = (s2[end] - s2[start]) - (s1[end] - s1[start]) ** 2 / jnp.maximum(count, 1)
    return jnp.where(count > 0, jnp.maximum(c, 0.0), jnp.inf)


def _ls_steps_one(x, y, n_jumps):
    """Exact least squares with at most ``n_jumps`` jumps for one data set; see the wrapper."""
    n, dtype = x.shape[0], y.dtype
    order = jnp.argsort(x)
    xs, ys = x[order], y[order]
    shift = jnp.mean(ys)                                     # centring: smaller prefix sums
    yc = ys - shift
    zero = jnp.zeros(1, dtype)
    s1, s2 = jnp.concatenate([zero, jnp.cumsum(yc)]), jnp.concatenate([zero, jnp.cumsum(yc * yc)])
    idx = jnp.arange(n + 1)
    cost = _segment_costs(s1, s2, idx[:, None], idx[None, :])                # (n + 1, n + 1)
    inf = jnp.full(n, jnp.inf, dtype)

    def layer(d_prev, _):
        # D_k(j) = min_{0 ≤ i < j} D_{k−1}(i) + cost(i, j), with D_k(0) = 0 (fewer pieces allowed)
        d = jnp.min(d_prev[:, None] + cost, axis=0).at[0].set(0.0)
        return d, d_prev

    d_first = jnp.concatenate([zero, inf])                   # D_{−1}: only the empty prefix
    d_last, d_prevs = jax.lax.scan(layer, d_first, None, length=n_jumps + 1)

    def back(end, d_prev):
        # the last piece [start, end) of the best fit of the first `end` points
        start = jnp.argmin(d_prev + _segment_costs(s1, s2, idx, end))
        start = jnp.where(end > 0, start, 0)
        return start, (start, end)

    _, (starts, ends) = jax.lax.scan(back, n, d_prevs, reverse=True)       # pieces left to right
    count = ends - starts
    level = jnp.where(count > 0, (s1[ends] - s1[starts]) / jnp.maximum(count, 1), 0.0)
    first = jnp.argmax(count > 0)                            # empty pieces come first
    level = jnp.where(count > 0, level, level[first]) + shift
    heights = jnp.diff(level)
    cut = starts[1:]                                         # piece k starts at sorted point cut
    locations = jnp.where(cut > 0, (xs[jnp.maximum(cut - 1, 0)] + xs[cut]) / 2, xs[0])
    fitted_sorted = level[0] + jnp.sum(heights * (idx[:n, None] >= cut), axis=1)
    fitted = jnp.zeros(n, dtype).at[order].set(fitted_sorted)
    return StepFit(level[0], locations, heights, fitted, d_last[n])


@partial(jax.jit, static_argnames="n_jumps")
def _ls_steps(x, y, n_jumps):
    return jax.lax.map(lambda xy: _ls_steps_one(xy[0], xy[1], n_jumps), (x, y))


def least_squares_steps(x, y, *, max_jumps: int) -> StepFit:
    """Exact least squares over piecewise-constant functions with at most K = ``max_jumps`` jumps:
    ``f̂ ∈ argmin_{f ∈ 𝒮_K} Σ_i (y_i − f(x_i))²``, for one or R data sets on the line.

    Dynamic programming over the sorted points (Bellman's segmentation recursion): with prefix
    sums ``S₁(j) = Σ_{t<j} y_(t)``, ``S₂(j) = Σ_{t<j} y_(t)²``, the cost of one piece holding the
    sorted points ``i ≤ t < j`` is ``c(i, j) = S₂(j) − S₂(i) − (S₁(j) − S₁(i))²/(j − i)`` (its sum of
    squares about its mean), and ``D_k(j) = min_{0 ≤ i < j} D_{k−1}(i) + c(i, j)``, ``D_k(0) = 0``,
    ``D_{−1}(j) = ∞`` for j > 0, is the least residual sum of squares of the first j points with at
    most k jumps; ``D_K(n)`` is the minimum, and the minimizing i's traced back from j = n give the
    pieces. O(K n²) time, ``(n + 1)²`` memory per data set (data sets one after another). The fit
    is a segment mean on each piece; a jump between sorted neighbours ``x_(i−1) < x_(i)`` is
    placed at their midpoint (any point of the gap gives the same residuals). In float32 the sums
    of squares carry rounding of order n·ε·Σ(y − ȳ)², so near-ties may be broken differently than
    in float64.

    ``x``, ``y``: ``(n,)`` or ``(R, n)``; returns a :class:`StepFit` with a leading axis R (of
    size 1 for 1-D input). Tied inputs are allowed, but a cut the recursion places between two
    equal inputs cannot be a jump of a function of x: ``fitted`` keeps the recursion's values and
    the step function puts both points on the right of the jump.
    """
    x = v.float_array(x, "x", ndim=(1, 2))
    y = v.float_array(y, "y", ndim=(1, 2))
    if x.shape != y.shape:
        raise ValueError(f"y must have the shape of x {x.shape}, got {y.shape}")
    x, y = jnp.atleast_2d(x), jnp.atleast_2d(y)
    if x.shape[1] == 0:
        raise ValueError("x must hold at least one point per data set")
    max_jumps = v.integer(max_jumps, "max_jumps", minimum=0)
    dtype = jnp.result_type(x.dtype, y.dtype)
    return StepFit(*_ls_steps(x.astype(dtype), y.astype(dtype), max_jumps))


@jax.jit
def _step_l2(base, loc, h, loc_true, h_true):
    """∫₀¹ (f̂ − f°)² for one row; see :func:`step_fit_l2_error`."""
    t = jnp.sort(jnp.concatenate([jnp.array([0.0, 1.0], loc.dtype),
                                  jnp.clip(loc, 0.0, 1.0), loc_true]))
    mid = (t[1:] + t[:-1]) / 2
    est = base + jnp.sum(h * (mid[:, None] >= loc), axis=1)
    true = jnp.sum(h_true * (mid[:, None] >= loc_true), axis=1)
    return jnp.sum(jnp.diff(t) * (est - true) ** 2)


def step_fit_l2_error(fit: StepFit, locations, heights) -> jax.Array:
    """Integrated squared error ``∫₀¹ (f̂ − f°)² dx`` of each fit in ``fit`` (a :class:`StepFit`)
    against ``f° = Σ_j heights_j 1{x ≥ locations_j}`` (:func:`lib.data.step_function`), exactly:
    both are constant between consecutive points of ``{0, 1} ∪ fit.locations ∪ locations``, so
    the integral is ``Σ (t_{m+1} − t_m)(f̂ − f°)²((t_m + t_{m+1})/2)``. ``locations`` in ``(0, 1)``;
    returns ``(R,)``."""
    t, h = _check_jumps(locations, heights)
    if not isinstance(fit, StepFit):
        raise ValueError(f"fit must be a StepFit, got {type(fit).__name__}")
    dtype = fit.base.dtype
    return jax.vmap(_step_l2, in_axes=(0, 0, 0, None, None))(
        fit.base, fit.locations, fit.heights, t.astype(dtype), h.astype(dtype))


class TunedKernelRidge(NamedTuple):
    """What :func:`tuned_kernel_ridge` returns.

    ``pred``: predictions at ``x_query`` of the selected (bandwidth, λ), shape ``(m,)``;
    ``bandwidth``, ``lam``: the selected pair; ``val_mse``: validation error of every pair,
    shape ``(len(bandwidths), len(lams))``.
    """
    pred: jax.Array
    bandwidth: float
    lam: float
    val_mse: np.ndarray


@partial(jax.jit, static_argnames="kernel")
def _krr_grid(x, y, x_val, y_val, x_query, bandwidths, lams, kernel):
    kfn = KERNELS[kernel]

    def one(bw):
        # One eigendecomposition per bandwidth serves every λ (lib.ridgeless.kernel_ridge).
        K_eval = jnp.concatenate([kfn(x_val, x, bandwidth=bw), kfn(x_query, x, bandwidth=bw)])
        pred = ridgeless.kernel_ridge(kfn(x, x, bandwidth=bw), y, K_eval, lams)  # (L, m_val + m)
        val_pred, query_pred = pred[:, :x_val.shape[0]], pred[:, x_val.shape[0]:]
        val_mse = jnp.mean((val_pred - y_val[None, :]) ** 2, axis=1)
        return val_mse, query_pred

    return jax.lax.map(one, bandwidths)


def tuned_kernel_ridge(x, y, x_val, y_val, x_query, *, bandwidths, lams,
                       kernel: str = "gaussian") -> TunedKernelRidge:
    """Kernel ridge regression with (bandwidth, λ) chosen on a validation set.

    ``x`` ``(n, d)`` and ``y`` ``(n,)``: training data; ``x_val``, ``y_val``: validation data
    (pass noiseless targets for the oracle choice); ``x_query`` ``(m, d)``: where to predict.
    ``bandwidths`` and ``lams`` are 1-D grids of positive numbers; ``kernel`` is ``"gaussian"`` or
    ``"laplace"``. For each pair the estimator is ``k(x, X)(K + nλI)⁻¹y``, exactly
    :func:`lib.ridgeless.kernel_ridge` with the same λ.
    """
    x, y = v.samples(x, y, "x", "y")
    x_val, y_val = v.samples(x_val, y_val, "x_val", "y_val")
    x_query = v.float_array(x_query, "x_query", ndim=2)
    v.same_dim(x, x_val, "x", "x_val")
    v.same_dim(x, x_query, "x", "x_query")
    v.choice(kernel, "kernel", KERNELS)
    bws = _positive_grid(bandwidths, "bandwidths")
    lams = _positive_grid(lams, "lams")
    dtype = jnp.result_type(x.dtype, y.dtype, x_val.dtype, x_query.dtype)
    cast = lambda a: a.astype(dtype)  # noqa: E731
    if kernel == "laplace" and x.shape[1] == 1:              # exact O(n) path, see above
        m_val = x_val.shape[0]
        grid = [_ou_smoother(cast(x)[:, 0], cast(y), jnp.concatenate([cast(x_val), cast(x_query)])[:, 0],
                             bw, x.shape[0] * cast(lams)) for bw in cast(bws)]
        val_mse = jnp.stack([jnp.mean((g[:, :m_val] - cast(y_val)) ** 2, axis=1) for g in grid])
        preds = jnp.stack([g[:, m_val:] for g in grid])
    else:
        val_mse, preds = _krr_grid(cast(x), cast(y), cast(x_val), cast(y_val), cast(x_query),
                                   cast(bws), cast(lams), kernel)
    val_mse = np.asarray(val_mse)
    i, j = np.unravel_index(np.nanargmin(val_mse), val_mse.shape)
    return TunedKernelRidge(preds[i, j], float(bws[i]), float(lams[j]), val_mse)


class NetFit(NamedTuple):
    """What :func:`fit_relu_nets` returns (k = number of nets = number of data sets).

    ``pred``: each net's predictions at ``x_query`` at its early-stopping checkpoint, ``(k, m)``;
    ``final``: the predictions after the last step (no early stopping), ``(k, m)``;
    ``best_step``: the step of the selected checkpoint, ``(k,)``; ``val_mse``: the validation
    error of every net at every checkpoint, ``(n_records, k)``; ``steps``: the step number of
    each checkpoint, ``(n_records,)``.
    """
    pred: jax.Array
    final: jax.Array
    best_step: np.ndarray
    val_mse: np.ndarray
    steps: np.ndarray


def _apply(params, x):
    """One net (standard parameterization with biases) on ``x`` ``(n, d)``; returns ``(n,)``."""
    return nets.apply_mlp(params, x, parameterization="standard", b_std=1.0)[:, 0]


def _masked_mse(pred, y, mask):
    """``Σ_j mask_j (pred_j − y_j)² / Σ_j mask_j``: the mean squared error over the real points.
    Padded rows are removed by a select, not multiplied by 0, so an overflowing prediction there
    (inf · 0 = NaN) reaches neither the loss nor its gradient."""
    resid = jnp.where(mask > 0, pred - y, 0.0)
    return jnp.sum(resid ** 2) / jnp.sum(mask)


def _penalized_mse(params, data):
    """``mean_j (f(x_j) − y_j)² + weight_decay · Σ_l ‖W_l‖²_F`` of one net on its data set (the
    mean over the points with mask 1)."""
    x, y, mask, _, _, _, weight_decay = data
    fit = _masked_mse(_apply(params, x), y, mask)
    return fit + weight_decay * sum(jnp.sum(W * W) for W, _ in params)


def _checkpoint(params, data):
    """What is recorded at a checkpoint: the validation error and the parameters."""
    _, _, _, x_val, y_val, val_mask, _ = data
    return _masked_mse(_apply(params, x_val), y_val, val_mask), params


def init_through_data(key, widths, x):
    """``nets.init_mlp(key, widths, parameterization="standard", b_std=1.0)`` with data-dependent
    biases: the first layer's hyperplanes ``{z : w_jᵀz + b_j = 0}`` pass through rows of ``x``
    drawn at random (so the kinks of the initial network lie where the data are), and the deeper
    biases start at 0. Evaluate with ``nets.apply_mlp(params, z, parameterization="standard",
    b_std=1.0)``."""
    key = v.key(key)
    x = v.float_array(x, "x", ndim=2)
    if x.shape[1] != widths[0]:
        raise ValueError(f"x must have widths[0]={widths[0]} columns, got shape {x.shape}")
    k_init, k_idx = jax.random.split(key)
    params = nets.init_mlp(k_init, widths, parameterization="standard", b_std=1.0)
    W0, _ = params[0]
    anchors = x[jax.random.randint(k_idx, (W0.shape[1],), 0, x.shape[0])]    # (n_1, d)
    b0 = -jnp.sum(anchors * W0.T, axis=1)
    return [(W0, b0)] + [(W, jnp.zeros_like(b)) for W, b in params[1:]]


def _data_sets(x, y, x_name, y_name):
    """``k`` data sets: inputs ``x`` ``(k, n, d)`` and targets ``y`` ``(k, n)``, as float arrays."""
    x = v.float_array(x, x_name, ndim=3)
    y = v.float_array(y, y_name, ndim=2)
    if y.shape != x.shape[:2]:
        raise ValueError(f"{y_name} must have shape (k, n) = {x.shape[:2]}, got {y.shape}")
    return x, y


def _mask(mask, shape, name):
    """A (k, n) 0/1 mask of the real points (all ones when ``mask`` is None)."""
    if mask is None:
        return jnp.ones(shape)
    mask = v.float_array(mask, name, ndim=2)
    if mask.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {mask.shape}")
    m = np.asarray(mask)
    if not np.all((m == 0) | (m == 1)) or np.any(m.sum(axis=1) == 0):
        raise ValueError(f"{name} must hold 0/1 entries with at least one 1 per data set")
    return mask


def _in_dims(in_dims, x, x_val):
    """The (k,) input dimensions of the nets (all ``d`` when ``in_dims`` is None); the columns of
    net i's inputs beyond ``in_dims[i]`` must be zero padding."""
    k, d = x.shape[0], x.shape[2]
    if in_dims is None:
        return [d] * k
    dims = [v.integer(m, f"in_dims[{i}]", minimum=1) for i, m in enumerate(in_dims)]
    if len(dims) != k or max(dims) > d:
        raise ValueError(f"in_dims must list k = {k} dimensions, each at most d = {d}, got {in_dims}")
    first = int(_first_nonzero_padding(x, x_val, jnp.asarray(dims)))   # one scalar to the host
    if first >= 0:
        m = dims[first]
        raise ValueError(f"in_dims: the columns {m}.. of x[{first}] and x_val[{first}] must be 0 (padding)")
    return dims


@jax.jit
def _first_nonzero_padding(x, x_val, dims):
    """The first net i with a non-zero entry in a column ``>= dims[i]`` of ``x[i]`` or
    ``x_val[i]`` (−1 when all padding is zero), computed on the device."""
    pad = jnp.arange(x.shape[2]) >= dims[:, None]                       # (k, d) padded columns
    bad = (jnp.any((x != 0) & pad[:, None, :], axis=(1, 2))
           | jnp.any((x_val != 0) & pad[:, None, :], axis=(1, 2)))
    return jnp.where(jnp.any(bad), jnp.argmax(bad), -1)


def fit_relu_nets(key, x, y, x_val, y_val, x_query, *, hidden, n_steps: int, step_size,
                  record_every: int = 100, weight_decay: float = 0.0, mask=None,
                  val_mask=None, in_dims=None) -> NetFit:
    """Train k ReLU MLPs ``[d, *hidden, 1]``, net i on data set i, by full-batch Adam on the
    squared loss, and early-stop each at its best validation checkpoint.

    ``x`` ``(k, n, d)``, ``y`` ``(k, n)``: k independent training sets (one net each);
    ``x_val`` ``(k, m_val, d)``, ``y_val`` ``(k, m_val)``: their validation sets; ``x_query``
    ``(m, d)``: where every net predicts. Data sets of different sizes are padded to a common
    ``n`` (and ``m_val``) and marked by the 0/1 arrays ``mask`` ``(k, n)`` and ``val_mask``
    ``(k, m_val)`` (default: every point is real); padded points enter no loss, no validation
    error and no initialization, so net i follows exactly the run on its unpadded data, and one
    compilation serves all sizes. Net i starts from :func:`init_through_data`
    ``(fold_in(key, i), [d, *hidden, 1], real rows of x[i])`` and minimizes
    ``Σ_j mask_ij (f_i(x_ij) − y_ij)² / Σ_j mask_ij + weight_decay · Σ_l ‖W_l‖²_F`` (weights only,
    not biases; the penalty plays the role of the norm bound on the parameters in the estimation
    theory). All nets are trained in one :func:`lib.nets.train_ensemble` call (each follows exactly
    the iterates of its own run), which records the validation error and the parameters every
    ``record_every`` steps; only the selected and the final parameters are evaluated at
    ``x_query``. ``step_size`` is a float or a schedule ``t ↦ η_t``; ``n_steps`` must be a
    multiple of ``record_every``. For an ensemble on one data set, repeat it k times.

    Inputs of several dimensions share one compilation the same way: pad them with zero columns to
    a common ``d`` and pass ``in_dims`` ``(k,)``, net i's true dimension ``d_i``. Net i then starts
    from :func:`init_through_data` ``(fold_in(key, i), [d_i, *hidden, 1], …)`` on its first ``d_i``
    columns, with first-layer weights 0 on the padded columns; their gradient (and weight decay)
    is 0 there, so they stay 0 and net i follows exactly its unpadded run. Its predictions at a
    query ``z`` depend only on ``z[:d_i]`` (pad queries with zeros too).
    """
    key = v.key(key)
    x, y = _data_sets(x, y, "x", "y")
    x_val, y_val = _data_sets(x_val, y_val, "x_val", "y_val")
    v.same_dim(x, x_val, "x", "x_val", axis=0)
    v.same_dim(x, x_val, "x", "x_val")
    x_query = v.float_array(x_query, "x_query", ndim=2)
    v.same_dim(x, x_query, "x", "x_query")
    mask = _mask(mask, y.shape, "mask")
    val_mask = _mask(val_mask, y_val.shape, "val_mask")
    hidden = [v.integer(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden)]
    if not hidden:
        raise ValueError("hidden must list at least one hidden-layer width")
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = v.integer(record_every, "record_every", minimum=1)
    k = x.shape[0]
    dtype = jnp.result_type(x.dtype, y.dtype)
    widths = [x.shape[2], *hidden, 1]
    real = np.asarray(mask, dtype=bool)
    dims = _in_dims(in_dims, x, x_val)
    inits = []
    for i, m in enumerate(dims):
        (W0, b0), *rest = init_through_data(jax.random.fold_in(key, i), [m, *widths[1:]],
                                            x[i][real[i]][:, :m])
        inits.append([(jnp.pad(W0, ((0, widths[0] - m), (0, 0))), b0), *rest])
    params = jax.tree_util.tree_map(lambda *l: jnp.stack(l).astype(dtype), *inits)

    weight_decay = v.scalar(weight_decay, "weight_decay", nonnegative=True)
    data = tuple(a.astype(dtype) for a in (x, y, mask, x_val, y_val, val_mask)) + (weight_decay,)
    res = nets.train_ensemble(_penalized_mse, params, data=data, data_axes=(0,) * 6 + (None,),
                              n_steps=n_steps, step_size=step_size, optimizer="adam",
                              record_fn=_checkpoint, record_every=record_every)
    val_hist = np.asarray(res.history[0]).T                                   # (R, k)
    best = np.argmin(np.where(np.isfinite(val_hist), val_hist, np.inf), axis=0)
    pred, final = _predict_checkpoints(res.history[1], jnp.asarray(best), x_query.astype(dtype))
    steps = record_every * np.arange(1, val_hist.shape[0] + 1)
    return NetFit(pred, final, steps[best], val_hist, steps)


@jax.jit
def _predict_checkpoints(history, best, x_query):
    """Each net's predictions at ``x_query`` with its parameters at checkpoint ``best[i]`` and at
    the last checkpoint (``history``: parameters with axes (net, checkpoint, ...))."""
    predict = jax.vmap(_apply, in_axes=(0, None))
    k = best.shape[0]
    chosen = jax.tree_util.tree_map(lambda a: a[jnp.arange(k), best], history)
    last = jax.tree_util.tree_map(lambda a: a[:, -1], history)
    return predict(chosen, x_query), predict(last, x_query)


def cosine_schedule(peak: float, n_steps: int, *, floor: float = 0.01):
    """Step-size schedule ``t ↦ peak · (floor + (1 + cos(π t / n_steps)) / 2)`` for
    :func:`lib.nets.train`: starts at ``peak·(1 + floor)`` and decays to ``peak·floor``. A
    :class:`jax.tree_util.Partial`, so that schedules with other constants reuse the compiled
    training loop."""
    peak = v.scalar(peak, "peak", positive=True)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    floor = v.scalar(floor, "floor", nonnegative=True)
    return Partial(_cosine, peak, n_steps, floor)


def _cosine(peak, n_steps, floor, t):
    return peak * (floor + 0.5 * (1.0 + jnp.cos(jnp.pi * t / n_steps)))


class HaarCoefficients(NamedTuple):
    """Haar expansion ``g = c·1 + Σ_j Σ_k β_{j,k} ψ_{j,k}`` on [0, 1] (see :func:`haar_coefficients`):
    ``scaling`` is c (the mean of g) and ``details[j]`` the ``2^j`` coefficients of level j."""
    scaling: float
    details: list


def haar_coefficients(values) -> HaarCoefficients:
    """Haar wavelet coefficients of the piecewise-constant function ``g`` equal to ``values[i]`` on
    the cell ``[i/N, (i+1)/N)``, ``N = len(values)`` a power of two.

    With ``ψ_{j,k}(x) = 2^{j/2} ψ(2^j x − k)``, ``ψ = 1_[0,½) − 1_[½,1)`` (orthonormal in L²[0,1]),
    ``β_{j,k} = ∫ g ψ_{j,k} = 2^{−j/2} (m_left − m_right) / 2``, where m_left, m_right are the means
    of g on the two halves of ``[k 2^{−j}, (k+1) 2^{−j})``. Parseval:
    ``∫ g² = scaling² + Σ_{j,k} β_{j,k}²``.
    """
    g = np.asarray(v.float_array(values, "values", ndim=1), dtype=float)
    n = g.shape[0]
    levels = int(round(np.log2(n))) if n > 0 else -1
    if n < 2 or 2 ** levels != n:
        raise ValueError(f"values must have a power-of-two length >= 2, got {n}")
    details = []
    means = g
    for j in range(levels - 1, -1, -1):                 # means has length 2^{j+1}
        left, right = means[0::2], means[1::2]
        details.append(2.0 ** (-j / 2) * (left - right) / 2)
        means = (left + right) / 2
    return HaarCoefficients(float(means[0]), details[::-1])


@partial(jax.jit, static_argnames="k_max")
def _knn_all_k(x, y, x_query, k_max):
    sq = (jnp.sum(x_query ** 2, axis=1)[:, None] - 2.0 * x_query @ x.T
          + jnp.sum(x ** 2, axis=1)[None, :])
    _, idx = jax.lax.top_k(-sq, k_max)                                   # (m, k_max), nearest first
    return jnp.cumsum(y[idx], axis=1) / jnp.arange(1, k_max + 1, dtype=y.dtype)


def knn_regression(x, y, x_query, *, k_max: int) -> jax.Array:
    """k-nearest-neighbour regression for every k = 1..k_max at once.

    ``f̂_k(z) = (1/k) Σ_{i ∈ N_k(z)} y_i``, with ``N_k(z)`` the indices of the k training inputs
    closest to z in Euclidean distance (ties broken by index). ``x`` ``(n, d)``, ``y`` ``(n,)``,
    ``x_query`` ``(m, d)``; returns ``(m, k_max)`` with column ``k − 1`` holding ``f̂_k``. The
    estimator is linear in ``y`` and its neighbour sets do not depend on ``y``, so with independent
    noise of variance σ² its noise-averaged squared error at z is exactly
    ``(f̂_k[f](z) − f(z))² + σ²/k`` (``f̂_k[f]`` = the fit to the noiseless values).
    """
    x, y = v.samples(x, y, "x", "y")
    x_query = v.float_array(x_query, "x_query", ndim=2)
    v.same_dim(x, x_query, "x", "x_query")
    k_max = v.integer(k_max, "k_max", minimum=1)
    if k_max > x.shape[0]:
        raise ValueError(f"k_max must be at most the number of training points {x.shape[0]}, "
                         f"got {k_max}")
    dtype = jnp.result_type(x.dtype, y.dtype, x_query.dtype)
    return _knn_all_k(x.astype(dtype), y.astype(dtype), x_query.astype(dtype), k_max)


def closed_curve(t, frame) -> jax.Array:
    """Points ``c(t)`` of a unit-speed closed curve of length 1 in R^d (intrinsic dimension 1).

    ``c(t) = F · (cos 2πmt, …, sin 2πmt, …)_{m=1..M} / (2πm√M)``: the first M harmonics, weighted so
    that ``|c'(t)|² = Σ_m (2πm)²/((2πm)² M) = 1``, mapped into R^d by ``F = frame`` (``(d, 2M)`` with
    orthonormal columns, so distances are those of the curve in R^{2M}). The first harmonic alone is
    injective, so the curve does not cross itself; t is its arc length (period 1), and t uniform on
    [0, 1) gives inputs uniform along the curve. ``t`` any shape; returns ``t.shape + (d,)``.
    The orthonormality of ``frame`` is checked on the host whenever it is concrete (also when it is
    a constant inside ``jax.jit``); a traced ``frame`` is not checked.
    """
    t = v.float_array(t, "t")
    frame = v.float_array(frame, "frame", ndim=2)
    if frame.shape[1] % 2 or frame.shape[1] > frame.shape[0]:
        raise ValueError(f"frame must have an even number 2M <= d of columns, got shape {frame.shape}")
    if not v.is_tracer(frame):                   # on the host: also for a constant frame under jit
        f = np.asarray(frame, dtype=float)
        if not np.allclose(f.T @ f, np.eye(frame.shape[1]), atol=1e-5):
            raise ValueError("frame must have orthonormal columns")
    harmonics = frame.shape[1] // 2
    dtype = jnp.result_type(t.dtype, frame.dtype)
    m = jnp.arange(1, harmonics + 1, dtype=dtype)
    angle = 2 * jnp.pi * t.astype(dtype)[..., None] * m
    scale = 2 * jnp.pi * m * np.sqrt(harmonics)
    coords = jnp.concatenate([jnp.cos(angle) / scale, jnp.sin(angle) / scale], axis=-1)
    return coords @ frame.astype(dtype).T


def knn_curve_risk(n, k, *, noise_var, mean_sq_slope, mean_sq_curvature, mean_sq_third=0.0):
    """Bias–variance model of the k-NN risk for n inputs uniform on a closed curve of length 1.

    With ``a_r = E[(f^(r))²]`` (derivatives along arc length, expectation over the uniform point
    of the curve) and the Beta moments ``E V^m = Π_{j=1..m} (k + j)/(n + j)``,

    ``R(n, k) = σ²/k + a₁ E V²/(12k) + a₂ E V⁴ (1/576 − 1/(360k))
    + a₃ E V⁶ (−1/23040 + 1/(20160k))``.

    Derivation (neighbours ranked by arc distance): the arc distances to the n inputs are i.i.d.
    uniform on [0, 1/2], so ρ = V/2, the distance of the (k+1)-st nearest input, has
    V ~ Beta(k + 1, n − k), and given ρ the k nearest offsets u_i are i.i.d. uniform on [−ρ, ρ].
    Expanding ``f(x + u) = Σ_r f^(r) u^r / r!`` in the noiseless fit error, keeping every term up
    to ρ⁶ and integrating by parts around the closed curve (``E f' f^(3) = −a₂``,
    ``E f'' f^(4) = −a₃``, ``E f' f^(5) = a₃``) gives the bias terms; independent noise adds σ²/k.
    The neglected terms are O(E V⁸ · E[(f^(4))²]). To leading order (E V^m ≈ (k/n)^m, k → ∞) this
    is ``σ²/k + a₁ k/(12 n²) + a₂ k⁴/(576 n⁴)``, minimized at k ≍ n^{4/5} with risk
    ``n^{−4/5} = n^{−2s/(2s+D)}`` (s = 2, D = 1). ``n``, ``k`` broadcast (k < n); the four
    constants are non-negative.
    """
    n = v.float_array(n, "n")
    k = v.float_array(k, "k")
    v.positive(n, "n")
    v.positive(k, "k")
    if not v.is_tracer(n) and not v.is_tracer(k) and bool(np.any(np.asarray(k) >= np.asarray(n))):
        raise ValueError("k must be smaller than n")
    noise_var = v.scalar(noise_var, "noise_var", nonnegative=True)
    a1 = v.scalar(mean_sq_slope, "mean_sq_slope", nonnegative=True)
    a2 = v.scalar(mean_sq_curvature, "mean_sq_curvature", nonnegative=True)
    a3 = v.scalar(mean_sq_third, "mean_sq_third", nonnegative=True)
    ratio = [(k + j) / (n + j) for j in range(1, 7)]
    ev2 = ratio[0] * ratio[1]
    ev4 = ev2 * ratio[2] * ratio[3]
    ev6 = ev4 * ratio[4] * ratio[5]
    return (noise_var / k + a1 * ev2 / (12 * k) + a2 * ev4 * (1 / 576 - 1 / (360 * k))
            + a3 * ev6 * (-1 / 23040 + 1 / (20160 * k)))
