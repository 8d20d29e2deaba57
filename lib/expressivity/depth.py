"""Linear regions of ReLU networks, and the classical deep constructions that have many of them.

A ReLU network is piecewise linear; on each *activation region* — the set of inputs sharing one
on/off pattern of all hidden units — it is affine. Each region is a convex polytope (for a fixed
pattern every pre-activation is an affine function of the input, and the pattern is fixed by
linear inequalities), so a line meets it in one interval, and counting regions along a segment
reduces to counting pattern changes between consecutive points of a fine grid.

Networks use the ``lib.nets`` format (``[(W, b), ...]``) and are evaluated as
``apply_mlp(params, x, parameterization="standard", b_std=1.0)``: ``h ← σ(h) W + b``.

Constructions
-------------
``zigzag_params(n, depth)``  the Montúfar et al. folding map g_n(x) = Σ_i c_i relu(n x − i),
    c_0 = 1, c_i = 2(−1)^i, which maps each of n intervals of [0, 1] onto [0, 1]; ``depth``
    compositions have exactly n^depth linear pieces on [0, 1] with only n units per layer.
    ``n = 2`` is Telgarsky's sawtooth (the tent map composed ``depth`` times).
``yarotsky_square_params(m)``  Yarotsky's approximation of x² on [0, 1],
    f_m(x) = x − Σ_{s=1}^m g^{∘s}(x) / 4^s with g the tent map: the piecewise-linear interpolant
    of x² on the grid of step 2^{-m}, so sup_x |x² − f_m(x)| = 4^{-(m+1)} exactly, with m hidden
    layers of width 3.
``sawtooth_partial_fit_params(k, j)``  a one-hidden-layer net that follows the sawtooth
    Δ^{∘k} on its first j teeth and then stays at ½ (the upper side of the shallow-width
    comparison; its L¹ error is ``sawtooth_partial_fit_error``).

Depth separation in L¹
----------------------
``sawtooth_l1_lower_bound(k, pieces)``  every function that is affine on each of ``pieces``
    intervals of [0, 1] has ∫_0^1 |Δ^{∘k} − g| ≥ ¼ (1 − (pieces − 1)/2^{k−1}): on each of the
    2^{k−1} teeth that contains no breakpoint of g, g is affine and the best affine L¹ fit of a
    tent of width h costs exactly h/4.
``best_affine_l1_fit(x, y)``  the affine function minimizing the mean absolute error on given
    points, by linear programming (tests the one-tooth step of that bound directly).

Random networks
---------------
``expected_regions_on_segment(params, start, end, bias_std)``  the Hanin–Rolnick (Kac–Rice)
    formula for the expected number of regions met by a segment when every hidden bias is an
    independent N(0, bias_std²), given all weights and all other biases.
"""
from __future__ import annotations

from functools import partial
from math import comb

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v

__all__ = ["activation_patterns", "count_regions_on_segment", "count_regions_in_box", "region_map",
           "hyperplane_arrangement_bound", "montufar_lower_bound", "zigzag_params",
           "yarotsky_square_params", "expected_regions_on_segment", "sawtooth_l1_lower_bound",
           "best_affine_l1_fit", "sawtooth_partial_fit_params", "sawtooth_partial_fit_error",
           "line_arrangement_regions_in_box"]


def _check_params(params):
    if not isinstance(params, (list, tuple)) or len(params) < 2:
        raise ValueError("params must be a list of (W, b) pairs with at least one hidden layer")
    for l, layer in enumerate(params):
        if len(layer) != 2:
            raise ValueError(f"params[{l}] must be a (W, b) pair")
        W, b = layer
        if jnp.ndim(W) != 2 or jnp.ndim(b) != 1 or W.shape[1] != b.shape[0]:
            raise ValueError(f"params[{l}] must be W of shape (n_in, n_out) and b of shape (n_out,)")
        if l > 0 and W.shape[0] != params[l - 1][0].shape[1]:
            raise ValueError(f"params[{l}] input size {W.shape[0]} does not match the previous "
                             f"layer's output size {params[l - 1][0].shape[1]}")


