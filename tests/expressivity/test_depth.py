"""lib.expressivity.depth: exact region counts of constructed nets, Yarotsky's error, and validation."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import nets
from lib.expressivity import depth as regions

pytestmark = pytest.mark.usefixtures("x64")

UNIT = (jnp.array([0.0]), jnp.array([1.0]))


def _apply(params, x):
    return nets.apply_mlp(params, x, parameterization="standard", b_std=1.0)[:, 0]


@pytest.mark.parametrize("n,depth", [(2, 1), (2, 4), (3, 3), (4, 2), (5, 2)])
def test_zigzag_has_n_to_the_depth_pieces(n, depth):
    params = regions.zigzag_params(n, depth)
    assert regions.count_regions_on_segment(params, *UNIT) == n ** depth
    # Independent check: the composed map g(x) = n-tooth zigzag, evaluated directly.
    x = np.linspace(0, 1, 1001)
    y = x.copy()
    for _ in range(depth):
        k = np.minimum(np.floor(n * y), n - 1)
        frac = n * y - k
        y = np.where(k % 2 == 0, frac, 1 - frac)
    np.testing.assert_allclose(_apply(params, jnp.asarray(x)[:, None]), y, atol=1e-9)


@pytest.mark.parametrize("m", [1, 2, 5, 8])
def test_yarotsky_square_error_is_exactly_4_to_minus_m_plus_1(m):
    params = regions.yarotsky_square_params(m)
    x = jnp.linspace(0, 1, 2 ** (m + 3) + 1)  # contains every midpoint of the 2^-m grid
    err = jnp.max(jnp.abs(_apply(params, x[:, None]) - x ** 2))
    assert float(err) == pytest.approx(4.0 ** -(m + 1), rel=1e-9)
    # f_m interpolates x² at the grid k/2^m.
    grid = jnp.arange(2 ** m + 1) / 2 ** m
    np.testing.assert_allclose(_apply(params, grid[:, None]), grid ** 2, atol=1e-12)
    assert regions.count_regions_on_segment(params, *UNIT) == 2 ** m


def test_one_layer_counts_match_hyperplane_crossings():
    """With one hidden layer the regions on a segment are 1 + (number of units whose
    hyperplane w·x + b = 0 crosses the segment)."""
    key = jax.random.key(3)
    W = jax.random.normal(key, (2, 40))
    b = jax.random.normal(jax.random.fold_in(key, 1), (40,))
    params = [(W, b), (jnp.ones((40, 1)), jnp.zeros(1))]
    a, c = jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.5])
    sa, sc = a @ W + b, c @ W + b
    crossings = int(jnp.sum(jnp.sign(sa) != jnp.sign(sc)))
    assert regions.count_regions_on_segment(params, a, c) == 1 + crossings


def test_box_count_respects_zaslavsky_bound_and_sees_all_regions_of_few_lines():
    # Three lines in general position through the box: 7 regions, all meeting [-1, 1]^2.
    W = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    b = jnp.array([0.0, 0.0, -0.5])
    params = [(W, b), (jnp.ones((3, 1)), jnp.zeros(1))]
    count = regions.count_regions_in_box(params, jnp.array([-1.0, -1.0]), jnp.array([1.0, 1.0]),
                                         resolution=300)
    assert count == regions.hyperplane_arrangement_bound(3, 2) == 7


def test_line_arrangement_count_hand_examples():
    W = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    box = jnp.array([-1.0, -1.0]), jnp.array([1.0, 1.0])
    # three lines in general position, all three intersections inside: 1 + 3 + 3 = 7
    assert regions.line_arrangement_regions_in_box(W, jnp.array([0.0, 0.0, -0.5]), *box) == 7
    # the third line x + y = 5 misses the box: the two axes give 4 regions
    assert regions.line_arrangement_regions_in_box(W, jnp.array([0.0, 0.0, -5.0]), *box) == 4
    # two parallel lines x = ±0.5 and the axis y = 0: 1 + 3 + 2 = 6
    Wp = jnp.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert regions.line_arrangement_regions_in_box(Wp, jnp.array([0.5, -0.5, 0.0]), *box) == 6


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_line_arrangement_count_matches_a_fine_grid(dtype):
    """Few random lines: no region is thinner than a fine grid step, so the grid count of the
    activation patterns (an independent count) is exact and must equal the formula."""
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        pytest.skip("float64 disabled")
    key = jax.random.key(3)
    params = nets.init_mlp(key, [2, 7, 1], parameterization="standard", w_std=np.sqrt(2.0))
    W, b = params[0][0].astype(dtype), 0.3 * params[0][1].astype(dtype)
    box = jnp.array([-2.0, -2.0], dtype), jnp.array([2.0, 2.0], dtype)
    exact = regions.line_arrangement_regions_in_box(W, b, *box)
    grid = regions.count_regions_in_box([(W, b), params[1]], *box, resolution=1500)
    assert exact == grid
    assert exact <= regions.hyperplane_arrangement_bound(7, 2)


def test_line_arrangement_count_validates():
    with pytest.raises(ValueError, match="shape"):
        regions.line_arrangement_regions_in_box(jnp.ones((3, 2)), jnp.ones(2), jnp.zeros(2),
                                                jnp.ones(2))
    with pytest.raises(ValueError, match="upper"):
        regions.line_arrangement_regions_in_box(jnp.ones((2, 2)), jnp.ones(2), jnp.zeros(2),
                                                jnp.zeros(2))
    with pytest.raises(ValueError, match="b contains NaN"):
        regions.line_arrangement_regions_in_box(jnp.ones((2, 2)), jnp.array([jnp.nan, 1.0]),
                                                jnp.zeros(2), jnp.ones(2))


def test_bounds():
    assert regions.hyperplane_arrangement_bound(4, 1) == 5
    assert regions.montufar_lower_bound(4, 3, 1) == 4 ** 2 * 5
    assert regions.montufar_lower_bound(4, 1, 2) == 1 + 4 + 6


@pytest.mark.parametrize("call,match", [
    (lambda: regions.zigzag_params(1, 2), "n"),
    (lambda: regions.zigzag_params(2, 2.0), "depth"),
    (lambda: regions.yarotsky_square_params(0), "m"),
    (lambda: regions.count_regions_on_segment(regions.zigzag_params(2, 2), jnp.array([0.0, 0.0]),
                                              jnp.array([1.0, 1.0])), "start"),
    (lambda: regions.count_regions_on_segment(regions.zigzag_params(2, 2), jnp.array([jnp.nan]),
                                              jnp.array([1.0])), "start"),
    (lambda: regions.count_regions_on_segment(regions.zigzag_params(2, 2), *UNIT, resolution=1),
     "resolution"),
    (lambda: regions.count_regions_on_segment([(jnp.ones((1, 2)), jnp.ones(2))], *UNIT), "params"),
    (lambda: regions.montufar_lower_bound(1, 2, 2), "width"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _numpy_sawtooth(x, k):
    y = np.asarray(x, dtype=float).copy()
    for _ in range(k):
        y = np.where(y <= 0.5, 2 * y, 2 - 2 * y)
    return y


def test_expected_regions_one_layer_matches_gaussian_cdf_closed_form():
    """One hidden layer: ẑ(t) is affine in t, so ∫|ẑ'| φ_σ(ẑ) dt = |Φ(ẑ(1)/σ) − Φ(ẑ(0)/σ)|."""
    from scipy.stats import norm
    key = jax.random.key(5)
    W = jax.random.normal(key, (3, 7))
    params = [(W, jnp.zeros(7)), (jnp.ones((7, 1)), jnp.zeros(1))]
    a, c = jnp.array([-1.0, 0.5, 2.0]), jnp.array([1.5, -1.0, 0.0])
    sigma = 0.7
    za, zc = np.asarray(a @ W), np.asarray(c @ W)
    exact = 1 + np.sum(np.abs(norm.cdf(zc / sigma) - norm.cdf(za / sigma)))
    assert regions.expected_regions_on_segment(params, a, c, sigma) == pytest.approx(exact, rel=1e-7)


