"""Kernels of random and trained features: arc-cosine, Gaussian and Laplace kernels, conjugate
kernels, alignment, and the Mercer spectrum of dot-product kernels on the sphere.

Arc-cosine kernels
------------------
``arccos_kernel(x1, x2, order=n)`` is the kernel of Cho & Saul (2009),

    k_n(x, x') = 2 E_{w ~ N(0, I)}[ relu(wᵀx)^n relu(wᵀx')^n ]   (relu^0 = step function)
               = (1/π) ‖x‖^n ‖x'‖^n J_n(θ),    cos θ = xᵀx' / (‖x‖‖x'‖),

with ``J_0 = π − θ``, ``J_1 = sin θ + (π − θ) cos θ``,
``J_2 = 3 sin θ cos θ + (π − θ)(1 + 2 cos² θ)``. On unit vectors it is the dot-product kernel
``arccos_kappa(t, order=n) = J_n(arccos t)/π``.

Translation-invariant kernels
-----------------------------
``gaussian_kernel(x1, x2, bandwidth=ℓ)`` is ``exp(−‖x − x'‖² / (2ℓ²))`` and
``laplace_kernel(x1, x2, bandwidth=ℓ)`` is ``exp(−‖x − x'‖ / ℓ)``; both return ``(n1, n2)``.

Conjugate kernel
----------------
``conjugate_kernel(params, x1, x2, layer=l)`` is the Gram matrix of the post-activation features
``φ(x) = σ(h^l(x)) ∈ R^{n_l}`` of hidden layer ``l`` of a :mod:`lib.nets` network, as seen by a
fresh NTK-parameterized readout ``Dense(w_std, b_std)``:

    K_l(x, x') = (w_std² / n_l) φ(x)ᵀφ(x') + b_std².

For an untrained ``ntk``-parameterized network with ``l`` the last hidden layer this is the
random-feature estimate of the NNGP kernel ``lib.ntk.infinite_width(..., depth=l).nngp``; after
training it is the kernel the network has learned.

Mercer spectrum on the sphere
-----------------------------
``sphere_eigenvalues(kappa, d, max_degree)`` returns the eigenvalues of the integral operator
``(T f)(x) = E_{x' ~ unif(S^{d-1})}[κ(xᵀx') f(x')]`` by the Funk–Hecke formula: the
eigenfunctions are the spherical harmonics, and degree ℓ has eigenvalue

    μ_ℓ = c_d ∫_{-1}^{1} κ(t) P_ℓ(t) (1 − t²)^{(d−3)/2} dt,   c_d = Γ(d/2) / (√π Γ((d−1)/2)),

with multiplicity ``N(d, ℓ) = (2ℓ + d − 2)/(ℓ + d − 2) · binom(ℓ + d − 2, ℓ)``, where ``P_ℓ`` is the
Gegenbauer polynomial of the sphere normalized by ``P_ℓ(1) = 1`` (Legendre for d = 3, Chebyshev
for d = 2). The integral is computed by Gauss–Jacobi quadrature in float64.

Exact risk of kernel ridge regression on the sphere
---------------------------------------------------
``sphere_krr_excess_risk(spectrum, X, Z, lam, noise=σ)`` is the exact (noise-averaged) L²(ν)
excess risk of kernel ridge regression with the zonal kernel of ``spectrum``, on the design ``X``,
for each target ``f* = k(·, z)``, ``z`` a row of ``Z``; the L²(ν) inner products of kernel sections
come from the addition theorem, so no test set is needed (see the function).
"""
from __future__ import annotations

from functools import partial
import math
from math import comb
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v
from . import nets
from .activations import ARCCOS_ORDERS, activation_fn, relu_expectation

__all__ = ["ARCCOS_ORDERS", "arccos_kappa", "arccos_kernel", "gaussian_kernel", "laplace_kernel",
           "hidden_features", "conjugate_kernel",
           "kernel_alignment", "SphereSpectrum", "harmonic_multiplicity",
           "sphere_eigenvalues", "SphereKRRRisk", "sphere_krr_excess_risk"]

