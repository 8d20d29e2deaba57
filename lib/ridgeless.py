"""Linear, ridge, ridgeless and kernel regression; double-descent asymptotics; Marchenko–Pastur.

Normalization
-------------
Every estimator here minimizes the *per-sample* squared loss plus a ridge penalty,

    β̂_λ = argmin_β  (1/n) ‖y − Xβ‖² + λ ‖β‖²  =  (XᵀX + nλ I)⁻¹ Xᵀ y  =  Xᵀ (XXᵀ + nλ I)⁻¹ y,

for ``X`` of shape ``(n, d)``. The kernel version uses the same ``n λ``:

    f̂_λ(x) = k(x, X) (K + nλ I)⁻¹ y,

so a linear kernel ``K = XXᵀ``, ``k(x, X) = xᵀXᵀ`` reproduces ridge predictions exactly.
``λ = 0`` is allowed everywhere and gives the *ridgeless* (minimum-norm) limit
``β̂_0 = lim_{λ→0⁺} β̂_λ = X⁺ y``: the minimum-norm interpolator when ``d ≥ n`` (full row rank),
ordinary least squares when ``d ≤ n`` (full column rank), and the minimum-norm least-squares
solution in general.

Numerics
--------
No explicit inverse is formed. Ridge and min-norm use the thin SVD
``X = U diag(s) Vᵀ`` and the spectral filter ``β̂ = V diag(s/(s² + nλ)) Uᵀ y``, where singular
values below ``max(n, d) · eps · s_max`` are treated as exact zeros (the LAPACK/NumPy ``pinv``
convention), so rank-deficient ``X`` is handled stably. Kernel ridge has one solver,
:func:`kernel_ridge` (also behind the random-features ridge path):
``eigh(K)``, eigenvalues below ``n · eps · max|eig|`` set to 0 and ``1/(0 + 0)`` to 0, and a
whole vector of ridges from one decomposition. The Monte-Carlo risk of Gaussian designs, which
have full rank almost surely, solves the normal equations by Cholesky instead (much cheaper).

All public functions validate their inputs (rank, matching sample/feature dimensions, NaN/inf,
negative ``lam``/``gamma``/``noise``) and raise ``ValueError`` naming the argument; the numerical
cores are jitted. Results have the floating dtype of the inputs (float32 by default, float64
when ``jax_enable_x64`` is on and the inputs are float64).
"""
from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v
from .activations import activation_fn

__all__ = [
    "min_norm_interpolator", "ridge", "kernel_ridge", "isotropic_asymptotic_risk",
    "marchenko_pastur_density", "marchenko_pastur_support", "random_features",
    "random_features_regression",
]


# ------------------------------------------------------------------------------------------------
# validation helpers
# ------------------------------------------------------------------------------------------------

def _lam(lam):
    return v.scalar(lam, "lam", nonnegative=True)


# ------------------------------------------------------------------------------------------------
# linear ridge / ridgeless regression
# ------------------------------------------------------------------------------------------------

@jax.jit
def _svd_ridge(X, y, nlam):
    """``V diag(s/(s² + nλ)) Uᵀ y`` with singular values below the pinv cutoff set to zero."""
    n, d = X.shape
    U, s, Vt = jnp.linalg.svd(X, full_matrices=False)
    eps = jnp.finfo(X.dtype).eps
    cutoff = max(n, d) * eps * jnp.max(s, initial=0.0)
    keep = s > cutoff
    safe = jnp.where(keep, s, 1.0)
    filt = jnp.where(keep, safe / (safe * safe + nlam), 0.0)
    coef = U.T @ y                                       # (r,) or (r, k)
    coef = coef * (filt if y.ndim == 1 else filt[:, None])
    return Vt.T @ coef


def min_norm_interpolator(X, y) -> jax.Array:
    """Minimum-norm least-squares solution ``β̂ = X⁺ y`` (Moore–Penrose pseudo-inverse).

    ``X`` has shape ``(n, d)``, ``y`` shape ``(n,)`` or ``(n, k)``; returns ``(d,)`` or ``(d, k)``.
    For ``d ≥ n`` and ``X`` of full row rank, ``β̂`` interpolates (``Xβ̂ = y``) and has the smallest
    Euclidean norm among all interpolators; for ``d ≤ n`` and full column rank it is the ordinary
    least-squares solution. In general it is ``argmin {‖β‖ : β minimizes ‖y − Xβ‖}``, and it lies in
    the row space of ``X`` (orthogonal to the null space). Computed by SVD with relative cutoff
    ``max(n, d) · eps · s_max``, so rank-deficient ``X`` is fine.
    """
    X, y = v.samples(X, y, y_ndim=(1, 2))
    return _svd_ridge(X, y, jnp.zeros((), X.dtype))


