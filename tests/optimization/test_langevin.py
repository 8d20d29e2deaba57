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


def test_mean_first_passage_time_of_free_diffusion():
    # L = 0 with reflection at 0: T(x) = β ((b − l)² − (x − l)²)/2 (solve β⁻¹T'' = −1, T'(l) = 0)
    grid = jnp.linspace(0.0, 2.0, 4001)
    t = langevin.mean_first_passage_time(jnp.zeros_like(grid), grid, 3.0, 0.5, 2.0)
    np.testing.assert_allclose(float(t), 3.0 * (4.0 - 0.25) / 2, rtol=1e-5)


def test_mean_first_passage_time_tends_to_eyring_kramers():
    # the ratio to Eyring–Kramers is 1 + O(1/β): its distance to 1 halves when β doubles
    grid = jnp.linspace(-2.5, 1.0, 70001)
    L = langevin.double_well(grid)
    dev = []
    for beta in (20.0, 40.0, 80.0):
        t = float(langevin.mean_first_passage_time(L, grid, beta, -1.0, 1.0))
        dev.append(abs(t / float(langevin.kramers_time(1.0, 8.0, 4.0, beta)) - 1))
    assert dev[2] < 0.02
    np.testing.assert_allclose(np.log2(dev[0] / dev[1]), 1.0, atol=0.1)
    np.testing.assert_allclose(np.log2(dev[1] / dev[2]), 1.0, atol=0.1)


def test_spectral_gap_of_ornstein_uhlenbeck_and_of_the_interval():
    grid = jnp.linspace(-4.0, 4.0, 1601)
    # L = m θ²/2: the generator's eigenvalues are k·m (Hermite polynomials), whatever β
    for beta in (0.5, 2.0):
        np.testing.assert_allclose(float(langevin.generator_spectral_gap(1.5 * grid**2, grid, beta)), 3.0,
                                   rtol=1e-3)
    # L = 0 on an interval of length ℓ (Neumann): cos(πx/ℓ), λ₁ = π²/(β ℓ²); the reflecting jump process
    # lives on n cells of width h, so ℓ = n·h
    x = jnp.linspace(0.0, 1.0, 801)
    ell = 801 * float(x[1] - x[0])
    np.testing.assert_allclose(float(langevin.generator_spectral_gap(jnp.zeros_like(x), x, 2.0)),
                               np.pi**2 / (2.0 * ell**2), rtol=1e-5)


def test_gld_first_passage_matches_simulate_and_the_exact_mean():
    key = jax.random.PRNGKey(3)
    x0 = -jnp.ones(64)
    tau, path = langevin.gld_first_passage(langevin.double_well_grad, x0, key, beta=2.0, step_size=0.01,
                                           n_steps=400, threshold=1.0, record_every=100)
    final, traj = mfld.simulate(langevin.double_well_grad, x0[:, None], key, step_size=0.01,
                                temperature=0.5, n_steps=400, record_every=100)
    np.testing.assert_allclose(path, traj[:, :, 0], rtol=1e-10, atol=1e-12)
    # recorded passage times: the first recorded position at or above 1 is no earlier than tau
    rec = np.asarray(langevin.first_passage_times(path, 1.0, 1.0))
    assert np.all(np.asarray(tau)[np.isfinite(rec)] <= rec[np.isfinite(rec)])
    # Monte Carlo mean against the exact integral at β = 1 (all chains pass): 4 standard errors
    # plus the O(η) bias of the discretization
    n = 2000
    beta = jnp.ones(n)                                   # per-chain inverse temperatures
    tau, _ = langevin.gld_first_passage(langevin.double_well_grad, -jnp.ones(n), key, beta=beta,
                                        step_size=0.01, n_steps=6000, threshold=1.0, record_every=6000)
    tau = np.asarray(tau)
    assert np.all(np.isfinite(tau))
    grid = jnp.linspace(-3.0, 1.0, 8001)
    exact = float(langevin.mean_first_passage_time(langevin.double_well(grid), grid, 1.0, -1.0, 1.0))
    assert abs(tau.mean() - exact) < 4 * tau.std() / np.sqrt(n) + 0.02 * exact


def test_new_functions_validate():
    grid = jnp.linspace(-1, 1, 11)
    with pytest.raises(ValueError, match="start"):
        langevin.mean_first_passage_time(grid**2, grid, 1.0, 0.5, 0.2)
    with pytest.raises(ValueError, match="uniformly"):
        langevin.generator_spectral_gap(grid**2, grid**3, 1.0)
    with pytest.raises(ValueError, match="beta"):
        langevin.gld_first_passage(langevin.double_well_grad, jnp.zeros(3), jax.random.PRNGKey(0),
                                   beta=jnp.ones(4), step_size=0.1, n_steps=10, threshold=1.0,
                                   record_every=5)
    with pytest.raises(ValueError, match="record_every"):
        langevin.gld_first_passage(langevin.double_well_grad, jnp.zeros(3), jax.random.PRNGKey(0),
                                   beta=1.0, step_size=0.1, n_steps=10, threshold=1.0, record_every=3)


def test_double_well_critical_points():
    left, saddle, right = langevin.double_well_critical_points(barrier=1.3, tilt=0.3)
    for r in (left, saddle, right):
        assert abs(float(langevin.double_well_grad(jnp.array(r), barrier=1.3, tilt=0.3))) < 1e-10
    assert left < saddle < right and 12 * left**2 - 4 > 0 > 12 * saddle**2 - 4
    L = lambda t: float(langevin.double_well(jnp.array(t), barrier=1.3, tilt=0.3))
    assert L(left) < L(right)                        # a positive tilt lowers the left well
    np.testing.assert_allclose(langevin.double_well_critical_points(), (-1.0, 0.0, 1.0), atol=1e-12)
    with pytest.raises(ValueError, match="tilt"):
        langevin.double_well_critical_points(tilt=2.0)