def arccos_kappa(t, *, order: int = 1) -> jax.Array:
    """Arc-cosine kernel of ``order`` between unit vectors with inner product ``t``:
    ``J_n(arccos t)/π`` (= ``2 E[relu(u)ⁿ relu(v)ⁿ]`` for unit variances and covariance ``t``,
    :func:`lib.activations.relu_expectation`); ``t`` is clipped to ``[-1, 1]``."""
    return 2.0 * relu_expectation(1.0, 1.0, t, order=order)


@partial(jax.jit, static_argnames="order")
def _arccos_kernel(x1, x2, order):
    q1 = jnp.sum(x1 * x1, axis=1)[:, None]
    q2 = jnp.sum(x2 * x2, axis=1)[None, :]
    return 2.0 * relu_expectation(q1, q2, x1 @ x2.T, order=order)


def arccos_kernel(x1, x2, *, order: int = 1) -> jax.Array:
    """Cho–Saul arc-cosine kernel ``k_n(x1_a, x2_b) = (1/π)‖x‖^n‖x'‖^n J_n(θ)``, shape ``(n1, n2)``.

    Equals ``2 E_w[relu(wᵀx)^n relu(wᵀx')^n]`` for ``w ~ N(0, I_d)`` (``order=0``: step functions),
    i.e. ``2 ×`` :func:`lib.activations.relu_expectation` at ``q = ‖x‖², q' = ‖x'‖², c = xᵀx'`` —
    the same implementation as the ReLU layers of :func:`lib.ntk.infinite_width` (cosines within
    ``64 ε`` of ``±1`` snapped to ``±1``, so the diagonal is exact). ``order`` is 0, 1 or 2.
    """
    order = v.choice(order, "order", ARCCOS_ORDERS)
    x1, x2 = v.points(x1, x2, "x1", "x2")
    return _arccos_kernel(x1, x2, order)


@jax.jit
def _gaussian(x1, x2, bandwidth):
    sq_dists = (jnp.sum(x1 * x1, axis=1)[:, None] + jnp.sum(x2 * x2, axis=1)[None, :]
                - 2.0 * x1 @ x2.T)
    return jnp.exp(-jnp.maximum(sq_dists, 0.0) / (2.0 * bandwidth ** 2))


@jax.jit
def _laplace(x1, x2, bandwidth):
    # Distances from explicit differences: the expansion ‖x‖² + ‖x'‖² − 2⟨x, x'⟩ loses ~√eps
    # of accuracy under the square root (and breaks the symmetry of K). Rows are processed one
    # at a time by lax.map to keep the memory at O(n2 · d).
    def row(a):
        return jnp.exp(-jnp.sqrt(jnp.sum((x2 - a) ** 2, axis=1)) / bandwidth)
    return jax.lax.map(row, x1)


def gaussian_kernel(x1, x2, *, bandwidth) -> jax.Array:
    """Gaussian (RBF) kernel ``k(x, x') = exp(−‖x − x'‖² / (2 · bandwidth²))``, shape ``(n1, n2)``.

    ``bandwidth`` (``> 0``) is the standard deviation ℓ of the Gaussian, not its variance nor
    ``1/(2ℓ²)``. Squared distances are expanded as ``‖x‖² + ‖x'‖² − 2⟨x, x'⟩`` (one matrix
    product, clipped at 0). Works inside ``jax.jit`` (``bandwidth`` may then be traced).
    """
    x1, x2 = v.points(x1, x2, "x1", "x2")
    bandwidth = v.scalar(bandwidth, "bandwidth", positive=True)
    return _gaussian(x1, x2, jnp.asarray(bandwidth, x1.dtype))


def laplace_kernel(x1, x2, *, bandwidth) -> jax.Array:
    """Laplace (exponential) kernel ``k(x, x') = exp(−‖x − x'‖ / bandwidth)``, shape ``(n1, n2)``.

    In one dimension its RKHS is the Sobolev space ``H¹``. Distances are computed from explicit
    differences, one row of ``x1`` at a time, so ``laplace_kernel(x, x)`` is exactly symmetric.
    """
    x1, x2 = v.points(x1, x2, "x1", "x2")
    bandwidth = v.scalar(bandwidth, "bandwidth", positive=True)
    return _laplace(x1, x2, jnp.asarray(bandwidth, x1.dtype))