def ridge(X, y, lam) -> jax.Array:
    """Ridge regression ``β̂_λ = argmin_β (1/n)‖y − Xβ‖² + lam ‖β‖² = (XᵀX + n·lam·I)⁻¹ Xᵀ y``.

    Note the ``1/n`` on the loss: the effective Tikhonov parameter is ``n · lam``, the same as in
    :func:`kernel_ridge`. ``lam = 0`` returns the ridgeless limit ``X⁺ y``
    (:func:`min_norm_interpolator`). Computed by the SVD filter ``V diag(s/(s² + n·lam)) Uᵀ y``,
    valid for ``n < d`` and ``n > d`` alike. ``y`` is ``(n,)`` or ``(n, k)``; returns ``(d,)`` or
    ``(d, k)``.
    """
    X, y = v.samples(X, y, y_ndim=(1, 2))
    lam = _lam(lam)
    return _svd_ridge(X, y, jnp.asarray(X.shape[0] * lam, X.dtype))


def _spectral_filter(evals, nlams):
    """``1/(e + nλ)`` for each eigenvalue ``e`` (rows) and ridge ``nλ`` (columns), shape ``(n, L)``.

    The one rule for tiny eigenvalues: ``e < n · eps · max|e|`` (rounding noise of a PSD Gram
    matrix, the slightly negative ones included) counts as ``e = 0``, and ``1/(0 + 0)`` is
    replaced by 0 — the pseudo-inverse — so ``λ = 0`` gives the minimum-norm interpolant.
    """
    eps = jnp.finfo(evals.dtype).eps
    cutoff = evals.shape[0] * eps * jnp.max(jnp.abs(evals), initial=0.0)
    e = jnp.where(evals > cutoff, evals, 0.0)[:, None]
    shifted = e + nlams[None, :]
    keep = shifted > 0
    return jnp.where(keep, 1.0 / jnp.where(keep, shifted, 1.0), 0.0)


@jax.jit
def _spectral_kernel_ridge(K, y, K_test, nlams):
    """``K_test (K + nλ I)⁺ y`` for every ``nλ`` in the 1-D ``nlams``, from one ``eigh(K)``:
    shape ``(L, m)`` for ``y`` ``(n,)``, ``(L, m, k)`` for ``y`` ``(n, k)``."""
    evals, Q = jnp.linalg.eigh(0.5 * (K + K.T))
    coef = (Q.T @ y.reshape(y.shape[0], -1))                        # (n, k)
    weights = _spectral_filter(evals, nlams).T[:, :, None] * coef   # (L, n, k)
    pred = K_test @ (Q @ weights)                                   # (L, m, k)
    return pred.reshape(pred.shape[:2] + y.shape[1:])


def _ridges(lam):
    """``lam`` as a 0-d or 1-D float array of ridges ``>= 0`` (a jitted check: one scalar)."""
    if jnp.ndim(lam) == 0 and not v.is_tracer(lam):
        return jnp.asarray(_lam(lam))
    lam = v.float_array(lam, "lam", ndim=(0, 1))
    if lam.ndim == 1 and lam.shape[0] == 0:
        raise ValueError("lam must be a ridge >= 0 or a non-empty 1-D array of ridges, got an "
                         "empty array")
    v.nonnegative(lam, "lam")
    return lam


