"""lib.optimization.mean_field_langevin: the solvable quadratic mean-field model (drift vs autodiff
of F, gap vs a direct NumPy evaluation of the entropy-regularized objective, expected stationary
floor vs exact Monte-Carlo sampling of the stationary law and vs a simulated chain), the MMD and
its drift vs NumPy / autodiff, and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import mfld
from lib.optimization import mean_field_langevin as mfl
from lib.stats import mean_stderr


pytestmark = pytest.mark.usefixtures("x64")

M = np.array([1.0, -0.5, 2.0])
C = np.array([0.0, 1.0, -1.0])
KAPPA, LAM = 0.7, 0.3
KW = dict(center=M, anchor=C, coupling=KAPPA, temperature=LAM)


def _objective_np(mean, cov):
    """L(N(mean, cov)) = E‖x−m‖²/2 + κ/2‖mean−c‖² − λ·(entropy of the Gaussian), in NumPy."""
    p = len(mean)
    energy = 0.5 * (np.sum((mean - M) ** 2) + np.trace(cov)) + 0.5 * KAPPA * np.sum((mean - C) ** 2)
    entropy = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]
    return energy - LAM * entropy


def test_quadratic_drift_is_n_times_gradient_of_F():
    X = jax.random.normal(jax.random.key(0), (7, 3))
    drift = mfl.quadratic_mean_field_drift(M, C, KAPPA)

    def F(X):
        return (0.5 * jnp.mean(jnp.sum((X - M) ** 2, axis=1)) +
                0.5 * KAPPA * jnp.sum((X.mean(axis=0) - C) ** 2))

    np.testing.assert_allclose(drift(X), X.shape[0] * jax.grad(F)(X), rtol=1e-12, atol=1e-12)


def test_gap_matches_direct_objective_and_vanishes_at_optimum():
    m_star = (M + KAPPA * C) / (1 + KAPPA)
    L_star = _objective_np(m_star, LAM * np.eye(3))
    rng = np.random.default_rng(0)
    means, covs, direct = [], [], []
    for _ in range(5):
        A = rng.normal(size=(3, 3))
        cov = A @ A.T + 0.1 * np.eye(3)
        mean = rng.normal(size=3)
        means.append(mean)
        covs.append(cov)
        direct.append(_objective_np(mean, cov) - L_star)
    gaps = mfl.quadratic_mean_field_gap(np.array(means), np.array(covs), **KW)
    np.testing.assert_allclose(gaps, direct, rtol=1e-10)
    assert np.all(np.asarray(gaps) > 0)
    assert abs(float(mfl.quadratic_mean_field_gap(m_star, LAM * np.eye(3), **KW))) < 1e-12
    # any other Gaussian is worse: the minimizer is N(m*, λI)
    for d_mean, d_cov in [(1e-3, 0.0), (0.0, 1e-3)]:
        assert float(mfl.quadratic_mean_field_gap(m_star + d_mean, (LAM + d_cov) * np.eye(3),
                                                   **KW)) > 0


def test_floor_matches_exact_stationary_sampling():
    """The stationary law of the discretized N-particle chain is Gaussian: particle mean
    ~ N(m*, λ/(Nb(1−ηb/2)) I) independent of the deviations, which are a centered iid
    N(0, λ/(1−η/2) I) sample. Sample it directly and average the plug-in gap."""
    N, p, eta = 12, 3, 0.3
    b = 1 + KAPPA
    m_star = (M + KAPPA * C) / b
    R = 20000
    kz, km = jax.random.split(jax.random.key(1))
    Z = jax.random.normal(kz, (R, N, p)) * np.sqrt(LAM / (1 - eta / 2))
    dev = Z - Z.mean(axis=1, keepdims=True)
    xbar = m_star + jax.random.normal(km, (R, p)) * np.sqrt(LAM / (N * b * (1 - eta * b / 2)))
    cov = jnp.einsum("rni,rnj->rij", dev, dev) / N
    gaps = np.asarray(mfl.quadratic_mean_field_gap(xbar, cov, **KW))
    mean, se = mean_stderr(gaps)
    exact = mfl.quadratic_mean_field_floor(N, p, step_size=eta, coupling=KAPPA, temperature=LAM)
    assert abs(mean - exact) < 4 * se, (mean, se, exact)
    # leading order λ(p/2 + p(p+1)/4)/N for large N and small η
    big = mfl.quadratic_mean_field_floor(10**6, p, step_size=1e-8, coupling=KAPPA,
                                          temperature=LAM)
    assert abs(big * 1e6 / (LAM * (p / 2 + p * (p + 1) / 4)) - 1) < 1e-3


def test_floor_matches_simulation():
    """End to end: the time-averaged gap of a simulated chain matches the floor formula."""
    N, p, eta = 64, 3, 0.2
    drift = mfl.quadratic_mean_field_drift(M, C, KAPPA)
    _, traj = mfld.simulate(drift, jnp.zeros((N, p)), jax.random.key(2), step_size=eta,
                            temperature=LAM, n_steps=6000, record_every=10)
    traj = traj[100:]
    mean = traj.mean(axis=1)
    dev = traj - mean[:, None]
    gaps = np.asarray(mfl.quadratic_mean_field_gap(
        mean, jnp.einsum("sni,snj->sij", dev, dev) / N, **KW))
    batch, se = mean_stderr(gaps.reshape(10, -1).mean(axis=1))
    exact = mfl.quadratic_mean_field_floor(N, p, step_size=eta, coupling=KAPPA, temperature=LAM)
    assert abs(batch - exact) < 4 * se + 0.03 * exact, (batch, se, exact)


def test_mmd2_against_numpy_and_drift_against_autodiff():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=(6, 2)), rng.normal(size=(9, 2)) + 0.5
    h = 0.7

    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * h * h))

    ref = k(x, x).mean() + k(z, z).mean() - 2 * k(x, z).mean()
    np.testing.assert_allclose(mfl.mmd2(x, z, bandwidth=h), ref, rtol=1e-10)
    assert abs(float(mfl.mmd2(x, x, bandwidth=h))) < 1e-12
    reg = 0.3
    drift = mfl.mmd_drift(z, bandwidth=h, reg=reg)
    F = lambda X: 0.5 * mfl.mmd2(X, z, bandwidth=h) + 0.5 * reg * jnp.mean(jnp.sum(X ** 2, 1))  # noqa: E731
    np.testing.assert_allclose(drift(jnp.asarray(x)), x.shape[0] * jax.grad(F)(jnp.asarray(x)),
                               rtol=1e-9, atol=1e-12)


def test_smoothed_mmd2_against_monte_carlo_and_drift_against_autodiff():
    """MMD²(g_s ∗ μ_x, μ_z) with the Gaussians integrated out in closed form vs an average over
    many independent smoothing draws (x_i + s ξ_i, independent copies for the two arguments of
    the x–x term); the drift is N times the gradient of ½ mmd2 + reg·mean‖x‖²/2."""
    rng = np.random.default_rng(3)
    x, z = rng.normal(size=(5, 2)), rng.normal(size=(7, 2)) + 0.3
    h, s = 0.8, 0.5

    def k(a, b):
        return np.exp(-((a[..., :, None, :] - b[..., None, :, :]) ** 2).sum(-1) / (2 * h * h))

    R = 200000
    xa = x + s * rng.normal(size=(R, 5, 2))
    xb = x + s * rng.normal(size=(R, 5, 2))
    terms = k(xa, xb).mean((1, 2)) + k(z, z).mean() - 2 * k(xa, z[None]).mean((1, 2))
    mean, se = mean_stderr(terms)
    val = float(mfl.mmd2(x, z, bandwidth=h, smoothing=s))
    assert abs(val - mean) < 4 * se, (val, mean, se)
    np.testing.assert_allclose(mfl.mmd2(x, z, bandwidth=h, smoothing=0.0),
                               mfl.mmd2(x, z, bandwidth=h), rtol=1e-12)
    reg = 0.2
    drift = mfl.mmd_drift(z, bandwidth=h, reg=reg, smoothing=s)
    F = lambda X: (0.5 * mfl.mmd2(X, z, bandwidth=h, smoothing=s)  # noqa: E731
                   + 0.5 * reg * jnp.mean(jnp.sum(X ** 2, 1)))
    np.testing.assert_allclose(drift(jnp.asarray(x)), x.shape[0] * jax.grad(F)(jnp.asarray(x)),
                               rtol=1e-9, atol=1e-12)


def test_mmd_gibbs_density_is_self_consistent_and_gaussian_without_data_weight():
    """Without interaction (bandwidth h = 1e4 ≫ grid: every kernel term is 1 − O(x²/h²), a
    constant up to a relative 1e-6 change of the potential) the minimizer of
    reg·∫x²/2 dμ + λ Ent is N(0, λ/reg); with data, the returned density solves μ = p_μ, checked by
    recomputing p_μ with a direct NumPy quadrature."""
    grid = np.linspace(-6, 6, 601)
    lam, reg = 0.3, 0.5
    rho, res = mfl.mmd_gibbs_density_1d(grid, np.array([1.0]), bandwidth=1e4, temperature=lam,
                                        reg=reg)
    gauss = np.exp(-reg * grid ** 2 / (2 * lam))
    gauss /= gauss.sum() * (grid[1] - grid[0])
    np.testing.assert_allclose(rho, gauss, rtol=1e-4, atol=1e-12)
    data = np.array([-1.0, -0.8, 0.9, 1.4])
    h, s, lam = 0.5, 0.3, 0.1
    rho, res = mfl.mmd_gibbs_density_1d(grid, data, bandwidth=h, temperature=lam, reg=reg,
                                        smoothing=s, damping=0.05, n_iter=3000)
    assert float(res) < 1e-6
    rho = np.asarray(rho)
    dx = grid[1] - grid[0]
    h2, h1 = np.sqrt(h * h + 2 * s * s), np.sqrt(h * h + s * s)
    inter = (h / h2) * np.exp(-(grid[:, None] - grid[None]) ** 2 / (2 * h2 ** 2)) @ rho * dx
    att = (h / h1) * np.exp(-(grid[:, None] - data[None]) ** 2 / (2 * h1 ** 2)).mean(1)
    q = np.exp(-(inter - att + reg * grid ** 2 / 2) / lam)
    np.testing.assert_allclose(rho, q / (q.sum() * dx), rtol=1e-5, atol=1e-8)


def test_bounded_network_drift_is_n_times_gradient_and_output_is_bounded():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(9, 3)), rng.normal(size=9)
    P = jnp.asarray(rng.normal(size=(6, 4)) * 2)
    R, reg = 1.7, 0.3
    out = mfl.bounded_two_layer_output(P, X, amplitude=R)
    direct = np.mean(R * np.tanh(np.asarray(P)[:, :1]) * np.tanh(np.asarray(P)[:, 1:] @ X.T), 0)
    np.testing.assert_allclose(out, direct, rtol=1e-12)
    assert np.all(np.abs(np.asarray(out)) <= R)

    def F(P):
        f = mfl.bounded_two_layer_output(P, X, amplitude=R)
        return 0.5 * jnp.mean((f - y) ** 2) + 0.5 * reg * jnp.mean(jnp.sum(P ** 2, 1))

    drift = mfl.bounded_two_layer_drift(X, y, amplitude=R, reg=reg)
    np.testing.assert_allclose(drift(P), P.shape[0] * jax.grad(F)(P), rtol=1e-10, atol=1e-12)
    # zero-weight padding rows change nothing
    Xp, yp = np.vstack([X, rng.normal(size=(4, 3))]), np.concatenate([y, rng.normal(size=4)])
    q = np.concatenate([np.full(9, 1 / 9), np.zeros(4)])
    padded = mfl.bounded_two_layer_drift(Xp, yp, amplitude=R, reg=reg, weights=q)
    np.testing.assert_allclose(padded(P), drift(P), rtol=1e-12, atol=1e-14)


def test_bounded_network_float32():
    X = jnp.ones((4, 2), jnp.float32)
    P = jnp.ones((3, 3), jnp.float32)
    assert mfl.bounded_two_layer_drift(X, jnp.ones(4, jnp.float32), amplitude=1.0,
                                       reg=0.1)(P).dtype == jnp.float32
    assert mfl.bounded_two_layer_output(P, X, amplitude=1.0).dtype == jnp.float32


@pytest.mark.parametrize("call, name", [
    (lambda: mfl.mmd2(np.ones((3, 2)), np.ones((3, 2)), bandwidth=1.0, smoothing=-1.0),
     "smoothing"),
    (lambda: mfl.mmd_gibbs_density_1d(np.linspace(0, 1, 5), np.ones(2), bandwidth=1.0,
                                      temperature=0.0), "temperature"),
    (lambda: mfl.mmd_gibbs_density_1d(np.ones((2, 2)), np.ones(2), bandwidth=1.0,
                                      temperature=1.0), "grid"),
    (lambda: mfl.mmd_gibbs_density_1d(np.linspace(0, 1, 5), np.ones(2), bandwidth=1.0,
                                      temperature=1.0, damping=1.5), "damping"),
    (lambda: mfl.bounded_two_layer_drift(np.ones((3, 2)), np.ones(4), amplitude=1.0, reg=0.1),
     "y"),
    (lambda: mfl.bounded_two_layer_drift(np.ones((3, 2)), np.ones(3), amplitude=0.0, reg=0.1),
     "amplitude"),
    (lambda: mfl.bounded_two_layer_output(np.ones((3, 2)), np.ones((3, 2)), amplitude=1.0),
     "particles"),
    (lambda: mfl.bounded_two_layer_drift(np.ones((3, 2)), np.ones(3), amplitude=1.0, reg=0.1,
                                         weights=np.ones(3)), "weights"),
    (lambda: mfl.bounded_two_layer_drift(np.ones((3, 2)), np.ones(3), amplitude=1.0, reg=0.1,
                                         weights=np.array([1.5, -0.5, 0.0])), "weights"),

    (lambda: mfl.mmd2(np.ones((3, 2)), np.ones((3, 3)), bandwidth=1.0), "y"),
    (lambda: mfl.mmd2(np.ones((3, 2)), np.ones((3, 2)), bandwidth=0.0), "bandwidth"),
    (lambda: mfl.mmd_drift(np.ones(3), bandwidth=1.0), "data"),
    (lambda: mfl.mmd_drift(np.ones((3, 2)), bandwidth=1.0, reg=-1.0), "reg"),
    (lambda: mfl.quadratic_mean_field_drift(np.ones(2), np.ones(3), 1.0), "anchor"),
    (lambda: mfl.quadratic_mean_field_drift(np.ones(2), np.ones(2), -1.0), "coupling"),
    (lambda: mfl.quadratic_mean_field_gap(np.ones(2), np.eye(3), center=np.ones(2),
                                          anchor=np.ones(2), coupling=1.0, temperature=1.0),
     "cov"),
    (lambda: mfl.quadratic_mean_field_gap(np.ones(2), np.eye(2), center=np.ones(2),
                                          anchor=np.ones(2), coupling=1.0, temperature=0.0),
     "temperature"),
    (lambda: mfl.quadratic_mean_field_floor(3, 3, step_size=0.1, coupling=1.0,
                                            temperature=1.0), "n_particles"),
    (lambda: mfl.quadratic_mean_field_floor(10, 2, step_size=1.5, coupling=1.0,
                                            temperature=1.0), "step_size"),
])
def test_bad_inputs(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ---- stationary moments with zero-mean control variates -----------------------------------------

def _quadratic_stationary_1d(key, R, N, eta):
    """R exact draws of the N-particle chain's stationary law for the 1-D quadratic model (the
    Gaussian of test_floor_matches_exact_stationary_sampling), with the drift at each draw."""
    m, c, b = 1.0, -1.0, 1 + KAPPA
    m_star = (m + KAPPA * c) / b
    kz, km = jax.random.split(key)
    Z = np.asarray(jax.random.normal(kz, (R, N))) * np.sqrt(LAM / (1 - eta / 2))
    xbar = m_star + np.asarray(jax.random.normal(km, (R, 1))) * np.sqrt(LAM / (N * b * (1 - eta * b / 2)))
    x = xbar + Z - Z.mean(axis=1, keepdims=True)
    g = (x - m) + KAPPA * (x.mean(axis=1, keepdims=True) - c)
    exact_m2 = m_star ** 2 + LAM / (N * b * (1 - eta * b / 2)) + LAM / (1 - eta / 2) * (1 - 1 / N)
    return x, g, exact_m2


def test_moment_drifts_have_zero_mean_under_the_chains_stationary_law():
    """E h_k = 0 (k = 2, 4) at exact draws of the discretized interacting chain's stationary law
    (not the continuous-time one: η = 0.3 is far from 0); a temperature 12 % off in the control
    variate gives E h₂ = 0.24 λ ≠ 0 and fails by many standard errors."""
    N, eta = 8, 0.3
    x, g, _ = _quadratic_stationary_1d(jax.random.key(3), 40000, N, eta)
    h = mfl.one_step_moment_drifts(x, g, step_size=eta, temperature=LAM)
    assert h.shape == (40000, 2) and h.dtype == np.float64
    mean, se = mean_stderr(h)
    assert np.all(np.abs(mean) < 4 * se), (mean, se)
    bad = mfl.one_step_moment_drifts(x, g, step_size=eta, temperature=1.12 * LAM)
    mean_bad, se_bad = mean_stderr(bad)
    assert abs(mean_bad[0] - 0.24 * LAM) < 4 * se_bad[0]        # E h₂ shifts by 2·0.12·λ exactly
    assert abs(mean_bad[0]) > 10 * se_bad[0]


def test_stationary_second_moment_is_exact_for_a_linear_drift():
    """For G(x) = κx (no interaction) h₂ is affine in φ = mean x², so the fitted control variate
    removes all fluctuation: the estimate is the exact stationary E x² = λ/(κ(1 − ηκ/2)) of the
    discretized chain up to round-off (the continuous-time λ/κ is 5 % off), with zero SE; a
    control variate built for the wrong temperature returns that temperature's value instead."""
    kappa, eta = 2.0, 0.05
    drift = lambda p: kappa * p                                  # noqa: E731  (opaque callable)
    _, traj = mfld.simulate(drift, jnp.zeros((16, 1)), jax.random.key(4), step_size=eta,
                            temperature=LAM, n_steps=2000, record_every=5)
    exact = LAM / (kappa * (1 - eta * kappa / 2))
    est = mfl.stationary_second_moment(traj[:, :, 0], drift, step_size=eta, temperature=LAM)
    assert abs(est.mean - exact) < 1e-9 * exact and est.stderr < 1e-9, (est, exact)
    off = mfl.stationary_second_moment(traj[:, :, 0], drift, step_size=eta, temperature=1.1 * LAM)
    assert abs(off.mean - 1.1 * exact) < 1e-9                    # the 10 % temperature error shows