def _check_layer(params, layer: int) -> int:
    n_hidden = len(params) - 1
    if n_hidden < 1:
        raise ValueError("params must describe a network with at least one hidden layer")
    layer = v.integer(layer, "layer")
    if layer < 0:
        layer = n_hidden + 1 + layer
    if not 1 <= layer <= n_hidden:
        raise ValueError(f"layer must be in 1..{n_hidden} (or -1..-{n_hidden}), got {layer}")
    return layer


@partial(jax.jit, static_argnames=("layer", "activation", "parameterization", "w_std", "b_std"))
def _features(params, x, layer, activation, parameterization, w_std, b_std):
    # Hidden layers use the multiplier w_std/sqrt(fan-in) in both "ntk" and "mean_field"
    # (only the readout differs), so the truncated network is evaluated as "ntk".
    par = "standard" if parameterization == "standard" else "ntk"
    pre = nets.apply_mlp(params[:layer], x, activation=activation, parameterization=par,
                         w_std=w_std, b_std=b_std)
    return activation_fn(activation)(pre)


def hidden_features(params, x, *, layer: int = -1, activation: str = "relu",
                    parameterization: str = "ntk", w_std: float = 1.0,
                    b_std: float = 0.0) -> jax.Array:
    """Post-activation features ``σ(h^l(x))`` of hidden layer ``layer`` (1-based; ``-1`` = last),
    shape ``(n, n_l)``, of the :mod:`lib.nets` network ``params`` (same keyword arguments as
    :func:`lib.nets.apply_mlp`)."""
    layer = _check_layer(params, layer)
    x = v.float_array(x, "x", ndim=2)
    if x.shape[1] != params[0][0].shape[0]:
        raise ValueError(f"x must have {params[0][0].shape[0]} features (the network's input "
                         f"width), got shape {x.shape}")
    activation_fn(activation)
    v.choice(parameterization, "parameterization", nets.PARAMETERIZATIONS)
    w_std = v.scalar(w_std, "w_std", positive=True)
    b_std = v.scalar(b_std, "b_std", nonnegative=True)
    return _features(params, x, layer, activation, parameterization, w_std, b_std)


def conjugate_kernel(params, x1, x2=None, *, layer: int = -1, activation: str = "relu",
                     parameterization: str = "ntk", w_std: float = 1.0,
                     b_std: float = 0.0) -> jax.Array:
    """Conjugate kernel ``(w_std²/n_l) φ(x1)φ(x2)ᵀ + b_std²`` of hidden layer ``layer``,
    shape ``(n1, n2)`` (``x2=None``: ``x2 = x1``). See the module docstring."""
    kw = dict(layer=layer, activation=activation, parameterization=parameterization,
              w_std=w_std, b_std=b_std)
    f1 = hidden_features(params, x1, **kw)
    f2 = f1 if x2 is None else hidden_features(params, x2, **kw)
    return (w_std ** 2 / f1.shape[1]) * (f1 @ f2.T) + b_std ** 2


def kernel_alignment(K, target, *, centered: bool = False) -> jax.Array:
    """Kernel alignment ``A(K, T) = ⟨K, T⟩_F / (‖K‖_F ‖T‖_F)`` (Cristianini et al., 2001).

    ``target`` is a second ``(n, n)`` kernel matrix or labels ``y`` of shape ``(n,)``, meaning
    ``T = y yᵀ`` (then ``A = yᵀK y / (‖K‖_F ‖y‖²)``). ``centered=True`` first centres both
    matrices, ``K ← H K H`` with ``H = I − 11ᵀ/n`` (Cortes et al., 2012).
    """
    K = v.float_array(K, "K", ndim=2)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square, got shape {K.shape}")
    T = v.float_array(target, "target", ndim=(1, 2))
    if T.ndim == 1:
        T = T[:, None] * T[None, :]
    if T.shape != K.shape:
        raise ValueError(f"target must be labels of length {K.shape[0]} or a matrix of shape "
                         f"{K.shape}, got shape {jnp.shape(target)}")
    dtype = jnp.result_type(K, T)
    return _alignment(K.astype(dtype), T.astype(dtype), bool(centered))