def kernel_ridge(K_train, y, K_test_train, lam) -> jax.Array:
    """Kernel ridge predictions ``K_test_train (K_train + n·lam·I)⁻¹ y``, for one ridge or many.

    This is the minimizer of ``(1/n) Σ_i (y_i − f(x_i))² + lam ‖f‖²_H`` evaluated at the test
    points (same normalization as :func:`ridge`: with ``K_train = XXᵀ`` and
    ``K_test_train = X_test Xᵀ`` the predictions equal ``X_test @ ridge(X, y, lam)``).

    Shapes: ``K_train`` ``(n, n)`` symmetric PSD, ``y`` ``(n,)`` or ``(n, k)``, ``K_test_train``
    ``(m, n)``; ``lam`` a scalar ``>= 0`` or a 1-D array of ``L`` of them. Returns ``(m,)`` or
    ``(m, k)`` for a scalar ``lam``, and ``(L, m)`` or ``(L, m, k)`` (ridges on the leading
    axis) for a vector, computed from the same decomposition.

    The one kernel-ridge solver of ``lib``: ``K_train = Q diag(e) Qᵀ`` (``eigh`` of its
    symmetric part), then ``K_test_train Q diag(1/(e + n·lam)) Qᵀ y``. Eigenvalues below
    ``n · eps · max|e|`` are rounding noise of a PSD matrix and are set to 0, and ``1/(0 + 0)``
    to 0: ``lam = 0`` gives the ridgeless (minimum-RKHS-norm interpolating) predictor
    ``K_test_train K_train⁺ y``, even for singular ``K_train``; for ``lam > 0`` the result is
    ``(K_train + n·lam·I)⁻¹`` up to that rounding.

    Validation raises ``ValueError`` naming the argument: shapes, non-finite entries, negative
    ``lam``, and an asymmetric ``K_train`` (``max|K − Kᵀ| > √eps · max|K|``); the value checks
    are jitted reductions returning one scalar each, so no matrix is copied to the host.
    """
    K, y = v.samples(K_train, y, "K_train", "y", y_ndim=(1, 2))
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K_train must be square (n, n), got shape {K.shape}")
    Kt = v.float_array(K_test_train, "K_test_train", ndim=2)
    if Kt.shape[1] != K.shape[0]:
        raise ValueError(f"K_test_train must have shape (m, n) with n = K_train.shape[0] = "
                         f"{K.shape[0]}, got shape {Kt.shape}")
    v.symmetric(K, "K_train")
    lam = _ridges(lam)
    dtype = jnp.result_type(K.dtype, y.dtype, Kt.dtype)
    pred = _spectral_kernel_ridge(K.astype(dtype), y.astype(dtype), Kt.astype(dtype),
                                  (K.shape[0] * lam.reshape(-1)).astype(dtype))
    return pred if lam.ndim else pred[0]


# ------------------------------------------------------------------------------------------------
# asymptotics
# ------------------------------------------------------------------------------------------------

def isotropic_asymptotic_risk(gamma, *, signal, noise) -> jax.Array:
    """Limit of the excess risk of the min-norm estimator with isotropic features.

    Hastie, Montanari, Rosset & Tibshirani (2022), *Surprises in high-dimensional ridgeless least
    squares interpolation*, Thm. 1: rows ``x ~ N(0, I_d)`` (any iid isotropic law with enough
    moments), ``y = xᵀβ + ε``, ``Var ε = σ²``, ``‖β‖ = r``, ``d/n → γ``. The excess prediction
    risk ``R = E_x[(xᵀ(β̂ − β))²] = ‖β̂ − β‖²`` of ``β̂ = X⁺y`` converges almost surely to

        R(γ) = σ² γ / (1 − γ)                      for γ < 1   (pure variance),
        R(γ) = r² (1 − 1/γ) + σ² / (γ − 1)         for γ > 1   (bias + variance),

    and ``R = +inf`` at ``γ = 1`` (the interpolation peak of double descent).

    ``signal`` is ``r`` (the *norm* ``‖β‖``, not its square) and ``noise`` is ``σ`` (the noise
    *standard deviation*, not the variance); both must be ``>= 0``. ``gamma`` is a positive scalar
    or array; the result has its shape. For the matching finite-n Gaussian formula note
    ``E‖β̂ − β‖² = σ² d/(n − d − 1)`` (d < n − 1) and ``r²(1 − n/d) + σ² n/(d − n − 1)``
    (d > n + 1), which converge to the above.
    """
    gamma = v.float_array(gamma, "gamma")
    v.positive(gamma, "gamma")
    r = v.scalar(signal, "signal", nonnegative=True)
    sigma = v.scalar(noise, "noise", nonnegative=True)
    return _hmrt_risk(gamma, jnp.asarray(r, gamma.dtype), jnp.asarray(sigma, gamma.dtype))


@jax.jit
def _hmrt_risk(gamma, r, sigma):
    under = jnp.where(gamma < 1, gamma, 0.5)
    over = jnp.where(gamma > 1, gamma, 2.0)
    r_under = sigma ** 2 * under / (1 - under)
    r_over = r ** 2 * (1 - 1 / over) + sigma ** 2 / (over - 1)
    return jnp.where(gamma < 1, r_under, jnp.where(gamma > 1, r_over, jnp.inf))


