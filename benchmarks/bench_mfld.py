"""Speed of `lib.mfld.simulate` on the two-layer mean-field network vs NumPy baselines.

One MFLD step on N = 4096 particles θ_j = (a_j, w_j) ∈ R^{1+d}, n = 1024 samples, d = 32:
residuals r = f_μ(X) − y, drift_j = ∇_θ[(1/n) Σ_i r_i a σ(wᵀx_i) + reg‖θ‖²/2] at θ_j, then
θ_j ← θ_j − η drift_j + √(2ηλ) ξ_j. Everything in float32. Compile time is excluded (a warm-up
call with the same shapes and step count runs first) and the result is block_until_ready'd.

Baselines, measured in the same run on the same data:
- ``numpy per-particle loop``: the same update computed particle by particle in a Python loop
  (one pass for f_μ, one for the drifts); only a couple of steps are timed and the per-step
  time is used (the cost is exactly linear in the number of steps).
- ``numpy vectorized``: the same update as a few dense NumPy matrix products and in-place
  elementwise operations per step (the honest baseline: the same arithmetic, no Python loop).
Both baselines are checked to produce the same drift as `lib.mfld` before timing.

Floor, measured in the same run: ``floor_run``, the same number of steps of
``P ← P − η [0, tanh(W Xᵀ) X / n]`` in one jitted ``lax.scan``: the two ``(N, n, d)`` matmuls
and one activation pass of a step, without the loss, the matrix-vector products, the derivative
pass and the noise. Its ratio row is ``lib seconds / floor seconds``; the notes also give the two
matmuls alone (``matmul-only``). The lib and the floor runs are interleaved
(:func:`benchmarks.timing.interleaved_medians`).
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from lib import mfld

from .timing import interleaved_medians

N_PARTICLES, N_SAMPLES, DIM = 4096, 1024, 32
STEP, TEMP, REG = 0.05, 1e-4, 1e-3
JAX_STEPS = 100
REPEATS = 5
LOOP_STEPS = 2
VEC_STEPS = 10


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, DIM)).astype(np.float32) / np.sqrt(DIM)
    y = np.tanh(X @ rng.standard_normal(DIM)).astype(np.float32)
    P = rng.standard_normal((N_PARTICLES, 1 + DIM)).astype(np.float32)
    return P, X, y


def floor_run(n_steps: int, activation=jnp.tanh):
    """A jitted ``f(P, X)``: ``n_steps`` of ``P ← P − η [0, σ(W Xᵀ) X / n]`` (``W = P[:, 1:]``,
    ``σ = activation``; ``lambda z: z`` gives the matmuls alone) in one ``lax.scan``."""

    @jax.jit
    def run(P, X):
        def step(P, _):
            g = activation(P[:, 1:] @ X.T) @ X
            return P.at[:, 1:].add(-STEP * g / X.shape[0]), None
        return jax.lax.scan(step, P, None, length=n_steps)[0]

    return run


def _loop_drift(P, X, y):
    n, N = X.shape[0], P.shape[0]
    f = np.zeros(n, np.float32)
    acts = []
    for j in range(N):                       # f_μ(x_i) = (1/N) Σ_j a_j tanh(w_jᵀ x_i)
        s = np.tanh(X @ P[j, 1:])
        acts.append(s)
        f += P[j, 0] * s
    r = f / N - y
    G = np.empty_like(P)
    for j in range(N):                       # ∇_θ of the first variation at θ_j
        a, s = P[j, 0], acts[j]
        G[j, 0] = r @ s / n + REG * a
        G[j, 1:] = X.T @ (r * a * (1 - s * s)) / n + REG * P[j, 1:]
    return G


def vectorized_drift(P, X, y):
    """The two-layer tanh drift of ``lib.mfld.two_layer_drift`` (square loss, ``REG``) in NumPy."""
    n, N = X.shape[0], P.shape[0]
    a, W = P[:, 0], P[:, 1:]
    S = W @ X.T                              # (N, n), particles-major, then in-place ops
    np.tanh(S, out=S)
    r = a @ S / N - y
    Ga = S @ r / n + REG * a
    np.multiply(S, S, out=S)                 # S ← (1 − S²) · a_j · r_i, reusing the buffer
    np.subtract(1, S, out=S)
    S *= a[:, None]
    S *= r[None, :]
    Gw = S @ X / n + REG * W
    return np.concatenate([Ga[:, None], Gw], axis=1)


def _numpy_run(drift_fn, P, X, y, steps, rng):
    scale = np.float32(np.sqrt(2 * STEP * TEMP))
    for _ in range(steps):
        P = P - np.float32(STEP) * drift_fn(P, X, y) + scale * rng.standard_normal(
            P.shape, dtype=np.float32)
    return P


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run():
    P, X, y = _problem()
    drift = mfld.two_layer_drift(jnp.asarray(X), jnp.asarray(y), reg=REG)
    P_j = jnp.asarray(P)
    ref = np.asarray(drift(P_j))
    scale = np.max(np.abs(ref))
    for fn in (vectorized_drift, _loop_drift):
        err = np.max(np.abs(fn(P, X, y) - ref)) / scale
        if not err < 1e-3:
            raise AssertionError(f"{fn.__name__} disagrees with lib.mfld drift: rel err {err:.2g}")

    def jax_run(key):
        return mfld.simulate(drift, P_j, key, step_size=STEP, temperature=TEMP,
                             n_steps=JAX_STEPS).block_until_ready()

    compile_s, _ = _time(lambda: jax_run(jax.random.key(0)))        # compile + one run
    X_j = jnp.asarray(X)
    floor, matmuls = floor_run(JAX_STEPS), floor_run(JAX_STEPS, lambda z: z)
    t = interleaved_medians({"lib": lambda: jax_run(jax.random.key(1)),
                             "floor": lambda: floor(P_j, X_j),
                             "matmuls": lambda: matmuls(P_j, X_j)}, REPEATS)
    jax_step = t["lib"] / JAX_STEPS
    floor_step, matmul_step = t["floor"] / JAX_STEPS, t["matmuls"] / JAX_STEPS

    rng = np.random.default_rng(1)
    vec_s, _ = _time(lambda: _numpy_run(vectorized_drift, P, X, y, VEC_STEPS, rng))
    vec_step = vec_s / VEC_STEPS
    loop_s, _ = _time(lambda: _numpy_run(_loop_drift, P, X, y, LOOP_STEPS, rng))
    loop_step = loop_s / LOOP_STEPS

    name = f"mfld step, two-layer net (N={N_PARTICLES}, n={N_SAMPLES}, d={DIM}, float32)"
    common = (f"seconds per MFLD step; lib.mfld.simulate: {JAX_STEPS} steps in one jitted scan "
              f"({jax_step and 1 / jax_step:.1f} steps/s; compile+first run {compile_s:.2f} s "
              f"excluded; median of {REPEATS})")
    return [
        {"benchmark": name, "seconds": jax_step, "baseline": "floor: 2 matmuls + 1 tanh pass",
         "baseline_seconds": floor_step, "ratio": jax_step / floor_step,
         "notes": common + f"; ratio = lib/floor (1 = floor); the two matmuls alone "
                           f"{matmul_step * 1e3:.2f} ms/step (lib/matmul-only = "
                           f"{jax_step / matmul_step:.2f})"},
        {"benchmark": name, "seconds": jax_step, "baseline": "numpy per-particle loop",
         "baseline_seconds": loop_step, "ratio": loop_step / jax_step,
         "notes": common + f"; baseline: Python loop over particles, {LOOP_STEPS} steps timed"},
        {"benchmark": name, "seconds": jax_step, "baseline": "numpy vectorized",
         "baseline_seconds": vec_step, "ratio": vec_step / jax_step,
         "notes": common + f"; baseline: dense NumPy matrix products, {VEC_STEPS} steps timed"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
