"""lib.ridgeless: min-norm / ridge / kernel ridge against closed forms and NumPy, the
Hastie–Montanari–Rosset–Tibshirani risk curve against Monte Carlo, Marchenko–Pastur against
simulated spectra, and input validation.

The solvers' closed-form tests run under the ``dtype`` fixture (float32 and float64) with
per-dtype tolerances. The risk and spectrum tests stay in float64 (module-level ``x64`` below,
overridden by ``dtype`` where a test asks for it): they compare Monte-Carlo means near the
interpolation threshold, where XXᵀ is ill-conditioned, and SciPy quadratures to 1e-6.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from conftest import RTOL, x64_mode

from lib import ridgeless as rl


@pytest.fixture(autouse=True)
def _float64_unless_dtype(request):
    """float64 for every test that does not take the ``dtype`` fixture (see the docstring)."""
    if "dtype" in request.fixturenames:
        yield
    else:
        request.getfixturevalue("x64")
        yield


def _gauss(seed, *shape):
    return jax.random.normal(jax.random.key(seed), shape)      # float32, or float64 under x64


def _tol(dtype, f64):
    """The tolerance ``f64`` of a float64 comparison; in float32 the conftest ``RTOL`` (1e-4)."""
    return f64 if dtype == jnp.float64 else RTOL[dtype]


# ---------------------------------------------------------------- min-norm, ridge, kernel ridge

def test_min_norm_interpolates_with_minimal_norm(dtype):
    n, d = 20, 50
    X, y = _gauss(0, n, d), _gauss(1, n)
    beta = rl.min_norm_interpolator(X, y)
    assert beta.shape == (d,)
    tol = _tol(dtype, 1e-10)
    np.testing.assert_allclose(X @ beta, y, atol=tol)
    # every other interpolator is beta + (null-space vector) and is strictly longer
    _, _, Vt = np.linalg.svd(np.asarray(X, np.float64))
    null = Vt[n:]                                    # (d - n, d) orthonormal basis of ker X
    np.testing.assert_allclose(null @ np.asarray(beta), 0.0, atol=tol)
    coeffs = np.asarray(_gauss(2, 100, d - n))
    others = np.asarray(beta)[None] + 0.1 * coeffs @ null
    np.testing.assert_allclose(others @ np.asarray(X).T, np.broadcast_to(y, (100, n)), atol=10 * tol)
    assert np.all(np.linalg.norm(others, axis=1) > np.linalg.norm(beta))
    np.testing.assert_allclose(beta, np.linalg.pinv(np.asarray(X, np.float64)) @ np.asarray(y),
                               atol=tol)


def test_min_norm_is_least_squares_when_d_lt_n(dtype):
    X, y = _gauss(3, 60, 7), _gauss(4, 60)
    expected = np.linalg.lstsq(np.asarray(X, np.float64), np.asarray(y, np.float64), rcond=None)[0]
    np.testing.assert_allclose(rl.min_norm_interpolator(X, y), expected, rtol=_tol(dtype, 1e-10),
                               atol=_tol(dtype, 1e-12))


def test_min_norm_rank_deficient_and_multi_output(dtype):
    A, B = _gauss(5, 30, 4), _gauss(6, 4, 12)
    X = A @ B                                        # rank 4, n=30 > d=12: not full column rank
    Y = _gauss(7, 30, 3)
    beta = rl.min_norm_interpolator(X, Y)
    assert beta.shape == (12, 3)
    # the reference pinv drops singular values at the rounding level of the dtype of X
    rcond = 30 * float(jnp.finfo(dtype).eps)
    pinv = np.linalg.pinv(np.asarray(X, np.float64), rcond=rcond)
    np.testing.assert_allclose(beta, pinv @ np.asarray(Y), atol=_tol(dtype, 1e-9))
    np.testing.assert_allclose(rl.ridge(X, Y, 0.0), beta, atol=_tol(dtype, 1e-12))


@pytest.mark.parametrize("n,d", [(20, 50), (60, 7)])
def test_ridge_small_lam_tends_to_min_norm(n, d, dtype):
    X, y = _gauss(8, n, d), _gauss(9, n)
    np.testing.assert_allclose(rl.ridge(X, y, 1e-10), rl.min_norm_interpolator(X, y),
                               rtol=_tol(dtype, 1e-6), atol=_tol(dtype, 1e-7))
    np.testing.assert_array_equal(rl.ridge(X, y, 0.0), rl.min_norm_interpolator(X, y))


@pytest.mark.parametrize("n,d", [(40, 10), (10, 40)])
def test_ridge_closed_form(n, d, dtype):
    X, y, lam = _gauss(10, n, d), _gauss(11, n), 0.3
    Xn, yn = np.asarray(X, np.float64), np.asarray(y, np.float64)
    expected = np.linalg.solve(Xn.T @ Xn + n * lam * np.eye(d), Xn.T @ yn)
    beta = rl.ridge(X, y, lam)
    np.testing.assert_allclose(beta, expected, rtol=_tol(dtype, 1e-10), atol=_tol(dtype, 1e-12))
    # it minimizes (1/n)||y - X b||^2 + lam ||b||^2: the gradient vanishes
    b = np.asarray(beta, np.float64)
    grad = -2 / n * Xn.T @ (yn - Xn @ b) + 2 * lam * b
    np.testing.assert_allclose(grad, 0.0, atol=_tol(dtype, 1e-10))


# n < d in float64 and the rank-deficient n > d (XXᵀ singular, lam = 0 included) in both
@pytest.mark.parametrize("n, d, dtype", [(30, 80, "float64"), (80, 30, "float32"),
                                         (80, 30, "float64")], indirect=["dtype"])
def test_linear_kernel_ridge_equals_ridge(n, d, dtype):
    X, y, Xt = _gauss(12, n, d), _gauss(13, n, 2), _gauss(14, 17, d)
    lams = [0.0, 1e-3, 0.5]
    path = rl.kernel_ridge(X @ X.T, y, Xt @ X.T, jnp.asarray(lams))
    assert path.shape == (3, 17, 2)
    # float32: K = XXᵀ squares the condition number of X (≈ 4 here): 1e-3
    tol = _tol(dtype, 1e-7) * (10 if dtype == jnp.float32 else 1)
    for pred, lam in zip(path, lams):
        np.testing.assert_allclose(pred, Xt @ rl.ridge(X, y, lam), rtol=tol, atol=tol)
    # one target and one penalty: the same solve compiled for other shapes, so in float32 it agrees
    # only to the rounding the condition number amplifies (seen: 2.4e-4), as above
    pred1 = rl.kernel_ridge(X @ X.T, y[:, 0], Xt @ X.T, lams[1])
    tol1 = 1e-12 if dtype == jnp.float64 else tol
    np.testing.assert_allclose(pred1, path[1, :, 0], rtol=tol1, atol=tol1)


def _psd(seed, n, rank):
    """A PSD Gram matrix of the given rank, K = A Aᵀ, with its factor A (n, rank)."""
    A = _gauss(seed, n, rank)
    return A @ A.T, A


def test_kernel_ridge_against_solve(dtype):
    n, m = 40, 9
    K, A = _psd(20, n, n)
    Kt = _gauss(21, m, n) @ A.T
    y = _gauss(22, n)
    for lam in (1e-2, 0.3):
        want = np.asarray(Kt, np.float64) @ np.linalg.solve(
            np.asarray(K, np.float64) + n * lam * np.eye(n), np.asarray(y, np.float64))
        got = rl.kernel_ridge(K, y, Kt, lam)
        assert got.dtype == dtype and got.shape == (m,)
        # float32: (K + nλI) has condition number ≲ 1e2 here, so ≈ 1e2 ulps
        np.testing.assert_allclose(got, want, rtol=_tol(dtype, 1e-9),
                                   atol=_tol(dtype, 1e-9) * np.abs(want).max())


def test_kernel_ridge_ridgeless_is_pseudo_inverse_for_rank_deficient_K(dtype):
    n, rank, m = 30, 6, 8
    K, A = _psd(23, n, rank)                         # rank 6: 24 eigenvalues are rounding noise
    Kt = _gauss(24, m, rank) @ A.T                   # test points in the span of the features
    y = _gauss(25, n, 2)
    Kn = np.asarray(K, np.float64)
    pinv = np.linalg.pinv(Kn, rcond=n * float(jnp.finfo(dtype).eps), hermitian=True)
    want = np.asarray(Kt, np.float64) @ pinv @ np.asarray(y, np.float64)
    got = rl.kernel_ridge(K, y, Kt, 0.0)
    assert got.shape == (m, 2)
    np.testing.assert_allclose(got, want, rtol=_tol(dtype, 1e-9),
                               atol=_tol(dtype, 1e-9) * np.abs(want).max())
    # and the training fit is the projection of y onto the range of K (it interpolates there)
    fit = np.asarray(rl.kernel_ridge(K, y, K, 0.0), np.float64)
    P = np.asarray(A, np.float64) @ np.linalg.pinv(np.asarray(A, np.float64))
    np.testing.assert_allclose(fit, P @ np.asarray(y, np.float64), atol=_tol(dtype, 1e-9) * 10)


def test_kernel_ridge_vector_of_ridges_equals_scalar_calls():
    # The ridge axis is dtype-independent bookkeeping over one eigendecomposition: one run, in
    # float64 (the module default), where the two paths must agree to 1e-12.
    n, m = 25, 7
    K, A = _psd(26, n, 10)
    Kt = _gauss(27, m, 10) @ A.T
    lams = jnp.array([0.0, 1e-3, 0.1, 2.0])
    for y in (_gauss(28, n), _gauss(29, n, 3)):
        path = rl.kernel_ridge(K, y, Kt, lams)
        assert path.shape == (4,) + (m,) + y.shape[1:]
        for i, lam in enumerate(lams):
            one = rl.kernel_ridge(K, y, Kt, float(lam))
            np.testing.assert_allclose(path[i], one, rtol=1e-12,
                                       atol=1e-12 * float(jnp.abs(one).max()))
    # a traced vector of ridges inside a user's jit
    jitted = jax.jit(lambda lam: rl.kernel_ridge(K, y, Kt, lam))(lams)
    np.testing.assert_allclose(jitted, path, rtol=1e-12, atol=1e-12)


def test_float32_default_dtype():
    X = np.ones((5, 3), np.float32) + np.eye(5, 3, dtype=np.float32)
    y = np.arange(5, dtype=np.float32)
    assert rl.ridge(X, y, 0.1).dtype == jnp.float32
    assert rl.kernel_ridge(X @ X.T, y, X @ X.T, 0.0).dtype == jnp.float32


SHAPES = [(1, 4), (3, 7), (7, 3), (5, 5)]   # few distinct (n, d): each new shape compiles


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from(SHAPES), rank=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_property_min_norm_in_row_space(shape, rank, seed):
    n, d = shape
    rank = min(rank, n, d)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))
    y = rng.standard_normal(n)
    beta = np.asarray(rl.min_norm_interpolator(X, y))
    Xn = np.asarray(X)
    # orthogonal to ker X: beta = P_row beta
    P_row = np.linalg.pinv(Xn) @ Xn
    np.testing.assert_allclose(P_row @ beta, beta, atol=1e-8 * (1 + np.linalg.norm(beta)))
    # normal equations: X^T (y - X beta) = 0 (a least-squares solution)
    np.testing.assert_allclose(Xn.T @ (np.asarray(y) - Xn @ beta), 0.0,
                               atol=1e-8 * (1 + np.linalg.norm(Xn) ** 2 * np.linalg.norm(beta)))


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from(SHAPES), seed=st.integers(0, 2**16), lam1=st.floats(1e-3, 1.0),
       factor=st.floats(1.5, 10.0))
def test_property_ridge_norm_decreases_with_lam(shape, seed, lam1, factor):
    n, d = shape
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    b0 = np.linalg.norm(rl.min_norm_interpolator(X, y))
    b1 = np.linalg.norm(rl.ridge(X, y, lam1))
    b2 = np.linalg.norm(rl.ridge(X, y, lam1 * factor))
    assert b2 <= b1 * (1 + 1e-12) <= b0 * (1 + 1e-12)


# ---------------------------------------------------------------- double-descent asymptotics

def test_asymptotic_risk_formula_and_vectorization():
    g = jnp.array([0.25, 0.5, 1.0, 2.0, 4.0])
    r = rl.isotropic_asymptotic_risk(g, signal=2.0, noise=0.5)
    assert r.shape == (5,)
    s2, r2 = 0.25, 4.0
    expected = [s2 * 0.25 / 0.75, s2 * 1.0, np.inf, r2 * 0.5 + s2, r2 * 0.75 + s2 / 3]
    np.testing.assert_allclose(r, expected, rtol=1e-12)
    assert float(rl.isotropic_asymptotic_risk(3.0, signal=1.0, noise=0.0)) == pytest.approx(2 / 3)
    assert rl.isotropic_asymptotic_risk(jnp.ones((2, 3)) * 0.5, signal=1, noise=1).shape == (2, 3)


def _finite_n_gaussian_risk(n, d, r, sigma):
    """Exact E||beta_hat - beta||^2 for Gaussian design (inverse-Wishart means)."""
    if d < n:
        return sigma ** 2 * d / (n - d - 1)
    return r ** 2 * (1 - n / d) + sigma ** 2 * n / (d - n - 1)


@pytest.mark.parametrize("gamma", [0.5, 2.0])            # one per regime
def test_min_norm_risk_matches_hmrt_asymptotics(gamma):
    """Monte Carlo of the excess risk ‖β̂ − β‖² (= E_x[(xᵀ(β̂ − β))²] for x ~ N(0, I)) at n = 100.

    Each repetition draws one Gaussian design X and fits k = 32 independent problems (β uniform on
    the sphere of radius r, fresh noise) at once as the columns of a multi-output y; the per-design
    average is one iid Monte-Carlo sample, so the standard error accounts for the randomness of X.
    """
    n, reps, k, r, sigma = 100, 10, 32, 1.0, 0.5
    d = int(round(gamma * n))
    risks = []
    for rep in range(reps):
        kb, kx, ke = jax.random.split(jax.random.key(1000 * rep + d), 3)
        B = jax.random.normal(kb, (d, k))
        B = r * B / jnp.linalg.norm(B, axis=0)
        X = jax.random.normal(kx, (n, d))
        Y = X @ B + sigma * jax.random.normal(ke, (n, k))
        risks.append(float(jnp.mean(jnp.sum((rl.min_norm_interpolator(X, Y) - B) ** 2, axis=0))))
    mean = np.mean(risks)
    se = np.std(risks, ddof=1) / np.sqrt(reps)
    # "3 standard errors" at the same 99.7% level, as a Student-t quantile since se is estimated
    z = stats.t.ppf(1 - 0.0027 / 2, df=reps - 1)
    limit = float(rl.isotropic_asymptotic_risk(d / n, signal=r, noise=sigma))
    finite = _finite_n_gaussian_risk(n, d, r, sigma)
    # Finite-n allowance: for Gaussian design E[risk] is known exactly (inverse-Wishart means
    # E tr (XᵀX)⁻¹ = d/(n−d−1), E tr (XXᵀ)⁻¹ = n/(d−n−1); the bias r²(1 − n/d) is exact), and
    # differs from the limit by a relative O(1/|n − d|) term (1%–2% here, comparable to se).
    assert abs(mean - limit) <= z * se + abs(finite - limit), (mean, se, limit, finite)
    assert abs(mean - finite) <= z * se, (mean, se, finite)


# ---------------------------------------------------------------- Marchenko–Pastur

@pytest.mark.parametrize("ratio,variance", [(0.3, 1.0), (0.5, 2.0), (2.0, 1.0), (4.0, 0.5)])
def test_mp_density_mass(ratio, variance):
    a, b = rl.marchenko_pastur_support(ratio, variance)
    assert a == pytest.approx(variance * (1 - np.sqrt(ratio)) ** 2)
    assert b == pytest.approx(variance * (1 + np.sqrt(ratio)) ** 2)
    mass, _ = integrate.quad(lambda x: float(rl.marchenko_pastur_density(x, ratio=ratio,
                                                                         variance=variance)),
                             a, b, limit=200)
    assert mass == pytest.approx(min(1.0, 1.0 / ratio), abs=1e-6)
    outside = rl.marchenko_pastur_density(jnp.array([a - 1e-3, b + 1e-3, -1.0, 0.0]),
                                          ratio=ratio, variance=variance)
    np.testing.assert_array_equal(outside, 0.0)


def _mp_cdf(grid, ratio, variance):
    dens = np.asarray(rl.marchenko_pastur_density(jnp.asarray(grid), ratio=ratio, variance=variance))
    cdf = integrate.cumulative_trapezoid(dens, grid, initial=0.0)
    return cdf / cdf[-1]


@pytest.mark.parametrize("ratio,variance", [(0.5, 2.0), (2.5, 1.0)])
def test_mp_matches_empirical_spectrum(ratio, variance):
    n = 800 if ratio < 1 else 400
    d = int(ratio * n)
    X = np.sqrt(variance) * np.asarray(_gauss(20, n, d))
    eig = np.sort(np.linalg.eigvalsh(X.T @ X / n))
    a, b = rl.marchenko_pastur_support(ratio, variance)
    if ratio > 1:   # atom of mass 1 - 1/ratio at 0: exactly d - n (numerically) zero eigenvalues
        assert np.sum(eig < 0.5 * a) == d - n
        eig = eig[d - n:]
    grid = np.linspace(a, b, 20001)
    cdf = _mp_cdf(grid, ratio, variance)
    emp = np.arange(1, eig.size + 1) / eig.size
    model = np.interp(eig, grid, cdf)
    ks = max(np.max(np.abs(emp - model)), np.max(np.abs(emp - 1 / eig.size - model)))
    # eigenvalues of Wishart matrices are rigid: the KS distance is O(log n / n), far below the
    # O(n^{-1/2}) of iid samples; 0.03 still leaves room (a wrong ratio/variance gives > 0.1).
    assert ks < 0.03, ks


# ---------------------------------------------------------------- random features

def test_random_features_shape_and_normalization():
    X, W = _gauss(30, 10, 5), _gauss(31, 7, 5)
    phi = rl.random_features(X, W, activation="relu")
    np.testing.assert_allclose(phi, np.maximum(np.asarray(X) @ np.asarray(W).T / np.sqrt(5), 0),
                               rtol=1e-12)


def test_random_features_keeps_float32_when_float64_is_enabled():
    with x64_mode(True):
        X, W = _gauss(30, 10, 5), _gauss(31, 7, 5)
        phi = rl.random_features(X.astype(jnp.float32), W.astype(jnp.float32))
        assert phi.dtype == jnp.float32          # no float64 constant promotes it
        np.testing.assert_allclose(phi, rl.random_features(X, W), rtol=1e-5, atol=1e-6)


def test_random_features_regression_interpolates_and_matches_ridge():
    X, y, Xt = _gauss(32, 30, 6), _gauss(33, 30), _gauss(34, 9, 6)
    key = jax.random.key(35)
    # overparameterized (N > n), lam = 0: the min-norm solution interpolates the training data
    fit = rl.random_features_regression(key, X, y, X, n_features=120, lam=0.0)
    np.testing.assert_allclose(fit, y, atol=1e-8)
    # same key => same W: equals ridge on the explicit features
    lam = 0.05
    W = jax.random.normal(key, (50, 6))
    expected = rl.random_features(Xt, W, activation="tanh") @ rl.ridge(
        rl.random_features(X, W, activation="tanh"), y, lam)
    pred = rl.random_features_regression(key, X, y, Xt, n_features=50, lam=lam, activation="tanh")
    np.testing.assert_allclose(pred, expected, rtol=1e-10, atol=1e-12)


def test_usable_inside_jit_and_vmap():
    """Chapters call these inside jax.jit / vmap, with data closed over or traced."""
    X, y = _gauss(40, 12, 20), _gauss(41, 12)
    lams = jnp.array([0.0, 0.1, 1.0])
    by_jit = jax.jit(jax.vmap(lambda lam: rl.ridge(X, y, lam)))(lams)
    np.testing.assert_allclose(by_jit[1], rl.ridge(X, y, 0.1), rtol=1e-10)
    kr = jax.jit(lambda K, lam: rl.kernel_ridge(K, y, X @ X.T, lam))(X @ X.T, 0.1)
    np.testing.assert_allclose(kr, X @ rl.ridge(X, y, 0.1), rtol=1e-8, atol=1e-10)
    risk = jax.jit(lambda g: rl.isotropic_asymptotic_risk(g, signal=1.0, noise=1.0))(lams + 2)
    np.testing.assert_allclose(risk, rl.isotropic_asymptotic_risk(lams + 2, signal=1.0, noise=1.0))


# ---------------------------------------------------------------- validation

def _check_raises(match, fn, *args, **kw):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kw)


def test_bad_inputs_raise_naming_the_argument():
    X, y = np.ones((4, 3)), np.ones(4)
    K = np.eye(4)
    nan_X = X.copy()
    nan_X[0, 0] = np.nan
    inf_y = y.copy()
    inf_y[1] = np.inf
    _check_raises("X", rl.min_norm_interpolator, np.ones(4), y)               # rank
    _check_raises("y", rl.min_norm_interpolator, X, np.ones((4, 1, 1)))
    _check_raises("X and y", rl.min_norm_interpolator, X, np.ones(5))         # n mismatch
    _check_raises("X", rl.min_norm_interpolator, nan_X, y)
    _check_raises("y", rl.ridge, X, inf_y, 0.1)
    _check_raises("lam", rl.ridge, X, y, -0.1)
    _check_raises("lam", rl.ridge, X, y, np.nan)
    _check_raises("K_train", rl.kernel_ridge, np.ones((4, 3)), y, np.ones((2, 4)), 0.1)
    _check_raises("K_train and y", rl.kernel_ridge, K, np.ones(3), np.ones((2, 4)), 0.1)
    _check_raises("K_test_train", rl.kernel_ridge, K, y, np.ones((2, 3)), 0.1)
    _check_raises("K_test_train", rl.kernel_ridge, K, y, np.full((2, 4), np.nan), 0.1)
    _check_raises("K_train must be symmetric", rl.kernel_ridge, np.triu(np.ones((4, 4))), y,
                  np.ones((2, 4)), 0.1)
    _check_raises("lam", rl.kernel_ridge, K, y, np.ones((2, 4)), -1.0)
    _check_raises("lam", rl.kernel_ridge, K, y, np.ones((2, 4)), np.array([0.1, -1.0]))
    _check_raises("lam", rl.kernel_ridge, K, y, np.ones((2, 4)), np.array([0.1, np.nan]))
    _check_raises("lam", rl.kernel_ridge, K, y, np.ones((2, 4)), np.zeros(0))
    _check_raises("lam", rl.kernel_ridge, K, y, np.ones((2, 4)), np.ones((2, 2)))
    _check_raises("gamma", rl.isotropic_asymptotic_risk, 0.0, signal=1.0, noise=1.0)
    _check_raises("gamma", rl.isotropic_asymptotic_risk, [0.5, -1.0], signal=1.0, noise=1.0)
    _check_raises("gamma", rl.isotropic_asymptotic_risk, np.nan, signal=1.0, noise=1.0)
    _check_raises("noise", rl.isotropic_asymptotic_risk, 0.5, signal=1.0, noise=-1.0)
    _check_raises("signal", rl.isotropic_asymptotic_risk, 0.5, signal=-1.0, noise=1.0)
    _check_raises("ratio", rl.marchenko_pastur_density, 1.0, ratio=0.0)
    _check_raises("variance", rl.marchenko_pastur_support, 0.5, variance=-1.0)
    _check_raises("x", rl.marchenko_pastur_density, np.inf, ratio=0.5)
    _check_raises("X and W", rl.random_features, X, np.ones((5, 2)))
    _check_raises("activation", rl.random_features, X, np.ones((5, 3)), activation="nope")
    _check_raises("n_features", rl.random_features_regression, jax.random.key(0), X, y, X,
                  n_features=0, lam=0.1)
    _check_raises("X_train and X_test", rl.random_features_regression, jax.random.key(0), X, y,
                  np.ones((2, 5)), n_features=3, lam=0.1)
    _check_raises("key", rl.random_features_regression, 0, X, y, X, n_features=3, lam=0.1)


# ------------------------------------------------------------------------------------------------
# chapter 2.3 additions: finite-n risk, Monte-Carlo risk, MP CDF, random-features ridge path
# ------------------------------------------------------------------------------------------------

def test_isotropic_finite_risk_limits_and_values():
    assert rl.isotropic_finite_risk(100, 50, signal=1.0, noise=2.0) == pytest.approx(4 * 50 / 49)
    assert rl.isotropic_finite_risk(100, 200, signal=3.0, noise=1.0) == pytest.approx(
        9 * 0.5 + 100 / 99)
    assert rl.isotropic_finite_risk(100, 100, signal=1.0, noise=1.0) == np.inf
    big = rl.isotropic_finite_risk(10 ** 6, 3 * 10 ** 6, signal=1.0, noise=1.0)
    assert big == pytest.approx(float(rl.isotropic_asymptotic_risk(3.0, signal=1.0, noise=1.0)),
                                rel=1e-5)


def test_ridge_risk_monte_carlo_matches_direct_and_padding():
    key = jax.random.key(3)
    out = np.asarray(rl.ridge_risk_monte_carlo(key, 20, [7, 35], signal=1.5, noise=0.7,
                                               lam=0.0, reps=3))
    assert out.shape == (2, 3)
    # an independent re-computation of the same draws with the unpadded problem and pinv:
    # 7 ≤ n and 35 > n fall in separate groups (no padding); 21, 22, 30 > n form one group
    # padded to width 30, and 45 > 2·21 starts a new one
    for dims, widths in (([7, 35], [7, 35]), ([45, 22, 30, 10, 21], [45, 30, 30, 10, 30])):
        out = np.asarray(rl.ridge_risk_monte_carlo(key, 20, dims, signal=1.5, noise=0.7,
                                                   lam=0.0, reps=3))
        kd = jax.random.split(key, len(dims))
        for i, (d, w) in enumerate(zip(dims, widths)):
            for j, k in enumerate(jax.random.split(kd[i], 3)):
                kx, kb, ke = jax.random.split(k, 3)
                X = np.asarray(jax.random.normal(kx, (20, w)))[:, :d]
                g = np.asarray(jax.random.normal(kb, (w,)))[:d]
                beta = 1.5 * g / np.linalg.norm(g)
                y = X @ beta + 0.7 * np.asarray(jax.random.normal(ke, (20,)))
                bhat = np.linalg.pinv(X) @ y
                assert out[i, j] == pytest.approx(np.sum((bhat - beta) ** 2), rel=1e-8)
    # ridge with lam > 0 agrees with lib.ridge on the same draw
    # (same n, dims and reps as above: the same compiled program)
    ridge_out = np.asarray(rl.ridge_risk_monte_carlo(key, 20, [7, 35], signal=1.5, noise=0.7,
                                                     lam=0.3, reps=3))[1, 0]
    k = jax.random.split(jax.random.split(key, 2)[1], 3)[0]
    kx, kb, ke = jax.random.split(k, 3)
    X = jax.random.normal(kx, (20, 35))
    g = jax.random.normal(kb, (35,))
    beta = 1.5 * g / jnp.linalg.norm(g)
    y = X @ beta + 0.7 * jax.random.normal(ke, (20,))
    assert ridge_out == pytest.approx(float(jnp.sum((rl.ridge(X, y, 0.3) - beta) ** 2)), rel=1e-8)


def test_ridge_risk_monte_carlo_mean_vs_finite_formula():
    n = 60
    out = np.asarray(rl.ridge_risk_monte_carlo(jax.random.key(0), n, [20, 150], signal=1.0,
                                               noise=1.0, reps=400))
    for row, d in zip(out, [20, 150]):
        se = row.std(ddof=1) / np.sqrt(row.size)
        assert abs(row.mean() - rl.isotropic_finite_risk(n, d, signal=1.0, noise=1.0)) < 4 * se


@pytest.mark.parametrize("ratio", [0.3, 1.0, 2.5])
def test_marchenko_pastur_cdf_vs_quadrature(ratio):
    a, b = rl.marchenko_pastur_support(ratio, 1.7)
    xs = np.linspace(a - 0.1, b + 0.1, 13)
    cdf = rl.marchenko_pastur_cdf(xs, ratio=ratio, variance=1.7)
    dens = lambda t: float(rl.marchenko_pastur_density(t, ratio=ratio, variance=1.7))
    for x, F in zip(xs, cdf):
        ref = integrate.quad(dens, a, min(max(x, a), b), limit=200)[0] if x > a else 0.0
        assert F == pytest.approx(ref, abs=2e-5)
    assert cdf[-1] == pytest.approx(min(1.0, 1.0 / ratio), abs=1e-12)
    assert np.all(np.diff(cdf) >= 0)


def test_random_features_ridge_path_matches_regression():
    kx, kt, kw = jax.random.split(jax.random.key(5), 3)
    X = jax.random.normal(kx, (15, 4))
    Xt = jax.random.normal(kt, (9, 4))
    y = jnp.sin(X[:, 0])
    yt = jnp.sin(Xt[:, 0])
    lams = jnp.array([0.0, 0.01, 1.0])
    out = np.asarray(rl.random_features_ridge_path(kw, X, y, Xt, yt, n_features=[6, 15, 40],
                                                   lams=lams, reps=2))
    assert out.shape == (3, 2, 3)
    for j, k in enumerate(jax.random.split(kw, 2)):
        W = jax.random.normal(k, (40, 4))
        for i, N in enumerate([6, 15, 40]):
            Phi, Phit = rl.random_features(X, W[:N]), rl.random_features(Xt, W[:N])
            for l, lam in enumerate(lams):
                pred = Phit @ rl.ridge(Phi, y, float(lam))
                assert out[i, j, l] == pytest.approx(float(jnp.mean((pred - yt) ** 2)),
                                                     rel=1e-6, abs=1e-10)


def test_chapter23_validation():
    k = jax.random.key(0)
    _check_raises("dims", rl.ridge_risk_monte_carlo, k, 10, [0, 5], signal=1.0, noise=1.0,
                  reps=2)
    _check_raises("reps", rl.ridge_risk_monte_carlo, k, 10, [5], signal=1.0, noise=1.0, reps=0)
    _check_raises("noise", rl.ridge_risk_monte_carlo, k, 10, [5], signal=1.0, noise=-1.0,
                  reps=2)
    _check_raises("lam", rl.ridge_risk_monte_carlo, k, 10, [5], signal=1.0, noise=1.0,
                  lam=-1.0, reps=2)
    _check_raises("d", rl.isotropic_finite_risk, 10, 0, signal=1.0, noise=1.0)
    _check_raises("ratio", rl.marchenko_pastur_cdf, 0.5, ratio=-1.0)
    X, y = np.ones((4, 3)), np.ones(4)
    _check_raises("n_features", rl.random_features_ridge_path, k, X, y, X, y,
                  n_features=[0], lams=[0.1])
    _check_raises("lams", rl.random_features_ridge_path, k, X, y, X, y, n_features=[2],
                  lams=[-0.1])
    _check_raises("X_test and y_test", rl.random_features_ridge_path, k, X, y, X, np.ones(3),
                  n_features=[2], lams=[0.1])


def test_random_features_ridge_path_groups_sphere_multi_output_and_loo():
    # widths 5, 8, 9 share one padded group and 20 forms its own; the nesting across groups
    # (draw j = first N rows of one (20, d) matrix) must survive the grouping
    kx, kt, ky, kw = jax.random.split(jax.random.key(11), 4)
    X = jax.random.normal(kx, (12, 3), dtype=jnp.float64)
    Xt = jax.random.normal(kt, (7, 3), dtype=jnp.float64)
    B = jax.random.normal(ky, (3, 2), dtype=jnp.float64)
    Y, Yt = jnp.tanh(X @ B), jnp.tanh(Xt @ B)
    lams = jnp.array([0.0, 1e-3, 0.3])
    widths = [5, 8, 9, 20]
    test, loo = rl.random_features_ridge_path(kw, X, Y, Xt, Yt, n_features=widths, lams=lams,
                                              reps=2, weights="sphere", loo=True)
    assert test.shape == loo.shape == (4, 2, 3, 2)
    for j, k in enumerate(jax.random.split(kw, 2)):
        W = jax.random.normal(k, (20, 3), dtype=jnp.float64)
        W = W * jnp.sqrt(3.0) / jnp.linalg.norm(W, axis=1, keepdims=True)
        for i, N in enumerate(widths):
            Phi, Phit = rl.random_features(X, W[:N]), rl.random_features(Xt, W[:N])
            for l, lam in enumerate(lams):
                pred = Phit @ rl.ridge(Phi, Y, float(lam))
                np.testing.assert_allclose(test[i, j, l], jnp.mean((pred - Yt) ** 2, axis=0),
                                           rtol=1e-7, atol=1e-12)
                if lam == 0 and N >= 12:
                    continue            # interpolating fit: LOO is a limit, checked below
                # brute-force leave-one-out: refit without sample i, predict it
                errs = []
                for s in range(12):
                    keep = np.arange(12) != s
                    # same objective on n - 1 points: the ridge n·lam stays n·lam
                    a = rl.ridge(Phi[keep], Y[keep], float(lam) * 12 / 11)
                    errs.append((Phi[s] @ a - Y[s]) ** 2)
                np.testing.assert_allclose(loo[i, j, l], jnp.mean(jnp.stack(errs), axis=0),
                                           rtol=1e-6, atol=1e-12)
        # lam = 0 for N ≥ n: the limit of the LOO error as lam → 0⁺
        tiny = rl.random_features_ridge_path(kw, X, Y, Xt, Yt, n_features=[20],
                                             lams=jnp.array([1e-11]), reps=2,
                                             weights="sphere", loo=True)[1]
        np.testing.assert_allclose(loo[3, :, 0], tiny[0, :, 0], rtol=1e-4)


def test_random_features_ridge_path_validation_of_new_options():
    k = jax.random.key(0)
    X, y = np.ones((4, 3)), np.ones(4)
    _check_raises("weights", rl.random_features_ridge_path, k, X, y, X, y, n_features=[2],
                  lams=[0.1], weights="uniform")
    _check_raises("y_train and y_test", rl.random_features_ridge_path, k, X, np.ones((4, 2)), X,
                  np.ones((4, 3)), n_features=[2], lams=[0.1])
