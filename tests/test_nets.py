"""lib.nets: ``train`` against closed-form and hand-written iterations (GD on a quadratic, step-size
schedules, momentum), unbiasedness of its minibatch gradient, the Polyak–Ruppert average against the
mean of the recorded iterates, input validation; ``train_ensemble`` against separate ``train`` runs
and the closed form; no recompilation on a second call (counted with ``jax.log_compiles``);
``init_mlp``/``init_ensemble``/``apply_mlp`` parameterizations against each other and their
variance scalings. Comparisons with closed forms run in float32 and float64 (``dtype`` fixture)."""
import logging
import re
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

from conftest import RTOL
from lib import nets
from lib.stats import mean_stderr


def _quadratic(d=4, seed=0):
    """f(θ) = ½ θᵀAθ − bᵀθ with A symmetric positive definite."""
    k1, k2 = jax.random.split(jax.random.key(seed))
    M = jax.random.normal(k1, (d, d))
    A = M @ M.T / d + 0.5 * jnp.eye(d)
    b = jax.random.normal(k2, (d,))
    return A, b, (lambda th: 0.5 * th @ A @ th - b @ th)


def _gd_closed_form(A, b, th0, eta, T):
    """θ_t = θ* + (I − ηA)^t (θ_0 − θ*), t = 1..T, in float64 NumPy."""
    A, b, th0 = (np.asarray(a, np.float64) for a in (A, b, th0))
    theta_star = np.linalg.solve(A, b)
    M = np.eye(len(b)) - eta * A
    return np.stack([theta_star + np.linalg.matrix_power(M, t) @ (th0 - theta_star)
                     for t in range(1, T + 1)])


