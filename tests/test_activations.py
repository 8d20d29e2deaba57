"""lib.activations: derivatives against autodiff, Gaussian expectations against closed forms and
Monte Carlo, the fast float32 arccos/arcsin against float64, validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import RTOL, x64_mode

from lib import activations


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_derivative_is_the_autodiff_derivative(name, dtype):
    z = jnp.linspace(-3.0, 3.0, 61)            # includes 0: relu'(0) = 0, as jax.grad takes it
    sigma, dsigma = activations.activation_fn(name), activations.derivative_fn(name)
    auto = jax.vmap(jax.grad(sigma))(z)
    np.testing.assert_allclose(dsigma(z), auto, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert dsigma(z).dtype == sigma(z).dtype == dtype


def test_expectations_closed_forms(dtype):
    q = jnp.array([0.5, 2.0])
    # diagonal (cos θ = 1): E[relu²] = q/2, E[relu'²] = 1/2; E[erf²] = (2/π) arcsin(2q/(1 + 2q))
    ff, dd = activations.gaussian_expectations(q, q, q)
    np.testing.assert_allclose(ff, q / 2, rtol=RTOL[dtype])
    np.testing.assert_allclose(dd, 0.5, rtol=RTOL[dtype])
    ff, dd = activations.gaussian_expectations(q, q, q, activation="erf")
    qn = np.asarray(q, np.float64)
    np.testing.assert_allclose(ff, 2 / np.pi * np.arcsin(2 * qn / (1 + 2 * qn)), rtol=RTOL[dtype])
    np.testing.assert_allclose(dd, 4 / np.pi / np.sqrt(1 + 4 * qn), rtol=RTOL[dtype])
    # independent (c = 0): E[relu(u)relu(v)] = √(q q')/(2π), E[relu'relu'] = 1/4, erf: 0 and (4/π)/√((1+2q)(1+2q'))
    ff, dd = activations.gaussian_expectations(0.5, 2.0, 0.0)
    np.testing.assert_allclose([ff, dd], [1 / (2 * np.pi), 0.25], rtol=RTOL[dtype])
    # order 2 on the diagonal: E[relu⁴] = 3q²/2
    np.testing.assert_allclose(activations.relu_expectation(q, q, q, order=2), 1.5 * q ** 2,
                               rtol=RTOL[dtype])


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_expectations_match_monte_carlo(activation):
    q1, q2, c = 1.3, 0.7, -0.6
    L = np.linalg.cholesky(np.array([[q1, c], [c, q2]]))
    u, v = L @ np.asarray(jax.random.normal(jax.random.key(0), (2, 400_000)))
    sigma, dsigma = activations.activation_fn(activation), activations.derivative_fn(activation)
    mc_ff, mc_dd = float(jnp.mean(sigma(u) * sigma(v))), float(jnp.mean(dsigma(u) * dsigma(v)))
    ff, dd = activations.gaussian_expectations(q1, q2, c, activation=activation)
    # Monte-Carlo standard errors of 4e5 draws are ≈ 2e-3 here: tolerance 1e-2
    np.testing.assert_allclose([ff, dd], [mc_ff, mc_dd], atol=1e-2)


def test_float32_fast_path_matches_float64():
    # float32 uses Cephes' arccos/arcsin polynomials; compare over the whole range of cos θ
    t = np.linspace(-1.0, 1.0, 20_001)
    q1, q2 = 1.7, 0.4
    c = t * np.sqrt(q1 * q2)
    got = [np.asarray(e, np.float64) for e in
           (*activations.gaussian_expectations(q1, q2, c.astype(np.float32)),
            *activations.gaussian_expectations(q1, q2, c.astype(np.float32), activation="erf"))]
    with x64_mode(True):
        ref = [np.asarray(e) for e in
               (*activations.gaussian_expectations(q1, q2, c),
                *activations.gaussian_expectations(q1, q2, c, activation="erf"))]
    for g, r in zip(got, ref):
        # the snap of |cos θ| > 1 − 64 ε moves π − θ by at most √(128 ε) ≈ 4e-3 in float32
        # (E[σ'σ'] = (π − θ)/(2π)): elsewhere agreement is float32 rounding
        near = np.abs(t) > 1 - 1e-5
        np.testing.assert_allclose(g[~near], r[~near], rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(g[near], r[near], atol=1e-3)


def test_zero_variance_is_finite():
    ff, dd = activations.gaussian_expectations(jnp.array([0.0, 1.0]), 1.0, 0.0)
    assert bool(jnp.all(jnp.isfinite(ff))) and bool(jnp.all(jnp.isfinite(dd)))
    assert float(ff[0]) == 0.0


def test_validation():
    with pytest.raises(ValueError, match="activation"):
        activations.activation_fn("swish")
    with pytest.raises(ValueError, match="activation"):
        activations.gaussian_expectations(1.0, 1.0, 0.5, activation="tanh")
    with pytest.raises(ValueError, match="order"):
        activations.relu_expectation(1.0, 1.0, 0.5, order=3)
    with pytest.raises(ValueError, match="c"):
        activations.relu_expectation(1.0, 1.0, jnp.nan)
