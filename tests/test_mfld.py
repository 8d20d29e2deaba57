"""lib.mfld: the particle integrator against exact stationary laws of the discretized dynamics
(Ornstein–Uhlenbeck / ULA, and an interacting Gaussian mean-field model), deterministic GD and
SVRG-MFLD against hand-written loops, the stateful-drift protocol (keys, steps, carried state,
agreement with the stateless path), the two-layer mean-field network (square and logistic losses,
output scale) against NumPy and autodiff / finite differences of F, minibatch and SVRG
unbiasedness, determinism, progress reports and input validation.

The closed-form and reference comparisons run in float32 and float64 (the ``dtype`` fixture)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import RTOL

from lib import mfld
from lib.stats import mean_stderr

x64_only = pytest.mark.usefixtures("x64")


def _net_problem(N=20, n=50, d=3, seed=0, labels=False):
    kx, kp = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(kx, (n, d))
    y = jnp.sin(X[:, 0]) + 0.5 * X[:, 1]
    P = jax.random.normal(kp, (N, 1 + d))
    return P, X, (jnp.where(y > 0, 1.0, -1.0) if labels else y)


class Stateful:
    """A stateless drift wrapped in the stateful protocol (state: a step counter)."""

    def __init__(self, drift):
        self.drift = drift

    def init(self, particles):
        return jnp.zeros((), jnp.int32)

    def __call__(self, particles, state, key, step):
        return self.drift(particles), state + 1


# ---------------------------------------------------------------- Langevin: stationary laws

def test_ou_reaches_discrete_gibbs_law(dtype):
    """Non-interacting quadratic potential V(x) = xᵀAx/2: ULA  x ← (I − ηA)x + √(2ηλ)ξ  has the
    exact Gaussian stationary law N(0, Σ_η) with Σ_η = λ A⁻¹ (I − ηA/2)⁻¹ (solve the Lyapunov
    equation Σ = (I−ηA)Σ(I−ηA) + 2ηλI in A's eigenbasis); Σ_η → λA⁻¹ (the Gibbs law) as η → 0."""
    A = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    lam, eta, N = 0.5, 0.15, 2000
    drift = lambda X: X @ A  # noqa: E731  (A symmetric: rows x_iᵀA = (A x_i)ᵀ)
    _, traj = mfld.simulate(drift, jnp.zeros((N, 2)), jax.random.key(1), step_size=eta,
                            temperature=lam, n_steps=2000, record_every=50)
    assert traj.dtype == dtype
    snaps = np.asarray(traj[4:], dtype=np.float64)  # 200 steps burn-in: (1 − η a_min)^400 ≈ e^-50
    means = snaps.mean(axis=1)                   # (S, 2)
    covs = np.stack([np.cov(s.T) for s in snaps])  # (S, 2, 2); lag-50 correlation ≈ e^-12
    cov, cov_se = mean_stderr(covs)
    mean, mean_se = mean_stderr(means)
    An = np.asarray(A, dtype=np.float64)
    exact = lam * np.linalg.inv(An) @ np.linalg.inv(np.eye(2) - eta * An / 2)
    np.testing.assert_array_less(np.abs(mean), 4 * mean_se + 1e-12)
    np.testing.assert_array_less(np.abs(cov - exact), 4 * cov_se)
    # the O(η) bias of ULA is resolved: the continuous-time Gibbs covariance is rejected
    assert np.max(np.abs(cov - lam * np.linalg.inv(An)) / cov_se) > 6


@x64_only
def test_interacting_gaussian_reaches_mean_field_fixed_point():
    """F(μ) = ∫|x − m|²/2 dμ + (κ/4)∫∫|x − x'|² dμ dμ has drift (x − m) + κ(x − mean μ); its
    mean-field Gibbs fixed point μ ∝ exp(−δF/δμ/λ) is N(m, λ/(1+κ) I). For N particles and step η
    the dynamics is linear and splits exactly into the particle mean X̄ (an OU with rate 1, noise
    variance 2ηλ/N) and deviations Y_i = X_i − X̄ (rate 1+κ, noise variance 2ηλ(1−1/N)), so
        E[(1/N)Σ|Y_i|²] / p = λ(1−1/N) / (b(1 − ηb/2)),  b = 1+κ,
        Var X̄ = λ / (N(1 − η/2)),
    which tend to the mean-field values as N → ∞, η → 0."""
    m = jnp.array([1.0, -2.0])
    kappa, lam, eta, N = 2.0, 0.5, 0.05, 1000
    b = 1 + kappa
    drift = lambda X: (X - m) + kappa * (X - X.mean(axis=0))  # noqa: E731
    X0 = jax.random.normal(jax.random.key(2), (N, 2)) * 3.0 + 5.0
    _, traj = mfld.simulate(drift, X0, jax.random.key(3), step_size=eta, temperature=lam,
                            n_steps=2000, record_every=50)
    snaps = np.asarray(traj[10:])                # 500 burn-in steps: (1 − η)^500 ≈ e^-26
    S = snaps.shape[0]
    within = snaps.var(axis=1).mean(axis=1)      # (1/N)Σ|Y_i|²/p per snapshot
    var, var_se = mean_stderr(within)
    exact_var = lam * (1 - 1 / N) / (b * (1 - eta * b / 2))
    assert abs(var - exact_var) < 4 * var_se, (var, var_se, exact_var)
    # mean-field limit, with the exact finite-(N, η) correction as allowance
    mf_var = lam / b
    assert abs(var - mf_var) < 4 * var_se + abs(exact_var - mf_var)
    # the particle mean sits at m up to its stationary fluctuation (snapshots 50 steps apart are
    # correlated by (1 − η)^50 ≈ 0.08, which inflates the variance of the average by < 20%)
    xbar = snaps.mean(axis=1).mean(axis=0)
    sd_avg = np.sqrt(lam / (N * (1 - eta / 2)) / S * 1.2)
    np.testing.assert_array_less(np.abs(xbar - np.asarray(m)), 4 * sd_avg)


# ---------------------------------------------------------------- the stateful-drift protocol

@x64_only
def test_stateful_drift_gets_fresh_keys():
    """A stateful drift is called with an independent key per step: with G = ξ_t ~ N(0, I),
    η = 1, λ = 0 the particles end at X0 − Σ_t ξ_t ~ N(X0, T)."""
    class Noise:
        def init(self, particles):
            return ()

        def __call__(self, particles, state, key, step):
            return jax.random.normal(key, particles.shape, particles.dtype), state

    T, N = 16, 4000
    out = mfld.simulate(Noise(), jnp.ones((N, 2)), jax.random.key(4), step_size=1.0,
                        temperature=0.0, n_steps=T)
    assert abs(float(out.mean()) - 1.0) < 4 * np.sqrt(T / (2 * N))
    assert abs(float(out.var()) / T - 1.0) < 4 * np.sqrt(2 / (2 * N))


def test_stateful_drift_sees_step_index_and_carried_state(dtype):
    """G_t = −(s_t + t) with the state s_{t+1} = s_t + 1, s_0 = init = 0: X_T = X0 + η T(T − 1)."""
    class Counter:
        def init(self, particles):
            return jnp.zeros((), particles.dtype)

        def __call__(self, particles, state, key, step):
            return -(state + step) * jnp.ones_like(particles), state + 1

    T, eta = 12, 0.5
    final, traj = mfld.simulate(Counter(), jnp.zeros((3, 2)), jax.random.key(0), step_size=eta,
                                temperature=0.0, n_steps=T, record_every=4)
    np.testing.assert_allclose(final, np.full((3, 2), eta * T * (T - 1)), rtol=RTOL[dtype])
    np.testing.assert_allclose(traj[0], np.full((3, 2), eta * 4 * 3), rtol=RTOL[dtype])


# ---------------------------------------------------------------- deterministic behaviour

def test_zero_temperature_is_particle_gradient_descent(dtype):
    """λ = 0: simulate is the loop X ← X − η drift(X), for a plain drift and for the same drift
    behind the stateful protocol."""
    P, X, y = _net_problem()
    drift = mfld.two_layer_drift(X, y, reg=0.01)
    eta, steps = 0.3, 5
    expected = P
    for _ in range(steps):
        expected = expected - eta * drift(expected)
    for d in (drift, Stateful(drift)):
        out = mfld.simulate(d, P, jax.random.key(5), step_size=eta, temperature=0.0, n_steps=steps)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype])
    # small steps of particle GD decrease F
    F = lambda Q: mfld.two_layer_objective(Q, X, y, reg=0.01)  # noqa: E731
    assert float(F(out)) < float(F(P))