def test_stationary_second_moment_of_the_interacting_chain_and_its_stderr():
    """The quadratic mean-field chain (interacting, Gaussian stationary law known exactly): over
    R = 128 independent chains the estimates average to the exact E x² within 4 SE, and their
    spread matches the reported overlapping-batch-means SEs (ratio within 3 standard errors
    ≈ 3/√(2R) of 1; measured 1.01). An iid SE that ignores the autocorrelation is too small by a
    factor ≈ 2.5 here and fails the ratio; an estimate missing the O(1/N) fluctuation of the mean
    (or 10 % off) fails the first by hundreds of SEs."""
    R, N, eta = 128, 8, 0.1
    drift = mfl.quadratic_mean_field_drift(jnp.ones(1), -jnp.ones(1), KAPPA)
    _, _, exact = _quadratic_stationary_1d(jax.random.key(0), 1, N, eta)
    keys = jax.random.split(jax.random.key(5), R)
    trajs = jax.vmap(lambda k: mfld.simulate(  # the R chains in one call; same keys and draws
        drift, jnp.zeros((N, 1)), k, step_size=eta, temperature=LAM, n_steps=20000,
        record_every=1)[1][:, :, 0])(keys)
    trajs = np.asarray(trajs)
    ests = np.array([mfl.stationary_second_moment(t, drift, step_size=eta, temperature=LAM)
                     for t in trajs])
    mean, se = mean_stderr(ests[:, 0])
    assert abs(mean - exact) < 4 * se, (mean, se, exact)
    assert abs(exact - LAM / (N * (1 + KAPPA) * (1 - eta * (1 + KAPPA) / 2)) - mean) > 8 * se
    ratio = np.std(ests[:, 0], ddof=1) / np.sqrt(np.mean(ests[:, 1] ** 2))
    assert abs(ratio - 1) < 3 / np.sqrt(2 * (R - 1)), ratio


