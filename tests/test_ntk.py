"""Tests for lib.ntk: closed forms, independent quadrature, wide-network limits, tiling, validation.

Closed forms and independent implementations run under the ``dtype`` fixture (float32 and
float64, tolerances per dtype); wide-network Monte-Carlo limits run in float32, the default
(their error is the Monte-Carlo error); a few tests that only make sense in float64 say why.
"""
import functools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import integrate, special

from conftest import RTOL

from lib import activations, nets, ntk, stats

# "exact up to a few ulps" per dtype (RTOL of conftest is for longer computations)
EXACT = {jnp.dtype("float32"): 2e-6, jnp.dtype("float64"): 1e-13}


def _pts(seed, n, d, scale=1.0):
    return scale * jax.random.normal(jax.random.key(seed), (n, d))


# ------------------------------------------------------------------------- closed forms

@pytest.mark.parametrize("depth", [1, 3])          # depth 0: test_depth_zero_is_linear_model
def test_relu_diagonal_closed_form(depth, dtype):
    # With w_std = √2, b_std = 0 the ReLU recursion keeps the variance: Σ^l(x, x) = 2‖x‖²/d for
    # every l, and Θ^{l+1} = Σ + 2 · (1/2) Θ^l gives Θ^{depth+1}(x, x) = (depth + 1) · 2‖x‖²/d.
    x = _pts(0, 9, 7)
    k = ntk.infinite_width(x, x, depth=depth, w_std=np.sqrt(2.0))
    q = 2.0 * np.sum(np.asarray(x) ** 2, axis=1) / 7
    np.testing.assert_allclose(np.diag(k.nngp), q, rtol=EXACT[dtype])
    np.testing.assert_allclose(np.diag(k.ntk), (depth + 1) * q, rtol=EXACT[dtype])


def test_relu_orthogonal_and_antipodal_closed_form(dtype):
    # depth 1, w_std = 1, b_std = 0, unit inputs in d = 2: Σ¹ = cos θ / 2.
    x = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    k = ntk.infinite_width(x, x, depth=1)
    # orthogonal: E[relu relu] = √(q q')/(2π) = 1/(4π); E[relu' relu'] = 1/4; Θ¹ = 0.
    tol = EXACT[dtype]
    np.testing.assert_allclose(k.nngp[0, 1], 1 / (4 * np.pi), rtol=tol)
    np.testing.assert_allclose(k.ntk[0, 1], 1 / (4 * np.pi), rtol=tol)
    # antipodal: θ = π, both expectations vanish.
    np.testing.assert_allclose([k.nngp[0, 2], k.ntk[0, 2]], 0.0, atol=tol / 10)
    # diagonal: E[relu²] = q/2 = 1/4, E[relu'²] = 1/2, Θ = 1/4 + 1/2 · 1/2.
    np.testing.assert_allclose([k.nngp[0, 0], k.ntk[0, 0]], [0.25, 0.5], rtol=tol)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_depth_zero_is_linear_model(activation, dtype):
    x1, x2 = _pts(1, 4, 3), _pts(2, 5, 3)
    k = ntk.infinite_width(x1, x2, depth=0, activation=activation, w_std=1.5, b_std=0.4)
    want = 1.5 ** 2 * (x1 @ x2.T) / 3 + 0.4 ** 2
    np.testing.assert_allclose(k.nngp, want, rtol=EXACT[dtype])
    np.testing.assert_allclose(k.ntk, want, rtol=EXACT[dtype])


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_zero_input_gives_zero_rows(activation, dtype):
    x = _pts(3, 5, 4).at[2].set(0.0)
    k = ntk.infinite_width(x, x, depth=3, activation=activation)
    for m in k:
        assert bool(jnp.all(jnp.isfinite(m)))
        np.testing.assert_array_equal(m[2], 0.0)
        np.testing.assert_array_equal(m[:, 2], 0.0)
    kb = ntk.infinite_width(x, x, depth=3, activation=activation, b_std=0.5)
    assert all(bool(jnp.all(jnp.isfinite(m))) and bool(jnp.all(jnp.diag(m) > 0)) for m in kb)


def test_erf_large_variance_stays_finite(dtype):
    x = _pts(4, 6, 3, scale=1e6)
    for m in ntk.infinite_width(x, x, depth=2, activation="erf", w_std=3.0):
        assert bool(jnp.all(jnp.isfinite(m)))


