"""lib.generalization.benign_overfitting: effective ranks against NumPy, the critical index against brute force, the exact
conditional bias/variance against Monte Carlo over the noise and against each other (block vs
explicit design), the Bartlett tail sampler against Wishart moments, and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.generalization import benign_overfitting as bn
from lib import data
from lib.ridgeless import min_norm_interpolator


pytestmark = pytest.mark.usefixtures("x64")


def _np_ranks(lam):
    lam = np.asarray(lam, dtype=float)
    r = np.array([lam[k:].sum() / lam[k] for k in range(lam.size)])
    R = np.array([lam[k:].sum() ** 2 / (lam[k:] ** 2).sum() for k in range(lam.size)])
    return r, R


# ---------------------------------------------------------------- effective ranks, k*

def test_effective_ranks_match_numpy_for_an_array():
    lam = np.sort(np.random.default_rng(0).exponential(size=40))[::-1]
    r, R = bn.effective_ranks(jnp.asarray(lam))
    r_np, R_np = _np_ranks(lam)
    np.testing.assert_allclose(r, r_np, rtol=1e-12)
    np.testing.assert_allclose(R, R_np, rtol=1e-12)


def test_effective_ranks_of_block_spectrum_match_full_array():
    spec = bn.block_spectrum(jnp.array([3.0, 1.0, 0.5, 0.2]), 0.01, 300)
    full = np.asarray(bn.eigenvalues(spec))
    assert full.shape == (304,) and spec.dim == 304
    r_np, R_np = _np_ranks(full)
    ks = np.array([0, 1, 2, 3, 4, 5, 100, 303])
    r, R = bn.effective_ranks(spec, ks)
    np.testing.assert_allclose(r, r_np[ks], rtol=1e-10)
    np.testing.assert_allclose(R, R_np[ks], rtol=1e-10)
    # flat tail: r_k = R_k = d - k
    np.testing.assert_allclose(r[4:], 304 - ks[4:], rtol=1e-12)


def test_isotropic_ranks_are_the_dimension():
    r, R = bn.effective_ranks(bn.isotropic(50), np.array([0, 7]))
    np.testing.assert_allclose(r, [50, 43])
    np.testing.assert_allclose(R, [50, 43])


@pytest.mark.parametrize("n,b", [(5, 1.5), (20, 1.01), (20, 2.0), (400, 1.5)])
def test_critical_index_brute_force(n, b):
    spec = bn.power_law(200, alpha=1.5)
    r_np, _ = _np_ranks(np.asarray(bn.eigenvalues(spec)))
    hits = np.nonzero(r_np >= b * n)[0]
    expected = int(hits[0]) if hits.size else 200
    assert bn.critical_index(spec, n, b=b) == expected


def test_bllt_terms_spike_tail():
    n = 100
    spec = bn.spike_tail(n, spike=(1.0, 0.5, 0.25), tail_mass=2.0, tail_exponent=1.5)
    assert spec.tail_dim == 1000
    np.testing.assert_allclose(spec.tail_value, 2.0 / 1000)
    t = bn.bllt_terms(spec, n, signal=2.0, noise=0.5, b=1.5)
    assert t.k_star == 3
    np.testing.assert_allclose(t.R_kstar, 1000.0, rtol=1e-12)
    np.testing.assert_allclose(t.r0, 1.75 + 2.0, rtol=1e-12)
    np.testing.assert_allclose(t.variance, 0.25 * (3 / n + n / 1000))
    np.testing.assert_allclose(t.bias, 4.0 * 1.0 * np.sqrt(3.75 / n))
    # no k reaches b n: infinite variance term
    assert bn.bllt_terms(bn.power_law(20, alpha=2.0), 50, b=1.5).variance == np.inf


def test_b_must_exceed_one():
    # Bartlett et al. (2020, Thm. 4) need a constant b > 1 and give no value: no default, b ≤ 1 rejected
    spec = bn.isotropic(50)
    for b in (1.0, 0.25, -2.0):
        with pytest.raises(ValueError, match="b must be > 1"):
            bn.critical_index(spec, 10, b=b)
        with pytest.raises(ValueError, match="b must be > 1"):
            bn.bllt_terms(spec, 10, b=b)
    with pytest.raises(TypeError):
        bn.critical_index(spec, 10)                     # b is required
    assert bn.critical_index(spec, 10, b=1.5) == 0 and bn.critical_index(spec, 40, b=1.5) == 50


# ---------------------------------------------------------------- exact conditional risk

def test_min_norm_bias_variance_matches_monte_carlo_over_noise():
    n, d, sigma, m = 15, 40, 0.7, 2000
    eigs = jnp.asarray(np.geomspace(2.0, 0.05, d))
    X = data.gaussian(jax.random.key(0), n, d, cov_eigs=eigs)
    theta = jax.random.normal(jax.random.key(1), (d,))
    bias, var = bn.min_norm_bias_variance(X, eigs, theta, noise=sigma)
    noise = sigma * jax.random.normal(jax.random.key(2), (n, m))
    fits = min_norm_interpolator(X, (X @ theta)[:, None] + noise)          # (d, m)
    np.testing.assert_allclose(X @ fits, (X @ theta)[:, None] + noise, atol=1e-8)  # interpolates
    risk = np.asarray(jnp.sum(eigs[:, None] * (fits - theta[:, None]) ** 2, axis=0))
    se = risk.std(ddof=1) / np.sqrt(m)
    assert abs(risk.mean() - (bias + var)) < 4 * se                         # 4 SE: P(fail) < 1e-4
    # the noise-free fit has exactly the bias and the variance is sigma² tr(X⁺ᵀ Σ X⁺)
    pinv = np.linalg.pinv(np.asarray(X))
    e0 = pinv @ np.asarray(X @ theta) - np.asarray(theta)
    np.testing.assert_allclose(bias, e0 @ (np.asarray(eigs) * e0), rtol=1e-9)
    np.testing.assert_allclose(var, sigma ** 2 * np.trace(pinv.T @ np.diag(eigs) @ pinv), rtol=1e-9)


def test_block_formula_equals_explicit_design():
    n, p = 12, 50
    spec = bn.block_spectrum(jnp.array([2.0, 1.0, 0.5]), 0.1, p)
    kh, kw = jax.random.split(jax.random.key(3))
    H = jax.random.normal(kh, (n, 3)) * jnp.sqrt(spec.head)
    W = jax.random.normal(kw, (n, p))
    X = jnp.concatenate([H, jnp.sqrt(spec.tail_value) * W], axis=1)
    theta = jnp.array([1.0, -0.5, 0.3])
    b1, v1 = bn.block_bias_variance(H, W, spec, theta, noise=0.4)
    b2, v2 = bn.min_norm_bias_variance(X, bn.eigenvalues(spec),
                                       jnp.concatenate([theta, jnp.zeros(p)]), noise=0.4)
    np.testing.assert_allclose([b1, v1], [b2, v2], rtol=1e-9)
    # a Gram factor F with F Fᵀ = W Wᵀ (Cholesky) gives the same numbers
    F = jnp.linalg.cholesky(W @ W.T)
    np.testing.assert_allclose(bn.block_bias_variance(H, F, spec, theta, noise=0.4), [b1, v1],
                               rtol=1e-9)
    # a signal t on the first tail coordinate: F = [w_1 | factor of the other columns' Gram]
    t = 2.5
    b3, v3 = bn.block_bias_variance(H, W, spec, theta, noise=0.4, tail_signal=t)
    b4, v4 = bn.min_norm_bias_variance(X, bn.eigenvalues(spec),
                                       jnp.concatenate([theta, jnp.zeros(p).at[0].set(t)]),
                                       noise=0.4)
    np.testing.assert_allclose([b3, v3], [b4, v4], rtol=1e-9)
    G = jnp.concatenate([W[:, :1], jnp.linalg.cholesky(W[:, 1:] @ W[:, 1:].T)], axis=1)
    np.testing.assert_allclose(bn.block_bias_variance(H, G, spec, theta, noise=0.4, tail_signal=t),
                               [b3, v3], rtol=1e-9)


def test_bartlett_tail_has_wishart_moments():
    n, p, m = 6, 30, 1000
    spec = bn.block_spectrum(jnp.array([1.0]), 0.5, p)
    H, F = bn.sample_design(jax.random.key(4), spec, n)
    assert H.shape == (n, 1) and F.shape == (n, n + 1)
    L = np.asarray(F[:, 1:])
    assert np.all(np.triu(L, 1) == 0) and np.all(np.diag(L) > 0)
    # many draws at once through the same internals (sample_design draws one)
    Fs = jnp.concatenate([jax.vmap(lambda z, c: bn._sample(z, c, spec.head, n, True)[1])(z, c)
                          for z, c in bn._design_batches(jax.random.key(5), spec, n, m)])
    grams = np.asarray(Fs @ jnp.swapaxes(Fs, 1, 2))
    # Wishart_n(p, I): E G = p I, Var G_ii = 2p, Var G_ij = p (i ≠ j)
    mean = grams.mean(axis=0)
    se_diag, se_off = np.sqrt(2 * p / m), np.sqrt(p / m)
    assert np.all(np.abs(np.diag(mean) - p) < 4 * se_diag)
    off = mean[~np.eye(n, dtype=bool)]
    assert np.all(np.abs(off) < 4 * se_off)
    # sample variances: relative SE ≈ √((2 + excess kurtosis)/m) ≤ 5% here, so 20% is 4 SE
    np.testing.assert_allclose(grams[:, 0, 1].var(), p, rtol=0.2)
    np.testing.assert_allclose(grams[:, 2, 2].var(), 2 * p, rtol=0.2)


@pytest.mark.parametrize("t", [0.0, 3.0])
def test_risk_draws_match_explicit_sampling(t):
    n, p, reps = 10, 40, 300
    spec = bn.block_spectrum(jnp.array([1.0, 0.3]), 0.05, p)
    theta, sigma = jnp.array([1.0, 1.0]), 0.5
    b, var = bn.risk_draws(jax.random.key(5), spec, n, theta=theta, noise=sigma, reps=reps,
                           tail_signal=t)
    assert b.shape == var.shape == (reps,)
    fast = np.asarray(b + var)
    eigs = bn.eigenvalues(spec)
    # the tail signal along a fixed tail direction other than the first (rotation invariance)
    th_full = jnp.concatenate([theta, jnp.zeros(p).at[7].set(t)])

    def explicit(k):
        X = data.gaussian(k, n, spec.dim, cov_eigs=eigs)
        return sum(bn.min_norm_bias_variance(X, eigs, th_full, noise=sigma))
    slow = np.asarray(jax.vmap(explicit)(jax.random.split(jax.random.key(6), reps)))
    se = np.sqrt(fast.var(ddof=1) / reps + slow.var(ddof=1) / reps)
    assert abs(fast.mean() - slow.mean()) < 4 * se


# ---------------------------------------------------------------- classification

def _explicit_classification(X, eigs, theta):
    """Independent evaluation on an explicit design: NumPy pseudo-inverse, Sheppard's formula."""
    X, eigs, theta = (np.asarray(a, dtype=float) for a in (X, eigs, theta))
    y = np.sign(X @ theta)
    theta_hat = np.linalg.pinv(X) @ y
    alpha = np.linalg.solve(X @ X.T, y)
    s_hat, s_star = np.sqrt(eigs) * theta_hat, np.sqrt(eigs) * theta
    rho = s_hat @ s_star / (np.linalg.norm(s_hat) * np.linalg.norm(s_star))
    su = s_hat @ s_star / (s_star @ s_star)
    cn = np.linalg.norm(s_hat - su * s_star)
    fit = np.linalg.pinv(X) @ (X @ theta)
    reg = np.sum(eigs * (fit - theta) ** 2)
    return np.arccos(rho) / np.pi, su, cn, bool(np.all(y * alpha > 0)), reg, theta_hat


