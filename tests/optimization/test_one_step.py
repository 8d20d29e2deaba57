"""lib.optimization.one_step: quadrature against closed forms, the gradient against autodiff, the rank-one
approximation and the spike against the Ba et al. / Benaych-Georges–Nadakuditi limits, the block
power iteration against a dense SVD, ridge paths against lib.ridgeless.ridge, input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.optimization import one_step as osl
from lib import ridgeless

pytestmark = pytest.mark.usefixtures("x64")

RELU = (1 / np.sqrt(2 * np.pi), 0.5, np.sqrt(0.25 - 1 / (2 * np.pi)))
ERF = (0.0, 2 / np.sqrt(3 * np.pi), np.sqrt(2 / np.pi * np.arcsin(2 / 3) - 4 / (3 * np.pi)))


# ---------------------------------------------------------------- quadrature and GE constants

def test_quadrature_rules_integrate_gaussian_moments():
    for z, w in (osl.gauss_hermite(40), osl.split_gauss_legendre(60)):
        np.testing.assert_allclose(w.sum(), 1.0, atol=1e-14)
        for k, m in ((2, 1.0), (4, 3.0), (6, 15.0), (8, 105.0)):
            np.testing.assert_allclose(w @ z ** k, m, rtol=1e-10)
    z, w = osl.split_gauss_legendre(60)
    np.testing.assert_allclose(w @ np.abs(z), np.sqrt(2 / np.pi), rtol=1e-12)   # kink at 0


def test_ge_constants_closed_forms():
    np.testing.assert_allclose(osl.gaussian_equivalence_constants("relu", rule="split"), RELU,
                               atol=1e-10)
    np.testing.assert_allclose(osl.gaussian_equivalence_constants("erf"), ERF, atol=1e-10)
    # Gauss–Hermite converges only algebraically across the ReLU kink, but it converges
    herm = osl.gaussian_equivalence_constants("relu", n_nodes=201)
    assert np.max(np.abs(np.subtract(herm, RELU))) < 5e-3
    # a quadratic: 1 + 2z + 3 He2(z), He2 = z² − 1 with E He2² = 2
    q = osl.gaussian_equivalence_constants(lambda z: 1 + 2 * z + 3 * (z ** 2 - 1), n_nodes=10)
    np.testing.assert_allclose(q, (1.0, 2.0, 3 * np.sqrt(2)), atol=1e-12)
    # identity has no nonlinear part
    np.testing.assert_allclose(osl.gaussian_equivalence_constants("identity"), (0, 1, 0), atol=1e-12)


def test_hermite_coefficients_and_parseval():
    he3 = lambda z: (z ** 3 - 3 * z) / np.sqrt(6)           # normalized He3
    c = osl.hermite_coefficients(he3, 5, n_nodes=20)
    np.testing.assert_allclose(c, [0, 0, 0, 1, 0, 0], atol=1e-12)
    c = np.asarray(osl.hermite_coefficients("tanh", 40))
    ge = osl.gaussian_equivalence_constants("tanh")
    np.testing.assert_allclose(c[:2], [ge.mu0, ge.mu1], atol=1e-12)
    np.testing.assert_allclose(np.sum(c[2:] ** 2), ge.mu2 ** 2, rtol=1e-4)   # Parseval
    assert np.all(np.abs(c[0::2]) < 1e-12)                                  # tanh is odd


def test_monte_carlo_agrees_with_quadrature():
    est, se = osl.gaussian_equivalence_monte_carlo(jax.random.key(3), "relu", n_samples=200_000)
    for e, s, r in zip(est, se, RELU):
        assert 0 < s < 0.01
        assert abs(e - r) < 5 * s


# ---------------------------------------------------------------- data, gradient, step

def _problem(seed=0, d=40, N=60, n=80):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    beta = jax.random.normal(k1, (d,), dtype=jnp.float64)
    beta = beta / jnp.linalg.norm(beta)
    X, y = osl.single_index_data(k2, n, beta, jnp.tanh, noise=0.1)
    W0, a = osl.init_two_layer(k3, N, d)
    return beta, X, y, W0, a


def test_init_and_data_shapes_and_scales():
    beta, X, y, W0, a = _problem(d=400, N=200, n=50)
    assert X.shape == (50, 400) and y.shape == (50,) and W0.shape == (200, 400)
    np.testing.assert_allclose(jnp.linalg.norm(a), 1.0, atol=1e-12)
    np.testing.assert_allclose(jnp.mean(jnp.sum(W0 ** 2, axis=1)), 1.0, atol=0.02)
    # noiseless labels are exactly target(<x, beta>)
    X2, y2 = osl.single_index_data(jax.random.key(1), 7, beta, jnp.sin)
    np.testing.assert_allclose(y2, jnp.sin(X2 @ beta), atol=1e-12)


def test_gradient_matches_autodiff():
    _, X, y, W0, a = _problem()
    N = W0.shape[0]

    def loss(W):
        f = jnp.tanh(X @ W.T) @ a / jnp.sqrt(N)
        return 0.5 * jnp.mean((y - f) ** 2)
    G = osl.first_step_gradient(W0, a, X, y, activation="tanh")
    np.testing.assert_allclose(G, -jax.jit(jax.grad(loss))(W0), atol=1e-12)
    W1 = osl.one_step_weights(W0, a, X, y, eta=2.5, activation="tanh")
    np.testing.assert_allclose(W1, W0 + 2.5 * np.sqrt(N) * G, atol=1e-12)


def test_gradient_is_nearly_rank_one():
    beta, X, y, W0, a = _problem(seed=1, d=200, N=400, n=800)
    mu1 = osl.gaussian_equivalence_constants("tanh").mu1
    full = osl.one_step_weights(W0, a, X, y, eta=1.0) - W0
    r1 = osl.rank_one_step(W0, a, X, y, eta=1.0, mu1=mu1) - W0
    op = lambda M: float(osl.leading_singular_pairs(M, k=1)[0][0])
    rel = op(full - r1) / op(r1)
    assert rel < 0.2                                # O(d^{-1/2}) up to logs


# ---------------------------------------------------------------- spike

def test_leading_singular_pairs_matches_svd():
    k1, k2, k3 = jax.random.split(jax.random.key(5), 3)
    W = jax.random.normal(k1, (120, 60), dtype=jnp.float64) / np.sqrt(60)
    u = jax.random.normal(k2, (60,), dtype=jnp.float64)
    v = jax.random.normal(k3, (120,), dtype=jnp.float64)
    W = W + 3.0 * jnp.outer(v / jnp.linalg.norm(v), u / jnp.linalg.norm(u))
    s, V = osl.leading_singular_pairs(W, k=2, block=8, iters=400)
    _, s_np, Vt = np.linalg.svd(np.asarray(W))
    np.testing.assert_allclose(s, s_np[:2], rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.asarray(V[:, 0]) @ Vt[0]), 1.0, atol=1e-8)


def test_spike_limit_formulas():
    lim = osl.spike_limit(np.array([0.1, 1.0, 5.0, 1e4]), psi1=2.0, psi2=3.0, mu1=0.6,
                          mu1_star=0.8, mean_square=1.0)
    assert lim.threshold == pytest.approx(3 ** 0.25)
    np.testing.assert_allclose(lim.theta1, np.array([0.1, 1, 5, 1e4]) * 0.6 * np.sqrt(0.64 + 0.5))
    # below threshold: MP edge and no alignment; far above: cos² of the spike direction
    assert lim.alignment[0] == 0 and lim.sigma1[0] == pytest.approx(1 + np.sqrt(3))
    assert lim.alignment[-1] == pytest.approx(0.64 / 1.14, rel=1e-6)
    # continuity at the threshold: alignment → 0 and sigma1 → bulk edge
    eta_c = 3 ** 0.25 / (0.6 * np.sqrt(1.14))
    at = osl.spike_limit(np.array([eta_c * (1 + 1e-9)]), psi1=2.0, psi2=3.0, mu1=0.6,
                         mu1_star=0.8, mean_square=1.0)
    assert at.alignment[0] == pytest.approx(0.0, abs=1e-7)
    assert at.sigma1[0] == pytest.approx(1 + np.sqrt(3), rel=1e-7)


def test_rank_one_sweep_matches_bgn_limit():
    target = lambda s: s                             # linear teacher: mu1* = 1, E y² = 1 + noise²
    d, N, n = 150, 300, 600
    etas = np.array([0.5, 4.0, 8.0])
    sw = osl.step_size_sweep(jax.random.key(7), d=d, n_features=N, n_samples=n, etas=etas,
                             reps=2, target=target, noise=0.0, rank_one=True)
    assert sw.sigma1.shape == (2, 3) and sw.alignment2.shape == (2, 3)
    mu1 = osl.gaussian_equivalence_constants("tanh").mu1
    lim = osl.spike_limit(etas, psi1=n / d, psi2=N / d, mu1=mu1, mu1_star=1.0, mean_square=1.0)
    np.testing.assert_allclose(np.mean(sw.alignment, 0)[1:], lim.alignment[1:], atol=0.08)
    np.testing.assert_allclose(np.mean(sw.sigma1, 0), lim.sigma1, rtol=0.05)  # θ₁ fluctuates
    assert np.mean(sw.alignment, 0)[0] < 0.05
    assert np.all(np.asarray(sw.sigma2) <= np.asarray(sw.sigma1) + 1e-12)


# ---------------------------------------------------------------- features and ridge

def test_features_and_ridge_path_match_ridgeless():
    beta, X, y, W0, a = _problem(seed=2)
    Phi = osl.network_features(X, W0, activation="tanh")
    np.testing.assert_allclose(Phi, jnp.tanh(X @ W0.T) / np.sqrt(W0.shape[0]), atol=1e-12)
    ge = osl.gaussian_equivalent_features(jax.random.key(0), X, W0, mu0=0.3, mu1=0.5, mu2=0.0)
    np.testing.assert_allclose(ge, (0.3 + 0.5 * X @ W0.T) / np.sqrt(W0.shape[0]), atol=1e-12)
    Xt, yt = osl.single_index_data(jax.random.key(9), 30, beta, jnp.tanh)
    Phi_t = osl.network_features(Xt, W0)
    lams = np.array([1e-4, 1e-2, 1.0])
    path = osl.ridge_path(Phi, y, Phi_t, yt, lams=lams)
    for lam, mse, se in zip(lams, path.mse, path.stderr):
        sq = (Phi_t @ ridgeless.ridge(Phi, y, lam) - yt) ** 2
        np.testing.assert_allclose(mse, jnp.mean(sq), rtol=1e-8)
        np.testing.assert_allclose(se, jnp.std(sq, ddof=1) / np.sqrt(30), rtol=1e-8)


# ---------------------------------------------------------------- validation

def test_bad_inputs():
    _, X, y, W0, a = _problem()
    with pytest.raises(ValueError, match="activation"):
        osl.gaussian_equivalence_constants("swish")
    with pytest.raises(ValueError, match="fn"):
        osl.gaussian_equivalence_constants(3.0)
    with pytest.raises(ValueError, match="rule"):
        osl.gaussian_equivalence_constants("tanh", rule="simpson")
    with pytest.raises(ValueError, match="n_nodes"):
        osl.gauss_hermite(0)
    with pytest.raises(ValueError, match="n_nodes"):
        osl.gauss_hermite(400)
    with pytest.raises(ValueError, match="n_samples"):
        osl.gaussian_equivalence_monte_carlo(jax.random.key(0), "tanh", n_samples=1)
    with pytest.raises(ValueError, match="a must have length"):
        osl.first_step_gradient(W0, a[:-1], X, y)
    with pytest.raises(ValueError, match="X and W"):
        osl.first_step_gradient(W0, a, X[:, :-1], y)
    with pytest.raises(ValueError, match="eta"):
        osl.one_step_weights(W0, a, X, y, eta=-1.0)
    with pytest.raises(ValueError, match="W contains NaN"):
        osl.one_step_weights(W0.at[0, 0].set(jnp.nan), a, X, y, eta=1.0)
    with pytest.raises(ValueError, match="mean_square"):
        osl.spike_limit(1.0, psi1=1, psi2=1, mu1=0.5, mu1_star=2.0, mean_square=1.0)
    with pytest.raises(ValueError, match="psi2"):
        osl.spike_limit(1.0, psi1=1, psi2=0, mu1=0.5, mu1_star=0.5, mean_square=1.0)
    with pytest.raises(ValueError, match="block"):
        osl.leading_singular_pairs(W0, k=3, block=2)
    with pytest.raises(ValueError, match="etas"):
        osl.step_size_sweep(jax.random.key(0), d=10, n_features=20, n_samples=20,
                            etas=[-1.0], reps=1, target=jnp.tanh)
    with pytest.raises(ValueError, match="lams"):
        osl.ridge_path(X, y, X, y, lams=[0.0])
    with pytest.raises(ValueError, match="Phi_test"):
        osl.ridge_path(X, y, X[:, :-1], y, lams=[1.0])
    with pytest.raises(ValueError, match="key"):
        osl.init_two_layer(0, 4, 3)


def test_ge_risk_band_against_monte_carlo_least_squares():
    # independent check: simulate the Gaussian-equivalent model and fit least squares
    d, N, n, m = 20, 30, 400, 20000
    rng = np.random.default_rng(21)
    W = rng.standard_normal((N, d)) / np.sqrt(d)
    beta = rng.standard_normal(d)
    beta = beta / np.linalg.norm(beta)
    mu1, mu2, mu1s, energy, noise = 0.6, 0.3, 1.2, 0.4, 0.1
    band = osl.gaussian_equivalent_risk_band(W, beta, mu1=mu1, mu2=mu2, mu1_star=mu1s,
                                             nonlinear_energy=energy, noise=noise, n_samples=n)

    def sample(size):
        X = rng.standard_normal((size, d))
        Phi = mu1 * X @ W.T + mu2 * rng.standard_normal((size, N))
        f = mu1s * X @ beta + np.sqrt(energy) * rng.standard_normal(size)
        return Phi, f                     # P>1 f* modelled as independent noise of its energy

    # population optimum (large-sample least squares, noiseless) ≈ lower
    Phi, f = sample(200000)
    c = np.linalg.lstsq(Phi, f, rcond=None)[0]
    Phi_t, f_t = sample(m)
    assert abs(np.mean((Phi_t @ c - f_t) ** 2) - band.lower) < 0.02 * band.lower
    # n-sample least squares with label noise: mean test error over 200 fits ≈ upper
    errs = []
    for _ in range(200):
        Phi, f = sample(n)
        c = np.linalg.lstsq(Phi, f + noise * rng.standard_normal(n), rcond=None)[0]
        errs.append(np.mean((Phi_t @ c - f_t) ** 2))
    se = np.std(errs, ddof=1) / np.sqrt(len(errs))
    assert abs(np.mean(errs) - band.upper) < 4 * se + 0.01 * band.upper
    assert band.upper > band.lower > energy


def test_ge_risk_band_validation():
    with pytest.raises(ValueError, match="n_samples"):
        osl.gaussian_equivalent_risk_band(np.ones((5, 3)), np.ones(3) / np.sqrt(3), mu1=1.0, mu2=1.0,
                                          mu1_star=1.0, nonlinear_energy=0.1, noise=0.1, n_samples=6)
    with pytest.raises(ValueError, match="beta"):
        osl.gaussian_equivalent_risk_band(np.ones((5, 3)), np.ones(4), mu1=1.0, mu2=1.0,
                                          mu1_star=1.0, nonlinear_energy=0.1, noise=0.1, n_samples=60)


def test_gauss_hermite_largest_rule_is_finite_and_relu_error_falls_like_one_over_m():
    # the largest allowed rule must give finite weights (NumPy's overflow from ~380 nodes gave NaN)
    z, w = osl.gauss_hermite(360)
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(w)) and abs(w.sum() - 1) < 1e-12
    q = osl.gaussian_equivalence_constants("relu", n_nodes=360)
    assert np.isfinite([q.mu0, q.mu1, q.mu2]).all()
    # E relu(Z) = 1/√(2π): the error of the rule falls like m^{-1} across the kink
    errs = [abs(osl.gaussian_equivalence_constants("relu", n_nodes=m).mu0 - 1 / np.sqrt(2 * np.pi))
            for m in (40, 80, 160, 320)]
    slope = np.polyfit(np.log([40, 80, 160, 320]), np.log(errs), 1)[0]
    assert abs(slope + 1) < 0.1  # a rate of m^{-3/2} (or m^{-3/4}) fails here


# ---------------------------------------------------------------- risk change after one step

def _target(s):
    return s + jnp.sin(2 * s)


def test_step_risk_change_matches_public_pipeline():
    """Against the same draws rebuilt from the public functions (dense-eigh ridge path)."""
    key, d, N, n, m, reps, lam = jax.random.PRNGKey(3), 12, 16, 96, 64, 2, 0.05 / 16
    etas = np.array([0.3, 2.0])
    out = osl.step_risk_change(key, d=d, n_features=N, n_samples=n, n_test=m, etas=etas,
                               reps=reps, ridge=lam, target=_target, noise=0.1)
    assert out.risk0.shape == (reps,) and out.plus.shape == out.minus.shape == (reps, 2)
    for r, k in enumerate(jax.random.split(key, reps)):
        kb, ks, kf, kt, kn = jax.random.split(k, 5)
        beta = jax.random.normal(kb, (d,))
        beta = beta / jnp.linalg.norm(beta)
        Xs, ys = osl.single_index_data(ks, n, beta, _target, noise=0.1)
        Xf, yf = osl.single_index_data(kf, n, beta, _target, noise=0.1)
        Xt = jax.random.normal(kt, (m, d))
        W0, a = osl.init_two_layer(kn, N, d)

        def risk(W):
            return float(osl.ridge_path(osl.network_features(Xf, W), yf, osl.network_features(Xt, W),
                                        _target(Xt @ beta), lams=[lam]).mse[0])
        np.testing.assert_allclose(out.risk0[r], risk(W0), rtol=1e-8)
        for j, eta in enumerate(etas):
            np.testing.assert_allclose(out.plus[r, j], risk(osl.one_step_weights(W0, a, Xs, ys, eta=eta)),
                                       rtol=1e-8)
            np.testing.assert_allclose(out.minus[r, j],
                                       risk(osl.one_step_weights(W0, -a, Xs, ys, eta=eta)), rtol=1e-8)


def test_step_risk_change_zero_step():
    kw = dict(d=10, n_features=12, n_samples=80, n_test=50, reps=2, ridge=0.01, target=_target)
    out = osl.step_risk_change(jax.random.PRNGKey(5), etas=[0.0, 0.5], **kw)
    np.testing.assert_allclose(out.plus[:, 0], out.risk0, rtol=1e-12)    # η = 0 changes nothing
    np.testing.assert_allclose(out.minus[:, 0], out.risk0, rtol=1e-12)
    assert np.all(out.plus[:, 1] != out.minus[:, 1])                     # ±a: two different steps


def test_step_risk_change_float32_and_validation():
    jax.config.update("jax_enable_x64", False)                          # float32 run
    try:
        out = osl.step_risk_change(jax.random.PRNGKey(0), d=8, n_features=8, n_samples=40,
                                   n_test=20, etas=[0.5], reps=1, ridge=0.01, target=_target)
    finally:
        jax.config.update("jax_enable_x64", True)                       # the module's x64 fixture
    assert out.plus.dtype == jnp.float32 and np.all(np.isfinite(out.plus))
    kw = dict(d=8, n_features=8, n_samples=40, n_test=20, etas=[0.5], reps=1, ridge=0.01,
              target=_target)
    for bad, name in ((dict(ridge=0.0), "ridge"), (dict(etas=[-1.0]), "etas"),
                      (dict(reps=0), "reps"), (dict(n_test=0), "n_test")):
        with pytest.raises(ValueError, match=name):
            osl.step_risk_change(jax.random.PRNGKey(0), **{**kw, **bad})