# ------------------------------------------------- independent check of the 2×2 expectations

def _factor(cov):
    """A square root L (L Lᵀ = cov) that also works for singular covariances."""
    lam, vec = np.linalg.eigh(cov)
    return vec * np.sqrt(np.clip(lam, 0.0, None))


def _relu_expectations_quad(cov):
    """E[relu(u)relu(v)] and E[1{u>0}1{v>0}] by 1-D quadrature over the angle of z ~ N(0, I₂).

    With (u, v) = L z and z = r(cos φ, sin φ), the radial integrals are ∫ r³e^{-r²/2} dr = 2 and
    ∫ r e^{-r²/2} dr = 1, leaving (1/π) ∫ relu(a(φ)) relu(b(φ)) dφ and (1/2π) |{φ: a > 0, b > 0}|.
    """
    L = _factor(cov)
    kinks = []
    for row in L:
        if np.any(row != 0):
            phi0 = np.arctan2(-row[0], row[1])
            kinks += [phi0 % (2 * np.pi), (phi0 + np.pi) % (2 * np.pi)]
    pts = sorted(p for p in kinks if 0 < p < 2 * np.pi)

    def uv(phi):
        return L @ np.array([np.cos(phi), np.sin(phi)])

    def ff(phi):
        u, v = uv(phi)
        return max(u, 0.0) * max(v, 0.0)

    def dd(phi):
        u, v = uv(phi)
        return float(u > 0 and v > 0)

    kw = dict(points=pts or None, limit=200, epsabs=1e-13, epsrel=1e-12)
    e_ff = integrate.quad(ff, 0, 2 * np.pi, **kw)[0] / np.pi
    e_dd = integrate.quad(dd, 0, 2 * np.pi, **kw)[0] / (2 * np.pi)
    return e_ff, e_dd


def _erf_expectations_gh(cov, n=200):
    """E[erf(u)erf(v)] and E[erf'(u)erf'(v)] by tensor Gauss–Hermite quadrature (erf is entire)."""
    z, w = special.roots_hermitenorm(n)
    w = w / np.sqrt(2 * np.pi)
    Z = np.stack(np.meshgrid(z, z, indexing="ij")).reshape(2, -1)
    W = np.outer(w, w).ravel()
    u, v = _factor(cov) @ Z
    d = lambda t: 2 / np.sqrt(np.pi) * np.exp(-t * t)  # noqa: E731
    return W @ (special.erf(u) * special.erf(v)), W @ (d(u) * d(v))


_W_STD, _B_STD = 1.4, 0.3
_X_QUAD = np.array([[1.0, 0.5, -0.2], [0.3, -1.2, 0.8], [-1.0, -0.5, 0.2], [0.0, 0.0, 0.0],
                    [2.0, 1.0, -0.4]])


@functools.lru_cache(maxsize=None)
def _depth_one_by_quadrature(activation):
    """(nngp, ntk) of depth 1 on ``_X_QUAD`` from the 2×2 expectations by quadrature (float64;
    computed once for both dtypes)."""
    x, w, b = _X_QUAD, _W_STD, _B_STD
    s1 = w ** 2 * x @ x.T / x.shape[1] + b ** 2
    expect = _relu_expectations_quad if activation == "relu" else _erf_expectations_gh
    nngp, ntk_ = np.zeros_like(s1), np.zeros_like(s1)
    for i in range(len(x)):
        for j in range(len(x)):
            e_ff, e_dd = expect(np.array([[s1[i, i], s1[i, j]], [s1[i, j], s1[j, j]]]))
            nngp[i, j] = w ** 2 * e_ff + b ** 2
            ntk_[i, j] = nngp[i, j] + w ** 2 * e_dd * s1[i, j]
    return nngp, ntk_


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_depth_one_matches_numerical_expectation(activation, dtype):
    k = ntk.infinite_width(_X_QUAD, _X_QUAD, depth=1, activation=activation, w_std=_W_STD,
                           b_std=_B_STD)
    nngp, ntk_ = _depth_one_by_quadrature(activation)
    # quadrature references are float64 (relu: adaptive, ~1e-9; erf: Gauss–Hermite, ~1e-12)
    tol = {jnp.dtype("float32"): 1e-5, jnp.dtype("float64"): 1e-8 if activation == "relu"
           else 1e-10}[dtype]
    np.testing.assert_allclose(k.nngp, nngp, rtol=tol, atol=tol)
    np.testing.assert_allclose(k.ntk, ntk_, rtol=tol, atol=tol)