def test_sheppard_formula_matches_monte_carlo_test_error():
    # the exact error arccos(ρ)/π of one explicit interpolator against 200 000 Gaussian test points
    n, spec = 12, bn.block_spectrum(jnp.array([1.0, 0.4]), 0.05, 60)
    eigs, theta = np.asarray(bn.eigenvalues(spec)), np.array([1.0] + [0.0] * 61)
    X = np.asarray(data.gaussian(jax.random.key(3), n, spec.dim, cov_eigs=jnp.asarray(eigs)))
    err, *_, theta_hat = _explicit_classification(X, eigs, theta)
    Z = np.random.default_rng(0).standard_normal((200_000, spec.dim)) * np.sqrt(eigs)
    mc = np.mean(np.sign(Z @ theta_hat) != np.sign(Z @ theta))
    assert 0.05 < err < 0.5
    assert abs(mc - err) < 4 * np.sqrt(err * (1 - err) / 200_000)


def test_classification_draws_match_explicit_sampling():
    # same distribution as explicit designs: means of every output within 4 SE; n close to d so
    # that some designs have points that are not support vectors
    n, p, reps = 12, 100, 400                       # about half the designs: all support vectors
    spec = bn.block_spectrum(jnp.array([1.0, 0.5]), 0.1, p)
    theta = jnp.array([0.8, 0.6])
    out = bn.classification_draws(jax.random.key(7), spec, n, theta=theta, reps=reps)
    assert all(np.asarray(a).shape == (reps,) for a in out)
    eigs = np.asarray(bn.eigenvalues(spec))
    th_full = np.concatenate([np.asarray(theta), np.zeros(p)])
    keys = jax.random.split(jax.random.key(8), reps)
    slow = np.array([_explicit_classification(
        data.gaussian(k, n, spec.dim, cov_eigs=jnp.asarray(eigs)), eigs, th_full)[:5]
        for k in keys], dtype=float)
    fast = np.column_stack([np.asarray(a, dtype=float) for a in out])
    assert 0.05 < fast[:, 3].mean() < 0.95          # both outcomes occur
    se = np.sqrt(fast.var(axis=0, ddof=1) / reps + slow.var(axis=0, ddof=1) / reps)
    assert np.all(np.abs(fast.mean(axis=0) - slow.mean(axis=0)) < 4 * se)
    # the error is arctan2(CN, SU‖Σ^{1/2}θ*‖)/π design by design
    norm = np.sqrt(0.8 ** 2 * 1.0 + 0.6 ** 2 * 0.5)            # ‖Σ^{1/2}θ*‖
    np.testing.assert_allclose(out.error,
                               np.arctan2(out.contamination, norm * out.survival) / np.pi,
                               rtol=1e-10)


