"""lib.introduction.gradient_descent: the ridge least-squares problem against autodiff and NumPy, the exact suboptimality,
the gradient-noise covariance against per-example autodiff gradients, the SGD limit constants
against the exact second-moment recursion, the vmapped SGD runs against lib.nets.train, the exact SGD moments against Monte Carlo and GD, the
first-passage counter, and input validation."""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import nets
from lib.introduction import gradient_descent as optim


pytestmark = pytest.mark.usefixtures("x64")


def _problem(n=40, d=5, ridge=0.1, seed=0):
    kx, ky = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(kx, (n, d)) * jnp.linspace(1.0, 0.3, d)
    y = X @ jnp.ones(d) + jax.random.normal(ky, (n,))
    return optim.least_squares(X, y, ridge=ridge)


def _per_example_loss(prob, th, x, y):
    return 0.5 * (x @ th - y) ** 2 + 0.5 * prob.ridge * th @ th


def test_least_squares_closed_forms():
    prob = _problem()
    X, y = np.asarray(prob.X), np.asarray(prob.y)
    n, d = X.shape
    H = X.T @ X / n + 0.1 * np.eye(d)
    np.testing.assert_allclose(prob.hessian, H, rtol=1e-12)
    np.testing.assert_allclose(prob.eigenvalues, np.linalg.eigvalsh(H), rtol=1e-12)
    np.testing.assert_allclose(prob.minimizer, np.linalg.solve(H, X.T @ y / n), rtol=1e-10)
    grad = jax.grad(partial(optim.loss, prob))(prob.minimizer)
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)
    np.testing.assert_allclose(jax.hessian(partial(optim.loss, prob))(prob.minimizer), H, rtol=1e-10)
    assert prob.min_value == pytest.approx(float(optim.loss(prob, prob.minimizer)), rel=1e-14)
    assert prob.smoothness == pytest.approx(np.linalg.eigvalsh(H)[-1])
    assert prob.strong_convexity == pytest.approx(np.linalg.eigvalsh(H)[0])
    assert prob.condition_number == pytest.approx(prob.smoothness / prob.strong_convexity)


def test_ridgeless_rank_deficient_problem_has_zero_mu_and_a_minimizer():
    X = jax.random.normal(jax.random.key(1), (3, 6))
    prob = optim.least_squares(X, jnp.ones(3), ridge=0.0)
    assert abs(prob.strong_convexity) < 1e-12
    np.testing.assert_allclose(jax.grad(partial(optim.loss, prob))(prob.minimizer), 0, atol=1e-12)
    with pytest.raises(ValueError, match="strongly convex"):
        optim.averaged_limit_constant(prob)


def test_loss_on_batches_and_suboptimality():
    prob = _problem(seed=2)
    ths = jax.random.normal(jax.random.key(3), (7, 5))
    per_example = jax.vmap(lambda x, y: _per_example_loss(prob, ths[0], x, y))(prob.X, prob.y)
    assert float(optim.loss(prob, ths[0])) == pytest.approx(float(per_example.mean()), rel=1e-13)
    idx = jnp.array([3, 3, 10])
    batch = (prob.X[idx], prob.y[idx])
    assert float(optim.loss(prob, ths[0], batch)) == pytest.approx(float(per_example[idx].mean()), rel=1e-13)
    sub = optim.suboptimality(prob, ths)               # batched over the leading axis
    assert sub.shape == (7,)
    direct = np.array([float(optim.loss(prob, t)) - float(prob.min_value) for t in ths])
    np.testing.assert_allclose(sub, direct, rtol=1e-9)


def test_gradient_noise_is_the_covariance_of_per_example_gradients():
    prob = _problem(seed=4)
    G = jax.vmap(jax.grad(lambda th, x, y: _per_example_loss(prob, th, x, y)),
                 in_axes=(None, 0, 0))(prob.minimizer, prob.X, prob.y)
    np.testing.assert_allclose(G.mean(axis=0), 0.0, atol=1e-12)           # ∇f(θ*) = 0
    np.testing.assert_allclose(optim.gradient_noise(prob), np.cov(np.asarray(G).T, bias=True),
                               rtol=1e-10, atol=1e-14)


