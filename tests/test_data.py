"""lib.data: samplers against their defining distributions, Legendre features against NumPy,
the synthetic-spectrum problem against closed forms and independent Monte-Carlo implementations.
Comparisons with closed forms run in float32 and float64 (``dtype`` fixture; the float64 tolerance
scaled by the ratio of machine epsilons in float32), Monte-Carlo checks in float64."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import legendre as npleg

from lib import data


def tol(dtype, float64_tol: float) -> float:
    """A tolerance stated for float64, scaled to ``dtype`` by the ratio of machine epsilons."""
    return float64_tol * float(jnp.finfo(dtype).eps / jnp.finfo(jnp.float64).eps)


# ---------------------------------------------------------------- basic samplers

def test_sphere_radius_and_determinism(dtype):
    x = data.sphere(jax.random.key(0), 50, 4, radius=2.0)
    assert x.dtype == dtype
    np.testing.assert_allclose(jnp.linalg.norm(x, axis=1), 2.0, rtol=tol(dtype, 1e-12))
    np.testing.assert_array_equal(x, data.sphere(jax.random.key(0), 50, 4, radius=2.0))


def test_sphere_dtype_overrides_the_default(x64):
    x32 = data.sphere(jax.random.key(3), 20, 3, dtype=jnp.float32)      # float64 is the default here
    assert x32.dtype == jnp.float32 and data.sphere(jax.random.key(3), 20, 3).dtype == jnp.float64
    np.testing.assert_allclose(jnp.linalg.norm(x32, axis=1), 1.0, rtol=1e-6)


def test_gaussian_covariance(x64):
    eigs = jnp.array([4.0, 1.0, 0.25])
    x = data.gaussian(jax.random.key(1), 200_000, 3, cov_eigs=eigs)
    np.testing.assert_allclose(jnp.cov(x.T), jnp.diag(eigs), atol=0.03)


# ---------------------------------------------------------------- chunked draws

def _normals_and_uniforms(key):
    """A pytree sampler: 7 standard normals and (7, 3) uniforms from one key."""
    kn, ku = jax.random.split(key)
    return jax.random.normal(kn, (7,)), jax.random.uniform(ku, (7, 3))


def test_chunked_draws_chunk_c_is_the_sampler_on_fold_in(dtype):
    key = jax.random.key(3)
    z, u = data.chunked_draws(key, _normals_and_uniforms, 20, 7)
    assert z.shape == (20,) and u.shape == (20, 3) and z.dtype == u.dtype == dtype
    for c in range(3):                                   # chunks 0, 1 whole; 6 entries of chunk 2
        zc, uc = _normals_and_uniforms(jax.random.fold_in(key, c))
        m = min(7, 20 - 7 * c)
        np.testing.assert_array_equal(z[7 * c:7 * c + m], zc[:m])
        np.testing.assert_array_equal(u[7 * c:7 * c + m], uc[:m])
    assert not np.array_equal(z[:7], z[7:14])            # the chunks use different keys


def test_chunked_draws_prefix_of_a_longer_stream_is_the_shorter_stream(dtype):
    key = jax.random.key(4)
    long_z, long_u = data.chunked_draws(key, _normals_and_uniforms, 30, 7)
    for size in (1, 7, 8, 21, 29):
        z, u = data.chunked_draws(key, _normals_and_uniforms, size, 7)
        np.testing.assert_array_equal(z, long_z[:size])
        np.testing.assert_array_equal(u, long_u[:size])
    single = data.chunked_draws(key, lambda k: jax.random.normal(k, (7,)), 9, 7)   # one array
    assert isinstance(single, jax.Array) and single.shape == (9,)


def test_chunked_draws_compiles_the_sampler_once_for_all_sizes():
    traces = []

    def sampler(key):
        traces.append(1)                                 # the body runs only when traced
        return jax.random.gamma(key, 2.5, (5,))
    for size in (1, 5, 6, 23, 100):
        data.chunked_draws(jax.random.key(0), sampler, size, 5)
    assert len(traces) == 1


@pytest.mark.parametrize("args, match", [
    ((3, _normals_and_uniforms, 5, 7), "key"),
    ((jax.random.key(0), "normal", 5, 7), "sampler"),
    ((jax.random.key(0), _normals_and_uniforms, 0, 7), "size"),
    ((jax.random.key(0), _normals_and_uniforms, 2.5, 7), "size"),
    ((jax.random.key(0), _normals_and_uniforms, 5, 0), "chunk"),
    ((jax.random.key(0), _normals_and_uniforms, 5, 6), "leading axis chunk = 6"),
    ((jax.random.key(0), jax.random.normal, 5, 1), "leading axis"),      # a scalar per key
])
def test_chunked_draws_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        data.chunked_draws(*args)


# ---------------------------------------------------------------- Legendre features

@pytest.mark.parametrize("degree", [0, 1, 2, 7, 25])
def test_legendre_matches_numpy(degree, dtype):
    x = jnp.linspace(-1, 1, 41)
    np.testing.assert_allclose(data.legendre_features(x, degree),
                               npleg.legvander(np.asarray(x, np.float64), degree),
                               atol=tol(dtype, 1e-12))


def test_legendre_orthogonality_under_uniform(dtype):
    nodes, weights = npleg.leggauss(30)            # exact for polynomials of degree <= 59
    P = np.asarray(data.legendre_features(jnp.asarray(nodes), 10), np.float64)
    gram = (P * (weights / 2)[:, None]).T @ P      # E_{x ~ U[-1,1]}[P_j P_k]
    np.testing.assert_allclose(gram, np.diag(1 / (2 * np.arange(11) + 1)), atol=tol(dtype, 1e-13))


@pytest.mark.parametrize("x,degree,match", [
    (jnp.ones((3, 2)), 2, "x must have rank 1"),
    (jnp.array([0.0, jnp.nan]), 2, "x contains NaN"),
    (jnp.ones(3), -1, "degree must be >= 0"),
    (jnp.ones(3), 2.5, "degree must be an integer"),
])
def test_legendre_rejects_bad_input(x, degree, match):
    with pytest.raises(ValueError, match=match):
        data.legendre_features(x, degree)


# ---------------------------------------------------------------- synthetic-spectrum problem

def test_power_law_problem_values(dtype):
    p = data.power_law_problem(50, beta=2.0, r=0.5, noise=0.3)
    k = np.arange(1, 51)
    rtol = tol(dtype, 1e-12)
    np.testing.assert_allclose(p.mu, k ** -2.0, rtol=rtol)
    np.testing.assert_allclose(p.theta ** 2, k ** -3.0, rtol=rtol)     # 2rβ + 1 = 3
    np.testing.assert_allclose(p.theta ** 2 / p.mu ** (2 * 0.5), 1 / k, rtol=rtol)
    assert p.noise == 0.3


@pytest.mark.parametrize("kw,match", [
    (dict(dim=0, beta=2.0, r=0.5), "dim must be >= 1"),
    (dict(dim=10, beta=1.0, r=0.5), "beta must be > 1"),
    (dict(dim=10, beta=2.0, r=0.0), "r must be > 0"),
    (dict(dim=10, beta=2.0, r=0.5, noise=-1.0), "noise must be >= 0"),
])
def test_power_law_problem_rejects_bad_input(kw, match):
    dim = kw.pop("dim")
    with pytest.raises(ValueError, match=match):
        data.power_law_problem(dim, **kw)


def test_sample_spectral_distribution(x64):
    p = data.power_law_problem(5, beta=2.0, r=0.5, noise=0.5)
    X, y = data.sample_spectral(jax.random.key(2), p, 200_000)
    assert X.shape == (200_000, 5) and y.shape == (200_000,)
    # feature covariance diag(μ): the kernel X Xᵀ has the prescribed spectrum
    np.testing.assert_allclose(X.T @ X / X.shape[0], jnp.diag(p.mu), atol=0.01)
    # y − f*(z) is N(0, noise²) noise, with f*(z) = Σ θ_k z_k = X (θ/√μ)
    resid = y - X @ (p.theta / jnp.sqrt(p.mu))
    assert float(jnp.std(resid)) == pytest.approx(0.5, rel=0.01)
    assert float(jnp.var(y)) == pytest.approx(float(jnp.sum(p.theta ** 2)) + 0.25, rel=0.02)
    X2, y2 = data.sample_spectral(jax.random.key(2), p, 200_000)
    np.testing.assert_array_equal(y, y2)


def test_spectral_excess_risk_matches_monte_carlo(x64):
    p = data.power_law_problem(6, beta=2.0, r=0.5, noise=1.0)
    coef = jnp.arange(6.0) / 10
    X, _ = data.sample_spectral(jax.random.key(3), p, 400_000)
    mc = jnp.mean((X @ coef - X @ (p.theta / jnp.sqrt(p.mu))) ** 2)
    assert float(data.spectral_excess_risk(p, coef)) == pytest.approx(float(mc), rel=0.01)
    assert float(data.spectral_excess_risk(p, p.theta / jnp.sqrt(p.mu))) == pytest.approx(0, abs=1e-14)
    batch = data.spectral_excess_risk(p, jnp.stack([coef, 2 * coef]))
    assert batch.shape == (2,)


def test_spectral_ridge_risk_matches_sequence_model_simulation(x64):
    p = data.power_law_problem(30, beta=1.5, r=0.5, noise=1.0)
    n, lam = 50.0, 0.05
    xi = jax.random.normal(jax.random.key(4), (100_000, 30))
    y = p.theta + xi / np.sqrt(n)                      # Gaussian sequence model
    theta_hat = p.mu / (p.mu + lam) * y                # ridge = spectral filter
    mc = jnp.sum((theta_hat - p.theta) ** 2, axis=1)
    bias, variance = data.spectral_ridge_risk(p, n, lam)
    se = float(jnp.std(mc)) / np.sqrt(mc.size)
    assert float(bias + variance) == pytest.approx(float(jnp.mean(mc)), abs=4 * se)


def test_spectral_ridge_risk_limits_and_broadcasting(dtype):
    p = data.power_law_problem(20, beta=2.0, r=0.5, noise=2.0)
    bias, variance = data.spectral_ridge_risk(p, 10.0, 0.0)           # unregularized
    assert float(bias) == 0.0
    assert float(variance) == pytest.approx(4.0 * 20 / 10, rel=tol(dtype, 1e-12))
    bias, variance = data.spectral_ridge_risk(p, 10.0, 1e12)          # everything shrunk to 0
    assert float(bias) == pytest.approx(float(jnp.sum(p.theta ** 2)), rel=max(1e-9, tol(dtype, 1e-12)))
    assert float(variance) == pytest.approx(0, abs=1e-20)
    bias, variance = data.spectral_ridge_risk(p, jnp.array([10.0, 100.0]), jnp.array([[0.1], [0.01]]))
    assert bias.shape == variance.shape == (2, 2)


def test_random_design_ridge_approaches_sequence_model(x64):
    """With n much larger than the effective dimension, ridge regression on random samples
    (solved here with NumPy, independently of lib) has the sequence-model risk."""
    p = data.power_law_problem(40, beta=2.0, r=0.5, noise=1.0)
    n, lam = 2000, 0.01
    risks = []
    for rep in range(40):
        X, y = data.sample_spectral(jax.random.key(100 + rep), p, n)
        X, y = np.asarray(X), np.asarray(y)
        coef = np.linalg.solve(X.T @ X / n + lam * np.eye(40), X.T @ y / n)
        risks.append(float(data.spectral_excess_risk(p, coef)))
    bias, variance = data.spectral_ridge_risk(p, n, lam)
    se = np.std(risks) / np.sqrt(len(risks))
    closed = float(bias + variance)
    assert np.mean(risks) == pytest.approx(closed, rel=0.1)
    assert abs(np.mean(risks) - closed) < 0.1 * closed + 3 * se


@pytest.mark.parametrize("call,match", [
    (lambda p: data.sample_spectral(jax.random.key(0), p, 0), "n must be >= 1"),
    (lambda p: data.sample_spectral(0, p, 5), "key must be a PRNG key"),
    (lambda p: data.sample_spectral(jax.random.key(0), (p.mu, p.theta), 5), "SpectralProblem"),
    (lambda p: data.sample_spectral(jax.random.key(0), p._replace(mu=-p.mu), 5), "problem.mu must be > 0"),
    (lambda p: data.sample_spectral(jax.random.key(0), p._replace(theta=p.theta[:3]), 5), "problem.mu and problem.theta"),
    (lambda p: data.spectral_excess_risk(p, jnp.ones(3)), "coef must have last dimension"),
    (lambda p: data.spectral_ridge_risk(p, 0.0, 0.1), "n must be > 0"),
    (lambda p: data.spectral_ridge_risk(p, 10.0, -0.1), "lam must be >= 0"),
])
def test_spectral_functions_reject_bad_input(call, match, x64):
    p = data.power_law_problem(5, beta=2.0, r=0.5)
    with pytest.raises(ValueError, match=match):
        call(p)


def test_spectral_functions_work_under_jit_and_vmap(x64):
    # Traceability is dtype-independent: one run, in float64, where the jitted-vs-eager
    # comparison is tightest (1e-12).
    p = data.power_law_problem(8, beta=2.0, r=0.5)

    @jax.jit
    def risk_of_mean_estimate(keys):
        def one(k):
            X, y = data.sample_spectral(k, p, 16)
            return data.spectral_excess_risk(p, X.T @ y / 16)
        return jax.vmap(one)(keys)

    out = risk_of_mean_estimate(jax.random.split(jax.random.key(5), 3))
    assert out.shape == (3,) and bool(jnp.all(jnp.isfinite(out)))
    X, y = data.sample_spectral(jax.random.key(6), p, 16)
    jitted_sample = jax.jit(data.sample_spectral, static_argnums=2)      # problem as an argument
    rtol = 1e-12
    np.testing.assert_allclose(jitted_sample(jax.random.key(6), p, 16)[1], y, rtol=rtol)
    np.testing.assert_allclose(jax.jit(lambda x: data.legendre_features(x, 3))(y),
                               data.legendre_features(y, 3), rtol=rtol, atol=rtol)
    jitted = jax.jit(lambda q, lam: data.spectral_ridge_risk(q, 10.0, lam))
    np.testing.assert_allclose(jitted(p, 0.1), data.spectral_ridge_risk(p, 10.0, 0.1), rtol=rtol)


# ---------------------------------------------------------------- random-design kernel ridge risk

def test_spectral_krr_risk_matches_noise_monte_carlo(x64):
    """Same design, many noise draws, ridge solved independently with NumPy."""
    p = data.power_law_problem(30, beta=2.0, r=0.5, noise=0.7)
    n, lam, key = 20, 0.02, jax.random.key(7)
    bias, variance = data.spectral_krr_risk(key, p, n, lam)
    X, f_star = data.sample_spectral(key, p._replace(noise=0.0), n)
    X, f_star = np.asarray(X), np.asarray(f_star)
    A = np.linalg.solve(X.T @ X + n * lam * np.eye(30), X.T)            # ŵ = A y
    eps = 0.7 * np.asarray(jax.random.normal(jax.random.key(8), (20_000, n)))
    W = (f_star + eps) @ A.T
    mc = np.sum((np.sqrt(np.asarray(p.mu)) * W - np.asarray(p.theta)) ** 2, axis=1)
    mu, theta = np.asarray(p.mu), np.asarray(p.theta)
    assert float(bias) == pytest.approx(np.sum((np.sqrt(mu) * (A @ f_star) - theta) ** 2), rel=1e-8)
    se = mc.std() / np.sqrt(mc.size)
    assert float(bias + variance) == pytest.approx(mc.mean(), abs=4 * se)


def test_spectral_krr_risk_approaches_sequence_model(x64):
    p = data.power_law_problem(100, beta=2.0, r=0.5, noise=1.0)
    n, lam = 500, 0.01                         # effective dimension ≈ 10 ≪ n
    risks = [sum(data.spectral_krr_risk(jax.random.key(20 + i), p, n, lam)) for i in range(4)]
    closed = float(sum(data.spectral_ridge_risk(p, n, lam)))
    assert float(np.mean(risks)) == pytest.approx(closed, rel=0.05)


def test_spectral_krr_risk_vmaps_and_validates(x64):
    p = data.power_law_problem(10, beta=2.0, r=0.5)
    keys = jax.random.split(jax.random.key(9), 3)
    bias, variance = jax.vmap(lambda k: data.spectral_krr_risk(k, p, 8, jnp.asarray(0.1)))(keys)
    assert bias.shape == variance.shape == (3,)
    np.testing.assert_allclose(bias[1], data.spectral_krr_risk(keys[1], p, 8, 0.1)[0], rtol=1e-10)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        data.spectral_krr_risk(keys[0], p, 8, -1.0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        data.spectral_krr_risk(keys[0], p, 0, 0.1)


def test_equivalent_risk_matches_random_design_monte_carlo(x64):
    """The deterministic equivalent against the exact noise-averaged risk of KRR, averaged over
    random designs: agreement within 4 standard errors plus 3 % (its error is O(1/n) relative)."""
    p = data.power_law_problem(400, beta=2.0, r=0.5, noise=1.0)
    n, lam = 32, 1e-4               # N(κ)/n near 1/2: the effective ridge κ is far above λ
    keys = jax.random.split(jax.random.key(7), 96)
    bias, variance = jax.vmap(lambda k: data.spectral_krr_risk(k, p, n, lam))(keys)
    risks = np.asarray(bias + variance)
    mean, se = risks.mean(), risks.std(ddof=1) / np.sqrt(risks.size)
    equivalent = float(data.spectral_krr_equivalent_risk(p, n, lam))
    assert abs(equivalent - mean) < 4 * se + 0.03 * mean, (equivalent, mean, se)
    # the sequence model at the same ridge (no effective-ridge correction) is visibly further off
    naive = float(sum(data.spectral_ridge_risk(p, n, lam)))
    assert abs(naive - mean) > 2 * abs(equivalent - mean)


def test_equivalent_risk_limits_and_broadcasting(dtype):
    p = data.power_law_problem(200, beta=2.0, r=0.5, noise=1.0)
    # n → ∞: κ → λ and df₂/n → 0, so the equivalent tends to the sequence-model risk
    big = float(data.spectral_krr_equivalent_risk(p, 1e9, 1e-2))
    assert big == pytest.approx(float(sum(data.spectral_ridge_risk(p, 1e9, 1e-2))), rel=tol(dtype, 1e-6))
    out = data.spectral_krr_equivalent_risk(p, jnp.array([10.0, 100.0]), jnp.array([[0.1], [0.01]]))
    assert out.shape == (2, 2) and bool(jnp.all(jnp.isfinite(out)))
    with pytest.raises(ValueError, match="lam"):
        data.spectral_krr_equivalent_risk(p, 10.0, 0.0)
    with pytest.raises(ValueError, match="n"):
        data.spectral_krr_equivalent_risk(p, -1.0, 0.1)
