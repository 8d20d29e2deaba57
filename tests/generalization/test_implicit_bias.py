"""lib.generalization.implicit_bias: preconditioned GD against its closed-form limit and a NumPy iteration, the
bias/variance formulas against explicit matrix algebra and Monte Carlo, the asymptotic variance
against its NGD closed form and the asymptotic bias against its isotropic closed form and Monte Carlo,
factorized sensing and deep linear nets against NumPy / brute force, the max-margin solver against
closed forms and scipy's SLSQP, logistic GD against a NumPy loop and the Soudry et al. expansion,
and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.generalization import implicit_bias as ib

pytestmark = pytest.mark.usefixtures("x64")


def _gauss(seed, *shape):
    return np.asarray(jax.random.normal(jax.random.key(seed), shape, dtype=jnp.float64))


def _spd(seed, d):
    G = _gauss(seed, d, d)
    return G @ G.T / d + 0.2 * np.eye(d)


# ------------------------------------------------------------------ preconditioned least squares

@pytest.mark.parametrize("kind", ["full", "diag", "identity"])
def test_interpolator_matches_numpy_and_is_min_pinv_norm(kind):
    n, d = 6, 15
    X, y = _gauss(0, n, d), _gauss(1, n)
    P = {"full": _spd(2, d), "diag": np.exp(_gauss(3, d)), "identity": np.ones(d)}[kind]
    Pm = P if P.ndim == 2 else np.diag(P)
    beta = np.asarray(ib.preconditioned_interpolator(X, y, P))
    expected = Pm @ X.T @ np.linalg.solve(X @ Pm @ X.T, y)
    np.testing.assert_allclose(beta, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(X @ beta, y, atol=1e-10)
    if kind == "identity":
        np.testing.assert_allclose(beta, np.linalg.pinv(X) @ y, atol=1e-10)
    # every other interpolator beta + null-space vector has a larger P^{-1}-norm
    null = np.linalg.svd(X)[2][n:]
    others = beta[None] + 0.1 * _gauss(4, 50, d - n) @ null
    Pinv = np.linalg.inv(Pm)
    base = beta @ Pinv @ beta
    assert np.all(np.einsum("ki,ij,kj->k", others, Pinv, others) > base)


def test_interpolator_with_beta0_is_closest_in_pinv_norm():
    n, d = 6, 15
    X, y, b0 = _gauss(0, n, d), _gauss(1, n), _gauss(2, d)
    P = np.exp(_gauss(3, d))
    beta = np.asarray(ib.preconditioned_interpolator(X, y, P, beta0=b0))
    np.testing.assert_allclose(X @ beta, y, atol=1e-10)
    # (beta - b0) must lie in range(P Xᵀ)
    coef, *_ = np.linalg.lstsq(np.diag(P) @ X.T, beta - b0, rcond=None)
    np.testing.assert_allclose(np.diag(P) @ X.T @ coef, beta - b0, atol=1e-10)


@pytest.mark.parametrize("kind", ["full", "diag"])
def test_preconditioned_gd_follows_numpy_iteration_and_converges(kind):
    n, d = 6, 15
    X, y = _gauss(0, n, d), _gauss(1, n)
    P = _spd(2, d) if kind == "full" else np.exp(_gauss(3, d))
    Pm = P if P.ndim == 2 else np.diag(P)
    eta = 0.5 * ib.max_stable_step(X, P)
    res = ib.preconditioned_gd(X, y, P, step_size=eta, n_steps=20, record_every=1)
    b = np.zeros(d)
    traj = []
    for _ in range(20):
        b = b - eta * Pm @ X.T @ (X @ b - y) / n
        traj.append(b)
    np.testing.assert_allclose(np.asarray(res.history), np.array(traj), rtol=1e-9, atol=1e-12)
    long = ib.preconditioned_gd(X, y, P, step_size=eta, n_steps=4000)
    limit = np.asarray(ib.preconditioned_interpolator(X, y, P))
    np.testing.assert_allclose(np.asarray(long.params), limit, rtol=1e-9, atol=1e-10)


def test_max_stable_step_and_divergence_above_it():
    n, d = 6, 15
    X, y, P = _gauss(0, n, d), _gauss(1, n), np.exp(_gauss(2, d))
    lam = np.linalg.eigvalsh(X @ np.diag(P) @ X.T / n)[-1]
    assert ib.max_stable_step(X, P) == pytest.approx(2 / lam, rel=1e-10)
    bad = ib.preconditioned_gd(X, y, P, step_size=1.05 * 2 / lam, n_steps=2000)
    assert not np.all(np.abs(np.asarray(bad.params)) < 1e6)


def test_sqrt():
    P = _spd(0, 7)
    R = np.asarray(ib.preconditioner_sqrt(P))
    np.testing.assert_allclose(R @ R, P, atol=1e-12)
    np.testing.assert_allclose(R, R.T, atol=1e-14)


# ------------------------------------------------------------------------ bias and variance

def _bv_numpy(X, p, s, b, noise):
    n, d = X.shape
    A = np.diag(p) @ X.T @ np.linalg.inv(X @ np.diag(p) @ X.T)
    E = np.eye(d) - A @ X
    bias = np.trace(E.T @ np.diag(s) @ E @ np.diag(b))
    var = noise ** 2 * np.trace(A.T @ np.diag(s) @ A)
    return bias, var


def test_bias_variance_matches_matrix_algebra():
    n, d = 7, 18
    s = np.exp(_gauss(0, d))
    X = _gauss(1, n, d) * np.sqrt(s)
    Ps = np.exp(_gauss(2, 3, d))
    B = np.exp(_gauss(3, 2, d))
    bias, var = ib.interpolator_bias_variance(X, Ps, s, B, noise=0.7)
    assert bias.shape == (3, 2) and var.shape == (3,)
    for k in range(3):
        for j in range(2):
            eb, ev = _bv_numpy(X, Ps[k], s, B[j], 0.7)
            assert float(bias[k, j]) == pytest.approx(eb, rel=1e-9)
            assert float(var[k]) == pytest.approx(ev, rel=1e-9)
    b1, v1 = ib.interpolator_bias_variance(X, Ps[0], s, B[1], noise=0.7)
    assert jnp.ndim(b1) == 0 and float(b1) == pytest.approx(float(bias[0, 1]))


def test_bias_variance_against_monte_carlo_over_beta_and_noise():
    n, d, reps = 5, 12, 20000
    s = np.exp(_gauss(0, d))
    X = _gauss(1, n, d) * np.sqrt(s)
    p, b = np.exp(_gauss(2, d)), np.exp(_gauss(3, d))
    beta = _gauss(4, reps, d) * np.sqrt(b)
    eps = 0.5 * _gauss(5, reps, n)
    A = np.diag(p) @ X.T @ np.linalg.inv(X @ np.diag(p) @ X.T)
    err_bias = beta @ (A @ X).T - beta                       # (I − AX) β* per draw (negated)
    err_var = eps @ A.T
    mb = np.einsum("ki,i,ki->k", err_bias, s, err_bias)
    mv = np.einsum("ki,i,ki->k", err_var, s, err_var)
    bias, var = ib.interpolator_bias_variance(X, p, s, b, noise=0.5)
    assert abs(mb.mean() - float(bias)) < 4 * mb.std() / np.sqrt(reps)
    assert abs(mv.mean() - float(var)) < 4 * mv.std() / np.sqrt(reps)


def test_ngd_minimizes_variance_and_prior_preconditioner_minimizes_bias():
    n, d = 10, 25
    s = np.exp(_gauss(0, d))
    X = _gauss(1, n, d) * np.sqrt(s)
    prior = np.exp(_gauss(2, d))
    Ps = np.concatenate([np.exp(_gauss(3, 30, d)), (1 / s)[None], prior[None]])
    bias, var = ib.interpolator_bias_variance(X, Ps, s, prior, noise=1.0)
    assert float(var[-2]) <= float(jnp.min(var)) * (1 + 1e-10)
    assert float(bias[-1]) <= float(jnp.min(bias)) * (1 + 1e-10)


def test_monte_carlo_reuses_the_same_designs_and_ngd_variance_is_exact():
    n, d, reps = 6, 14, 3
    s = np.exp(_gauss(0, d))
    Ps = np.stack([np.ones(d), 1 / s])
    B = np.stack([np.ones(d) / d])
    key = jax.random.key(7)
    bias, var = ib.bias_variance_monte_carlo(key, n=n, cov_eigs=s, preconditioners=Ps,
                                             prior_eigs=B, noise=1.0, reps=reps)
    assert bias.shape == (reps, 2, 1) and var.shape == (reps, 2)
    for r, k in enumerate(jax.random.split(key, reps)):
        X = jax.random.normal(k, (n, d), dtype=jnp.float64) * np.sqrt(s)
        b_r, v_r = ib.interpolator_bias_variance(X, Ps, s, B, noise=1.0)
        np.testing.assert_allclose(bias[r], b_r, rtol=1e-10)
        np.testing.assert_allclose(var[r], v_r, rtol=1e-10)
        # NGD: X P Xᵀ = Z Zᵀ, so the variance is tr((ZZᵀ)⁻¹) whatever Σ is
        Z = np.asarray(X) / np.sqrt(s)
        assert float(v_r[1]) == pytest.approx(np.trace(np.linalg.inv(Z @ Z.T)), rel=1e-9)


def test_variance_limit_closed_forms_and_monte_carlo():
    # NGD (H = point mass): σ²/(γ − 1), whatever the point; scale invariance in τ
    assert ib.preconditioned_variance_limit(3.0, np.full(10, 2.5), noise=2.0) == pytest.approx(
        4.0 / 2.0, rel=1e-10)
    tau = np.exp(_gauss(0, 50))
    v1 = ib.preconditioned_variance_limit(2.0, tau, noise=1.0)
    assert ib.preconditioned_variance_limit(2.0, 7.0 * tau, noise=1.0) == pytest.approx(v1, rel=1e-9)
    assert v1 > 1.0 / (2.0 - 1.0)                          # NGD is optimal, strictly here
    # finite-size Monte Carlo with GD (P = I): tau = eigenvalues of Σ
    n, d = 100, 200
    s = np.geomspace(4.0, 0.25, d)
    _, var = ib.bias_variance_monte_carlo(jax.random.key(0), n=n, cov_eigs=s,
                                          preconditioners=np.ones((1, d)),
                                          prior_eigs=np.ones((1, d)), noise=1.0, reps=4)
    lim = ib.preconditioned_variance_limit(d / n, s, noise=1.0)
    assert float(np.mean(var)) == pytest.approx(lim, rel=0.03)   # O(1/n) finite-size effect


# ------------------------------------------------------------------ factorized matrix sensing

def test_sensing_step_matches_numpy_and_batches():
    m, d = 15, 4
    A = np.asarray(ib.symmetric_measurements(jax.random.key(0), m, d))
    np.testing.assert_allclose(A, np.swapaxes(A, 1, 2))
    y = _gauss(1, m)
    eta, a = 0.01, 0.3
    res = ib.factorized_sensing(A, y, init_scale=a, n_steps=1, step_size=eta)
    U = a * np.eye(d)
    r = np.einsum("mij,ij->m", A, U @ U.T) - y
    U1 = U - eta * np.einsum("m,mij->ij", r, A) @ U / m
    np.testing.assert_allclose(np.asarray(res.U), U1, rtol=1e-12)
    batch = ib.factorized_sensing(A, y, init_scale=jnp.array([0.1, a]), n_steps=1, step_size=eta)
    np.testing.assert_allclose(np.asarray(batch.U[1]), U1, rtol=1e-12)
    assert batch.M.shape == (2, d, d)


def test_small_init_recovers_low_rank_matrix():
    d, r, m = 8, 1, 40
    v = _gauss(0, d)
    Mstar = np.outer(v, v) / (v @ v)
    A = ib.symmetric_measurements(jax.random.key(1), m, d)
    y = jnp.einsum("mij,ij->m", A, Mstar)
    res = ib.factorized_sensing(A, y, init_scale=1e-3, n_steps=3000, step_size=0.2)
    err = float(jnp.linalg.norm(res.M - Mstar))
    assert err < 1e-2
    assert float(ib.effective_rank(res.M)) < 1.1


def test_effective_rank():
    M = np.diag([2.0, 2.0, 2.0, 0.0, 0.0])
    assert float(ib.effective_rank(M)) == pytest.approx(3.0)
    Q = np.linalg.qr(_gauss(0, 5, 5))[0]
    assert float(ib.effective_rank(Q @ M @ Q.T)) == pytest.approx(3.0, rel=1e-10)
    s = np.array([3.0, 1.0])
    p = s / s.sum()
    assert float(ib.effective_rank(np.diag(s))) == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert ib.effective_rank(np.stack([M, M])).shape == (2,)


# ------------------------------------------------------------------ deep linear + weight decay

def _brute_prox(y, lam, L):
    s = np.linspace(0, y, 200001)
    f = 0.5 * (s - y) ** 2 + 0.5 * lam * L * s ** (2.0 / L)
    return s[np.argmin(f)]


@pytest.mark.parametrize("L", [1, 2, 3, 4, 6])
def test_schatten_shrinkage_is_the_scalar_global_minimizer(L):
    ys = np.array([0.05, 0.3, 0.6, 0.9, 1.3, 2.0, 4.0])
    lam = 0.5
    got = np.asarray(ib.schatten_shrinkage(ys, weight_decay=lam, depth=L))
    want = np.array([_brute_prox(y, lam, L) for y in ys])
    np.testing.assert_allclose(got, want, atol=5e-5 * ys.max())
    if L == 1:
        np.testing.assert_allclose(got, ys / (1 + lam), rtol=1e-12)
    if L == 2:
        np.testing.assert_allclose(got, np.maximum(ys - lam, 0), atol=1e-14)
    nz = np.asarray(ib.schatten_shrinkage(ys, weight_decay=lam, depth=L, branch="nonzero"))
    pos = nz > 0
    np.testing.assert_allclose(nz[pos] + lam * nz[pos] ** (2.0 / L - 1), ys[pos], rtol=1e-10)
    assert np.all((got == 0) | np.isclose(got, nz))


def test_representation_cost_is_the_least_weight_norm():
    W = _gauss(0, 6, 5)
    s = np.linalg.svd(W, compute_uv=False)
    assert float(ib.representation_cost(W, depth=2)) == pytest.approx(s.sum())
    assert float(ib.representation_cost(W, depth=1)) == pytest.approx(0.5 * (s ** 2).sum())
    # a random 3-factorization costs more; the balanced one (U S^{1/3}, S^{1/3}, S^{1/3} Vᵀ) equals it
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    A, B = _gauss(1, 6, 5), _gauss(2, 5, 5)
    C = np.linalg.solve(B, np.linalg.lstsq(A, W, rcond=None)[0])
    if np.allclose(A @ B @ C, W, atol=1e-8):
        assert 0.5 * sum((M ** 2).sum() for M in (A, B, C)) >= float(ib.representation_cost(W, depth=3))
    r = s ** (1 / 3)
    factors = (U * r, np.diag(r), r[:, None] * Vt)
    np.testing.assert_allclose(factors[0] @ factors[1] @ factors[2], W, atol=1e-12)
    assert 0.5 * sum((M ** 2).sum() for M in factors) == pytest.approx(
        float(ib.representation_cost(W, depth=3)), rel=1e-10)


@pytest.mark.parametrize("L", [1, 2])
def test_deep_linear_fit_reaches_the_convex_solution(L):
    d, lam = 6, 0.3
    Y = _gauss(0, d, d)
    res = ib.deep_linear_fit(jax.random.key(1), Y, depth=L, weight_decay=lam, n_steps=3000,
                             step_size=0.05)
    U, ys, Vt = np.linalg.svd(Y)
    want = (U * np.asarray(ib.schatten_shrinkage(ys, weight_decay=lam, depth=L))) @ Vt
    np.testing.assert_allclose(np.asarray(res.W), want, atol=2e-4)
    assert float(res.weight_norm) == pytest.approx(float(ib.representation_cost(res.W, depth=L)),
                                                   rel=1e-4)
    assert len(res.params) == L


# ------------------------------------------------------------------------------- validation

def test_validation():
    X, y = np.ones((3, 5)), np.ones(3)
    with pytest.raises(ValueError, match="X"):
        ib.preconditioned_interpolator(np.ones((5, 3)), np.ones(5), np.ones(3))
    with pytest.raises(ValueError, match="P"):
        ib.preconditioned_interpolator(X, y, -np.ones(5))
    with pytest.raises(ValueError, match="P"):
        ib.preconditioned_interpolator(X, y, np.ones(4))
    with pytest.raises(ValueError, match="P"):
        ib.preconditioned_interpolator(X, y, np.triu(np.ones((5, 5))))
    with pytest.raises(ValueError, match="y"):
        ib.preconditioned_interpolator(X, np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="beta0"):
        ib.preconditioned_interpolator(X, y, np.ones(5), beta0=np.ones(4))
    with pytest.raises(ValueError, match="step_size"):
        ib.preconditioned_gd(X, y, np.ones(5), step_size=-1.0, n_steps=3)
    with pytest.raises(ValueError, match="n_steps"):
        ib.preconditioned_gd(X, y, np.ones(5), step_size=0.1, n_steps=0)
    with pytest.raises(ValueError, match="noise"):
        ib.interpolator_bias_variance(X, np.ones(5), np.ones(5), np.ones(5), noise=-1)
    with pytest.raises(ValueError, match="cov_eigs"):
        ib.interpolator_bias_variance(X, np.ones(5), -np.ones(5), np.ones(5), noise=1)
    with pytest.raises(ValueError, match="cov_eigs"):
        ib.bias_variance_monte_carlo(jax.random.key(0), n=5, cov_eigs=np.ones(5),
                                     preconditioners=np.ones((1, 5)), prior_eigs=np.ones((1, 5)),
                                     noise=1.0, reps=2)
    with pytest.raises(ValueError, match="gamma"):
        ib.preconditioned_variance_limit(0.5, np.ones(3), noise=1.0)
    with pytest.raises(ValueError, match="tau_eigs"):
        ib.preconditioned_variance_limit(2.0, np.zeros(3), noise=1.0)
    with pytest.raises(ValueError, match="A"):
        ib.factorized_sensing(np.ones((4, 3, 2)), np.ones(4), init_scale=0.1, n_steps=2,
                              step_size=0.1)
    with pytest.raises(ValueError, match="init_scale"):
        ib.factorized_sensing(np.ones((4, 3, 3)), np.ones(4), init_scale=0.0, n_steps=2,
                              step_size=0.1)
    with pytest.raises(ValueError, match="M"):
        ib.effective_rank(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="depth"):
        ib.deep_linear_fit(jax.random.key(0), np.ones((3, 3)), depth=0, weight_decay=0.1,
                           n_steps=2, step_size=0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        ib.schatten_shrinkage(np.ones(3), weight_decay=0.0, depth=3)
    with pytest.raises(ValueError, match="y"):
        ib.schatten_shrinkage(-np.ones(3), weight_decay=0.1, depth=3)
    with pytest.raises(ValueError, match="branch"):
        ib.schatten_shrinkage(np.ones(3), weight_decay=0.1, depth=3, branch="local")
    with pytest.raises(ValueError, match="key"):
        ib.deep_linear_fit(0, np.ones((3, 3)), depth=2, weight_decay=0.1, n_steps=2, step_size=0.1)


# ------------------------------------------------------ separable classification (Soudry et al.)

def _two_support_data(seed, n, margin=0.5, gap=1.0):
    """Planar data whose max-margin vector is u/margin by construction: two points on the margin
    line {zᵀu = margin} on either side of margin·u, the others at zᵀu ≥ (1 + gap)·margin."""
    rng = np.random.default_rng(seed)
    th = rng.uniform(0, 2 * np.pi)
    u, up = np.array([np.cos(th), np.sin(th)]), np.array([-np.sin(th), np.cos(th)])
    a = rng.uniform(0.5, 1.5, 2)
    m = rng.uniform(1 + gap, 4.0, n - 2)
    Z = np.vstack([margin * u + a[0] * up, margin * u - a[1] * up,
                   margin * m[:, None] * u + rng.normal(size=(n - 2, 1)) * up])
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return Z * y[:, None], y, u / margin, a


def test_max_margin_svm_closed_forms():
    # two points: ŵ is the min-norm point of the segment [z1, z2], rescaled to margin 1
    X, y = np.array([[2.0, 1.0], [-1.0, 2.0]]), np.array([1.0, -1.0])
    Z = X * y[:, None]
    res = ib.max_margin_svm(X, y)
    t = np.clip((Z[1] - Z[0]) @ Z[1] / np.sum((Z[1] - Z[0]) ** 2), 0, 1)
    p = t * Z[0] + (1 - t) * Z[1]                          # closest point of conv{z1, z2} to 0
    np.testing.assert_allclose(np.asarray(res.w_hat), p / (p @ p), rtol=1e-10)
    # constructed planar data: ŵ = u/margin, α on the two support vectors only, α₁a₁ = α₂a₂
    X, y, w_true, a = _two_support_data(3, 30)
    res = ib.max_margin_svm(X, y)
    np.testing.assert_allclose(np.asarray(res.w_hat), w_true, rtol=1e-9)
    alpha = np.asarray(res.alpha)
    assert np.all(alpha[2:] == 0) and np.all(alpha[:2] > 0)
    np.testing.assert_allclose(alpha[0] * a[0], alpha[1] * a[1], rtol=1e-9)
    np.testing.assert_allclose(alpha.sum(), w_true @ w_true, rtol=1e-9)   # Σα = ‖ŵ‖²


def test_max_margin_svm_matches_scipy_primal(dtype):
    from scipy.optimize import minimize
    rng = np.random.default_rng(0)
    X = rng.normal(size=(25, 4))
    y = np.sign(X @ np.array([1.0, -0.5, 0.3, 0.2]))
    X = X + 0.3 * y[:, None] * np.array([1.0, -0.5, 0.3, 0.2])          # separable with a margin
    res = ib.max_margin_svm(X.astype(dtype), y.astype(dtype), tol=1e-5 if dtype == jnp.float32 else 1e-12)
    assert res.w_hat.dtype == dtype
    Z = X * y[:, None]
    ref = minimize(lambda w: 0.5 * w @ w, np.ones(4), jac=lambda w: w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1, "jac": lambda w: Z}],
                   options={"ftol": 1e-14, "maxiter": 500})
    np.testing.assert_allclose(np.asarray(res.w_hat, float), ref.x,
                               rtol=1e-3 if dtype == jnp.float32 else 1e-7)
    np.testing.assert_allclose(np.asarray(res.alpha, float) @ Z, np.asarray(res.w_hat, float),
                               rtol=1e-4 if dtype == jnp.float32 else 1e-10)


def test_logistic_gd_matches_numpy_loop(dtype):
    X, y, _, _ = _two_support_data(1, 12)
    ks = np.array([1, 2, 5, 40])
    W = np.asarray(ib.logistic_gd(X.astype(dtype), y.astype(dtype), step_size=0.7, record_steps=ks))
    w, out, Z = np.zeros(2), [], X * y[:, None]
    for k in range(1, 41):
        w = w - 0.7 * (-(Z.T @ (1 / (1 + np.exp(Z @ w))))) / len(y)
        if k in ks:
            out.append(w.copy())
    np.testing.assert_allclose(W, np.array(out), rtol=1e-4 if dtype == jnp.float32 else 1e-12)


def test_logistic_gd_follows_soudry_expansion():
    # w_k = ŵ log k + w̃ + o(1): the remainder shrinks like (log k)/k on this data (non-support
    # margins ≥ 2, support-vector linearization contracting at rate ≥ 1)
    X, y, w_true, _ = _two_support_data(2, 20)
    svm = ib.max_margin_svm(X, y)
    eta = 4 * len(y) / np.linalg.eigvalsh(X.T @ X)[-1]
    ks = np.array([10 ** 3, 10 ** 5])
    W = np.asarray(ib.logistic_gd(X, y, step_size=eta, record_steps=ks))
    wt = np.asarray(ib.logistic_gd_offset(X, y, svm.alpha, step_size=eta))
    Z = X * y[:, None]
    np.testing.assert_allclose(eta / len(y) * np.exp(-Z[:2] @ wt), np.asarray(svm.alpha)[:2],
                               rtol=1e-10)
    r = np.linalg.norm(W - np.log(ks)[:, None] * w_true - wt, axis=1)
    assert r[1] < 1e-2 * np.linalg.norm(w_true) and r[1] < r[0] / 20
    # the summed-loss offset (η instead of η/n) is wrong for the mean loss: off by ŵ log n
    assert np.linalg.norm(W[1] - np.log(ks[1]) * w_true - (wt - np.log(len(y)) * w_true)) > 1.0


def test_bias_limit_closed_form_and_monte_carlo():
    d = 300
    # isotropic data, GD: B → E‖β*‖²(1 − 1/γ)
    assert ib.preconditioned_bias_limit(3.0, np.ones(d), np.ones(d), np.full(d, 2.0 / d)) == \
        pytest.approx(2.0 * (1 - 1 / 3), rel=1e-10)
    # anisotropic Σ, additive-path P, aligned prior: against exact conditional biases of designs
    n, s = 100, np.geomspace(4.0, 0.25, 200)
    p, b = 1 / (0.5 * s + 0.5), s / s.sum()
    bias, _ = ib.bias_variance_monte_carlo(jax.random.key(5), n=n, cov_eigs=s,
                                           preconditioners=p[None], prior_eigs=b[None],
                                           noise=0.0, reps=40)
    bias = np.asarray(bias)[:, 0, 0]
    lim = ib.preconditioned_bias_limit(2.0, s, p, b)
    assert abs(bias.mean() - lim) < 4 * bias.std() / np.sqrt(40) + 3 / n * lim


def test_classification_validation():
    X, y = np.ones((3, 2)), np.array([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="y"):
        ib.max_margin_svm(X, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="X"):
        ib.max_margin_svm(np.zeros((3, 2)), y)
    with pytest.raises(ValueError, match="record_steps"):
        ib.logistic_gd(X, y, step_size=0.1, record_steps=np.array([3, 2]))
    with pytest.raises(ValueError, match="record_steps"):
        ib.logistic_gd(X, y, step_size=0.1, record_steps=np.array([1.5]))
    with pytest.raises(ValueError, match="step_size"):
        ib.logistic_gd(X, y, step_size=0.0, record_steps=np.array([1]))
    with pytest.raises(ValueError, match="w0"):
        ib.logistic_gd(X, y, step_size=0.1, record_steps=np.array([1]), w0=np.ones(3))
    with pytest.raises(ValueError, match="alpha"):
        ib.logistic_gd_offset(X, y, np.zeros(3), step_size=0.1)
    with pytest.raises(ValueError, match="alpha"):
        ib.logistic_gd_offset(X, y, np.ones(2), step_size=0.1)
    with pytest.raises(ValueError, match="prior_eigs"):
        ib.preconditioned_bias_limit(2.0, np.ones(3), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="gamma"):
        ib.preconditioned_bias_limit(1.0, np.ones(3), np.ones(3), np.ones(3))