@partial(jax.jit, static_argnames="centered")
def _alignment(K, T, centered):
    if centered:
        K = K - K.mean(axis=0, keepdims=True) - K.mean(axis=1, keepdims=True) + K.mean()
        T = T - T.mean(axis=0, keepdims=True) - T.mean(axis=1, keepdims=True) + T.mean()
    return jnp.sum(K * T) / (jnp.linalg.norm(K) * jnp.linalg.norm(T))


class SphereSpectrum(NamedTuple):
    """Mercer spectrum of a dot-product kernel on ``S^{d-1}`` (uniform probability measure).

    ``degrees`` ℓ = 0..L, ``eigenvalues`` μ_ℓ and ``multiplicities`` N(d, ℓ), all 1-D NumPy arrays.
    ``sorted()`` returns every eigenvalue repeated by its multiplicity, in decreasing order.
    """
    degrees: np.ndarray
    eigenvalues: np.ndarray
    multiplicities: np.ndarray

    def sorted(self) -> np.ndarray:
        return np.sort(np.repeat(self.eigenvalues, self.multiplicities))[::-1]


def harmonic_multiplicity(d: int, degree: int) -> int:
    """Dimension ``N(d, ℓ)`` of the spherical harmonics of degree ℓ on ``S^{d-1}``."""
    d = v.integer(d, "d", minimum=2)
    degree = v.integer(degree, "degree", minimum=0)
    if degree == 0:
        return 1
    return (2 * degree + d - 2) * comb(degree + d - 3, degree - 1) // degree


def sphere_eigenvalues(kappa: Callable, d: int, max_degree: int, *,
                       n_quad: int = 4096) -> SphereSpectrum:
    """Eigenvalues μ_0..μ_L of ``f ↦ E_{x'}[κ(xᵀx') f(x')]`` on ``S^{d-1}`` (Funk–Hecke).

    ``kappa`` maps an array of inner products ``t ∈ [-1, 1]`` to kernel values; it is called once,
    on a float64 array with ``jax_enable_x64`` switched on for the call, so that the small
    eigenvalues of the tail are accurate (the quadrature itself is NumPy float64, on the host).
    ``n_quad`` Gauss–Jacobi nodes integrate against the weight ``(1 − t²)^{(d−3)/2}`` exactly for
    polynomial κ; non-smooth κ (e.g. arc-cosine kernels) converge algebraically in ``n_quad``.
    """
    if not callable(kappa):
        raise ValueError(f"kappa must be a callable t -> κ(t), got {type(kappa).__name__}")
    d = v.integer(d, "d", minimum=2)
    max_degree = v.integer(max_degree, "max_degree", minimum=0)
    n_quad = v.integer(n_quad, "n_quad", minimum=max_degree + 1)
    from scipy import special   # Gauss–Jacobi nodes and Jacobi polynomials (imported on use)

    a = (d - 3) / 2.0
    t, w = special.roots_jacobi(n_quad, a, a)
    kt = _float64_values(kappa, t)
    if kt.shape != t.shape or not np.all(np.isfinite(kt)):
        raise ValueError("kappa must return finite values of the same shape as its input")
    c_d = math.exp(math.lgamma(d / 2) - math.lgamma((d - 1) / 2)) / math.sqrt(math.pi)
    degrees = np.arange(max_degree + 1)
    P = special.eval_jacobi(degrees[:, None], a, a, t[None, :])
    P1 = special.eval_jacobi(degrees, a, a, 1.0)
    mu = c_d * (P / P1[:, None]) @ (w * kt)
    mult = np.array([harmonic_multiplicity(d, int(l)) for l in degrees])
    return SphereSpectrum(degrees, mu, mult)


def _float64_values(fn, t: np.ndarray) -> np.ndarray:
    """``fn(t)`` evaluated in float64 as a NumPy array: ``jax_enable_x64`` is switched on for the
    call (through ``jax.config``, which every supported JAX has) and restored afterwards."""
    enabled = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        return np.asarray(fn(jnp.asarray(t, dtype=jnp.float64)), dtype=np.float64)
    finally:
        jax.config.update("jax_enable_x64", enabled)


