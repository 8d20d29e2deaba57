"""Speed of :mod:`lib.ntk`, as ratios to baselines measured in the same run.

Rows (see :func:`run`):

``ntk_gram_vs_numpy``
    ``infinite_width(x1, x2, depth=3, activation="relu")`` with ``n = 4096``, ``d = 64`` in
    float32 and the default ``block_size`` (on CPU: row strips), against the same recursion
    written with NumPy arrays (``_numpy_relu_ntk``); the notes also give the untiled time.
    ``ratio = numpy seconds / lib seconds`` (> 1: lib is faster).

``ntk_gram_vs_floor``
    The same call against the floor named in the issue that set the CPU target (≤ 1.5×): the
    matmul at the machine's matmul rate plus ``depth`` passes of ``arccos`` over an ``n × n``
    float32 array,

        floor = 2 n² d / F  +  depth · t_arccos,

    with ``F`` as in ``ntk_gram_vs_roofline`` and ``t_arccos`` one jitted pass of lib's clipped
    float32 Cephes arccos (:func:`arccos_pass`, reading and writing ``n²`` floats), both timed
    in this run. (The earlier benchmark that measured the issue's 140 ms timed a pass of
    :func:`lib.activations.gaussian_expectations`, both outputs and sin θ; the order-0 arccos
    pass alone is cheaper, so this floor is at most that one.) It charges one materialized
    ``n × n`` pass per layer, as an implementation that materializes every layer pays (on a
    2-core cloud VM mostly the writing of its fresh output: compare the fill in the next row's
    notes); it is not a lower bound for the lib, which fuses the layers (the next row's fused
    baseline is the stricter one). The notes also give the time of ``x1 x2ᵀ`` itself, larger than
    ``2 n² d / F`` mostly because its ``n × n`` output is written to fresh memory.
    ``ratio = lib seconds / floor seconds``.

``ntk_gram_vs_fused_floor``
    The same call against a stricter floor (:func:`gram_floor`): the matmul and all ``depth``
    arccos passes fused into ONE pass with ONE output. Any implementation does at least this
    much work: the matmul, one transcendental per entry and layer, and writing an ``n × n``
    result (the lib writes two, Σ and Θ, and also computes sin θ and the Θ recursion). It is
    timed untiled (one fused pass, which XLA spreads over the cores) and in the lib's strips (a
    map over strips: on CPU each strip's pass runs on one core), and the faster of the two is
    the baseline; the notes give both, and the time of writing one more ``n × n`` float32 array
    (a fill), about what the second output costs: each call returns fresh arrays, and on a
    2-core cloud VM (Linux, glibc, 4 KiB pages) most of that time is the first-touch page
    faults of the new 64 MiB buffer (16 384 of them, about 30 ms).
    ``ratio = lib seconds / floor seconds``.

``ntk_gram_vs_roofline``
    The same call against a simple hardware estimate, both measured in this run:

        roofline = 2 n² d / F  +  t_pass,

    where ``F`` is the float32 FLOP rate of a large matmul (``2048 × 2048 @ 2048 × 2048``, jnp)
    and ``t_pass`` is the time of one elementwise jnp pass ``y = 2x + 1`` over an ``n × n``
    float32 array (it reads ``n²`` and writes ``n²`` floats: the same memory traffic as writing
    the two ``n × n`` outputs once, the least any implementation must do). The model charges
    nothing for the transcendental functions (arccos, square roots) of the recursion, so it is
    a lower bound that no CPU implementation reaches; ``ratio = lib seconds / roofline``.
    ``gflops`` is the matmul-equivalent rate ``2 n² d / seconds``.

``two_layer_closed_form_vs_jacobian``
    ``two_layer_empirical`` against ``empirical`` (per-example Jacobians of the same model,
    contracted) for ``n = 512``, ``d = 64``, ``M = 2048`` in float32.
    ``ratio = Jacobian seconds / closed-form seconds``.

``two_layer_closed_form_vs_floor``
    The same call against its matmul floor (:func:`two_layer_floor`): the products
    ``A Bᵀ + (X1 X2ᵀ) ⊙ (C Dᵀ)`` with ``(n, M)`` matrices ``A, B, C, D`` (no activations).
    ``ratio = lib seconds / floor seconds``.

Every timing excludes compilation (one warm-up call), blocks on the result
(``block_until_ready``) and is the median of a few repeats, interleaved with the repeats of the
rows it is compared with (:func:`benchmarks.timing.interleaved_medians`), so that the load of a
shared machine affects both sides of a ratio alike.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lib import activations, ntk

from .timing import interleaved_medians


def gram_floor(depth: int, block_size: int | None):
    """A jitted ``f(x1, x2)``: per strip of ``block_size`` rows (all rows when ``None``) the
    matmul ``x1 x2ᵀ/d`` followed by ``depth`` passes of ``arccos`` (a clipped, snapped arccos:
    :func:`lib.activations.relu_expectation` of order 0 at unit variances), one output."""

    def one_strip(xa, x2):
        c = (xa @ x2.T) / xa.shape[1]
        one = jnp.ones((), c.dtype)
        for _ in range(depth):
            c = activations.relu_expectation(one, one, c, order=0)
        return c

    @jax.jit
    def floor(x1, x2):
        if block_size is None or block_size >= x1.shape[0]:
            return one_strip(x1, x2)
        n1, d = x1.shape
        n_blocks = -(-n1 // block_size)
        rows = jnp.pad(x1, ((0, n_blocks * block_size - n1), (0, 0)))  # zero rows: cos θ = 0
        out = jax.lax.map(lambda xa: one_strip(xa, x2), rows.reshape(n_blocks, block_size, d))
        return out.reshape(n_blocks * block_size, -1)[:n1]

    return floor


@jax.jit
def arccos_pass(c):
    """One elementwise pass of lib's clipped ``arccos`` (the order-0 arc-cosine expectation at
    unit variances) over ``c``: the per-layer term of ``ntk_gram_vs_floor``."""
    one = jnp.ones((), c.dtype)
    return activations.relu_expectation(one, one, c, order=0)


@jax.jit
def two_layer_floor(a, b, c, e, x1, x2):
    """The matmuls of the closed-form two-layer NTK, ``A Bᵀ + (X1 X2ᵀ) ⊙ (C Eᵀ)``."""
    return a @ b.T + (x1 @ x2.T) * (c @ e.T)


def _numpy_relu_ntk(x1, x2, depth, w_std=1.0, b_std=0.0):
    """The ReLU NNGP/NTK recursion of :func:`lib.ntk.infinite_width`, vectorized NumPy."""
    d = x1.shape[1]
    q1 = w_std ** 2 * np.mean(x1 * x1, axis=1) + b_std ** 2
    q2 = w_std ** 2 * np.mean(x2 * x2, axis=1) + b_std ** 2
    sigma = (w_std ** 2 / d) * (x1 @ x2.T) + b_std ** 2
    theta = sigma
    for _ in range(depth):
        norm = np.sqrt(q1)[:, None] * np.sqrt(q2)[None, :]
        cos = np.clip(sigma / norm, -1.0, 1.0)
        ang = np.arccos(cos)
        e_ff = norm * (np.sqrt(1.0 - cos * cos) + (np.pi - ang) * cos) / (2 * np.pi)
        e_dd = (np.pi - ang) / (2 * np.pi)
        sigma = w_std ** 2 * e_ff + b_std ** 2
        theta = sigma + w_std ** 2 * e_dd * theta
        q1 = w_std ** 2 * q1 / 2 + b_std ** 2
        q2 = w_std ** 2 * q2 / 2 + b_std ** 2
    return sigma, theta


def bench_analytic(n: int = 4096, d: int = 64, depth: int = 3, repeats: int = 7) -> list[dict]:
    key = jax.random.key(0)
    x = jax.random.normal(key, (n, d), dtype=jnp.float32)
    x2 = x + 0.0  # a distinct array: the general (x1, x2) path
    strip = ntk._auto_block_size(n, n)
    floor_strips, floor_untiled = gram_floor(depth, strip), gram_floor(depth, None)
    matmul_nd = jax.jit(lambda u, w: u @ w.T)
    m = 2048
    a = jax.random.normal(jax.random.key(1), (m, m), dtype=jnp.float32)
    matmul = jax.jit(lambda u: u @ u)
    big = jax.random.normal(jax.random.key(2), (n, n), dtype=jnp.float32)
    ew = jax.jit(lambda u: 2.0 * u + 1.0)
    cosines = jnp.tanh(big)  # in (-1, 1), every branch of the arccos
    fill = jax.jit(lambda s: jnp.broadcast_to(s, (n, n)))
    t = interleaved_medians({
        "lib": lambda: ntk.infinite_width(x, x2, depth=depth),
        "floor_strips": lambda: floor_strips(x, x2),
        "floor_untiled": lambda: floor_untiled(x, x2),
        "matmul_nd": lambda: matmul_nd(x, x2),
        "arccos": lambda: arccos_pass(cosines),
        "fill": lambda: fill(jnp.float32(1.0)),
        "matmul": lambda: matmul(a),
        "pass": lambda: ew(big)}, repeats)
    t_untiled = interleaved_medians(
        {"untiled": lambda: ntk.infinite_width(x, x2, depth=depth, block_size=n)}, 2)["untiled"]
    del big, cosines

    xn, xn2 = np.asarray(x), np.asarray(x2)
    t_np = interleaved_medians({"np": lambda: _numpy_relu_ntk(xn, xn2, depth)}, 2)["np"]
    # Same numbers as the baseline (float32 rounding only).
    # NumPy does not snap cos θ ≈ 1 to 1, so on the diagonal its arccos is off by √ε:
    # compare off the diagonal.
    k = ntk.infinite_width(x, x2, depth=depth)
    ref = _numpy_relu_ntk(xn, xn2, depth)[1]
    off = ~np.eye(n, dtype=bool)
    max_rel = float(np.max(np.abs(np.asarray(k.ntk) - ref)[off]) / np.max(np.abs(ref)))

    peak = 2 * m ** 3 / t["matmul"]
    flops = 2 * n * n * d
    roofline = flops / peak + t["pass"]
    t_lib = t["lib"]
    t_floor = flops / peak + depth * t["arccos"]
    t_fused = min(t["floor_strips"], t["floor_untiled"])
    name = f"(n={n}, d={d}, depth={depth}, relu, f32)"

    def row(kind, baseline, t_base, ratio, notes):
        return dict(benchmark=f"ntk_gram_vs_{kind} {name}", seconds=t_lib, baseline=baseline,
                    baseline_seconds=t_base, ratio=ratio, gflops=flops / t_lib / 1e9, notes=notes)

    return [
        row("floor", "floor: 2n²d/F + 1 arccos pass/layer", t_floor, t_lib / t_floor,
            f"ratio = lib/floor (target <= 1.5); 2n²d/F {flops / peak * 1e3:.1f} ms + {depth} x "
            f"arccos pass over n² {t['arccos'] * 1e3:.1f} ms; x1 x2ᵀ itself "
            f"{t['matmul_nd'] * 1e3:.1f} ms"),
        row("fused_floor", "fused floor: matmul + arccos ×depth in one pass, one output",
            t_fused, t_lib / t_fused,
            f"ratio = lib/fused floor (1 = floor); the faster of untiled "
            f"{t['floor_untiled'] * 1e3:.1f} ms and strips of {strip} rows "
            f"{t['floor_strips'] * 1e3:.1f} ms; writing one more n×n array (the second output) "
            f"{t['fill'] * 1e3:.1f} ms"),
        row("numpy", "numpy same recursion", t_np, t_np / t_lib,
            f"ratio = numpy/lib (>1: lib faster); default block_size (CPU: strips of {strip} "
            f"rows); untiled (block_size=n): {t_untiled:.3g} s; max off-diagonal rel. diff of "
            f"ntk vs numpy {max_rel:.1e}"),
        row("roofline", "roofline: 2n²d/F + t_pass", roofline, t_lib / roofline,
            f"ratio = lib/roofline (1 = bound, not reachable: no transcendentals); "
            f"F = {peak / 1e9:.1f} GFLOP/s ({m}² matmul), t_pass = {t['pass'] * 1e3:.1f} ms "
            f"(n² read+write)"),
    ]


def bench_two_layer(n: int = 512, d: int = 64, m: int = 2048, repeats: int = 5) -> list[dict]:
    kx, kw, ka = jax.random.split(jax.random.key(3), 3)
    x = jax.random.normal(kx, (n, d), dtype=jnp.float32) / np.sqrt(d)
    W = jax.random.normal(kw, (m, d), dtype=jnp.float32)
    a = jax.random.normal(ka, (m,), dtype=jnp.float32)
    scale = 1.0 / np.sqrt(m)
    x2 = x + 0.0

    def f(p, z):
        return scale * jax.nn.relu(z @ p["W"].T) @ p["a"]

    params = {"W": W, "a": a}
    mats = [jax.random.normal(k, (n, m), dtype=jnp.float32)
            for k in jax.random.split(jax.random.key(4), 4)]
    t = interleaved_medians({
        "closed": lambda: ntk.two_layer_empirical(x, x2, W, a, activation="relu", scale=scale),
        "jac": lambda: ntk.empirical(f, params, x, x2),
        "floor": lambda: two_layer_floor(*mats, x, x2)}, repeats)
    closed = ntk.two_layer_empirical(x, x2, W, a, activation="relu", scale=scale)
    jac = ntk.empirical(f, params, x, x2)
    max_rel = float(jnp.max(jnp.abs(closed - jac)) / jnp.max(jnp.abs(jac)))
    flops = 2 * 2 * n * n * m + 2 * 2 * n * m * d + 2 * n * n * d
    name = f"(n={n}, d={d}, M={m}, relu, f32)"
    return [dict(
        benchmark=f"two_layer_closed_form_vs_jacobian {name}",
        seconds=t["closed"], baseline="empirical (per-example Jacobian)",
        baseline_seconds=t["jac"], ratio=t["jac"] / t["closed"],
        gflops=flops / t["closed"] / 1e9,
        notes=f"ratio = jacobian/closed form; P = {m * d + m} parameters; "
              f"max rel. diff {max_rel:.1e}"), dict(
        benchmark=f"two_layer_closed_form_vs_floor {name}",
        seconds=t["closed"], baseline="floor: its matmuls A Bᵀ + (X1 X2ᵀ)⊙(C Dᵀ)",
        baseline_seconds=t["floor"], ratio=t["closed"] / t["floor"],
        gflops=flops / t["closed"] / 1e9, notes="ratio = lib/floor (1 = floor)")]


def run() -> list[dict]:
    """All :mod:`lib.ntk` benchmark rows (see the module docstring)."""
    return bench_analytic() + bench_two_layer()


if __name__ == "__main__":
    for row in run():
        print(row)
