"""Speed of :mod:`lib.ntk`, as ratios to baselines measured in the same run.

Rows (see :func:`run`):

``ntk_gram_vs_numpy``
    ``infinite_width(x1, x2, depth=3, activation="relu")`` with ``n = 4096``, ``d = 64`` in
    float32 and the default ``block_size`` (on CPU: row strips), against the same recursion
    written with NumPy arrays (``_numpy_relu_ntk``); the notes also give the untiled time.
    ``ratio = numpy seconds / lib seconds`` (> 1: lib is faster).

``ntk_gram_vs_roofline``
    The same call against a simple hardware estimate, both measured in this run:

        roofline = 2 n² d / F  +  t_pass,

    where ``F`` is the float32 FLOP rate of a large matmul (``2048 × 2048 @ 2048 × 2048``, jnp)
    and ``t_pass`` is the time of one elementwise jnp pass ``y = 2x + 1`` over an ``n × n``
    float32 array (it reads ``n²`` and writes ``n²`` floats: the same memory traffic as writing
    the two ``n × n`` outputs once, the least any implementation must do). The model charges
    nothing for the transcendental functions (arccos, square roots) of the recursion, so it is
    a lower bound; ``ratio = lib seconds / roofline`` (1 is the bound). ``gflops`` is the
    matmul-equivalent rate ``2 n² d / seconds`` and ``notes`` gives ``F`` and ``t_pass``, and
    ``t_ew``, the time of one fused pass over ``n²`` of ``lib.activations.gaussian_expectations``
    (float32 ``arccos`` and square roots: the transcendental work of one ReLU layer), so that a
    reader can see which term dominates on this machine: on CPU, ``matmul + depth · t_ew`` is
    the more realistic floor.

``two_layer_closed_form_vs_jacobian``
    ``two_layer_empirical`` against ``empirical`` (per-example Jacobians of the same model,
    contracted) for ``n = 512``, ``d = 64``, ``M = 2048`` in float32.
    ``ratio = Jacobian seconds / closed-form seconds``.

Every timing excludes compilation (one warm-up call), blocks on the result
(``block_until_ready``) and is the median of a few repeats.
"""
from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from lib import activations, ntk