def _erf_recursion_numpy(x1, x2, depth, w_std, b_std):
    """A plain NumPy loop over pairs of the erf recursion (scalar formulas, no broadcasting)."""
    d = x1.shape[1]
    out = np.zeros((2, len(x1), len(x2)))
    for i, a in enumerate(x1):
        for j, b in enumerate(x2):
            q1, q2, c = (w_std ** 2 * np.dot(p, r) / d + b_std ** 2 for p, r in ((a, a), (b, b), (a, b)))
            t = c
            for _ in range(depth):
                f = lambda s, r, u: (2 / np.pi) * np.arcsin(2 * u / np.sqrt((1 + 2 * s) * (1 + 2 * r)))  # noqa: E731
                dd = (4 / np.pi) / np.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c * c)
                c, q1, q2 = (w_std ** 2 * f(q1, q2, c) + b_std ** 2, w_std ** 2 * f(q1, q1, q1) + b_std ** 2,
                             w_std ** 2 * f(q2, q2, q2) + b_std ** 2)
                t = c + w_std ** 2 * dd * t
            out[:, i, j] = c, t
    return out


def test_erf_deep_matches_scalar_numpy_recursion(dtype):
    x1, x2 = np.asarray(_pts(5, 4, 3)), np.asarray(_pts(6, 3, 3))
    k = ntk.infinite_width(x1, x2, depth=3, activation="erf", w_std=1.3, b_std=0.2)
    want = _erf_recursion_numpy(x1.astype(np.float64), x2.astype(np.float64), 3, 1.3, 0.2)
    tol = {jnp.dtype("float32"): 1e-5, jnp.dtype("float64"): 1e-12}[dtype]  # 3 layers of rounding
    np.testing.assert_allclose(k.nngp, want[0], rtol=tol)
    np.testing.assert_allclose(k.ntk, want[1], rtol=tol)


# ------------------------------------------------------------------ wide random networks

def _init(key, widths, **kw):
    """``nets.init_mlp`` callable inside ``jax.jit`` (its scalar checks run on concrete values)."""
    with jax.ensure_compile_time_eval():
        return nets.init_mlp(key, widths, parameterization="ntk", **kw)


def _conditional_kernels(x, depth, activation, w_std, b_std, width, n_draws, seed):
    """For each draw of a width-``width`` ntk-parameterized network, the output covariance given
    the hidden layers, (w_std²/N) φ(x)φ(x')ᵀ + b_std² (its LLN limit is the NNGP kernel)."""
    widths = [x.shape[1]] + [width] * depth + [1]
    sigma = activations.activation_fn(activation)

    def one(key):
        params = _init(key, widths, w_std=w_std, b_std=b_std)
        h = nets.apply_mlp(params[:-1], x, activation=activation, parameterization="ntk",
                           w_std=w_std, b_std=b_std)
        phi = sigma(h)
        return w_std ** 2 / width * phi @ phi.T + b_std ** 2

    keys = jax.random.split(jax.random.key(seed), n_draws)
    return np.asarray(jax.jit(lambda ks: jax.lax.map(one, ks))(keys))


@pytest.mark.parametrize("activation, depth", [("relu", 1), ("relu", 3), ("erf", 2)])
def test_nngp_matches_wide_random_networks(activation, depth):
    x = _pts(10 + depth, 5, 6)
    w_std, b_std = 1.3, 0.2
    samples = _conditional_kernels(x, depth, activation, w_std, b_std, width=1024, n_draws=12,
                                   seed=depth)
    mean, se = stats.mean_stderr(samples)
    k = np.asarray(ntk.infinite_width(x, x, depth=depth, activation=activation, w_std=w_std,
                                      b_std=b_std).nngp)
    # Depth 1: the draws are exact i.i.d. means over units, so mean − k is pure Monte-Carlo
    # noise (≤ 5 standard errors). Deeper, finite width also biases the mean by O(1/width),
    # about 1e-3 · |k| here, well below the standard error ≈ |k| √(2/(12·1024)) ≈ 1.3e-2 · |k|.
    slack = 5 * se + 2e-3 * np.abs(k).max()
    assert np.all(np.abs(mean - k) <= slack), (np.abs(mean - k) / se).max()


