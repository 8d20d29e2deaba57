"""Random versus learned first layers: nested least-squares fits of random ReLU features, the
"how many features to reach ε" search, and a batched trainer for
two-layer ReLU networks of several widths on several data sets at once.

Conventions
-----------
Inputs ``x`` lie in ``R^d`` (in the book: on the unit sphere). A ReLU unit with bias is written
through the *augmented input* ``x̃ = (x, 1) ∈ R^{d+1}`` (:func:`with_bias`) as

    φ_v(x) = relu(⟨v, x̃⟩) = relu(⟨v_{1:d}, x⟩ + v_{d+1}),

and since relu is positively homogeneous only the direction of ``v`` matters up to the output
weight: *random ReLU features with bias* are ``φ_{v_j}`` with ``v_j`` uniform on ``S^d``
(:func:`lib.data.sphere` in dimension d+1).

Nested fits
-----------
:func:`nested_least_squares` fits, for *every* m = 1, …, M at once, the least-squares
combination of the first m columns of a feature matrix and returns its relative test error.
With ``G = ΦᵀΦ + λ I = L Lᵀ`` (Cholesky), the leading m×m block of ``L`` is the Cholesky factor of
the leading block of ``G``; hence with ``c = L⁻¹ Φᵀ y`` and whitened test features
``Ψ = Φ_test L⁻ᵀ`` the fit on the first m features predicts ``Σ_{k≤m} Ψ_{:,k} c_k`` — a cumulative
sum. One factorization, ``O(n M² + M³)``, gives the whole error curve m ↦ err(m).
"""
from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jax.tree_util import Partial

from .. import _validate as v
from .. import data, nets, ridgeless

__all__ = ["with_bias", "relu_units", "nested_least_squares",
           "sphere_feature_curve", "FeaturesNeeded", "features_needed", "TrainedNets",
           "train_two_layer", "harmonic_count", "harmonic_degree", "harmonic_degree_slope",
           "zonal_energies", "width_bound_count"]


def with_bias(X) -> jax.Array:
    """The augmented inputs ``x̃ = (x, 1)``: ``X`` of shape ``(n, d)`` → ``(n, d + 1)``."""
    X = v.float_array(X, "X", ndim=2)
    return jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)


def relu_units(X, V) -> jax.Array:
    """``relu(x̃ · v)`` for every input row of ``X`` ``(n, d)`` and unit row of ``V`` ``(m, d + 1)``
    (the last coordinate of ``v`` is the bias); returns ``(n, m)``."""
    Xt = with_bias(X)
    V = v.float_array(V, "V", ndim=2)
    v.same_dim(Xt, V, "with_bias(X)", "V", axis=1)
    return jax.nn.relu(Xt @ V.T)


@jax.jit
def _nested(Phi, Y, Phi_test, Y_test, ridge):
    """Error curves ``(T, M)`` of the T target columns of ``Y`` ``(n, T)`` and ``Y_test``."""
    sq = jnp.sum(Phi * Phi, axis=0)
    zero = sq == 0                                          # e.g. a ReLU unit never active
    scale = jnp.where(zero, 0.0, 1.0 / jnp.sqrt(jnp.where(zero, 1.0, sq)))
    Phi, Phi_test = Phi * scale, Phi_test * scale          # unit-norm training columns
    G = Phi.T @ Phi
    # a zero column gets a unit diagonal (and coefficient 0): the factorization stays defined
    diag = ridge * jnp.trace(G) + zero.astype(G.dtype)
    L = jnp.linalg.cholesky(G + jnp.diag(diag))
    c = jax.scipy.linalg.solve_triangular(L, Phi.T @ Y, lower=True)       # (M, T)
    Psi_t = jax.scipy.linalg.solve_triangular(L, Phi_test.T, lower=True)   # (M, n_test) = Ψᵀ

    def curve(c_t, y_t):                                   # one target: row m-1 is the fit on m
        pred = jnp.cumsum(Psi_t * c_t[:, None], axis=0)
        return jnp.sqrt(jnp.mean((pred - y_t) ** 2, axis=1) / jnp.mean(y_t ** 2))

    return jax.lax.map(lambda t: curve(*t), (c.T, Y_test.T))