def _second_moment_recursion(prob, schedule, T):
    """Exact iteration of v_{t+1} = (1 − η_t h)² v_t + η_t² s per eigen-direction from v_0 = 0,
    returning t · ½ Σ h v_t at t = T."""
    h, V = np.linalg.eigh(np.asarray(prob.hessian))
    s = np.diag(V.T @ np.asarray(optim.gradient_noise(prob)) @ V)

    def step(v, t):
        eta = schedule(t)
        return (1 - eta * h) ** 2 * v + eta ** 2 * s, None

    v, _ = jax.lax.scan(step, jnp.zeros_like(jnp.asarray(h)), jnp.arange(T))
    return T * 0.5 * float(jnp.sum(h * v))


def test_sgd_limit_constant_matches_the_second_moment_recursion():
    prob = _problem(seed=5)
    for factor in (1.0, 2.0, 4.0):
        c = factor / prob.strong_convexity
        t0 = c / 0.1
        got = _second_moment_recursion(prob, lambda t: c / (t + t0), 2 ** 21)
        assert got == pytest.approx(optim.sgd_limit_constant(prob, c), rel=0.01), factor


def test_sgd_limit_constant_requires_large_enough_c():
    prob = _problem(seed=6)
    with pytest.raises(ValueError, match="c must exceed"):
        optim.sgd_limit_constant(prob, 0.4 / prob.strong_convexity)
    with pytest.raises(ValueError, match="c"):
        optim.sgd_limit_constant(prob, -1.0)


def test_averaged_limit_constant_is_the_optimal_matrix_step_limit():
    prob = _problem(seed=7)
    H, S = np.asarray(prob.hessian), np.asarray(optim.gradient_noise(prob))
    assert optim.averaged_limit_constant(prob) == pytest.approx(0.5 * np.trace(np.linalg.solve(H, S)))
    # SGD with the matrix step H⁻¹/t has per-direction constant s_k/(2h_k) in f: summing gives ½ tr(H⁻¹S),
    # and no scalar c does better (the scalar constant is minimized at c h_k = 1 per direction).
    for c in np.geomspace(0.6, 20, 9) / prob.strong_convexity:
        assert optim.sgd_limit_constant(prob, c) >= optim.averaged_limit_constant(prob) * (1 - 1e-12)


def test_sgd_histories_match_nets_train_and_average():
    prob = _problem(seed=8)
    keys = jax.random.split(jax.random.key(9), 3)
    schedule = lambda t: 0.05 / (1 + t / 10) ** 0.6  # noqa: E731
    h = optim.sgd_histories(prob, keys, step_size=schedule, n_steps=40, record_every=8)
    assert h.shape == (3, 5)
    direct = nets.train(partial(optim.loss, prob), jnp.zeros(5), n_steps=40, step_size=schedule,
                        data=(prob.X, prob.y), batch_size=1, key=keys[1],
                        record_fn=partial(optim.suboptimality, prob), record_every=8)
    np.testing.assert_allclose(h[1], direct.history, rtol=1e-10)
    last, avg = optim.sgd_histories(prob, keys, step_size=schedule, n_steps=40, record_every=8,
                                    average=True)
    np.testing.assert_allclose(last, h, rtol=1e-10)
    assert avg.shape == (3, 5) and np.all(np.asarray(avg) > 0)


def test_sgd_histories_validation():
    prob = _problem()
    with pytest.raises(ValueError, match="keys"):
        optim.sgd_histories(prob, jnp.zeros((2, 2), jnp.uint32), step_size=0.1, n_steps=4,
                            record_every=1)
    with pytest.raises(ValueError, match="params0"):
        optim.sgd_histories(prob, jax.random.split(jax.random.key(0), 2), step_size=0.1,
                            n_steps=4, record_every=1, params0=jnp.zeros(3))
    with pytest.raises(ValueError, match="problem"):
        optim.sgd_histories("not a problem", jax.random.split(jax.random.key(0), 2),
                            step_size=0.1, n_steps=4, record_every=1)