@x64_only
def test_record_every_and_the_stateful_path():
    """The trajectory's snapshots are the runs of (c + 1)·k steps; with noise, the stateful path
    gives the stateless path's result (same keys, same steps)."""
    P, X, y = _net_problem()
    drift = mfld.two_layer_drift(X, y, reg=0.01)
    kw = dict(step_size=0.1, temperature=0.05)
    final, traj = mfld.simulate(drift, P, jax.random.key(6), n_steps=12, record_every=4, **kw)
    assert traj.shape == (3,) + P.shape
    np.testing.assert_array_equal(traj[-1], final)
    plain = mfld.simulate(drift, P, jax.random.key(6), n_steps=12, **kw)
    np.testing.assert_allclose(plain, final, rtol=1e-12, atol=1e-12)
    first = mfld.simulate(drift, P, jax.random.key(6), n_steps=4, **kw)
    np.testing.assert_allclose(traj[0], first, rtol=1e-12, atol=1e-12)
    _, wrapped = mfld.simulate(Stateful(drift), P, jax.random.key(6), n_steps=12, record_every=4,
                               **kw)
    np.testing.assert_allclose(wrapped, traj, rtol=1e-12, atol=1e-12)


@x64_only
def test_same_key_same_result_and_keys_matter():
    P, X, y = _net_problem()
    drift = mfld.minibatch_drift(X, y, batch_size=8, reg=0.01)
    kw = dict(step_size=0.1, temperature=0.05, n_steps=10)
    a = mfld.simulate(drift, P, jax.random.key(7), **kw)
    b = mfld.simulate(drift, P, jax.random.key(7), **kw)
    c = mfld.simulate(drift, P, jax.random.key(8), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    legacy = mfld.simulate(drift, P, jax.random.PRNGKey(7), **kw)   # raw uint32[2] keys work too
    assert legacy.shape == P.shape


@x64_only
def test_simulate_inside_jit_with_traced_hyperparameters():
    P, X, y = _net_problem()
    drift = mfld.two_layer_drift(X, y, reg=0.01)
    kw = dict(n_steps=5)
    run = jax.jit(lambda P, eta, lam: mfld.simulate(drift, P, jax.random.key(12), step_size=eta,
                                                    temperature=lam, **kw))
    np.testing.assert_allclose(run(P, 0.1, 0.05),
                               mfld.simulate(drift, P, jax.random.key(12), step_size=0.1,
                                             temperature=0.05, **kw), rtol=1e-12, atol=1e-12)


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
    # many recorded chunks (800 here) still print about 20 lines, not one per chunk
    mfld.simulate(drift, x0, key, step_size=0.1, temperature=0.5, n_steps=4000, record_every=5,
                  progress=True)
    jax.effects_barrier()
    out = capfd.readouterr().out
    assert out.count("particle dynamics") == 20 and "step 4,000 / 4,000 (100%)" in out


# ---------------------------------------------------------------- two-layer mean-field network

def test_two_layer_output_and_objective(dtype):
    P, X, y = _net_problem(N=7, n=11, d=3)
    Pn, Xn, yn = (np.asarray(a, dtype=np.float64) for a in (P, X, y))
    f = np.mean(Pn[:, 0][None, :] * np.tanh(Xn @ Pn[:, 1:].T), axis=1)
    for loss, scale in [("square", 1.0), ("square", 3.0), ("logistic", 1.0), ("logistic", 3.0)]:
        if loss == "logistic":
            y, yn = jnp.where(y > 0, 1.0, -1.0), np.where(yn > 0, 1.0, -1.0)
        out = mfld.two_layer_output(P, X, scale=scale)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, scale * f, rtol=RTOL[dtype], atol=RTOL[dtype])
        ell = (0.5 * (scale * f - yn) ** 2 if loss == "square"
               else np.log1p(np.exp(-yn * scale * f)))
        F = np.mean(ell) / scale ** 2 + 0.1 * np.mean(np.sum(Pn ** 2, axis=1)) / 2
        np.testing.assert_allclose(mfld.two_layer_objective(P, X, y, reg=0.1, loss=loss,
                                                            scale=scale), F, rtol=RTOL[dtype])
    relu = np.mean(Pn[:, 0][None, :] * np.maximum(Xn @ Pn[:, 1:].T, 0), axis=1)
    np.testing.assert_allclose(mfld.two_layer_output(P, X, activation="relu"), relu,
                               rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("loss, activation, scale", [("square", "tanh", 1.0),
                                                     ("logistic", "relu", 7.0)])
def test_drift_is_N_times_gradient_of_F(dtype, loss, activation, scale):
    """Mean-field gradient identity: ∇_θ δF/δμ(μ_X, θ_j) = N ∇_{θ_j} F(μ_X), for both losses."""
    P, X, y = _net_problem(N=20, n=50, d=3, labels=loss == "logistic")
    reg, N = 0.03, P.shape[0]
    kw = dict(reg=reg, activation=activation, loss=loss, scale=scale)
    drift = mfld.two_layer_drift(X, y, **kw)(P)
    assert drift.dtype == dtype
    F = lambda Q: mfld.two_layer_objective(Q, X, y, **kw)  # noqa: E731
    np.testing.assert_allclose(drift, N * jax.grad(F)(P), rtol=10 * RTOL[dtype],
                               atol=RTOL[dtype])
    if dtype == jnp.float64:    # central finite differences of F on a few coordinates
        h = 1e-6
        for j, k in [(0, 0), (3, 1), (19, 3), (7, 2)]:
            e = jnp.zeros_like(P).at[j, k].set(h)
            fd = (float(F(P + e)) - float(F(P - e))) / (2 * h)
            assert N * fd == pytest.approx(float(drift[j, k]), rel=1e-5, abs=1e-7)


@x64_only
def test_minibatch_drift_is_unbiased():
    P, X, y = _net_problem(N=10, n=40, d=3)
    full = np.asarray(mfld.two_layer_drift(X, y, reg=0.02)(P))
    mb = mfld.minibatch_drift(X, y, batch_size=5, reg=0.02)
    state = mb.init(P)
    keys = jax.random.split(jax.random.key(9), 4000)
    draws = np.asarray(jax.jit(jax.vmap(lambda k: mb(P, state, k, 0)[0]))(keys))
    mean, se = mean_stderr(draws)
    assert np.all(se > 0)                            # it is genuinely stochastic
    np.testing.assert_array_less(np.abs(mean - full), 5 * se)


@x64_only
def test_mfld_training_decreases_objective():
    P, X, y = _net_problem(N=200, n=64, d=3, seed=10)
    drift = mfld.two_layer_drift(X, y, reg=1e-3)
    out = mfld.simulate(drift, P, jax.random.key(11), step_size=0.5, temperature=1e-4,
                        n_steps=300)
    F = lambda Q: float(mfld.two_layer_objective(Q, X, y, reg=1e-3))  # noqa: E731
    assert F(out) < 0.5 * F(P)


# ---------------------------------------------------------------- SVRG-MFLD

def test_svrg_drift_at_the_anchor_is_the_full_drift(dtype):
    """G = g_B(X) − g_B(X̃) + g̃ equals g̃ = drift(X̃) at X = X̃ for every batch; at a refresh step
    the anchor moves to the current particles and the estimate is their full drift."""
    P, X, y = _net_problem(N=10, n=40)
    svrg = mfld.svrg_drift(X, y, batch_size=3, epoch_length=4, reg=0.02)
    full = mfld.two_layer_drift(X, y, reg=0.02)
    state = svrg.init(P)
    np.testing.assert_array_equal(state[0], P)
    np.testing.assert_allclose(state[1], full(P), rtol=RTOL[dtype], atol=RTOL[dtype])
    for k in jax.random.split(jax.random.key(1), 3):
        g, same = svrg(P, state, k, 1)
        np.testing.assert_allclose(g, full(P), rtol=RTOL[dtype], atol=RTOL[dtype])
        np.testing.assert_array_equal(same[0], P)
    Q = P + 0.1
    g, (anchor, anchor_drift) = svrg(Q, state, jax.random.key(2), 8)   # 8 = 2·epoch_length
    np.testing.assert_array_equal(anchor, Q)
    np.testing.assert_allclose(g, full(Q), rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(anchor_drift, full(Q), rtol=RTOL[dtype], atol=RTOL[dtype])


@x64_only
def test_svrg_drift_is_unbiased_and_variance_reduced():
    """Away from the anchor the estimate is unbiased for the full drift and has a much smaller
    spread than the minibatch (SGD) estimate with the same batch size."""
    P, X, y = _net_problem(N=10, n=60)
    full = mfld.two_layer_drift(X, y, reg=0.01)
    P1 = P - 0.05 * full(P)                         # one GD step away from the anchor P
    svrg = mfld.svrg_drift(X, y, batch_size=2, epoch_length=4, reg=0.01)
    mb = mfld.minibatch_drift(X, y, batch_size=2, reg=0.01)
    state = svrg.init(P)
    keys = jax.random.split(jax.random.key(5), 4000)
    est = np.asarray(jax.jit(jax.vmap(lambda k: svrg(P1, state, k, 1)[0]))(keys))
    sgd = np.asarray(jax.jit(jax.vmap(lambda k: mb(P1, (), k, 1)[0]))(keys))
    mean, se = mean_stderr(est)
    assert np.all(se > 0)
    np.testing.assert_array_less(np.abs(mean - np.asarray(full(P1))), 5 * se)
    assert est.std(axis=0).mean() < 0.2 * sgd.std(axis=0).mean()


def test_simulate_with_svrg_drift_equals_reference_loop(dtype):
    """simulate(svrg_drift) against a hand-written SVRG-MFLD loop whose drifts are N times the
    autodiff gradients of the objective on the batch / on all data (an independent route)."""
    P, X, y = _net_problem(N=6, n=15, d=2)
    B, m, eta, lam, reg, T = 3, 2, 0.2, 0.01, 0.02, 5
    N, n = P.shape[0], X.shape[0]
    key = jax.random.key(4)

    def grad(Q, Xs, ys):
        return N * jax.grad(lambda R: mfld.two_layer_objective(R, Xs, ys, reg=reg))(Q)

    @jax.jit
    def step(Q, anchor, anchor_drift, t):          # one jitted step: no per-op dispatch
        k_noise, k_drift = jax.random.split(jax.random.fold_in(key, t))
        idx = jax.random.randint(k_drift, (B,), 0, n)
        G = grad(Q, X[idx], y[idx]) - grad(anchor, X[idx], y[idx]) + anchor_drift
        return Q - eta * G + jnp.sqrt(2 * eta * lam) * jax.random.normal(k_noise, Q.shape, Q.dtype)

    full_grad, Q, ref = jax.jit(grad), P, []
    for t in range(T):
        if t % m == 0:
            anchor, anchor_drift = Q, full_grad(Q, X, y)
        Q = step(Q, anchor, anchor_drift, t)
        ref.append(Q)
    drift = mfld.svrg_drift(X, y, batch_size=B, epoch_length=m, reg=reg)
    final, traj = mfld.simulate(drift, P, key, step_size=eta, temperature=lam, n_steps=T,
                                record_every=1)
    assert final.dtype == dtype
    np.testing.assert_allclose(traj, np.stack(ref), rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype])


# ---------------------------------------------------------------- validation

def _raises(match, fn, *args, **kw):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kw)