def nested_least_squares(Phi_train, y_train, Phi_test, y_test, *, ridge: float = 1e-6
                         ) -> jax.Array:
    """Relative test errors of least squares on the first m features, for m = 1, …, M.

    ``Phi_train`` ``(n, M)`` and ``Phi_test`` ``(n_test, M)`` are feature matrices with the same
    columns, ``y_train`` ``(n,)``, ``y_test`` ``(n_test,)``; or ``(n, T)`` and ``(n_test, T)`` for T
    targets fitted on the same features (one factorization for all; the result is then ``(T, M)``,
    row t the curve of target column t). Entry ``m − 1`` of the result is

        ‖Φ_test[:, :m] â_m − y_test‖ / ‖y_test‖,
        â_m = argmin_a ‖y_train − Φ_train[:, :m] a‖² + λ Σ_k ‖Φ_train[:, k]‖² a_k²,

    i.e. ridge regression on the columns rescaled to unit norm, with ``λ = ridge · M`` (``ridge``
    times the trace of the rescaled Gram matrix) for every m. The ridge only keeps the Cholesky
    factorization stable: nearly collinear features are common (two ReLU units with close
    directions), and the largest eigenvalue of the rescaled Gram matrix can be as large as M, so
    in float32 ``λ`` must exceed roughly ``10 · eps · M``; the default ``ridge = 1e-6`` does.
    ``ridge=0`` is exact least squares when ``Phi_train`` has full column rank. Computed with one
    Cholesky factorization (see the module docstring); a column of zeros gets coefficient 0.
    """
    Phi, y = v.samples(Phi_train, y_train, "Phi_train", "y_train", y_ndim=(1, 2))
    Phi_t, y_t = v.samples(Phi_test, y_test, "Phi_test", "y_test", y_ndim=(1, 2))
    v.same_dim(Phi, Phi_t, "Phi_train", "Phi_test", axis=1)
    if y.ndim != y_t.ndim or (y.ndim == 2 and y.shape[1] != y_t.shape[1]):
        raise ValueError(f"y_train and y_test must hold the same number of targets, got shapes "
                         f"{y.shape} and {y_t.shape}")
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    dtype = jnp.result_type(Phi.dtype, Phi_t.dtype, y.dtype, y_t.dtype)
    errs = _nested(Phi.astype(dtype), y.reshape(y.shape[0], -1).astype(dtype),
                   Phi_t.astype(dtype), y_t.reshape(y_t.shape[0], -1).astype(dtype),
                   jnp.asarray(ridge, dtype))
    return errs if y.ndim == 2 else errs[0]


def _pad_units(V, d: int, width: int) -> jax.Array:
    """Units ``(m, d + 1)`` (bias last) → ``(m, width + 1)``: zeros inserted before the bias."""
    return jnp.concatenate([V[:, :d], jnp.zeros((V.shape[0], width - d), V.dtype), V[:, d:]], 1)