def test_ula_ou_rate_and_stationary_kl_closed_forms():
    m, beta, eta = 2.0, 4.0, 0.05
    # iterate the chain's exact mean/variance recursion, take the KL's mean term (KL minus the KL of the
    # centred law with the same variance) and fit its log-slope per unit time
    mean, var, target = 3.0, 0.5, 1 / (beta * m)
    log_mean_term = []
    for _ in range(100):
        mean, var = (1 - eta * m) * mean, (1 - eta * m) ** 2 * var + 2 * eta / beta
        log_mean_term.append(np.log(float(langevin.gaussian_kl(mean, var, target))
                                    - float(langevin.gaussian_kl(0.0, var, target))))
    slope = np.polyfit(eta * np.arange(1, 101), log_mean_term, 1)[0]
    # rtol: the subtraction's float64 cancellation; the continuous rate -2m (5% off here) fails
    np.testing.assert_allclose(langevin.ula_ou_kl_rate(m, eta), slope, rtol=1e-5)
    assert abs(langevin.ula_ou_kl_rate(m, 1e-6) + 2 * m) < 1e-4      # the continuous LSI rate 2m
    var = langevin.ula_ou_variance(m, beta, eta)
    np.testing.assert_allclose(langevin.ula_ou_stationary_kl(m, beta, eta, dim=3),
                               3 * float(langevin.gaussian_kl(0.0, var, 1 / (beta * m))), rtol=1e-10)
    small = langevin.ula_ou_stationary_kl(m, beta, 1e-3)
    np.testing.assert_allclose(small, (1e-3 * m) ** 2 / 16, rtol=1e-2)
    with pytest.raises(ValueError, match="step_size"):
        langevin.ula_ou_kl_rate(m, 1.5)


def test_ula_grid_chain_on_a_quadratic_is_exact():
    # on L = (m/2) theta^2 ULA is AR(1): stationary law N(0, 1/(beta m (1 - eta m/2))), gap -log(1-eta m)/eta
    m, beta, eta = 2.0, 1.0, 0.1
    x = jnp.linspace(-4.0, 4.0, 1601)
    density, cdf = langevin.ula_stationary_on_grid(m * x, x, beta, eta)
    sd = np.sqrt(langevin.ula_ou_variance(m, beta, eta))
    np.testing.assert_allclose(density, sps.norm.pdf(np.asarray(x), scale=sd), atol=2e-4)
    np.testing.assert_allclose(cdf, sps.norm.cdf(np.asarray(x), scale=sd), atol=2e-4)
    np.testing.assert_allclose(langevin.ula_spectral_gap(m * x, x, beta, eta),
                               -np.log(1 - eta * m) / eta, rtol=2e-3)
    P = langevin.ula_transition_matrix(m * x, x, beta, eta)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="grid"):
        langevin.ula_transition_matrix(m * x[::50], x[::50], beta, 1e-3)


def test_ula_grid_gap_tends_to_the_generator_gap():
    x = jnp.linspace(-3.0, 3.0, 1201)
    grad = langevin.double_well_grad(x)
    exact = float(langevin.generator_spectral_gap(langevin.double_well(x), x, 2.0))
    coarse = langevin.ula_spectral_gap(grad, x, 2.0, 0.02) / exact - 1
    fine = langevin.ula_spectral_gap(grad, x, 2.0, 0.01) / exact - 1
    assert abs(fine) < abs(coarse) and abs(fine / coarse - 0.5) < 0.15    # O(eta) bias


def test_ula_mean_hitting_time_matches_simulated_chains():
    # first-step analysis on the grid chain against the Monte Carlo mean of the same ULA chain
    # (gld_first_passage, passage checked at every step): 4 standard errors
    n, beta, eta = 4000, 1.0, 0.01
    key = jax.random.PRNGKey(5)
    tau, _ = langevin.gld_first_passage(langevin.double_well_grad, -jnp.ones(n), key, beta=jnp.full(n, beta),
                                        step_size=eta, n_steps=8000, threshold=1.0, record_every=8000)
    tau = np.asarray(tau)
    assert np.all(np.isfinite(tau))
    x = jnp.linspace(-3.0, 2.0, 1001)
    T = langevin.ula_mean_hitting_time(langevin.double_well_grad(x), x, beta, eta, 1.0)
    assert T[np.asarray(x) >= 1.0].max() == 0.0
    assert abs(T[400] - tau.mean()) < 4 * tau.std() / np.sqrt(n)       # x[400] = -1
    # and it tends to the diffusion's exact mean passage time as eta -> 0
    exact = float(langevin.mean_first_passage_time(langevin.double_well(x), x, beta, -1.0, 1.0))
    coarse = langevin.ula_mean_hitting_time(langevin.double_well_grad(x), x, beta, 0.02, 1.0)[400] / exact - 1
    fine = T[400] / exact - 1
    assert abs(fine) < abs(coarse) < 0.05
    with pytest.raises(ValueError, match="threshold"):
        langevin.ula_mean_hitting_time(langevin.double_well_grad(x), x, beta, eta, 5.0)
    with pytest.raises(ValueError, match="step_size"):
        langevin.ula_spectral_gap(langevin.double_well_grad(x), x, beta, -0.1)
