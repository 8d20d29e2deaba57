"""Timing helper shared by the benchmarks: interleaved medians on a shared, noisy machine."""
from __future__ import annotations

import statistics
import time

import jax


def interleaved_medians(fns: dict, repeats: int) -> dict:
    """Median wall seconds of each zero-argument function, after one warm-up (compiling) call
    each; the repeats are interleaved (``a b c a b c …``) so that a change of load on a shared
    machine affects every row alike. Each result is blocked on and dropped before the next."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}
