"""lib.expressivity.adaptivity_besov (tuned kernel ridge, O(n) Laplace smoother, early-stopped ReLU
nets, Haar coefficients, k-NN on a curve and its risk model, exact least squares over step functions
against brute force over all cuts), the chapter-1.5 targets of lib.data,
and lib.stats.bootstrap_power_law — against closed forms, direct NumPy computations, Monte Carlo
and lib.ridgeless.kernel_ridge."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import data, kernels, ridgeless
from lib.expressivity import adaptivity_besov as es
from lib.stats import bootstrap_power_law


pytestmark = pytest.mark.usefixtures("x64")


def _rng_points(seed, n, d):
    return jnp.asarray(np.random.default_rng(seed).uniform(size=(n, d)))


# ---------------------------------------------------------------- kernel ridge over a grid

@pytest.mark.parametrize("kernel,d", [("gaussian", 2), ("laplace", 3), ("laplace", 1)])
def test_tuned_kernel_ridge_matches_kernel_ridge_on_every_grid_point(kernel, d):
    rng = np.random.default_rng(3)
    x, xv, xq = (jnp.asarray(rng.uniform(size=(m, d))) for m in (40, 15, 9))
    y = jnp.sin(4 * x.sum(1)) + 0.1 * jnp.asarray(rng.normal(size=40))
    yv = jnp.sin(4 * xv.sum(1))
    bws, lams = jnp.array([0.2, 0.6]), jnp.array([1e-4, 1e-2, 1e-1])
    res = es.tuned_kernel_ridge(x, y, xv, yv, xq, bandwidths=bws, lams=lams, kernel=kernel)
    kfn = kernels.gaussian_kernel if kernel == "gaussian" else kernels.laplace_kernel
    expected = np.zeros((2, 3))
    for i, bw in enumerate(bws):
        for j, lam in enumerate(lams):
            K = kfn(x, x, bandwidth=float(bw))
            pv = ridgeless.kernel_ridge(K, y, kfn(xv, x, bandwidth=float(bw)), float(lam))
            expected[i, j] = float(jnp.mean((pv - yv) ** 2))
    np.testing.assert_allclose(res.val_mse, expected, rtol=1e-7)
    i, j = np.unravel_index(np.argmin(expected), expected.shape)
    assert (res.bandwidth, res.lam) == (float(bws[i]), float(lams[j]))
    K = kfn(x, x, bandwidth=res.bandwidth)
    np.testing.assert_allclose(
        res.pred, ridgeless.kernel_ridge(K, y, kfn(xq, x, bandwidth=res.bandwidth), res.lam),
        rtol=1e-7, atol=1e-10)


def test_tuned_kernel_ridge_validation():
    x, y = _rng_points(0, 10, 1), jnp.zeros(10)
    ok = dict(bandwidths=jnp.array([0.1]), lams=jnp.array([0.1]))
    with pytest.raises(ValueError, match="lams"):
        es.tuned_kernel_ridge(x, y, x, y, x, bandwidths=jnp.array([0.1]), lams=jnp.array([0.0]))
    with pytest.raises(ValueError, match="bandwidths"):
        es.tuned_kernel_ridge(x, y, x, y, x, bandwidths=jnp.array([-1.0]), lams=jnp.array([0.1]))
    with pytest.raises(ValueError, match="kernel"):
        es.tuned_kernel_ridge(x, y, x, y, x, kernel="cosine", **ok)
    with pytest.raises(ValueError, match="x and y"):
        es.tuned_kernel_ridge(x, y[:5], x, y, x, **ok)
    with pytest.raises(ValueError, match="x and x_query"):
        es.tuned_kernel_ridge(x, y, x, y, _rng_points(0, 4, 2), **ok)


# ---------------------------------------------------------------- O(n) Laplace smoother

def test_laplace_smoother_equals_kernel_ridge_with_ties():
    rng = np.random.default_rng(7)
    x = rng.uniform(size=(200, 1))
    x[10] = x[20]                                       # tied inputs must be handled exactly
    x = jnp.asarray(x)
    y = jnp.asarray(np.sign(x[:, 0] - 0.4) + 0.3 * rng.normal(size=200))
    xe = jnp.concatenate([jnp.asarray(rng.uniform(-0.1, 1.1, size=(30, 1))), x[:5]])
    lams = jnp.array([1e-5, 1e-3, 1e-1])
    pred = es.laplace_kernel_ridge_1d(x, y, xe, bandwidth=0.25, lams=lams)
    K, Ke = kernels.laplace_kernel(x, x, bandwidth=0.25), kernels.laplace_kernel(xe, x, bandwidth=0.25)
    for j, lam in enumerate(lams):
        np.testing.assert_allclose(pred[j], ridgeless.kernel_ridge(K, y, Ke, float(lam)),
                                   rtol=1e-7, atol=1e-8)


def test_laplace_smoother_validation():
    x = _rng_points(0, 5, 2)
    with pytest.raises(ValueError, match="one column"):
        es.laplace_kernel_ridge_1d(x, jnp.zeros(5), x, bandwidth=1.0, lams=jnp.array([0.1]))
    x = _rng_points(0, 5, 1)
    with pytest.raises(ValueError, match="lams"):
        es.laplace_kernel_ridge_1d(x, jnp.zeros(5), x, bandwidth=1.0, lams=jnp.array([-0.1]))


# ---------------------------------------------------------------- trained nets

def test_init_through_data_puts_kinks_on_data_points():
    x = _rng_points(0, 20, 1)
    params = es.init_through_data(jax.random.key(1), [1, 16, 8, 1], x)
    W0, b0 = params[0]
    kinks = np.asarray(-b0 / W0[0])
    assert all(np.min(np.abs(np.asarray(x[:, 0]) - t)) < 1e-12 for t in kinks)
    assert all(float(jnp.max(jnp.abs(b))) == 0.0 for _, b in params[1:])
    with pytest.raises(ValueError, match="columns"):
        es.init_through_data(jax.random.key(1), [2, 4, 1], x)


def _regression_sets(k, n, seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.uniform(-1, 1, size=(k, n, 1)))
    return x, jnp.abs(x[..., 0]) + 0.01 * jnp.asarray(rng.normal(size=(k, n)))


def test_fit_relu_nets_stacked_equals_separate_run_and_early_stops_at_argmin():
    x, y = _regression_sets(2, 30)
    xv, yv = _regression_sets(2, 10, seed=1)
    xq = jnp.linspace(-1, 1, 7)[:, None]
    kw = dict(hidden=[8, 8], n_steps=200, step_size=es.cosine_schedule(1e-2, 200), record_every=20)
    both = es.fit_relu_nets(jax.random.key(0), x, y, xv, yv, xq, **kw)
    first = es.fit_relu_nets(jax.random.key(0), x[:1], y[:1], xv[:1], yv[:1], xq, **kw)
    np.testing.assert_allclose(both.pred[0], first.pred[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(both.val_mse[:, 0], first.val_mse[:, 0], rtol=1e-10)
    assert list(both.best_step) == [int(both.steps[np.argmin(both.val_mse[:, i])]) for i in range(2)]
    assert both.pred.shape == both.final.shape == (2, 7)


def test_fit_relu_nets_padded_with_mask_equals_unpadded_run():
    x, y = _regression_sets(2, 30)
    xv, yv = _regression_sets(2, 10, seed=1)
    xq = jnp.linspace(-1, 1, 7)[:, None]
    kw = dict(hidden=[8, 8], n_steps=200, step_size=es.cosine_schedule(1e-2, 200), record_every=20,
              weight_decay=1e-3)
    small = es.fit_relu_nets(jax.random.key(3), x[:, :20], y[:, :20], xv[:, :6], yv[:, :6], xq, **kw)
    # padding with arbitrary values (the rest of the sets) must not change anything
    mask = jnp.concatenate([jnp.ones((2, 20)), jnp.zeros((2, 10))], axis=1)
    val_mask = jnp.concatenate([jnp.ones((2, 6)), jnp.zeros((2, 4))], axis=1)
    padded = es.fit_relu_nets(jax.random.key(3), x, y, xv, yv, xq, mask=mask, val_mask=val_mask, **kw)
    np.testing.assert_allclose(padded.pred, small.pred, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(padded.final, small.final, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(padded.val_mse, small.val_mse, rtol=1e-10)
    # the selected checkpoint's predictions equal a direct evaluation of the recorded minimum
    assert list(padded.best_step) == list(small.best_step)
    # padded rows whose predictions overflow to inf must not turn the loss or its gradient into NaN
    huge, huge_v = x.at[:, 20:].set(1e300), xv.at[:, 6:].set(1e300)
    overflow = es.fit_relu_nets(jax.random.key(3), huge, y, huge_v, yv, xq, mask=mask, val_mask=val_mask, **kw)
    np.testing.assert_allclose(overflow.val_mse, small.val_mse, rtol=1e-10)
    np.testing.assert_allclose(overflow.pred, small.pred, rtol=1e-10, atol=1e-12)


def test_fit_relu_nets_zero_padded_inputs_with_in_dims_equal_unpadded_runs():
    rng = np.random.default_rng(5)
    dims = [1, 3, 2]
    x_full, xv_full = (jnp.asarray(rng.uniform(-1, 1, size=(3, m, 3))) for m in (30, 10))
    keep = lambda a: a * (np.arange(3)[None, None, :] < np.array(dims)[:, None, None])  # noqa: E731
    x, xv = keep(x_full), keep(xv_full)                      # net i sees d_i columns, zeros after
    y, yv = jnp.sin(x_full.sum(axis=2)), jnp.sin(xv_full.sum(axis=2))
    xq = jnp.asarray(rng.uniform(-1, 1, size=(7, 3)))
    kw = dict(hidden=[8, 8], n_steps=200, step_size=es.cosine_schedule(1e-2, 200), record_every=20,
              weight_decay=1e-3)
    padded = es.fit_relu_nets(jax.random.key(4), x, y, xv, yv, xq, in_dims=dims, **kw)
    for m in sorted(set(dims)):
        # net i of a run on the first m columns of every set has net i's key and init
        alone = es.fit_relu_nets(jax.random.key(4), x_full[:, :, :m], y, xv_full[:, :, :m], yv,
                                 xq[:, :m], **kw)
        for i in np.flatnonzero(np.array(dims) == m):
            np.testing.assert_allclose(padded.pred[i], alone.pred[i], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(padded.val_mse[:, i], alone.val_mse[:, i], rtol=1e-9)
    with pytest.raises(ValueError, match="in_dims"):
        es.fit_relu_nets(jax.random.key(4), x_full, y, xv_full, yv, xq, in_dims=dims, **kw)
    with pytest.raises(ValueError, match="in_dims"):
        es.fit_relu_nets(jax.random.key(4), x, y, xv, yv, xq, in_dims=[1, 4, 2], **kw)
    # one non-zero entry in one padded column is enough, in the training or the validation inputs
    with pytest.raises(ValueError, match=r"columns 2\.\. of x\[2\]"):
        es.fit_relu_nets(jax.random.key(4), x, y, xv.at[2, 4, 2].set(0.5), yv, xq, in_dims=dims, **kw)
    with pytest.raises(ValueError, match=r"columns 1\.\. of x\[0\]"):
        es.fit_relu_nets(jax.random.key(4), x.at[0, 7, 2].set(-1e-30), y, xv, yv, xq, in_dims=dims, **kw)


def test_fit_relu_nets_mask_validation():
    x, y = _regression_sets(2, 10)
    xq = jnp.zeros((3, 1))
    kw = dict(hidden=[4], n_steps=10, step_size=1e-2, record_every=5)
    with pytest.raises(ValueError, match="mask must have shape"):
        es.fit_relu_nets(jax.random.key(0), x, y, x, y, xq, mask=jnp.ones((2, 9)), **kw)
    with pytest.raises(ValueError, match="val_mask"):
        es.fit_relu_nets(jax.random.key(0), x, y, x, y, xq, val_mask=jnp.zeros((2, 10)), **kw)
    with pytest.raises(ValueError, match="mask"):
        es.fit_relu_nets(jax.random.key(0), x, y, x, y, xq, mask=jnp.full((2, 10), 0.5), **kw)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_step_quadrature_exact_for_piecewise_quintics(dtype):
    loc = jnp.asarray([0.2, 0.45, 0.71], dtype)
    nodes, weights = es.step_quadrature(loc, 7)
    assert nodes.dtype == weights.dtype == dtype
    assert abs(float(jnp.sum(weights)) - 1.0) < 1e-6
    # g = x^5 on [0.45, 0.71), 3x^4 − 1 elsewhere: exact integral from the antiderivatives
    g = jnp.where((nodes >= 0.45) & (nodes < 0.71), nodes ** 5, 3 * nodes ** 4 - 1)
    exact = (0.71 ** 6 - 0.45 ** 6) / 6 + (0.45 ** 5 * 3 / 5 - 0.45) + (0.6 - 1 - (0.71 ** 5 * 3 / 5 - 0.71))
    tol = 1e-6 if dtype == jnp.float32 else 1e-13
    assert abs(float(jnp.sum(weights * g)) - exact) < tol
    # (f − f°)² with f linear and f° a step: the L² error of a line against the step is exact
    f = 0.3 + 0.5 * nodes
    step = data.step_function(nodes.astype(jnp.float64), loc.astype(jnp.float64),
                              jnp.asarray([1.0, -1.5, 1.0]))
    direct = 0.0
    for a, b, c in [(0, 0.2, 0.0), (0.2, 0.45, 1.0), (0.45, 0.71, -0.5), (0.71, 1.0, 0.5)]:
        direct += ((0.3 + 0.5 * b - c) ** 3 - (0.3 + 0.5 * a - c) ** 3) / 1.5
    assert abs(float(jnp.sum(weights * (f - step) ** 2)) - direct) < 10 * tol


def test_step_quadrature_validation():
    with pytest.raises(ValueError, match="locations"):
        es.step_quadrature(jnp.array([0.0, 0.5]), 8)
    with pytest.raises(ValueError, match="n_cells"):
        es.step_quadrature(jnp.array([0.5]), 0)


def test_fit_relu_nets_learns_and_weight_decay_shrinks():
    x, y = _regression_sets(1, 200)
    xq = jnp.linspace(-1, 1, 101)[:, None]
    kw = dict(hidden=[16], n_steps=1500, step_size=1e-2, record_every=100)
    fit = es.fit_relu_nets(jax.random.key(2), x, y, x, y, xq, **kw)
    assert float(jnp.mean((fit.final[0] - jnp.abs(xq[:, 0])) ** 2)) < 1e-3
    big = es.fit_relu_nets(jax.random.key(2), x, y, x, y, xq, weight_decay=1.0, **kw)
    assert float(jnp.var(big.final[0])) < float(jnp.var(fit.final[0]))


def test_fit_relu_nets_validation():
    x, y = _regression_sets(2, 10)
    xq = jnp.zeros((3, 1))
    kw = dict(hidden=[4], n_steps=10, step_size=1e-2, record_every=5)
    with pytest.raises(ValueError, match="y must have shape"):
        es.fit_relu_nets(jax.random.key(0), x, y[:, :5], x, y, xq, **kw)
    with pytest.raises(ValueError, match="x_val"):
        es.fit_relu_nets(jax.random.key(0), x, y, x[:1], y[:1], xq, **kw)
    with pytest.raises(ValueError, match="hidden"):
        es.fit_relu_nets(jax.random.key(0), x, y, x, y, xq, **{**kw, "hidden": []})
    with pytest.raises(ValueError, match="weight_decay"):
        es.fit_relu_nets(jax.random.key(0), x, y, x, y, xq, weight_decay=-1.0, **kw)


def test_cosine_schedule_endpoints():
    sched = es.cosine_schedule(0.1, 100, floor=0.01)
    np.testing.assert_allclose(float(sched(0)), 0.1 * 1.01)
    np.testing.assert_allclose(float(sched(100)), 0.1 * 0.01, atol=1e-15)
    with pytest.raises(ValueError, match="peak"):
        es.cosine_schedule(0.0, 10)


# ---------------------------------------------------------------- Haar coefficients

def test_haar_parseval_and_single_jump():
    g = np.random.default_rng(0).normal(size=64)
    h = es.haar_coefficients(g)
    assert [b.size for b in h.details] == [2 ** j for j in range(6)]
    np.testing.assert_allclose(h.scaling ** 2 + sum(np.sum(b ** 2) for b in h.details),
                               np.mean(g ** 2), rtol=1e-12)
    # 1{x ≥ 5/16} on 16 cells: at level j the only non-zero coefficient is on the interval
    # containing 5/16, equal to 2^{-j/2}(m_left − m_right)/2.
    step = (np.arange(16) >= 5).astype(float)
    h = es.haar_coefficients(step)
    for j, b in enumerate(h.details):
        k = int(5 / 16 * 2 ** j)
        left = (np.arange(16) + 0.5) / 16
        lo, mid, hi = k / 2 ** j, (k + 0.5) / 2 ** j, (k + 1) / 2 ** j
        m_l = step[(left >= lo) & (left < mid)].mean()
        m_r = step[(left >= mid) & (left < hi)].mean()
        expected = np.zeros(2 ** j)
        expected[k] = 2 ** (-j / 2) * (m_l - m_r) / 2
        np.testing.assert_allclose(b, expected, atol=1e-15)
    with pytest.raises(ValueError, match="power-of-two"):
        es.haar_coefficients(np.ones(12))


# ---------------------------------------------------------------- chapter-1.5 targets in lib.data

def test_step_function_and_blocks():
    x = jnp.array([0.0, 0.2, 0.449, 0.45, 0.99])
    np.testing.assert_allclose(data.step_function(x, jnp.array([0.2, 0.45]), jnp.array([1.0, -3.0])),
                               [0, 1, 1, -2, -2])
    b = data.blocks(jnp.array([0.05, 0.11, 0.99]))
    np.testing.assert_allclose(b, [0.0, 4.0, sum(data.BLOCKS_HEIGHTS)], atol=1e-12)
    with pytest.raises(ValueError, match="heights"):
        data.step_function(x, jnp.array([0.2]), jnp.array([1.0, 2.0]))


def test_doppler_formula():
    x = jnp.linspace(0, 1, 11)
    xn = np.asarray(x)
    np.testing.assert_allclose(data.doppler(x), np.sqrt(xn * (1 - xn))
                               * np.sin(2 * np.pi * 1.05 / (xn + 0.05)), atol=1e-12)


def test_kinked_ridge_depends_on_one_direction():
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.normal(size=5))
    x = jnp.asarray(rng.normal(size=(20, 5)))
    u = w / jnp.linalg.norm(w)
    t = x @ u
    np.testing.assert_allclose(data.kinked_ridge(x, 3 * w),
                               jax.nn.relu(t) - 2 * jax.nn.relu(t - 1) + jnp.sin(2 * t), rtol=1e-12)
    orth = jnp.asarray(rng.normal(size=5))
    orth = orth - (orth @ u) * u                       # moving orthogonally to w changes nothing
    np.testing.assert_allclose(data.kinked_ridge(x + orth, w), data.kinked_ridge(x, w), rtol=1e-10)
    with pytest.raises(ValueError, match="non-zero"):
        data.kinked_ridge(x, jnp.zeros(5))
    with pytest.raises(ValueError, match="length"):
        data.kinked_ridge(x, jnp.ones(4))


# ---------------------------------------------------------------- lib.stats.bootstrap_power_law

def test_bootstrap_power_law_exact_and_noisy():
    x = np.array([10.0, 20, 40, 80])
    exact = np.repeat((3 * x ** -0.7)[:, None], 5, axis=1)
    res = bootstrap_power_law(x, exact)
    np.testing.assert_allclose(res.fit.slope, -0.7, rtol=1e-12)
    assert res.stderr < 1e-12
    rng = np.random.default_rng(0)
    noisy = exact * np.exp(0.2 * rng.normal(size=exact.shape))
    res = bootstrap_power_law(x, noisy, n_boot=2000, seed=1, statistic="mean")
    assert 0.01 < res.stderr < 0.2 and abs(res.fit.slope + 0.7) < 4 * res.stderr
    with pytest.raises(ValueError, match="samples"):
        bootstrap_power_law(x, exact[:3])
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_power_law(x, exact, statistic="mode")



# ---------------------------------------------------------------- k-NN on a curve

def test_knn_regression_matches_brute_force():
    rng = np.random.default_rng(4)
    x, xq = rng.normal(size=(50, 3)), rng.normal(size=(7, 3))
    y = rng.normal(size=50)
    pred = es.knn_regression(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq), k_max=12)
    order = np.argsort(((xq[:, None, :] - x[None]) ** 2).sum(-1), axis=1, kind="stable")
    for k in (1, 5, 12):
        np.testing.assert_allclose(pred[:, k - 1], y[order[:, :k]].mean(1), rtol=1e-10)
    with pytest.raises(ValueError, match="k_max"):
        es.knn_regression(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq), k_max=51)


def _frame(d, cols, seed=0):
    return jnp.linalg.qr(jnp.asarray(np.random.default_rng(seed).normal(size=(d, cols))))[0]


def test_closed_curve_unit_speed_and_periodic():
    frame = _frame(9, 6)
    t = jnp.linspace(0.0, 1.0, 17)
    speed = jax.vmap(jax.jacfwd(lambda s: es.closed_curve(s, frame)))(t)     # (17, 9)
    np.testing.assert_allclose(jnp.linalg.norm(speed, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(es.closed_curve(t + 1.0, frame), es.closed_curve(t, frame),
                               atol=1e-12)
    assert es.closed_curve(jnp.zeros((4, 2)), frame).shape == (4, 2, 9)
    with pytest.raises(ValueError, match="orthonormal"):
        es.closed_curve(t, 2 * frame)
    with pytest.raises(ValueError, match="even"):
        es.closed_curve(t, _frame(9, 5))
    # under jit with the frame a constant: the orthonormality check runs on the host, same points
    np.testing.assert_allclose(jax.jit(lambda s: es.closed_curve(s, frame))(t),
                               es.closed_curve(t, frame), rtol=1e-12, atol=1e-12)
    bad = 2 * frame
    with pytest.raises(ValueError, match="orthonormal"):
        jax.jit(lambda s: es.closed_curve(s, bad))(t)


def _sine_knn_risk(n, k, omega):
    # Exact noiseless k-NN risk for f(t) = sin(ωt) with neighbours ranked by arc distance: given
    # ρ = V/2, V ~ Beta(k+1, n−k), the offsets are i.i.d. uniform on [−ρ, ρ]; with
    # c = E cos(ωu) = sin(ωρ)/(ωρ), averaging over t gives ((1 − c²)/k + (1 − c)²)/2. Integrated
    # over V by quadrature: an independent closed form, no Taylor expansion.
    from scipy import integrate, stats

    def integrand(vv):
        c = np.sinc(omega * vv / (2 * np.pi))
        return 0.5 * ((1 - c ** 2) / k + (1 - c) ** 2) * stats.beta.pdf(vv, k + 1, n - k)
    return integrate.quad(integrand, 0, 1, points=[(k + 1) / (n + 1)], limit=200)[0]


@pytest.mark.parametrize("n,k,omega", [(2000, 5, 6 * np.pi), (2000, 60, 6 * np.pi),
                                       (512, 5, 50.0), (8192, 20, 50.0), (8192, 150, 50.0)])
def test_knn_curve_risk_matches_exact_sine_risk(n, k, omega):
    # a_r = E[(f^(r))²] = ω^{2r}/2. The model keeps every term to ρ⁶; the first neglected one is
    # O((ωρ)⁸) relative to the leading bias, below 1e-3 for ωρ ≤ 0.46 (the largest case here).
    # Dropping the 1/k or (k+1)/(n+1) corrections (the leading-order formula) is off by 6-40% here.
    a = [omega ** (2 * r) / 2 for r in (1, 2, 3)]
    model = es.knn_curve_risk(n, float(k), noise_var=0.0, mean_sq_slope=a[0],
                              mean_sq_curvature=a[1], mean_sq_third=a[2])
    np.testing.assert_allclose(float(model), _sine_knn_risk(n, k, omega), rtol=1e-3)


def test_knn_curve_risk_matches_monte_carlo():
    # f(t) = sin(6πt) along a unit-speed curve in R^8, neighbours ranked by ambient distance, as the
    # chapter does. Noiseless data, so only the bias terms are tested: at k = 20 the slope term
    # carries 99% of the risk, at k = 150 the curvature terms most of it. One design (1000 fresh
    # random queries) has a relative SD of about 11% (k = 20) and 13% (k = 150), so the mean of 16
    # has a standard error ≤ 3.3% and rtol = 0.1 is ≥ 3 SE.
    frame, n, ks = _frame(8, 4), 2000, np.array([20, 150])
    f = lambda t: jnp.sin(6 * jnp.pi * t)                                    # noqa: E731
    risks = []
    for rep in range(16):
        rng = np.random.default_rng(rep)
        t, tq = jnp.asarray(rng.uniform(size=n)), jnp.asarray(rng.uniform(size=1000))
        fit = es.knn_regression(es.closed_curve(t, frame), f(t), es.closed_curve(tq, frame),
                                k_max=int(ks.max()))
        risks.append(np.asarray(jnp.mean((fit - f(tq)[:, None]) ** 2, axis=0))[ks - 1])
    model = es.knn_curve_risk(n, ks.astype(float), noise_var=0.0,
                              mean_sq_slope=(6 * np.pi) ** 2 / 2,
                              mean_sq_curvature=(6 * np.pi) ** 4 / 2,
                              mean_sq_third=(6 * np.pi) ** 6 / 2)
    np.testing.assert_allclose(np.mean(risks, axis=0), model, rtol=0.1)   # a bias constant (1/12 or 1/576) off by 15% fails here
    np.testing.assert_allclose(es.knn_curve_risk(4.0, 2.0, noise_var=0.5, mean_sq_slope=0.0,
                                                 mean_sq_curvature=0.0), 0.25)
    with pytest.raises(ValueError, match="noise_var"):
        es.knn_curve_risk(10, 2, noise_var=-1.0, mean_sq_slope=0.0, mean_sq_curvature=0.0)
    with pytest.raises(ValueError, match="smaller than n"):
        es.knn_curve_risk(10, 10, noise_var=1.0, mean_sq_slope=0.0, mean_sq_curvature=0.0)


# ---------------------------------------------------------------- integrated error against a step

_STEP = dict(locations=jnp.array([0.2, 0.45, 0.71]), heights=jnp.array([1.0, -1.5, 1.0]))


def _step_sets(sizes, reps, seed=0):
    rng = np.random.default_rng(seed)
    xs = [jnp.asarray(rng.uniform(size=(reps, n))) for n in sizes]
    ys = [data.step_function(x.reshape(-1), **_STEP).reshape(x.shape)
          + 0.25 * jnp.asarray(rng.normal(size=x.shape)) for x in xs]
    return xs, ys


def test_step_error_equals_fine_grid_integral_of_the_smoother():
    xs, ys = _step_sets((150, 37), 2)
    bws, lams = jnp.array([0.05, 1.0]), jnp.array([[1e-5, 1e-3], [1e-4, 1e-2]])
    errs = es.laplace_ridge_step_error_1d(xs, ys, bandwidths=bws, lams=lams, **_STEP)
    grid = (jnp.arange(200_000) + 0.5) / 200_000                  # midpoint rule, jumps on cell edges
    f = data.step_function(grid, **_STEP)
    for k in range(2):
        assert errs[k].shape == (2, 2, 2)
        for r in range(2):
            for i, bw in enumerate(bws):
                pred = es.laplace_kernel_ridge_1d(xs[k][r][:, None], ys[k][r], grid[:, None],
                                                  bandwidth=float(bw), lams=lams[k])
                # Gauss rule error O((g/ℓ)⁶): gaps reach ~0.1 at n = 37, so ℓ = 0.05 gets 1e-3
                np.testing.assert_allclose(errs[k][r, i], jnp.mean((pred - f) ** 2, axis=1),
                                           rtol=2e-5 if bw > 0.5 else 1e-3)


def test_step_error_is_the_equivalent_kernel_risk_at_large_n():
    # exponential window of width h = sqrt(ℓλ/2): risk ΣJ² h/4 + σ²/(4nh), minimum σ√ΣJ²/(2√n)
    n, sigma = 20_000, 0.25
    xs, ys = _step_sets((n,), 8, seed=3)
    err = es.laplace_ridge_step_error_1d(xs, ys, bandwidths=jnp.array([1.0]),
                                         lams=jnp.array([2 * sigma ** 2 / (4.25 * n)]), **_STEP)[0]
    limit = sigma * np.sqrt(4.25) / (2 * np.sqrt(n))
    assert abs(float(np.mean(err)) / limit - 1) < 0.08             # nh* ≈ 17: corrections ~ 1/(nh*)


def test_step_error_float32_and_ties():
    xs, ys = _step_sets((64,), 1)
    x = xs[0].at[0, 1].set(xs[0][0, 0])                           # a tied pair of inputs
    kw = dict(bandwidths=jnp.array([0.3]), lams=jnp.array([1e-3]), **_STEP)
    e64 = es.laplace_ridge_step_error_1d([x], ys, **kw)[0]
    e32 = es.laplace_ridge_step_error_1d([x.astype(jnp.float32)], [ys[0].astype(jnp.float32)], **kw)[0]
    assert e32.dtype == jnp.float32 and np.isfinite(float(e32[0, 0, 0]))
    np.testing.assert_allclose(e32, e64, rtol=1e-4)


def test_step_error_validation():
    xs, ys = _step_sets((10,), 2)
    kw = dict(bandwidths=jnp.array([0.3]), lams=jnp.array([1e-3]), **_STEP)
    with pytest.raises(ValueError, match="sequences"):
        es.laplace_ridge_step_error_1d(xs[0], ys[0], **kw)
    with pytest.raises(ValueError, match="same"):
        es.laplace_ridge_step_error_1d(xs, [ys[0][:, :5]], **kw)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        es.laplace_ridge_step_error_1d([xs[0] + 1.0], ys, **kw)
    with pytest.raises(ValueError, match="lams"):
        es.laplace_ridge_step_error_1d(xs, ys, **{**kw, "lams": jnp.array([[1e-3], [1e-2]])})
    with pytest.raises(ValueError, match="lams"):
        es.laplace_ridge_step_error_1d(xs, ys, **{**kw, "lams": jnp.array([-1e-3])})
    with pytest.raises(ValueError, match="bandwidths"):
        es.laplace_ridge_step_error_1d(xs, ys, **{**kw, "bandwidths": jnp.array([0.0])})
    with pytest.raises(ValueError, match="locations"):
        es.laplace_ridge_step_error_1d(xs, ys, bandwidths=jnp.array([0.3]), lams=jnp.array([1e-3]),
                                       locations=jnp.array([1.5]), heights=jnp.array([1.0]))


# ---------------------------------------------------------------- exact least squares over steps

def _brute_force_steps(x, y, k):
    """Least residual sum of squares over all ways to cut the sorted points into ≤ k + 1 pieces."""
    ys = np.asarray(y)[np.argsort(np.asarray(x))]
    n, best = ys.size, np.inf
    for m in range(k + 1):
        for cuts in itertools.combinations(range(1, n), m):
            b = [0, *cuts, n]
            best = min(best, sum(((ys[a:c] - ys[a:c].mean()) ** 2).sum() for a, c in zip(b[:-1], b[1:])))
    return best


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_least_squares_steps_matches_brute_force(k):
    rng = np.random.default_rng(k)
    x, y = jnp.asarray(rng.uniform(size=(4, 9))), jnp.asarray(rng.normal(size=(4, 9)))
    fit = es.least_squares_steps(x, y, max_jumps=k)
    assert fit.locations.shape == fit.heights.shape == (4, k) and fit.fitted.shape == (4, 9)
    for r in range(4):
        best = _brute_force_steps(x[r], y[r], k)
        assert abs(float(fit.sse[r]) - best) < 1e-10 * (1 + best)
        # the returned step function reproduces the fitted values and the optimal residuals
        f_at_x = float(fit.base[r]) + data.step_function(x[r], fit.locations[r], fit.heights[r])
        np.testing.assert_allclose(f_at_x, fit.fitted[r], atol=1e-12)
        assert abs(float(jnp.sum((y[r] - fit.fitted[r]) ** 2)) - best) < 1e-10 * (1 + best)


def test_least_squares_steps_k0_is_the_mean():
    rng = np.random.default_rng(5)
    x, y = jnp.asarray(rng.uniform(size=20)), jnp.asarray(rng.normal(size=20))
    fit = es.least_squares_steps(x, y, max_jumps=0)
    np.testing.assert_allclose(fit.fitted[0], np.full(20, float(jnp.mean(y))), rtol=1e-12)
    assert abs(float(fit.sse[0]) - float(jnp.sum((y - y.mean()) ** 2))) < 1e-10


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_least_squares_steps_recovers_noiseless_steps_exactly(dtype):
    rng = np.random.default_rng(2)
    loc, h = jnp.asarray([0.2, 0.45, 0.71], dtype), jnp.asarray([1.0, -1.5, 1.0], dtype)
    x = jnp.asarray(rng.uniform(size=(3, 200)), dtype)
    y = data.step_function(x.reshape(-1), loc, h).reshape(x.shape) + 0.3
    fit = es.least_squares_steps(x, y, max_jumps=3)
    assert fit.fitted.dtype == dtype
    tol = 1e-5 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(fit.fitted, y, atol=tol)
    np.testing.assert_allclose(fit.heights, np.tile(h, (3, 1)), atol=tol)
    np.testing.assert_allclose(fit.base, 0.3, atol=tol)
    # each jump at the midpoint of the gap of sorted inputs that contains the true location
    xs = np.sort(np.asarray(x), axis=1)
    for r in range(3):
        for j, t in enumerate(np.asarray(loc)):
            i = np.searchsorted(xs[r], t)
            assert abs(float(fit.locations[r, j]) - (xs[r, i - 1] + xs[r, i]) / 2) < tol
    # more jumps allowed than needed: the same fit, the surplus jumps have height 0
    more = es.least_squares_steps(x, y, max_jumps=5)
    np.testing.assert_allclose(more.fitted, y, atol=tol)
    assert int(jnp.sum(jnp.abs(more.heights) > 1e-3)) == 9


def test_step_fit_l2_error_exact():
    # f̂ = 0.1 + 1{x ≥ 0.3} against f° = 1{x ≥ 0.25}: 0.01 on [0, 0.25), 0.81 on [0.25, 0.3), 0.01 after
    fit = es.StepFit(jnp.array([0.1]), jnp.array([[0.3]]), jnp.array([[1.0]]), jnp.zeros((1, 1)),
                     jnp.zeros(1))
    err = es.step_fit_l2_error(fit, jnp.array([0.25]), jnp.array([1.0]))
    assert abs(float(err[0]) - (0.01 * 0.95 + 0.81 * 0.05)) < 1e-12
    # against a fine midpoint rule on a least-squares fit with several jumps
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.uniform(size=(2, 60)))
    loc, h = jnp.array([0.2, 0.45, 0.71]), jnp.array([1.0, -1.5, 1.0])
    y = data.step_function(x.reshape(-1), loc, h).reshape(x.shape) + 0.4 * jnp.asarray(rng.normal(size=(2, 60)))
    fit = es.least_squares_steps(x, y, max_jumps=3)
    grid = (np.arange(200000) + 0.5) / 200000
    for r in range(2):
        diff = float(fit.base[r]) + data.step_function(jnp.asarray(grid), fit.locations[r], fit.heights[r]) \
            - data.step_function(jnp.asarray(grid), loc, h)
        assert abs(float(jnp.mean(diff ** 2)) - float(es.step_fit_l2_error(fit, loc, h)[r])) < 1e-4


def test_least_squares_steps_validation():
    x = jnp.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="y must have the shape"):
        es.least_squares_steps(x, x[:4], max_jumps=1)
    with pytest.raises(ValueError, match="max_jumps"):
        es.least_squares_steps(x, x, max_jumps=-1)
    with pytest.raises(ValueError, match="x must"):
        es.least_squares_steps(jnp.zeros((1, 1, 5)), jnp.zeros((1, 1, 5)), max_jumps=1)
    fit = es.least_squares_steps(x, x, max_jumps=1)
    with pytest.raises(ValueError, match="locations"):
        es.step_fit_l2_error(fit, jnp.array([1.0]), jnp.array([1.0]))
    with pytest.raises(ValueError, match="heights"):
        es.step_fit_l2_error(fit, jnp.array([0.5]), jnp.array([1.0, 2.0]))
