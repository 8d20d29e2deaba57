"""lib.optimization.ntk_training: kernel gradient descent against the explicit iteration and against GD on an
explicit linear model, the distance travelled against the parameter iterates, the norm bound
against NumPy, the symmetric initialization, one-pass averaged SGD against a NumPy loop, and
input validation."""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import nets, ntk
from lib.optimization import ntk_training as linearized

pytestmark = pytest.mark.usefixtures("x64")


def _features(seed=0, n=7, m=5, p=12):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    J = np.asarray(jax.random.normal(k1, (n, p)))
    Jt = np.asarray(jax.random.normal(k2, (m, p)))
    y = np.asarray(jax.random.normal(k3, (n,)))
    return J, Jt, y


def test_kernel_gd_matches_explicit_iteration_and_linear_model():
    J, Jt, y = _features()
    n = J.shape[0]
    K, Kt = J @ J.T, Jt @ J.T
    eta, steps = 0.3, np.array([0, 1, 5, 40, 17])
    f0, f0t = np.linspace(-1, 1, n), np.linspace(0.5, -0.5, Jt.shape[0])
    out = linearized.kernel_gd(K, y, Kt, steps, step_size=eta, f0_train=f0, f0_test=f0t)
    # GD on the linear model f(x) = f0(x) + φ(x)ᵀw, loss (1/2n)||Jw + f0 - y||²
    w = np.zeros(J.shape[1])
    train, test = {}, {}
    for t in range(41):
        train[t], test[t] = f0 + J @ w, f0t + Jt @ w
        w = w - eta * J.T @ (J @ w + f0 - y) / n
    np.testing.assert_allclose(out.train, np.stack([train[t] for t in steps]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.test, np.stack([test[t] for t in steps]), rtol=1e-10, atol=1e-12)


def test_kernel_gd_limit_is_kernel_interpolation_and_handles_zero_eigenvalues():
    J, Jt, y = _features(n=5, p=20)
    K, Kt = J @ J.T, Jt @ J.T
    out = linearized.kernel_gd(K, y, Kt, [20000], step_size=0.05)   # η λ_max(K)/n < 2
    np.testing.assert_allclose(out.train[0], y, atol=1e-8)
    np.testing.assert_allclose(out.test[0], Kt @ np.linalg.solve(K, y), rtol=1e-7)
    # rank-deficient kernel (n > p): the null-space component of the residual never moves
    J2, _, y2 = _features(n=8, p=3)
    out2 = linearized.kernel_gd(J2 @ J2.T, y2, None, [0, 10, 5000], step_size=0.5)
    assert out2.test is None
    P = J2 @ np.linalg.pinv(J2)
    np.testing.assert_allclose(out2.train[-1], P @ y2, atol=1e-8)
    np.testing.assert_allclose(out2.train[0], 0.0, atol=1e-14)


def test_kernel_gd_distance_matches_parameter_iterates():
    J, _, y = _features(seed=3)
    n = J.shape[0]
    eta = 0.2
    w, dist = np.zeros(J.shape[1]), []
    for t in range(31):
        dist.append(np.linalg.norm(w))
        w = w - eta * J.T @ (J @ w - y) / n
    got = linearized.kernel_gd_distance(J @ J.T, y, np.arange(31), step_size=eta)
    np.testing.assert_allclose(got, dist, rtol=1e-9, atol=1e-12)
    # the limit is sqrt(yᵀK⁻¹y) = sqrt(n/2) · norm_bound
    lim = linearized.kernel_gd_distance(J @ J.T, y, [10 ** 6], step_size=eta)[0]
    bound = linearized.norm_bound(J @ J.T, y)
    np.testing.assert_allclose(lim, np.sqrt(y @ np.linalg.solve(J @ J.T, y)), rtol=1e-8)
    np.testing.assert_allclose(bound, np.sqrt(2 * y @ np.linalg.solve(J @ J.T, y) / n), rtol=1e-10)


def test_kernel_gd_negative_contraction_factor():
    # η λ/n > 1: the factor 1 − ηλ/n is negative and alternates in sign (still stable when < 2)
    K = np.diag([3.0, 1.0])
    y = np.array([1.0, 1.0])
    out = linearized.kernel_gd(K, y, None, [1, 2, 3], step_size=1.0)   # factors -0.5 and 0.5
    want = [y - np.array([(-0.5) ** t, 0.5 ** t]) for t in (1, 2, 3)]
    np.testing.assert_allclose(out.train, want, rtol=1e-12)


def test_symmetric_two_layer_zero_output_and_ntk():
    d, M = 4, 4000
    p = linearized.symmetric_two_layer(jax.random.key(0), d, M, b_std=0.5)
    x = jax.random.normal(jax.random.key(1), (6, d)) * 2.0
    f = nets.apply_mlp(p, x, parameterization="ntk", b_std=0.5)
    np.testing.assert_allclose(f, 0.0, atol=1e-12)      # zero up to the rounding of the sums
    emp = ntk.empirical(partial(nets.apply_mlp, parameterization="ntk", b_std=0.5), p, x, x)
    ana = ntk.infinite_width(x, x, depth=1, b_std=0.5).ntk
    # Monte-Carlo over M/2 = 2000 distinct units (plus the output bias term b_std²): ~2-3% error
    assert float(jnp.linalg.norm(emp - ana) / jnp.linalg.norm(ana)) < 0.08


def test_averaged_sgd_matches_numpy_loop():
    k1, k2 = jax.random.split(jax.random.key(4))
    X = np.asarray(jax.random.normal(k1, (50, 3)))
    y = np.asarray(jax.random.normal(k2, (50,)))
    th0 = np.array([0.1, -0.2, 0.3])
    eta, lam = 0.05, 0.3
    th, traj = th0.copy(), [th0.copy()]
    for x, yt in zip(X, y):
        th = th - eta * ((x @ th - yt) * x + lam * (th - th0))
        traj.append(th.copy())
    out = linearized.averaged_sgd(X, y, step_size=eta, ridge=lam, theta0=th0)
    np.testing.assert_allclose(out.last, th, rtol=1e-12)
    np.testing.assert_allclose(out.average, np.mean(traj, axis=0), rtol=1e-12)


def test_averaged_sgd_converges_to_ridge_solution():
    # noiseless, well-conditioned: the average tends to θ* (λ = 0) at rate ~1/T
    X = np.asarray(jax.random.normal(jax.random.key(5), (4000, 2)))
    theta = np.array([1.0, -2.0])
    out = linearized.averaged_sgd(X, X @ theta, step_size=0.1)
    np.testing.assert_allclose(out.last, theta, atol=1e-8)
    assert np.linalg.norm(out.average - theta) < 0.01


def test_validation():
    K = np.eye(3)
    y = np.ones(3)
    with pytest.raises(ValueError, match="K_train"):
        linearized.kernel_gd(np.ones((3, 2)), y, steps=[1], step_size=1.0)
    with pytest.raises(ValueError, match="steps"):
        linearized.kernel_gd(K, y, steps=[-1], step_size=1.0)
    with pytest.raises(ValueError, match="steps"):
        linearized.kernel_gd(K, y, steps=[0.5], step_size=1.0)
    with pytest.raises(ValueError, match="step_size"):
        linearized.kernel_gd(K, y, steps=[1], step_size=0.0)
    with pytest.raises(ValueError, match="K_test_train"):
        linearized.kernel_gd(K, y, np.ones((2, 4)), [1], step_size=1.0)
    with pytest.raises(ValueError, match="f0_train"):
        linearized.kernel_gd(K, y, steps=[1], step_size=1.0, f0_train=np.ones(2))
    with pytest.raises(ValueError, match="f0_test"):
        linearized.kernel_gd(K, y, steps=[1], step_size=1.0, f0_test=np.ones(2))
    with pytest.raises(ValueError, match="y"):
        linearized.norm_bound(K, np.ones(4))
    with pytest.raises(ValueError, match="y"):
        linearized.kernel_gd_distance(K, np.array([1.0, np.nan, 0.0]), [1], step_size=1.0)
    with pytest.raises(ValueError, match="width"):
        linearized.symmetric_two_layer(jax.random.key(0), 3, 5)
    with pytest.raises(ValueError, match="key"):
        linearized.symmetric_two_layer(3, 3, 4)
    with pytest.raises(ValueError, match="ridge"):
        linearized.averaged_sgd(np.ones((4, 2)), np.ones(4), step_size=0.1, ridge=-1.0)
    with pytest.raises(ValueError, match="theta0"):
        linearized.averaged_sgd(np.ones((4, 2)), np.ones(4), step_size=0.1, theta0=np.ones(3))
    with pytest.raises(ValueError, match="X"):
        linearized.averaged_sgd(np.ones((4, 2)), np.ones(5), step_size=0.1)


def test_averaged_sgd_network_linear_model_is_averaged_sgd():
    # for f(x; θ) = xᵀθ the network version is exactly averaged SGD for least squares
    k1, k2 = jax.random.split(jax.random.key(11))
    X = np.asarray(jax.random.normal(k1, (60, 3)))
    y = np.asarray(jax.random.normal(k2, (60,)))
    th0 = np.array([0.1, -0.2, 0.3])
    out = linearized.averaged_sgd_network(_linear_apply, {"w": th0}, X, y, step_size=0.05, ridge=0.3)
    ref = linearized.averaged_sgd(X, y, step_size=0.05, ridge=0.3, theta0=th0)
    np.testing.assert_allclose(out.last["w"], ref.last, rtol=1e-10)
    np.testing.assert_allclose(out.average["w"], ref.average, rtol=1e-10)


def _linear_apply(p, x):
    return (x @ p["w"])[:, None]


def test_averaged_sgd_network_matches_hand_gradients():
    # two-layer ReLU net f = (1/√M) aᵀ relu(W x): hand-written gradients in a NumPy loop
    from functools import partial
    from lib import nets
    apply = partial(nets.apply_mlp, parameterization="ntk")
    params = linearized.symmetric_two_layer(jax.random.key(12), 2, 6)
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    X = np.asarray(jax.random.normal(jax.random.key(13), (25, 2)), np.float64)
    y = np.sin(X[:, 0])
    eta, lam, M = 0.1, 0.2, 6
    W0, a0 = params[0][0].T.copy(), params[1][0][:, 0].copy()
    W, a = W0.copy(), a0.copy()          # biases enter multiplied by b_std = 0: never move
    traj = [np.concatenate([W.ravel(), a])]
    for x, yt in zip(X, y):
        pre = W @ x / np.sqrt(2)             # lib.nets NTK parameterization: w·x/√d, b_std = 0
        h = np.maximum(pre, 0)
        r = a @ h / np.sqrt(M) - yt
        gW = r * (a * (pre > 0))[:, None] * x[None, :] / np.sqrt(2 * M)
        ga = r * h / np.sqrt(M)
        W, a = W - eta * (gW + lam * (W - W0)), a - eta * (ga + lam * (a - a0))
        traj.append(np.concatenate([W.ravel(), a]))
    out = linearized.averaged_sgd_network(apply, params, X, y, step_size=eta, ridge=lam)
    got_last = np.concatenate([np.asarray(out.last[0][0]).T.ravel(), np.asarray(out.last[1][0][:, 0])])
    got_avg = np.concatenate([np.asarray(out.average[0][0]).T.ravel(), np.asarray(out.average[1][0][:, 0])])
    np.testing.assert_allclose(got_last, traj[-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_avg, np.mean(traj, axis=0), rtol=1e-9, atol=1e-12)


def test_averaged_sgd_network_validation():
    with pytest.raises(ValueError, match="step_size"):
        linearized.averaged_sgd_network(_linear_apply, {"w": np.zeros(2)}, np.ones((3, 2)),
                                        np.ones(3), step_size=0.0)
    with pytest.raises(ValueError, match="y"):
        linearized.averaged_sgd_network(_linear_apply, {"w": np.zeros(2)}, np.ones((3, 2)),
                                        np.ones(4), step_size=0.1)


def test_averaged_sgd_expected_risk_one_step_closed_form():
    # T = 1: e_1 = -v + η x xᵀv + η σ ε x (the ridge terms cancel), ē = (e_0 + e_1)/2, and for
    # x ~ N(0, Σ): E[x xᵀ Σ x xᵀ] = 2Σ³ + tr(Σ²) Σ, E[xᵀ Σ x] = tr(Σ²)
    mu, theta, eta, sig = np.array([1.0, 0.5, 0.2]), np.array([0.7, -0.3, 0.4]), 0.3, 0.8
    v_ = theta / np.sqrt(mu)
    S = np.diag(mu)
    quad = v_ @ (2 * S @ S @ S + np.trace(S @ S) * S) @ v_
    want = 0.25 * (4 * v_ @ S @ v_ - 4 * eta * v_ @ S @ S @ v_ + eta ** 2 * quad
                   + (eta * sig) ** 2 * np.trace(S @ S))
    for lam in (0.0, 0.4):
        got = linearized.averaged_sgd_expected_risk(mu, theta, 1, step_size=eta, ridge=lam, noise=sig)
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_averaged_sgd_expected_risk_matches_monte_carlo():
    # independent Monte Carlo of averaged_sgd on Gaussian features: agreement within 4 standard errors
    mu, theta, eta, lam, sig, T, reps = np.array([1.0, 0.3, 0.05]), np.array([0.8, 0.4, -0.2]), 0.25, 0.1, 0.7, 40, 20000
    v_ = theta / np.sqrt(mu)

    def one(key):
        kx, ky = jax.random.split(key)
        z = jax.random.normal(kx, (T, 3))
        X = z * np.sqrt(mu)
        y = z @ theta + sig * jax.random.normal(ky, (T,))
        c = linearized.averaged_sgd(X, y, step_size=eta, ridge=lam).average
        return jnp.sum(mu * (c - v_) ** 2)

    r = np.asarray(jax.vmap(one)(jax.random.split(jax.random.key(11), reps)))
    want = linearized.averaged_sgd_expected_risk(mu, theta, T, step_size=eta, ridge=lam, noise=sig)
    assert abs(r.mean() - want) < 4 * r.std() / np.sqrt(reps), (r.mean(), want)
    # a noise term with a wrong factor (σ² → 1.1 σ²) is rejected at this precision
    wrong = linearized.averaged_sgd_expected_risk(mu, theta, T, step_size=eta, ridge=lam,
                                                  noise=sig * np.sqrt(1.1))
    assert abs(r.mean() - wrong) > 4 * r.std() / np.sqrt(reps)


def test_averaged_sgd_expected_risk_float32_and_validation():
    mu, theta = np.array([1.0, 0.25], np.float32), np.array([0.5, 0.5], np.float32)
    a = linearized.averaged_sgd_expected_risk(mu, theta, 200, step_size=0.25, ridge=0.05, noise=1.0)
    b = linearized.averaged_sgd_expected_risk(mu.astype(np.float64), theta.astype(np.float64), 200,
                                              step_size=0.25, ridge=0.05, noise=1.0)
    np.testing.assert_allclose(a, b, rtol=1e-4)
    with pytest.raises(ValueError, match="mu"):
        linearized.averaged_sgd_expected_risk(np.array([1.0, -1.0]), theta, 5, step_size=0.1, ridge=0.0, noise=1.0)
    with pytest.raises(ValueError, match="theta"):
        linearized.averaged_sgd_expected_risk(mu, np.ones(3), 5, step_size=0.1, ridge=0.0, noise=1.0)
    with pytest.raises(ValueError, match="T"):
        linearized.averaged_sgd_expected_risk(mu, theta, 0, step_size=0.1, ridge=0.0, noise=1.0)
    with pytest.raises(ValueError, match="ridge"):
        linearized.averaged_sgd_expected_risk(mu, theta, 5, step_size=0.1, ridge=-1.0, noise=1.0)
    with pytest.raises(ValueError, match="noise"):
        linearized.averaged_sgd_expected_risk(mu, theta, 5, step_size=0.1, ridge=0.0, noise=-1.0)


def _relu_net(d=3, n=6, M=64, symmetric=True):
    X = np.asarray(jax.random.normal(jax.random.key(20), (n, d)))
    X = np.sqrt(d) * X / np.linalg.norm(X, axis=1, keepdims=True)
    if symmetric:
        p0 = linearized.symmetric_two_layer(jax.random.key(21), d, M)
    else:
        p0 = nets.init_mlp(jax.random.key(21), [d, M, 1], parameterization="ntk")
    y = np.asarray(jax.random.normal(jax.random.key(22), (n,)))
    return X, p0, y


_relu = partial(nets.apply_mlp, parameterization="ntk")


def test_gd_residual_path_against_independent_iteration():
    # θ_t by lib.nets.train (same GD), H(t) by autodiff lib.ntk.empirical, then in NumPy:
    # r_t, λ(H(t)), q_t and δ_t = r_{t+1} − (I − ηH(t)/n) r_t (plain init: δ_0 ≠ 0, see below)
    X, p0, y = _relu_net(symmetric=False)
    n, eta, T = X.shape[0], 1.5, 6
    out = linearized.gd_residual_path(_relu, p0, X, 0.3 * y, n_steps=T, step_size=eta)
    loss = lambda p: 0.5 * jnp.mean((_relu(p, X)[:, 0] - 0.3 * y) ** 2)
    params = [p0] + [nets.train(loss, p0, n_steps=t, step_size=eta).params for t in range(1, T + 1)]
    r = np.stack([np.asarray(_relu(p, X)[:, 0]) - 0.3 * y for p in params])
    np.testing.assert_allclose(out.residual, r, rtol=1e-10, atol=1e-12)
    for t in range(T):
        H = np.asarray(ntk.empirical(_relu, params[t], X, X))
        lam = np.linalg.eigvalsh(H)
        delta = r[t + 1] - (r[t] - eta / n * H @ r[t])
        np.testing.assert_allclose(out.lam_min[t], lam[0], rtol=1e-9)
        np.testing.assert_allclose(out.lam_max[t], lam[-1], rtol=1e-9)
        np.testing.assert_allclose(out.rayleigh[t], r[t] @ H @ r[t] / (r[t] @ r[t]), rtol=1e-9)
        np.testing.assert_allclose(out.remainder[t], np.linalg.norm(delta), rtol=1e-6)
        # the remainder is a small part of the step here, yet far above rounding
        assert 1e-8 < out.remainder[t] < 0.1 * np.linalg.norm(r[t + 1] - r[t])


def test_gd_residual_path_linear_model_has_no_remainder():
    # f(X; θ) = Φθ: GD is exactly kernel GD with H = ΦΦᵀ, so δ_t = 0 up to rounding and the
    # residuals are (I − ηH/n)^t r_0 (lib.optimization.ntk_training.kernel_gd)
    J, _, y = _features()
    n = J.shape[0]
    H = J @ J.T
    apply = lambda p, Z: Z @ p["w"]
    eta = 0.5 * n / np.linalg.eigvalsh(H)[-1]
    out = linearized.gd_residual_path(apply, {"w": np.zeros(J.shape[1])}, J, y, n_steps=30,
                                      step_size=eta)
    assert float(jnp.max(out.remainder / jnp.linalg.norm(out.residual[:-1], axis=1))) < 1e-13
    ref = linearized.kernel_gd(H, y, steps=np.arange(31), step_size=eta).train - y
    np.testing.assert_allclose(out.residual, ref, atol=1e-12)
    np.testing.assert_allclose(out.lam_min, np.linalg.eigvalsh(H)[0], rtol=1e-12)


def test_gd_residual_path_remainder_is_second_order():
    # δ_t = O(η²‖∇L‖²) = O(ε²) for residuals of size ε, so ρ_t = ‖δ_t‖/‖r_t‖ = O(ε): from a plain
    # initialization, labels f_0 + ε y give ρ/ε → const. From the symmetric initialization the
    # second-order term vanishes at θ_0 (paired units have equal input gradients and opposite output
    # weights, so the a–w cross term and the w–w term cancel in pairs), and ρ/ε² → const.
    # Tolerance 2 %: the next order is relative O(ε) ≤ 1e-2 at these ε (a rate ε instead of ε², or
    # 1 instead of ε, fails by a factor 10).
    X, p0, y = _relu_net(symmetric=False)
    f0 = np.asarray(_relu(p0, X)[:, 0])
    rho = lambda p, lab: float(jnp.max((lambda o: o.remainder / jnp.linalg.norm(
        o.residual[:-1], axis=1))(linearized.gd_residual_path(_relu, p, X, lab, n_steps=10,
                                                               step_size=1.0))))
    plain = [rho(p0, f0 + e * y) / e for e in (1e-2, 1e-3)]
    np.testing.assert_allclose(plain[1], plain[0], rtol=0.02)
    _, ps, _ = _relu_net()
    sym = [rho(ps, e * y) / e ** 2 for e in (1e-2, 1e-3)]
    np.testing.assert_allclose(sym[1], sym[0], rtol=0.02)


def test_gd_residual_path_closed_form_gram_vmap_and_float32():
    X, p0, y = _relu_net()
    d, M = X.shape[1], p0[0][0].shape[1]
    gram = lambda p, Z: ntk.two_layer_empirical(Z / np.sqrt(d), Z / np.sqrt(d), p[0][0].T,
                                                p[1][0][:, 0], scale=1 / np.sqrt(M))
    labels = np.stack([0.1 * y, y])
    ad = [linearized.gd_residual_path(_relu, p0, X, lab, n_steps=5, step_size=1.0) for lab in labels]
    cf = jax.vmap(lambda lab: linearized.gd_residual_path(_relu, p0, X, lab, n_steps=5,
                                                          step_size=1.0, gram_fn=gram))(labels)
    for j in range(2):
        for name in ("residual", "lam_min", "lam_max", "rayleigh", "remainder"):
            np.testing.assert_allclose(getattr(cf, name)[j], getattr(ad[j], name), rtol=1e-8,
                                       atol=1e-14)
    from tests.conftest import x64_mode
    with x64_mode(False):
        p32 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p0)
        o32 = linearized.gd_residual_path(_relu, p32, X.astype(np.float32),
                                          y.astype(np.float32), n_steps=5, step_size=1.0)
        assert o32.residual.dtype == jnp.float32 and o32.remainder.dtype == jnp.float32
        # float32 outputs are rounded at ~1e-7 relative to the sum of |terms|; the remainder
        # (≈ 1e-3 of ‖r‖ here at ε = 1) and the spectrum agree with float64 to ~1e-4 relative
        np.testing.assert_allclose(o32.lam_min, ad[1].lam_min, rtol=1e-4)
        np.testing.assert_allclose(o32.rayleigh, ad[1].rayleigh, rtol=1e-4)
        np.testing.assert_allclose(o32.remainder, ad[1].remainder, rtol=2e-2)


def test_gd_residual_path_validation():
    X, p0, y = _relu_net()
    with pytest.raises(ValueError, match="apply_fn"):
        linearized.gd_residual_path(None, p0, X, y, n_steps=2, step_size=1.0)
    with pytest.raises(ValueError, match="gram_fn"):
        linearized.gd_residual_path(_relu, p0, X, y, n_steps=2, step_size=1.0, gram_fn=3)
    with pytest.raises(ValueError, match="y"):
        linearized.gd_residual_path(_relu, p0, X, y[:-1], n_steps=2, step_size=1.0)
    with pytest.raises(ValueError, match="n_steps"):
        linearized.gd_residual_path(_relu, p0, X, y, n_steps=0, step_size=1.0)
    with pytest.raises(ValueError, match="step_size"):
        linearized.gd_residual_path(_relu, p0, X, y, n_steps=2, step_size=-1.0)
    with pytest.raises(ValueError, match="params"):
        linearized.gd_residual_path(_relu, [], X, y, n_steps=2, step_size=1.0)
    with pytest.raises(ValueError, match="X"):
        linearized.gd_residual_path(_relu, p0, X[0], y, n_steps=2, step_size=1.0)
    with pytest.raises(ValueError, match="y"):
        linearized.gd_residual_path(_relu, p0, X, y[:, None], n_steps=2, step_size=1.0)
    with pytest.raises(ValueError, match="X"):
        linearized.gd_residual_path(_relu, p0, np.where(X > 0, np.nan, X), y, n_steps=2,
                                    step_size=1.0)
