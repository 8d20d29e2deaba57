"""lib.optimization.two_scalings: the abc classification against Yang & Hu's Table 1 and its shift symmetry,
abc networks against lib.nets (an independent implementation of the same networks), the sweep's
records against direct computation (its ensemble trainer, lib.nets.train_ensemble, is tested in
tests/test_nets.py), the one-step width exponents of NTP and μP, and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import nets, kernels
from lib.optimization import two_scalings as sc
from lib.stats import power_law_fit

pytestmark = pytest.mark.usefixtures("x64")


# ---------------------------------------------------------------- the classification
@pytest.mark.parametrize("L", [1, 2, 3])
def test_regime_matches_yang_hu_table(L):
    sp1 = sc.regime(sc.abc_parameterization("standard", n_hidden=L))
    ntp = sc.regime(sc.abc_parameterization("ntk", n_hidden=L))
    mup = sc.regime(sc.abc_parameterization("mup", n_hidden=L))
    sp0 = sc.regime(sc.abc_parameterization("standard", n_hidden=L, c=0.0))
    # Table 1: r = 1/2 for SP (LR 1/n, L >= 2) and NTP, 0 for muP; all stable and nontrivial
    assert ntp.r == pytest.approx(0.5) and mup.r == pytest.approx(0.0)
    assert sp1.r == pytest.approx(0.5 if L >= 2 else 1.5)
    for g in (sp1, ntp, mup):
        assert g.stable and g.nontrivial and g.stable_at_init
        assert g.output == pytest.approx(0.0) and g.r_first == pytest.approx(g.r)
    assert sp1.kernel_regime and ntp.kernel_regime and not ntp.feature_learning
    assert mup.feature_learning and not mup.kernel_regime
    # fixed learning rate in SP: stable at init, but unstable (r < 0, 2a + c < 1)
    assert sp0.stable_at_init and not sp0.stable
    assert not (sp0.feature_learning or sp0.kernel_regime)
    assert sp0.output_first == pytest.approx(1.0)


def test_mean_field_is_feature_learning_and_equivalent_to_mup():
    mf = sc.abc_parameterization("mean_field")
    assert mf == sc.ABC((0.0, 1.0), (0.0, 0.0), -1.0)
    g = sc.regime(mf)
    assert g.feature_learning and g.r == 0.0
    with pytest.raises(ValueError, match="n_hidden"):
        sc.abc_parameterization("mean_field", n_hidden=2)


@pytest.mark.parametrize("theta", [-0.5, 0.25, 1.0])
@pytest.mark.parametrize("name", ["standard", "ntk", "mup"])
def test_regime_invariant_under_abc_shift(name, theta):
    abc = sc.abc_parameterization(name, n_hidden=2)
    shifted = sc.ABC(tuple(a + theta for a in abc.a), tuple(b - theta for b in abc.b),
                     abc.c - 2 * theta)
    g, h = sc.regime(abc), sc.regime(shifted)
    for u, w in zip(g, h):
        assert u == pytest.approx(w)


def test_intermediate_two_layer_scaling_is_lazy():
    # f = M^{-alpha} sum a_j sigma(w_j x) with step eta M^{2 alpha - 1}: r = 1 - alpha
    for alpha in (0.6, 0.75, 0.9):
        g = sc.regime(sc.ABC((0.0, alpha), (0.0, 0.0), 1 - 2 * alpha))
        assert g.r == pytest.approx(1 - alpha) and g.kernel_regime and g.nontrivial


# ---------------------------------------------------------------- networks
def test_init_abc_variances_and_shapes():
    abc = sc.abc_parameterization("mup", n_hidden=2)
    n = 200
    ws = sc.init_abc(jax.random.key(0), 5, n, abc, n_out=3)
    assert [w.shape for w in ws] == [(5, n), (n, n), (n, 3)]
    for w, b in zip(ws, abc.b):
        var = float(jnp.var(w))
        se = np.sqrt(2.0 / w.size) * n ** (-2 * b)           # std of a sample variance
        assert abs(var - n ** (-2 * b)) < 5 * se
    ens = sc.init_abc(jax.random.key(0), 5, 16, abc, n_members=3)
    assert [w.shape for w in ens] == [(3, 5, 16), (3, 16, 16), (3, 16, 1)]
    assert not np.allclose(ens[0][0], ens[0][1])


def test_apply_abc_equals_lib_nets():
    key = jax.random.key(1)
    x = jax.random.normal(key, (7, 4))
    d, n = 4, 32
    ntp = sc.abc_parameterization("ntk", n_hidden=2)
    w = sc.init_abc(key, d, n, ntp)
    # lib.nets "ntk" multiplies the input layer by 1/sqrt(d): feed it sqrt(d) x
    p = [(W, jnp.zeros(W.shape[1])) for W in w]
    np.testing.assert_allclose(sc.apply_abc(w, x, ntp),
                               nets.apply_mlp(p, np.sqrt(d) * x, parameterization="ntk"),
                               rtol=1e-12, atol=1e-12)
    mf = sc.abc_parameterization("mean_field")
    w1 = sc.init_abc(key, d, n, mf)
    p1 = [(W, jnp.zeros(W.shape[1])) for W in w1]
    np.testing.assert_allclose(sc.apply_abc(w1, x, mf),
                               nets.apply_mlp(p1, np.sqrt(d) * x, parameterization="mean_field"),
                               rtol=1e-12, atol=1e-12)
    sp = sc.abc_parameterization("standard", n_hidden=2)
    ws = sc.init_abc(key, d, n, sp)
    ps = [(W, jnp.zeros(W.shape[1])) for W in ws]
    np.testing.assert_allclose(sc.apply_abc(ws, x, sp),
                               nets.apply_mlp(ps, x, parameterization="standard"),
                               rtol=1e-12, atol=1e-12)
    feats = sc.abc_features(w, x, ntp)
    np.testing.assert_allclose(feats[-1], kernels.hidden_features(p, np.sqrt(d) * x),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- training
def _toy(d=3, N=10, seed=3):
    k1, k2 = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(k1, (N, d))
    return X, jnp.sin(X[:, 0]) + 0.1 * jax.random.normal(k2, (N,))


def test_width_sweep_records_match_direct_computation():
    X, y = _toy(N=12)
    abc = sc.abc_parameterization("mup", n_hidden=2)
    key = jax.random.key(5)
    sw = sc.width_sweep(key, X, y, widths=[16], abc=abc, step_size=0.7, n_steps=2,
                        n_seeds=2)
    assert sw.loss.shape == (1, 2, 2) and sw.feature_change.shape == (1, 2, 2, 2)
    assert sw.output_change.shape == (1, 2, 2) and list(sw.steps) == [1, 2]
    # centred loss starts at mean(y^2)/2 for every member
    np.testing.assert_allclose(sw.loss0, 0.5 * float(jnp.mean(y ** 2)), rtol=1e-12)
    # redo member 1 by hand
    w = [a[1] for a in sc.init_abc(jax.random.fold_in(key, 0), 3, 16, abc, n_members=2)]
    f0 = sc.apply_abc(w, X, abc)[:, 0]
    loss = lambda p: 0.5 * jnp.mean((sc.apply_abc(p, X, abc)[:, 0] - f0 - y) ** 2)  # noqa: E731
    p, grad = w, jax.jit(jax.grad(loss))
    feats0 = sc.abc_features(w, X, abc)
    for t in range(2):
        p = [a - 0.7 * b for a, b in zip(p, grad(p))]        # c = 0: step 0.7 at every width
        feats = sc.abc_features(p, X, abc)
        for l in range(2):
            rel = jnp.linalg.norm(feats[l] - feats0[l]) / jnp.linalg.norm(feats0[l])
            np.testing.assert_allclose(sw.feature_change[0, 1, t, l], rel, rtol=1e-8)
        np.testing.assert_allclose(sw.loss[0, 1, t], loss(p), rtol=1e-8)
        out = jnp.sqrt(jnp.mean((sc.apply_abc(p, X, abc) - sc.apply_abc(w, X, abc)) ** 2))
        np.testing.assert_allclose(sw.output_change[0, 1, t], out, rtol=1e-8)


def test_mup_and_mean_field_trajectories_coincide():
    X, y = _toy()
    kw = dict(widths=[32], step_size=0.5, n_steps=5, n_seeds=2)
    a = sc.width_sweep(jax.random.key(6), X, y, abc=sc.abc_parameterization("mup"), **kw)
    b = sc.width_sweep(jax.random.key(6), X, y, abc=sc.abc_parameterization("mean_field"), **kw)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-9)
    np.testing.assert_allclose(a.feature_change, b.feature_change, rtol=1e-9)


def test_one_step_feature_exponents_ntp_and_mup():
    X, y = _toy(d=4, N=16, seed=7)
    X = X / jnp.linalg.norm(X, axis=1, keepdims=True)
    # one-step change of sigma(h) over 16x in width; 8 seeds: the centred loss removes the
    # random initial function, the remaining fluctuation is O(n^{-1/2}) relative (< 0.05 in slope)
    widths = [64, 1024]
    for name, target in (("ntk", -0.5), ("mup", 0.0)):
        sw = sc.width_sweep(jax.random.key(8), X, y, widths=widths,
                            abc=sc.abc_parameterization(name, n_hidden=1), step_size=1.0,
                            n_steps=1, n_seeds=8)
        fit = power_law_fit(widths, sw.feature_change[:, :, 0, 0].mean(1))
        assert abs(fit.slope - target) < 0.15, (name, fit.slope)


# ---------------------------------------------------------------- helpers and validation
def test_relative_change_and_neuron_movement_against_numpy():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    assert float(sc.relative_change(A, B)) == pytest.approx(np.linalg.norm(B - A) / np.linalg.norm(A))
    assert float(sc.neuron_movement(A, B)) == pytest.approx(np.linalg.norm(B - A, axis=0).mean())
    assert float(sc.neuron_movement(A, B, axis=1)) == pytest.approx(np.linalg.norm(B - A, axis=1).mean())


def test_bad_inputs():
    X, y = _toy()
    abc = sc.abc_parameterization("ntk")
    with pytest.raises(ValueError, match="name"):
        sc.abc_parameterization("xavier")
    with pytest.raises(ValueError, match="n_hidden"):
        sc.abc_parameterization("ntk", n_hidden=0)
    with pytest.raises(ValueError, match="abc.b"):
        sc.regime(sc.ABC((0.0, 0.5), (0.0,), 0.0))
    with pytest.raises(ValueError, match="abc"):
        sc.regime("ntk")
    with pytest.raises(ValueError, match="width"):
        sc.init_abc(jax.random.key(0), 3, 0, abc)
    with pytest.raises(ValueError, match="x must have"):
        sc.apply_abc(sc.init_abc(jax.random.key(0), 3, 4, abc), jnp.ones((2, 5)), abc)
    with pytest.raises(ValueError, match="params"):
        sc.apply_abc([jnp.ones((3, 4))], jnp.ones((2, 3)), abc)
    with pytest.raises(ValueError, match="step_size"):
        sc.width_sweep(jax.random.key(0), X, y, widths=[4], abc=abc, step_size=-1.0, n_steps=2)
    with pytest.raises(ValueError, match="X and y"):
        sc.width_sweep(jax.random.key(0), X, y[:-1], widths=[4], abc=abc, step_size=1.0, n_steps=2)
    with pytest.raises(ValueError, match="widths"):
        sc.width_sweep(jax.random.key(0), X, y, widths=[], abc=abc, step_size=1.0, n_steps=2)
    with pytest.raises(ValueError, match="x1"):
        sc.relative_change(jnp.ones(3), jnp.ones(4))
    with pytest.raises(ValueError, match="W1"):
        sc.neuron_movement(jnp.ones((2, 3)), jnp.ones((3, 2)))
