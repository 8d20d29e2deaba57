"""The core's public kernels never copy a whole device array to the host.

Validation (finiteness, symmetry, signs) runs as jitted reductions that return one scalar; only
such scalars may come back. With n = 10⁵ on a GPU a full copy of a Gram matrix would be 40 GB.
"""
import jax
import jax.numpy as jnp
import pytest
from conftest import host_copies

from lib import mfld, ntk, ridgeless

N, D = 64, 5


def _data():
    kx, kw, ky = jax.random.split(jax.random.key(0), 3)
    X = jax.random.normal(kx, (N, D))
    return X, jax.random.normal(kw, (32, D)), jax.random.normal(ky, (N,))


def _calls():
    X, W, y = _data()
    K = ntk.infinite_width(X, X).ntk
    drift = mfld.two_layer_drift(X, y, reg=1e-3)
    particles = jax.random.normal(jax.random.key(1), (16, D + 1))
    return {
        "ntk.infinite_width": lambda: ntk.infinite_width(X, X[:40], depth=2),
        "ntk.two_layer_empirical": lambda: ntk.two_layer_empirical(X, X[:40], W, W[:, 0], scale=0.1),
        "ridgeless.kernel_ridge": lambda: ridgeless.kernel_ridge(K, y, K[:10], 1e-3),
        "ridgeless.min_norm_interpolator": lambda: ridgeless.min_norm_interpolator(X, y),
        "mfld.simulate": lambda: mfld.simulate(drift, particles, jax.random.key(2), step_size=0.1,
                                               temperature=1e-3, n_steps=5),
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_no_full_array_comes_back_to_the_host(name):
    call = _calls()[name]
    jax.block_until_ready(call())                  # compile outside the recording
    with host_copies() as sizes:
        jax.block_until_ready(call())
    assert all(s <= 1 for s in sizes), f"{name} copied arrays of sizes {sorted(set(sizes))} to the host"


def test_recorder_sees_a_host_copy():
    """The recorder is not blind: np.asarray of a device array is seen with its size."""
    import numpy as np
    x = jnp.ones((7, 3))
    with host_copies() as sizes:
        np.asarray(x)
        float(x[0, 0])
    assert 21 in sizes and 1 in sizes and max(sizes) == 21


def test_bad_input_still_raises_without_host_copies():
    X, _, y = _data()
    K = ntk.infinite_width(X, X).ntk
    bad = K.at[3, 5].set(K[3, 5] + 1.0)
    with pytest.raises(ValueError, match="K_train"):
        ridgeless.kernel_ridge(bad, y, K[:10], 1e-3)
    with pytest.raises(ValueError, match="x1"):
        ntk.infinite_width(X.at[0, 0].set(jnp.nan), X)
