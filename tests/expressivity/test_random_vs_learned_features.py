"""lib.expressivity.random_vs_learned_features: nested least squares vs independent ridge fits, the features-needed
search, the batched trainer, and input validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import data, ridgeless
from lib.expressivity import random_vs_learned_features as features

pytestmark = pytest.mark.usefixtures("x64")


def _problem(key, n=300, n_test=200, M=40, d=3):
    k1, k2, k3 = jax.random.split(key, 3)
    X, X_t = data.sphere(k1, n, d), data.sphere(k2, n_test, d)
    U = data.sphere(k3, M, d)
    c = jax.random.uniform(jax.random.fold_in(k3, 1), (M, 1), minval=-0.5, maxval=0.5)
    V = jnp.concatenate([U, c], axis=1)     # |bias| < |w|: every unit is a genuine hinge
    f = lambda Z: jnp.sin(3 * Z[:, 0]) + Z[:, 1] ** 2  # noqa: E731
    return features.relu_units(X, V), f(X), features.relu_units(X_t, V), f(X_t)


def test_nested_least_squares_matches_separate_fits():
    Phi, y, Phi_t, y_t = _problem(jax.random.key(0))
    errs = features.nested_least_squares(Phi, y, Phi_t, y_t, ridge=0.0)
    assert errs.shape == (Phi.shape[1],)
    for m in (1, 2, 7, 25, 40):
        coef = ridgeless.min_norm_interpolator(Phi[:, :m], y)        # OLS: n > m, full rank
        ref = jnp.linalg.norm(Phi_t[:, :m] @ coef - y_t) / jnp.linalg.norm(y_t)
        assert float(errs[m - 1]) == pytest.approx(float(ref), rel=1e-7)


def test_nested_ridge_is_ridge_on_unit_columns():
    Phi, y, Phi_t, y_t = _problem(jax.random.key(1))
    r = 1e-3
    errs = features.nested_least_squares(Phi, y, Phi_t, y_t, ridge=r)
    M = Phi.shape[1]
    scale = 1 / jnp.linalg.norm(Phi, axis=0)
    lam = r * M                         # ridge times the trace of the rescaled Gram matrix
    for m in (3, 20, 40):
        Z = Phi[:, :m] * scale[:m]
        # lib.ridgeless.ridge minimizes (1/n)||y - Za||^2 + lam' ||a||^2 with n lam' = lam.
        a = ridgeless.ridge(Z, y, lam / Z.shape[0])
        ref = jnp.linalg.norm((Phi_t[:, :m] * scale[:m]) @ a - y_t) / jnp.linalg.norm(y_t)
        assert float(errs[m - 1]) == pytest.approx(float(ref), rel=1e-7)


def test_nested_float32_survives_duplicate_columns():
    Phi, y, Phi_t, y_t = _problem(jax.random.key(2))
    Phi = jnp.concatenate([Phi, Phi], axis=1).astype(jnp.float32)   # exactly collinear
    Phi_t = jnp.concatenate([Phi_t, Phi_t], axis=1).astype(jnp.float32)
    errs = features.nested_least_squares(Phi, y.astype(jnp.float32), Phi_t,
                                         y_t.astype(jnp.float32))
    assert errs.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(errs)))
    # the duplicates add nothing: the curve is flat over them (up to the tiny ridge)
    half = float(errs[Phi.shape[1] // 2 - 1])
    assert float(errs[-1]) == pytest.approx(half, rel=0.02)


def test_nested_several_targets_equal_separate_curves():
    Phi, y, Phi_t, y_t = _problem(jax.random.key(3))
    Y, Y_t = jnp.stack([y, y ** 3 - 1.0], axis=1), jnp.stack([y_t, y_t ** 3 - 1.0], axis=1)
    both = features.nested_least_squares(Phi, Y, Phi_t, Y_t, ridge=1e-9)
    assert both.shape == (2, Phi.shape[1])
    for t in range(2):
        one = features.nested_least_squares(Phi, Y[:, t], Phi_t, Y_t[:, t], ridge=1e-9)
        np.testing.assert_allclose(both[t], one, rtol=1e-10)


def test_sphere_feature_curve_single_neuron_is_exact_with_its_own_unit():
    d = 4
    v = jnp.array([[0.6, 0.0, 0.0, 0.0, -0.3]])
    others = data.sphere(jax.random.key(5), 10, d + 1)
    errs = features.sphere_feature_curve(jax.random.key(6), v, jnp.concatenate([v, others]),
                                         n_train=500, n_test=300, ridge=0.0)
    assert float(errs[0]) < 1e-10 and float(errs[-1]) < 1e-8
    # the target as weights on the units: same curve, padded with zero weights
    pad = jnp.concatenate([v, others[:3]])
    errs2 = features.sphere_feature_curve(jax.random.key(6), pad, jnp.concatenate([v, others]),
                                          target_weights=jnp.array([1.0, 0, 0, 0]),
                                          n_train=500, n_test=300, ridge=0.0)
    np.testing.assert_allclose(errs2, errs, atol=1e-9)
    # two targets on the same inputs and features: the curves of the separate calls
    a = jnp.array([[1.0, 0, 0, 0], [0.25, -1.0, 0.5, 2.0]])
    both = features.sphere_feature_curve(jax.random.key(6), pad, others, target_weights=a,
                                         n_train=500, n_test=300, ridge=1e-12)
    assert both.shape == (2, others.shape[0])
    for t in range(2):
        one = features.sphere_feature_curve(jax.random.key(6), pad, others, target_weights=a[t],
                                            n_train=500, n_test=300, ridge=1e-12)
        np.testing.assert_allclose(both[t], one, rtol=1e-10)


def test_features_needed_float32_draw_matches_its_curve():
    v = jnp.array([[1.0, 0.0, -0.5]], jnp.float32)
    r = features.features_needed(jax.random.key(3), v, eps=0.3, n_features=48, n_draws=2)
    assert r.errors.dtype == np.float32 and np.all(np.isfinite(r.errors))
    k_dir, k_data = jax.random.split(jax.random.fold_in(jax.random.key(3), 1))
    V = jax.random.normal(k_dir, (48, 3), jnp.float32)
    curve = features.sphere_feature_curve(k_data, v, V / jnp.linalg.norm(V, axis=1, keepdims=True),
                                          n_train=4 * 48)
    assert curve.dtype == jnp.float32
    np.testing.assert_allclose(r.errors[1], curve, rtol=1e-4, atol=1e-5)


def test_features_needed_first_crossing_censoring_and_independent_draws():
    v = jnp.array([[1.0, 0.0, 0.0, -0.5]])
    easy = features.features_needed(jax.random.key(7), v, eps=0.5, n_features=128, n_draws=3)
    hard = features.features_needed(jax.random.key(7), v, eps=0.2, n_features=128, n_draws=3)
    assert easy.errors.shape == (3, 128) and easy.m.shape == easy.reached.shape == (3,)
    assert easy.reached.all()
    ms = np.arange(1, 129)
    for e, m in zip(easy.errors, easy.m):  # first crossing of eps by the approximation error
        approx = e * np.sqrt((4 * 128 - ms) / (4 * 128))   # the estimation factor divided out
        assert approx[m - 1] <= 0.5 and (m == 1 or np.all(approx[:m - 1] > 0.5))
    assert np.all(hard.m[hard.reached] >= easy.m[hard.reached])
    none = features.features_needed(jax.random.key(7), v, eps=1e-9, n_features=16, n_draws=2)
    assert not none.reached.any() and np.all(none.m == 16)          # censored at the budget
    # draw i comes from fold_in(key, i): a prefix of more draws, and an independent path
    two = features.features_needed(jax.random.key(7), v, eps=0.5, n_features=128, n_draws=2)
    np.testing.assert_array_equal(two.errors, easy.errors[:2])
    k_dir, k_data = jax.random.split(jax.random.fold_in(jax.random.key(7), 2))
    V = jax.random.normal(k_dir, (128, 4))
    curve = features.sphere_feature_curve(k_data, v, V / jnp.linalg.norm(V, axis=1, keepdims=True),
                                          n_train=4 * 128)
    np.testing.assert_allclose(easy.errors[2], curve, rtol=1e-5, atol=1e-6)

@pytest.mark.parametrize("d", [2, 3, 5])
def test_zonal_energies_closed_forms_and_parseval(d):
    # phi(t) = t is the degree-1 zonal harmonic: E t^2 = 1/d, all of it at degree 1
    E, norm2 = features.zonal_energies(lambda t: t, d, 4)
    np.testing.assert_allclose(E, [0, 1 / d, 0, 0, 0], atol=1e-12)
    assert norm2 == pytest.approx(1 / d, rel=1e-12)
    # t^2 - 1/d is a degree-2 zonal harmonic (mean 0): E = Var(t^2) at degree 2 only
    E, norm2 = features.zonal_energies(lambda t: t ** 2 - 1 / d, d, 4)
    var = 3 / (d * (d + 2)) - 1 / d ** 2                      # E t^4 = 3/(d(d+2)) on S^{d-1}
    np.testing.assert_allclose(E, [0, 0, var, 0, 0], atol=1e-12)
    # a kink on a cap: Parseval, and E_0 = (E phi)^2 against a Monte Carlo mean
    E, norm2 = features.zonal_energies(lambda t: np.maximum(t - 0.5, 0), d, 150, support=(0.5, 1))
    assert E.sum() == pytest.approx(norm2, rel=2e-3)
    t = np.asarray(data.sphere(jax.random.key(d), 400_000, d))[:, 0]
    mean = np.maximum(t - 0.5, 0).mean()
    assert np.sqrt(E[0]) == pytest.approx(mean, rel=0.02)     # about 4 to 8 Monte Carlo s.e.


@pytest.mark.parametrize("d", [3, 5])
def test_zonal_energies_match_adaptive_quadrature(d):
    """c_l = E[relu(t - b) P_l(t)] by scipy's adaptive quadrature in t, with scipy's Gegenbauer
    polynomials normalized by P_l(1) = 1 and the density of t = x_1 on S^{d-1}."""
    from scipy import integrate, special
    b, alpha = 0.5, (d - 2) / 2
    E, norm2 = features.zonal_energies(lambda t: np.maximum(t - b, 0), d, 10, support=(b, 1))
    z = integrate.quad(lambda t: (1 - t * t) ** ((d - 3) / 2), -1, 1)[0]
    for ell in range(11):
        P = lambda t, ell=ell: (special.eval_gegenbauer(ell, alpha, t)        # noqa: E731
                                / special.eval_gegenbauer(ell, alpha, 1.0))
        c = integrate.quad(lambda t: (t - b) * P(t) * (1 - t * t) ** ((d - 3) / 2), b, 1,
                           epsabs=1e-14, epsrel=1e-12)[0] / z
        dim = features.harmonic_count(ell, d) - (features.harmonic_count(ell - 1, d) if ell else 0)
        assert E[ell] == pytest.approx(dim * c * c, rel=1e-8, abs=1e-16)


def test_width_bound_count_fills_degrees_in_order_of_energy_per_harmonic():
    d = 3                                           # dim H_l = 1, 3, 5, 7
    E = np.array([0.0, 3.0, 5.0, 0.0])             # eigenvalues 0, 1, 1, 0: degree 1 and 2 tie
    norm2 = 8.0
    # eps^2 norm2 = 2: capture 6 of the 8, i.e. 6 of the 8 unit eigenvalues
    assert features.width_bound_count(E, norm2, d, 0.5) == pytest.approx(6.0)
    E = np.array([0.0, 0.3, 5.0])                  # eigenvalues 0, 0.1, 1: degree 2 comes first
    assert features.width_bound_count(E, 5.3, d, np.sqrt(0.3 / 5.3)) == pytest.approx(5.0)
    assert features.width_bound_count(E, 5.3, d, np.sqrt(0.15 / 5.3)) == pytest.approx(6.5)
    with pytest.raises(ValueError, match="L_max"):
        features.width_bound_count(E, 10.0, d, 0.1)
    with pytest.raises(ValueError, match="omit"):     # degree 2 could hold 2 per harmonic > 1/3
        features.width_bound_count([0.0, 1.0], 11.0, d, 0.99)
    with pytest.raises(ValueError, match="eps"):
        features.width_bound_count(E, 5.3, d, 1.0)
    # between N_d(L_eps - 1) and N_d(L_eps) for the kink (degrees below L_eps carry more energy per
    # harmonic than all later ones at d = 4)
    E, norm2 = features.zonal_energies(lambda t: np.maximum(t - 0.5, 0), 4, 60, support=(0.5, 1))
    m = features.width_bound_count(E, norm2, 4, 0.25)
    tail = np.sqrt(1 - np.cumsum(E) / norm2)
    L = int(np.argmax(tail <= 0.25))
    assert features.harmonic_count(L - 1, 4) < m <= features.harmonic_count(L, 4)


def test_train_two_layer_learns_a_single_neuron_and_masks_widths():
    key = jax.random.key(8)
    X, Xt = data.sphere(key, 512, 3), data.sphere(jax.random.fold_in(key, 1), 512, 3)
    f = lambda Z: jax.nn.relu(Z[:, 0] - 0.2)  # noqa: E731
    out = features.train_two_layer(key, X, f(X), Xt, f(Xt), widths=[1, 3], n_restarts=3,
                                   n_steps=800)
    assert out.test_error.shape == (1, 2) and out.train_error.shape == (1, 2)
    assert float(out.test_error.min()) < 0.05
    (W0, b0), (W1, b1) = out.params
    assert W0.shape == (1, 2, 3, 3, 3) and W1.shape == (1, 2, 3, 3, 1)
    # masked output weights of the width-1 networks never move from their initial values, and
    # their hidden units receive no gradient
    init = features.train_two_layer(key, X, f(X), Xt, f(Xt), widths=[1, 3], n_restarts=3,
                                    n_steps=1, step_size=1e-12, final_step_size=1e-12)
    np.testing.assert_allclose(W0[0, 0, :, :, 1:], init.params[0][0][0, 0, :, :, 1:], atol=1e-9)


def test_train_two_layer_separate_runs_equal_batched_runs():
    key = jax.random.key(9)
    X = data.sphere(key, 128, 2)
    y = jnp.abs(X[:, 0])
    both = features.train_two_layer(key, jnp.stack([X, X]), jnp.stack([y, 2 * y]),
                                    jnp.stack([X, X]), jnp.stack([y, 2 * y]), widths=[2],
                                    n_restarts=1, n_steps=200)
    # the summed loss is separable: changing data set 2 must not change data set 1's result
    other = features.train_two_layer(key, jnp.stack([X, X]), jnp.stack([y, -y]),
                                     jnp.stack([X, X]), jnp.stack([y, -y]), widths=[2],
                                     n_restarts=1, n_steps=200)
    assert float(both.test_error[0, 0]) == pytest.approx(float(other.test_error[0, 0]), rel=1e-9)


def test_harmonic_count_closed_forms_and_sum_of_harmonic_spaces():
    import math
    L = np.arange(0, 12)
    assert np.array_equal(features.harmonic_count(L, 2), 2 * L + 1)
    assert np.array_equal(features.harmonic_count(L, 3), (L + 1) ** 2)
    assert np.allclose(features.harmonic_count(L, 4), (L + 1) * (L + 2) * (2 * L + 3) / 6, rtol=1e-14)
    # independent: sum over degrees l <= L of dim H_l(S^{d-1}) = C(l+d-1, d-1) - C(l+d-3, d-1)
    for d in (5, 6, 8):
        dims = [math.comb(l + d - 1, d - 1) - (math.comb(l + d - 3, d - 1) if l >= 2 else 0)
                for l in L]
        assert np.allclose(features.harmonic_count(L, d), np.cumsum(dims), rtol=1e-13)


def test_harmonic_degree_inverts_the_count():
    M = np.array([1.0, 2.0, 7.0, 100.0, 1024.0])
    assert np.allclose(features.harmonic_degree(M, 2), (M - 1) / 2, rtol=1e-12, atol=1e-12)
    assert np.allclose(features.harmonic_degree(M, 3), np.sqrt(M) - 1, rtol=1e-12, atol=1e-12)
    L = np.array([0.0, 0.3, 2.5, 13.0, 40.7])
    for d in (4, 6):
        assert np.allclose(features.harmonic_degree(features.harmonic_count(L, d), d), L,
                           rtol=1e-12, atol=1e-12)


def test_harmonic_degree_slope():
    m = np.geomspace(32, 1024, 12)
    ref = np.polyfit(np.log(m), np.log((m - 1) / 2), 1)[0]          # d = 2: L = (M - 1)/2
    assert features.harmonic_degree_slope(m, 2) == pytest.approx(ref, rel=1e-12)
    ref3 = np.polyfit(np.log(m), np.log(np.sqrt(m) - 1), 1)[0]      # d = 3: L = sqrt(M) - 1
    assert features.harmonic_degree_slope(m, 3) == pytest.approx(ref3, rel=1e-12)
    big = np.geomspace(1e8, 1e10, 5)                                 # -> 1/(d - 1) for large M
    for d in (2, 3, 4, 6):
        assert features.harmonic_degree_slope(big, d) == pytest.approx(1 / (d - 1), rel=2e-2)
    # at finite M the slope exceeds 1/(d - 1) for d >= 3 (lower-order terms of the count)
    assert features.harmonic_degree_slope(m, 4) > 1 / 3 + 0.05


@pytest.mark.parametrize("call, match", [
    (lambda: features.harmonic_count(2.0, 1), "d"),
    (lambda: features.harmonic_count(-1.0, 3), "L"),
    (lambda: features.harmonic_degree(0.5, 3), "M"),
    (lambda: features.harmonic_degree(10.0, 2.5), "d"),
    (lambda: features.harmonic_degree_slope([1.0, 10.0], 3), "m must"),
    (lambda: features.harmonic_degree_slope([10.0, 10.0], 3), "m must"),
    (lambda: features.nested_least_squares(jnp.ones((5, 2)), jnp.ones(4), jnp.ones((3, 2)),
                                           jnp.ones(3)), "Phi_train and y_train"),
    (lambda: features.nested_least_squares(jnp.ones((5, 2)), jnp.ones(5), jnp.ones((3, 3)),
                                           jnp.ones(3)), "Phi_train and Phi_test"),
    (lambda: features.nested_least_squares(jnp.ones((5, 2)), jnp.ones(5), jnp.ones((3, 2)),
                                           jnp.ones(3), ridge=-1.0), "ridge"),
    (lambda: features.nested_least_squares(jnp.ones((5, 2)), jnp.ones((5, 2)), jnp.ones((3, 2)),
                                           jnp.ones((3, 3))), "same number of targets"),
    (lambda: features.relu_units(jnp.ones((4, 2)), jnp.ones((3, 2))), "V"),
    (lambda: features.sphere_feature_curve(jax.random.key(0), jnp.ones((1, 3)), jnp.ones((4, 4)),
                                           n_train=10), "target_units and feature_units"),
    (lambda: features.sphere_feature_curve(jax.random.key(0), jnp.ones((2, 3)), jnp.ones((4, 3)),
                                           target_weights=jnp.ones(3), n_train=10),
     "target_weights"),
    (lambda: features.features_needed(jax.random.key(0), jnp.ones((1, 3)), eps=0.1,
                                      n_features=0), "n_features"),
    (lambda: features.features_needed(jax.random.key(0), jnp.ones((1, 3)), eps=0.1,
                                      n_features=4, n_draws=0), "n_draws"),
    (lambda: features.features_needed(jax.random.key(0), jnp.ones((1, 3)), eps=0.1,
                                      n_features=4, target_weights=jnp.ones((2, 1))), "one target"),
    (lambda: features.features_needed(jax.random.key(0), jnp.ones((1, 3)), eps=0.0,
                                      n_features=4), "eps"),
    (lambda: features.features_needed(jax.random.key(0), jnp.ones((1, 3)), eps=0.1,
                                      n_features=4, samples_per_feature=1), "samples_per_feature"),
    (lambda: features.zonal_energies(lambda t: t, 3, 2, support=(0.5, 0.2)), "support"),
    (lambda: features.zonal_energies(lambda t: t[:2], 3, 2), "profile"),
    (lambda: features.width_bound_count([1.0, -1.0], 1.0, 3, 0.1), "energies"),
    (lambda: features.width_bound_count([1.0, 1.0], 0.0, 3, 0.1), "norm2"),
    (lambda: features.train_two_layer(jax.random.key(0), jnp.ones((4, 2)), jnp.ones(3),
                                      jnp.ones((4, 2)), jnp.ones(4), widths=[1]), "y must"),
    (lambda: features.train_two_layer(jax.random.key(0), jnp.ones((4, 2)), jnp.ones(4),
                                      jnp.ones((4, 2)), jnp.ones(4), widths=[]), "widths"),
    (lambda: features.train_two_layer(jax.random.key(0), jnp.ones((4, 2)), jnp.ones(4),
                                      jnp.ones((4, 2)), jnp.ones(4), widths=[0]), "widths"),
])
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
