"""lib.outlook.resnet: Euler/RK4 flows against closed forms; functional-gradient boosting invariants."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib import data
from lib.outlook import resnet

pytestmark = pytest.mark.usefixtures("x64")


def test_euler_on_linear_ode_is_compound_interest():
    x = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    for L in (1, 7, 64):
        out = resnet.euler_flow(lambda z, t: 0.8 * z, x, L)
        np.testing.assert_allclose(out, (1 + 0.8 / L) ** L * x, rtol=1e-12)


def test_rk4_matches_exponential_and_time_dependent_fields():
    x = jnp.ones((3, 2))
    np.testing.assert_allclose(resnet.rk4_flow(lambda z, t: -1.3 * z, x, 200), np.exp(-1.3) * x,
                               rtol=1e-10)
    # dx/dt = t: exact increment 1/2; Euler's left Riemann sum gives (L-1)/(2L).
    field = lambda z, t: jnp.full_like(z, t)  # noqa: E731
    np.testing.assert_allclose(resnet.rk4_flow(field, x, 5), x + 0.5, rtol=1e-12)
    np.testing.assert_allclose(resnet.euler_flow(field, x, 10), x + 9 / 20, rtol=1e-12)


def test_euler_converges_at_order_one_on_a_random_smooth_field():
    vel = resnet.smooth_velocity(jax.random.key(0), 3, 16, scale=1.5)
    x0 = jax.random.normal(jax.random.key(1), (64, 3))
    ref = resnet.rk4_flow(vel, x0, 1024)
    err = [float(jnp.linalg.norm(resnet.euler_flow(vel, x0, L) - ref)) for L in (64, 128, 256)]
    ratios = np.array(err[:-1]) / np.array(err[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.02)


def test_ridge_readout_matches_normal_equations():
    H = jax.random.normal(jax.random.key(2), (50, 4))
    y = jax.random.normal(jax.random.key(3), (50,))
    Z = np.hstack([np.asarray(H), np.ones((50, 1))])
    reg = 0.05
    expect = np.linalg.solve(Z.T @ Z / 50 + reg * np.eye(5), Z.T @ np.asarray(y) / 50)
    np.testing.assert_allclose(resnet.ridge_readout(H, y, reg), expect, rtol=1e-10)


def test_boosting_descends_and_transform_reproduces_training_features():
    X, y = data.two_moons(jax.random.key(4), 120, noise=0.1)
    model, H = resnet.boosting_fit(X, y, n_layers=20, step_size=0.5, bandwidth=0.4, reg=1e-3)
    assert model.losses.shape == (21,)
    assert np.all(np.diff(np.asarray(model.losses)) <= 1e-12)
    np.testing.assert_allclose(resnet.boosting_transform(model, X), H, atol=1e-10)


def test_first_block_decrease_matches_the_kernel_quadratic_form():
    """ℒ(h − η T_k g) − ℒ(h) = −(η/n²) gᵀ K g + O(η²): the smoothed gradient is a descent direction."""
    X, y = data.two_moons(jax.random.key(5), 60, noise=0.2)
    n, bw, reg, eta = 60, 0.5, 1e-2, 1e-5
    model, _ = resnet.boosting_fit(X, y, n_layers=1, step_size=eta, bandwidth=bw, reg=reg)
    G = np.asarray(model.directions[0])
    d2 = ((np.asarray(X)[:, None, :] - np.asarray(X)[None, :, :]) ** 2).sum(-1)
    K = np.exp(-d2 / (2 * bw**2))
    predicted = -eta / n**2 * np.einsum("id,ij,jd->", G, K, G)
    np.testing.assert_allclose(model.losses[1] - model.losses[0], predicted, rtol=1e-3)


def test_two_moons_shapes_and_labels():
    X, y = data.two_moons(jax.random.key(6), 11, noise=0.0)
    assert X.shape == (11, 2) and set(np.asarray(y).tolist()) == {-1.0, 1.0}
    upper = np.asarray(X)[np.asarray(y) > 0]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: resnet.euler_flow(lambda z, t: z, jnp.ones((2, 2)), 0), "n_layers"),
    (lambda: resnet.euler_flow("not a function", jnp.ones((2, 2)), 3), "velocity"),
    (lambda: resnet.rk4_flow(lambda z, t: z, jnp.ones(3), 3), "x"),
    (lambda: resnet.euler_flow(lambda z, t: z, jnp.array([[jnp.nan, 1.0]]), 3), "x"),
    (lambda: resnet.smooth_velocity(jax.random.key(0), 2, 0), "width"),
    (lambda: resnet.boosting_fit(jnp.ones((4, 2)), jnp.ones(3), n_layers=2, step_size=1.0,
                                 bandwidth=1.0), "X and y"),
    (lambda: resnet.boosting_fit(jnp.ones((4, 2)), jnp.ones(4), n_layers=2, step_size=1.0,
                                 bandwidth=-1.0), "bandwidth"),
    (lambda: data.two_moons(jax.random.key(0), 10, noise=-0.1), "noise"),
])
def test_invalid_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_trajectory_records_every_block():
    x = jnp.array([[1.0, 2.0]])
    path = resnet.euler_flow(lambda z, t: 0.5 * z, x, 4, trajectory=True)
    assert path.shape == (5, 1, 2)
    np.testing.assert_allclose(path[:, 0, 0], (1 + 0.5 / 4) ** np.arange(5), rtol=1e-12)
    np.testing.assert_allclose(resnet.rk4_flow(lambda z, t: z, x, 8, trajectory=True)[-1],
                               resnet.rk4_flow(lambda z, t: z, x, 8), rtol=1e-12)