@jax.jit
def activation_patterns(params, x) -> jax.Array:
    """On/off pattern ``1{pre-activation > 0}`` of every hidden unit, shape ``(n, n_hidden)``.

    ``x`` has shape ``(n, d)``; the hidden layers are all but the last entry of ``params``.
    """
    h = x
    bits = []
    for W, b in params[:-1]:
        pre = h @ W + b
        bits.append(pre > 0)
        h = jax.nn.relu(pre)
    return jnp.concatenate(bits, axis=1)


@partial(jax.jit, static_argnames="resolution")
def _changes_on_segment(params, start, end, resolution):
    # Grid shifted by an irrational fraction of a cell, so no grid point sits exactly on a
    # (rational) breakpoint of a constructed network.
    t = (jnp.arange(resolution, dtype=start.dtype) + 0.3183098861837907) / resolution
    x = start[None, :] + t[:, None] * (end - start)[None, :]
    p = activation_patterns(params, x)
    return jnp.sum(jnp.any(p[1:] != p[:-1], axis=1))


def _check_segment(params, start, end):
    """Validated network and segment end points (1-D, same length, the network's input dimension)."""
    _check_params(params)
    start = v.float_array(start, "start", ndim=1)
    end = v.float_array(end, "end", ndim=1)
    v.same_dim(start, end, "start", "end")
    if start.shape[0] != params[0][0].shape[0]:
        raise ValueError(f"start has {start.shape[0]} coordinates but the network expects "
                         f"{params[0][0].shape[0]} inputs")
    return start, end


def count_regions_on_segment(params, start, end, *, resolution: int = 2 ** 16) -> int:
    """Number of activation regions met by the segment from ``start`` to ``end``.

    Counts ``1 + #{i : pattern(x_i) ≠ pattern(x_{i+1})}`` on ``resolution`` evenly spaced points.
    This is exact once every region's intersection with the segment contains a grid point; a
    region thinner than the grid spacing is missed, so callers should check that doubling
    ``resolution`` leaves the count unchanged.
    """
    start, end = _check_segment(params, start, end)
    resolution = v.integer(resolution, "resolution", minimum=2)
    return 1 + int(_changes_on_segment(params, start, end, resolution))


@partial(jax.jit, static_argnames="resolution")
def _kac_rice_on_segment(params, start, end, bias_std, resolution):
    # Midpoint rule in t for Σ_z ∫_0^1 |d/dt ẑ(x(t))| φ_σ(ẑ(x(t))) dt, ẑ = pre-activation of z
    # without its own bias; the t-derivative is one forward-mode JVP along end − start.
    t = (jnp.arange(resolution, dtype=start.dtype) + 0.5) / resolution
    x = start[None, :] + t[:, None] * (end - start)[None, :]
    dx = jnp.broadcast_to(end - start, x.shape)

    def unbiased_preactivations(x):
        h, out = x, []
        for W, b in params[:-1]:
            z = h @ W
            out.append(z)
            h = jax.nn.relu(z + b)
        return jnp.concatenate(out, axis=1)

    z, dz = jax.jvp(unbiased_preactivations, (x,), (dx,))
    density = jnp.exp(-0.5 * (z / bias_std) ** 2) / (bias_std * jnp.sqrt(2 * jnp.pi))
    return jnp.sum(jnp.abs(dz) * density) / resolution


def expected_regions_on_segment(params, start, end, bias_std, *, resolution: int = 2 ** 14
                                ) -> float:
    """Expected number of activation regions met by the segment x(t) = start + t (end − start),
    t ∈ [0, 1], when each hidden bias b_z is an independent N(0, ``bias_std``²) variable
    (Hanin & Rolnick 2019; the Kac–Rice / co-area formula):

        E[#regions] = 1 + Σ_z ∫_0^1 |d/dt ẑ(x(t))| φ_σ(ẑ(x(t))) dt,

    where ẑ = z − b_z is unit z's pre-activation without its own bias (it depends on the weights
    and on the biases of earlier layers only, so it is independent of b_z) and φ_σ is the
    N(0, σ²) density. The expectation is over the biases of every unit given everything else
    (the other entries of ``params`` are used as they are; the bias values in ``params`` are
    used for the units *upstream* of z only). The integral is taken by the midpoint rule on
    ``resolution`` points; the integrand is piecewise smooth, so the rule converges as the
    grid refines.
    """
    start, end = _check_segment(params, start, end)
    bias_std = v.scalar(bias_std, "bias_std", positive=True)
    resolution = v.integer(resolution, "resolution", minimum=1)
    return 1.0 + float(_kac_rice_on_segment(params, start, end, bias_std, resolution))