def marchenko_pastur_support(ratio, variance=1.0) -> tuple[float, float]:
    """Edges ``(a, b) = (variance·(1 − √ratio)², variance·(1 + √ratio)²)`` of the MP bulk.

    For ``ratio > 1`` the law also has an atom at 0 (see :func:`marchenko_pastur_density`).
    """
    c = v.scalar(ratio, "ratio", positive=True)
    s2 = v.scalar(variance, "variance", positive=True)
    return s2 * (1 - np.sqrt(c)) ** 2, s2 * (1 + np.sqrt(c)) ** 2


def marchenko_pastur_density(x, *, ratio, variance=1.0) -> jax.Array:
    """Density of the Marchenko–Pastur law: limiting eigenvalue distribution of ``XᵀX/n``.

    ``X`` is ``n × d`` with iid entries of mean 0 and variance ``variance = s²``, and
    ``ratio = c = d/n`` (the limit ``d, n → ∞``). With ``a, b = s²(1 ∓ √c)²``,

        p(x) = √((b − x)(x − a)) / (2π s² c x)    for a ≤ x ≤ b,   0 otherwise.

    For ``c ≤ 1`` this integrates to 1. For ``c > 1``, ``XᵀX/n`` (d × d) has rank n, so the law
    has an additional *atom of mass* ``1 − 1/c`` *at 0*, which is **not** returned: the function
    gives only the continuous part, which integrates to ``1/c``. (The nonzero eigenvalues are
    those of ``XXᵀ/n``.) ``x`` is a scalar or array; the result has its shape.
    """
    x = v.float_array(x, "x")
    a, b = marchenko_pastur_support(ratio, variance)
    c = float(ratio)
    s2 = float(variance)
    return _mp_density(x, jnp.asarray(a, x.dtype), jnp.asarray(b, x.dtype),
                       jnp.asarray(c * s2, x.dtype))


@jax.jit
def _mp_density(x, a, b, cs2):
    inside = (x > a) & (x < b) & (x > 0)
    xs = jnp.where(inside, x, 0.5 * (a + b))
    dens = jnp.sqrt(jnp.maximum((b - xs) * (xs - a), 0.0)) / (2 * jnp.pi * cs2 * xs)
    return jnp.where(inside, dens, 0.0)


# ------------------------------------------------------------------------------------------------
# random-features regression (Mei & Montanari)
# ------------------------------------------------------------------------------------------------

@partial(jax.jit, static_argnames="activation")
def _rf(X, W, activation):
    # a Python float (weakly typed): float32 inputs stay float32 when float64 is enabled
    return activation_fn(activation)((X @ W.T) / math.sqrt(X.shape[1]))


def random_features(X, W, *, activation: str = "relu") -> jax.Array:
    """Random-feature matrix ``Φ = σ(X Wᵀ / √d)`` of shape ``(n, N)``.

    ``X`` is ``(n, d)``, ``W`` is ``(N, d)`` (one random direction per row), ``σ`` is one of
    ``lib.activations.ACTIVATIONS``. This is the Mei–Montanari (2022) normalization
    ``φ_j(x) = σ(⟨w_j, x⟩/√d)``: with ``w_j ~ N(0, I_d)`` (or uniform on the sphere of radius
    √d) and ``‖x‖ ≈ √d``, the pre-activations are of order one.
    """
    X = v.float_array(X, "X", ndim=2)
    W = v.float_array(W, "W", ndim=2)
    v.same_dim(X, W, "X", "W", axis=1)
    activation_fn(activation)
    dtype = jnp.result_type(X.dtype, W.dtype)
    return _rf(X.astype(dtype), W.astype(dtype), activation)


def random_features_regression(key, X_train, y_train, X_test, *, n_features: int, lam,
                               activation: str = "relu") -> jax.Array:
    """Test predictions of ridge regression on ``n_features`` random features.

    Draws ``W ∈ R^{N × d}`` with iid ``N(0, 1)`` entries from ``key`` (``N = n_features``), builds
    ``Φ = σ(X_train Wᵀ/√d)`` (:func:`random_features`), fits

        â = argmin_a (1/n) ‖y − Φ a‖² + lam ‖a‖²     (:func:`ridge`; ``lam = 0``: min-norm)

    and returns ``σ(X_test Wᵀ/√d) â``, shape ``(m,)`` or ``(m, k)``. Mei & Montanari (2022) write
    the penalty as ``(Nλ/d)‖a‖²``; their ``λ`` corresponds to ``lam = N λ / d`` here. Varying
    ``N/n`` across 1 at ``lam = 0`` traces the double-descent curve.
    """
    key = v.key(key)
    n_features = v.integer(n_features, "n_features", minimum=1)
    X_train, y_train = v.samples(X_train, y_train, "X_train", "y_train", y_ndim=(1, 2))
    X_test = v.float_array(X_test, "X_test", ndim=2)
    v.same_dim(X_train, X_test, "X_train", "X_test", axis=1)
    lam = _lam(lam)
    activation_fn(activation)
    dtype = jnp.result_type(X_train.dtype, X_test.dtype)
    X_train, y_train, X_test = X_train.astype(dtype), y_train.astype(dtype), X_test.astype(dtype)
    W = jax.random.normal(key, (n_features, X_train.shape[1]), dtype=dtype)
    coef = _svd_ridge(_rf(X_train, W, activation), y_train,
                      jnp.asarray(X_train.shape[0] * lam, dtype))
    return _rf(X_test, W, activation) @ coef