def test_simulate_bad_inputs():
    drift = lambda X: X  # noqa: E731
    P, key = jnp.zeros((5, 2)), jax.random.key(0)
    ok = dict(step_size=0.1, temperature=0.1, n_steps=4)
    _raises("particles", mfld.simulate, drift, jnp.zeros(5), key, **ok)
    _raises("particles", mfld.simulate, drift, P.at[0, 0].set(jnp.nan), key, **ok)
    _raises("particles", mfld.simulate, drift, P.at[0, 0].set(jnp.inf), key, **ok)
    _raises("key", mfld.simulate, drift, P, 0, **ok)
    _raises("drift", mfld.simulate, "not a function", P, key, **ok)
    _raises("drift", mfld.simulate, lambda X: X[:, :1], P, key, **ok)
    _raises("drift", mfld.simulate, lambda X, key: X, P, key, **ok)
    _raises("drift", mfld.simulate, Stateful(lambda X: X[:1]), P, key, **ok)

    class NoState:                     # has init, but is called like a stateless drift
        def init(self, particles):
            return ()

        def __call__(self, particles):
            return particles

    _raises(r"drift\(X, state, key, step\)", mfld.simulate, NoState(), P, key, **ok)
    for name, bad in [("step_size", 0.0), ("step_size", -1.0), ("step_size", np.nan),
                      ("temperature", -0.1), ("n_steps", 0), ("n_steps", 2.5)]:
        _raises(name, mfld.simulate, drift, P, key, **{**ok, name: bad})
    _raises("record_every", mfld.simulate, drift, P, key, **ok, record_every=3)
    _raises("record_every", mfld.simulate, drift, P, key, **ok, record_every=0)