# ---------------------------------------------------------------- full-batch iterations
def test_gd_on_quadratic_equals_closed_form_iteration(dtype):
    A, b, f = _quadratic()
    eta, T = 0.3, 25
    th0 = jnp.ones(4)
    res = nets.train(f, th0, n_steps=T, step_size=eta, record_fn=lambda p: p)
    expected = _gd_closed_form(A, b, th0, eta, T)
    assert res.params.dtype == dtype
    tol = RTOL[dtype]
    np.testing.assert_allclose(res.history, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(res.params, expected[-1], rtol=tol, atol=tol)
    assert res.averaged is None


def test_default_record_fn_is_the_loss_and_record_every_subsamples(dtype):
    A, b, f = _quadratic(seed=1)
    every = nets.train(f, jnp.zeros(4), n_steps=12, step_size=0.2, record_fn=lambda p: p)
    sub = nets.train(f, jnp.zeros(4), n_steps=12, step_size=0.2, record_every=4)
    np.testing.assert_allclose(sub.history, [f(every.history[i]) for i in (3, 7, 11)],
                               rtol=RTOL[dtype])


def test_schedule_matches_hand_written_loop(dtype):
    A, b, f = _quadratic(seed=2)
    schedule = lambda t: 0.8 / (t + 2.0)  # noqa: E731
    res = nets.train(f, jnp.zeros(4), n_steps=30, step_size=schedule, record_fn=lambda p: p)
    th = jnp.zeros(4)
    for t in range(30):
        th = th - schedule(t) * (A @ th - b)
        np.testing.assert_allclose(res.history[t], th, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_momentum_matches_heavy_ball_loop(dtype):
    A, b, f = _quadratic(seed=3)
    res = nets.train(f, jnp.zeros(4), n_steps=20, step_size=0.1, optimizer="momentum",
                     momentum=0.5, record_fn=lambda p: p)
    th, m = jnp.zeros(4), jnp.zeros(4)
    for t in range(20):
        m = 0.5 * m + (A @ th - b)
        th = th - 0.1 * m
    np.testing.assert_allclose(res.params, th, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_adam_matches_hand_written_loop(dtype):
    A, b, f = _quadratic(seed=9)
    b1, b2, eps, eta = 0.8, 0.99, 1e-3, 0.05
    res = nets.train(f, jnp.zeros(4), n_steps=15, step_size=eta, optimizer="adam",
                     betas=(b1, b2), eps=eps)
    th, m, s = (np.zeros(4) for _ in range(3))
    A64, b64 = np.asarray(A, np.float64), np.asarray(b, np.float64)
    for t in range(1, 16):
        g = A64 @ th - b64
        m, s = b1 * m + (1 - b1) * g, b2 * s + (1 - b2) * g * g
        th = th - eta * (m / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
    np.testing.assert_allclose(res.params, th, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_train_works_on_pytrees(dtype):
    params = {"a": jnp.ones(3), "b": (jnp.ones(2),)}
    loss = lambda p: jnp.sum(p["a"] ** 2) + jnp.sum(p["b"][0] ** 2)  # noqa: E731
    res = nets.train(loss, params, n_steps=3, step_size=0.25)
    np.testing.assert_allclose(res.params["a"], 0.5 ** 3 * np.ones(3), rtol=RTOL[dtype])
    np.testing.assert_allclose(res.params["b"][0], 0.5 ** 3 * np.ones(2), rtol=RTOL[dtype])


def test_float32_params_stay_float32_under_x64(x64):
    A, b, f = _quadratic()
    res = nets.train(lambda th: f(th.astype(jnp.float64)).astype(jnp.float32),
                     jnp.ones(4, jnp.float32), n_steps=3, step_size=0.1, optimizer="adam")
    assert res.params.dtype == jnp.float32


# ---------------------------------------------------------------- Polyak–Ruppert average
def test_polyak_average_is_the_mean_of_the_iterates(dtype):
    A, b, f = _quadratic(seed=4)
    res = nets.train(f, jnp.ones(4), n_steps=40, step_size=lambda t: 0.5 / (1 + t) ** 0.6,
                     record_fn=lambda p: p, average=True)
    tol = RTOL[dtype]
    np.testing.assert_allclose(res.averaged, res.history.mean(axis=0), rtol=tol, atol=tol)


def test_record_average_records_the_running_mean(dtype):
    A, b, f = _quadratic(seed=5)
    res = nets.train(f, jnp.ones(4), n_steps=20, step_size=0.1, record_fn=lambda p: p,
                     average=True, record_average=True)
    last, avg = res.history
    running = np.cumsum(np.asarray(last, np.float64), axis=0) / np.arange(1, 21)[:, None]
    tol = RTOL[dtype]
    np.testing.assert_allclose(avg, running, rtol=tol, atol=tol)
    np.testing.assert_allclose(res.averaged, running[-1], rtol=tol, atol=tol)
    # with record_every > 1 the average still covers every step
    sub = nets.train(f, jnp.ones(4), n_steps=20, step_size=0.1, record_fn=lambda p: p,
                     record_every=5, average=True, record_average=True)
    np.testing.assert_allclose(sub.history[1], running[4::5], rtol=tol, atol=tol)


# ---------------------------------------------------------------- minibatch SGD
def _regression(n=30, d=3, seed=6):
    kx, ky = jax.random.split(jax.random.key(seed))
    X = jax.random.normal(kx, (n, d))
    y = jax.random.normal(ky, (n,))
    loss = lambda th, batch: 0.5 * jnp.mean((batch[0] @ th - batch[1]) ** 2)  # noqa: E731
    return X, y, loss


def test_sgd_minibatch_gradient_is_unbiased():
    X, y, loss = _regression()
    th0, eta, b = jnp.array([0.3, -0.2, 0.5]), 1.0, 4
    full_grad = jax.grad(loss)(th0, (X, y))

    def first_step(key):
        return nets.train(loss, th0, n_steps=1, step_size=eta, data=(X, y), batch_size=b,
                          key=key, record_fn=lambda p: p).params

    steps = jax.vmap(first_step)(jax.random.split(jax.random.key(0), 4000))
    grads = (th0 - steps) / eta
    mean, se = mean_stderr(np.asarray(grads))
    assert np.all(np.abs(mean - np.asarray(full_grad)) < 4.5 * se), (mean, full_grad, se)
    assert np.all(se > 0)                        # it is stochastic


def test_sgd_is_deterministic_given_key_and_full_batch_limit():
    X, y, loss = _regression(seed=7)
    kw = dict(n_steps=10, step_size=0.1, data=(X, y), batch_size=2, record_fn=lambda p: p)
    r1 = nets.train(loss, jnp.zeros(3), key=jax.random.key(3), **kw)
    r2 = nets.train(loss, jnp.zeros(3), key=jax.random.key(3), **kw)
    r3 = nets.train(loss, jnp.zeros(3), key=jax.random.key(4), **kw)
    np.testing.assert_array_equal(r1.history, r2.history)
    assert not np.allclose(r1.history, r3.history)


def test_sgd_with_single_example_data_equals_gd(dtype):
    X, y, loss = _regression(n=1, seed=8)
    sgd = nets.train(loss, jnp.zeros(3), n_steps=5, step_size=0.2, data=(X, y), batch_size=3,
                     key=jax.random.key(0), record_fn=lambda p: p)
    gd = nets.train(lambda th: loss(th, (X, y)), jnp.zeros(3), n_steps=5, step_size=0.2)
    np.testing.assert_allclose(sgd.params, gd.params, rtol=RTOL[dtype])


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, name", [
    (dict(n_steps=0), "n_steps"),
    (dict(n_steps=2.5), "n_steps"),
    (dict(record_every=0), "record_every"),
    (dict(n_steps=10, record_every=3), "record_every"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(step_size=-0.1), "step_size"),
    (dict(step_size=float("nan")), "step_size"),
    (dict(momentum=1.5), "momentum"),
    (dict(batch_size=2), "batch_size"),
    (dict(key=jax.random.key(0)), "key"),
    (dict(record_average=True), "record_average"),
])
def test_full_batch_bad_inputs_raise(kwargs, name):
    A, b, f = _quadratic()
    base = dict(n_steps=4, step_size=0.1)
    with pytest.raises(ValueError, match=name):
        nets.train(f, jnp.zeros(4), **{**base, **kwargs})


@pytest.mark.parametrize("kwargs, name", [
    (dict(batch_size=None), "batch_size"),
    (dict(batch_size=0), "batch_size"),
    (dict(key=None), "key"),
    (dict(key=np.zeros(3)), "key"),
    (dict(record_fn=None), "record_fn"),
    (dict(data=(jnp.zeros((5, 3)), jnp.zeros(4))), "data"),
])
def test_minibatch_bad_inputs_raise(kwargs, name):
    X, y, loss = _regression()
    base = dict(n_steps=4, step_size=0.1, data=(X, y), batch_size=2, key=jax.random.key(0),
                record_fn=lambda p: p)
    with pytest.raises(ValueError, match=name):
        nets.train(loss, jnp.zeros(3), **{**base, **kwargs})


# ---------------------------------------------------------------- compilation
def _compiles(caplog, name, call):
    """How many times ``call()`` compiles the jitted function ``name``: the cache misses that
    ``jax.log_compiles`` logs as "Compiling jit(name) ..." (or "Compiling name ..." in older JAX)."""
    caplog.clear()
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        jax.block_until_ready(call())
    return sum(re.match(rf"Compiling \S*\b{name}\b", r.getMessage()) is not None
               for r in caplog.records)


def test_train_compiles_once_for_repeated_calls(caplog):
    A, b, f = _quadratic(seed=10)
    record = lambda p: p  # noqa: E731   (defined once: functions are compared by identity)
    run = lambda th0, eta: nets.train(f, th0, n_steps=7, step_size=eta, record_fn=record)  # noqa: E731
    assert _compiles(caplog, "_train_loop", lambda: run(jnp.zeros(4), 0.1)) == 1
    # new initial values and a new step size: traced, no recompilation
    assert _compiles(caplog, "_train_loop", lambda: run(jnp.ones(4), 0.2)) == 0
    # data bound through jax.tree_util.Partial is traced too
    quad = lambda A, b, th: 0.5 * th @ A @ th - b @ th  # noqa: E731
    go = lambda B: nets.train(Partial(quad, B, b), jnp.zeros(4), n_steps=7, step_size=0.1)  # noqa: E731
    assert _compiles(caplog, "_train_loop", lambda: go(A)) == 1
    assert _compiles(caplog, "_train_loop", lambda: go(2 * A)) == 0
    # ... and the counter does see a recompilation: a new lambda per call, or new shapes
    assert _compiles(caplog, "_train_loop", lambda: nets.train(
        lambda th: f(th), jnp.zeros(4), n_steps=7, step_size=0.1)) == 1
    assert _compiles(caplog, "_train_loop", lambda: run(jnp.zeros(4), 0.1)) == 0
    assert _compiles(caplog, "_train_loop", lambda: nets.train(
        f, jnp.zeros(4), n_steps=14, step_size=0.1, record_fn=record)) == 1


def _member_loss(p, data):
    """Squared loss of a two-layer ReLU net on one member's data (module level: compiled once)."""
    x, y = data
    return jnp.mean((nets.apply_mlp(p, x, parameterization="standard", b_std=1.0)[:, 0] - y) ** 2)


def _member_record(p, data):
    return _member_loss(p, data), p[1][0][:, 0]


def _loss_of(x, y, p):
    """``_member_loss`` with the data first, to bind it by ``Partial`` (traced, no recompile)."""
    return _member_loss(p, (x, y))


def _record_of(x, y, p):
    return _member_record(p, (x, y))


def test_train_ensemble_compiles_once_for_repeated_calls(caplog):
    x = jax.random.normal(jax.random.key(0), (6, 2))
    Y = jax.random.normal(jax.random.key(1), (3, 6))
    run = lambda k, eta: nets.train_ensemble(  # noqa: E731
        _member_loss, nets.init_ensemble(k, [2, 5, 1], 3, parameterization="standard"),
        data=(x, Y), data_axes=(None, 0), n_steps=4, step_size=eta, optimizer="adam")
    assert _compiles(caplog, "_train_ensemble_loop", lambda: run(jax.random.key(2), 0.1)) == 1
    assert _compiles(caplog, "_train_ensemble_loop", lambda: run(jax.random.key(3), 0.05)) == 0


# ---------------------------------------------------------------- ensembles
@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_train_ensemble_equals_separate_train_runs(optimizer):
    x = jax.random.normal(jax.random.key(4), (8, 3))
    Y = jax.random.normal(jax.random.key(5), (8, 3))                 # member r fits column r
    key, widths, R = jax.random.key(6), [3, 6, 1], 3
    kw = dict(n_steps=12, step_size=lambda t: 0.05 / (1 + 0.1 * t), optimizer=optimizer,
              record_every=4, average=True, momentum=0.7)
    ens = nets.train_ensemble(_member_loss, nets.init_ensemble(key, widths, R), data=(x, Y),
                              data_axes=(None, 1), record_fn=_member_record, **kw)
    for r in range(R):
        p0 = nets.init_mlp(jax.random.fold_in(key, r), widths)
        one = nets.train(Partial(_loss_of, x, Y[:, r]), p0,
                         record_fn=Partial(_record_of, x, Y[:, r]), **kw)
        pick = lambda tree: jax.tree_util.tree_map(lambda a: a[r], tree)  # noqa: E731
        for got, want in zip(jax.tree_util.tree_leaves((pick(ens.params), pick(ens.history),
                                                        pick(ens.averaged))),
                             jax.tree_util.tree_leaves((one.params, one.history, one.averaged))):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)     # float32


def test_train_ensemble_gd_on_quadratics_equals_closed_form(dtype):
    """R quadratics ½θᵀAθ − b_rᵀθ (shared A, own b_r) from own starts: θ_t = θ*_r + (I − ηA)^t(θ_0 − θ*_r)."""
    A, _, _ = _quadratic(seed=11)
    B = jax.random.normal(jax.random.key(12), (5, 4))
    th0 = jax.random.normal(jax.random.key(13), (5, 4))
    quad = lambda th, data: 0.5 * th @ data[0] @ th - data[1] @ th  # noqa: E731
    res = nets.train_ensemble(quad, th0, data=(A, B), data_axes=(None, 0), n_steps=20,
                              step_size=0.3, record_fn=lambda th, data: th)
    assert res.history.shape == (5, 20, 4) and res.params.dtype == dtype
    for r in range(5):
        np.testing.assert_allclose(res.history[r], _gd_closed_form(A, B[r], th0[r], 0.3, 20),
                                   rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("member_batch", [1, 2, 3, 4])
def test_train_ensemble_member_batches_equal_the_vmapped_run(member_batch):
    """lax.map over batches of members (2 does not divide R = 3; 4 exceeds it) gives the vmapped
    iterations, with data split along a non-leading axis and shared data mixed in a nested tuple."""
    x = jax.random.normal(jax.random.key(14), (8, 3))
    Y = jax.random.normal(jax.random.key(15), (8, 3))
    p0 = nets.init_ensemble(jax.random.key(16), [3, 6, 1], 3)
    kw = dict(data=((x,), Y), data_axes=((None,), 1), n_steps=12, step_size=0.05,
              optimizer="momentum", record_every=4, average=True,
              loss_fn=lambda p, d: _member_loss(p, (d[0][0], d[1])),
              record_fn=lambda p, d: _member_record(p, (d[0][0], d[1])))
    want = nets.train_ensemble(params=p0, **kw)
    got = nets.train_ensemble(params=p0, member_batch=member_batch, **kw)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)                 # float32


def test_train_ensemble_member_batches_without_data(dtype):
    """GD on θ ↦ Σθ² from R = 3 starts, 2 members at a time: θ_t = (1 − 2η)^t θ_0 exactly."""
    th0 = jnp.arange(6.0).reshape(3, 2)
    res = nets.train_ensemble(lambda th: jnp.sum(th ** 2), th0, n_steps=4, step_size=0.25,
                              record_every=2, member_batch=2)
    assert res.params.dtype == dtype
    np.testing.assert_allclose(res.params, th0 * 0.5 ** 4, rtol=RTOL[dtype])
    np.testing.assert_allclose(res.history, np.sum(np.asarray(th0)[:, None] ** 2, -1)
                               * np.array([0.5 ** 4, 0.5 ** 8]), rtol=RTOL[dtype])


def test_train_ensemble_without_data_and_default_record(dtype):
    th0 = jnp.arange(6.0).reshape(3, 2)
    res = nets.train_ensemble(lambda th: jnp.sum(th ** 2), th0, n_steps=4, step_size=0.25,
                              record_every=2)
    np.testing.assert_allclose(res.params, th0 * 0.5 ** 4, rtol=RTOL[dtype])
    np.testing.assert_allclose(res.history, np.sum(np.asarray(th0)[:, None] ** 2, -1)
                               * np.array([0.5 ** 4, 0.5 ** 8]), rtol=RTOL[dtype])


def test_init_ensemble_equals_init_mlp_with_folded_keys():
    key = jax.random.key(7)
    ens = nets.init_ensemble(key, [3, 5, 2], 2, parameterization="standard", w_std=1.5)
    for r in range(2):
        one = nets.init_mlp(jax.random.fold_in(key, r), [3, 5, 2], parameterization="standard",
                            w_std=1.5)
        for got, want in zip(jax.tree_util.tree_leaves(ens), jax.tree_util.tree_leaves(one)):
            assert got.shape[1:] == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got[r], want, rtol=1e-6, atol=1e-7)      # float32


@pytest.mark.parametrize("kwargs, name", [
    (dict(params=[jnp.ones(3), jnp.ones(4)]), "params"),
    (dict(params=jnp.ones(())), "params"),
    (dict(data=jnp.ones((4, 2))), "data"),
    (dict(data=(jnp.ones(2), jnp.ones(3)), data_axes=(None, 0, 0)), "data_axes"),
    (dict(loss_fn=3), "loss_fn"),
    (dict(record_fn="loss"), "record_fn"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(step_size=0.0), "step_size"),
    (dict(n_steps=5, record_every=2), "record_every"),
    (dict(betas=(0.9,)), "betas"),
    (dict(member_batch=0), "member_batch"),
])
def test_train_ensemble_bad_inputs_raise(kwargs, name):
    base = dict(loss_fn=lambda p, *d: jnp.sum(p ** 2), params=jnp.ones((3, 2)), n_steps=4,
                step_size=0.1)
    with pytest.raises(ValueError, match=name):
        nets.train_ensemble(**{**base, **kwargs})


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_members=0), "n_members"),
    (dict(widths=[3]), "widths"),
    (dict(parameterization="mup"), "parameterization"),
])
def test_init_ensemble_bad_inputs_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nets.init_ensemble(**{**dict(key=jax.random.key(0), widths=[3, 4, 1], n_members=2),
                              **kwargs})


