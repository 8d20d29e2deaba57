"""The validation vocabulary of ``lib._validate``: sign checks and sample/point pairs.

Each helper raises ``ValueError`` naming the argument, accepts valid input, is skipped while a
user's ``jax.jit`` traces it, and brings back at most one scalar per check (no host copy).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import host_copies

from lib import _validate as v

SIGNS = {"nonnegative": (v.nonnegative, ">= 0", 0.0), "positive": (v.positive, "> 0", 1e-3)}


@pytest.mark.parametrize("kind", list(SIGNS))
def test_sign_checks_raise_naming_the_argument(kind, dtype):
    check, expected, smallest_valid = SIGNS[kind]
    good = jnp.full((4, 3), 2.0, dtype).at[1, 2].set(smallest_valid)
    check(good, "lams")                                           # accepted
    check(jnp.asarray(smallest_valid, dtype), "lam")               # 0-d too
    check(jnp.zeros((0,), dtype), "lams")                          # vacuously true when empty
    bad = good.at[2, 1].set(-0.5 if kind == "nonnegative" else 0.0)
    with pytest.raises(ValueError, match=f"lams must be {expected}"):
        check(bad, "lams")
    with pytest.raises(ValueError, match=f"lam must be {expected}"):
        check(jnp.asarray(-1.0, dtype), "lam")
    with pytest.raises(ValueError, match="lams"):
        check(good.at[0, 0].set(jnp.nan), "lams")                  # NaN is not a sign


@pytest.mark.parametrize("kind", list(SIGNS))
def test_sign_checks_are_skipped_under_jit(kind):
    check = SIGNS[kind][0]

    @jax.jit
    def f(x):
        check(x, "x")                                              # a tracer: values unknown
        return x + 1.0

    np.testing.assert_allclose(f(-jnp.ones(3)), jnp.zeros(3))      # no error while tracing


@pytest.mark.parametrize("kind", list(SIGNS))
def test_sign_checks_copy_no_array_to_the_host(kind):
    check = SIGNS[kind][0]
    x = jnp.ones((200, 50))
    check(x, "x")                                                  # compile outside the recording
    with host_copies() as sizes:
        check(x, "x")
        with pytest.raises(ValueError):
            check(x.at[7, 7].set(-1.0), "x")
    assert sizes and all(s <= 1 for s in sizes), sorted(set(sizes))


def test_samples(dtype):
    X = np.ones((5, 3))
    y = jnp.ones(5, jnp.float32)
    Xv, yv = v.samples(X, y, "X_train", "y_train")
    assert Xv.shape == (5, 3) and yv.shape == (5,)
    assert Xv.dtype == yv.dtype == jnp.result_type(jnp.asarray(X).dtype, y.dtype)
    _, Y = v.samples(X, np.ones((5, 2)), y_ndim=(1, 2))           # multi-output targets
    assert Y.shape == (5, 2)
    with pytest.raises(ValueError, match="X_train and y_train must agree along axis 0"):
        v.samples(X, np.ones(4), "X_train", "y_train")
    with pytest.raises(ValueError, match="X_train must have rank 2"):
        v.samples(np.ones(5), y, "X_train", "y_train")
    with pytest.raises(ValueError, match="y_train must have rank 1"):
        v.samples(X, np.ones((5, 2)), "X_train", "y_train")
    with pytest.raises(ValueError, match="y_train contains NaN"):
        v.samples(X, y.at[2].set(jnp.inf), "X_train", "y_train")


def test_points(dtype):
    a, b = v.points(np.ones((4, 3)), jnp.ones((6, 3), jnp.float32), "x1", "x2")
    assert a.shape == (4, 3) and b.shape == (6, 3) and a.dtype == b.dtype
    c, m = v.points(np.ones(3), np.zeros(3), "center", "anchor", ndim=1)
    assert c.shape == m.shape == (3,)
    with pytest.raises(ValueError, match="x1 and x2 must agree along axis -1"):
        v.points(np.ones((4, 3)), np.ones((4, 2)), "x1", "x2")
    with pytest.raises(ValueError, match="anchor must have rank 1"):
        v.points(np.ones(3), np.ones((1, 3)), "center", "anchor", ndim=1)


def test_pairs_copy_no_array_to_the_host():
    X, y = jnp.ones((300, 20)), jnp.ones(300)
    v.samples(X, y)                                                # compile outside the recording
    v.points(X, X, "x1", "x2")
    with host_copies() as sizes:
        v.samples(X, y)
        v.points(X, X, "x1", "x2")
    assert all(s <= 1 for s in sizes), sorted(set(sizes))


def test_pairs_accept_tracers():
    @jax.jit
    def f(X, y):
        X, y = v.samples(X, y)
        a, b = v.points(X, X, "x1", "x2")
        return X @ a.T @ y + jnp.sum(b)

    assert f(jnp.ones((3, 2)), jnp.ones(3)).shape == (3,)


def test_is_tracer():
    assert not v.is_tracer(jnp.ones(2))
    seen = []
    jax.jit(lambda x: seen.append(v.is_tracer(x)) or x)(jnp.ones(2))
    assert seen == [True]
