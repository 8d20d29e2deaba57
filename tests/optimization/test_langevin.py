"""lib.optimization.langevin: Gibbs densities, distances and closed forms against independent computations."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps
from scipy.integrate import trapezoid

from lib import mfld
from lib.optimization import langevin

pytestmark = pytest.mark.usefixtures("x64")


def test_gibbs_of_a_quadratic_is_gaussian():
    grid = jnp.linspace(-6, 6, 20001)
    density, cdf = langevin.gibbs_on_grid(1.5 * grid**2, grid, 2.0)     # N(0, 1/(2*3))
    np.testing.assert_allclose(density, sps.norm.pdf(grid, scale=np.sqrt(1 / 6)), atol=1e-6)
    np.testing.assert_allclose(cdf, sps.norm.cdf(grid, scale=np.sqrt(1 / 6)), atol=1e-6)


def test_double_well_shape():
    assert float(langevin.double_well(jnp.array(0.0), barrier=2.0)) == 2.0
    assert float(langevin.double_well(jnp.array(1.0), barrier=2.0)) == 0.0
    x = jnp.linspace(-2, 2, 9)
    grad = jax.vmap(jax.grad(lambda t: langevin.double_well(t, barrier=1.5, tilt=0.2)))(x)
    np.testing.assert_allclose(langevin.double_well_grad(x, barrier=1.5, tilt=0.2), grad, rtol=1e-12)


def test_kolmogorov_distance_matches_scipy():
    samples = jax.random.normal(jax.random.key(0), (500,))
    grid = jnp.linspace(-8, 8, 16001)
    ours = langevin.kolmogorov_distance(samples, grid, sps.norm.cdf(grid))
    np.testing.assert_allclose(ours, sps.kstest(np.asarray(samples), "norm").statistic, atol=1e-6)


def test_gaussian_kl_matches_quadrature():
    x = np.linspace(-15, 15, 200001)
    p, q = sps.norm.pdf(x, 0.7, np.sqrt(0.5)), sps.norm.pdf(x, 0, np.sqrt(2.0))
    expect = trapezoid(p * np.log(p / q), x)
    np.testing.assert_allclose(langevin.gaussian_kl(0.7, 0.5, 2.0), expect, rtol=1e-6)


def test_ula_variance_matches_the_recursion_and_simulation():
    m, beta, eta = 3.0, 2.0, 0.2
    var = 0.0
    for _ in range(2000):
        var = (1 - eta * m) ** 2 * var + 2 * eta / beta
    np.testing.assert_allclose(langevin.ula_ou_variance(m, beta, eta), var, rtol=1e-12)
    x = mfld.simulate(lambda X: m * X, jnp.zeros((20000, 1)), jax.random.key(1), step_size=eta,
                      temperature=1 / beta, n_steps=200)
    assert abs(float(x.var()) / var - 1) < 4 * np.sqrt(2 / 20000)


def test_first_passage_and_kramers():
    path = jnp.array([[0.0, 0.0, -1.0], [0.5, 1.2, -1.0], [1.5, 0.0, -1.0]])
    np.testing.assert_allclose(langevin.first_passage_times(path, 1.0, 0.5), [1.5, 1.0, np.inf])
    np.testing.assert_allclose(langevin.kramers_time(1.0, 8.0, 4.0, 0.0), 2 * np.pi / np.sqrt(32))


@pytest.mark.parametrize("call, match", [
    (lambda: langevin.gibbs_on_grid(jnp.ones(3), jnp.ones(4), 1.0), "potential_values and grid"),
    (lambda: langevin.gibbs_on_grid(jnp.ones(3), jnp.ones(3), 0.0), "beta"),
    (lambda: langevin.ula_ou_variance(1.0, 1.0, 2.5), "stable"),
    (lambda: langevin.first_passage_times(jnp.ones(3), 0.0, 1.0), "trajectory"),
    (lambda: langevin.kramers_time(-1.0, 1.0, 1.0, 1.0), "barrier"),
    (lambda: langevin.double_well(jnp.ones(2), barrier=0.0), "barrier"),
])
def test_invalid_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