def test_expected_regions_is_the_monte_carlo_mean_over_biases():
    """Deep net: average the region count over independent N(0, σ²) biases and compare with the
    average of the formula over the same draws (both estimate the same expectation)."""
    key = jax.random.key(11)
    widths, sigma, R = [2, 6, 6, 1], 0.5, 150
    base = nets.init_mlp(key, widths, parameterization="standard", w_std=np.sqrt(2.0))
    a, c = jnp.array([-2.0, -1.0]), jnp.array([2.0, 1.5])
    counts, expected = [], []
    for r in range(R):
        bkey = jax.random.fold_in(key, 100 + r)
        params = [(W, sigma * jax.random.normal(jax.random.fold_in(bkey, l), b.shape))
                  for l, (W, b) in enumerate(base)]
        counts.append(regions.count_regions_on_segment(params, a, c, resolution=2 ** 14))
        expected.append(regions.expected_regions_on_segment(params, a, c, sigma))
    diff = np.array(counts) - np.array(expected)
    assert abs(diff.mean()) <= 4 * diff.std(ddof=1) / np.sqrt(R), (diff.mean(), diff.std())
    # and the formula is not trivially close: a 15 % larger density would be rejected
    scaled = np.array(counts) - (1 + 1.15 * (np.array(expected) - 1))
    assert abs(scaled.mean()) > 4 * scaled.std(ddof=1) / np.sqrt(R)


