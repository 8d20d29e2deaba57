"""lib.generalization.compression: effective dof against the eigenvalue formula, leverage scores, the greedy
selection against a brute-force NumPy implementation, exactness of the ridge reconstruction,
the pruned forward pass against a direct computation, the reweighted (importance-sampled) residual
against its defining ridge formula, Bach's leverage-sampling guarantee and the Eckart–Young floor on
a power-law layer, the bounds and their non-vacuous sample size, and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.generalization import compression as cp
from lib import nets

pytestmark = pytest.mark.usefixtures("x64")


def _features(seed, n=200, p=12, rank=None):
    k1, k2 = jax.random.split(jax.random.key(seed))
    if rank is None:
        return jax.nn.relu(jax.random.normal(k1, (n, p), dtype=jnp.float64))
    B = jax.random.normal(k1, (n, rank), dtype=jnp.float64)
    return B @ jax.random.normal(k2, (rank, p), dtype=jnp.float64)


def test_covariance_and_effective_dof_match_eigen_formula():
    H = _features(0)
    cov = cp.covariance(H)
    np.testing.assert_allclose(cov, np.asarray(H).T @ np.asarray(H) / H.shape[0], rtol=1e-12)
    lams = np.array([1e-3, 0.1, 1.0, 10.0])
    mu = np.linalg.eigvalsh(np.asarray(cov))
    expected = [np.sum(mu / (mu + l)) for l in lams]
    np.testing.assert_allclose(cp.effective_dof(cov, lams), expected, rtol=1e-10)
    # trace form tr(Σ(Σ+λ)^{-1})
    direct = np.trace(np.asarray(cov) @ np.linalg.inv(np.asarray(cov) + 0.1 * np.eye(12)))
    np.testing.assert_allclose(cp.effective_dof(cov, 0.1), direct, rtol=1e-10)
    np.testing.assert_allclose(cp.effective_dof_from_eigs(mu, lams), expected, rtol=1e-10)
    # limits: rank as λ→0, tr Σ / λ as λ→∞; monotone decreasing
    N = np.asarray(cp.effective_dof(cov, np.geomspace(1e-9, 1e6, 30)))
    assert np.all(np.diff(N) < 0)
    assert abs(N[0] - 12) < 1e-5
    np.testing.assert_allclose(N[-1], np.trace(np.asarray(cov)) / 1e6, rtol=1e-4)


def test_leverage_scores_sum_to_dof_and_lie_in_unit_interval():
    cov = cp.covariance(_features(1))
    tau = np.asarray(cp.ridge_leverage_scores(cov, 0.05))
    assert np.all((tau >= 0) & (tau < 1))
    np.testing.assert_allclose(cp.ridge_leverage_scores(cov, 0.05, eig=jnp.linalg.eigh(cov)), tau,
                               rtol=1e-10)
    np.testing.assert_allclose(tau.sum(), cp.effective_dof(cov, 0.05), rtol=1e-10)


def _greedy_numpy(S, m, lam, w=None, theta=0.0):
    p = S.shape[0]
    J = []
    for _ in range(m):
        best, best_val = None, np.inf
        for j in range(p):
            if j in J:
                continue
            K = J + [j]
            R = S - S[:, K] @ np.linalg.solve(S[np.ix_(K, K)] + lam * np.eye(len(K)), S[K, :])
            val = np.trace(R) + (theta * w @ R @ w if w is not None else 0.0)
            if val < best_val:
                best, best_val = j, val
        J.append(best)
    return J


@pytest.mark.parametrize("theta", [0.0, 3.0])
def test_greedy_selection_matches_brute_force(theta):
    S = np.asarray(cp.covariance(_features(2, p=10)))
    w = np.asarray(jax.random.normal(jax.random.key(3), (10,), dtype=jnp.float64))
    J = cp.select_units(S, 5, lam=0.03, out_weights=w, theta=theta)
    assert list(np.asarray(J)) == _greedy_numpy(S, 5, 0.03, w, theta)
    assert len(set(np.asarray(J).tolist())) == 5


def test_residual_is_the_regularized_reconstruction_error():
    H = _features(4, p=10)
    cov = cp.covariance(H)
    J = jnp.array([0, 3, 5])
    lam = 0.2
    A = cp.reconstruction_matrix(cov, J, lam=lam)
    R = cp.residual_covariance(cov, J, lam=lam)
    # objective E||φ − Aφ_J||² + λ||A||² at the minimizer equals tr R, and perturbing A increases it
    Hn, An = np.asarray(H), np.asarray(A)
    obj = lambda B: np.mean(np.sum((Hn - Hn[:, [0, 3, 5]] @ B.T) ** 2, 1)) + lam * np.sum(B ** 2)
    np.testing.assert_allclose(obj(An), np.trace(np.asarray(R)), rtol=1e-10)
    E = np.asarray(jax.random.normal(jax.random.key(5), An.shape, dtype=jnp.float64))
    assert obj(An + 1e-3 * E) > obj(An)
    # output error is bounded by wᵀRw
    w = np.arange(10.0)
    err = np.mean((Hn @ w - Hn[:, [0, 3, 5]] @ (An.T @ w)) ** 2)
    assert err <= w @ np.asarray(R) @ w + 1e-12


def test_reconstruction_exact_for_full_set_and_small_lam():
    cov = cp.covariance(_features(6, p=10))
    J = jnp.arange(10)
    A = cp.reconstruction_matrix(cov, J, lam=1e-12)
    np.testing.assert_allclose(A, np.eye(10), atol=1e-8)
    np.testing.assert_allclose(cp.residual_covariance(cov, J, lam=1e-12), 0.0, atol=1e-9)


def test_low_rank_layer_is_rebuilt_from_rank_many_units():
    cov = cp.covariance(_features(7, p=10, rank=4))
    J = cp.select_units(cov, 4, lam=1e-12)
    R = cp.residual_covariance(cov, J, lam=1e-12)
    assert float(jnp.abs(R).max()) < 1e-7 * float(jnp.abs(cov).max())


def test_leverage_sample_distinct_and_follows_scores():
    cov = cp.covariance(_features(8, p=6))
    J = cp.leverage_sample(jax.random.key(0), cov, 4, lam=0.1)
    assert len(set(np.asarray(J).tolist())) == 4
    # with m = 1 the frequencies are proportional to τ
    keys = jax.random.split(jax.random.key(1), 2000)
    draws = np.asarray(jax.vmap(lambda k: cp.leverage_sample(k, cov, 1, lam=0.1)[0])(keys))
    tau = np.asarray(cp.ridge_leverage_scores(cov, 0.1))
    freq = np.bincount(draws, minlength=6) / 2000
    np.testing.assert_allclose(freq, tau / tau.sum(), atol=4 * np.sqrt(0.25 / 2000))


@pytest.mark.parametrize("parameterization,layer", [("standard", 1), ("ntk", 2),
                                                     ("mean_field", 1)])
def test_prune_mlp_equals_direct_reconstructed_forward_pass(parameterization, layer):
    d, p = 5, 10
    params = nets.init_mlp(jax.random.key(9), [d, p, p, 1], parameterization=parameterization,
                           b_std=0.5)
    x = jax.random.normal(jax.random.key(10), (30, d), dtype=jnp.float64)
    kw = dict(parameterization=parameterization, b_std=0.5)
    H = cp.hidden_activations(params, x, layer=layer, **kw)
    assert H.shape == (30, p)
    J = jnp.array([1, 4, 6, 7])
    A = jax.random.normal(jax.random.key(11), (p, 4), dtype=jnp.float64)
    pruned = cp.prune_mlp(params, J, A, layer=layer, parameterization=parameterization)
    out = nets.apply_mlp(pruned, x, **kw)
    # direct: replace φ by A φ_J at this layer and continue the original network
    h = (H[:, J] @ A.T)
    for l in range(layer, len(params)):
        W, b = params[l]
        if l > layer:
            h = jax.nn.relu(h)
        mult = nets.layer_multiplier(parameterization, W.shape[0], l == len(params) - 1, 1.0)
        h = mult * (h @ W) + 0.5 * b
    np.testing.assert_allclose(out, h, rtol=1e-10, atol=1e-12)
    # identity reconstruction with all units reproduces the network
    full = cp.prune_mlp(params, jnp.arange(p), jnp.eye(p), layer=layer,
                        parameterization=parameterization)
    np.testing.assert_allclose(nets.apply_mlp(full, x, **kw), nets.apply_mlp(params, x, **kw),
                               rtol=1e-12)


def test_bounds_and_param_count():
    assert cp.count_params([20, 64, 1]) == 21 * 64 + 65
    n = 1000
    b = cp.parameter_count_bound(100, n, delta=0.05)
    np.testing.assert_allclose(b, np.sqrt((100 * np.log(100) * np.log(n) + np.log(20)) / n),
                               rtol=1e-12)
    c = cp.compression_bound(0.04, 100, n, delta=0.05)
    np.testing.assert_allclose(c, 0.2 + b, rtol=1e-12)


@pytest.mark.parametrize("W,r", [(2.0, 0.0), (177.0, 0.01), (24_000.0, 0.0), (500.0, 0.5)])
def test_nonvacuous_sample_size_solves_bound_equal_one(W, r):
    n_star = float(cp.nonvacuous_sample_size(W, recon_error=r, delta=0.05))
    f = lambda n: np.sqrt(r) + np.sqrt((W * np.log(W) * np.log(n) + np.log(20)) / n)
    np.testing.assert_allclose(f(n_star), 1.0, rtol=1e-9)
    assert f(0.99 * n_star) > 1.0 > f(1.01 * n_star)


def test_importance_weights_are_unbiased_counts():
    probs = jnp.array([0.5, 0.3, 0.2, 0.0])
    s = np.asarray(cp.importance_weights(jax.random.key(0), probs, 7, n_draws=4000))
    assert s.shape == (4000, 4)
    counts = s * 7 * np.asarray([0.5, 0.3, 0.2, 1.0])           # k_j = s_j m q_j
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    np.testing.assert_allclose(counts.sum(1), 7.0)
    assert np.all(s[:, 3] == 0)
    # E s_j = 1 for q_j > 0; sd of s_j is sqrt((1 - q_j)/(m q_j)), 4 standard errors
    sd = np.sqrt((1 - np.array([0.5, 0.3, 0.2])) / (7 * np.array([0.5, 0.3, 0.2])))
    np.testing.assert_allclose(s[:, :3].mean(0), 1.0, atol=4 * sd.max() / np.sqrt(4000))


def test_reweighted_residual_norm_matches_direct_residual():
    cov = cp.covariance(_features(13, n=300, p=15))
    lam = 0.02 * float(jnp.trace(cov))
    tau = cp.ridge_leverage_scores(cov, lam)
    s = cp.importance_weights(jax.random.key(4), tau, 6, n_draws=3)
    rho = np.asarray(cp.reweighted_residual_norm(cov, s, lam=lam, cutoff=0.0))
    rho_cut = np.asarray(cp.reweighted_residual_norm(cov, s, lam=lam))
    np.testing.assert_allclose(
        cp.reweighted_residual_norm(cov, s, lam=lam, eig=jnp.linalg.eigh(cov)), rho_cut, rtol=1e-12)
    for k, sk in enumerate(np.asarray(s)):
        J = np.nonzero(sk)[0]
        R = np.asarray(cp.residual_covariance(cov, jnp.asarray(J), lam=lam, weights=sk[J]))
        # direct ridge residual Σ − Σ_FJ(Σ_JJ + λ diag(1/s_J))^{-1}Σ_JF, from its definition
        S = np.asarray(cov)
        R_np = S - S[:, J] @ np.linalg.solve(S[np.ix_(J, J)] + lam * np.diag(1 / sk[J]), S[J, :])
        np.testing.assert_allclose(R, R_np, atol=1e-10 * np.abs(S).max())
        np.testing.assert_allclose(rho[k], np.linalg.eigvalsh(R_np)[-1] / lam, rtol=1e-8)
    # truncation to eigenvalues >= 1e-3 λ: a lower bound, and close
    assert np.all(rho_cut <= rho * (1 + 1e-10))
    np.testing.assert_allclose(rho_cut, rho, rtol=1e-2)
    # all units with unit weight: R = λΣ(Σ+λ)^{-1}, so ρ = μ_1/(μ_1+λ)
    mu1 = float(np.linalg.eigvalsh(np.asarray(cov))[-1])
    np.testing.assert_allclose(cp.reweighted_residual_norm(cov, jnp.ones(15), lam=lam, cutoff=0.0),
                               mu1 / (mu1 + lam), rtol=1e-8)


def test_reweighted_reconstruction_full_width_form():
    cov = cp.covariance(_features(14, n=200, p=9))
    lam = 0.05
    s = jnp.array([0.0, 2.0, 0.5, 0.0, 1.0, 3.0, 0.0, 0.0, 0.7])
    A = np.asarray(cp.reweighted_reconstruction(cov, s, lam=lam))
    J = np.flatnonzero(np.asarray(s))
    np.testing.assert_allclose(A[:, J], cp.reconstruction_matrix(cov, J, lam=lam, weights=s[J]),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(A[:, [0, 3, 6, 7]], 0.0, atol=1e-14)
    ones = jnp.zeros(9).at[J].set(1.0)
    np.testing.assert_allclose(np.asarray(cp.reweighted_reconstruction(cov, ones, lam=lam))[:, J],
                               cp.reconstruction_matrix(cov, J, lam=lam), rtol=1e-9, atol=1e-12)


def test_leverage_sampling_theorem_on_a_power_law_layer():
    # Bach (2017, Prop. 1): m >= 5 N log(16 N / δ) leverage draws give R ⪯ 4λ w.p. >= 1 − δ;
    # and no m-unit reconstruction beats λ_max(R) >= μ_{m+1} (Eckart–Young)
    p = 60
    U = np.linalg.qr(np.asarray(jax.random.normal(jax.random.key(5), (p, p), dtype=jnp.float64)))[0]
    mu = np.arange(1, p + 1) ** -2.0
    cov = jnp.asarray((U * mu) @ U.T)
    lam, delta = 1e-3, 0.1
    tau = cp.ridge_leverage_scores(cov, lam)
    N = float(jnp.sum(tau))
    m = int(np.ceil(5 * N * np.log(16 * N / delta)))
    rho = np.asarray(cp.reweighted_residual_norm(
        cov, cp.importance_weights(jax.random.key(6), tau, m, n_draws=40), lam=lam, cutoff=0.0))
    assert np.mean(rho > 4) <= delta
    m_small = int(N // 4)
    rho_small = np.asarray(cp.reweighted_residual_norm(
        cov, cp.importance_weights(jax.random.key(7), tau, m_small, n_draws=40), lam=lam,
        cutoff=0.0))
    assert np.all(rho_small >= mu[m_small] / lam * (1 - 1e-8))


def test_importance_weights_nested_draw_counts():
    q = jnp.array([0.5, 0.3, 0.2, 0.0])
    ms = [3, 10, 40]
    s = np.asarray(cp.importance_weights(jax.random.key(8), q, ms, n_draws=50))
    assert s.shape == (3, 50, 4)
    counts = s * np.array(ms)[:, None, None] * np.where(np.asarray(q) > 0, np.asarray(q), 1.0)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)     # integer counts k_j
    np.testing.assert_allclose(counts.sum(-1), np.broadcast_to(np.array(ms)[:, None], (3, 50)))
    assert np.all(np.diff(counts, axis=0) >= -1e-9)      # nested: the first m draws of one sequence
    assert np.all(counts[..., 3] == 0)


def test_uncorrelated_residual_norm_matches_general_form():
    mu = jnp.arange(1, 21, dtype=jnp.float64) ** -1.5
    tau = mu / (mu + 0.01)
    s = cp.importance_weights(jax.random.key(9), tau, 30, n_draws=5)
    np.testing.assert_allclose(cp.uncorrelated_residual_norm(mu, s, lam=0.01),
                               cp.reweighted_residual_norm(jnp.diag(mu), s, lam=0.01, cutoff=0.0),
                               rtol=1e-8)
    # no unit drawn: ρ = μ_1/λ
    np.testing.assert_allclose(cp.uncorrelated_residual_norm(mu, jnp.zeros(20), lam=0.01), 100.0)


def _exact_success(mu, q, m, lam, c):
    """P(ρ <= c) by enumerating all multinomial outcomes (small p, m)."""
    from itertools import product
    from math import factorial
    total = 0.0
    for k in product(range(m + 1), repeat=len(mu)):
        if sum(k) != m:
            continue
        s = np.array(k) / (m * q)
        if np.max(mu / (mu * s + lam)) <= c:
            total += factorial(m) / np.prod([factorial(x) for x in k]) * np.prod(q ** np.array(k))
    return total


def test_uncorrelated_success_bound_against_enumeration():
    mu, lam, c = np.array([1.0, 0.5, 0.2, 0.01]), 0.02, 4.0
    tau = mu / (mu + lam)
    q = tau / tau.sum()
    for m in (3, 6, 10):
        exact = _exact_success(mu, q, m, lam, c)
        bound = float(cp.uncorrelated_success_bound(jnp.asarray(mu), m, lam=lam, c=c))
        # negative association: the product of the marginals is an upper bound (loose here, where
        # the q_j are large; close when they are small, next test)
        assert exact <= bound + 1e-12
    # one constrained unit: the bound is the exact binomial tail
    mu1 = np.array([1.0, 0.01, 0.01])
    q1 = mu1 / (mu1 + lam) / np.sum(mu1 / (mu1 + lam))
    np.testing.assert_allclose(cp.uncorrelated_success_bound(jnp.asarray(mu1), 7, lam=lam, c=c),
                               _exact_success(mu1, q1, 7, lam, c), rtol=1e-10)
    # uniform probabilities and an array of m
    out = cp.uncorrelated_success_bound(jnp.asarray(mu), np.array([3, 10]), lam=lam, c=c,
                                        probs=jnp.ones(4))
    assert out.shape == (2,)
    assert _exact_success(mu, np.full(4, 0.25), 10, lam, c) <= out[1] + 1e-12


def test_uncorrelated_success_bound_against_monte_carlo():
    mu = jnp.arange(1, 513, dtype=jnp.float32) ** -2.0
    lam, c = 1e-3, 4.0
    tau = mu / (mu + lam)
    N = float(jnp.sum(tau))
    m = int(4 * N)
    s = cp.importance_weights(jax.random.key(10), tau, m, n_draws=4000)
    freq = float(np.mean(np.asarray(cp.uncorrelated_residual_norm(mu, s, lam=lam)) <= c))
    bound = float(cp.uncorrelated_success_bound(mu, m, lam=lam, c=c))
    se = np.sqrt(bound * (1 - bound) / 4000)
    assert 0.05 < bound < 0.95
    assert freq <= bound + 4 * se                 # an upper bound ...
    assert bound - freq <= 0.05 + 4 * se          # ... nearly attained (weak dependence, q_j <= 1/N)


def test_input_validation():
    cov = cp.covariance(_features(12, p=5))
    with pytest.raises(ValueError, match="cov"):
        cp.effective_dof(jnp.ones((3, 4)), 0.1)
    with pytest.raises(ValueError, match="lam"):
        cp.effective_dof(cov, 0.0)
    with pytest.raises(ValueError, match="lam"):
        cp.select_units(cov, 2, lam=-1.0)
    with pytest.raises(ValueError, match="m"):
        cp.select_units(cov, 6, lam=0.1)
    with pytest.raises(ValueError, match="out_weights"):
        cp.select_units(cov, 2, lam=0.1, out_weights=jnp.ones(4), theta=1.0)
    with pytest.raises(ValueError, match="units"):
        cp.reconstruction_matrix(cov, jnp.array([0, 0]), lam=0.1)
    with pytest.raises(ValueError, match="units"):
        cp.reconstruction_matrix(cov, jnp.array([0, 7]), lam=0.1)
    with pytest.raises(ValueError, match="H"):
        cp.covariance(jnp.array([1.0, jnp.nan]))
    params = nets.init_mlp(jax.random.key(0), [3, 5, 1])
    with pytest.raises(ValueError, match="recon"):
        cp.prune_mlp(params, jnp.array([0, 1]), jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="layer"):
        cp.hidden_activations(params, jnp.ones((2, 3)), layer=2)
    with pytest.raises(ValueError, match="recon_error"):
        cp.compression_bound(-1.0, 10, 100)
    with pytest.raises(ValueError, match="delta"):
        cp.parameter_count_bound(10, 100, delta=0.0)
    with pytest.raises(ValueError, match="n_params"):
        cp.parameter_count_bound(1, 100)
    with pytest.raises(ValueError, match="recon_error"):
        cp.nonvacuous_sample_size(100, recon_error=1.0)
    with pytest.raises(ValueError, match="probs"):
        cp.importance_weights(jax.random.key(0), -jnp.ones(3), 2)
    with pytest.raises(ValueError, match="weights"):
        cp.reweighted_residual_norm(cov, jnp.ones(4), lam=0.1)
    with pytest.raises(ValueError, match="eig"):
        cp.ridge_leverage_scores(cov, 0.1, eig=(jnp.ones(5), jnp.eye(4)))
    with pytest.raises(ValueError, match="weights"):
        cp.reconstruction_matrix(cov, jnp.array([0, 1]), lam=0.1, weights=jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="mu"):
        cp.uncorrelated_residual_norm(-jnp.ones(3), jnp.ones(3), lam=0.1)
    with pytest.raises(ValueError, match="weights"):
        cp.uncorrelated_residual_norm(jnp.ones(3), jnp.ones(4), lam=0.1)
    with pytest.raises(ValueError, match="c"):
        cp.uncorrelated_success_bound(jnp.ones(3), 5, lam=0.1, c=0.0)
    with pytest.raises(ValueError, match="probs"):
        cp.uncorrelated_success_bound(jnp.ones(3), 5, lam=0.1, probs=jnp.ones(4))
    with pytest.raises(ValueError, match="m"):
        cp.importance_weights(jax.random.key(0), jnp.ones(3), [2, 0])


def test_lam_for_dof_inverts_effective_dof():
    mu = jnp.arange(1, 401, dtype=jnp.float64) ** -2.0
    targets = np.geomspace(2.0, 200.0, 7)
    lam = cp.lam_for_dof(mu, targets)
    assert lam.shape == (7,) and lam.dtype == jnp.float64
    np.testing.assert_allclose(cp.effective_dof_from_eigs(mu, lam), targets, rtol=1e-10)
    # closed form: r equal eigenvalues c (and zeros) give N = r c/(c+λ), so λ = c (r − N)/N
    flat = jnp.concatenate([jnp.full(10, 0.3), jnp.zeros(5)])
    np.testing.assert_allclose(cp.lam_for_dof(flat, 4.0), 0.3 * 6 / 4, rtol=1e-10)
    # the flat root is the lower bracket end μ_min (r − N)/N; an interior root: r_a eigenvalues a and
    # r_b eigenvalues b give N = r_a a/(a+λ) + r_b b/(b+λ) = D, i.e. the quadratic
    # D λ² + Bλ + C = 0 with B = D(a+b) − r_a a − r_b b and C = ab(D − r_a − r_b) < 0, whose positive
    # root is λ = 2|C| / (B + √(B² − 4DC)) (for D = 2, 5, 12: 0.733, 0.080, 0.0121, strictly inside
    # the brackets [0.105, 1.6], [0.036, 0.64], [0.0092, 0.27])
    a, b, r_a, r_b = 1.0, 0.01, 3, 20
    two = jnp.concatenate([jnp.full(r_a, a), jnp.full(r_b, b), jnp.zeros(4)])
    D = np.array([2.0, 5.0, 12.0])
    B, C = D * (a + b) - r_a * a - r_b * b, a * b * (D - r_a - r_b)
    lam_two = 2 * -C / (B + np.sqrt(B ** 2 - 4 * D * C))
    assert np.all((b * (r_a + r_b - D) / D < lam_two) & (lam_two < (r_a * a + r_b * b) / D))
    np.testing.assert_allclose(cp.lam_for_dof(two, D), lam_two, rtol=1e-10)
    # float32 in, float32 out, to float32 accuracy
    lam32 = cp.lam_for_dof(mu.astype(jnp.float32), targets)
    assert lam32.dtype == jnp.float32
    np.testing.assert_allclose(cp.effective_dof_from_eigs(mu, lam32.astype(jnp.float64)), targets,
                               rtol=1e-4)
    with pytest.raises(ValueError, match="dof"):
        cp.lam_for_dof(flat, 10.0)                 # N(λ) < r = 10 for every λ > 0
    with pytest.raises(ValueError, match="dof"):
        cp.lam_for_dof(mu, 0.0)
    with pytest.raises(ValueError, match="eigs"):
        cp.lam_for_dof(-mu, 3.0)


def test_uncorrelated_residual_norm_eckart_young_floor():
    # m draws keep at most m units; a unit j that is not kept has ρ_j = μ_j/λ, and among the
    # m + 1 largest μ at least one is not kept: ρ >= μ_(m+1)/λ for every draw
    mu = jnp.arange(1, 1025, dtype=jnp.float64) ** -2.0
    lam = float(cp.lam_for_dof(mu, 64.0))
    ms = [4, 16, 40]
    s = cp.importance_weights(jax.random.key(11), mu / (mu + lam), ms, n_draws=30)
    rho = np.asarray(cp.uncorrelated_residual_norm(mu, s.reshape(-1, 1024), lam=lam)).reshape(3, 30)
    floor = np.asarray(mu)[np.array(ms)] / lam
    assert np.all(rho >= floor[:, None] * (1 - 1e-12))


def test_scalar_lam_is_required_where_documented():
    cov = cp.covariance(_features(13, p=4))
    for call in (lambda: cp.ridge_leverage_scores(cov, jnp.array([0.1, 0.2])),
                 lambda: cp.select_units(cov, 2, lam=jnp.array([0.1, 0.2])),
                 lambda: cp.reconstruction_matrix(cov, jnp.array([0, 1]), lam=jnp.ones(2)),
                 lambda: cp.reweighted_reconstruction(cov, jnp.ones(4), lam=jnp.ones(2)),
                 lambda: cp.uncorrelated_residual_norm(jnp.ones(4), jnp.ones(4), lam=jnp.ones(2)),
                 lambda: cp.uncorrelated_success_bound(jnp.ones(4), 5, lam=jnp.ones(2))):
        with pytest.raises(ValueError, match="lam must be a scalar"):
            call()
