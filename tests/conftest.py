"""Shared fixtures for the lib tests: float32/float64 runs and a recorder of device-to-host copies."""
import contextlib
import os

# The test arrays are small, so XLA compilation dominates the run time: skip LLVM's optimization
# passes (about 30% less wall time; the same IEEE semantics, since fast-math is off either way).
# Set before the first backend use; an explicit level in the caller's XLA_FLAGS wins.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src.array import ArrayImpl


@contextlib.contextmanager
def x64_mode(enabled: bool):
    """Switch ``jax_enable_x64`` for the duration (works on every supported JAX, 0.5.3 included)."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.fixture
def x64():
    """Run a test in float64 (exact comparisons). Per module: ``pytestmark = pytest.mark.usefixtures("x64")``."""
    with x64_mode(True):
        yield


# Relative tolerances per dtype for comparisons against closed forms (≈ 1e3 ulps of each dtype).
RTOL = {jnp.dtype("float32"): 1e-4, jnp.dtype("float64"): 1e-10}


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Run a core test twice: in float32 (the default, and what a GPU runs) and in float64.

    Yields the dtype; compare with ``rtol=RTOL[dtype]`` (or a looser, stated tolerance).
    """
    with x64_mode(request.param == "float64"):
        yield jnp.dtype(request.param)


@contextlib.contextmanager
def host_copies():
    """Record the size of every device-to-host copy of a ``jax.Array`` made inside the block.

    The routes are the ``_value`` property and ``__array__`` (``float``, ``bool``, ``.tolist``,
    ``jax.device_get``, ``np.array``) and NumPy's converters, which on CPU read a jax.Array through the
    buffer protocol without touching either (zero-copy there, a real copy on a GPU); wrapping all of
    them sees what ``jax.transfer_guard`` cannot see on CPU.
    """
    sizes = []

    def record(x):
        if isinstance(x, jax.Array):
            sizes.append(int(np.prod(x.shape)))

    def wrap_method(method):
        def recorded(self, *args, **kwargs):
            record(self)
            return method(self, *args, **kwargs)
        return recorded

    def wrap_function(function):
        def recorded(x, *args, **kwargs):
            record(x)
            return function(x, *args, **kwargs)
        return recorded

    saved = {"_value": ArrayImpl._value, "__array__": ArrayImpl.__array__}
    converters = {name: getattr(np, name) for name in ("asarray", "array", "asanyarray")}
    ArrayImpl._value = property(wrap_method(saved["_value"].fget))
    ArrayImpl.__array__ = wrap_method(saved["__array__"])
    for name, function in converters.items():
        setattr(np, name, wrap_function(function))
    try:
        yield sizes
    finally:
        for name, attr in saved.items():
            setattr(ArrayImpl, name, attr)
        for name, function in converters.items():
            setattr(np, name, function)
