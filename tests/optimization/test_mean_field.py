"""lib.optimization.mean_field: 1-D optimal transport against brute-force assignment and the Gaussian closed
form, the quantile map's push-forward, McCann geodesics, alignment / concentration measures against
NumPy, and input validation (the particle network's logistic loss is tested with lib.mfld)."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from lib.optimization import mean_field as mf

pytestmark = pytest.mark.usefixtures("x64")


def test_w2_matches_optimal_assignment():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.exponential(size=40)
    C = (x[:, None] - y[None, :]) ** 2
    r, c = linear_sum_assignment(C)
    brute = np.sqrt(C[r, c].mean())
    assert abs(float(mf.wasserstein2_1d(x, y)) - brute) < 1e-10


def test_w2_gaussian_closed_form_monte_carlo():
    # n = 20000 samples: |W2_hat - W2| <= W2(mu_hat, mu) + W2(nu_hat, nu) = O(sqrt(log n / n))
    k1, k2 = jax.random.split(jax.random.key(0))
    n = 20000
    x = 1.0 + 2.0 * jax.random.normal(k1, (n,))
    y = -0.5 + 0.5 * jax.random.normal(k2, (n,))
    exact = mf.gaussian_w2(1.0, 2.0, -0.5, 0.5)
    assert exact == pytest.approx(np.hypot(1.5, 1.5))
    assert abs(float(mf.wasserstein2_1d(x, y)) - exact) < 0.05


def test_quantile_map_pushforward_and_cost():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=101), rng.gamma(2.0, size=101)
    T = np.asarray(mf.quantile_map(x, y))
    np.testing.assert_allclose(np.sort(T), np.sort(y))          # push-forward is exact
    order = np.argsort(x)
    assert np.all(np.diff(T[order]) >= 0)                          # monotone
    assert np.mean((x - T) ** 2) == pytest.approx(float(mf.wasserstein2_1d(x, y)) ** 2)
    # any other pairing costs at least as much (small brute-force check)
    xs, ys = x[:6], y[:6]
    best = min(np.mean((xs - ys[list(p)]) ** 2) for p in itertools.permutations(range(6)))
    assert np.mean((xs - np.asarray(mf.quantile_map(xs, ys))) ** 2) == pytest.approx(best)


def test_displacement_interpolation_is_geodesic():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=200), 3 + rng.standard_t(3, size=200)
    W = float(mf.wasserstein2_1d(x, y))
    for s, t in [(0.0, 0.3), (0.2, 0.9), (0.5, 1.0)]:
        xs = mf.displacement_interpolation(x, y, s)
        xt = mf.displacement_interpolation(x, y, t)
        assert float(mf.wasserstein2_1d(xs, xt)) == pytest.approx(abs(t - s) * W, rel=1e-9)
    np.testing.assert_allclose(np.sort(mf.displacement_interpolation(x, y, 1.0)), np.sort(y))


def test_cosines_alignment_and_concentration():
    rng = np.random.default_rng(3)
    P = rng.normal(size=(30, 5))
    U = rng.normal(size=(2, 4))
    C = np.asarray(mf.teacher_cosines(P, U))
    W = P[:, 1:]
    ref = (W / np.linalg.norm(W, axis=1, keepdims=True)) @ (U / np.linalg.norm(U, axis=1, keepdims=True)).T
    np.testing.assert_allclose(C, ref, atol=1e-12)
    m = np.abs(P[:, 0]) * np.linalg.norm(W, axis=1)
    np.testing.assert_allclose(mf.neuron_mass(P), m)
    k = C.argmax(1)
    A = [np.sum(m[k == i] * C[k == i, i]) / np.sum(m[k == i]) for i in range(2)]
    np.testing.assert_allclose(mf.weighted_alignment(P, U), A)
    assert float(mf.participation_ratio(P)) == pytest.approx(m.sum() ** 2 / (30 * (m ** 2).sum()))
    # all mass on the line ±u: alignment 1 (unsigned), one effective direction
    u = np.array([1.0, 2.0, 0.0, -1.0])
    Q = np.column_stack([rng.normal(size=10), rng.uniform(0.5, 2, 10)[:, None] * u
                         * rng.choice([-1, 1], 10)[:, None]])
    assert float(mf.weighted_alignment(Q, u[None], signed=False)[0]) == pytest.approx(1.0)
    assert float(mf.effective_directions(Q)) == pytest.approx(1.0)
    # equal mass on d orthonormal directions: d effective directions
    E = np.column_stack([np.ones(4), np.eye(4)])
    assert float(mf.effective_directions(E)) == pytest.approx(4.0)
    assert float(mf.participation_ratio(E)) == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="x and y"):
        mf.wasserstein2_1d(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="x must have rank"):
        mf.quantile_map(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="t must be"):
        mf.displacement_interpolation(np.zeros(3), np.zeros(3), 1.5)
    with pytest.raises(ValueError, match="s1"):
        mf.gaussian_w2(0, -1, 0, 1)
    with pytest.raises(ValueError, match="U must have shape"):
        mf.teacher_cosines(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="U must not"):
        mf.teacher_cosines(np.ones((3, 4)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="particles"):
        mf.participation_ratio(np.zeros((3, 4)))