def _ntk_relative_errors(activation, depth, widths, n_seeds, w_std=1.2, b_std=0.3):
    """Mean over seeds of ‖Θ_emp − Θ‖_F / ‖Θ‖_F for lib.nets networks of each width."""
    x = _pts(20, 6, 5)
    k = ntk.infinite_width(x, x, depth=depth, activation=activation, w_std=w_std,
                           b_std=b_std).ntk
    apply_fn = partial(nets.apply_mlp, activation=activation, parameterization="ntk",
                       w_std=w_std, b_std=b_std)
    keys = jax.random.split(jax.random.key(depth), n_seeds)
    errs = []
    for width in widths:
        def err(key, width=width):
            params = _init(key, [5] + [width] * depth + [1], w_std=w_std, b_std=b_std)
            emp = ntk.empirical(apply_fn, params, x, x)
            return jnp.linalg.norm(emp - k) / jnp.linalg.norm(k)
        errs.append(float(jnp.mean(jax.jit(lambda ks: jax.lax.map(err, ks))(keys))))
    return np.array(errs)


@pytest.mark.parametrize("activation, depth, widths", [
    ("relu", 1, [64, 256, 1024, 4096]),
    ("erf", 2, [64, 256, 1024]),
])
def test_empirical_ntk_converges_at_rate_inverse_sqrt_width(activation, depth, widths):
    errs = _ntk_relative_errors(activation, depth, widths, n_seeds=8)
    fit = stats.power_law_fit(widths, errs)
    # The empirical NTK at initialization is an average over the units of each hidden layer, so
    # its fluctuation is O(width^{-1/2}) (the O(1/width) bias is of lower order): slope −1/2.
    # Eight seeds leave each mean error noisy by ~10 %, i.e. the fitted slope by ~±0.1 over
    # these 1.5–2 decades of width, hence the band [−0.75, −0.3].
    assert -0.75 <= fit.slope <= -0.3, (fit, errs)
    assert errs[-1] < 0.1, errs


# ------------------------------------------------------------------- empirical kernels

def test_empirical_linear_model_is_gram(dtype):
    x1, x2 = _pts(30, 4, 3), _pts(31, 6, 3)
    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    f = lambda p, x: x @ p["w"] + p["b"]  # noqa: E731
    np.testing.assert_allclose(ntk.empirical(f, params, x1, x2), x1 @ x2.T + 1.0,
                               rtol=EXACT[dtype])
    g = lambda p, x: (x @ p["w"] + p["b"])[:, None]  # noqa: E731  (n, 1) outputs
    np.testing.assert_allclose(ntk.empirical(g, params, x1, x1), x1 @ x1.T + 1.0,
                               rtol=EXACT[dtype])


# relu and erf under both dtypes, the other activations under one (dtype parametrized indirectly)
@pytest.mark.parametrize("activation, dtype", [
    ("relu", "float32"), ("relu", "float64"), ("erf", "float32"), ("erf", "float64"),
    ("tanh", "float64"), ("sigmoid", "float32"), ("identity", "float64")], indirect=["dtype"])
def test_two_layer_closed_form_equals_jacobian(activation, dtype):
    M, d = 300, 4
    kw, ka = jax.random.split(jax.random.key(40))
    W = jax.random.normal(kw, (M, d))
    a = jax.random.normal(ka, (M,))
    x1, x2 = _pts(41, 5, d), _pts(42, 7, d)
    scale = 1 / np.sqrt(M)                        # NTK scaling (any scale enters as scale²)
    sigma = activations.activation_fn(activation)

    def f(p, x):
        return scale * sigma(x @ p["W"].T) @ p["a"]

    emp = ntk.empirical(f, {"W": W, "a": a}, x1, x2)
    closed = ntk.two_layer_empirical(x1, x2, W, a, activation=activation, scale=scale)
    tol = RTOL[dtype]
    np.testing.assert_allclose(closed, emp, rtol=tol, atol=tol * float(jnp.abs(emp).max()))


# ------------------------------------------------------------------- Gram matrices are PSD

@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=hnp.arrays(np.float64, (6, 3), elements=st.floats(-3, 3, allow_nan=False)),
       depth=st.integers(1, 3), activation=st.sampled_from(["relu", "erf"]),
       b_std=st.sampled_from([0.0, 0.5]), w_std=st.sampled_from([0.7, 1.0, 2.0]))
