"""Input validation shared by every public function of `lib`.

Each helper raises ``ValueError`` naming the offending argument and what was expected,
so that a reader who passes a wrong shape sees *which* argument is wrong, not a broadcasting
error three calls deep inside a jitted kernel.

Value checks (finiteness, symmetry, signs) need concrete arrays; they are skipped for tracers, so
the public functions can still be called inside a user's ``jax.jit``. Each is one jitted reduction
that brings back a scalar or two, never the array itself (no host copy of device data).
"""
from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp


def is_tracer(x) -> bool:
    """True when ``x`` is an abstract value traced by ``jit``/``vmap``/``grad`` (no concrete entries)."""
    return isinstance(x, jax.core.Tracer)


def float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None) -> jax.Array:
    """Return ``x`` as a floating JAX array of the given rank, finite, or raise ``ValueError``.

    Integer and boolean inputs are promoted to the default float dtype (float32, or float64
    when ``jax_enable_x64`` is on); floating inputs keep their dtype.
    """
    try:
        arr = jnp.asarray(x)
    except TypeError as err:
        raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}") from err
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)
            or arr.dtype == jnp.bool_):
        raise ValueError(f"{name} must have a real numeric dtype, got {arr.dtype}")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have rank {want}, got shape {arr.shape}")
    if not is_tracer(arr):
        # Evaluate eagerly even when called while a user's jit is tracing.
        with jax.ensure_compile_time_eval():
            finite = bool(_all_finite(arr))
        if not finite:
            raise ValueError(f"{name} contains NaN or infinite values")
    return arr


@jax.jit
def _all_finite(x):
    return jnp.all(jnp.isfinite(x))       # fused: no boolean copy of x, one scalar comes back


@jax.jit
def _asymmetry(K):
    """``(max|K − Kᵀ|, max|K|)``, two scalars."""
    return jnp.max(jnp.abs(K - K.T), initial=0.0), jnp.max(jnp.abs(K), initial=0.0)


def symmetric(K: jax.Array, name: str) -> None:
    """Raise unless the square matrix ``K`` is symmetric up to rounding:
    ``max|K − Kᵀ| ≤ √eps · max|K|`` (eps of its dtype). One jitted reduction, two scalars back;
    skipped for tracers (inside a user's jit the values are unknown)."""
    if is_tracer(K):
        return
    with jax.ensure_compile_time_eval():
        asym, scale = (float(a) for a in _asymmetry(K))
    if asym > math.sqrt(float(jnp.finfo(K.dtype).eps)) * scale:
        raise ValueError(f"{name} must be symmetric, got max |K − Kᵀ| = {asym:.3g} "
                         f"(max |K| = {scale:.3g})")


def samples(X, y, x_name: str = "X", y_name: str = "y", *,
            y_ndim: int | tuple[int, ...] = 1) -> tuple[jax.Array, jax.Array]:
    """Validate a sample ``(X, y)``: a design ``X`` of shape ``(n, d)`` and targets ``y`` of shape
    ``(n,)`` (or the ranks in ``y_ndim``, e.g. ``(1, 2)`` for ``(n, k)`` multi-output targets),
    both finite, with the same ``n``. Returns both as :func:`float_array` in their common dtype."""
    X = float_array(X, x_name, ndim=2)
    y = float_array(y, y_name, ndim=y_ndim)
    same_dim(X, y, x_name, y_name, axis=0)
    dtype = jnp.result_type(X.dtype, y.dtype)
    return X.astype(dtype), y.astype(dtype)


def points(a, b, name_a: str, name_b: str, *, ndim: int = 2) -> tuple[jax.Array, jax.Array]:
    """Validate two sets of points of one space, e.g. ``x1`` ``(n1, d)`` and ``x2`` ``(n2, d)``
    (``ndim=1``: two points of ``R^d``): finite float arrays of rank ``ndim`` with the same last
    axis. Returns both in their common dtype."""
    a = float_array(a, name_a, ndim=ndim)
    b = float_array(b, name_b, ndim=ndim)
    same_dim(a, b, name_a, name_b)
    dtype = jnp.result_type(a.dtype, b.dtype)
    return a.astype(dtype), b.astype(dtype)


@jax.jit
def _minimum(x):
    return jnp.min(x, initial=jnp.inf)      # one scalar comes back; +inf for an empty array


def _sign(x: jax.Array, name: str, *, strict: bool) -> None:
    if is_tracer(x):
        return
    with jax.ensure_compile_time_eval():
        low = float(_minimum(x))
    if not (low > 0 if strict else low >= 0):       # also catches a NaN entry
        got = f"got {low:.6g}" if x.ndim == 0 else f"got an entry {low:.6g}"
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, {got}")


def nonnegative(x: jax.Array, name: str) -> None:
    """Raise unless every entry of the float array ``x`` is ``>= 0``.

    One jitted reduction, ``min(x)``, brings back one scalar; skipped for tracers (inside a user's
    jit the values are unknown)."""
    _sign(x, name, strict=False)


def positive(x: jax.Array, name: str) -> None:
    """Raise unless every entry of the float array ``x`` is ``> 0`` (as :func:`nonnegative`)."""
    _sign(x, name, strict=True)


def same_dim(a: jax.Array, b: jax.Array, name_a: str, name_b: str, *, axis: int = -1) -> None:
    """Raise unless ``a.shape[axis] == b.shape[axis]``."""
    if a.shape[axis] != b.shape[axis]:
        raise ValueError(
            f"{name_a} and {name_b} must agree along axis {axis}: "
            f"got shapes {a.shape} and {b.shape}")


def scalar(x, name: str, *, positive: bool = False, nonnegative: bool = False,
           upper: float | None = None) -> float:
    """Return ``x`` as a Python float after checking it is a finite real number in range."""
    if is_tracer(x):
        return x
    try:
        val = float(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a real number, got {x!r}") from err
    if not math.isfinite(val):
        raise ValueError(f"{name} must be finite, got {val}")
    if positive and not val > 0:
        raise ValueError(f"{name} must be > 0, got {val}")
    if nonnegative and not val >= 0:
        raise ValueError(f"{name} must be >= 0, got {val}")
    if upper is not None and val > upper:
        raise ValueError(f"{name} must be <= {upper}, got {val}")
    return val


def integer(x, name: str, *, minimum: int | None = None) -> int:
    """Return ``x`` as a Python int, rejecting floats like 2.5, bools and values below ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {x!r}")
    val = int(x)
    if minimum is not None and val < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {val}")
    return val


def choice(x, name: str, options) -> str:
    """Return ``x`` if it is one of ``options``, else raise listing them."""
    if x not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {x!r}")
    return x


def key(x, name: str = "key") -> jax.Array:
    """Check that ``x`` is a JAX PRNG key (legacy uint32[2] or typed key)."""
    try:
        arr = jnp.asarray(x) if not isinstance(x, jax.Array) else x
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a PRNG key from jax.random.key, got {x!r}") from err
    if jnp.issubdtype(arr.dtype, jax.dtypes.prng_key):
        return arr
    if arr.dtype == jnp.uint32 and arr.shape == (2,):
        return arr
    raise ValueError(f"{name} must be a PRNG key from jax.random.key or jax.random.PRNGKey, "
                     f"got dtype {arr.dtype} and shape {arr.shape}")
