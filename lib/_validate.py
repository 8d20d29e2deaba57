"""Input validation shared by every public function of `lib`.

Each helper raises ``ValueError`` naming the offending argument and what was expected,
so that a reader who passes a wrong shape sees *which* argument is wrong, not a broadcasting
error three calls deep inside a jitted kernel.

Value checks (finiteness) need concrete arrays; they are skipped for tracers, so the public
functions can still be called inside a user's ``jax.jit``.
"""
from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp


def _is_tracer(x) -> bool:
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
    if not _is_tracer(arr):
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
    if _is_tracer(K):
        return
    with jax.ensure_compile_time_eval():
        asym, scale = (float(a) for a in _asymmetry(K))
    if asym > math.sqrt(float(jnp.finfo(K.dtype).eps)) * scale:
        raise ValueError(f"{name} must be symmetric, got max |K − Kᵀ| = {asym:.3g} "
                         f"(max |K| = {scale:.3g})")


def same_dim(a: jax.Array, b: jax.Array, name_a: str, name_b: str, *, axis: int = -1) -> None:
    """Raise unless ``a.shape[axis] == b.shape[axis]``."""
    if a.shape[axis] != b.shape[axis]:
        raise ValueError(
            f"{name_a} and {name_b} must agree along axis {axis}: "
            f"got shapes {a.shape} and {b.shape}")


def scalar(x, name: str, *, positive: bool = False, nonnegative: bool = False,
           upper: float | None = None) -> float:
    """Return ``x`` as a Python float after checking it is a finite real number in range."""
    if _is_tracer(x):
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