def test_stationary_second_moment_float32_matches_float64():
    drift_np = mfl.quadratic_mean_field_drift(np.ones(1), -np.ones(1), KAPPA)
    _, traj = mfld.simulate(drift_np, jnp.zeros((8, 1)), jax.random.key(6), step_size=0.1,
                            temperature=LAM, n_steps=3000, record_every=5)
    est64 = mfl.stationary_second_moment(traj[:, :, 0], drift_np, step_size=0.1, temperature=LAM)
    jax.config.update("jax_enable_x64", False)                          # float32 run
    try:
        drift32 = mfl.quadratic_mean_field_drift(np.ones(1), -np.ones(1), KAPPA)
        t32 = jnp.asarray(np.asarray(traj[:, :, 0]), jnp.float32)
        assert drift32(t32[0][:, None]).dtype == jnp.float32
        est32 = mfl.stationary_second_moment(t32, drift32, step_size=0.1, temperature=LAM)
    finally:
        jax.config.update("jax_enable_x64", True)                       # the module's x64 fixture
    assert abs(est32.mean - est64.mean) < 1e-4 * est64.mean
    assert abs(est32.stderr - est64.stderr) < 1e-2 * est64.stderr


@pytest.mark.parametrize("call, name", [
    (lambda: mfl.stationary_second_moment(np.ones(30), lambda p: p, step_size=0.1,
                                          temperature=1.0), "traj"),
    (lambda: mfl.stationary_second_moment(np.ones((30, 2)), 1.0, step_size=0.1,
                                          temperature=1.0), "drift"),
    (lambda: mfl.stationary_second_moment(np.ones((30, 2)), lambda p: p, step_size=0.0,
                                          temperature=1.0), "step_size"),
    (lambda: mfl.stationary_second_moment(np.ones((30, 2)), lambda p: p, step_size=0.1,
                                          temperature=1.0, n_windows=20), "n_windows"),
    (lambda: mfl.stationary_second_moment(np.ones((30, 2)), lambda p: p[:1], step_size=0.1,
                                          temperature=1.0), "drift"),
    (lambda: mfl.one_step_moment_drifts(np.ones((3, 2)), np.ones((3, 3)), step_size=0.1,
                                        temperature=1.0), "drift_values"),
    (lambda: mfl.one_step_moment_drifts(np.ones((3, 2)), np.ones((3, 2)), step_size=0.1,
                                        temperature=-1.0), "temperature"),
])
def test_stationary_moment_bad_inputs(call, name):
    with pytest.raises(ValueError, match=name):
        call()
