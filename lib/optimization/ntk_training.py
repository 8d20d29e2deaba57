"""Training in the kernel (lazy, NTK) regime: kernel gradient descent, the linearized network,
norm-based bounds, one-pass averaged SGD, and a symmetric initialization with zero output.

Kernel gradient descent
-----------------------
Gradient descent with step ``η`` on ``L(θ) = (1/2n) Σ_i (f_θ(x_i) − y_i)²`` of the linearization
``f_θ(x) = f_0(x) + ∇f_0(x)ᵀ(θ − θ_0)`` moves the outputs by the tangent kernel
``K(x, x') = ∇f_0(x)ᵀ∇f_0(x')``:

    u_{t+1} = u_t − (η/n) K(X, X)(u_t − y),         (training outputs u_t = f_t(X))
    f_{t+1}(x) = f_t(x) − (η/n) K(x, X)(u_t − y).

With ``K(X, X) = V diag(λ) Vᵀ`` the solution is ``u_t − y = V diag((1 − ηλ/n)^t) Vᵀ (u_0 − y)``
and, for a test point, ``f_t(x) = f_0(x) + K(x, X) V diag(g_t(λ)) Vᵀ (y − u_0)`` with the spectral
filter ``g_t(λ) = (1 − (1 − ηλ/n)^t)/λ``. As ``t → ∞`` (and ``K`` invertible) this is kernel
"ridgeless" regression ``f_0(x) + K(x, X) K⁻¹ (y − u_0)``. The parameters moved by
``θ_t − θ_0 = Jᵀ V diag(g_t) Vᵀ (y − u_0)`` (``J`` the ``n × P`` Jacobian), whose squared norm
``‖θ_t − θ_0‖² = Σ_k λ_k g_t(λ_k)² ⟨v_k, y − u_0⟩²`` tends to ``(y − u_0)ᵀ K⁻¹ (y − u_0)``.

Functions
---------
``kernel_gd(K_train, y, K_test_train, steps, *, step_size, ...)``   outputs of kernel GD at ``steps``
``kernel_gd_distance(K_train, y, steps, *, step_size, ...)``         ``‖θ_t − θ_0‖`` of the linearized model
``norm_bound(K_train, y)``                                          ``√(2 yᵀK⁻¹y / n)`` (Arora et al., 2019)
``symmetric_two_layer(key, d, width, ...)``                         ``lib.nets`` parameters with ``f_0 ≡ 0``
``gd_residual_path(apply_fn, params, X, y, *, n_steps, step_size)`` GD on a network: residuals, Gram spectrum, remainder
``averaged_sgd(X, y, *, step_size, ridge, ...)``                    one-pass averaged SGD, least squares
``averaged_sgd_network(apply_fn, params0, X, y, *, step_size, ridge)`` the same on a network's parameters
``averaged_sgd_expected_risk(mu, theta, T, *, step_size, ridge, noise)`` its exact expected risk, Gaussian features
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import ntk

__all__ = ["KernelGD", "kernel_gd", "kernel_gd_distance", "norm_bound", "symmetric_two_layer",
           "ResidualPath", "gd_residual_path",
           "AveragedSGD", "averaged_sgd", "averaged_sgd_network", "averaged_sgd_expected_risk"]


class KernelGD(NamedTuple):
    """Outputs of kernel gradient descent: ``train`` ``(len(steps), n)`` are ``u_t = f_t(X)``,
    ``test`` ``(len(steps), m)`` are ``f_t`` at the test points (``None`` without test points)."""
    train: jax.Array
    test: jax.Array | None


def _kernel_and_targets(K_train, y):
    """``K_train`` ``(n, n)`` and ``y`` ``(n,)`` as float arrays of one dtype."""
    K, y = v.samples(K_train, y, "K_train", "y")
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K_train must be square (n, n), got shape {K.shape}")
    return K, y


def _steps(steps):
    s = np.asarray(steps)
    if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer) or np.any(s < 0):
        raise ValueError(f"steps must be a non-empty 1-D array of integers >= 0, got {steps!r}")
    return s


def _offset(f0, n, name, dtype):
    if f0 is None:
        return jnp.zeros(n, dtype)
    f0 = v.float_array(f0, name, ndim=1)
    if f0.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got shape {f0.shape}")
    return f0.astype(dtype)


def _spectral_filter(lam, t, step):
    """``(1 − (1 − η λ/n)^t)`` and ``g_t(λ) = (1 − (1 − ηλ/n)^t)/λ`` (limit ``η t/n`` at λ = 0),
    for a column of eigenvalues ``lam`` (already divided by n, i.e. of K/n) and a row of steps t."""
    a = 1.0 - step * lam[:, None]
    decay = jnp.sign(a) ** (t[None, :] % 2) * jnp.exp(t[None, :] * jnp.log(jnp.abs(a)))
    decay = jnp.where(a == 0, (t[None, :] == 0).astype(lam.dtype), decay)
    one_minus = 1.0 - decay
    small = jnp.abs(lam[:, None]) < 1e-12
    g = jnp.where(small, step * t[None, :], one_minus / jnp.where(small, 1.0, lam[:, None]))
    return decay, g


@jax.jit
def _kernel_gd(K, r0, Kt, f0_test, t, step):
    n = K.shape[0]
    lam, V = jnp.linalg.eigh(0.5 * (K + K.T) / n)
    c = V.T @ r0                                      # r0 = y − u_0
    decay, g = _spectral_filter(lam, t, step)
    train = (r0[None, :] - (V @ (decay * c[:, None])).T)   # u_t − u_0
    test = (Kt @ V @ (g * c[:, None] / n)).T               # f_t − f_0 at test points
    return train, test + f0_test[None, :]


def _common(K_train, y, steps, step_size, f0_train):
    K, y = _kernel_and_targets(K_train, y)
    t = _steps(steps)
    step = v.scalar(step_size, "step_size", positive=True)
    f0 = _offset(f0_train, K.shape[0], "f0_train", K.dtype)
    return K, y, t, step, f0, K.dtype


def kernel_gd(K_train, y, K_test_train=None, steps=(0,), *, step_size, f0_train=None,
              f0_test=None) -> KernelGD:
    """Outputs of gradient descent on ``(1/2n)‖u − y‖²`` in the function space of kernel ``K``.

    ``u_t − y = V diag((1 − ηλ_k/n)^t) Vᵀ (u_0 − y)`` on the training points and
    ``f_t(x) = f_0(x) + K(x, X) V diag(g_t(λ_k)) Vᵀ (y − u_0)`` elsewhere, with
    ``g_t(λ) = (1 − (1 − ηλ/n)^t)/λ`` and ``K(X, X) = V diag(λ) Vᵀ``. This is exactly what GD with
    step ``η`` does to the linearized network whose tangent kernel is ``K`` (module docstring),
    and the infinite-width limit of GD on the network itself when ``K`` is its NTK.

    Parameters
    ----------
    K_train
        ``(n, n)`` kernel matrix on the training inputs (symmetric positive semi-definite).
    y
        ``(n,)`` targets.
    K_test_train
        ``(m, n)`` kernel between test and training inputs, or ``None``.
    steps
        1-D integers ``t ≥ 0`` at which the outputs are returned (any order).
    step_size
        ``η > 0``. The iteration is stable when ``η λ_max(K)/n < 2``.
    f0_train, f0_test
        Outputs of the model at initialization (default 0, e.g. a symmetric initialization).

    Returns ``KernelGD(train, test)`` with shapes ``(len(steps), n)`` and ``(len(steps), m)``.
    Cost: one ``n × n`` eigendecomposition.
    """
    K, y, t, step, f0, dtype = _common(K_train, y, steps, step_size, f0_train)
    if K_test_train is None:
        Kt = jnp.zeros((0, K.shape[0]), dtype)
        if f0_test is not None:
            raise ValueError("f0_test needs K_test_train")
    else:
        Kt = v.float_array(K_test_train, "K_test_train", ndim=2)
        if Kt.shape[1] != K.shape[0]:
            raise ValueError(f"K_test_train must have shape (m, {K.shape[0]}), got shape {Kt.shape}")
        Kt = Kt.astype(dtype)
    f0t = _offset(f0_test, Kt.shape[0], "f0_test", dtype)
    train, test = _kernel_gd(K, y - f0, Kt, f0t, jnp.asarray(t, dtype), jnp.asarray(step, dtype))
    return KernelGD(train + f0[None, :], None if K_test_train is None else test)


@jax.jit
def _distance(K, r0, t, step):
    n = K.shape[0]
    lam, V = jnp.linalg.eigh(0.5 * (K + K.T) / n)
    c = V.T @ r0
    _, g = _spectral_filter(lam, t, step)
    # θ_t − θ_0 = Jᵀ V diag(g/n) c  ⇒  ‖·‖² = Σ_k (n λ_k) (g_k/n)² c_k² = Σ_k λ_k g_k² c_k² / n
    return jnp.sqrt(jnp.sum(jnp.maximum(lam, 0.0)[:, None] * g ** 2 * (c ** 2)[:, None], axis=0) / n)


def kernel_gd_distance(K_train, y, steps, *, step_size, f0_train=None) -> jax.Array:
    """Distance ``‖θ_t − θ_0‖`` travelled by GD on the linearized model with tangent kernel ``K``.

    ``‖θ_t − θ_0‖² = (1/n) Σ_k λ_k g_t(λ_k)² ⟨v_k, y − u_0⟩²`` (``λ_k`` eigenvalues of ``K/n``,
    ``g_t(λ) = (1 − (1 − ηλ)^t)/λ``), which increases to ``(y − u_0)ᵀ K⁻¹ (y − u_0)`` as
    ``t → ∞``. Shape ``(len(steps),)``; arguments as in :func:`kernel_gd`.
    """
    K, y, t, step, f0, dtype = _common(K_train, y, steps, step_size, f0_train)
    return _distance(K, y - f0, jnp.asarray(t, dtype), jnp.asarray(step, dtype))


def norm_bound(K_train, y) -> jax.Array:
    """The data-dependent complexity ``√(2 yᵀ K⁻¹ y / n)`` of Arora, Du, Hu, Li and Wang (2019).

    ``√(yᵀK⁻¹y)`` is the RKHS norm of the kernel interpolant of ``(X, y)`` and the distance the
    linearized network travels when it is trained to zero loss from ``f_0 = 0``
    (:func:`kernel_gd_distance` at ``t = ∞``). ``K`` must be positive definite; it is solved
    through a Cholesky factorization.
    """
    K, y = _kernel_and_targets(K_train, y)
    return _norm_bound(K, y)


@jax.jit
def _norm_bound(K, y):
    L = jnp.linalg.cholesky(0.5 * (K + K.T))
    z = jax.scipy.linalg.solve_triangular(L, y, lower=True)
    return jnp.sqrt(2.0 * jnp.sum(z * z) / K.shape[0])


def symmetric_two_layer(key, d: int, width: int, *, b_std: float = 0.0):
    """Parameters ``[(W_0, b_0), (W_1, b_1)]`` of a :mod:`lib.nets` two-layer network whose output
    is identically zero at initialization ("antisymmetric" or "doubling" initialization).

    ``width`` (even) hidden units come in pairs with the same input weights and bias and opposite
    output weights, ``W_0 = [A, A]``, ``W_1 = [a; −a]``, ``b_1 = 0``, with ``A``, ``a`` and the
    hidden bias standard Gaussian. Evaluate it with ``lib.nets.apply_mlp(params, x,
    parameterization="ntk", b_std=b_std)``: ``f_0(x) = (1/√width)(a − a)ᵀσ(·) = 0`` (up to the
    rounding of the matrix products, ~1e-16 in float64), while the
    NTK is that of the ``width/2`` distinct units, so as the width grows it still tends to
    ``lib.ntk.infinite_width(..., depth=1).ntk``. Training then starts from zero, and GD in the
    kernel regime tends to kernel regression with the NTK, without the random ``f_0`` term.
    """
    key = v.key(key)
    d = v.integer(d, "d", minimum=1)
    width = v.integer(width, "width", minimum=2)
    if width % 2:
        raise ValueError(f"width must be even (units come in pairs), got {width}")
    v.scalar(b_std, "b_std", nonnegative=True)
    kw, ka, kb = jax.random.split(key, 3)
    A = jax.random.normal(kw, (d, width // 2))
    a = jax.random.normal(ka, (width // 2, 1))
    b = jax.random.normal(kb, (width // 2,))
    return [(jnp.concatenate([A, A], axis=1), jnp.concatenate([b, b])),
            (jnp.concatenate([a, -a], axis=0), jnp.zeros(1, A.dtype))]


class ResidualPath(NamedTuple):
    """What :func:`gd_residual_path` returns. ``residual`` ``(T + 1, n)``: ``r_t = f(X; θ_t) − y``
    for ``t = 0, …, T``. Per step ``θ_t → θ_{t+1}`` (``t = 0, …, T − 1``), each of shape ``(T,)``:
    ``lam_min``, ``lam_max`` the extreme eigenvalues of the Gram matrix ``H(t)``, ``rayleigh`` the
    residual's Rayleigh quotient ``q_t = r_tᵀH(t)r_t / ‖r_t‖²``, ``remainder`` ``‖δ_t‖`` with
    ``δ_t = r_{t+1} − (I − ηH(t)/n) r_t``. ``params``: the final parameters ``θ_T``."""
    params: object
    residual: jax.Array
    lam_min: jax.Array
    lam_max: jax.Array
    rayleigh: jax.Array
    remainder: jax.Array


def _network_data(apply_fn, params, X, y, name):
    """Validated ``(params, X, y)`` of a network trained on ``(X, y)``, cast to one float dtype."""
    if not callable(apply_fn):
        raise ValueError(f"apply_fn must be callable, got {apply_fn!r}")
    X = v.float_array(X, "X", ndim=2)
    y = v.float_array(y, "y", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}), got shape {y.shape}")
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError(f"{name} must contain at least one array")
    dtype = jnp.result_type(*leaves, X.dtype, y.dtype)
    return (jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), params), X.astype(dtype),
            y.astype(dtype))


@partial(jax.jit, static_argnums=(0, 1, 6))
def _residual_path(apply_fn, gram_fn, params, X, y, step, n_steps):
    n = y.shape[0]
    f = lambda p: jnp.reshape(apply_fn(p, X), (n,))
    gram = gram_fn if gram_fn is not None else (lambda p, Z: ntk.empirical(apply_fn, p, Z, Z))

    def body(carry, _):
        p, r = carry                                    # r = f(X; p) − y, carried: δ uses the
        H = gram(p, X)                                  # very residuals that are recorded
        H = 0.5 * (H + H.T)
        _, pullback = jax.vjp(f, p)
        (g,) = pullback(r / n)                          # ∇ (1/2n)‖f − y‖²
        p_next = jax.tree_util.tree_map(lambda a, ga: a - step * ga, p, g)
        r_next = f(p_next) - y
        Hr = H @ r
        delta = (r_next - r) + (step / n) * Hr          # r_{t+1} − (I − ηH/n) r_t
        lam = jnp.linalg.eigvalsh(H)
        return (p_next, r_next), (r_next, lam[0], lam[-1], (r @ Hr) / (r @ r),
                                  jnp.sqrt(delta @ delta))

    r0 = f(params) - y
    (pT, _), (res, lmin, lmax, q, rem) = jax.lax.scan(body, (params, r0), None, length=n_steps)
    return pT, jnp.concatenate([r0[None], res]), lmin, lmax, q, rem


def gd_residual_path(apply_fn, params, X, y, *, n_steps: int, step_size,
                     gram_fn=None) -> ResidualPath:
    """Full-batch gradient descent on ``L(θ) = (1/2n) ‖f(X; θ) − y‖²`` that records, at every step,
    the residual, the Gram matrix's extreme eigenvalues and the part of the step the kernel does
    not explain.

    With ``f(X; θ) = apply_fn(params, X)`` (shape ``(n,)`` or ``(n, 1)``), ``r_t = f(X; θ_t) − y``,
    ``θ_{t+1} = θ_t − η ∇L(θ_t)`` and the Gram matrix ``H(t) = J_t J_tᵀ`` of the tangent kernel at
    ``θ_t`` (``J_t`` the ``n × P`` Jacobian), one step maps the residual as

        r_{t+1} = (I − η H(t)/n) r_t + δ_t,

    where ``−(η/n) H(t) r_t = −η J_t ∇L(θ_t)`` is the first-order (linearized) change and
    ``δ_t`` the remainder: for a smooth model the Taylor term ``O(η² ‖∇L‖²)``; for ReLU also the
    change of units whose pre-activation switches sign during the step; and, in floating point,
    the rounding of the forward pass and of the update (absolute, so relative to ``r_t`` it grows
    as the residual shrinks). It vanishes for a model linear in ``θ`` (up to rounding). Hence, with ``ρ_t = ‖δ_t‖/‖r_t‖``,

        ‖r_{t+1}‖/‖r_t‖ ≤ max(1 − ηλ_min(H(t))/n, ηλ_max(H(t))/n − 1) + ρ_t,
        ‖r_{t+1}‖/‖r_t‖ ≥ |1 − η q_t/n| − ρ_t,   q_t = r_tᵀH(t)r_t/‖r_t‖²

    (the second from ``‖(I − ηH/n) r‖² = ‖r‖²(1 − 2ηq_t/n + η² r_tᵀH²r_t/(n²‖r_t‖²))`` and
    Cauchy–Schwarz ``r_tᵀH²r_t ≥ q_t²‖r_t‖²``). Returns :class:`ResidualPath`: the residuals
    ``r_0, …, r_T`` and, per step, ``λ_min(H(t))``, ``λ_max(H(t))``, ``q_t`` and ``‖δ_t‖``, all
    computed inside one jitted ``lax.scan`` (``δ_t`` from the very residuals recorded, so the
    identity above holds up to the rounding of ``H(t) r_t``).

    ``gram_fn(params, X)`` returns ``H`` ``(n, n)``; default :func:`lib.ntk.empirical` by
    autodiff (``n`` backward passes per step). For the two-layer network a closed form such as
    :func:`lib.ntk.two_layer_empirical` is much cheaper. ``apply_fn`` and ``gram_fn`` must be
    hashable (module-level functions or the same object on every call): they are static for
    ``jit``, one compilation per shapes and functions. A closure is traced once: if it reads a
    global that changes later while the shapes stay the same, the compiled values are stale
    (pass a new function object instead). ``n_steps`` ``T ≥ 1``, ``step_size``
    ``η > 0``. ``y`` may be a tracer, e.g. to ``jax.vmap`` over several label vectors.
    """
    p0, X, y = _network_data(apply_fn, params, X, y, "params")
    if gram_fn is not None and not callable(gram_fn):
        raise ValueError(f"gram_fn must be callable or None, got {gram_fn!r}")
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    step = v.scalar(step_size, "step_size", positive=True)
    out = _residual_path(apply_fn, gram_fn, p0, X, y, jnp.asarray(step, X.dtype), n_steps)
    return ResidualPath(*out)


class AveragedSGD(NamedTuple):
    """What :func:`averaged_sgd` returns: the ``last`` iterate ``θ_T`` and the Polyak–Ruppert
    average ``average = (1/(T+1)) Σ_{t=0}^{T} θ_t``, each of shape ``(D,)``."""
    last: jax.Array
    average: jax.Array


@jax.jit
def _averaged_sgd(X, y, theta0, step, ridge):
    def body(carry, xy):
        th, s, t = carry
        x, yt = xy
        g = (x @ th - yt) * x + ridge * (th - theta0)
        th = th - step * g
        return (th, s + (th - s) / (t + 2.0), t + 1.0), None

    (th, avg, _), _ = jax.lax.scan(body, (theta0, theta0, jnp.zeros((), X.dtype)), (X, y))
    return th, avg


def averaged_sgd(X, y, *, step_size, ridge=0.0, theta0=None) -> AveragedSGD:
    """One pass of averaged SGD for regularized least squares, one fresh example per step.

    For ``t = 0, …, T − 1`` (``T`` = number of rows of ``X``), with ``(x_t, y_t)`` row ``t``:

        θ_{t+1} = θ_t − η [ (x_tᵀθ_t − y_t) x_t + λ (θ_t − θ_0) ],

    i.e. SGD on the expected risk ``½ E(xᵀθ − y)² + (λ/2)‖θ − θ_0‖²``, and the answer is the
    average ``θ̄_T = (1/(T+1)) Σ_{t=0}^{T} θ_t``. With ``x = φ(z)`` the feature map of a kernel this
    is averaged kernel SGD, the limit of averaged SGD on a wide network in the NTK regime
    (Nitanda and Suzuki, 2021); with ``λ = T^{−β/(2rβ+1)}`` and a constant step it attains the
    minimax rate ``T^{−2rβ/(2rβ+1)}`` under the source (``r``) and capacity (``β``) conditions.

    ``step_size`` ``η > 0`` (stable when ``η · sup‖x‖² ≲ 1``), ``ridge`` ``λ ≥ 0``, ``theta0``
    the start and centre of the penalty (default 0). One jitted ``lax.scan``; vmap it over keys
    of independent data sets.
    """
    X, y = v.samples(X, y)
    step = v.scalar(step_size, "step_size", positive=True)
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    dtype = jnp.result_type(X.dtype, y.dtype)
    if theta0 is None:
        th0 = jnp.zeros(X.shape[1], dtype)
    else:
        th0 = v.float_array(theta0, "theta0", ndim=1)
        if th0.shape[0] != X.shape[1]:
            raise ValueError(f"theta0 must have length D = {X.shape[1]}, got shape {th0.shape}")
    last, avg = _averaged_sgd(X.astype(dtype), y.astype(dtype), th0.astype(dtype),
                              jnp.asarray(step, dtype), jnp.asarray(ridge, dtype))
    return AveragedSGD(last, avg)


@partial(jax.jit, static_argnums=0)
def _averaged_sgd_network(apply_fn, params0, X, y, step, ridge):
    tmap = jax.tree_util.tree_map

    def loss(p, x, yt):
        return 0.5 * (apply_fn(p, x[None])[0, 0] - yt) ** 2

    def body(carry, xy):
        p, s, t = carry
        g = jax.grad(loss)(p, *xy)
        p = tmap(lambda a, ga, a0: a - step * (ga + ridge * (a - a0)), p, g, params0)
        s = tmap(lambda m, a: m + (a - m) / (t + 2.0), s, p)
        return (p, s, t + 1.0), None

    (last, avg, _), _ = jax.lax.scan(body, (params0, params0, jnp.zeros((), X.dtype)), (X, y))
    return last, avg


def averaged_sgd_network(apply_fn, params0, X, y, *, step_size, ridge=0.0):
    """One pass of averaged SGD on the parameters of a network, one fresh example per step.

    With ``θ`` all parameters of ``params0`` (any pytree, flattened), ``f(x; θ) =
    apply_fn(params, x[None])[0, 0]`` and ``(x_t, y_t)`` row ``t`` of ``(X, y)``, for
    ``t = 0, …, T − 1``:

        θ_{t+1} = θ_t − η [ (f(x_t; θ_t) − y_t) ∇_θ f(x_t; θ_t) + λ (θ_t − θ_0) ],

    SGD on ``½ E(f(x; θ) − y)² + (λ/2)‖θ − θ_0‖²`` (Nitanda and Suzuki, 2021, with both layers
    trained). Returns :class:`AveragedSGD` with ``last`` ``= θ_T`` and ``average`` ``= θ̄_T =
    (1/(T+1)) Σ_{t=0}^{T} θ_t`` as pytrees like ``params0``; predict with
    ``apply_fn(average, ·)``. For a model linear in ``θ`` this is :func:`averaged_sgd`; for a wide
    network in the NTK parameterization it tends to averaged kernel SGD with the NTK.

    ``apply_fn`` must be hashable (a module-level function or a ``functools.partial``) and is
    compiled once per shape; ``step_size`` ``η > 0``, ``ridge`` ``λ ≥ 0``.
    """
    p0, X, y = _network_data(apply_fn, params0, X, y, "params0")
    step = v.scalar(step_size, "step_size", positive=True)
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    last, avg = _averaged_sgd_network(apply_fn, p0, X, y, jnp.asarray(step, X.dtype),
                                      jnp.asarray(ridge, X.dtype))
    return AveragedSGD(last, avg)


@partial(jax.jit, static_argnums=3)
def _averaged_sgd_expected_terms(mu, theta, noise, T, step, ridge):
    v_ = theta / jnp.sqrt(mu)                       # target coefficients on the features
    A = 1.0 - step * ridge - step * mu              # E[B] = (1 - ηλ) I - η Σ, diagonal
    geo = step * ridge + step * mu                  # 1 - A

    def body(carry, s):
        m, p = carry                                # E e_s and diag E e_s e_sᵀ
        j = T - s                                   # later iterates t = s + 1, ..., T
        G = A * (1.0 - A ** j) / geo                # Σ_{i=1}^{j} A^i
        Cs = -step * ridge / geo * (j * v_ - G * v_)
        term = jnp.sum(mu * (p + 2.0 * G * p + 2.0 * Cs * m))
        Am = A * m
        p = ((1.0 - step * ridge) ** 2 * p - 2.0 * step * (1.0 - step * ridge) * mu * p
             + step ** 2 * (2.0 * mu ** 2 * p + jnp.sum(mu * p) * mu)
             - 2.0 * step * ridge * Am * v_ + (step * ridge * v_) ** 2 + (step * noise) ** 2 * mu)
        return (Am - step * ridge * v_, p), term

    _, terms = jax.lax.scan(body, (-v_, v_ ** 2), jnp.arange(T + 1, dtype=mu.dtype))
    return terms


def averaged_sgd_expected_risk(mu, theta, T: int, *, step_size, ridge, noise) -> float:
    """Exact expected excess risk of :func:`averaged_sgd` (``θ_0 = 0``) on Gaussian features.

    The model is that of ``lib.data.SpectralProblem``: ``x = (√μ_k z_k)_k`` with ``z ~ N(0, I_D)``
    (covariance ``Σ = diag(μ)``), ``y = Σ_k θ_k z_k + noise · ε``, i.e. target coefficients
    ``v = θ/√μ`` on the features, and the risk of a coefficient vector ``c`` is
    ``(c − v)ᵀ Σ (c − v)``. With ``e_t = θ_t − v``, one step is
    ``e_{t+1} = B_t e_t − ηλ v + η·noise·ε_t x_t``, ``B_t = (1 − ηλ) I − η x_t x_tᵀ``, so

        m_{t+1} = A m_t − ηλ v,                       A = E B_t = (1 − ηλ) I − η Σ,
        P_{t+1} = E[B P_t B] − ηλ (A m_t vᵀ + v m_tᵀ A) + η²λ² v vᵀ + η² noise² Σ,
        E[B P B] = (1 − ηλ)² P − η(1 − ηλ)(ΣP + PΣ) + η² (2ΣPΣ + tr(ΣP) Σ)   (Gaussian x),

    and, for ``t > s``, ``E[e_t e_sᵀ] = A^{t−s} P_s + c_{t−s} m_sᵀ`` with
    ``c_j = −ηλ Σ_{i<j} A^i v``. The expected risk of the average ``ē = (1/(T+1)) Σ_{t=0}^T e_t`` is

        E ēᵀΣē = (T+1)^{-2} Σ_{s=0}^{T} tr Σ [P_s + 2 G_{T−s} P_s + 2 (Σ_{j=1}^{T−s} c_j) m_sᵀ],
        G_j = Σ_{i=1}^{j} A^i,

    which involves only ``m_s`` and the diagonal of ``P_s``; the diagonal of the ``P`` recursion
    closes on itself (``Σ`` diagonal), so the cost is ``O(T D)`` — one ``lax.scan`` (compiled once
    per ``T``), the ``T + 1`` terms summed in float64.

    ``mu`` (``D,``) positive, ``theta`` (``D,``), ``T ≥ 1`` steps, ``step_size`` ``η > 0``,
    ``ridge`` ``λ ≥ 0``, ``noise ≥ 0``. Float32 or float64 (the dtype of ``mu`` and ``theta``).
    """
    mu = v.float_array(mu, "mu", ndim=1)
    theta = v.float_array(theta, "theta", ndim=1)
    v.same_dim(mu, theta, "mu", "theta")
    v.positive(mu, "mu")
    T = v.integer(T, "T", minimum=1)
    step = v.scalar(step_size, "step_size", positive=True)
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    noise = v.scalar(noise, "noise", nonnegative=True)
    dtype = jnp.result_type(mu.dtype, theta.dtype)
    terms = _averaged_sgd_expected_terms(mu.astype(dtype), theta.astype(dtype),
                                         jnp.asarray(noise, dtype), T, jnp.asarray(step, dtype),
                                         jnp.asarray(ridge, dtype))
    return float(np.sum(np.asarray(terms, np.float64)) / float(T + 1) ** 2)