def test_gram_matrices_symmetric_psd(x64, x, depth, activation, b_std, w_std):
    # float64 only: the bounds 1e-12 (symmetry) and −1e-8·trace (PSD) are float64 rounding levels
    for m in ntk.infinite_width(x, x, depth=depth, activation=activation, w_std=w_std,
                                b_std=b_std):
        m = np.asarray(m)
        assert np.all(np.isfinite(m))
        scale = max(np.abs(m).max(), 1e-300)
        np.testing.assert_allclose(m, m.T, atol=1e-12 * scale)
        eigs = np.linalg.eigvalsh((m + m.T) / 2)
        assert eigs.min() >= -1e-8 * max(np.trace(m), 1e-300), eigs


# ------------------------------------------------------------------------------ tiling

# the tiling logic does not depend on the dtype: each case once, dtypes alternating
@pytest.mark.parametrize("activation, block_size, dtype", [
    ("relu", 1, "float32"), ("relu", 4, "float64"), ("relu", 100, "float32"),
    ("erf", 4, "float32"), ("erf", 4, "float64")], indirect=["dtype"])
def test_block_size_tiling_matches_untiled(activation, block_size, dtype):
    x1, x2 = _pts(50, 13, 5), _pts(51, 23, 5)       # 13 rows: the last strip of 4 is padded
    kw = dict(depth=2, activation=activation, w_std=1.1, b_std=0.3)
    full = ntk.infinite_width(x1, x2, **kw)
    tiled = ntk.infinite_width(x1, x2, block_size=block_size, **kw)
    for a, b in zip(full, tiled):
        assert a.shape == b.shape == (13, 23)
        np.testing.assert_allclose(b, a, rtol=EXACT[dtype], atol=EXACT[dtype])


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_tiled_packed_and_plain_strips_agree(activation):
    # The tiled path returns Σ + iΘ as one complex array per strip on CPU ("packed") and (Σ, Θ)
    # on GPU/TPU; run both here, so the accelerator variant is tested on every machine.
    x1, x2 = _pts(55, 13, 5), _pts(56, 23, 5)
    w, b = jnp.asarray(1.1, x1.dtype), jnp.asarray(0.3, x1.dtype)
    packed, plain = (ntk._infinite_width_tiled(x1, x2, w, b, 2, activation, 4, p)
                     for p in (True, False))
    for a, c in zip(packed, plain):
        assert a.shape == c.shape == (13, 23) and a.dtype == c.dtype == x1.dtype
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)   # a few ulps: fusion rounding


def test_default_block_size_tiles_on_cpu(monkeypatch, dtype):
    # block_size=None on CPU: strips of about _CPU_STRIP_ELEMENTS entries, at most a quarter of
    # n1 rows and at least 8, evened out over the strips; untiled below 16 rows.
    x1, x2 = _pts(53, 37, 5), _pts(54, 23, 5)
    untiled = ntk.infinite_width(x1, x2, depth=2, block_size=37)  # one strip: untiled
    if jax.default_backend() == "cpu":
        assert ntk._auto_block_size(37, 23) == 8        # 37 // 4 = 9 rows: 5 strips of 8
        assert ntk._auto_block_size(15, 23) is None
        assert ntk._auto_block_size(1001, 1001) == 201  # 250 rows: 5 strips of 201, not 250
        assert ntk._auto_block_size(4096, 4096) == 128  # 2¹⁹ entries
    monkeypatch.setattr(ntk, "_CPU_STRIP_ELEMENTS", 64)
    if jax.default_backend() == "cpu":
        assert ntk._auto_block_size(1001, 1001) == 8    # 64 // 1001 = 0 rows: at least 8
    auto = ntk.infinite_width(x1, x2, depth=2)
    for a, b in zip(untiled, auto):
        np.testing.assert_allclose(b, a, rtol=EXACT[dtype], atol=EXACT[dtype])


def test_works_inside_user_jit(dtype):
    x = _pts(52, 6, 3)
    got = jax.jit(lambda z: ntk.infinite_width(z, z, depth=2, w_std=1.3).ntk)(x)
    np.testing.assert_allclose(got, ntk.infinite_width(x, x, depth=2, w_std=1.3).ntk,
                               rtol=EXACT[dtype])


# ------------------------------------------------------------------------------- dtypes

