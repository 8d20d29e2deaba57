"""Automatic grading of the chapters' code exercises.

Each chapter has an exercise whose answer is a Python function. Its grader cell calls :func:`grade`,
which runs the student's function and a reference (``lib`` code or a closed form, never the
solution cell itself) on fresh random inputs and prints one line::

    PASS relu_ntk: 5 random cases agree with the reference (max rel. error 2.1e-07)
    FAIL relu_ntk: case 2: max rel. error 0.1 at index (3, 1) (tolerance rtol=1e-05, atol=1e-08)

A case agrees when every output entry satisfies ``|s − r| ≤ atol + rtol·|r|`` (NumPy's ``isclose``
rule). Outputs may be arrays, scalars or (nested) tuples/lists of them. The grader never raises: a
student who runs all cells reaches the rest of the notebook. The book's tests
(``tests/test_student.py``) require PASS for the reference solution and FAIL for a wrong one.
"""
from __future__ import annotations

from typing import Callable

import jax
import numpy as np

from . import _validate

__all__ = ["GRADER_SEED", "grade", "compare"]

# The graders draw their inputs from keys derived from this seed, which no chapter uses, so a solution
# cannot be fitted to the inputs it is graded on.
GRADER_SEED = 20_261_206


def _leaves(out, path="output"):
    if isinstance(out, (tuple, list)):
        for i, item in enumerate(out):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, out


def _check(student_out, reference_out, rtol: float, atol: float) -> tuple[str | None, float]:
    """(reason or ``None``, largest relative error over all entries) for one case."""
    s_leaves, r_leaves = list(_leaves(student_out)), list(_leaves(reference_out))
    if len(s_leaves) != len(r_leaves):
        return f"returned {len(s_leaves)} value(s), expected {len(r_leaves)}", np.inf
    worst = 0.0
    for (path, s), (_, r) in zip(s_leaves, r_leaves):
        if s is None:
            return f"{path} is None (did the function forget to return?)", np.inf
        try:
            s = np.asarray(s, dtype=float)
        except (TypeError, ValueError):
            return f"{path} is a {type(s).__name__}, expected numbers", np.inf
        r = np.asarray(r, dtype=float)
        if s.shape != r.shape:
            return f"{path} has shape {s.shape}, expected {r.shape}", np.inf
        if not np.all(np.isfinite(s)):
            return f"{path} has non-finite entries", np.inf
        err = np.abs(s - r)
        rel = err / np.maximum(np.abs(r), atol / max(rtol, 1e-300))
        bad = err > atol + rtol * np.abs(r)
        if np.any(bad):
            where = np.unravel_index(int(np.argmax(np.where(bad, rel, -np.inf))), s.shape)
            at = f" at index {tuple(int(i) for i in where)}" if s.ndim else ""
            return (f"{path}: max rel. error {float(np.max(rel[bad])):.3g}{at} "
                    f"(tolerance rtol={rtol:g}, atol={atol:g})"), np.inf
        worst = max(worst, float(np.max(rel, initial=0.0)))
    return None, worst


def compare(student_out, reference_out, *, rtol: float = 1e-5, atol: float = 1e-8) -> str | None:
    """``None`` if ``student_out`` agrees with ``reference_out`` entrywise
    (``|s − r| ≤ atol + rtol·|r|``, same structure and shapes), else the reason in words."""
    return _check(student_out, reference_out, rtol, atol)[0]


def grade(student_fn: Callable, reference_fn: Callable, make_inputs: Callable, *, n_cases: int = 5,
          rtol: float = 1e-5, atol: float = 1e-8, name: str | None = None) -> None:
    """Run ``student_fn`` and ``reference_fn`` on ``n_cases`` random inputs and print PASS or FAIL.

    ``make_inputs(key)`` returns the tuple of positional arguments for one case, drawn from the
    PRNG key ``fold_in(PRNGKey(GRADER_SEED), i)`` for case ``i``. A case passes when the outputs agree
    entrywise, ``|s − r| ≤ atol + rtol·|r|`` (see :func:`compare`). The first failing case is
    reported with its reason: not implemented, an exception, a wrong shape, non-finite values, or
    the largest relative error and where it occurs.
    """
    if not callable(student_fn) or not callable(reference_fn) or not callable(make_inputs):
        raise ValueError("student_fn, reference_fn and make_inputs must be callables")
    n_cases = _validate.integer(n_cases, "n_cases", minimum=1)
    rtol = _validate.scalar(rtol, "rtol", nonnegative=True)
    atol = _validate.scalar(atol, "atol", nonnegative=True)
    name = name or getattr(student_fn, "__name__", "answer")
    worst = 0.0
    for i in range(n_cases):
        args = make_inputs(jax.random.fold_in(jax.random.PRNGKey(GRADER_SEED), i))
        args = args if isinstance(args, tuple) else (args,)
        expected = reference_fn(*args)
        try:
            got = student_fn(*args)
        except NotImplementedError:
            print(f"FAIL {name}: not implemented yet (replace `raise NotImplementedError` by your code)")
            return
        except Exception as exc:  # the student's code may raise anything; report it, do not crash
            print(f"FAIL {name}: case {i} raised {type(exc).__name__}: {exc}")
            return
        reason, case_worst = _check(got, expected, rtol, atol)
        if reason is not None:
            print(f"FAIL {name}: case {i}: {reason}")
            return
        worst = max(worst, case_worst)
    print(f"PASS {name}: {n_cases} random cases agree with the reference (max rel. error {worst:.2g})")
