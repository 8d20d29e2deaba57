"""lib.generalization.overparameterization: Rademacher complexities against exhaustive enumeration, bounds against NumPy."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lib.generalization import overparameterization as complexity

pytestmark = pytest.mark.usefixtures("x64")


def all_signs(n):
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_rademacher_draws_are_the_exact_supremum(norm):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 5))
    draws = np.asarray(complexity.rademacher_linear(jax.random.key(0), X, radius=2.0, norm=norm,
                                                    n_draws=50))
    # the same sign vectors, regenerated, and the supremum by brute force over the ball
    signs = np.asarray(jax.random.rademacher(jax.random.key(0), (50, 7), dtype=jnp.float64))
    s = signs @ X                                                        # (50, d)
    if norm == "l2":
        w_star = 2.0 * s / np.linalg.norm(s, axis=1, keepdims=True)      # maximizer on the sphere
        expected = np.sum(w_star * s, axis=1) / 7
        w_rand = rng.standard_normal((1000, 5))
        w_rand *= 2.0 / np.linalg.norm(w_rand, axis=1, keepdims=True)
    else:
        vertices = 2.0 * np.concatenate([np.eye(5), -np.eye(5)])          # the l1 ball's corners
        expected = np.max(s @ vertices.T, axis=1) / 7
        w_rand = rng.standard_normal((1000, 5))
        w_rand *= 2.0 / np.sum(np.abs(w_rand), axis=1, keepdims=True)
    np.testing.assert_allclose(draws, expected, rtol=1e-12)
    assert np.all((s @ w_rand.T).max(axis=1) / 7 <= draws + 1e-12)        # no point does better


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_rademacher_batch_equals_single_calls(norm):
    # a batch (R, n, d) gives sample r exactly the draws of a single call with split(key, R)[r]
    X = np.random.default_rng(2).standard_normal((3, 6, 4))
    key = jax.random.key(5)
    batch = np.asarray(complexity.rademacher_linear(key, X, radius=1.5, norm=norm, n_draws=40))
    single = np.stack([np.asarray(complexity.rademacher_linear(k, x, radius=1.5, norm=norm,
                                                               n_draws=40))
                       for k, x in zip(jax.random.split(key, 3), X)])
    assert batch.shape == (3, 40)
    np.testing.assert_allclose(batch, single, rtol=1e-12)
    bounds = complexity.rademacher_linear_bound(X, radius=1.5, norm=norm)
    np.testing.assert_allclose(bounds, [complexity.rademacher_linear_bound(x, radius=1.5, norm=norm)
                                        for x in X], rtol=1e-12)
    # float32 in, float32 out
    assert complexity.rademacher_linear(key, X.astype(np.float32), norm=norm,
                                        n_draws=8).dtype == jnp.float32


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_rademacher_mean_matches_enumeration_and_bound(norm):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 3)) * np.array([1.0, 0.3, 2.0])
    S = all_signs(10) @ X                                                # all 1024 sign vectors
    dual = np.linalg.norm(S, axis=1) if norm == "l2" else np.abs(S).max(axis=1)
    exact = dual.mean() / 10
    draws = np.asarray(complexity.rademacher_linear(jax.random.key(3), X, norm=norm,
                                                    n_draws=20000))
    se = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - exact) < 4 * se
    assert exact <= complexity.rademacher_linear_bound(X, norm=norm)
    if norm == "l2":   # E‖Σσx‖² = Σ‖x‖² exactly (enumeration), so Jensen's bound is sqrt of it
        np.testing.assert_allclose(np.mean(np.linalg.norm(S, axis=1) ** 2), np.sum(X ** 2))
        np.testing.assert_allclose(complexity.rademacher_linear_bound(X, norm="l2", radius=3.0),
                                   3.0 * np.sqrt(np.sum(X ** 2)) / 10)
    else:
        np.testing.assert_allclose(complexity.rademacher_linear_bound(X, norm="l1"),
                                   np.abs(X).max() * np.sqrt(2 * np.log(6) / 10))


def numpy_bounds(U, v, U0, v0, X, margin):
    h, d = U.shape
    n = X.shape[0]
    p = h * d + h
    xf = np.sqrt((X ** 2).sum())
    B = np.linalg.norm(X, axis=1).max()
    sU, sv = np.linalg.svd(U, compute_uv=False)[0], np.linalg.norm(v)
    fU = np.linalg.norm(U)
    dU, dv = U - U0, v - v0
    l21 = sum(np.linalg.norm(row) for row in dU)
    return dict(
        vc=np.sqrt(2 * p * np.log(p) / n),
        bartlett2017=xf / (margin * n) * sU * sv
        * ((l21 / sU) ** (2 / 3) + (np.linalg.norm(dv) / sv) ** (2 / 3)) ** 1.5,
        neyshabur2018=B / (margin * np.sqrt(n)) * sU * sv
        * np.sqrt(4 * h * ((dU ** 2).sum() / sU ** 2 + (dv ** 2).sum() / sv ** 2)),
        neyshabur2015=4 * B * fU * sv / (margin * np.sqrt(n)),
        golowich2018=(np.sqrt(4 * np.log(2)) + 1) * B * fU * sv / (margin * np.sqrt(n)),
        neyshabur2019=(2 * np.sqrt(2) + 2) * sv * (np.linalg.norm(dU)
                                                  + np.linalg.svd(U0, compute_uv=False)[0])
        * xf / (margin * n) + np.sqrt(h / n))


def test_two_layer_bounds_match_numpy_and_batch():
    rng = np.random.default_rng(2)
    R, h, d, n = 3, 6, 4, 9
    U0 = rng.standard_normal((R, h, d))
    U = U0 + 0.3 * rng.standard_normal((R, h, d))
    v0 = rng.standard_normal((R, h))
    v = v0 + 0.2 * rng.standard_normal((R, h))
    X = rng.standard_normal((n, d))
    batch = complexity.two_layer_bounds(U, v, U0, v0, X, margin=0.5)
    for r in range(R):
        single = complexity.two_layer_bounds(U[r], v[r], U0[r], v0[r], X, margin=0.5)
        ref = numpy_bounds(U[r], v[r], U0[r], v0[r], X, 0.5)
        for name in complexity.BOUND_NAMES:
            np.testing.assert_allclose(getattr(single, name), ref[name], rtol=1e-10)
            np.testing.assert_allclose(getattr(batch, name)[r], ref[name], rtol=1e-10)
    # per-net data sets (leading axis on X too)
    Xs = rng.standard_normal((R, n, d))
    per = complexity.two_layer_bounds(U, v, U0, v0, Xs)
    np.testing.assert_allclose(per.bartlett2017[1],
                               numpy_bounds(U[1], v[1], U0[1], v0[1], Xs[1], 1.0)["bartlett2017"],
                               rtol=1e-10)


def test_two_layer_apply():
    rng = np.random.default_rng(3)
    U, v, X = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal((4, 3))
    np.testing.assert_allclose(complexity.two_layer_apply(U, v, X), np.maximum(X @ U.T, 0) @ v)


def test_train_two_layer():
    """Symmetric initialization (f ≡ 0), recorded losses, learning, and independence of the nets:
    configuration 0 of a joint run equals a run of that configuration alone (same key fold,
    same data), whatever else is trained alongside it."""
    rng = np.random.default_rng(4)
    X = jnp.asarray(rng.standard_normal((2, 12, 3)))
    y = jnp.sign(X[..., 0])
    key = jax.random.key(5)
    joint = complexity.train_two_layer(key, [X, X[:1] * 2.0], [y, y[:1]], width=[8, 4],
                                       n_steps=200, step_size=0.5, record_every=50)
    alone = complexity.train_two_layer(key, X, y, width=8, n_steps=200, step_size=0.5,
                                       record_every=50)
    assert isinstance(alone, complexity.TwoLayerNets) and isinstance(joint, list)
    np.testing.assert_allclose(joint[0].U, alone.U, rtol=1e-10)
    np.testing.assert_allclose(joint[0].v, alone.v, rtol=1e-10)
    for r, h, Xc, yc in ((joint[0], 8, X, y), (joint[1], 4, X[:1] * 2.0, y[:1])):
        R = Xc.shape[0]
        assert r.U.shape == (R, h, 3) and r.v.shape == (R, h) and r.train_loss.shape == (R, 4)
        f0 = jax.vmap(complexity.two_layer_apply)(r.U0, r.v0, Xc)
        np.testing.assert_allclose(f0, 0.0, atol=1e-12)                  # symmetric: f ≡ 0
        np.testing.assert_allclose(r.U0[:, : h // 2], r.U0[:, h // 2:])
        np.testing.assert_allclose(r.v0[:, : h // 2], -r.v0[:, h // 2:])
        # the recorded loss is the mean squared error of the returned effective weights
        mse = jnp.mean((jax.vmap(complexity.two_layer_apply)(r.U, r.v, Xc) - yc) ** 2, axis=1)
        np.testing.assert_allclose(r.train_loss[:, -1], mse, rtol=1e-8)
        assert np.all(r.train_loss[:, -1] < 0.5)                          # it learned (start: 1)


@pytest.mark.parametrize("dtype, rtol", [(jnp.float64, 1e-10), (jnp.float32, 1e-4)])
def test_train_two_layer_padded_widths_equal_separate_runs(dtype, rtol):
    """Narrow nets trained in one call padded with zero units to the widest width (max_padding 8)
    follow the iterates of the same nets trained alone (max_padding 1: one call per width), in
    float32 and float64; widths beyond the padding factor go to a second call."""
    rng = np.random.default_rng(6)
    X = jnp.asarray(rng.standard_normal((2, 10, 3)), dtype)
    y = jnp.sign(X[..., 0])
    key = jax.random.key(7)
    kw = dict(n_steps=150, step_size=0.5, record_every=50)
    padded = complexity.train_two_layer(key, X, y, width=[2, 16, 4, 32], **kw)
    alone = complexity.train_two_layer(key, X, y, width=[2, 16, 4, 32], max_padding=1, **kw)
    for p, a, h in zip(padded, alone, (2, 16, 4, 32)):
        assert p.U.dtype == dtype and p.U.shape == (2, h, 3) and p.v.shape == (2, h)
        np.testing.assert_allclose(p.U0, a.U0, rtol=0, atol=0)            # the same draws
        np.testing.assert_allclose(p.v0, a.v0, rtol=0, atol=0)
        for got, want in ((p.U, a.U), (p.v, a.v), (p.train_loss, a.train_loss)):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-2)
        assert not np.allclose(p.v, p.v0)                                  # it trained


def test_gaussian_spectral_norm_against_monte_carlo():
    """Marchenko–Pastur edge + Tracy–Widom mean vs the mean of 3000 exact spectral norms; the
    plain edge √m + √d (no TW shift) is off by 1–3 % here and would fail."""
    rng = np.random.default_rng(6)
    for m, d in ((20, 40), (64, 32), (512, 32)):
        G = rng.standard_normal((3000, m, d))
        s = np.sqrt(np.linalg.eigvalsh(np.swapaxes(G, 1, 2) @ G)[:, -1])
        se = s.std(ddof=1) / np.sqrt(s.size)
        pred = complexity.gaussian_spectral_norm(m, d)
        assert abs(pred - s.mean()) < 4 * se + 2e-3 * s.mean(), (m, d, pred, s.mean())
        assert abs(np.sqrt(m) + np.sqrt(d) - s.mean()) > 4 * se + 2e-3 * s.mean()
    assert complexity.gaussian_spectral_norm(7, 30) == complexity.gaussian_spectral_norm(30, 7)


def test_kernel_norm_bound():
    rng = np.random.default_rng(7)
    # orthonormal inputs: θ = π/2 off the diagonal, so H∞ = I/2 and the bound is sqrt(4‖y‖²/n)
    Q = np.linalg.qr(rng.standard_normal((9, 6)))[0].T                  # (6, 9), orthonormal rows
    y = rng.standard_normal(6)
    np.testing.assert_allclose(complexity.kernel_norm_bound(Q, y), np.sqrt(4 * y @ y / 6),
                               rtol=1e-10)
    # general unit inputs: NumPy formula, and H∞ itself as a Monte-Carlo average over w
    X = rng.standard_normal((5, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sign(rng.standard_normal(5))
    G = X @ X.T
    H = G * (np.pi - np.arccos(np.clip(G, -1, 1))) / (2 * np.pi)
    np.testing.assert_allclose(complexity.kernel_norm_bound(X, y),
                               np.sqrt(2 * y @ np.linalg.solve(H, y) / 5), rtol=1e-8)
    W = rng.standard_normal((200000, 3))
    A = (X @ W.T >= 0).astype(float)                                      # (5, draws)
    samples = G[:, :, None] * A[:, None, :] * A[None, :, :]
    se = samples.std(axis=2) / np.sqrt(W.shape[0]) + 1e-12
    assert np.all(np.abs(samples.mean(axis=2) - H) < 4.5 * se)
    # float32 in, float32 out
    out = complexity.kernel_norm_bound(X.astype(np.float32), y.astype(np.float32))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, np.sqrt(2 * y @ np.linalg.solve(H, y) / 5), rtol=1e-4)


@pytest.mark.parametrize("call,match", [
    (lambda: complexity.rademacher_linear(jax.random.key(0), np.ones(3)), "X must have rank"),
    (lambda: complexity.rademacher_linear(jax.random.key(0), np.ones((3, 2)), radius=-1.0),
     "radius"),
    (lambda: complexity.rademacher_linear(jax.random.key(0), np.ones((3, 2)), norm="linf"),
     "norm"),
    (lambda: complexity.rademacher_linear(jax.random.key(0), np.ones((3, 2)), n_draws=0),
     "n_draws"),
    (lambda: complexity.rademacher_linear(0, np.ones((3, 2))), "key"),
    (lambda: complexity.rademacher_linear_bound(np.array([[1.0, np.nan]])), "X contains NaN"),
    (lambda: complexity.two_layer_bounds(np.ones((3, 2)), np.ones(3), np.ones((3, 2)), np.ones(3),
                                         np.ones((4, 5))), "X must have d = 2"),
    (lambda: complexity.two_layer_bounds(np.ones((3, 2)), np.ones(4), np.ones((3, 2)), np.ones(3),
                                         np.ones((4, 2))), "vout and v0"),
    (lambda: complexity.two_layer_bounds(np.ones((3, 2)), np.ones(3), np.ones((2, 2)), np.ones(3),
                                         np.ones((4, 2))), "U0 must have the shape"),
    (lambda: complexity.two_layer_bounds(np.ones((3, 2)), np.ones(3), np.ones((3, 2)), np.ones(3),
                                         np.ones((4, 2)), margin=0.0), "margin"),
    (lambda: complexity.train_two_layer(jax.random.key(0), np.ones((4, 2)), np.ones(4), width=3,
                                        n_steps=1, step_size=0.1), "width must be even"),
    (lambda: complexity.train_two_layer(jax.random.key(0), np.ones((4, 2)), np.ones(3), width=2,
                                        n_steps=1, step_size=0.1), "y must have shape"),
    (lambda: complexity.train_two_layer(jax.random.key(0), np.ones((4, 2)), np.ones(4), width=2,
                                        n_steps=1, step_size=0.1, momentum=1.0), "momentum"),
    (lambda: complexity.train_two_layer(jax.random.key(0), np.ones((4, 2)), np.ones(4), width=2,
                                        n_steps=1, step_size=-0.1), "step_size"),
    (lambda: complexity.train_two_layer(jax.random.key(0), [np.ones((4, 2))] * 2, [np.ones(4)] * 3,
                                        width=2, n_steps=1, step_size=0.1), "length"),
    (lambda: complexity.train_two_layer(jax.random.key(0), np.ones((4, 2)), np.ones(4), width=2,
                                        n_steps=1, step_size=0.1, max_padding=0.5), "max_padding"),
    (lambda: complexity.kernel_norm_bound(2 * np.eye(3), np.ones(3)), "unit norm"),
    (lambda: complexity.kernel_norm_bound(np.eye(3), np.ones(4)), "y"),
    (lambda: complexity.gaussian_spectral_norm(1, 5), "m"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