# ------------------------------------------------------------------------------------------------
# Monte-Carlo risk, finite-n risk, Marchenko–Pastur CDF, random-features ridge path (chapter 2.3)
# ------------------------------------------------------------------------------------------------

__all__ += ["isotropic_finite_risk", "ridge_risk_monte_carlo", "marchenko_pastur_cdf",
            "random_features_ridge_path"]


def isotropic_finite_risk(n: int, d: int, *, signal, noise) -> float:
    """Exact expected excess risk ``E‖X⁺y − β‖²`` for Gaussian design at finite ``n, d``.

    Rows ``x ~ N(0, I_d)``, ``y = Xβ + σε`` with ``ε ~ N(0, I_n)``, ``‖β‖ = r`` (``signal``),
    ``σ = noise``. With ``E tr((XᵀX)⁻¹) = d/(n − d − 1)`` (inverse Wishart) and the null space of
    ``X`` being a uniformly random ``(d − n)``-dimensional subspace,

        E R = σ² d / (n − d − 1)                        for d < n − 1,
        E R = r² (1 − n/d) + σ² n / (d − n − 1)         for d > n + 1,

    and ``+inf`` for ``|d − n| ≤ 1`` (the expectation diverges; at ``d = n ± 1`` only when
    ``σ > 0``, which is the convention used here regardless of σ). As ``d/n → γ`` this tends to
    :func:`isotropic_asymptotic_risk`; the difference is the finite-``n`` correction.
    """
    n = v.integer(n, "n", minimum=1)
    d = v.integer(d, "d", minimum=1)
    r = v.scalar(signal, "signal", nonnegative=True)
    sigma = v.scalar(noise, "noise", nonnegative=True)
    if d < n - 1:
        return sigma ** 2 * d / (n - d - 1)
    if d > n + 1:
        return r ** 2 * (1 - n / d) + sigma ** 2 * n / (d - n - 1)
    return float("inf")


@partial(jax.jit, static_argnames=("n", "width", "reps"))
def _ridge_risk_mc(keys, dims, n, width, reps, r, sigma, lam):
    # Every d in ``dims`` (all ≤ n, or all > n) is embedded in R^width by zeroing the columns
    # j ≥ d of X and the coordinates j ≥ d of β: the fit vanishes there too, so the risk is exactly
    # that of the d-dimensional problem, and one compilation serves the whole group. A Gaussian
    # design has full rank min(n, d) almost surely, so β̂ solves the positive definite normal
    # equations of the smaller Gram matrix by Cholesky (far cheaper than an eigendecomposition):
    # (XᵀX + nλ I) β̂ = Xᵀy for d ≤ n (padded coordinates get a unit diagonal), and
    # β̂ = Xᵀ (XXᵀ + nλ I)⁻¹ y for d > n; at λ = 0 these are X⁺y.
    cols = jnp.arange(width)
    nlam = n * lam

    def one(d, k):
        mask = (cols < d).astype(r.dtype)
        kx, kb, ke = jax.random.split(k, 3)
        X = jax.random.normal(kx, (n, width), dtype=r.dtype) * mask
        g = jax.random.normal(kb, (width,), dtype=r.dtype) * mask
        beta = r * g / jnp.linalg.norm(g)
        y = X @ beta + sigma * jax.random.normal(ke, (n,), dtype=r.dtype)
        if width <= n:
            A = X.T @ X + jnp.diag(nlam + (1 - mask))
            bhat = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(A, lower=True), X.T @ y)
        else:
            K = X @ X.T + nlam * jnp.eye(n, dtype=r.dtype)
            bhat = X.T @ jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(K, lower=True), y)
        return jnp.sum((bhat - beta) ** 2)

    def per_dim(args):
        d, kd = args
        # vmapped in batches of 16 draws to bound memory (16 design matrices at a time)
        return jax.lax.map(lambda k: one(d, k), jax.random.split(kd, reps), batch_size=16)
    return jax.lax.map(per_dim, (dims, keys))