def test_sgd_exact_mean_matches_monte_carlo():
    prob = _problem(n=20, d=3, seed=10)
    schedule = lambda t: 0.3 / (1 + t / 5) ** 0.6  # noqa: E731
    last, avg = optim.sgd_exact_mean(prob, step_size=schedule, n_steps=64, record_every=8)
    K = 20000
    mc = optim.sgd_histories(prob, jax.random.split(jax.random.key(11), K), step_size=schedule,
                             n_steps=64, record_every=8, average=True)
    for exact, h in zip((last, avg), mc):
        h = np.asarray(h)
        z = (h.mean(axis=0) - np.asarray(exact)) / (h.std(axis=0, ddof=1) / np.sqrt(K))
        assert np.all(np.abs(z) < 4.5), z        # 8 correlated points, 4.5 s.e. each


def test_sgd_exact_mean_with_one_example_is_gradient_descent():
    # n = 1: the stochastic gradient is the full gradient, so E f(θ_t) = f(θ_t) of GD, and the average
    # of the deterministic iterates gives f(θ̄_t) exactly.
    prob = optim.least_squares(jnp.array([[1.0, 2.0, -0.5]]), jnp.array([0.7]), ridge=0.3)
    th0 = jnp.array([1.0, -1.0, 2.0])
    last, avg = optim.sgd_exact_mean(prob, step_size=0.2, n_steps=12, record_every=1, params0=th0)
    th, path = th0, []
    for _ in range(12):
        th = th - 0.2 * jax.grad(partial(optim.loss, prob))(th)
        path.append(th)
    path = jnp.stack(path)
    bars = jnp.cumsum(path, axis=0) / jnp.arange(1, 13)[:, None]
    np.testing.assert_allclose(last, optim.suboptimality(prob, path), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(avg, optim.suboptimality(prob, bars), rtol=1e-10, atol=1e-15)


def test_sgd_exact_mean_validation():
    prob = _problem()
    with pytest.raises(ValueError, match="n_steps"):
        optim.sgd_exact_mean(prob, step_size=0.1, n_steps=10, record_every=3)
    with pytest.raises(ValueError, match="step_size"):
        optim.sgd_exact_mean(prob, step_size=-0.1, n_steps=4, record_every=1)
    with pytest.raises(ValueError, match="params0"):
        optim.sgd_exact_mean(prob, step_size=0.1, n_steps=4, record_every=1, params0=jnp.zeros(2))
    with pytest.raises(ValueError, match="problem"):
        optim.sgd_exact_mean(None, step_size=0.1, n_steps=4, record_every=1)


def test_steps_to_reach():
    h = np.array([5.0, 3.0, 4.0, 1.0, 0.5])
    np.testing.assert_array_equal(optim.steps_to_reach(h, [4.5, 3.0, 1.0, 0.1]), [2, 2, 4, np.inf])
    assert optim.steps_to_reach(h, 0.6, record_every=10) == 50
    assert optim.steps_to_reach(h, np.array(10.0)).shape == ()
    with pytest.raises(ValueError, match="eps"):
        optim.steps_to_reach(h, 0.0)
    with pytest.raises(ValueError, match="history"):
        optim.steps_to_reach(np.ones((2, 2)), 0.1)
    with pytest.raises(ValueError, match="record_every"):
        optim.steps_to_reach(h, 0.1, record_every=0)


@pytest.mark.parametrize("args, name", [
    ((jnp.ones(4), jnp.ones(4), 0.1), "X"),
    ((jnp.ones((4, 2)), jnp.ones(3), 0.1), "X and y"),
    ((jnp.ones((4, 2)), jnp.ones((4, 1)), 0.1), "y"),
    ((jnp.ones((4, 2)), jnp.ones(4), -0.1), "ridge"),
    ((jnp.full((4, 2), jnp.nan), jnp.ones(4), 0.1), "X"),
])
def test_least_squares_validation(args, name):
    X, y, ridge = args
    with pytest.raises(ValueError, match=name):
        optim.least_squares(X, y, ridge=ridge)


def test_params_shape_is_checked():
    prob = _problem()
    with pytest.raises(ValueError, match="params"):
        optim.suboptimality(prob, jnp.zeros(3))
    with pytest.raises(ValueError, match="problem"):
        optim.loss(None, jnp.zeros(5))
