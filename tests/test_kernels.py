"""Tests for lib.kernels: closed forms, Monte-Carlo limits and input validation.

Closed forms and independent implementations run under the ``dtype`` fixture (float32 and
float64) with per-dtype tolerances; Monte-Carlo checks run in float32 only (their error is the
Monte-Carlo error, far above float32 rounding).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import RTOL, x64_mode
from scipy import special

from lib import kernels, nets


def _pts(seed, n, d):
    return jax.random.normal(jax.random.key(seed), (n, d))     # the dtype of the fixture


# ---------------------------------------------------------------- arc-cosine kernels

@pytest.mark.parametrize("order, diag", [(0, 1.0), (1, 1.0), (2, 3.0)])
def test_arccos_diagonal_and_orthogonal(order, diag, dtype):
    x = jnp.eye(3) * 2.0
    k = kernels.arccos_kernel(x, x, order=order)
    assert k.dtype == dtype
    # k_n(x, x) = ‖x‖^{2n} J_n(0)/π and J_n(π/2)/π = {1/2, 1/π, 1/2}
    np.testing.assert_allclose(jnp.diag(k), diag * 4.0 ** order, rtol=RTOL[dtype])
    off = {0: 0.5, 1: 1 / np.pi, 2: 0.5}[order] * 4.0 ** order
    np.testing.assert_allclose(k[0, 1], off, rtol=RTOL[dtype])
    # antipodal: θ = π, J_n(π) = 0 for every order
    np.testing.assert_allclose(kernels.arccos_kernel(x, -x, order=order)[0, 0], 0.0, atol=0.0)


def test_arccos_diagonal_is_exact_for_random_points(dtype):
    # cos θ = 1 up to rounding on the diagonal is snapped to 1: k_0(x, x) = 1 exactly and
    # k_1(x, x) = ‖x‖² to rounding (an unsnapped float32 cosine would give errors ≈ 3e-4).
    x = _pts(3, 50, 7)
    np.testing.assert_array_equal(jnp.diag(kernels.arccos_kernel(x, x, order=0)), 1.0)
    np.testing.assert_allclose(jnp.diag(kernels.arccos_kernel(x, x, order=1)),
                               jnp.sum(x * x, axis=1), rtol=RTOL[dtype])


@pytest.mark.parametrize("order", [0, 1, 2])
def test_arccos_matches_monte_carlo(order):
    x = _pts(0, 4, 3)
    w = jax.random.normal(jax.random.key(1), (200_000, 3))
    z = w @ x.T
    f = (z > 0) * jnp.maximum(z, 0.0) ** order
    mc = 2.0 * f.T @ f / w.shape[0]
    k = kernels.arccos_kernel(x, x, order=order)
    # Monte-Carlo standard error of a mean of 2e5 draws: a few 1e-3 relative (heavier for order 2)
    np.testing.assert_allclose(mc, k, rtol=0.05, atol=0.02 * float(jnp.max(k)))


def test_arccos_kappa_is_kernel_on_unit_vectors(dtype):
    x = _pts(2, 6, 5)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    for order in (0, 1, 2):
        np.testing.assert_allclose(kernels.arccos_kappa(x @ x.T, order=order),
                                   kernels.arccos_kernel(x, x, order=order), atol=RTOL[dtype])


def test_arccos_kappa_closed_form(dtype):
    t = jnp.linspace(-1.0, 1.0, 101)
    theta = np.arccos(np.asarray(t, np.float64))
    want = {0: np.pi - theta, 1: np.sin(theta) + (np.pi - theta) * np.cos(theta),
            2: 3 * np.sin(theta) * np.cos(theta) + (np.pi - theta) * (1 + 2 * np.cos(theta) ** 2)}
    for order, j in want.items():
        # |t| within 64 ε of 1 is snapped: the angle error there is ≤ √(128 ε)
        atol = 8 * np.sqrt(128 * float(jnp.finfo(dtype).eps))
        np.testing.assert_allclose(kernels.arccos_kappa(t, order=order), j / np.pi,
                                   rtol=RTOL[dtype], atol=atol if order == 0 else RTOL[dtype])


def test_arccos_zero_vector(dtype):
    x = jnp.array([[0.0, 0.0], [1.0, 0.0]])
    k1 = kernels.arccos_kernel(x, x, order=1)
    assert bool(jnp.all(jnp.isfinite(k1))) and float(k1[0, 1]) == 0.0


def test_arccos_validation():
    with pytest.raises(ValueError, match="order"):
        kernels.arccos_kernel(jnp.ones((2, 3)), jnp.ones((2, 3)), order=3)
    with pytest.raises(ValueError, match="x1 and x2"):
        kernels.arccos_kernel(jnp.ones((2, 3)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="x2"):
        kernels.arccos_kernel(jnp.ones((2, 3)), jnp.ones(3))
    with pytest.raises(ValueError, match="x1"):
        kernels.arccos_kernel(jnp.array([[jnp.nan, 1.0]]), jnp.ones((1, 2)))


# ---------------------------------------------------------------- conjugate kernel

# each parameterization once, the dtypes alternating (the dtype fixture, parametrized indirectly)
@pytest.mark.parametrize("parameterization, dtype", [
    ("ntk", "float32"), ("ntk", "float64"), ("standard", "float64"), ("mean_field", "float32")],
    indirect=["dtype"])
def test_conjugate_kernel_matches_explicit_features(parameterization, dtype):
    x = _pts(3, 5, 4)
    w_std, b_std = 1.3, 0.4
    params = nets.init_mlp(jax.random.key(4), [4, 7, 6, 1], parameterization=parameterization,
                           w_std=w_std, b_std=b_std)
    (W0, b0), (W1, b1), _ = params
    m = (lambda n: 1.0) if parameterization == "standard" else (lambda n: w_std / np.sqrt(n))
    h1 = m(4) * x @ W0 + b_std * b0
    h2 = m(7) * jax.nn.relu(h1) @ W1 + b_std * b1
    for layer, h in ((1, h1), (-1, h2)):                # positive and negative indices
        phi = jax.nn.relu(h)
        want = w_std ** 2 / phi.shape[1] * phi @ phi.T + b_std ** 2
        got = kernels.conjugate_kernel(params, x, layer=layer, parameterization=parameterization,
                                       w_std=w_std, b_std=b_std)
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype])
        np.testing.assert_allclose(
            kernels.hidden_features(params, x, layer=layer, parameterization=parameterization,
                                    w_std=w_std, b_std=b_std), phi, rtol=RTOL[dtype],
            atol=RTOL[dtype])


def test_conjugate_kernel_matches_lib_ntk_nngp():
    from lib import ntk
    d, w_std, b_std = 4, 1.4, 0.3
    x = _pts(7, 5, d)
    for depth, width, rtol in ((1, 30_000, 0.04), (2, 3_000, 0.12)):
        ref = ntk.infinite_width(x, x, depth=depth, activation="relu", w_std=w_std,
                                 b_std=b_std).nngp
        params = nets.init_mlp(jax.random.key(8), [d] + [width] * depth + [1], w_std=w_std,
                               b_std=b_std)
        ck = kernels.conjugate_kernel(params, x, x, w_std=w_std, b_std=b_std)
        # Monte-Carlo relative error ~ 2.2/sqrt(width) (relu² has relative sd √5): 1.3 % and 4 %
        # resp., coherent across entries at depth 2; tolerance ≈ 3 standard deviations. (At depth
        # 1 this is also the arc-cosine closed form: test_arccos_kernel_is_the_nngp_of_lib_ntk.)
        assert float(jnp.linalg.norm(ck - ref) / jnp.linalg.norm(ref)) < rtol


def test_arccos_kernel_is_the_nngp_of_lib_ntk(dtype):
    # the closed form of the chapters, NNGP = b² + (w²/2) k_1(x̃, x̃') and NTK = NNGP +
    # (w²/2) Σ¹ k_0(x̃, x̃') with x̃ = (w x/√d, b): one implementation of the ReLU expectations,
    # so both sides agree to rounding, the diagonal included
    from lib import ntk
    d, w_std, b_std = 4, 1.4, 0.3
    x = _pts(7, 5, d)
    xt = jnp.concatenate([w_std * x / np.sqrt(d), jnp.full((5, 1), b_std)], axis=1)
    ref = ntk.infinite_width(x, x, depth=1, activation="relu", w_std=w_std, b_std=b_std)
    nngp = b_std ** 2 + 0.5 * w_std ** 2 * kernels.arccos_kernel(xt, xt)
    ntk_ = nngp + 0.5 * w_std ** 2 * (xt @ xt.T) * kernels.arccos_kernel(xt, xt, order=0)
    np.testing.assert_allclose(nngp, ref.nngp, rtol=RTOL[dtype])
    np.testing.assert_allclose(ntk_, ref.ntk, rtol=RTOL[dtype])


def test_conjugate_kernel_validation():
    params = nets.init_mlp(jax.random.key(0), [3, 4, 1])
    x = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="layer"):
        kernels.conjugate_kernel(params, x, layer=2)
    with pytest.raises(ValueError, match="layer"):
        kernels.conjugate_kernel(params, x, layer=0)
    with pytest.raises(ValueError, match="x must have 3 features"):
        kernels.conjugate_kernel(params, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="activation"):
        kernels.conjugate_kernel(params, x, activation="swish")
    with pytest.raises(ValueError, match="w_std"):
        kernels.conjugate_kernel(params, x, w_std=-1.0)
    with pytest.raises(ValueError, match="hidden layer"):
        kernels.conjugate_kernel(nets.init_mlp(jax.random.key(0), [3, 1]), x)


# ---------------------------------------------------------------- alignment

def test_alignment_closed_forms(dtype):
    approx = lambda a: pytest.approx(a, rel=RTOL[dtype])  # noqa: E731
    y = _pts(9, 8, 1)[:, 0]
    assert float(kernels.kernel_alignment(jnp.outer(y, y), y)) == approx(1.0)
    assert float(kernels.kernel_alignment(jnp.eye(8), y)) == approx(1 / np.sqrt(8))
    K = jnp.abs(_pts(10, 8, 8))
    K = K @ K.T
    a = kernels.kernel_alignment(K, y)
    assert float(a) == approx(float(y @ K @ y / (jnp.linalg.norm(K) * (y @ y))))
    assert float(kernels.kernel_alignment(5.0 * K, -2.0 * y)) == approx(float(a))
    assert float(kernels.kernel_alignment(K, jnp.outer(y, y))) == approx(float(a))
    # centring removes the constant part of a kernel
    yc = y - y.mean()
    Kc = jnp.outer(yc, yc) + 10.0
    assert float(kernels.kernel_alignment(Kc, yc, centered=True)) == approx(1.0)
    assert float(kernels.kernel_alignment(Kc, yc)) < 0.5


def test_alignment_validation():
    with pytest.raises(ValueError, match="square"):
        kernels.kernel_alignment(jnp.ones((2, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match="target"):
        kernels.kernel_alignment(jnp.eye(3), jnp.ones(4))
    with pytest.raises(ValueError, match="target"):
        kernels.kernel_alignment(jnp.eye(3), jnp.ones((3, 3, 1)))


# ---------------------------------------------------------------- Gaussian and Laplace kernels

def test_translation_invariant_kernels_match_numpy(dtype):
    x1, x2 = jax.random.uniform(jax.random.key(0), (7, 3)), jax.random.uniform(jax.random.key(1), (5, 3))
    dist = np.linalg.norm(np.asarray(x1, np.float64)[:, None, :]
                          - np.asarray(x2, np.float64)[None, :, :], axis=-1)
    g = kernels.gaussian_kernel(x1, x2, bandwidth=0.7)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, np.exp(-dist ** 2 / (2 * 0.7 ** 2)), rtol=RTOL[dtype])
    np.testing.assert_allclose(kernels.laplace_kernel(x1, x2, bandwidth=0.3), np.exp(-dist / 0.3),
                               rtol=RTOL[dtype])


def test_laplace_kernel_is_exactly_symmetric(dtype):
    x = jax.random.uniform(jax.random.key(0), (300, 1))
    K = kernels.laplace_kernel(x, x, bandwidth=0.3)
    assert float(jnp.max(jnp.abs(K - K.T))) == 0.0
    np.testing.assert_allclose(jnp.diag(K), 1.0)


def test_translation_invariant_kernels_inside_jit():
    x = _pts(0, 4, 2)
    got = jax.jit(lambda b: kernels.gaussian_kernel(x, x, bandwidth=b))(0.5)
    np.testing.assert_allclose(got, kernels.gaussian_kernel(x, x, bandwidth=0.5), rtol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_translation_invariant_kernels_validation(bad):
    x = _pts(0, 3, 2)
    for fn in (kernels.gaussian_kernel, kernels.laplace_kernel):
        with pytest.raises(ValueError, match="bandwidth"):
            fn(x, x, bandwidth=bad)
        with pytest.raises(ValueError, match="x1 and x2"):
            fn(x, _pts(1, 3, 3), bandwidth=1.0)


# ---------------------------------------------------------------- Mercer spectrum on the sphere

@pytest.mark.parametrize("d", [2, 3, 5, 10])
def test_sphere_eigenvalues_closed_forms(d, x64):
    # float64 only here: the quadrature is float64 whatever the dtype (next test)
    lin = kernels.sphere_eigenvalues(lambda t: t, d, 4)
    # κ(t) = t: the operator maps x_i to x_i / d; all other degrees vanish
    np.testing.assert_allclose(lin.eigenvalues, [0, 1 / d, 0, 0, 0], atol=1e-12)
    ex = kernels.sphere_eigenvalues(jnp.exp, d, 60)
    # Mercer: trace = Σ_ℓ N(d, ℓ) μ_ℓ = κ(1)
    assert float(ex.eigenvalues @ ex.multiplicities) == pytest.approx(np.e, rel=1e-9)
    # κ = exp: μ_ℓ = Γ(d/2) 2^{d/2-1} I_{ℓ+d/2-1}(1) (modified Bessel function)
    ell = np.arange(15)
    want = special.gamma(d / 2) * 2 ** (d / 2 - 1) * special.iv(ell + d / 2 - 1, 1.0)
    np.testing.assert_allclose(ex.eigenvalues[:15], want, rtol=1e-8, atol=1e-12)  # float64 rounding of a 4096-node sum


def test_sphere_eigenvalues_are_float64_in_float32_mode():
    # kappa runs with x64 switched on for the call, so a float32 session gets the float64
    # spectrum (tail eigenvalues of 1e-12 included), and the flag is restored afterwards
    kappa = lambda t: kernels.arccos_kappa(t, order=1)  # noqa: E731
    spec32 = kernels.sphere_eigenvalues(kappa, 3, 40)
    assert not jax.config.jax_enable_x64 and jnp.zeros(()).dtype == jnp.float32
    with x64_mode(True):
        spec64 = kernels.sphere_eigenvalues(kappa, 3, 40)
    np.testing.assert_array_equal(spec32.eigenvalues, spec64.eigenvalues)


def test_harmonic_multiplicity():
    assert [kernels.harmonic_multiplicity(2, l) for l in range(4)] == [1, 2, 2, 2]
    assert [kernels.harmonic_multiplicity(3, l) for l in range(4)] == [1, 3, 5, 7]
    assert [kernels.harmonic_multiplicity(4, l) for l in range(4)] == [1, 4, 9, 16]
    # degree ≤ 2 harmonics span the quadratics on the sphere: 1 + d + (d(d+1)/2 − 1)
    d = 7
    assert sum(kernels.harmonic_multiplicity(d, l) for l in range(3)) == d + d * (d + 1) // 2


def test_sphere_eigenvalues_match_gram_spectrum():
    # float32 only: a statistical O(1/n) comparison, far above float32 rounding
    # Koltchinskii–Giné: eigenvalues of K/n converge to those of the integral operator
    d, n = 3, 1000
    x = _pts(11, n, d)
    x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    gram = np.linalg.eigvalsh(np.asarray(kernels.arccos_kernel(x, x, order=1)) / n)[::-1]
    spec = kernels.sphere_eigenvalues(lambda t: kernels.arccos_kappa(t, order=1), d, 30)
    # degrees 0, 1, 2 (1 + 3 + 5 eigenvalues, well separated): block means agree up to O(1/n)
    blocks = [gram[0], gram[1:4].mean(), gram[4:9].mean()]
    np.testing.assert_allclose(blocks, spec.eigenvalues[:3], rtol=0.03)
    # arc-cosine kernel of order 1: odd degrees >= 3 vanish, even degrees decay like ℓ^{-(d+2)}
    assert np.all(np.abs(spec.eigenvalues[3::2]) < 1e-9)
    slope = np.polyfit(np.log(spec.degrees[10::2]), np.log(spec.eigenvalues[10::2]), 1)[0]
    assert slope == pytest.approx(-(d + 2), abs=0.15)


def test_sphere_eigenvalues_validation():
    with pytest.raises(ValueError, match="kappa"):
        kernels.sphere_eigenvalues(1.0, 3, 4)
    with pytest.raises(ValueError, match="d"):
        kernels.sphere_eigenvalues(jnp.exp, 1, 4)
    with pytest.raises(ValueError, match="max_degree"):
        kernels.sphere_eigenvalues(jnp.exp, 3, -1)
    with pytest.raises(ValueError, match="kappa"):
        kernels.sphere_eigenvalues(lambda t: t[:2], 3, 4)


# ---------------------------------------------------------------- exact kernel ridge risk on the sphere

def _unit(key, n, d):
    x = jax.random.normal(key, (n, d), dtype=jnp.float64)
    return x / jnp.linalg.norm(x, axis=1, keepdims=True)


def _direct_risk(kappa, X, z, lam, noise, U, w):
    """Risk of KRR by a direct computation with the kernel κ itself: solve for the coefficients,
    then integrate (f̂ − f*)² and σ²‖A k_u‖² over test points U with weights w (NumPy float64)."""
    X, z, U = (np.asarray(a, dtype=np.float64) for a in (X, z, U))
    n = X.shape[0]
    A = np.linalg.inv(kappa(X @ X.T) + n * lam * np.eye(n))
    k_u = kappa(U @ X.T)                                    # (N, n)
    resid = (k_u @ (A @ kappa(X @ z.T)) - kappa(U @ z.T)) ** 2   # (N, m)
    var = noise ** 2 * np.sum((k_u @ A) ** 2, axis=1)       # (N,)
    return resid, var, w


def _sphere_product_rule(d, n_nodes):
    """Quadrature on S^{d−1}, d ∈ {2, 3}, exact for polynomials of degree < n_nodes: equispaced
    angles on the circle; Gauss–Legendre in the height × equispaced longitudes on S²."""
    phi = 2 * np.pi * np.arange(n_nodes) / n_nodes
    if d == 2:
        return np.stack([np.cos(phi), np.sin(phi)], 1), np.full(n_nodes, 1 / n_nodes)
    h, wh = np.polynomial.legendre.leggauss(n_nodes)
    r = np.sqrt(1 - h ** 2)
    U = np.stack([np.outer(r, np.cos(phi)), np.outer(r, np.sin(phi)),
                  np.outer(h, np.ones_like(phi))], -1).reshape(-1, 3)
    return U, np.outer(wh / 2, np.full(n_nodes, 1 / n_nodes)).ravel()


@pytest.mark.parametrize("d", [2, 3])
def test_sphere_krr_risk_matches_exact_quadrature(d, dtype):
    # A polynomial kernel of degree 4: its spectrum stops at degree 4 and (f̂ − f*)² is a polynomial
    # of degree 8, which the product rule with 16 nodes integrates exactly — an independent
    # computation with the kernel itself, no addition theorem and no Gegenbauer series.
    kappa = lambda t: (1 + t) ** 4 / 16           # noqa: E731  (Σ t^k with c_k > 0: positive definite)
    with x64_mode(True):
        spec = kernels.sphere_eigenvalues(kappa, d, 6)
        X, Z = _unit(jax.random.key(0), 12, d), _unit(jax.random.key(1), 3, d)
        U, w = _sphere_product_rule(d, 16)
        resid, var, w = _direct_risk(kappa, X, Z, 0.01, 0.3, U, w)
    got = kernels.sphere_krr_excess_risk(spec, 3.0 * jnp.asarray(X, dtype), jnp.asarray(Z, dtype),
                                         0.01, noise=0.3)                 # radius 3: directions only
    assert got.bias.dtype == dtype and got.bias.shape == (3,) and got.variance.shape == ()
    # float32: the bias is a difference of terms of size ‖f*‖² = k₂(1) ≈ 0.3 (rounding ≈ 1e-7 each)
    atol = {jnp.dtype("float32"): 2e-6, jnp.dtype("float64"): 1e-13}[dtype]
    np.testing.assert_allclose(got.bias, w @ resid, rtol=RTOL[dtype], atol=atol)
    np.testing.assert_allclose(got.variance, w @ var, rtol=RTOL[dtype], atol=atol)


@pytest.mark.parametrize("d", [3, 5])
def test_sphere_krr_risk_matches_monte_carlo(d, x64):
    # The NNGP-type arc-cosine kernel (non-smooth at t = ±1, all degrees): the risk integrated by
    # Monte Carlo over 1e5 uniform test points with the closed-form κ; the truncation of the
    # spectrum at degree 80 changes κ by < 1e-5 (tail Σ N(d, ℓ) μ_ℓ), far below the Monte-Carlo error.
    kappa = lambda t: 0.25 + 0.5 * kernels.arccos_kappa(t, order=1)      # noqa: E731
    spec = kernels.sphere_eigenvalues(kappa, d, 80)
    assert float(kappa(jnp.asarray(1.0))) - spec.eigenvalues @ spec.multiplicities < 1e-5
    X, Z = _unit(jax.random.key(2), 25, d), _unit(jax.random.key(3), 2, d)
    U = _unit(jax.random.key(4), 100_000, d)
    resid, var, _ = _direct_risk(lambda t: np.asarray(kappa(jnp.asarray(t))), X, Z, 0.02, 0.5, U, None)
    got = kernels.sphere_krr_excess_risk(spec, X, Z, 0.02, noise=0.5)
    for exact, sample in [*zip(got.bias, resid.T), (got.variance, var)]:
        se = sample.std() / np.sqrt(sample.size)
        assert abs(float(exact) - sample.mean()) < 5 * se + 1e-5 * sample.mean(), (exact, sample.mean(), se)


def test_sphere_krr_risk_limits(x64):
    kappa = lambda t: 0.25 + 0.5 * kernels.arccos_kappa(t, order=1)      # noqa: E731
    d = 3
    spec = kernels.sphere_eigenvalues(kappa, d, 120)
    X, Z = _unit(jax.random.key(5), 40, d), _unit(jax.random.key(6), 4, d)
    # ‖f*‖² = ∫ κ(zᵀu)² dν(u) = c_d ∫ κ(t)² (1 − t²)^{(d−3)/2} dt, here (d = 3) ½ ∫ κ(t)² dt,
    # by adaptive quadrature of the closed form (independent of the Gegenbauer series)
    from scipy import integrate
    norm2 = 0.5 * integrate.quad(lambda t: float(kappa(jnp.asarray(t))) ** 2, -1, 1,
                                 epsabs=1e-13, epsrel=1e-12)[0]
    # λ → ∞: f̂ → 0, so the bias tends to ‖f*‖² (at rate 1/λ) and the variance to 0 (1/λ²)
    big = kernels.sphere_krr_excess_risk(spec, X, Z, 1e8, noise=1.0)
    np.testing.assert_allclose(big.bias, norm2, rtol=1e-7)
    assert float(big.variance) < 1e-15
    # σ = 0: no variance, and the bias does not depend on σ; the variance is quadratic in σ
    r0 = kernels.sphere_krr_excess_risk(spec, X, Z, 1e-3)
    r1 = kernels.sphere_krr_excess_risk(spec, X, Z, 1e-3, noise=1.0)
    r2 = kernels.sphere_krr_excess_risk(spec, X, Z, 1e-3, noise=2.0)
    assert float(r0.variance) == 0.0
    np.testing.assert_array_equal(r0.bias, r1.bias)
    np.testing.assert_allclose(r2.variance, 4 * r1.variance, rtol=1e-12)
    # interpolation: a target k(·, x_1) centred at a design point is fitted exactly as λ → 0
    # (c = e_1), so its bias vanishes (a wrong ‖f*‖² or cross term k₂(x_iᵀz) would leave it)
    tiny = kernels.sphere_krr_excess_risk(spec, X, X[:1], 1e-12)
    assert abs(float(tiny.bias[0])) < 1e-10 * norm2


def test_sphere_krr_risk_batches_designs(dtype):
    kappa = lambda t: (1 + t) ** 3 / 8            # noqa: E731
    with x64_mode(True):
        spec = kernels.sphere_eigenvalues(kappa, 4, 5)
    X = _pts(7, 2 * 3 * 10, 4).reshape(2, 3, 10, 4)
    Z = _pts(8, 5, 4)
    batched = kernels.sphere_krr_excess_risk(spec, X, Z, 0.1, noise=0.2)
    assert batched.bias.shape == (2, 3, 5) and batched.variance.shape == (2, 3)
    single = kernels.sphere_krr_excess_risk(spec, X[1, 2], Z, 0.1, noise=0.2)
    np.testing.assert_allclose(batched.bias[1, 2], single.bias, rtol=RTOL[dtype])
    np.testing.assert_allclose(batched.variance[1, 2], single.variance, rtol=RTOL[dtype])


def test_sphere_krr_risk_validation():
    spec = kernels.sphere_eigenvalues(lambda t: (1 + t) ** 2 / 4, 3, 4)
    X, Z = _pts(0, 6, 3), _pts(1, 2, 3)
    f = kernels.sphere_krr_excess_risk
    with pytest.raises(ValueError, match="spectrum"):
        f(spec.eigenvalues, X, Z, 0.1)
    with pytest.raises(ValueError, match="another dimension"):
        f(spec, _pts(0, 6, 4), _pts(1, 2, 4), 0.1)
    with pytest.raises(ValueError, match="spectrum"):
        f(spec._replace(eigenvalues=-spec.eigenvalues), X, Z, 0.1)
    with pytest.raises(ValueError, match="lam"):
        f(spec, X, Z, 0.0)
    with pytest.raises(ValueError, match="noise"):
        f(spec, X, Z, 0.1, noise=-1.0)
    with pytest.raises(ValueError, match="X"):
        f(spec, X[0], Z, 0.1)
    with pytest.raises(ValueError, match="X and Z"):
        f(spec, X, _pts(1, 2, 4), 0.1)
    with pytest.raises(ValueError, match="nonzero rows"):
        f(spec, X.at[2].set(0.0), Z, 0.1)