def test_dtype_follows_input(x64):
    x = _pts(60, 4, 3)
    assert ntk.infinite_width(x, x).ntk.dtype == jnp.float64
    x32 = x.astype(jnp.float32)
    for m in ntk.infinite_width(x32, x32, depth=2, block_size=3):
        assert m.dtype == jnp.float32
    assert ntk.two_layer_empirical(x32, x32, jnp.ones((5, 3), jnp.float32),
                                   jnp.ones(5, jnp.float32), scale=0.5).dtype == jnp.float32


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_float32_matches_float64(x64, activation):
    # float32 uses fast arccos/arcsin polynomials (Cephes); they must agree with float64.
    x = _pts(61, 40, 8)
    k64 = ntk.infinite_width(x, x, depth=3, activation=activation, b_std=0.1)
    k32 = ntk.infinite_width(x.astype(jnp.float32), x.astype(jnp.float32), depth=3,
                             activation=activation, b_std=0.1)
    for a, b in zip(k32, k64):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * float(jnp.abs(b).max()))


def test_float32_by_default():
    x = jax.random.normal(jax.random.key(0), (4, 3))
    k = ntk.infinite_width(x, np.ones((2, 3)), depth=2, activation="erf")
    assert k.nngp.dtype == k.ntk.dtype == jnp.float32
    assert ntk.infinite_width([[1, 2]], [[3, 4]]).ntk.dtype == jnp.float32


# ---------------------------------------------------------------------------- validation

_X = np.ones((3, 2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(x1=np.ones(3)), "x1"),
    (dict(x2=np.ones((2, 2, 2))), "x2"),
    (dict(x2=np.ones((3, 4))), "x1 and x2"),
    (dict(x1=np.array([[np.nan, 1.0]])), "x1"),
    (dict(x2=np.array([[np.inf, 1.0]])), "x2"),
    (dict(depth=2.5), "depth"),
    (dict(depth=2.0), "depth"),
    (dict(depth=-1), "depth"),
    (dict(depth=True), "depth"),
    (dict(activation="tanh"), "activation"),
    (dict(activation="Relu"), "activation"),
    (dict(w_std=-1.0), "w_std"),
    (dict(w_std=0.0), "w_std"),
    (dict(w_std=float("nan")), "w_std"),
    (dict(b_std=-0.1), "b_std"),
    (dict(block_size=0), "block_size"),
    (dict(block_size=2.0), "block_size"),
])
def test_infinite_width_validation(kwargs, match):
    args = dict(x1=_X, x2=_X)
    args.update(kwargs)
    x1, x2 = args.pop("x1"), args.pop("x2")
    with pytest.raises(ValueError, match=match):
        ntk.infinite_width(x1, x2, **args)


def test_empirical_validation():
    f = lambda p, x: x @ p  # noqa: E731
    p = jnp.ones(2)
    with pytest.raises(ValueError, match="x1"):
        ntk.empirical(f, p, np.ones(2), _X)
    with pytest.raises(ValueError, match="x1 and x2"):
        ntk.empirical(f, p, _X, np.ones((3, 3)))
    with pytest.raises(ValueError, match="x2"):
        ntk.empirical(f, p, _X, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="apply_fn"):
        ntk.empirical("not a function", p, _X, _X)
    with pytest.raises(ValueError, match="apply_fn"):
        ntk.empirical(lambda p, x: jnp.outer(x @ p, p), p, _X, _X)


@pytest.mark.parametrize("change, match", [
    (dict(W=np.ones(4)), "W"),
    (dict(W=np.ones((4, 3))), "W"),
    (dict(a=np.ones(5)), "a"),
    (dict(a=np.ones((4, 1))), "a"),
    (dict(W=np.full((4, 2), np.inf)), "W"),
    (dict(x1=np.ones((3, 3))), "x1 and x2"),
    (dict(activation="softplus"), "activation"),
    (dict(scale=0.0), "scale"),
    (dict(scale=-1.0), "scale"),
])
def test_two_layer_validation(change, match):
    args = dict(x1=_X, x2=_X, W=np.ones((4, 2)), a=np.ones(4), activation="relu", scale=0.5)
    args.update(change)
    with pytest.raises(ValueError, match=match):
        ntk.two_layer_empirical(args.pop("x1"), args.pop("x2"), args.pop("W"), args.pop("a"),
                                **args)


def test_two_layer_scale_is_required():
    with pytest.raises(TypeError):
        ntk.two_layer_empirical(_X, _X, np.ones((4, 2)), np.ones(4))