def _padding_groups(dims, n):
    """Indices of ``dims`` grouped for :func:`_ridge_risk_mc`: ascending, all ``≤ n`` or all
    ``> n``, and the largest at most twice the smallest (so padding at most doubles the cost)."""
    groups = []
    for i in sorted(range(len(dims)), key=lambda i: dims[i]):
        first = dims[groups[-1][0]] if groups else None
        if first is not None and dims[i] <= 2 * first and (dims[i] <= n) == (first <= n):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def ridge_risk_monte_carlo(key, n: int, dims, *, signal, noise, lam=0.0, reps: int) -> jax.Array:
    """Independent draws of the excess risk ``‖β̂_λ − β‖²`` with isotropic Gaussian design.

    For each dimension ``d`` in ``dims`` (a sequence of positive ints) and each of ``reps``
    draws: sample ``X ∈ R^{n×d}`` with iid ``N(0, 1)`` entries, ``β`` uniform on the sphere of
    radius ``signal`` (= r), ``y = Xβ + noise·ε``, fit ridge with ``lam`` (``lam = 0``: the
    min-norm estimator ``X⁺y``) and record ``‖β̂ − β‖² = E_x[(xᵀ(β̂ − β))²]``, the excess
    prediction risk at a fresh isotropic point. Returns shape ``(len(dims), reps)``.

    ``β̂`` solves the normal equations ``(XᵀX + nλ I) β̂ = Xᵀy`` (``d ≤ n``) or
    ``β̂ = Xᵀ(XXᵀ + nλ I)⁻¹y`` (``d > n``) by Cholesky: a Gaussian design has full rank
    ``min(n, d)`` almost surely, and at ``λ = 0`` both are ``X⁺y``. Cost
    ``reps · Σ_d O(n·d·min(n, d))``: the dimensions are sorted into groups (all ``≤ n`` or all
    ``> n``, largest at most twice the smallest), each padded with zero columns to its largest
    ``w`` — which leaves the risk unchanged — and run by one compiled program, so draw ``j`` of
    dimension ``d`` uses the first ``d`` columns of an ``n × w`` Gaussian matrix. The mean over
    draws estimates :func:`isotropic_finite_risk` (``lam = 0``), whose limit is
    :func:`isotropic_asymptotic_risk`. Use float64 (``jax_enable_x64``) near ``d = n``, where the
    Gram matrix is ill-conditioned.
    """
    key = v.key(key)
    n = v.integer(n, "n", minimum=1)
    dims_list = [v.integer(dd, "dims", minimum=1) for dd in np.atleast_1d(np.asarray(dims))]
    if not dims_list:
        raise ValueError("dims must contain at least one dimension")
    reps = v.integer(reps, "reps", minimum=1)
    r = v.scalar(signal, "signal", nonnegative=True)
    sigma = v.scalar(noise, "noise", nonnegative=True)
    lam = _lam(lam)
    dtype = jnp.zeros(()).dtype
    r, sigma, lam = (jnp.asarray(a, dtype) for a in (r, sigma, lam))
    keys = jax.random.split(key, len(dims_list))
    groups = _padding_groups(dims_list, n)
    out = jnp.concatenate([
        _ridge_risk_mc(keys[np.asarray(g)], jnp.asarray([dims_list[i] for i in g]), n,
                       max(dims_list[i] for i in g), reps, r, sigma, lam) for g in groups])
    return out[np.argsort(np.concatenate(groups))]          # back to the order of ``dims``