def test_expected_regions_float32():
    params = [(W.astype(jnp.float32), b.astype(jnp.float32))
              for W, b in nets.init_mlp(jax.random.key(2), [2, 5, 5, 1],
                                        parameterization="standard", b_std=1.0)]
    a, c = jnp.array([-1.0, 0.0], jnp.float32), jnp.array([1.0, 1.0], jnp.float32)
    e32 = regions.expected_regions_on_segment(params, a, c, 0.3)
    p64 = [(W.astype(jnp.float64), b.astype(jnp.float64)) for W, b in params]
    e64 = regions.expected_regions_on_segment(p64, a.astype(jnp.float64), c.astype(jnp.float64), 0.3)
    assert e32 == pytest.approx(e64, rel=1e-4)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_sawtooth_bound_attained_by_the_constant_one_half(k):
    x = (np.arange(2 ** 14) + 0.5) / 2 ** 14
    assert np.mean(np.abs(_numpy_sawtooth(x, k) - 0.5)) == pytest.approx(0.25, abs=1e-12)
    assert regions.sawtooth_l1_lower_bound(k, 1) == 0.25


def test_best_affine_fit_of_a_tooth_costs_a_quarter():
    """Brute force over affine functions a + b x on one tent: nothing beats ¼ (the proof's
    one-tooth step), and the constant ½ attains it."""
    x = (np.arange(4096) + 0.5) / 4096
    tent = _numpy_sawtooth(x, 1)
    a, b = np.meshgrid(np.linspace(-0.5, 1.5, 81), np.linspace(-2, 2, 81))
    errs = np.mean(np.abs(tent[None, None, :] - a[..., None] - b[..., None] * x), axis=-1)
    assert errs.min() >= 0.25 - 1e-9
    assert errs.min() == pytest.approx(0.25, abs=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_best_affine_l1_fit_against_closed_forms_and_brute_force(dtype):
    # A tent sampled at an even number of midpoints per half: the optimum is exactly ¼.
    x = (np.arange(256) + 0.5) / 256
    a, b, err = regions.best_affine_l1_fit(x.astype(dtype), _numpy_sawtooth(x, 1).astype(dtype))
    assert err == pytest.approx(0.25, abs=1e-7)
    # Points on a line are fitted exactly.
    a, b, err = regions.best_affine_l1_fit(x, 0.3 - 2.0 * x)
    assert (a, b, err) == pytest.approx((0.3, -2.0, 0.0), abs=1e-9)
    # Independent implementation: an L1-optimal line passes through two of the points.
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(size=15), rng.standard_cauchy(size=15)
    i, j = np.triu_indices(15, 1)
    slopes = (ys[j] - ys[i]) / (xs[j] - xs[i])
    brute = np.mean(np.abs(ys - ys[i, None] - slopes[:, None] * (xs - xs[i, None])), axis=1).min()
    assert regions.best_affine_l1_fit(xs, ys)[2] == pytest.approx(brute, abs=1e-8)


@pytest.mark.parametrize("k,j", [(1, 0), (3, 0), (3, 2), (5, 7), (5, 15)])
def test_sawtooth_partial_fit_pieces_error_and_bound(k, j):
    params = regions.sawtooth_partial_fit_params(k, j)
    assert params[0][0].shape == (1, 2 * j + 2)
    assert regions.count_regions_on_segment(params, *UNIT) == 2 * j + 2
    x = (np.arange(2 ** 16) + 0.5) / 2 ** 16
    g = np.asarray(_apply(params, jnp.asarray(x)[:, None]))
    f = _numpy_sawtooth(x, k)
    h = 2.0 ** (1 - k)
    follow = x <= (j + 0.25) * h
    np.testing.assert_allclose(g[follow], f[follow], atol=1e-9)
    np.testing.assert_allclose(g[~follow], 0.5, atol=1e-9)
    err = np.mean(np.abs(f - g))
    assert err == pytest.approx(regions.sawtooth_partial_fit_error(k, j), abs=1e-12)
    assert regions.sawtooth_l1_lower_bound(k, 2 * j + 2) <= err


def test_sawtooth_lower_bound_values():
    assert regions.sawtooth_l1_lower_bound(6, 2) == pytest.approx(0.25 * (1 - 1 / 32))
    assert regions.sawtooth_l1_lower_bound(6, 33) == 0.0
    assert regions.sawtooth_l1_lower_bound(6, 100) == 0.0


@pytest.mark.parametrize("call,match", [
    (lambda: regions.sawtooth_l1_lower_bound(0, 2), "k"),
    (lambda: regions.sawtooth_l1_lower_bound(3, 0), "pieces"),
    (lambda: regions.sawtooth_partial_fit_params(3, 4), "j"),
    (lambda: regions.sawtooth_partial_fit_error(3, -1), "j"),
    (lambda: regions.best_affine_l1_fit(np.zeros(3), np.zeros(4)), "x and y"),
    (lambda: regions.best_affine_l1_fit(np.zeros((3, 2)), np.zeros(3)), "x"),
    (lambda: regions.expected_regions_on_segment(regions.zigzag_params(2, 2), *UNIT, 0.0),
     "bias_std"),
    (lambda: regions.expected_regions_on_segment(regions.zigzag_params(2, 2),
                                                 jnp.array([0.0, 0.0]), jnp.array([1.0, 1.0]),
                                                 1.0), "start"),
])
def test_new_functions_validate_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