def test_classification_regression_risk_is_the_bias_on_the_same_designs():
    # the same key draws the same designs as risk_draws: regression_risk is their noiseless bias
    spec = bn.block_spectrum(jnp.array([1.0, 0.5]), 0.1, 100)
    theta = jnp.array([0.8, 0.6])
    out = bn.classification_draws(jax.random.key(3), spec, 12, theta=theta, reps=16)
    bias, _ = bn.risk_draws(jax.random.key(3), spec, 12, theta=theta, noise=0.0, reps=16)
    np.testing.assert_allclose(out.regression_risk, bias, rtol=1e-4, atol=1e-7)


def test_classification_bad_inputs():
    spec = bn.block_spectrum(jnp.array([1.0]), 0.1, 30)
    with pytest.raises(ValueError, match="theta"):
        bn.classification_draws(jax.random.key(0), spec, 5, theta=jnp.zeros(1), reps=2)
    with pytest.raises(ValueError, match="theta"):
        bn.classification_draws(jax.random.key(0), spec, 5, theta=jnp.ones(2), reps=2)
    with pytest.raises(ValueError, match="reps"):
        bn.classification_draws(jax.random.key(0), spec, 5, theta=jnp.ones(1), reps=0)
    with pytest.raises(ValueError, match="tail_dim"):
        bn.classification_draws(jax.random.key(0), spec, 40, theta=jnp.ones(1), reps=2)


