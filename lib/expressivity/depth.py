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
           "yarotsky_square_params"]


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


def count_regions_on_segment(params, start, end, *, resolution: int = 2 ** 16) -> int:
    """Number of activation regions met by the segment from ``start`` to ``end``.

    Counts ``1 + #{i : pattern(x_i) ≠ pattern(x_{i+1})}`` on ``resolution`` evenly spaced points.
    This is exact once every region's intersection with the segment contains a grid point; a
    region thinner than the grid spacing is missed, so callers should check that doubling
    ``resolution`` leaves the count unchanged.
    """
    _check_params(params)
    start = v.float_array(start, "start", ndim=1)
    end = v.float_array(end, "end", ndim=1)
    v.same_dim(start, end, "start", "end")
    if start.shape[0] != params[0][0].shape[0]:
        raise ValueError(f"start has {start.shape[0]} coordinates but the network expects "
                         f"{params[0][0].shape[0]} inputs")
    resolution = v.integer(resolution, "resolution", minimum=2)
    return 1 + int(_changes_on_segment(params, start, end, resolution))


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