def _median_time(fn, *, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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


def bench_analytic(n: int = 4096, d: int = 64, depth: int = 3, repeats: int = 3) -> list[dict]:
    key = jax.random.key(0)
    x = jax.random.normal(key, (n, d), dtype=jnp.float32)
    x2 = x + 0.0  # a distinct array: the general (x1, x2) path
    t_lib = _median_time(lambda: ntk.infinite_width(x, x2, depth=depth), repeats=repeats)
    t_untiled = _median_time(lambda: ntk.infinite_width(x, x2, depth=depth, block_size=n),
                             repeats=repeats)
    strip = ntk._auto_block_size(n, n)

    xn, xn2 = np.asarray(x), np.asarray(x2)
    t_np = _median_time(lambda: _numpy_relu_ntk(xn, xn2, depth), repeats=repeats, warmup=0)
    # Same numbers as the baseline (float32 rounding only).
    # NumPy does not snap cos θ ≈ 1 to 1, so on the diagonal its arccos is off by √ε:
    # compare off the diagonal.
    k = ntk.infinite_width(x, x2, depth=depth)
    ref = _numpy_relu_ntk(xn, xn2, depth)[1]
    off = ~np.eye(n, dtype=bool)
    max_rel = float(np.max(np.abs(np.asarray(k.ntk) - ref)[off]) / np.max(np.abs(ref)))

    m = 2048
    a = jax.random.normal(jax.random.key(1), (m, m), dtype=jnp.float32)
    matmul = jax.jit(lambda u: u @ u)
    t_mm = _median_time(lambda: matmul(a), repeats=repeats)
    peak = 2 * m ** 3 / t_mm

    big = jax.random.normal(jax.random.key(2), (n, n), dtype=jnp.float32)
    ew = jax.jit(lambda u: 2.0 * u + 1.0)
    t_pass = _median_time(lambda: ew(big), repeats=repeats)
    # one layer's elementwise work: lib's ReLU expectations (float32 Cephes arccos, sin θ, snap)
    trans = jax.jit(lambda u: activations.gaussian_expectations(1.0, 1.0, u))
    t_ew = _median_time(lambda: trans(big), repeats=repeats)

    flops = 2 * n * n * d
    roofline = flops / peak + t_pass
    return [
        dict(benchmark=f"ntk_gram_vs_numpy (n={n}, d={d}, depth={depth}, relu, f32)",
             seconds=t_lib, baseline="numpy same recursion", baseline_seconds=t_np,
             ratio=t_np / t_lib, gflops=flops / t_lib / 1e9,
             notes=(f"ratio = numpy/lib (>1: lib faster); default block_size (CPU: strips of "
                    f"{strip} rows); untiled (block_size=n): {t_untiled:.3g} s; max off-diagonal "
                    f"rel. diff of ntk vs numpy {max_rel:.1e}")),
        dict(benchmark=f"ntk_gram_vs_roofline (n={n}, d={d}, depth={depth}, relu, f32)",
             seconds=t_lib, baseline="roofline: 2n²d/F + t_pass", baseline_seconds=roofline,
             ratio=t_lib / roofline, gflops=flops / t_lib / 1e9,
             notes=(f"ratio = lib/roofline (1 = bound); F = {peak / 1e9:.1f} GFLOP/s "
                    f"({m}² matmul), t_pass = {t_pass * 1e3:.1f} ms (n² read+write), "
                    f"t_ew = {t_ew * 1e3:.1f} ms (one pass of lib's ReLU expectations over n²); "
                    f"compute-aware floor 2n²d/F + depth·t_ew = "
                    f"{(flops / peak + depth * t_ew) * 1e3:.0f} ms")),
    ]


def bench_two_layer(n: int = 512, d: int = 64, m: int = 2048, repeats: int = 3) -> list[dict]:
    kx, kw, ka = jax.random.split(jax.random.key(3), 3)
    x = jax.random.normal(kx, (n, d), dtype=jnp.float32) / np.sqrt(d)
    W = jax.random.normal(kw, (m, d), dtype=jnp.float32)
    a = jax.random.normal(ka, (m,), dtype=jnp.float32)
    scale = 1.0 / np.sqrt(m)
    x2 = x + 0.0

    def f(p, z):
        return scale * jax.nn.relu(z @ p["W"].T) @ p["a"]

    params = {"W": W, "a": a}
    t_closed = _median_time(
        lambda: ntk.two_layer_empirical(x, x2, W, a, activation="relu", scale=scale),
        repeats=repeats)
    t_jac = _median_time(lambda: ntk.empirical(f, params, x, x2), repeats=repeats)
    closed = ntk.two_layer_empirical(x, x2, W, a, activation="relu", scale=scale)
    jac = ntk.empirical(f, params, x, x2)
    max_rel = float(jnp.max(jnp.abs(closed - jac)) / jnp.max(jnp.abs(jac)))
    flops = 2 * 2 * n * n * m + 2 * 2 * n * m * d + 2 * n * n * d
    return [dict(
        benchmark=f"two_layer_closed_form_vs_jacobian (n={n}, d={d}, M={m}, relu, f32)",
        seconds=t_closed, baseline="empirical (per-example Jacobian)", baseline_seconds=t_jac,
        ratio=t_jac / t_closed, gflops=flops / t_closed / 1e9,
        notes=f"ratio = jacobian/closed form; P = {m * d + m} parameters; "
              f"max rel. diff {max_rel:.1e}")]


def run() -> list[dict]:
    """All :mod:`lib.ntk` benchmark rows (see the module docstring)."""
    return bench_analytic() + bench_two_layer()


if __name__ == "__main__":
    for row in run():
        print(row)