# ---------------------------------------------------------------- deterministic equivalent

@pytest.mark.parametrize("gamma", [1.5, 2.0, 4.0])
def test_equivalent_isotropic_matches_hastie_et_al(gamma):
    from lib.ridgeless import isotropic_asymptotic_risk
    n = 200
    spec = bn.isotropic(int(gamma * n))
    eq = bn.ridgeless_equivalent(spec, n, theta=jnp.array([1.3]), noise=0.7)
    np.testing.assert_allclose(eq.kappa, gamma - 1, rtol=1e-10)
    np.testing.assert_allclose(eq.bias + eq.variance,
                               isotropic_asymptotic_risk(gamma, signal=1.3, noise=0.7), rtol=1e-10)
    np.testing.assert_allclose(eq.variance, 0.49 / (gamma - 1), rtol=1e-10)


def test_equivalent_solves_its_equation_and_handles_a_tail_signal():
    n = 30
    spec = bn.power_law(60, alpha=1.5, tail_dim=500)
    lam = np.asarray(bn.eigenvalues(spec))
    theta = jnp.zeros(60).at[2].set(1.0)
    eq = bn.ridgeless_equivalent(spec, n, theta=theta, noise=0.0, tail_signal=2.0)
    np.testing.assert_allclose(np.sum(lam / (lam + eq.kappa)), n, rtol=1e-10)
    np.testing.assert_allclose(eq.df2, np.sum(lam ** 2 / (lam + eq.kappa) ** 2), rtol=1e-10)
    th2 = np.zeros(lam.size); th2[2] = 1.0; th2[60] = 4.0      # same norm on one tail coordinate
    bias = n / (n - eq.df2) * eq.kappa ** 2 * np.sum(lam * th2 / (lam + eq.kappa) ** 2)
    np.testing.assert_allclose(eq.bias, bias, rtol=1e-10)
    assert eq.variance == 0.0
    # the flat tail carries the rest of the infinite sequence: mass ζ(1.5, 61)
    np.testing.assert_allclose(lam[60:].sum() + lam[:60].sum(), 2.612375348685488, rtol=1e-10)


