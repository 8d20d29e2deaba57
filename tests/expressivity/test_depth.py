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