class SphereKRRRisk(NamedTuple):
    """Noise-averaged excess risk of kernel ridge regression, split as ``bias + variance``.

    ``bias`` has shape ``(..., m)`` (one entry per target ``k(·, z_j)``), ``variance`` shape
    ``(...)`` (it does not depend on the target); ``...`` is the batch shape of the designs.
    """
    bias: jax.Array
    variance: jax.Array


def sphere_krr_excess_risk(spectrum: SphereSpectrum, X, Z, lam, *,
                           noise=0.0) -> SphereKRRRisk:
    """Exact excess risk ``E_ε ‖f̂ − f*‖²_{L²(ν)} = bias + variance`` of kernel ridge regression on
    ``S^{d−1}`` (ν uniform) for the targets ``f* = k(·, z)``, ``z`` a row of ``Z``.

    The kernel is the zonal kernel of ``spectrum`` (from :func:`sphere_eigenvalues` with this
    ``d``), ``k(x, x') = κ_L(x̂ᵀx̂') = Σ_{ℓ≤L} N(d, ℓ) μ_ℓ P_ℓ(x̂ᵀx̂')`` — for a spectrum of κ up
    to degree L this is κ truncated there; only the directions ``x̂ = x/‖x‖`` of the rows of ``X``
    (the design, ``(n, d)`` or a batch ``(..., n, d)``) and of ``Z`` (``(m, d)``) matter. With
    ``y_i = f*(x_i) + ε_i``, ``E ε = 0``, ``E εεᵀ = σ² I``, the estimator is
    ``f̂ = Σ_i c_i k(x_i, ·)``, ``c = (K + nλI)⁻¹ y`` (objective ``(1/n) Σ (y_i − f(x_i))² + λ‖f‖²_H``).
    By the addition theorem ``⟨k(·, a), k(·, b)⟩_{L²(ν)} = k₂(âᵀb̂)`` with
    ``k₂(t) = Σ_ℓ N(d, ℓ) μ_ℓ² P_ℓ(t)``, so with ``A = (K + nλI)⁻¹``, ``c₀ = A k_z``,
    ``(k_z)_i = k(x_i, z)``, ``G_ij = k₂(x̂_iᵀx̂_j)`` and ``(g_z)_i = k₂(x̂_iᵀẑ)``,

        bias     = c₀ᵀ G c₀ − 2 c₀ᵀ g_z + k₂(1)      (k₂(1) = ‖f*‖²_{L²(ν)}),
        variance = σ² tr(A G A).

    ``P_ℓ`` (Gegenbauer, ``P_ℓ(1) = 1``) is evaluated by the recurrence
    ``(ℓ + d − 2) P_{ℓ+1}(t) = (2ℓ + d − 2) t P_ℓ(t) − ℓ P_{ℓ−1}(t)``, ``A`` through one ``eigh``
    of ``K``. ``lam > 0``, ``noise >= 0``; the computation runs in the dtype of ``X`` and ``Z``
    (float32 or float64; the bias is a difference of terms of size ``‖f*‖²``, so in float32 it is
    accurate to about ``1e-6 ‖f*‖²``). Limits: ``lam → ∞`` gives ``bias → ‖f*‖²``,
    ``variance → 0``; ``noise = 0`` gives ``variance = 0``.
    """
    if not isinstance(spectrum, SphereSpectrum):
        raise ValueError(f"spectrum must be a SphereSpectrum (from sphere_eigenvalues), "
                         f"got {type(spectrum).__name__}")
    X = v.float_array(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must have shape (n, d) or (..., n, d), got shape {X.shape}")
    Z = v.float_array(Z, "Z", ndim=2)
    v.same_dim(X, Z, "X", "Z")
    d = X.shape[-1]
    if d < 2:
        raise ValueError(f"X must have d >= 2 columns (points of S^(d-1)), got shape {X.shape}")
    for arr, name in ((X, "X"), (Z, "Z")):
        if not v.is_tracer(arr) and not float(jnp.min(jnp.linalg.norm(arr, axis=-1))) > 0:
            raise ValueError(f"{name} must have nonzero rows (their directions are used)")
    degrees = np.asarray(spectrum.degrees)
    mu = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    mult = np.asarray(spectrum.multiplicities)
    if not (degrees.ndim == 1 and mu.shape == degrees.shape == mult.shape
            and np.array_equal(degrees, np.arange(degrees.size))):
        raise ValueError("spectrum must list the degrees 0..L with one eigenvalue and one "
                         "multiplicity each")
    if not np.array_equal(mult, [harmonic_multiplicity(d, int(l)) for l in degrees]):
        raise ValueError(f"spectrum was computed for another dimension: its multiplicities do not "
                         f"match d = {d} (the number of columns of X)")
    if not np.all(np.isfinite(mu)) or np.any(mu < -1e-9 * np.max(np.abs(mu), initial=0.0)):
        raise ValueError("spectrum must have finite eigenvalues >= 0 (a positive definite kernel)")
    lam = v.scalar(lam, "lam", positive=True)
    noise = v.scalar(noise, "noise", nonnegative=True)
    dtype = jnp.result_type(X, Z)
    coef = np.stack([mult * mu, mult * mu ** 2], axis=1)           # (L + 1, 2): κ_L and k₂
    coef = np.concatenate([coef, np.zeros((max(0, 2 - coef.shape[0]), 2))])
    batch = X.shape[:-2]
    Xf = X.astype(dtype).reshape((-1,) + X.shape[-2:])
    bias, variance = _krr_risk(Xf, Z.astype(dtype), jnp.asarray(lam, dtype),
                               jnp.asarray(noise, dtype), jnp.asarray(coef, dtype), d)
    return SphereKRRRisk(bias.reshape(batch + (Z.shape[0],)), variance.reshape(batch))


def _zonal_series(coef, t, d):
    """``(Σ_ℓ coef[ℓ, 0] P_ℓ(t), Σ_ℓ coef[ℓ, 1] P_ℓ(t))`` for the Gegenbauer polynomials of
    ``S^{d−1}`` (``P_ℓ(1) = 1``), each of the shape of ``t``, by the three-term recurrence (stable
    for |t| <= 1; both sums share one pass)."""
    def step(l, carry):
        p_prev, p, total_a, total_b = carry
        p_next = ((2 * l + d - 2) * t * p - l * p_prev) / (l + d - 2)
        return p, p_next, total_a + coef[l + 1, 0] * p_next, total_b + coef[l + 1, 1] * p_next
    start = (jnp.ones_like(t), t, coef[0, 0] + coef[1, 0] * t, coef[0, 1] + coef[1, 1] * t)
    return jax.lax.fori_loop(1, coef.shape[0] - 1, step, start)[2:]


@partial(jax.jit, static_argnames="d")
def _krr_risk(X, Z, lam, noise, coef, d):
    def unit(a):
        return a / jnp.linalg.norm(a, axis=-1, keepdims=True)

    z = unit(Z)

    def one(x):
        x = unit(x)
        n = x.shape[0]
        K, G = _zonal_series(coef, jnp.clip(x @ x.T, -1.0, 1.0), d)      # κ_L and k₂, (n, n)
        k_z, g_z = _zonal_series(coef, jnp.clip(x @ z.T, -1.0, 1.0), d)  # (n, m)
        e, Q = jnp.linalg.eigh(K)
        inv = 1.0 / (e + n * lam)                                        # A = Q diag(inv) Qᵀ
        c0 = Q @ (inv[:, None] * (Q.T @ k_z))                            # (n, m)
        bias = (jnp.sum(c0 * (G @ c0), axis=0) - 2.0 * jnp.sum(c0 * g_z, axis=0)
                + jnp.sum(coef[:, 1]))
        Qs = Q * inv                                                     # tr(AGA) = Σ Qs ∘ (G Qs)
        return bias, noise ** 2 * jnp.sum(Qs * (G @ Qs))

    return jax.vmap(one)(X)
