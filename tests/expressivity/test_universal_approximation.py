"""lib.expressivity.universal_approximation: constructed two-layer nets vs independent formulas, batched fitting, validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit

from lib.expressivity import universal_approximation as A
from lib import nets

pytestmark = pytest.mark.usefixtures("x64")


def _relu_net(params, x):
    return np.asarray(nets.apply_mlp(params, jnp.asarray(x)[:, None], parameterization="standard",
                                     b_std=1.0)[:, 0])


def _sigmoid_net(params, x):
    return np.asarray(nets.apply_mlp(params, jnp.asarray(x)[:, None], activation="sigmoid",
                                     parameterization="standard", b_std=1.0)[:, 0])


def test_relu_interpolant_is_the_piecewise_linear_interpolant():
    rng = np.random.default_rng(0)
    knots = np.sort(rng.uniform(-2, 3, 12))
    values = rng.normal(size=12)
    params = A.relu_interpolant(knots, values)
    assert params[0][0].shape == (1, 11) and params[1][0].shape == (11, 1)  # width M = 11
    x = np.linspace(knots[0], knots[-1], 5001)
    np.testing.assert_allclose(_relu_net(params, x), np.interp(x, knots, values), atol=1e-12)
    np.testing.assert_allclose(_relu_net(params, knots), values, atol=1e-12)
    # Outside: constant on the left, last slope on the right.
    left = _relu_net(params, np.array([knots[0] - 5.0, knots[0] - 0.1]))
    np.testing.assert_allclose(left, values[0], atol=1e-12)
    last_slope = (values[-1] - values[-2]) / (knots[-1] - knots[-2])
    np.testing.assert_allclose(_relu_net(params, np.array([knots[-1] + 2.0])),
                               values[-1] + 2.0 * last_slope, atol=1e-10)


@pytest.mark.parametrize("m", [2, 4, 16, 128])
def test_kink_interpolation_error_is_2_theta_one_minus_theta_h(m):
    # |x - 1/3| on the uniform grid of step h = 1/m (m a power of 2): the error is 0 except on
    # the cell containing 1/3, where it peaks at 1/3 with value 2θ(1−θ)h, θ = frac(m/3).
    knots = np.linspace(0, 1, m + 1)
    params = A.relu_interpolant(knots, np.abs(knots - 1 / 3))
    x = np.sort(np.concatenate([np.linspace(0, 1, 4097), [1 / 3]]))
    err = np.max(np.abs(_relu_net(params, x) - np.abs(x - 1 / 3)))
    theta = (m / 3) % 1
    assert err == pytest.approx(2 * theta * (1 - theta) / m, rel=1e-9)
    assert err <= 0.5 / m  # the Lipschitz bound L h / 2


def test_sigmoid_staircase_tends_to_the_nearest_knot_step_function():
    knots = np.linspace(0, 1, 9)
    values = np.cos(5 * knots)
    params = A.sigmoid_staircase(knots, values, sharpness=1e5)
    assert params[0][0].shape == (1, 8)
    # Points at least 1e-3 away from every midpoint: the value at the nearest knot.
    x = np.linspace(0, 1, 1001)
    mids = (knots[:-1] + knots[1:]) / 2
    keep = np.min(np.abs(x[:, None] - mids[None, :]), axis=1) > 1e-3
    nearest = values[np.argmin(np.abs(x[:, None] - knots[None, :]), axis=1)]
    np.testing.assert_allclose(_sigmoid_net(params, x[keep]), nearest[keep], atol=1e-12)
    # At a midpoint the sigmoid is 1/2: the average of the two neighbouring values.
    np.testing.assert_allclose(_sigmoid_net(params, mids[2:3]), (values[2] + values[3]) / 2,
                               atol=1e-12)


@pytest.mark.parametrize("c", [0.5, 2.0, 10.0, 40.0])
def test_staircase_tail_bounds_the_sum_of_sigmoid_deviations(c):
    # Direct evaluation of sup_x Σ_k σ(−c |x − k|) over many integer centres k (h = 1, a = c).
    centres = np.arange(-200, 201, dtype=float)
    x = np.linspace(-1, 1, 2001)
    total = expit(-c * np.abs(x[:, None] - centres[None, :])).sum(axis=1)
    s = A.staircase_tail(c, n_terms=400)
    assert total.max() <= s + 1e-12
    if c >= 10:  # for sharp steps the bound is tight up to the half-offset terms
        assert s - total.max() <= 2 * expit(-c / 2)
    assert A.staircase_tail(200.0) == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("m,sharp", [(4, 10.0), (16, 200.0), (64, 640.0)])
def test_staircase_error_bound_holds_for_lipschitz_and_holder_targets(m, sharp):
    knots = np.linspace(0, 1, m + 1)
    h = 1 / m
    x = np.sort(np.concatenate([np.linspace(0, 1, 8193), [1 / 3]]))
    for f, omega in [(lambda t: np.sin(7 * t), lambda d: 7 * d),
                     (lambda t: np.sqrt(np.abs(t - 1 / 3)), np.sqrt)]:
        params = A.sigmoid_staircase(knots, f(knots), sharpness=sharp)
        err = np.max(np.abs(_sigmoid_net(params, x) - f(x)))
        assert err <= A.staircase_error_bound(omega(h / 2), omega(h), sharpness=sharp, spacing=h)


def test_fit_two_layer_stacked_nets_train_independently():
    x = jnp.linspace(-1, 1, 64)[:, None]
    Y = jnp.stack([jnp.sin(3 * x[:, 0]), jnp.abs(x[:, 0])], axis=1)
    key = jax.random.key(0)
    both = A.fit_two_layer(key, x, Y, width=8, n_steps=200, step_size=1e-2, record_every=50)
    alone = A.fit_two_layer(key, x, Y[:, 0], width=8, n_steps=200, step_size=1e-2,
                            record_every=50)
    assert both.history.shape == (4, 2) and alone.history.shape == (4, 1)
    # Network 0 is unaffected by network 1 being trained next to it (separable loss, Adam).
    for (Wb, bb), (Wa, ba) in zip(both.params, alone.params):
        np.testing.assert_allclose(Wb[0], Wa[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bb[0], ba[0], rtol=1e-10, atol=1e-12)
    pred = A.apply_stacked(both.params, x)
    assert pred.shape == (64, 2)
    np.testing.assert_allclose(jnp.mean((pred - Y) ** 2, axis=0), both.history[-1], rtol=1e-10)
    assert bool(jnp.all(both.history[-1] < both.history[0]))


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="knots"):
        A.relu_interpolant([0.0, 1.0, 0.5], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="knots"):
        A.relu_interpolant([0.0], [1.0])
    with pytest.raises(ValueError, match="knots"):
        A.relu_interpolant(jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="values"):
        A.relu_interpolant([0.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="values"):
        A.relu_interpolant([0.0, 1.0], [0.0, jnp.nan])
    with pytest.raises(ValueError, match="sharpness"):
        A.sigmoid_staircase([0.0, 1.0], [0.0, 1.0], sharpness=0.0)
    with pytest.raises(ValueError, match="spacing"):
        A.staircase_error_bound(0.1, 0.2, sharpness=1.0, spacing=-1.0)
    x = jnp.zeros((5, 1))
    with pytest.raises(ValueError, match="rows"):
        A.fit_two_layer(jax.random.key(0), x, jnp.zeros(4), width=2, n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="width"):
        A.fit_two_layer(jax.random.key(0), x, jnp.zeros(5), width=0, n_steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="x"):
        A.fit_two_layer(jax.random.key(0), jnp.zeros(5), jnp.zeros(5), width=2, n_steps=1,
                        step_size=0.1)


# --- integral representation (ridgelet transform) -------------------------------------------

def _phi(t):
    return jnp.exp(-t ** 2 / 2) / jnp.sqrt(2 * jnp.pi)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5])
def test_gaussian_derivative_matches_autodiff_and_its_fourier_transform(k):
    t = jnp.linspace(-5, 5, 41)
    d = _phi
    for _ in range(k):
        d = jax.grad(d)
    np.testing.assert_allclose(A.gaussian_derivative(t, order=k), jax.vmap(d)(t), atol=1e-14)
    # ψ̂(ξ) = ∫ ψ(t) e^{−iξt} dt = (iξ)^k e^{−ξ²/2}: trapezoid rule (spectrally accurate here).
    s = np.linspace(-14, 14, 2801)
    psi = np.asarray(A.gaussian_derivative(s, order=k))
    for xi in (0.0, 0.7, 2.0):
        ft = np.trapezoid(psi * np.exp(-1j * xi * s), s)
        assert ft == pytest.approx((1j * xi) ** k * np.exp(-xi ** 2 / 2), abs=1e-12)


def test_gaussian_derivative_float32():
    out = A.gaussian_derivative(jnp.linspace(-3, 3, 7, dtype=jnp.float32), order=4)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, (np.linspace(-3, 3, 7) ** 4 - 6 * np.linspace(-3, 3, 7) ** 2 + 3)
                               * np.exp(-np.linspace(-3, 3, 7) ** 2 / 2) / np.sqrt(2 * np.pi),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k,d", [(4, 1), (6, 1), (8, 1), (5, 1), (4, 2), (6, 2), (7, 3), (8, 3)])
def test_relu_admissibility_constant_matches_the_fourier_integral(k, d):
    from scipy.integrate import quad
    # (2π)^{d−1} ∫ conj((iξ)^k) e^{−ξ²/2} (−1/ξ²) |ξ|^{−d} dξ, real and imaginary parts separately.
    def integrand(xi, part):
        val = np.conj((1j * xi) ** k) * np.exp(-xi ** 2 / 2) * (-1 / xi ** 2) / abs(xi) ** d
        return val.real if part == 0 else val.imag
    total = sum(quad(integrand, lo, hi, args=(part,))[0] * (1j if part else 1)
                for part in (0, 1) for lo, hi in ((-np.inf, 0), (0, np.inf)))
    expected = (2 * np.pi) ** (d - 1) * total
    assert abs(expected.imag) < 1e-10
    assert A.relu_admissibility_constant(order=k, d=d) == pytest.approx(expected.real, abs=1e-9)
    assert A.relu_admissibility_constant(order=4) == -2.0


def test_ridgelet_transform_of_a_gaussian_matches_the_closed_form():
    # f = N(m, σ²) density: T(a, b) = |a| φ^{(4)}((b − a m)/S)/S⁵ with S² = 1 + a² σ².
    m, sig = 0.3, 0.5
    y = jnp.linspace(-6, 6, 801)
    f_y = _phi((y - m) / sig) / sig
    grid = A.ridgelet_quadrature(scale_cutoff=6.0, n_scales=8, n_offsets=64, support=(-6, 6))
    T = A.ridgelet_transform(y, f_y, grid.a, grid.b)
    S = jnp.sqrt(1 + grid.a[:, None] ** 2 * sig ** 2)
    closed = jnp.abs(grid.a)[:, None] * A.gaussian_derivative((grid.b - grid.a[:, None] * m) / S,
                                                              order=4) / S ** 5
    np.testing.assert_allclose(T, closed, atol=1e-12)
    # A shared (n_b,) offset row is broadcast to every scale.
    T1 = A.ridgelet_transform(y, f_y, grid.a, grid.b[0])
    np.testing.assert_allclose(T1[0], T[0], atol=1e-14)


def test_dual_ridgelet_is_the_relu_network_it_describes():
    grid = A.ridgelet_quadrature(scale_cutoff=2.0, n_scales=4, n_offsets=16, support=(-1, 1))
    T = jax.random.normal(jax.random.key(1), grid.b.shape, dtype=jnp.float64)
    x = jnp.linspace(-2, 2, 33)
    coef = (grid.a_weights[:, None] * grid.b_weights * T / jnp.abs(grid.a)[:, None]).reshape(-1)
    params = [(jnp.repeat(grid.a, grid.b.shape[1])[None, :], -grid.b.reshape(-1)),
              (coef[:, None], jnp.zeros(1))]
    np.testing.assert_allclose(A.dual_ridgelet(x, grid, T), _relu_net(params, x), atol=1e-12)


def test_ridgelet_quadrature_nodes_and_weights():
    grid = A.ridgelet_quadrature(scale_cutoff=3.0, n_scales=6, n_offsets=11, support=(-1, 2),
                                 margin=4.0)
    assert float(jnp.sum(grid.a_weights)) == pytest.approx(6.0)             # ∫_{−3}^{3} da
    assert float(jnp.sum(grid.a_weights * grid.a ** 4)) == pytest.approx(2 * 3.0 ** 5 / 5)
    lo = np.minimum(-grid.a, 2 * grid.a) - 4
    hi = np.maximum(-grid.a, 2 * grid.a) + 4
    np.testing.assert_allclose(grid.b[:, 0], lo, atol=1e-12)
    np.testing.assert_allclose(grid.b[:, -1], hi, atol=1e-12)
    np.testing.assert_allclose(jnp.sum(grid.b_weights, axis=1), hi - lo, atol=1e-12)


@pytest.mark.parametrize("cutoff", [1.0, 4.0])
def test_truncated_reconstruction_is_a_gaussian_blur_within_the_kink_bound(cutoff):
    # ψ = φ⁗, η = ReLU, K = −2: R†R f over |a| ≤ A equals K (f * N(0, 1/A²)); f = N(m, σ²) so the
    # blur is N(m, σ² + 1/A²). The b-sum's kink error is below dual_ridgelet_kink_bound.
    m, sig = -0.4, 0.4
    y = jnp.linspace(-5, 5, 401)
    grid = A.ridgelet_quadrature(scale_cutoff=cutoff, n_scales=int(max(32, 24 * cutoff)),
                                 n_offsets=512, support=(-5, 5))
    T = A.ridgelet_transform(y, _phi((y - m) / sig) / sig, grid.a, grid.b)
    x = jnp.linspace(-2, 2, 81)
    K = A.relu_admissibility_constant(order=4)
    rec = A.dual_ridgelet(x, grid, T) / K
    s2 = sig ** 2 + 1 / cutoff ** 2
    blur = _phi((x - m) / jnp.sqrt(s2)) / jnp.sqrt(s2)
    bound = A.dual_ridgelet_kink_bound(x, grid, y, _phi((y - m) / sig) / sig) / abs(K)
    assert bool(jnp.all(jnp.abs(rec - blur) <= bound))
    # The test separates the blur from f itself (and from a 10% wrong K) by far more than the bound.
    f_x = _phi((x - m) / sig) / sig
    assert float(jnp.max(jnp.abs(blur - f_x))) > 30 * float(jnp.max(bound))
    assert float(jnp.max(jnp.abs(0.1 * blur))) > 30 * float(jnp.max(bound))


def test_ridgelet_validation_names_the_argument():
    with pytest.raises(ValueError, match="order"):
        A.relu_admissibility_constant(order=2, d=1)
    with pytest.raises(ValueError, match="order"):
        A.gaussian_derivative(jnp.zeros(3), order=-1)
    with pytest.raises(ValueError, match="n_scales"):
        A.ridgelet_quadrature(scale_cutoff=1.0, n_scales=5, n_offsets=8, support=(0, 1))
    with pytest.raises(ValueError, match="scale_cutoff"):
        A.ridgelet_quadrature(scale_cutoff=0.0, n_scales=4, n_offsets=8, support=(0, 1))
    with pytest.raises(ValueError, match="support"):
        A.ridgelet_quadrature(scale_cutoff=1.0, n_scales=4, n_offsets=8, support=(1, 0))
    grid = A.ridgelet_quadrature(scale_cutoff=1.0, n_scales=4, n_offsets=8, support=(0, 1))
    with pytest.raises(ValueError, match="y"):
        A.ridgelet_transform(jnp.array([1.0, 0.0]), jnp.zeros(2), grid.a, grid.b)
    with pytest.raises(ValueError, match="f_y"):
        A.ridgelet_transform(jnp.linspace(0, 1, 5), jnp.zeros(4), grid.a, grid.b)
    with pytest.raises(ValueError, match="b"):
        A.ridgelet_transform(jnp.linspace(0, 1, 5), jnp.zeros(5), grid.a, grid.b[:2])
    with pytest.raises(ValueError, match="T"):
        A.dual_ridgelet(jnp.zeros(3), grid, jnp.zeros((4, 7)))


@pytest.mark.parametrize("c", [5.0, 20.0, 80.0])
def test_staircase_slope_error_matches_a_direct_staircase_of_the_line(c):
    # The staircase of x -> x with knots at the integers -200..200 (steps at the half-integers),
    # evaluated on a fine grid of one central cell: its sup error and the curvature at the maximum.
    u = np.linspace(-0.5, 0.5, 200001)
    steps = np.arange(-200, 200) + 0.5
    stair = -200 + expit(c * (u[:, None] - steps[None, :])).sum(axis=1)
    e = u - stair
    E, curv = A.staircase_slope_error(c)
    assert E == pytest.approx(np.max(np.abs(e)), rel=1e-8)
    i = np.argmax(e)
    du = u[1] - u[0]
    assert curv == pytest.approx(abs(e[i + 50] - 2 * e[i] + e[i - 50]) / (50 * du) ** 2, rel=1e-3)
    with pytest.raises(ValueError, match="c"):
        A.staircase_slope_error(0.0)