def _padded_width(d: int) -> int:
    return 8 * ((d + 7) // 8)


@partial(jax.jit, static_argnames=("n_train", "n_test"))
def _sphere_curve(key, d, V_target, a_target, V_features, ridge, *, n_train, n_test):
    """Nested error curve with inputs uniform on S^{d−1} inside R^width (zero-padded; d traced)."""
    width = V_target.shape[1] - 1
    mask = (jnp.arange(width) < d).astype(V_target.dtype)
    k_train, k_test = jax.random.split(key)

    def inputs(k, n):
        g = jax.random.normal(k, (n, width), V_target.dtype) * mask
        x = g / jnp.linalg.norm(g, axis=1, keepdims=True)
        return jnp.concatenate([x, jnp.ones((n, 1), x.dtype)], axis=1)

    X, X_test = inputs(k_train, n_train), inputs(k_test, n_test)
    y = jax.nn.relu(X @ V_target.T) @ a_target.T                  # (n, T)
    y_test = jax.nn.relu(X_test @ V_target.T) @ a_target.T
    # ridgeless.random_features divides by sqrt(width + 1): irrelevant, _nested normalizes columns
    return _nested(ridgeless.random_features(X, V_features), y,
                   ridgeless.random_features(X_test, V_features), y_test, ridge)


def _units(V, name: str) -> jax.Array:
    V = v.float_array(V, name, ndim=2)
    if V.shape[1] < 2:
        raise ValueError(f"{name} must have rows (w, b) of length d + 1 >= 2, got shape {V.shape}")
    return V


def _target_weights(target_weights, Vt) -> jax.Array:
    """Validated weights ``(K,)`` or ``(T, K)`` of the K target units; None: all ``1/K``."""
    if target_weights is None:
        return jnp.full((Vt.shape[0],), 1.0 / Vt.shape[0], Vt.dtype)
    a = v.float_array(target_weights, "target_weights", ndim=(1, 2))
    if a.shape[-1] != Vt.shape[0]:
        raise ValueError(f"target_weights must have one weight per row of target_units "
                         f"({Vt.shape[0]}) along its last axis, got shape {a.shape}")
    return a


def sphere_feature_curve(key, target_units, feature_units, *, target_weights=None,
                         n_train: int, n_test: int = 2048, ridge: float = 1e-6) -> jax.Array:
    """Error curve of least squares on the first m of the given ReLU units, m = 1, …, M.

    Inputs are uniform on the sphere ``S^{d−1}``. The target is the two-layer network
    ``f*(x) = Σ_k a_k relu(⟨v*_k, x̃⟩)`` with ``target_units`` ``(K, d + 1)`` (bias last) and
    ``target_weights`` ``a`` ``(K,)`` (default: all ``1/K``, the average of the units; K = 1 is a
    single neuron); weights ``(T, K)`` give T targets ``f*_t = Σ_k a_{tk} relu(⟨v*_k, x̃⟩)``, fitted
    on the same inputs and features with one factorization. The features are ``relu(⟨v_j, x̃⟩)``
    with ``feature_units`` ``(M, d + 1)``. ``n_train`` training and ``n_test`` test inputs are drawn
    from ``key`` and the curve of :func:`nested_least_squares` is returned (relative test errors,
    shape ``(M,)``, or ``(T, M)`` for weights ``(T, K)``).
    Internally the inputs live in a zero-padded dimension (a multiple of 8), so calls with
    different d but equal K, M, n_train, n_test reuse one compiled kernel.
    """
    key = v.key(key)
    Vt = _units(target_units, "target_units")
    Vf = _units(feature_units, "feature_units")
    v.same_dim(Vt, Vf, "target_units", "feature_units", axis=1)
    a = _target_weights(target_weights, Vt)
    n_train = v.integer(n_train, "n_train", minimum=1)
    n_test = v.integer(n_test, "n_test", minimum=1)
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    d = Vt.shape[1] - 1
    width = _padded_width(d)
    dtype = jnp.result_type(Vt.dtype, Vf.dtype, a.dtype)
    errs = _sphere_curve(key, d, _pad_units(Vt.astype(dtype), d, width),
                         a.reshape(-1, Vt.shape[0]).astype(dtype),
                         _pad_units(Vf.astype(dtype), d, width), jnp.asarray(ridge, dtype),
                         n_train=n_train, n_test=n_test)
    return errs if a.ndim == 2 else errs[0]


class FeaturesNeeded(NamedTuple):
    """What :func:`features_needed` returns, one entry per independent draw of the features:
    ``m`` (int, ``(n_draws,)``), the count M_ε of :func:`features_needed`; ``reached`` (bool,
    ``(n_draws,)``), False where no m ≤ ``n_features`` reaches ``eps`` (``m`` is then
    ``n_features``, a lower bound: the count is censored at the budget); and ``errors``
    ``(n_draws, n_features)``, the whole test-error curves ``errors[i, m − 1]``, m = 1, …,
    ``n_features``."""
    m: np.ndarray
    reached: np.ndarray
    errors: np.ndarray


@partial(jax.jit, static_argnames=("n_features", "n_draws", "n_train", "n_test"))
def _needed(key, V_target, a_target, eps, ridge, *, n_features, n_draws, n_train, n_test):
    """Curves, first crossings and reached-flags of ``n_draws`` independent feature draws."""
    d = V_target.shape[1] - 1
    width = _padded_width(d)

    def one(i):
        k_dir, k_data = jax.random.split(jax.random.fold_in(key, i))
        V = data.sphere(k_dir, n_features, d + 1, dtype=V_target.dtype)     # uniform on S^d
        return _sphere_curve(k_data, d, _pad_units(V_target, d, width), a_target,
                             _pad_units(V, d, width), ridge, n_train=n_train, n_test=n_test)[0]

    errors = jax.lax.map(one, jnp.arange(n_draws))
    m = jnp.arange(1, n_features + 1, dtype=errors.dtype)
    hit = errors * jnp.sqrt((n_train - m) / n_train) <= eps     # the approximation error
    reached = jnp.any(hit, axis=1)
    return jnp.where(reached, jnp.argmax(hit, axis=1) + 1, n_features), reached, errors


def features_needed(key, target_units, *, eps: float, n_features: int, n_draws: int = 1,
                    target_weights=None, samples_per_feature: int = 4, n_test: int = 2048,
                    ridge: float = 1e-6) -> FeaturesNeeded:
    """How many random ReLU features with bias are needed to reach relative L² error ``eps``?

    Inputs uniform on ``S^{d−1}``, one target as in :func:`sphere_feature_curve` (``target_weights``
    of shape ``(K,)`` or None). For each of ``n_draws`` independent draws ``i`` (key
    ``fold_in(key, i)``, so draw i does not depend on ``n_draws``), directions ``v_j`` uniform on
    ``S^d`` are drawn once, nested (the m-feature model uses the first m of them), and the curve
    m ↦ err(m) of least squares with ``n = samples_per_feature · n_features`` training inputs is
    computed in one go. The test error of least squares exceeds the approximation error by a
    factor about ``sqrt(n/(n − m))`` (the estimation error; to first order in m/n,
    ``sqrt(1 + m/n)``), so the answer is the first m at which the approximation error so
    estimated reaches ``eps``:

        M_ε = min{m : err(m) · sqrt((n − m)/n) ≤ eps}.

    Without the factor, M_ε would be inflated by an amount that grows with m/n. All draws run in
    one compiled call; ``samples_per_feature`` must be at least 2 (the factor needs n > m).
    """
    key = v.key(key)
    Vt = _units(target_units, "target_units")
    a = _target_weights(target_weights, Vt)
    if a.ndim != 1:
        raise ValueError(f"target_weights must be one target, shape ({Vt.shape[0]},), "
                         f"got shape {a.shape}")
    eps = v.scalar(eps, "eps", positive=True)
    n_features = v.integer(n_features, "n_features", minimum=1)
    n_draws = v.integer(n_draws, "n_draws", minimum=1)
    spf = v.integer(samples_per_feature, "samples_per_feature", minimum=2)
    n_test = v.integer(n_test, "n_test", minimum=1)
    ridge = v.scalar(ridge, "ridge", nonnegative=True)
    dtype = jnp.result_type(Vt.dtype, a.dtype)
    out = _needed(key, Vt.astype(dtype), a[None].astype(dtype), jnp.asarray(eps, dtype),
                  jnp.asarray(ridge, dtype), n_features=n_features, n_draws=n_draws,
                  n_train=spf * n_features, n_test=n_test)
    return FeaturesNeeded(*(np.asarray(x) for x in out))


def harmonic_count(L, d: int) -> np.ndarray:
    """Dimension of the polynomials of degree at most ``L`` restricted to the sphere ``S^{d−1}``,

        N_d(L) = C(L + d − 1, d − 1) + C(L + d − 2, d − 1)
               = (2L + d − 1) · (L + 1)(L + 2)⋯(L + d − 2) / (d − 1)!,

    i.e. the number of spherical harmonics of degree ≤ L (``2L + 1`` on the circle, ``(L + 1)²`` on
    ``S²``, ``(L + 1)(L + 2)(2L + 3)/6`` on ``S³``). The product form is used for real ``L ≥ 0`` as
    well: a strictly increasing polynomial with ``N_d(0) = 1``, so that :func:`harmonic_degree` can
    invert it continuously. ``L`` is a scalar or an array (float64 result of its shape).
    """
    d = v.integer(d, "d", minimum=2)
    L = np.asarray(L, dtype=np.float64)
    if not np.all(np.isfinite(L)) or np.any(L < 0):
        raise ValueError("L must be finite and >= 0")
    out = (2 * L + d - 1) / math.factorial(d - 1)
    for i in range(1, d - 1):
        out = out * (L + i)
    return out


def harmonic_degree(M, d: int) -> np.ndarray:
    """The continuous inverse of :func:`harmonic_count`: the degree ``L ≥ 0`` with ``N_d(L) = M``.

    ``M`` features can resolve the spherical harmonics of degree up to about ``L_d(M)``; for large
    ``M``, ``L_d(M) ≈ ((d − 1)!·M/2)^{1/(d−1)}``, but at the sizes of an experiment the lower-order
    terms of ``N_d`` matter (``L_2(M) = (M − 1)/2``, ``L_3(M) = √M − 1``). Found by bisection on
    ``[0, M]`` (``N_d(L) ≥ 2L + 1``) to float64 precision; ``M ≥ 1``, scalar or array.
    """
    d = v.integer(d, "d", minimum=2)
    M = np.asarray(M, dtype=np.float64)
    if not np.all(np.isfinite(M)) or np.any(M < 1):
        raise ValueError("M must be finite and >= 1")
    lo, hi = np.zeros_like(M), M.copy()
    for _ in range(200):                       # N_d is increasing: plain bisection
        mid = (lo + hi) / 2
        below = harmonic_count(mid, d) < M
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def harmonic_degree_slope(m, d: int) -> float:
    """Least-squares slope of ``log L_d(m)`` against ``log m`` over the grid ``m`` (:func:`harmonic_degree`),

        σ_d = Σ_i (u_i − ū)(ℓ_i − ℓ̄) / Σ_i (u_i − ū)²,   u_i = log m_i,  ℓ_i = log L_d(m_i).

    If the error of an M-feature model behaves like ``L_d(M)^{−k}`` (harmonics up to degree
    ``L_d(M)`` resolved), a power-law fit of the error over the grid has slope ``−k·σ_d``. As
    ``m → ∞``, ``σ_d → 1/(d − 1)``; at finite m it is larger for ``d ≥ 3``. ``m``: at least two
    distinct values, all ``> 1`` (``L_d(1) = 0``).
    """
    d = v.integer(d, "d", minimum=2)
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 1 or np.unique(m).size < 2 or not np.all(np.isfinite(m)) or np.any(m <= 1):
        raise ValueError("m must be a 1-D grid of at least two distinct values > 1")
    u, ell = np.log(m), np.log(harmonic_degree(m, d))
    u = u - u.mean()
    return float(u @ (ell - ell.mean()) / (u @ u))


def zonal_energies(profile, d: int, L_max: int, *, support=(-1.0, 1.0), n_quad: int = 256):
    """Harmonic energies of a zonal function ``f(x) = φ(x_1)`` on the sphere ``S^{d−1}``.

    Returns ``(E, norm2)``: ``E[ℓ]``, ℓ = 0, …, ``L_max``, the squared norm of the projection of f
    on the spherical harmonics of degree ℓ, and ``norm2 = E f²`` (inputs uniform), with

        E_ℓ = dim H_ℓ · c_ℓ²,   c_ℓ = E[φ(t) P_ℓ(t)],   t = x_1,

    ``P_ℓ`` the Gegenbauer polynomial of ``S^{d−1}`` normalized by ``P_ℓ(1) = 1``
    (``(ℓ + d − 2) P_{ℓ+1} = (2ℓ + d − 2) t P_ℓ − ℓ P_{ℓ−1}``: Chebyshev for d = 2, Legendre for
    d = 3), ``dim H_ℓ = N_d(ℓ) − N_d(ℓ − 1)`` (:func:`harmonic_count`), and ``t`` of density
    ``∝ (1 − t²)^{(d−3)/2}``. Parseval: ``Σ_ℓ E_ℓ = norm2``. ``φ`` (a NumPy function of t) must
    vanish outside ``support = (lo, hi)`` and be analytic on it: the expectations are computed by
    Gauss–Legendre quadrature with ``n_quad`` nodes in the angle ``θ = arccos t`` over
    ``[arccos hi, arccos lo]``, where the integrand is then analytic, so the rule converges
    geometrically (for the kink of chapter 1.3, 256 nodes agree with 1024 to about 1e-11 relative,
    ``L_max = 60``, ``d ≤ 64``).
    """
    d = v.integer(d, "d", minimum=2)
    L_max = v.integer(L_max, "L_max", minimum=0)
    n_quad = v.integer(n_quad, "n_quad", minimum=2)
    lo, hi = (float(b) for b in support)
    if not -1.0 <= lo < hi <= 1.0:
        raise ValueError(f"support must satisfy -1 <= lo < hi <= 1, got {support}")
    node, weight = np.polynomial.legendre.leggauss(n_quad)
    a, b = math.acos(hi), math.acos(lo)
    theta, weight = a + (node + 1) * (b - a) / 2, weight * (b - a) / 2
    t = np.cos(theta)
    phi = np.asarray(profile(t), dtype=np.float64)
    if phi.shape != t.shape or not np.all(np.isfinite(phi)):
        raise ValueError("profile must map an array of t to finite values of the same shape")
    # E g(t) = ∫ g(cos θ) sin^{d−2} θ dθ / ∫_0^π sin^{d−2} θ dθ
    w = weight * np.sin(theta) ** (d - 2) * math.gamma(d / 2) / (
        math.sqrt(math.pi) * math.gamma((d - 1) / 2))
    dims = np.diff(harmonic_count(np.arange(L_max + 1), d), prepend=0.0)   # dim H_ℓ
    E, p_prev, p = np.empty(L_max + 1), np.zeros_like(t), np.ones_like(t)
    for ell in range(L_max + 1):
        E[ell] = dims[ell] * (w @ (phi * p)) ** 2
        p_prev, p = p, ((2 * ell + d - 2) * t * p - ell * p_prev) / (ell + d - 2) if ell + d > 2 \
            else t * p
    return E, float(w @ phi ** 2)


def width_bound_count(energies, norm2: float, d: int, eps: float) -> float:
    """The fewest features ``M*`` that could reach relative L² error ``eps`` on average, for a zonal
    target with harmonic energies ``energies`` (ℓ = 0, 1, …; :func:`zonal_energies`) and squared
    norm ``norm2``, whatever rotation-invariant law the random features follow.

    Averaged over rotations of the target, the squared error of the best approximation from any
    M-dimensional space is at least the energy outside the M largest eigenvalues of the averaged
    covariance (Ky Fan), which has eigenvalue ``λ_ℓ = E_ℓ / dim H_ℓ`` with multiplicity ``dim H_ℓ``.
    With the eigenvalues in decreasing order and a degree filled in part (M real),

        M* = min{M : norm2 − (sum of the M largest eigenvalues) ≤ eps² · norm2}.

    ``N_d(L_ε − 1) < M* ≤ N_d(L_ε)`` when every degree below ``L_ε`` (the first degree at which
    the relative tail falls below ``eps``) has at least as large a λ as every degree from ``L_ε``
    on. Raises if the given degrees do not suffice: if they do not reach the error, or if the
    omitted degrees could carry more energy per harmonic than the last one used. ``0 < eps < 1``.
    """
    d = v.integer(d, "d", minimum=2)
    E = np.asarray(energies, dtype=np.float64)
    if E.ndim != 1 or E.size == 0 or not np.all(np.isfinite(E)) or np.any(E < 0):
        raise ValueError("energies must be a non-empty 1-D array of finite values >= 0")
    norm2 = v.scalar(norm2, "norm2", positive=True)
    eps = v.scalar(eps, "eps", positive=True)
    if eps >= 1:
        raise ValueError(f"eps must be < 1 (zero already has relative error 1), got {eps}")
    dims = np.diff(harmonic_count(np.arange(E.size + 1), d), prepend=0.0)
    dims, dim_next = dims[:-1], dims[-1]
    order = np.argsort(-E / dims, kind="stable")
    need = (1.0 - eps ** 2) * norm2 - np.cumsum(E[order])     # energy still to capture
    full = np.cumsum(dims[order])
    k = int(np.argmax(need <= 0)) if np.any(need <= 0) else -1
    if k < 0:
        raise ValueError("the energies given do not reach the error eps: raise L_max")
    lam = E[order[k]] / dims[order[k]]
    if lam < max(norm2 - E.sum(), 0.0) / dim_next:           # an omitted degree might come first
        raise ValueError("the energies given may omit a degree with more energy per harmonic: "
                         "raise L_max")
    return float(full[k] - (-need[k]) / lam)                  # fill degree order[k] in part


class TrainedNets(NamedTuple):
    """What :func:`train_two_layer` returns, for P data sets and the given widths.

    ``test_error`` and ``train_error``: relative L² errors ``‖f − y‖/‖y‖`` of the best restart
    (smallest training loss), shape ``(P, n_widths)``; ``params``: all trained parameters
    ``[(W_0, b_0), (W_1, b_1)]`` with leading axes ``(P, n_widths, n_restarts)``.
    """
    test_error: np.ndarray
    train_error: np.ndarray
    params: list


def train_two_layer(key, X, y, X_test, y_test, *, widths: Sequence[int], n_restarts: int = 3,
                    n_steps: int = 1500, step_size: float = 0.02, final_step_size: float = 2e-4,
                    bias_init: float = 0.1, output_init: float = 0.0) -> TrainedNets:
    """Train two-layer ReLU networks ``f(x) = Σ_j a_j relu(⟨w_j, x⟩ + b_j) + a_0`` of every width
    in ``widths`` on each of P data sets, ``n_restarts`` random initializations each.

    ``X`` ``(P, n, d)``, ``y`` ``(P, n)`` (or ``(n, d)``, ``(n,)`` for P = 1), and likewise the
    test set. All P · n_widths · n_restarts networks are trained in *one* call of
    :func:`lib.nets.train_ensemble` (Adam, full batch, step size decaying geometrically from
    ``step_size`` to ``final_step_size``): a network of width k is the largest width with its
    output weights beyond the first k masked to zero (their units then never move), and every
    network follows exactly the iterates of its own run. Weights start from
    ``nets.init_mlp`` (standard parameterization: ``W_0 ~ N(0, 1/d)``, output weights
    ``N(0, 1/width)`` for the largest width, times ``output_init``), hidden biases from
    ``bias_init · N(0, 1)``, the output bias from 0. The default ``output_init=0`` starts from the
    zero function: the hidden units then move only once the output weights have grown, which
    avoids an early collapse of units into "always on" (a linear function, a stationary point of
    the loss) or "always off". Training uses the targets rescaled to unit mean square on each data set
    (the returned parameters are scaled back; relative errors do not change). Data sets of
    different input dimension can be zero-padded to a common d.
    """
    key = v.key(key)
    X = v.float_array(X, "X", ndim=(2, 3))
    y = v.float_array(y, "y", ndim=(1, 2))
    X_test = v.float_array(X_test, "X_test", ndim=(2, 3))
    y_test = v.float_array(y_test, "y_test", ndim=(1, 2))
    if X.ndim == 2:
        X, y, X_test, y_test = X[None], y[None], X_test[None], y_test[None]
    if y.shape != X.shape[:2] or y_test.shape != X_test.shape[:2]:
        raise ValueError(f"y must have shape X.shape[:-1] and y_test shape X_test.shape[:-1]: got "
                         f"{y.shape} for X {X.shape} and {y_test.shape} for X_test {X_test.shape}")
    if X_test.shape[0] != X.shape[0] or X_test.shape[2] != X.shape[2]:
        raise ValueError(f"X_test must have the same number of data sets and input dimension as "
                         f"X, got {X_test.shape} and {X.shape}")
    widths = [v.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths)]
    if not widths:
        raise ValueError("widths must list at least one width")
    n_restarts = v.integer(n_restarts, "n_restarts", minimum=1)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    lr0 = v.scalar(step_size, "step_size", positive=True)
    lr1 = v.scalar(final_step_size, "final_step_size", positive=True)
    bias_init = v.scalar(bias_init, "bias_init", nonnegative=True)
    output_init = v.scalar(output_init, "output_init", nonnegative=True)

    P, _, d = X.shape
    W, R = len(widths), n_restarts
    width = max(widths)
    # One draw of nets.init_mlp with P·W·R·width hidden units, cut into the P·W·R networks; the
    # output weights are rescaled from variance 1/(P·W·R·width) to the per-network 1/width.
    N = P * W * R
    (W0, b0), (W1, b1) = nets.init_mlp(key, [d, N * width, 1], parameterization="standard",
                                       b_std=1.0)
    W0 = jnp.moveaxis(W0.reshape(d, P, W, R, width), 0, 3)          # (P, W, R, d, width)
    b0 = bias_init * b0.reshape(P, W, R, width)
    W1 = W1.reshape(P, W, R, width, 1) * (output_init * np.sqrt(N))
    params = [(W0.astype(X.dtype), b0.astype(X.dtype)),
              (W1.astype(X.dtype), jnp.zeros((P, W, R, 1), X.dtype))]
    mask = (jnp.arange(width)[None, :] < jnp.asarray(widths)[:, None]).astype(X.dtype)  # (W, width)
    # Member (p, w, r) of the ensemble, flattened in this order, reads data set p and mask w.
    data_set, width_index = (jnp.asarray(i).ravel() for i in np.indices((P, W, R))[:2])

    # Train on targets rescaled to unit mean square (per data set): relative errors are unchanged
    # and the step sizes mean the same thing for every data set.
    rms = jnp.sqrt(jnp.mean(y ** 2, axis=1))
    rms = jnp.where(rms > 0, rms, 1.0)
    y, y_test = y / rms[:, None], y_test / rms[:, None]
    members = jax.tree_util.tree_map(lambda a: a.reshape((N,) + a.shape[3:]), params)
    res = nets.train_ensemble(_masked_mse, members,
                              data=(X, y, mask, data_set, width_index),
                              data_axes=(None, None, None, 0, 0), n_steps=n_steps,
                              step_size=Partial(_geometric, lr0, lr1 / lr0, n_steps),
                              optimizer="adam", record_every=n_steps)
    trained = jax.tree_util.tree_map(lambda a: a.reshape((P, W, R) + a.shape[1:]), res.params)

    def relative_mse(Xs, ys):
        mse = _ensemble_mse(res.params, (Xs, ys, mask, data_set, width_index)).reshape(P, W, R)
        return np.asarray(mse / jnp.mean(ys ** 2, axis=1)[:, None, None])

    train, test = relative_mse(X, y), relative_mse(X_test, y_test)
    best = np.argmin(np.where(np.isfinite(train), train, np.inf), axis=-1)[..., None]
    (A0, c0), (A1, c1) = trained           # undo the target scaling in the output layer
    params = [(A0, c0), (A1 * rms[:, None, None, None, None], c1 * rms[:, None, None, None])]
    return TrainedNets(np.sqrt(np.take_along_axis(test, best, -1)[..., 0]),
                       np.sqrt(np.take_along_axis(train, best, -1)[..., 0]), params)


def _masked_mse(params, data):
    """Mean squared error of one member of :func:`train_two_layer` on its data set, with its
    output weights beyond its width masked to zero."""
    X, y, mask, data_set, width_index = data
    (A0, c0), (A1, c1) = params
    f = nets.apply_mlp([(A0, c0), (A1 * mask[width_index][:, None], c1)], X[data_set],
                       parameterization="standard", b_std=1.0)[:, 0]
    return jnp.mean((f - y[data_set]) ** 2)


_ensemble_mse = jax.jit(jax.vmap(_masked_mse, in_axes=(0, (None, None, None, 0, 0))))


def _geometric(start, ratio, n_steps, t):
    """Step size decaying geometrically from ``start`` to ``start · ratio`` over ``n_steps``."""
    return start * ratio ** (t / n_steps)