def marchenko_pastur_cdf(x, *, ratio, variance=1.0, grid: int = 4096) -> np.ndarray:
    """Cumulative mass ``∫_{-∞}^x p(t) dt`` of the continuous Marchenko–Pastur part.

    ``p`` is :func:`marchenko_pastur_density`. For ``ratio ≤ 1`` this is the CDF of the MP law
    (reaching 1 at the upper edge ``b``); for ``ratio > 1`` it reaches ``1/ratio`` (the atom
    ``1 − 1/ratio`` at 0 is excluded, as in the density). Computed on host (NumPy) by the
    substitution ``t = a + (b − a)(1 − cos θ)/2``, which removes the square-root edge
    singularities (and the ``1/√t`` singularity at ``a = 0`` when ``ratio = 1``), followed by the
    trapezoidal rule on ``grid`` points and linear interpolation; the error is ``O(grid⁻²)``.
    """
    xs = np.asarray(v.float_array(x, "x"), dtype=float)
    a, b = marchenko_pastur_support(ratio, variance)
    grid = v.integer(grid, "grid", minimum=16)
    c, s2 = float(ratio), float(variance)
    theta = np.linspace(0.0, np.pi, grid)
    t = a + (b - a) * (1 - np.cos(theta)) / 2
    half = (b - a) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        # p(t) dt = half² sin²θ / (2π c s² t) dθ; at t = 0 (ratio = 1, θ = 0) use the limit.
        g = np.where(t > 0, half ** 2 * np.sin(theta) ** 2 / (2 * np.pi * c * s2 * t),
                     half ** 2 * 4 / (2 * np.pi * c * s2 * b))
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(theta))])
    cum *= min(1.0, 1.0 / c) / cum[-1]          # remove the O(grid⁻²) quadrature error of the total
    return np.interp(xs, t, cum, left=0.0, right=cum[-1])


@partial(jax.jit, static_argnames=("reps", "n_max", "width", "activation", "weights", "loo"))
def _rf_path(key, widths, X_train, Y_train, X_test, Y_test, lams, reps, n_max, width, activation,
             weights, loo):
    # Kernel form of ridge on the features: Ŷ = Φ_t Φᵀ (ΦΦᵀ + nλ)⁺ Y, with one eigh of the n × n
    # Gram matrix per (width, weight draw) for every λ (cost n²N + n³ + m·n·N). Draw j takes
    # the first N rows of one (n_max, d) weight matrix (nested features across widths); a group
    # of widths is computed with its largest ``width`` ≤ n_max rows, the others zeroed, so the
    # padding is confined to the group (one compilation per group). Y_train/Y_test are (n, k),
    # (m, k); returns (len(widths), reps, L, k) test MSEs, and the leave-one-out MSEs if ``loo``.
    n = X_train.shape[0]
    rows = jnp.arange(width)

    def one(N, k):
        W = jax.random.normal(k, (n_max, X_train.shape[1]), dtype=X_train.dtype)[:width]
        if weights == "sphere":
            W = W * (np.sqrt(X_train.shape[1]) / jnp.linalg.norm(W, axis=1, keepdims=True))
        mask = (rows < N).astype(X_train.dtype)
        Phi = _rf(X_train, W, activation) * mask
        Phi_test = _rf(X_test, W, activation) * mask
        K = Phi @ Phi.T
        pred = _spectral_kernel_ridge(K, Y_train, Phi_test @ Phi.T, n * lams)     # (L, m, k)
        test = jnp.mean((pred - Y_test[None]) ** 2, axis=1)                       # (L, k)
        if not loo:
            return test
        return test, _loo_mse(K, Y_train, n * lams)

    keys = jax.random.split(key, reps)
    return jax.lax.map(lambda N: jax.lax.map(lambda k: one(N, k), keys), widths)


def _loo_mse(K, Y, nlams):
    """Leave-one-out MSE of kernel ridge, ``mean_i (r_i/(1 − H_ii))²`` with ``H = K(K + nλ)⁻¹``,
    for every ``nλ`` (shape ``(L, k)``). With ``K = Q diag(e) Qᵀ``: ``r = Q diag(g) Qᵀ Y`` and
    ``1 − H_ii = Σ_j Q_ij² g_j`` for ``g_j = nλ/(e_j + nλ)``; the ratio is unchanged when ``g`` is
    rescaled, so ``g_j = 1/(e_j + nλ)`` is used, whose ``λ → 0`` limit is finite (for a
    singular ``K`` and ``λ = 0`` it is the indicator of the null space, the ridgeless limit)."""
    evals, Q = jnp.linalg.eigh(0.5 * (K + K.T))
    eps = jnp.finfo(K.dtype).eps
    zero = evals <= K.shape[0] * eps * jnp.max(jnp.abs(evals), initial=0.0)
    e = jnp.where(zero, 0.0, evals)[:, None]
    nl = nlams[None, :]
    singular_ridgeless = jnp.any(zero) & (nl == 0)                                 # (1, L)
    g = jnp.where(singular_ridgeless, zero[:, None].astype(K.dtype),
                  1.0 / jnp.where(e + nl > 0, e + nl, 1.0))                        # (n, L)
    coef = Q.T @ Y                                                                  # (n, k)
    resid = jnp.einsum("ij,jl,jk->lik", Q, g, coef)                                 # (L, n, k)
    lev = (Q * Q) @ g                                                               # (n, L)
    return jnp.mean((resid / lev.T[:, :, None]) ** 2, axis=1)