# ---------------------------------------------------------------- init_mlp / apply_mlp
def test_standard_and_ntk_parameterizations_compute_the_same_function_at_init(dtype):
    x = jax.random.normal(jax.random.key(1), (7, 5))
    for act in ("relu", "tanh", "erf"):
        kw = dict(w_std=1.3, b_std=0.4)
        p_std = nets.init_mlp(jax.random.key(2), [5, 16, 8, 1], parameterization="standard", **kw)
        p_ntk = nets.init_mlp(jax.random.key(2), [5, 16, 8, 1], parameterization="ntk", **kw)
        out_std = nets.apply_mlp(p_std, x, activation=act, parameterization="standard", **kw)
        out_ntk = nets.apply_mlp(p_ntk, x, activation=act, parameterization="ntk", **kw)
        np.testing.assert_allclose(out_std, out_ntk, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_mean_field_output_is_ntk_output_over_sqrt_width(dtype):
    x = jax.random.normal(jax.random.key(3), (6, 4))
    p = nets.init_mlp(jax.random.key(4), [4, 32, 1], parameterization="mean_field")
    out_mf = nets.apply_mlp(p, x, activation="tanh", parameterization="mean_field")
    out_ntk = nets.apply_mlp(p, x, activation="tanh", parameterization="ntk")
    np.testing.assert_allclose(out_mf, out_ntk / np.sqrt(32), rtol=RTOL[dtype])


@partial(jax.jit, static_argnames="widths")
def _init_output_spreads(keys, x, widths):
    """Std over ``keys`` of the tanh network's output at ``x[0]``, per parameterization and width
    (one compilation for all four)."""
    def spread(param, m):
        def one(k):
            p = nets.init_mlp(k, [x.shape[1], m, 1], parameterization=param)
            return nets.apply_mlp(p, x, activation="tanh", parameterization=param)[0, 0]
        return jnp.std(jax.vmap(one)(keys))
    return {param: jnp.stack([spread(param, m) for m in widths])
            for param in ("ntk", "mean_field")}


def test_init_variances_and_output_scaling():
    d, width, w_std = 8, 2048, 1.5
    p_std = nets.init_mlp(jax.random.key(5), [d, width, 1], parameterization="standard", w_std=w_std)
    p_ntk = nets.init_mlp(jax.random.key(5), [d, width, 1], parameterization="ntk", w_std=w_std)
    # standard: W_0 ~ N(0, w_std²/d), W_1 ~ N(0, w_std²/width); ntk: N(0, 1)
    assert np.var(p_std[0][0]) == pytest.approx(w_std ** 2 / d, rel=0.05)
    assert np.var(p_std[1][0]) == pytest.approx(w_std ** 2 / width, rel=0.1)
    assert np.var(p_ntk[0][0]) == pytest.approx(1.0, rel=0.05)
    # first-layer preactivations h¹ = w_std/√d · xW₀ have variance w_std² ‖x‖²/d per unit
    x = jnp.ones((1, d))
    h1 = nets.apply_mlp(p_ntk[:1], x, parameterization="ntk", w_std=w_std)
    assert np.var(h1) == pytest.approx(w_std ** 2, rel=0.1)
    # over random inits, the NTK output has O(1) spread, the mean-field output O(1/√width)
    keys = jax.random.split(jax.random.key(6), 400)
    spreads = _init_output_spreads(keys, x, widths=(1024, 64))
    for param, expected in (("ntk", 1.0), ("mean_field", 0.25)):
        ratio = float(spreads[param][0] / spreads[param][1])
        assert ratio == pytest.approx(expected, rel=0.2), (param, ratio)


@pytest.mark.parametrize("kwargs, name", [
    (dict(widths=[3]), "widths"),
    (dict(widths=[3, 0, 1]), "widths"),
    (dict(parameterization="mup"), "parameterization"),
    (dict(w_std=0.0), "w_std"),
    (dict(b_std=-1.0), "b_std"),
    (dict(key=5), "key"),
])
def test_init_mlp_bad_inputs_raise(kwargs, name):
    base = dict(key=jax.random.key(0), widths=[3, 4, 1])
    with pytest.raises(ValueError, match=name):
        nets.init_mlp(**{**base, **kwargs})


def test_apply_mlp_bad_names_raise():
    p = nets.init_mlp(jax.random.key(0), [3, 4, 1])
    with pytest.raises(ValueError, match="activation"):
        nets.apply_mlp(p, jnp.ones((2, 3)), activation="swish")
    with pytest.raises(ValueError, match="parameterization"):
        nets.apply_mlp(p, jnp.ones((2, 3)), parameterization="mup")