def test_equivalent_matches_monte_carlo_for_an_anisotropic_spectrum():
    # spike + flat tail with a signal on both parts; 4 SE plus the O(1/n) error of the equivalent
    n, reps = 80, 400
    spec = bn.spike_tail(n, spike=(1.0, 0.3), tail_mass=2.0, tail_exponent=1.3)
    theta = jnp.array([0.6, -0.8])
    t = 0.5 / np.sqrt(spec.tail_value)
    b, var = bn.risk_draws(jax.random.key(11), spec, n, theta=theta, noise=0.8, reps=reps,
                           tail_signal=t)
    eq = bn.ridgeless_equivalent(spec, n, theta=theta, noise=0.8, tail_signal=t)
    for sim, pred in ((np.asarray(b), eq.bias), (np.asarray(var), eq.variance)):
        se = sim.std(ddof=1) / np.sqrt(reps)
        assert abs(sim.mean() - pred) < 4 * se + pred / n


# ---------------------------------------------------------------- validation

def test_bad_inputs():
    with pytest.raises(ValueError, match="head"):
        bn.block_spectrum(jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="head"):
        bn.block_spectrum(jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="tail_value"):
        bn.block_spectrum(jnp.array([1.0]), 2.0, 10)
    with pytest.raises(ValueError, match="tail_dim"):
        bn.block_spectrum(jnp.array([1.0]), 0.5, -1)
    with pytest.raises(ValueError, match="spec"):
        bn.effective_ranks(np.array([[1.0]]))
    with pytest.raises(ValueError, match="ks"):
        bn.effective_ranks(bn.isotropic(5), np.array([5]))
    with pytest.raises(ValueError, match="n"):
        bn.critical_index(bn.isotropic(5), 0, b=1.5)
    with pytest.raises(ValueError, match="b"):
        bn.critical_index(bn.isotropic(5), 3, b=float("nan"))
    with pytest.raises(ValueError, match="tail_dim"):
        bn.sample_design(jax.random.key(0), bn.block_spectrum(jnp.ones(1), 0.5, 3), 10)
    with pytest.raises(ValueError, match="theta"):
        bn.risk_draws(jax.random.key(0), bn.isotropic(20), 5, theta=jnp.ones(2), noise=1.0,
                      reps=2)
    with pytest.raises(ValueError, match="noise"):
        bn.risk_draws(jax.random.key(0), bn.isotropic(20), 5, theta=jnp.ones(1), noise=-1.0,
                      reps=2)
    with pytest.raises(ValueError, match="d = "):
        bn.risk_draws(jax.random.key(0), bn.power_law(4, alpha=2.0), 5, theta=jnp.ones(4),
                      noise=1.0, reps=2)
    with pytest.raises(ValueError, match="eigs"):
        bn.min_norm_bias_variance(jnp.ones((3, 4)), -jnp.ones(4), jnp.ones(4), noise=1.0)
    with pytest.raises(ValueError, match="X and eigs"):
        bn.min_norm_bias_variance(jnp.ones((3, 4)), jnp.ones(5), jnp.ones(4), noise=1.0)
    with pytest.raises(ValueError, match="H"):
        bn.block_bias_variance(jnp.ones((3, 2)), jnp.ones((3, 3)), bn.isotropic(5), jnp.ones(1),
                               noise=1.0)
    with pytest.raises(ValueError, match="tail_exponent"):
        bn.spike_tail(10, tail_exponent=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        bn.power_law(10, alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        bn.power_law(10, alpha=1.0, tail_dim=100)
    with pytest.raises(ValueError, match="tail_signal"):
        bn.risk_draws(jax.random.key(0), bn.power_law(20, alpha=2.0), 5, theta=jnp.ones(20),
                      noise=1.0, reps=2, tail_signal=1.0)
    with pytest.raises(ValueError, match="tail_signal"):
        bn.ridgeless_equivalent(bn.isotropic(20), 5, theta=jnp.ones(1), noise=1.0,
                                tail_signal=-1.0)
    with pytest.raises(ValueError, match="d = "):
        bn.ridgeless_equivalent(bn.isotropic(5), 5, theta=jnp.ones(1), noise=1.0)


# ---------------------------------------------------------------- exact h × h reduction of the bias

def test_reduced_bias_matches_full_designs():
    spec = bn.block_spectrum(jnp.array([1.0, 0.5, 0.25]), 1 / 60, 60)
    th = jnp.array([1.0, 0.0, 0.0])
    red = np.asarray(bn.reduced_bias_draws(jax.random.PRNGKey(1), spec, 12, theta=th, draws=100000))
    full, _ = bn.risk_draws(jax.random.PRNGKey(2), spec, 12, theta=th, noise=0.0, reps=8000)
    full = np.asarray(full)
    se = np.sqrt(red.var() / red.size + full.var() / full.size)
    assert abs(red.mean() - full.mean()) < 4 * se


def test_reduced_bias_single_spike_is_an_f_integral():
    # h = 1: M = (λ/ε) χ²_n / χ²_{p−n+1} = (λ/ε) n/(p−n+1) · F(n, p−n+1), bias = (λ + εM)/(1+M)²
    from scipy import stats
    lam, eps, p, n = 1.0, 0.01, 80, 20
    spec = bn.block_spectrum(jnp.array([lam]), eps, p)
    red = np.asarray(bn.reduced_bias_draws(jax.random.PRNGKey(3), spec, n, theta=jnp.ones(1),
                                           draws=100000))
    c = lam / eps * n / (p - n + 1)
    exact = stats.f(n, p - n + 1).expect(lambda f: (lam + eps * c * f) / (1 + c * f) ** 2)
    assert abs(red.mean() - exact) < 4 * red.std() / np.sqrt(red.size)


def test_long_head_variance_equals_short_head_formula():
    spec = bn.power_law(30, alpha=2.0, tail_dim=100)        # h = 30 > n = 10: the tr(A⁻²K₂) path
    th = jnp.zeros(30).at[0].set(1.0)
    H, F = bn.sample_design(jax.random.PRNGKey(5), spec, 10)
    _, var = bn.block_bias_variance(H, F, spec, th, noise=1.0)
    A = H @ H.T + spec.tail_value * F @ F.T
    AiH, AiF = jnp.linalg.solve(A, H), jnp.linalg.solve(A, F)
    direct = jnp.sum(AiH ** 2 * spec.head) + spec.tail_value ** 2 * jnp.sum(AiF ** 2)
    np.testing.assert_allclose(float(var), float(direct), rtol=1e-9)


def test_reduced_bias_bad_inputs():
    with pytest.raises(ValueError, match="tail"):
        bn.reduced_bias_draws(jax.random.PRNGKey(0), jnp.array([1.0, 0.5, 0.2, 0.1]), 2,
                              theta=jnp.ones(4), draws=10)
    with pytest.raises(ValueError, match="theta"):
        bn.reduced_bias_draws(jax.random.PRNGKey(0), bn.block_spectrum(jnp.ones(2), 0.1, 50), 5,
                              theta=jnp.ones(3), draws=10)
    with pytest.raises(ValueError, match="draws"):
        bn.reduced_bias_draws(jax.random.PRNGKey(0), bn.block_spectrum(jnp.ones(2), 0.1, 50), 5,
                              theta=jnp.ones(2), draws=0)
    with pytest.raises(ValueError, match="at most n"):   # h > n: the reduction would be wrong
        bn.reduced_bias_draws(jax.random.PRNGKey(0), bn.block_spectrum(jnp.ones(6), 0.1, 30), 2,
                              theta=jnp.ones(6), draws=10)


def test_effective_ranks_float32_matches_float64():
    spec = bn.power_law(40, alpha=2.0, tail_dim=500)
    r64, R64 = bn.effective_ranks(spec)
    spec32 = bn.block_spectrum(spec.head.astype(jnp.float32), spec.tail_value, spec.tail_dim)
    r32, R32 = bn.effective_ranks(spec32)
    assert r32.dtype == R32.dtype == jnp.float32 and r64.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(r32), np.asarray(r64), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(R32), np.asarray(R64), rtol=1e-5)
