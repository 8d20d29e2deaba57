"""`make gpu-check`: prove the GPU path — the kernels at GPU sizes against floors measured in the
same run, and every chapter at a large ``BOOK_SCALE``.

Usage::

    python -m benchmarks.gpu_check                  # GPU: benchmarks + every chapter, BOOK_SCALE=8
    python -m benchmarks.gpu_check --smoke          # any backend: small sizes, no chapters (< 30 s)
    python -m benchmarks.gpu_check --smoke --chapters --book-scale 2 --no-bench book/part3/ntk.md

Modes
-----
Without ``--smoke`` the script **fails** (exit status 2, before anything runs) unless
``jax.default_backend()`` is ``"gpu"``: a CUDA plugin that did not load makes JAX fall back to
the CPU silently, and this command exists to catch that (it never falls back to the smoke
version by itself: that is ``--smoke``, ``make gpu-check-smoke``). It then runs the two parts
below, the chapters first (each in its own process, while this one holds no GPU memory beyond
its context; GPU memory is allocated as needed, up to 90 % of the device), then the benchmarks:

1. the benchmarks at GPU sizes (each row a ratio to a floor timed in the same run, the timings
   interleaved and the median of several repeats):

   * ``ntk_gram``: :func:`lib.ntk.infinite_width` (``d = 64``, depth 3, ReLU, float32, tiled)
     for a row block ``x1 = X[:m]`` against all ``n = 10⁵`` rows ``x2 = X``. The full pair of
     ``n × n`` float32 kernels is 80 GB (NNGP and NTK, 40 GB each), more than an 80 GB GPU
     holds with the inputs and temporaries, so ``m`` is the largest multiple of the strip height
     whose two outputs fill at most 40 % of ``bytes_limit`` (all of ``n`` where that fits; rows
     are independent, so the full kernel takes ``n/m`` times as long — the row shows both). The
     floor is the same strips with one matmul ``x1 x2ᵀ`` and ``depth`` passes of a clipped
     ``arccos`` (:func:`lib.activations.relu_expectation` of order 0) per strip and one output:
     the least work of the recursion (one transcendental pass per layer). Peak device memory is
     ``memory_stats()["peak_bytes_in_use"]`` after the first (compiling) call, next to the bytes
     of the two outputs.
   * ``two_layer_empirical``: the closed-form empirical NTK for ``n = 16384`` points and
     ``M = 4096`` units, against its matmul floor ``A Bᵀ + (X1 X2ᵀ) ⊙ (C Dᵀ)`` of the same
     shapes (no activations).
   * ``mfld_step``: one step of :func:`lib.mfld.simulate` with the two-layer drift for
     ``N = 10⁵`` particles, ``n = 1024`` samples, ``d = 32``, against the floor step
     ``P ← P − η [0, tanh(W Xᵀ) X]``: the step's two matmuls and one activation pass.

2. every chapter of ``_toc.yml`` (``chapters.toc_notebooks()``) in a fresh kernel (nbclient, the
   chapter read as myst-nb reads it), at ``BOOK_SCALE=8`` (``--book-scale``) and ``BOOK_SEED=0``
   (``--book-seed``), one after another. A chapter passes when every cell runs; the table gives
   its seconds and, for a failure, the first failing assertion (its message, else its source
   line).

The tables go to ``benchmarks/results/gpu.md`` (``--out``) and to standard output.

``--smoke`` runs the same code on any backend at small sizes (a Gram of ``n = 1024``, the
two-layer NTK for ``n = 256``, ``M = 512``, an MFLD step for ``N = 1024`` particles) and the
chapters only with ``--chapters``, writing ``benchmarks/results/gpu-smoke.md``. ``make test``
runs it, so this script cannot rot unseen; its own check is that every benchmark's result is
finite and agrees with a reference (the Gram with the untiled path, the two-layer NTK with
:func:`lib.ntk.empirical`, the MFLD drift with the NumPy drift of ``bench_mfld``; these
comparisons at full float32 matmul precision, since GPUs multiply float32 in TF32 by default). A smoke run
exits with status 1 when one of those checks or a chapter fails; so does a GPU run.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

# GPU memory: allocated as needed (not 75 % up front), up to 90 % of the device, so that the
# chapters' kernels, separate processes started before the benchmarks run here, find the GPU
# free; the chapters inherit both settings. A caller's setting wins.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.90")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lib import mfld, ntk  # noqa: E402

from . import bench_mfld, bench_ntk  # noqa: E402
from .timing import interleaved_medians  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"

SIZES = {  # mode: (gram n, gram strip rows, two-layer n, two-layer M, mfld N, mfld n, mfld steps)
    "gpu": dict(gram_n=100_000, gram_block=2048, tl_n=16_384, tl_m=4096,
                mfld_N=100_000, mfld_n=1024, mfld_steps=50, repeats=5),
    "smoke": dict(gram_n=1024, gram_block=128, tl_n=256, tl_m=512,
                  mfld_N=1024, mfld_n=256, mfld_steps=10, repeats=2),
}
GRAM_D, GRAM_DEPTH, MFLD_D = 64, 3, 32


# ------------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------------

def peak_bytes() -> int | None:
    """``peak_bytes_in_use`` of the first device, where the backend reports it (GPU: yes)."""
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def bytes_limit() -> int | None:
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("bytes_limit")


# ------------------------------------------------------------------------------------------------
# benchmarks
# ------------------------------------------------------------------------------------------------

def _row(benchmark, seconds, baseline, baseline_seconds, notes, ok=True):
    return dict(benchmark=benchmark, seconds=seconds, baseline=baseline,
                baseline_seconds=baseline_seconds, ratio=seconds / baseline_seconds, ok=ok,
                notes=notes)


def bench_gram(n: int, block: int, repeats: int) -> list[dict]:
    d, depth = GRAM_D, GRAM_DEPTH
    x = jax.random.normal(jax.random.key(0), (n, d), dtype=jnp.float32)
    out_row_bytes = 2 * n * 4                                # NNGP + NTK, float32
    limit = bytes_limit()
    rows = n if limit is None else min(n, int(0.4 * limit) // out_row_bytes)
    rows = max(block, rows // block * block)
    x1 = x[:rows]
    before = peak_bytes()
    lib = lambda: ntk.infinite_width(x1, x, depth=depth, block_size=block)  # noqa: E731
    jax.block_until_ready(lib())
    peak = peak_bytes()
    floor_fn = bench_ntk.gram_floor(depth, block)
    t = interleaved_medians({"lib": lib, "floor": lambda: floor_fn(x1, x)}, repeats)

    # checks: the timed result is finite; two strips equal the untiled path on a few rows (the
    # rounding of x1 x2ᵀ only; at full float32 matmul precision, as GPUs default to TF32)
    k = lib()
    ok = bool(jnp.all(jnp.isfinite(k.ntk)))
    del k
    with jax.default_matmul_precision("highest"):
        tiled = ntk.infinite_width(x1[:2 * block], x, depth=depth, block_size=block).ntk[:8]
        head = ntk.infinite_width(x1[:8], x, depth=depth).ntk                # 8 rows: untiled
    err = float(jnp.max(jnp.abs(tiled - head)) / jnp.max(jnp.abs(head)))
    ok = ok and err < 1e-5
    mem = ("peak memory n/a on this backend" if peak is None else
           f"peak device memory {peak / 2**30:.2f} GiB (before: {(before or 0) / 2**30:.2f}; "
           f"the two outputs: {rows * out_row_bytes / 2**30:.2f} GiB)")
    full = t["lib"] * n / rows
    return [_row(f"ntk_gram (rows {rows} of n={n}, d={d}, depth={depth}, relu, f32, "
                 f"strips of {block})", t["lib"], "floor: matmul + 1 arccos pass/layer",
                 t["floor"],
                 f"ratio = lib/floor (1 = floor); full n×n: {full:.3g} s (×{n / rows:.3g}); "
                 f"{mem}; max rel. diff vs untiled {err:.1e}", ok)]


def bench_two_layer(n: int, m: int, repeats: int) -> list[dict]:
    d = GRAM_D
    ks = jax.random.split(jax.random.key(1), 7)
    x = jax.random.normal(ks[0], (n, d), dtype=jnp.float32) / np.sqrt(d)
    W = jax.random.normal(ks[1], (m, d), dtype=jnp.float32)
    a = jax.random.normal(ks[2], (m,), dtype=jnp.float32)
    scale = 1.0 / np.sqrt(m)
    x2 = x + 0.0
    mats = [jax.random.normal(k, (n, m), dtype=jnp.float32) for k in ks[3:7]]
    t = interleaved_medians({
        "lib": lambda: ntk.two_layer_empirical(x, x2, W, a, activation="relu", scale=scale),
        "floor": lambda: bench_ntk.two_layer_floor(*mats, x, x2)}, repeats)

    def f(p, z):
        return scale * jax.nn.relu(z @ p["W"].T) @ p["a"]

    k = min(n, 64)  # check against the per-example Jacobians on a corner (full f32 matmuls)
    with jax.default_matmul_precision("highest"):
        closed = ntk.two_layer_empirical(x[:k], x2[:k], W, a, activation="relu", scale=scale)
        jac = ntk.empirical(f, {"W": W, "a": a}, x[:k], x2[:k])
    err = float(jnp.max(jnp.abs(closed - jac)) / jnp.max(jnp.abs(jac)))
    return [_row(f"two_layer_empirical (n={n}, d={d}, M={m}, relu, f32)", t["lib"],
                 "floor: its matmuls A Bᵀ + (X1 X2ᵀ)⊙(C Dᵀ)", t["floor"],
                 f"ratio = lib/floor; max rel. diff vs jacobian NTK ({k} points) {err:.1e}",
                 err < 1e-4)]


def bench_mfld_step(N: int, n: int, steps: int, repeats: int) -> list[dict]:
    d = MFLD_D
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)
    y = np.tanh(X @ rng.standard_normal(d)).astype(np.float32)
    P = rng.standard_normal((N, 1 + d)).astype(np.float32)
    drift = mfld.two_layer_drift(jnp.asarray(X), jnp.asarray(y), reg=bench_mfld.REG)
    Pj, Xj = jnp.asarray(P), jnp.asarray(X)
    floor_fn = bench_mfld.floor_run(steps)
    t = interleaved_medians({
        "lib": lambda: mfld.simulate(drift, Pj, jax.random.key(0), step_size=bench_mfld.STEP,
                                     temperature=bench_mfld.TEMP, n_steps=steps),
        "floor": lambda: floor_fn(Pj, Xj)}, repeats)
    k = min(N, 512)  # check the drift against the NumPy one on some particles
    ref = bench_mfld.vectorized_drift(P, X, y)[:k]
    with jax.default_matmul_precision("highest"):
        got = np.asarray(drift(Pj))[:k]
    err = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
    return [_row(f"mfld_step (N={N}, n={n}, d={d}, tanh, f32)", t["lib"] / steps,
                 "floor: 2 matmuls + 1 tanh pass", t["floor"] / steps,
                 f"seconds per step ({steps} steps in one scan); ratio = lib/floor; "
                 f"max rel. diff of the drift vs numpy {err:.1e}", err < 1e-3)]


# ------------------------------------------------------------------------------------------------
# chapters
# ------------------------------------------------------------------------------------------------

def _first_failure(err) -> str:
    """``AssertionError: message`` of a failed cell, else the failing source line."""
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    evalue = (evalue or "").strip().splitlines()
    if evalue:
        return f"{ename}: {evalue[0][:200]}"
    text = str(getattr(err, "traceback", "") or err)
    lines = [ln for ln in text.splitlines() if "---->" in ln]  # the cell's frame comes first
    line = re.sub(r"\x1b\[[0-9;]*m", "", lines[0]).split("---->")[-1].strip() if lines else ""
    line = re.sub(r"^\d+\s+", "", line)  # IPython's line number
    return f"{ename} at `{line[:200]}`" if line else ename


def run_chapter(path: Path, scale: int, seed: int, timeout: int) -> dict:
    """Execute one chapter in a fresh kernel; ``{chapter, seconds, passed, failure}``."""
    import nbclient
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import execution_cache

    nb = execution_cache.read_notebook(path)
    os.environ.update(BOOK_SCALE=str(scale), BOOK_SEED=str(seed))
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    try:
        client.execute()
        failure = ""
    except Exception as err:  # noqa: BLE001 — a failing cell, a timeout, a dead kernel
        failure = _first_failure(err)
    name = path.relative_to(ROOT) if ROOT in path.parents else path
    return dict(chapter=str(name), seconds=time.perf_counter() - t0,
                passed=not failure, failure=failure)


def chapter_paths(selected: list[str]) -> list[Path]:
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from chapters import toc_notebooks

    paths = [p.resolve() for p in toc_notebooks()]
    if not selected:
        return paths
    wanted = [(ROOT / s).resolve() for s in selected]
    return [p for p in paths if any(p == w or w in p.parents for w in wanted)]


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------

def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def report(bench_rows, chapter_rows, args, header) -> str:
    lines = [f"# `make gpu-check`{' --smoke' if args.smoke else ''}", "", *header, ""]
    if bench_rows:
        cols = ["benchmark", "seconds", "baseline", "baseline_seconds", "ratio", "ok", "notes"]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in bench_rows]
        lines.append("")
    if chapter_rows:
        lines += [f"Chapters at BOOK_SCALE={args.book_scale}, BOOK_SEED={args.book_seed} "
                  "(each in a fresh kernel, one after another):", "",
                  "| chapter | seconds | result | first failing assertion |", "|---|---|---|---|"]
        lines += [f"| {r['chapter']} | {r['seconds']:.0f} | {'pass' if r['passed'] else 'FAIL'} "
                  f"| {r['failure'].replace('|', '/')} |" for r in chapter_rows]
        total = sum(r["seconds"] for r in chapter_rows)
        slow = [r["chapter"] for r in chapter_rows if r["seconds"] > 300]
        lines += ["", f"{sum(r['passed'] for r in chapter_rows)}/{len(chapter_rows)} chapters "
                  f"passed; {total:.0f} s in all; over 5 minutes: {', '.join(slow) or 'none'}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="small sizes on any backend; chapters only with --chapters")
    parser.add_argument("--chapters", action="store_true", help="run the chapters (smoke mode)")
    parser.add_argument("--no-chapters", action="store_true", help="skip the chapters")
    parser.add_argument("--no-bench", action="store_true", help="skip the benchmarks")
    parser.add_argument("--book-scale", type=int, default=None,
                        help="BOOK_SCALE of the chapters (default 8; smoke: 1)")
    parser.add_argument("--book-seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("paths", nargs="*", help="chapters or folders (default: every chapter)")
    args = parser.parse_args(argv)

    backend = jax.default_backend()
    if not args.smoke and backend != "gpu":
        print(f"gpu-check: JAX runs on '{backend}', not on a GPU (devices: {jax.devices()}). "
              "Install the CUDA build of jaxlib (pip install -U 'jax[cuda12]'), or run "
              "`make gpu-check-smoke` for the small CPU version.", file=sys.stderr)
        return 2
    mode = "smoke" if args.smoke else "gpu"
    if args.book_scale is None:
        args.book_scale = 1 if args.smoke else 8
    run_chapters = (args.chapters or not args.smoke) and not args.no_chapters
    out = args.out or RESULTS / ("gpu-smoke.md" if args.smoke else "gpu.md")

    dev = jax.devices()[0]
    header = [f"Device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}, "
              f"{platform.machine()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
              "Each benchmark row: median of interleaved repeats, compilation excluded; ratio = "
              "lib seconds / floor seconds of the same run."]
    if backend == "cpu":
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        header.append(f"Load (`uptime`): {load}.")

    bench_rows, chapter_rows = [], []
    out.parent.mkdir(exist_ok=True)
    if run_chapters:  # first, while this process holds no GPU memory beyond its context
        for path in chapter_paths(args.paths):
            chapter_rows.append(run_chapter(path, args.book_scale, args.book_seed, args.timeout))
            r = chapter_rows[-1]
            print(f"{r['chapter']}: {r['seconds']:.0f} s, {'pass' if r['passed'] else 'FAIL'} "
                  f"{r['failure']}", flush=True)
            out.write_text(report(bench_rows, chapter_rows, args, header))  # after each chapter
    if not args.no_bench:
        s = SIZES[mode]
        bench_rows += bench_gram(s["gram_n"], s["gram_block"], s["repeats"])
        bench_rows += bench_two_layer(s["tl_n"], s["tl_m"], s["repeats"])
        bench_rows += bench_mfld_step(s["mfld_N"], s["mfld_n"], s["mfld_steps"], s["repeats"])
    text = report(bench_rows, chapter_rows, args, header)
    print(text)
    out.write_text(text)
    print(f"written to {out}")
    bad = [r["benchmark"] for r in bench_rows if not r["ok"]]
    bad += [r["chapter"] for r in chapter_rows if not r["passed"]]
    if bad:
        print("gpu-check: failed: " + ", ".join(bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
