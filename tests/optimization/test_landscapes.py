"""lib.optimization.landscapes: Hessian eigenvalues and critical points of closed-form toy losses, power iteration
against a dense Hessian, Gaussian smoothing against the closed form for quadratics and cosines,
local-minimum counting against a NumPy loop, the first sign change of f′ against brentq, noisy GD against a Python loop and its Monte-Carlo
mean, graduated descent, paths (end points, linearity, lifting path), and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.optimization import landscapes as L
from lib import nets

pytestmark = pytest.mark.usefixtures("x64")


def double_well(p):
    x, y = p
    return x ** 4 / 4 - x ** 2 / 2 + y ** 2 / 2


def monkey(p):
    x, y = p
    return x ** 3 - 3 * x * y ** 2


def test_hessian_eigenvalues_and_classification_closed_forms():
    np.testing.assert_allclose(L.hessian_eigenvalues(double_well, jnp.zeros(2)), [-1, 1], atol=1e-12)
    np.testing.assert_allclose(L.hessian_eigenvalues(double_well, jnp.array([1.0, 0.0])), [1, 2],
                               atol=1e-12)
    assert L.classify_critical_point(jnp.array([-1.0, 1.0])) == "saddle"
    assert L.classify_critical_point(jnp.array([1.0, 2.0])) == "minimum"
    assert L.classify_critical_point(jnp.array([-1.0, -2.0])) == "maximum"
    assert L.classify_critical_point(L.hessian_eigenvalues(monkey, jnp.zeros(2))) == "degenerate"
    assert L.classify_critical_point(jnp.array([0.0, 1.0])) == "degenerate"


def test_critical_points_of_the_double_well():
    starts = jax.random.uniform(jax.random.key(0), (64, 2), minval=-2, maxval=2)
    pts = np.asarray(L.critical_points(double_well, starts))
    np.testing.assert_allclose(pts, [[-1, 0], [0, 0], [1, 0]], atol=1e-8)
    mk = np.asarray(L.critical_points(monkey, starts, n_iter=80))
    assert mk.shape == (1, 2) and np.abs(mk).max() < 1e-6


def test_power_iteration_matches_dense_hessian():
    key = jax.random.key(1)
    X = jax.random.normal(key, (10, 3))
    y = jnp.sin(X[:, 0])
    params = nets.init_mlp(jax.random.key(2), [3, 4, 1], b_std=1.0)
    loss = lambda p: 0.5 * jnp.mean((nets.apply_mlp(p, X, activation="tanh", b_std=1.0)[:, 0]
                                     - y) ** 2)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    eigs = np.linalg.eigvalsh(np.asarray(jax.jit(jax.hessian(lambda z: loss(unravel(z))))(flat)))
    top = eigs[np.argmax(np.abs(eigs))]
    lam = float(L.top_hessian_eigenvalue(loss, params, jax.random.key(3), n_iter=300))
    assert lam == pytest.approx(top, rel=1e-6)


def test_gaussian_smoothing_closed_forms():
    xs = jnp.linspace(-2, 2, 9)
    s = 0.3
    quad = L.gaussian_smoothing(lambda x: x ** 2, s)
    np.testing.assert_allclose(quad(xs), xs ** 2 + s ** 2, rtol=1e-12)
    om = 7.0
    cos_s = L.gaussian_smoothing(jnp.cos, s)
    np.testing.assert_allclose(cos_s(om * xs / om), np.exp(-s ** 2 / 2) * np.cos(xs), atol=1e-12)
    wave = L.gaussian_smoothing(lambda x: jnp.cos(om * x), s)
    np.testing.assert_allclose(wave(xs), np.exp(-(om * s) ** 2 / 2) * np.cos(om * xs), atol=1e-10)
    np.testing.assert_allclose(L.gaussian_smoothing(jnp.sin, 0.0)(xs), jnp.sin(xs), atol=1e-14)
    # traceable width: the derivative in s of E cos(x + sZ) is -s e^{-s²/2} cos x
    d = jax.grad(lambda w: L.gaussian_smoothing(jnp.cos, w)(0.4))(s)
    assert float(d) == pytest.approx(-s * np.exp(-s ** 2 / 2) * np.cos(0.4), rel=1e-10)


def test_gaussian_smooth_grid_against_closed_form_and_edges():
    h, om = 0.002, 10.0
    xs = jnp.arange(-4, 4 + h / 2, h)
    widths = jnp.array([0.0, 0.05, 0.2])
    out = L.gaussian_smooth_grid(jnp.cos(om * xs) + xs ** 2, spacing=h, width=widths)
    assert out.shape == (3, xs.shape[0])
    inner = np.abs(np.asarray(xs)) <= 2.5
    for k, s in enumerate(np.asarray(widths)):
        exact = np.exp(-(om * s) ** 2 / 2) * np.cos(om * xs) + xs ** 2 + s ** 2
        np.testing.assert_allclose(np.asarray(out[k])[inner], np.asarray(exact)[inner], atol=1e-6)
    # constants are preserved everywhere, including the edges
    const = L.gaussian_smooth_grid(jnp.full(301, 2.5), spacing=0.01, width=0.3)
    np.testing.assert_allclose(const, 2.5, rtol=1e-12)
    two_rows = L.gaussian_smooth_grid(jnp.stack([xs, -xs]), spacing=h, width=0.1)
    assert two_rows.shape == (2, xs.shape[0])


def _count_numpy(v):
    s = np.sign(np.diff(v))
    last, out = 0, []
    for si in s:
        last = si if si != 0 else last
        out.append(last)
    return sum(1 for a, b in zip(out[:-1], out[1:]) if a < 0 and b > 0)


def test_count_local_minima():
    xs = np.linspace(-3, 3, 2001)
    assert int(L.count_local_minima(np.cos(5 * xs))) == _count_numpy(np.cos(5 * xs)) == 4
    assert int(L.count_local_minima(jnp.array([3.0, 1.0, 1.0, 1.0, 3.0]))) == 1   # plateau
    assert int(L.count_local_minima(jnp.array([3.0, 1.0, 1.0, 0.0, 3.0]))) == 1   # shelf
    assert int(L.count_local_minima(jnp.array([0.0, 1.0, 2.0]))) == 0             # end point
    rng = np.random.default_rng(0)
    V = rng.integers(0, 3, size=(50, 30)).astype(float)
    np.testing.assert_array_equal(L.count_local_minima(V), [_count_numpy(r) for r in V])


def test_first_downcrossing_against_closed_form_and_brentq(dtype):
    from scipy.optimize import brentq
    # cos changes sign + -> - at pi/2: the returned grid point is the first one past it
    x = L.first_downcrossing(jnp.cos, 0.0, 3.0, num=3001)
    assert np.pi / 2 <= x + 1e-6 and x - np.pi / 2 <= 1e-3 + 1e-6
    # the first local maximum right of 0 of f = x^2/2 + a(1 - cos 10x), a root of f' found by brentq
    fp = lambda t: t + 0.3 * 10 * jnp.sin(10 * t)                  # noqa: E731
    fp_np = lambda t: t + 3.0 * np.sin(10 * t)                     # noqa: E731
    root = brentq(fp_np, 0.2, 0.4)
    x = L.first_downcrossing(fp, 0.0, 1.0, num=100001)
    assert 0.0 <= x - root <= 1e-5 + 1e-6
    with pytest.raises(ValueError, match="no negative"):
        L.first_downcrossing(lambda t: t ** 2, 0.0, 1.0)


def test_noisy_gd_matches_python_loop_and_plain_gd():
    grad = jax.grad(lambda x: jnp.sum(x ** 4 / 4 - x ** 2 / 2))
    x0 = jnp.array([[0.3, -0.2], [1.5, 0.1]])
    res = L.noisy_gd(grad, x0, step_size=0.1, n_steps=20, record_every=5)
    x = np.asarray(x0)
    traj = []
    for t in range(20):
        x = x - 0.1 * (x ** 3 - x)
        if (t + 1) % 5 == 0:
            traj.append(x.copy())
    np.testing.assert_allclose(res.final, x, rtol=1e-12)
    np.testing.assert_allclose(res.trajectory, np.stack(traj), rtol=1e-12)
    # per-run step sizes; annealing with A steps: eta_t = eta (n - t)/A on the last A steps
    res2 = L.noisy_gd(lambda x: x, jnp.ones((2, 1)), step_size=jnp.array([0.1, 0.2]), n_steps=4,
                      anneal_steps=2)
    expect = [(1 - 0.1) ** 2 * (1 - 0.1) * (1 - 0.05), (1 - 0.2) ** 2 * (1 - 0.2) * (1 - 0.1)]
    np.testing.assert_allclose(res2.final[:, 0], expect, rtol=1e-12)


def test_noisy_gd_on_a_quadratic_has_the_ou_stationary_variance():
    # x <- x - eta (lam x + sigma xi): stationary variance eta sigma^2 / (lam (2 - eta lam))
    lam, eta, sig, m = 1.0, 0.2, 1.0, 4000
    res = L.noisy_gd(lambda x: lam * x, jnp.zeros((m,)), step_size=eta, noise_std=sig,
                     n_steps=200, key=jax.random.key(0))
    var = eta * sig ** 2 / (lam * (2 - eta * lam))
    se = var * np.sqrt(2 / m)
    assert float(jnp.var(res.final)) == pytest.approx(var, abs=5 * se)
    assert abs(float(jnp.mean(res.final))) < 5 * np.sqrt(var / m)
    # the second-half average of a stationary OU run concentrates at the minimum
    assert float(jnp.std(res.average)) < 0.5 * np.sqrt(var)


def test_graduated_descent_reaches_the_global_minimum_of_a_rippled_bowl():
    f = lambda x: 0.5 * x ** 2 + 0.5 * (1 - jnp.cos(10 * x))
    grad = lambda x, s: jax.grad(L.gaussian_smoothing(f, s))(x)
    x0 = jnp.linspace(-2, 2, 11)
    plain = L.noisy_gd(jax.grad(f), x0, step_size=0.01, n_steps=2000).final
    grad_res = L.graduated_descent(grad, x0, jnp.array([0.5, 0.3, 0.2, 0.1, 0.0]), step_size=0.01,
                                   n_steps=500)
    assert np.mean(np.abs(np.asarray(plain)) < 1e-3) < 0.5
    np.testing.assert_allclose(grad_res.final, 0.0, atol=1e-4)
    assert grad_res.trajectory.shape == (5, 11)


def test_paths_and_barrier():
    p0 = {"a": jnp.zeros(3), "b": (jnp.ones(2),)}
    p1 = {"a": jnp.ones(3), "b": (jnp.zeros(2),)}
    p2 = {"a": 2 * jnp.ones(3), "b": (jnp.ones(2),)}
    mid = L.polyline([p0, p1, p2], 0.25)
    np.testing.assert_allclose(mid["a"], 0.5)
    np.testing.assert_allclose(mid["b"][0], 0.5)
    end = L.polyline([p0, p1, p2], 1.0)
    np.testing.assert_allclose(end["a"], 2.0)
    loss = lambda p: jnp.sum(p["a"] ** 2) + jnp.sum(p["b"][0] ** 2)
    prof = L.path_losses(loss, [p0, p2], 5)
    np.testing.assert_allclose(prof.t, [0, 0.25, 0.5, 0.75, 1])
    expected = [3 * (2 * t) ** 2 + 2 * (1.0) ** 2 for t in np.asarray(prof.t)]
    np.testing.assert_allclose(prof.loss, expected, rtol=1e-12)
    assert float(L.barrier(jnp.array([1.0, 3.0, 2.0]))) == 1.0
    assert float(L.barrier(jnp.array([1.0, 0.5, 2.0]))) == 0.0
    ts = jnp.linspace(0, 1, 5)
    assert float(L.mean_path_loss(loss, [p0, p2], ts)) == pytest.approx(float(prof.loss.mean()))


def test_lifting_path_is_zero_for_wide_features_and_positive_for_narrow():
    key = jax.random.key(4)
    n = 6
    X = jax.random.normal(key, (n, 2))
    y = jnp.sin(3 * X[:, 0])
    feats = lambda W: jnp.tanh(X @ W)
    for width, wide in ((12, True), (2, False)):
        W0 = jax.random.normal(jax.random.key(5), (2, width))
        W1 = jax.random.normal(jax.random.key(6), (2, width))
        a0 = jnp.linalg.pinv(feats(W0)) @ y + 0.1
        a1 = jnp.linalg.pinv(feats(W1)) @ y
        prof = L.lifting_path(feats, W0, a0, W1, a1, y, n_points=11)
        assert prof.loss.shape == (33,) and prof.t.shape == (33,)
        first = 0.5 * np.mean((np.asarray(feats(W0) @ a0) - np.asarray(y)) ** 2)
        assert float(prof.loss[0]) == pytest.approx(first, rel=1e-10)
        if wide:
            assert float(jnp.max(prof.loss[11:])) < 1e-12
        else:
            assert float(jnp.min(prof.loss[11:22])) > 1e-4


def test_validation():
    with pytest.raises(ValueError, match="x"):
        L.hessian_eigenvalues(double_well, jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="eigenvalues"):
        L.classify_critical_point(jnp.array([jnp.nan, 1.0]))
    with pytest.raises(ValueError, match="starts"):
        L.critical_points(double_well, jnp.zeros(2))
    with pytest.raises(ValueError, match="width"):
        L.gaussian_smoothing(jnp.cos, -1.0)
    with pytest.raises(ValueError, match="width"):
        L.gaussian_smooth_grid(jnp.zeros(10), spacing=0.1, width=[-0.1])
    with pytest.raises(ValueError, match="spacing"):
        L.gaussian_smooth_grid(jnp.zeros(10), spacing=0.0, width=0.1)
    with pytest.raises(ValueError, match="values"):
        L.count_local_minima(jnp.zeros(2))
    with pytest.raises(ValueError, match="hi"):
        L.first_downcrossing(jnp.cos, 1.0, 1.0)
    with pytest.raises(ValueError, match="fn\\(lo\\)"):
        L.first_downcrossing(jnp.cos, 2.0, 3.0)
    with pytest.raises(ValueError, match="num"):
        L.first_downcrossing(jnp.cos, 0.0, 1.0, num=1)
    with pytest.raises(ValueError, match="key"):
        L.noisy_gd(lambda x: x, jnp.zeros((2, 1)), step_size=0.1, n_steps=5, noise_std=1.0)
    with pytest.raises(ValueError, match="step_size"):
        L.noisy_gd(lambda x: x, jnp.zeros((2, 1)), step_size=jnp.array([0.1, 0.1, 0.1]), n_steps=5)
    with pytest.raises(ValueError, match="noise_std"):
        L.noisy_gd(lambda x: x, jnp.zeros((2, 1)), step_size=0.1, n_steps=5, noise_std=-1.0,
                   key=jax.random.key(0))
    with pytest.raises(ValueError, match="anneal_steps"):
        L.noisy_gd(lambda x: x, jnp.zeros((2, 1)), step_size=0.1, n_steps=5, anneal_steps=6)
    with pytest.raises(ValueError, match="record_every"):
        L.noisy_gd(lambda x: x, jnp.zeros((2, 1)), step_size=0.1, n_steps=5, record_every=2)
    with pytest.raises(ValueError, match="widths"):
        L.graduated_descent(lambda x, s: x, jnp.zeros(3), jnp.array([-0.1]), step_size=0.1,
                            n_steps=2)
    with pytest.raises(ValueError, match="nodes"):
        L.polyline([jnp.zeros(2)], 0.5)
    with pytest.raises(ValueError, match="losses"):
        L.barrier(jnp.zeros(1))
    with pytest.raises(ValueError, match="features"):
        L.lifting_path(lambda W: jnp.zeros((3, 2)), jnp.zeros(1), jnp.zeros(4), jnp.zeros(1),
                       jnp.zeros(4), jnp.zeros(3))
    with pytest.raises(ValueError, match="key"):
        L.top_hessian_eigenvalue(lambda p: jnp.sum(p ** 2), jnp.zeros(2), 3)