def random_features_ridge_path(key, X_train, y_train, X_test, y_test, *, n_features, lams,
                               reps: int = 1, activation: str = "relu",
                               weights: str = "gaussian", loo: bool = False):
    """Test mean-squared errors of random-features ridge regression over widths and ridges.

    For each width ``N`` in ``n_features`` (a sequence of positive ints), each of ``reps``
    weight draws and each ``lam`` in ``lams``: the test MSE ``mean((ŷ − y_test)²)`` of
    :func:`random_features_regression` (features ``σ(XWᵀ/√d)``, ``W`` iid ``N(0, 1)``, ridge
    ``(1/n)‖y − Φa‖² + lam‖a‖²``). Draw ``j`` uses the first ``N`` rows of one
    ``(max(n_features), d)`` weight matrix, so the features are nested across widths. One
    eigendecomposition of the ``n × n`` feature Gram matrix ``ΦΦᵀ`` per (width, draw) serves the
    whole ridge path; eigenvalues below ``n · eps · max`` count as zero, so ``lam = 0`` is the
    min-norm fit. Use float64 near the interpolation threshold ``N ≈ n``, where ``ΦΦᵀ`` is
    ill-conditioned. Widths are computed in groups (largest at most twice the smallest), each
    with its own largest width, so small widths do not pay for the largest one.

    ``y_train``/``y_test`` are ``(n,)``/``(m,)``, or ``(n, k)``/``(m, k)`` for ``k`` targets
    fitted on the same features. ``weights="sphere"`` rescales each row of ``W`` to norm ``√d``
    (``w_j`` uniform on the sphere of radius ``√d``, the Mei–Montanari setting). Returns shape
    ``(len(n_features), reps, len(lams))`` (``(…, k)`` for 2-D targets). With ``loo=True`` it
    returns ``(test, loo)``, ``loo`` of the same shape: the exact leave-one-out MSE on the
    training set, ``mean_i ((y_i − ŷ_i)/(1 − H_ii))²`` with hat matrix
    ``H = ΦΦᵀ(ΦΦᵀ + n·lam·I)⁻¹`` (for ``lam = 0`` its limit ``lam → 0⁺``), which selects a ridge
    without the test set.
    """
    key = v.key(key)
    widths = [v.integer(N, "n_features", minimum=1) for N in np.atleast_1d(np.asarray(n_features))]
    if not widths:
        raise ValueError("n_features must contain at least one width")
    reps = v.integer(reps, "reps", minimum=1)
    X_train, y_train = v.samples(X_train, y_train, "X_train", "y_train", y_ndim=(1, 2))
    X_test, y_test = v.samples(X_test, y_test, "X_test", "y_test", y_ndim=y_train.ndim)
    v.same_dim(X_train, X_test, "X_train", "X_test", axis=1)
    if y_train.ndim == 2:
        v.same_dim(y_train, y_test, "y_train", "y_test", axis=1)
    lams = v.float_array(lams, "lams", ndim=1)
    v.nonnegative(lams, "lams")
    activation_fn(activation)
    weights = v.choice(weights, "weights", ("gaussian", "sphere"))
    dtype = jnp.result_type(X_train.dtype, y_train.dtype, X_test.dtype, y_test.dtype)
    Y_train, Y_test = y_train.reshape(y_train.shape[0], -1), y_test.reshape(y_test.shape[0], -1)
    groups = _padding_groups(widths, max(widths))
    parts = [_rf_path(key, jnp.asarray([widths[i] for i in g]), X_train.astype(dtype),
                      Y_train.astype(dtype), X_test.astype(dtype), Y_test.astype(dtype),
                      lams.astype(dtype), reps, max(widths), max(widths[i] for i in g),
                      activation, weights, bool(loo)) for g in groups]
    order = np.argsort(np.concatenate(groups))
    squeeze = (lambda a: a) if y_train.ndim == 2 else (lambda a: a[..., 0])
    if not loo:
        return squeeze(jnp.concatenate(parts)[order])
    return tuple(squeeze(jnp.concatenate([p[i] for p in parts])[order]) for i in (0, 1))