def test_two_layer_bad_inputs():
    P, X, y = _net_problem(N=4, n=6, d=3)
    labels = jnp.sign(y) + (y == 0)
    _raises("particles", mfld.two_layer_output, P[:, :3], X)
    _raises("X", mfld.two_layer_output, P, X[0])
    _raises("scale", mfld.two_layer_output, P, X, scale=0.0)
    _raises("X and y", mfld.two_layer_objective, P, X, y[:5], reg=0.1)
    _raises("reg", mfld.two_layer_objective, P, X, y, reg=-0.1)
    _raises("loss", mfld.two_layer_objective, P, X, y, reg=0.1, loss="hinge")
    _raises("labels", mfld.two_layer_objective, P, X, y, reg=0.1, loss="logistic")
    _raises("y", mfld.two_layer_drift, X, y.at[0].set(jnp.nan), reg=0.1)
    _raises("reg", mfld.two_layer_drift, X, y, reg=-1.0)
    _raises("scale", mfld.two_layer_drift, X, labels, reg=0.0, loss="logistic", scale=-1.0)
    _raises("labels", mfld.two_layer_drift, X, y, reg=0.0, loss="logistic")
    _raises("activation", mfld.two_layer_drift, X, y, reg=0.1, activation="swish?")
    _raises("batch_size", mfld.minibatch_drift, X, y, batch_size=0, reg=0.1)
    _raises("X and y", mfld.minibatch_drift, X, y[:3], batch_size=2, reg=0.1)
    _raises("loss", mfld.minibatch_drift, X, y, batch_size=2, reg=0.1, loss="l1")
    _raises("batch_size", mfld.svrg_drift, X, y, batch_size=0, epoch_length=2, reg=0.1)
    _raises("epoch_length", mfld.svrg_drift, X, y, batch_size=1, epoch_length=0, reg=0.1)
    _raises("X and y", mfld.svrg_drift, X, y[:3], batch_size=1, epoch_length=2, reg=0.1)
