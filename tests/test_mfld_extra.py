"""lib.mfld additions: the solvable quadratic mean-field model (drift vs autodiff of F, gap vs a
direct NumPy evaluation of the entropy-regularized objective, expected stationary floor vs exact
Monte-Carlo sampling of the stationary law), SVRG-MFLD (reduces to full-batch MFLD when the
snapshot is refreshed every step, determinism, shapes) and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import mfld
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
    drift = mfld.quadratic_mean_field_drift(M, C, KAPPA)

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
    gaps = mfld.quadratic_mean_field_gap(np.array(means), np.array(covs), **KW)
    np.testing.assert_allclose(gaps, direct, rtol=1e-10)
    assert np.all(np.asarray(gaps) > 0)
    assert abs(float(mfld.quadratic_mean_field_gap(m_star, LAM * np.eye(3), **KW))) < 1e-12
    # any other Gaussian is worse: the minimizer is N(m*, λI)
    for d_mean, d_cov in [(1e-3, 0.0), (0.0, 1e-3)]:
        assert float(mfld.quadratic_mean_field_gap(m_star + d_mean, (LAM + d_cov) * np.eye(3),
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
    gaps = np.asarray(mfld.quadratic_mean_field_gap(xbar, cov, **KW))
    mean, se = mean_stderr(gaps)
    exact = mfld.quadratic_mean_field_floor(N, p, step_size=eta, coupling=KAPPA, temperature=LAM)
    assert abs(mean - exact) < 4 * se, (mean, se, exact)
    # leading order λ(p/2 + p(p+1)/4)/N for large N and small η
    big = mfld.quadratic_mean_field_floor(10**6, p, step_size=1e-8, coupling=KAPPA,
                                          temperature=LAM)
    assert abs(big * 1e6 / (LAM * (p / 2 + p * (p + 1) / 4)) - 1) < 1e-3


def test_floor_matches_simulation():
    """End to end: the time-averaged gap of a simulated chain matches the floor formula."""
    N, p, eta = 64, 3, 0.2
    drift = mfld.quadratic_mean_field_drift(M, C, KAPPA)
    _, traj = mfld.simulate(drift, jnp.zeros((N, p)), jax.random.key(2), step_size=eta,
                            temperature=LAM, n_steps=6000, record_every=10)
    traj = traj[100:]
    mean = traj.mean(axis=1)
    dev = traj - mean[:, None]
    gaps = np.asarray(mfld.quadratic_mean_field_gap(
        mean, jnp.einsum("sni,snj->sij", dev, dev) / N, **KW))
    batch, se = mean_stderr(gaps.reshape(10, -1).mean(axis=1))
    exact = mfld.quadratic_mean_field_floor(N, p, step_size=eta, coupling=KAPPA, temperature=LAM)
    assert abs(batch - exact) < 4 * se + 0.03 * exact, (batch, se, exact)


def _net(N=16, n=40, d=3, seed=0):
    kx, kp = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(kx, (n, d))
    y = jnp.sin(X[:, 0])
    return jax.random.normal(kp, (N, 1 + d)), X, y


def test_svrg_with_fresh_snapshot_each_step_is_full_batch_gd():
    """epoch_length = 1: the estimate g_B(X) − g_B(X̃) + g̃ with X̃ = X is the full drift."""
    P, X, y = _net()
    _, tr = mfld.simulate_svrg(X, y, P, jax.random.key(3), step_size=0.2, temperature=0.0,
                               n_epochs=6, epoch_length=1, batch_size=3, reg=0.01)
    _, ref = mfld.simulate(mfld.two_layer_drift(X, y, reg=0.01), P, jax.random.key(4),
                           step_size=0.2, temperature=0.0, n_steps=6, record_every=1)
    np.testing.assert_allclose(tr, ref, rtol=1e-10, atol=1e-12)


def test_svrg_estimate_is_unbiased_and_variance_reduced():
    """Over many random keys, one SVRG step from a snapshot taken one step earlier has mean equal
    to the full-batch step (the estimate is unbiased; its first step is exact, so the second step
    starts from the same point for every key) and a much smaller spread than an SGD step."""
    P, X, y = _net(n=60)
    eta = 0.05
    # two steps per epoch: the second step uses a stale snapshot, so the correction is active
    keys = jax.random.split(jax.random.key(5), 100)
    svrg = np.stack([np.asarray(mfld.simulate_svrg(X, y, P, k, step_size=eta, temperature=0.0,
                                                   n_epochs=1, epoch_length=2, batch_size=2,
                                                   reg=0.01)[0]) for k in keys])
    full = mfld.two_layer_drift(X, y, reg=0.01)
    P1 = P - eta * full(P)                        # the first step of an epoch is exact
    gd = np.asarray(P1 - eta * full(P1))
    mb = mfld.minibatch_drift(X, y, batch_size=2, reg=0.01)
    sgd = np.asarray(jax.vmap(lambda k: P1 - eta * mb(P1, k))(keys))   # SGD second step
    mean, se = mean_stderr(svrg)
    assert np.all(np.abs(mean - gd) < 5 * se + 1e-9)          # unbiased given the first step
    assert svrg.std(axis=0).mean() < 0.2 * sgd.std(axis=0).mean()


def test_svrg_shapes_and_determinism():
    P, X, y = _net()
    kw = dict(step_size=0.1, temperature=0.01, n_epochs=3, epoch_length=4, batch_size=5, reg=0.0)
    final, tr = mfld.simulate_svrg(X, y, P, jax.random.key(6), **kw)
    final2, _ = mfld.simulate_svrg(X, y, P, jax.random.key(6), **kw)
    assert tr.shape == (3,) + P.shape
    np.testing.assert_array_equal(final, tr[-1])
    np.testing.assert_array_equal(final, final2)


def test_mmd2_against_numpy_and_drift_against_autodiff():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=(6, 2)), rng.normal(size=(9, 2)) + 0.5
    h = 0.7

    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * h * h))

    ref = k(x, x).mean() + k(z, z).mean() - 2 * k(x, z).mean()
    np.testing.assert_allclose(mfld.mmd2(x, z, bandwidth=h), ref, rtol=1e-10)
    assert abs(float(mfld.mmd2(x, x, bandwidth=h))) < 1e-12
    reg = 0.3
    drift = mfld.mmd_drift(z, bandwidth=h, reg=reg)
    F = lambda X: 0.5 * mfld.mmd2(X, z, bandwidth=h) + 0.5 * reg * jnp.mean(jnp.sum(X ** 2, 1))  # noqa: E731
    np.testing.assert_allclose(drift(jnp.asarray(x)), x.shape[0] * jax.grad(F)(jnp.asarray(x)),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("call, name", [
    (lambda: mfld.mmd2(np.ones((3, 2)), np.ones((3, 3)), bandwidth=1.0), "y"),
    (lambda: mfld.mmd2(np.ones((3, 2)), np.ones((3, 2)), bandwidth=0.0), "bandwidth"),
    (lambda: mfld.mmd_drift(np.ones(3), bandwidth=1.0), "data"),
    (lambda: mfld.mmd_drift(np.ones((3, 2)), bandwidth=1.0, reg=-1.0), "reg"),
    (lambda: mfld.quadratic_mean_field_drift(np.ones(2), np.ones(3), 1.0), "anchor"),
    (lambda: mfld.quadratic_mean_field_drift(np.ones(2), np.ones(2), -1.0), "coupling"),
    (lambda: mfld.quadratic_mean_field_gap(np.ones(2), np.eye(3), center=np.ones(2),
                                           anchor=np.ones(2), coupling=1.0, temperature=1.0),
     "cov"),
    (lambda: mfld.quadratic_mean_field_gap(np.ones(2), np.eye(2), center=np.ones(2),
                                           anchor=np.ones(2), coupling=1.0, temperature=0.0),
     "temperature"),
    (lambda: mfld.quadratic_mean_field_floor(3, 3, step_size=0.1, coupling=1.0,
                                             temperature=1.0), "n_particles"),
    (lambda: mfld.quadratic_mean_field_floor(10, 2, step_size=1.5, coupling=1.0,
                                             temperature=1.0), "step_size"),
    (lambda: mfld.simulate_svrg(np.ones((5, 2)), np.ones(5), np.ones((4, 3)), jax.random.key(0),
                                step_size=0.1, temperature=0.0, n_epochs=0, epoch_length=1,
                                batch_size=1, reg=0.0), "n_epochs"),
    (lambda: mfld.simulate_svrg(np.ones((5, 2)), np.ones(5), np.ones((4, 3)), jax.random.key(0),
                                step_size=0.1, temperature=0.0, n_epochs=1, epoch_length=1,
                                batch_size=0, reg=0.0), "batch_size"),
    (lambda: mfld.simulate_svrg(np.ones((5, 2)), np.ones(5), np.ones((4, 4)), jax.random.key(0),
                                step_size=0.1, temperature=0.0, n_epochs=1, epoch_length=1,
                                batch_size=1, reg=0.0), "particles"),
    (lambda: mfld.simulate_svrg(np.ones((5, 2)), np.ones(5), np.ones((4, 3)), jax.random.key(0),
                                step_size=-0.1, temperature=0.0, n_epochs=1, epoch_length=1,
                                batch_size=1, reg=0.0), "step_size"),
])
def test_bad_inputs(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_progress_reports_without_changing_the_result(capfd):
    drift = lambda X: X  # noqa: E731
    x0 = jnp.ones((5, 2))
    key = jax.random.key(0)
    quiet = mfld.simulate(drift, x0, key, step_size=0.1, temperature=0.5, n_steps=40)
    loud = mfld.simulate(drift, x0, key, step_size=0.1, temperature=0.5, n_steps=40, progress=True)
    jax.effects_barrier()
    out = capfd.readouterr().out
    np.testing.assert_array_equal(quiet, loud)
    assert "step 40 / 40 (100%)" in out and out.count("particle dynamics") == 20
    _, traj = mfld.simulate(drift, x0, key, step_size=0.1, temperature=0.5, n_steps=40,
                            record_every=8, progress=True)
    jax.effects_barrier()
    assert capfd.readouterr().out.count("particle dynamics") == 5
    np.testing.assert_array_equal(traj[-1], quiet)