def count_regions_in_box(params, lower, upper, *, resolution: int = 512) -> int:
    """Number of distinct activation patterns on a ``resolution × resolution`` grid of the box
    ``[lower_0, upper_0] × [lower_1, upper_1]`` of a network with 2-D input.

    Each region is convex, hence connected, so distinct patterns = regions that contain a grid
    point (a lower bound on the regions meeting the box, exact when none is thinner than the grid).
    """
    _check_params(params)
    lower = v.float_array(lower, "lower", ndim=1)
    upper = v.float_array(upper, "upper", ndim=1)
    if lower.shape != (2,) or upper.shape != (2,) or params[0][0].shape[0] != 2:
        raise ValueError("count_regions_in_box needs a network with 2-D input and 2-D lower/upper")
    if bool(jnp.any(upper <= lower)):
        raise ValueError("upper must exceed lower in both coordinates")
    resolution = v.integer(resolution, "resolution", minimum=2)
    return int(region_map(params, lower, upper, resolution)[2].max()) + 1


def region_map(params, lower, upper, resolution: int):
    """Grid coordinates and a region id per grid point, for plotting regions in the plane.

    Returns ``(xs, ys, ids)`` with ``ids`` of shape ``(resolution, resolution)``, integers
    ``0, 1, ...``: equal ids ⇔ equal activation patterns.
    """
    xs = jnp.linspace(lower[0], upper[0], resolution)
    ys = jnp.linspace(lower[1], upper[1], resolution)
    grid = jnp.stack(jnp.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    bits = np.asarray(activation_patterns(params, grid))
    packed = np.packbits(bits, axis=1)
    _, ids = np.unique(packed, axis=0, return_inverse=True)
    return xs, ys, ids.reshape(resolution, resolution)


def line_arrangement_regions_in_box(W, b, lower, upper) -> int:
    """Exact number of regions that the lines {x ∈ R²: x·W[:, i] + b[i] = 0} cut the open box
    ``(lower_0, upper_0) × (lower_1, upper_1)`` into — the activation regions of one hidden ReLU
    layer with 2-D input that meet the box.

    For lines in general position (no three through one point), adding the lines one at a time and
    counting by Euler's formula gives

        regions = 1 + #{lines meeting the box} + #{pairwise intersections inside the box},

    since a new line crossing the box and k earlier lines inside it splits k + 1 regions in two.
    General position is assumed, not checked: three lines through one point, or two identical
    lines, are overcounted (x = 0, y = 0, x + y = 0 gives 7 instead of 6); random weights are in
    general position with probability one.
    ``W`` has shape (2, n), ``b`` shape (n,) (the ``lib.nets`` format h ← σ(x W + b)).
    """
    W = v.float_array(W, "W", ndim=2)
    b = v.float_array(b, "b", ndim=1)
    lower = v.float_array(lower, "lower", ndim=1)
    upper = v.float_array(upper, "upper", ndim=1)
    if W.shape[0] != 2 or b.shape != (W.shape[1],) or lower.shape != (2,) or upper.shape != (2,):
        raise ValueError(f"need W of shape (2, n), b of shape (n,), 2-D lower/upper; got "
                         f"{W.shape}, {b.shape}, {lower.shape}, {upper.shape}")
    if bool(jnp.any(upper <= lower)):
        raise ValueError("upper must exceed lower in both coordinates")
    return int(_line_arrangement_counts(W, b, lower, upper))


@jax.jit
def _line_arrangement_counts(W, b, lower, upper):
    corners = jnp.stack(jnp.meshgrid(jnp.stack([lower[0], upper[0]]),
                                     jnp.stack([lower[1], upper[1]])), -1).reshape(4, 2)
    values = corners @ W + b                                   # (4, n): sign change ⇔ line meets box
    crossing = (values.min(0) < 0) & (values.max(0) > 0)
    # intersection of lines i, j by Cramer's rule: [w_i; w_j] p = −[b_i; b_j]
    det = W[0][:, None] * W[1][None, :] - W[1][:, None] * W[0][None, :]
    safe = jnp.where(det == 0, 1.0, det)
    p0 = (-b[:, None] * W[1][None, :] + W[1][:, None] * b[None, :]) / safe
    p1 = (-W[0][:, None] * b[None, :] + b[:, None] * W[0][None, :]) / safe
    inside = ((det != 0) & (p0 > lower[0]) & (p0 < upper[0]) & (p1 > lower[1]) & (p1 < upper[1]))
    pairs = jnp.triu(inside, k=1)
    return 1 + crossing.sum() + pairs.sum()


def hyperplane_arrangement_bound(n_units: int, d: int) -> int:
    """Zaslavsky's bound Σ_{j=0}^{d} C(n, j): the most regions n hyperplanes cut R^d into
    (attained in general position) — the maximum for one hidden layer of n ReLUs on R^d."""
    n_units = v.integer(n_units, "n_units", minimum=0)
    d = v.integer(d, "d", minimum=1)
    return sum(comb(n_units, j) for j in range(d + 1))


def montufar_lower_bound(width: int, depth: int, d: int) -> int:
    """Montúfar et al. (2014): a ReLU net with input dimension ``d`` ≤ ``width`` and ``depth``
    hidden layers of ``width`` units can have at least
    ``⌊width/d⌋^{d (depth−1)} · Σ_{j=0}^{d} C(width, j)`` linear regions."""
    width = v.integer(width, "width", minimum=1)
    depth = v.integer(depth, "depth", minimum=1)
    d = v.integer(d, "d", minimum=1)
    if width < d:
        raise ValueError(f"width must be >= d for this bound, got width={width}, d={d}")
    return (width // d) ** (d * (depth - 1)) * hyperplane_arrangement_bound(width, d)


def zigzag_params(n: int, depth: int):
    """Parameters of g_n composed ``depth`` times (see module docstring), input and output 1-D."""
    n = v.integer(n, "n", minimum=2)
    depth = v.integer(depth, "depth", minimum=1)
    c = jnp.array([1.0] + [2.0 * (-1) ** i for i in range(1, n)])
    shifts = -jnp.arange(n, dtype=c.dtype)
    first = (jnp.full((1, n), float(n)), shifts)
    # Next layer's pre-activation n·g(x) − i = Σ_k n c_k h_k − i.
    hidden = [(n * jnp.outer(c, jnp.ones(n)), shifts) for _ in range(depth - 1)]
    return [first, *hidden, (c[:, None], jnp.zeros(1))]


def yarotsky_square_params(m: int):
    """Parameters of Yarotsky's f_m ≈ x² on [0, 1] (see module docstring): m hidden layers of
    units (relu(t), relu(t − ½), relu(f)) carrying the current tooth t = g^{∘(s−1)}(x) and the
    running approximation f = f_{s−1}."""
    m = v.integer(m, "m", minimum=1)
    first = (jnp.array([[1.0, 1.0, 1.0]]), jnp.array([0.0, -0.5, 0.0]))
    layers = [first]
    for s in range(1, m + 1):
        # From units (a, b, c): t_s = 2a − 4b, f_s = c − t_s / 4^s.
        t_row = jnp.array([2.0, -4.0, 0.0])
        f_row = jnp.array([0.0, 0.0, 1.0]) - t_row / 4.0 ** s
        if s < m:
            W = jnp.stack([t_row, t_row, f_row], axis=1)
            layers.append((W, jnp.array([0.0, -0.5, 0.0])))
        else:
            layers.append((f_row[:, None], jnp.zeros(1)))
    return layers


def sawtooth_l1_lower_bound(k: int, pieces: int) -> float:
    """Lower bound on ∫_0^1 |Δ^{∘k}(x) − g(x)| dx for every g that is affine on each of
    ``pieces`` intervals partitioning [0, 1] (continuous or not), Δ the tent map:

        ∫_0^1 |Δ^{∘k} − g| ≥ ¼ · max(0, 1 − (pieces − 1) / 2^{k−1}).

    Δ^{∘k} has 2^{k−1} teeth of width h = 2^{1−k}; g's ``pieces − 1`` breakpoints lie inside at
    most ``pieces − 1`` teeth, and on every other tooth g is affine, where the best affine L¹
    fit of a tent of width h is the constant ½ with error exactly h/4. A one-hidden-layer ReLU
    net of width m has at most m + 1 pieces.
    """
    k = v.integer(k, "k", minimum=1)
    pieces = v.integer(pieces, "pieces", minimum=1)
    return 0.25 * max(0.0, 1.0 - (pieces - 1) / 2 ** (k - 1))


def best_affine_l1_fit(x, y) -> tuple[float, float, float]:
    """The L¹-optimal affine fit of points (x_i, y_i), i = 1..n (least absolute deviations):

        (a*, b*) = argmin_{a, b} (1/n) Σ_i |y_i − a − b x_i|,

    solved exactly (up to the solver's tolerance, ~1e-9) as the linear program
    min (1/n) Σ_i e_i subject to −e_i ≤ y_i − a − b x_i ≤ e_i (scipy's HiGHS). Returns
    ``(a*, b*, error)`` with ``error`` the minimal mean absolute deviation. ``x`` and ``y`` are
    1-D of equal length ≥ 2 (float32 or float64; computed in float64).
    """
    from scipy import sparse
    from scipy.optimize import linprog   # scipy is imported on use only

    x = np.asarray(v.float_array(x, "x", ndim=1), dtype=np.float64)
    y = np.asarray(v.float_array(y, "y", ndim=1), dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"x needs at least 2 points, got {x.size}")
    n = x.size
    # Unknowns (a, b, e_1..e_n): a + b x_i − e_i ≤ y_i and −a − b x_i − e_i ≤ −y_i.
    design = sparse.csr_matrix(np.stack([np.ones(n), x], axis=1))
    eye = sparse.identity(n, format="csr")
    A_ub = sparse.vstack([sparse.hstack([design, -eye]), sparse.hstack([-design, -eye])])
    cost = np.concatenate([[0.0, 0.0], np.full(n, 1.0 / n)])
    res = linprog(cost, A_ub=A_ub, b_ub=np.concatenate([y, -y]),
                  bounds=[(None, None)] * 2 + [(0, None)] * n, method="highs")
    if not res.success:
        raise RuntimeError(f"the L1 fit LP failed: {res.message}")
    a, b = res.x[:2]
    return float(a), float(b), float(np.mean(np.abs(y - a - b * x)))


def sawtooth_partial_fit_params(k: int, j: int):
    """One hidden layer of 2j + 2 ReLU units computing g_j with g_j = Δ^{∘k} on
    [0, (j + ¼) h] (the first j teeth of width h = 2^{1−k} and the rise of the next one up to
    ½) and g_j = ½ on the rest of [0, 1]: 2j + 2 pieces on [0, 1]. Requires
    0 ≤ j ≤ 2^{k−1} − 1. Its error is :func:`sawtooth_partial_fit_error`."""
    k = v.integer(k, "k", minimum=1)
    j = v.integer(j, "j", minimum=0)
    if j > 2 ** (k - 1) - 1:
        raise ValueError(f"j must be at most 2^(k-1) - 1 = {2 ** (k - 1) - 1}, got {j}")
    h, s = 2.0 ** (1 - k), 2.0 ** k                  # tooth width and |slope|
    knots = [0.0]
    jumps = [s]                                      # slope change at each knot
    for i in range(j):
        knots += [(i + 0.5) * h, (i + 1) * h]        # peak, valley
        jumps += [-2 * s, 2 * s]
    knots.append((j + 0.25) * h)                     # reaches ½ on the next rise: flatten
    jumps.append(-s)
    knots, jumps = np.array(knots), np.array(jumps)
    first = (jnp.ones((1, knots.size)), jnp.asarray(-knots))
    return [first, (jnp.asarray(jumps)[:, None], jnp.zeros(1))]


def sawtooth_partial_fit_error(k: int, j: int) -> float:
    """∫_0^1 |Δ^{∘k} − g_j| = ¼ − (4j + 1)/2^{k+3} for the net of
    :func:`sawtooth_partial_fit_params`: the 2^{k−1} − j − 1 untouched teeth cost h/4 each (the
    constant ½ against a tent), the partly followed tooth costs h/4 − h/16."""
    k = v.integer(k, "k", minimum=1)
    j = v.integer(j, "j", minimum=0)
    if j > 2 ** (k - 1) - 1:
        raise ValueError(f"j must be at most 2^(k-1) - 1 = {2 ** (k - 1) - 1}, got {j}")
    return 0.25 - (4 * j + 1) / 2 ** (k + 3)
