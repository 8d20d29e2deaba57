"""One large gradient step on the first layer of a two-layer network (Ba et al., 2022).

Model and step
--------------
Inputs ``x ~ N(0, I_d)``, a *single-index* teacher ``y = f*(⟨x, β*⟩) + ε`` with ``‖β*‖ = 1`` and
``Var ε = noise²``, and the two-layer network

    f(x) = (1/√N) Σ_j a_j σ(⟨w_j, x⟩) = (1/√N) aᵀ σ(W x),      W ∈ R^{N×d},

with rows ``w_j ~ N(0, I_d/d)`` and a fixed second layer ``a`` (here uniform on the unit sphere,
so ``‖a‖ = 1`` exactly; iid ``N(0, 1/N)`` entries give ``‖a‖ → 1``). One full-batch gradient step
on the squared loss ``L(W) = (1/2n) Σ_i (y_i − f(x_i))²`` with the learning rate ``η√N`` is

    W₁ = W₀ + η√N · G,     G = −∇_W L(W₀) = (1/(n√N)) [ (y − f) ⊙ σ'(X W₀ᵀ) ⊙ a ]ᵀ X   (N × d).

Writing ``σ'(h) = μ₁ + (σ'(h) − μ₁)`` with ``μ₁ = E σ'(z) = E zσ(z)`` shows
``√N G ≈ μ₁ a (Xᵀy/n)ᵀ``: up to an operator-norm error that vanishes as ``d → ∞`` the step adds a
rank-one *spike* to ``W₀`` whose input-side direction is ``Xᵀy/n ≈ μ₁* β* + (noise vector)``.

Gaussian equivalence
--------------------
``μ₀ = E σ(z)``, ``μ₁ = E zσ(z)``, ``μ₂² = E σ(z)² − μ₀² − μ₁²`` for ``z ~ N(0, 1)`` — the
coefficients of the Hermite expansion ``σ = μ₀ He₀ + μ₁ He₁ + (rest of norm μ₂)``. The same
numbers for the target profile ``f*`` give ``μ₀*``, ``μ₁*`` and the energy ``‖P_{>1} f*‖² = μ₂*²``
of its nonlinear part. Computed here by Gauss–Hermite quadrature (probabilists' weight).

Everything is jitted; public functions validate their inputs and raise ``ValueError`` naming the
argument. float32 by default, float64 when ``jax_enable_x64`` is on.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from .. import _validate as v
from .. import activations
from ..ridgeless import random_features

__all__ = [
    "GaussianEquivalence", "gauss_hermite", "split_gauss_legendre", "hermite_coefficients",
    "gaussian_equivalence_constants", "gaussian_equivalence_monte_carlo", "single_index_data",
    "init_two_layer", "first_step_gradient", "one_step_weights", "rank_one_step",
    "SpikeLimit", "spike_limit", "leading_singular_pairs", "SpikeSweep", "step_size_sweep", "network_features",
    "gaussian_equivalent_features", "RidgePath", "ridge_path", "GERiskBand",
    "gaussian_equivalent_risk_band", "StepRiskChange", "step_risk_change",
]


# ------------------------------------------------------------------------------------------------
# Hermite coefficients and Gaussian-equivalence constants
# ------------------------------------------------------------------------------------------------

def _as_function(fn, name: str = "fn") -> Callable:
    if isinstance(fn, str):
        return activations.activation_fn(fn)
    if not callable(fn):
        raise ValueError(f"{name} must be an activation name {sorted(activations.ACTIVATIONS)} "
                         f"or a callable, got {fn!r}")
    return fn


def gauss_hermite(n_nodes: int = 201):
    """Nodes ``z_k`` and weights ``w_k`` (summing to 1) with ``Σ_k w_k g(z_k) ≈ E g(Z)``, Z ~ N(0,1).

    Probabilists' Gauss–Hermite rule (``numpy.polynomial.hermite_e.hermegauss``) normalized by
    ``√(2π)``: exact for polynomials of degree ``≤ 2·n_nodes − 1``; for smooth ``g`` the error
    decays geometrically, for ``g`` with a kink (ReLU) only like ``n_nodes^{-1}`` (measured error
    of ``E relu(Z)``: 3.3e-3, 1.6e-3, 8.2e-4 at 50, 100, 200 nodes). ``n_nodes ≤ 360``: NumPy's
    weights overflow from about 380 nodes; non-finite weights raise ``ValueError``. Returned as
    NumPy float64 arrays.
    """
    n_nodes = v.integer(n_nodes, "n_nodes", minimum=1)
    if n_nodes > 360:
        raise ValueError(f"n_nodes must be <= 360 (the weights overflow beyond), got {n_nodes}")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        z, w = hermegauss(n_nodes)
        w = w / w.sum()
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(w))):
        raise ValueError(f"n_nodes = {n_nodes}: the Gauss–Hermite weights are not finite")
    return z, w


def split_gauss_legendre(n_nodes: int = 100, *, cutoff: float = 12.0):
    """Nodes and weights (summing to 1) for ``E g(Z)``, Z ~ N(0,1), that are exact across a kink
    at 0: Gauss–Legendre with ``n_nodes`` nodes on each of ``[−cutoff, 0]`` and ``[0, cutoff]``,
    weighted by the standard normal density (the mass beyond ``cutoff = 12`` is ``< 10⁻³²``).
    Use it for activations that are smooth except at the origin (ReLU, |z|, sign), where
    :func:`gauss_hermite` converges only algebraically. NumPy float64 arrays of length
    ``2·n_nodes``.
    """
    n_nodes = v.integer(n_nodes, "n_nodes", minimum=1)
    cutoff = v.scalar(cutoff, "cutoff", positive=True)
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    z = np.concatenate([cutoff * (x - 1) / 2, cutoff * (x + 1) / 2])
    ww = np.concatenate([w, w]) * cutoff / 2 * np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)
    return z, ww / ww.sum()


RULES = ("hermite", "split")


def _rule(rule, n_nodes):
    v.choice(rule, "rule", RULES)
    return gauss_hermite(n_nodes) if rule == "hermite" else split_gauss_legendre(n_nodes)


def _he_matrix(z, degree):
    """``He_k(z)/√(k!)`` for k = 0..degree (orthonormal under N(0,1)), shape (degree+1, len z),
    by the normalized three-term recurrence ``h_{k+1} = (z h_k − √k h_{k−1})/√(k+1)``."""
    rows = [np.ones_like(z), z]
    for k in range(1, degree):
        rows.append((z * rows[k] - np.sqrt(k) * rows[k - 1]) / np.sqrt(k + 1))
    return np.stack(rows[:degree + 1])


def hermite_coefficients(fn, degree: int, *, n_nodes: int = 201,
                         rule: str = "hermite") -> jax.Array:
    """Normalized Hermite coefficients ``c_k = E[f(Z) He_k(Z)] / √(k!)``, k = 0, …, ``degree``.

    ``He_k`` are the probabilists' Hermite polynomials (``He₀ = 1, He₁ = z, He₂ = z² − 1, …``),
    orthogonal under ``Z ~ N(0, 1)`` with ``E He_k² = k!``, so ``f = Σ_k c_k He_k/√(k!)`` in
    ``L²(N(0,1))`` and ``E f² = Σ_k c_k²``. ``fn`` is an activation name of ``lib.activations`` or a
    jax-traceable callable. Computed by :func:`gauss_hermite` (``rule="hermite"``) or
    :func:`split_gauss_legendre` (``rule="split"``, for a kink at 0) with ``n_nodes`` nodes.
    """
    f = _as_function(fn)
    degree = v.integer(degree, "degree", minimum=0)
    z, w = _rule(rule, n_nodes)
    vals = np.asarray(f(jnp.asarray(z)), dtype=float)
    if vals.shape != z.shape or not np.all(np.isfinite(vals)):
        raise ValueError("fn must map an array elementwise to finite values")
    dtype = jnp.zeros(()).dtype
    return jnp.asarray(_he_matrix(z, degree) @ (w * vals), dtype=dtype)


class GaussianEquivalence(NamedTuple):
    """``mu0 = E σ(Z)``, ``mu1 = E Zσ(Z)``, ``mu2 = √(E σ(Z)² − mu0² − mu1²)``, Z ~ N(0, 1).

    ``mu2**2`` is the energy ``‖P_{>1} σ‖²`` of the part of σ orthogonal to all affine functions.
    """
    mu0: float
    mu1: float
    mu2: float


def gaussian_equivalence_constants(fn, *, n_nodes: int = 201,
                                   rule: str = "hermite") -> GaussianEquivalence:
    """Gaussian-equivalence constants ``(μ₀, μ₁, μ₂)`` of ``fn`` by quadrature.

    ``μ₀ = E σ(Z)``, ``μ₁ = E Zσ(Z) (= E σ'(Z) by Stein's lemma)``,
    ``μ₂² = E σ(Z)² − μ₀² − μ₁²`` for ``Z ~ N(0, 1)``. For a target profile ``f*`` these are
    ``μ₀*``, ``μ₁*`` and ``μ₂*² = ‖P_{>1} f*‖²``. Closed forms: ReLU ``(1/√(2π), 1/2,
    √(1/4 − 1/(2π)))``; erf ``(0, 2/√(3π), √((2/π) arcsin(2/3) − 4/(3π)))``. ``fn`` is an
    activation name of ``lib.activations`` or a callable. ``rule="hermite"``: :func:`gauss_hermite`
    (spectrally accurate for smooth σ; for ReLU the error is still ~10⁻³ at 200 nodes);
    ``rule="split"``: :func:`split_gauss_legendre`, exact to rounding for σ smooth on each side of
    0. Returns Python floats.
    """
    f = _as_function(fn)
    z, w = _rule(rule, n_nodes)
    vals = np.asarray(f(jnp.asarray(z)), dtype=float)
    if vals.shape != z.shape or not np.all(np.isfinite(vals)):
        raise ValueError("fn must map an array elementwise to finite values")
    mu0 = float(w @ vals)
    mu1 = float(w @ (z * vals))
    second = float(w @ vals ** 2)
    return GaussianEquivalence(mu0, mu1, float(np.sqrt(max(second - mu0 ** 2 - mu1 ** 2, 0.0))))


def gaussian_equivalence_monte_carlo(key, fn, *, n_samples: int):
    """Monte-Carlo estimates of ``(μ₀, μ₁, μ₂)`` and their standard errors from ``n_samples``
    draws ``Z_i ~ N(0, 1)``: ``μ̂₀ = mean σ(Z_i)``, ``μ̂₁ = mean Z_i σ(Z_i)``,
    ``μ̂₂ = √(mean σ(Z_i)² − μ̂₀² − μ̂₁²)``. Standard errors: ``std/√n`` for the two means and the
    delta method for ``μ̂₂`` (influence ``σ² − 2μ₀σ − 2μ₁Zσ``, divided by ``2μ̂₂``).
    Returns ``(GaussianEquivalence, GaussianEquivalence)`` = (estimates, standard errors).
    """
    key = v.key(key)
    f = _as_function(fn)
    n_samples = v.integer(n_samples, "n_samples", minimum=2)
    est, se = _ge_mc(key, f, n_samples)
    est, se = [float(x) for x in est], [float(x) for x in se]
    return GaussianEquivalence(*est), GaussianEquivalence(*se)


@partial(jax.jit, static_argnames=("f", "n"))
def _ge_mc(key, f, n):
    z = jax.random.normal(key, (n,))
    s = f(z)
    mu0, mu1 = s.mean(), (z * s).mean()
    mu2 = jnp.sqrt(jnp.maximum((s * s).mean() - mu0 ** 2 - mu1 ** 2, 0.0))
    infl = s * s - 2 * mu0 * s - 2 * mu1 * z * s
    se = jnp.stack([s.std(ddof=1), (z * s).std(ddof=1),
                    infl.std(ddof=1) / (2 * jnp.maximum(mu2, 1e-30))]) / jnp.sqrt(n)
    return jnp.stack([mu0, mu1, mu2]), se


# ------------------------------------------------------------------------------------------------
# data, network, one gradient step
# ------------------------------------------------------------------------------------------------

def single_index_data(key, n: int, beta, target: Callable, *, noise: float = 0.0):
    """``n`` samples ``x_i ~ N(0, I_d)``, ``y_i = target(⟨x_i, β⟩) + noise·ε_i``, ε_i ~ N(0, 1).

    ``beta`` is ``(d,)`` (use a unit vector so that ``⟨x, β⟩ ~ N(0, 1)``); ``target`` a
    jax-traceable elementwise function. Returns ``(X, y)`` of shapes ``(n, d)``, ``(n,)``.
    """
    key = v.key(key)
    n = v.integer(n, "n", minimum=1)
    beta = v.float_array(beta, "beta", ndim=1)
    f = _as_function(target, "target")
    noise = v.scalar(noise, "noise", nonnegative=True)
    return _single_index(key, n, beta, f, jnp.asarray(noise, beta.dtype))


@partial(jax.jit, static_argnames=("n", "f"))
def _single_index(key, n, beta, f, noise):
    kx, ke = jax.random.split(key)
    X = jax.random.normal(kx, (n, beta.shape[0]), dtype=beta.dtype)
    return X, f(X @ beta) + noise * jax.random.normal(ke, (n,), dtype=beta.dtype)


def init_two_layer(key, n_features: int, d: int):
    """First layer ``W₀`` ``(N, d)`` with iid ``N(0, 1/d)`` entries (rows ``w_j ~ N(0, I_d/d)``,
    so ``‖w_j‖ ≈ 1``) and second layer ``a`` ``(N,)`` uniform on the unit sphere (``‖a‖ = 1``,
    entries ≈ ``N(0, 1/N)``). Returns ``(W0, a)``.
    """
    key = v.key(key)
    N = v.integer(n_features, "n_features", minimum=1)
    d = v.integer(d, "d", minimum=1)
    return _init(key, N, d, jnp.zeros(()).dtype.type)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _init(key, N, d, dtype):
    kw, ka = jax.random.split(key)
    W0 = jax.random.normal(kw, (N, d), dtype=dtype) / np.sqrt(d)
    a = jax.random.normal(ka, (N,), dtype=dtype)
    return W0, a / jnp.linalg.norm(a)


def _check_net(W, a, X, y):
    W = v.float_array(W, "W", ndim=2)
    a = v.float_array(a, "a", ndim=1)
    X, y = v.samples(X, y)
    if a.shape[0] != W.shape[0]:
        raise ValueError(f"a must have length N = W.shape[0] = {W.shape[0]}, got {a.shape[0]}")
    v.same_dim(X, W, "X", "W", axis=1)
    dtype = jnp.result_type(W.dtype, a.dtype, X.dtype, y.dtype)
    return W.astype(dtype), a.astype(dtype), X.astype(dtype), y.astype(dtype)


def _gradient(W, a, X, y, act):
    n, N = X.shape[0], W.shape[0]
    H = X @ W.T                                                  # (n, N) pre-activations
    S, dS = jax.jvp(act, (H,), (jnp.ones_like(H),))              # σ(H), σ'(H) elementwise
    resid = y - S @ a / jnp.sqrt(N)
    return ((resid[:, None] * dS) * a[None, :]).T @ X / (n * jnp.sqrt(N))


@partial(jax.jit, static_argnames="activation")
def _gradient_jit(W, a, X, y, activation):
    return _gradient(W, a, X, y, activations.activation_fn(activation))


def first_step_gradient(W, a, X, y, *, activation: str = "tanh") -> jax.Array:
    """Negative gradient ``G = −∇_W L`` of ``L(W) = (1/2n) Σ_i (y_i − aᵀσ(W x_i)/√N)²``:

        G = (1/(n√N)) [ (y − f(X)) ⊙ σ'(X Wᵀ) ⊙ a ]ᵀ X,    shape (N, d).

    ``W`` ``(N, d)``, ``a`` ``(N,)``, ``X`` ``(n, d)``, ``y`` ``(n,)``; ``σ'`` by forward-mode
    differentiation of the activation (one of ``lib.activations.ACTIVATIONS``).
    """
    W, a, X, y = _check_net(W, a, X, y)
    activations.activation_fn(activation)
    return _gradient_jit(W, a, X, y, activation)


def one_step_weights(W0, a, X, y, *, eta, activation: str = "tanh") -> jax.Array:
    """First-layer weights after one gradient step with learning rate ``η√N``:
    ``W₁ = W₀ + η √N · G`` with ``G`` = :func:`first_step_gradient` at ``W₀`` (``a`` is kept
    fixed). ``eta`` is a scalar ≥ 0 (``η = Θ(1)``: the spike regime of Ba et al.;
    ``η = Θ(√N)``: the large-step regime in which the features learn the nonlinearity).
    """
    W0, a, X, y = _check_net(W0, a, X, y)
    eta = v.scalar(eta, "eta", nonnegative=True)
    activations.activation_fn(activation)
    G = _gradient_jit(W0, a, X, y, activation)
    return W0 + eta * np.sqrt(W0.shape[0]) * G


def rank_one_step(W0, a, X, y, *, eta, mu1) -> jax.Array:
    """The rank-one model of the step: ``W₀ + η μ₁ a (Xᵀy/n)ᵀ`` (the leading term of
    ``η√N G`` when ``σ' ≈ μ₁`` and the network output at initialization is negligible).
    """
    W0, a, X, y = _check_net(W0, a, X, y)
    eta = v.scalar(eta, "eta", nonnegative=True)
    mu1 = v.scalar(mu1, "mu1")
    return W0 + eta * mu1 * jnp.outer(a, X.T @ y / X.shape[0])


# ------------------------------------------------------------------------------------------------
# the spike: limit formula and a jitted step-size sweep
# ------------------------------------------------------------------------------------------------

class SpikeLimit(NamedTuple):
    """Limits (d → ∞) for one step of size ``η`` (arrays with the shape of ``eta``).

    ``theta1``: spike strength; ``theta2``: its component along β*; ``threshold = ψ₂^{1/4}``;
    ``sigma1``: top singular value of ``W₁``; ``alignment``: ``|⟨u₁, β*⟩|²``; ``bulk_edge``:
    ``1 + √ψ₂``, the top edge of the singular values of ``W₀``.
    """
    theta1: np.ndarray
    theta2: np.ndarray
    threshold: float
    sigma1: np.ndarray
    alignment: np.ndarray
    bulk_edge: float


def spike_limit(eta, *, psi1, psi2, mu1, mu1_star, mean_square, a_norm=1.0) -> SpikeLimit:
    """Ba et al. (2022, Thm. 3) for ``n/d → ψ₁``, ``N/d → ψ₂``, ``η = Θ(1)``:

        θ₁ = η μ₁ ‖a‖ √(μ₁*² + E[y²]/ψ₁),     θ₂ = η μ₁ ‖a‖ |μ₁*|,

    where ``mean_square = E[y²] = ‖f*‖² + noise²`` (``‖Xᵀy/n‖² → μ₁*² + E[y²]/ψ₁``). If
    ``θ₁ > ψ₂^{1/4}``:

        σ₁(W₁) → √((1 + θ₁²)(ψ₂ + θ₁²)) / θ₁,
        |⟨u₁, β*⟩|² → (θ₂²/θ₁²) · (1 − (ψ₂ + θ₁²) / (θ₁² (θ₁² + 1))),

    otherwise ``σ₁ → 1 + √ψ₂`` (the Marchenko–Pastur edge) and ``|⟨u₁, β*⟩|² → 0``. ``u₁ ∈ R^d``
    is the top singular vector of ``W₁`` on the input side. The second factor is the
    Benaych-Georges–Nadakuditi overlap of a rank-one perturbation of a rectangular Gaussian
    matrix; the first is ``cos²`` between ``Xᵀy/n`` and ``β*``. NumPy in, NumPy out.
    """
    eta = np.asarray(v.float_array(eta, "eta"), dtype=float)
    if np.any(eta < 0):
        raise ValueError("eta must be >= 0")
    psi1 = v.scalar(psi1, "psi1", positive=True)
    psi2 = v.scalar(psi2, "psi2", positive=True)
    mu1 = v.scalar(mu1, "mu1")
    mu1_star = v.scalar(mu1_star, "mu1_star")
    ms = v.scalar(mean_square, "mean_square", positive=True)
    if ms < mu1_star ** 2:
        raise ValueError(f"mean_square = E[y²] must be >= mu1_star² = {mu1_star ** 2}, got {ms}")
    a_norm = v.scalar(a_norm, "a_norm", positive=True)
    scale = eta * abs(mu1) * a_norm
    th1 = scale * np.sqrt(mu1_star ** 2 + ms / psi1)
    th2 = scale * abs(mu1_star)
    thr = psi2 ** 0.25
    above = th1 > thr
    t = np.where(above, th1, 1.0)
    sigma1 = np.where(above, np.sqrt((1 + t ** 2) * (psi2 + t ** 2)) / t, 1 + np.sqrt(psi2))
    align = np.where(above, (th2 / t) ** 2 * (1 - (psi2 + t ** 2) / (t ** 2 * (t ** 2 + 1))), 0.0)
    return SpikeLimit(th1, th2, thr, sigma1, align, 1 + np.sqrt(psi2))


def _top_eig(M, k, block, iters):
    """Top-``k`` eigenpairs of the symmetric PSD matrix ``M`` (d × d) by block power iteration on
    the shifted matrix ``M − c I``, ``c = tr(M)/d`` (the shift speeds up convergence at the top of
    a Marchenko–Pastur-like spectrum), ``iters`` steps with thin QR, then Rayleigh–Ritz.
    Only products and QRs of ``d × block`` matrices: far cheaper than a dense eigh on CPU."""
    d = M.shape[0]
    c = jnp.trace(M) / d
    Q0 = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (d, block), dtype=M.dtype))[0]

    def body(_, Q):
        return jnp.linalg.qr(M @ Q - c * Q)[0]
    Q = jax.lax.fori_loop(0, iters, body, Q0)
    evals, evecs = jnp.linalg.eigh(Q.T @ M @ Q)                  # ascending, block × block
    top = jnp.arange(block - 1, block - 1 - k, -1)
    return evals[top], Q @ evecs[:, top]


def _top_singular(W, k, block, iters):
    evals, V = _top_eig(W.T @ W, k, block, iters)
    return jnp.sqrt(jnp.maximum(evals, 0.0)), V


def leading_singular_pairs(W, *, k: int = 2, block: int = 8, iters: int = 300):
    """The ``k`` largest singular values ``s`` (descending) of ``W`` ``(N, d)`` and the matching
    right (input-side) singular vectors as the columns of ``V`` ``(d, k)``.

    Block power iteration ``Q ← qr((WᵀW − cI) Q)``, ``c = ‖W‖_F²/d``, with ``block ≥ k`` columns
    for ``iters`` steps and a Rayleigh–Ritz step on the ``block``-dimensional subspace. The error in
    the ``i``-th pair decays like ``((s_{block+1}² − c)/(s_i² − c))^{iters}``: exact to rounding for an outlier separated from the
    rest of the spectrum, approximate (but still a top-of-spectrum vector) inside a bulk with no
    gap. Returns ``(s, V)``.
    """
    W = v.float_array(W, "W", ndim=2)
    k = v.integer(k, "k", minimum=1)
    block = v.integer(block, "block", minimum=k)
    if block > W.shape[1]:
        raise ValueError(f"block must be <= d = W.shape[1] = {W.shape[1]}, got {block}")
    iters = v.integer(iters, "iters", minimum=1)
    return _top_singular_jit(W, k, block, iters)


_top_singular_jit = jax.jit(_top_singular, static_argnums=(1, 2, 3))


class SpikeSweep(NamedTuple):
    """What :func:`step_size_sweep` returns, each of shape ``(reps, len(etas))``: the two largest
    singular values of ``W₁`` and the squared overlaps ``|⟨u₁, β*⟩|²``, ``|⟨u₂, β*⟩|²`` of the
    corresponding input-side singular vectors with the teacher direction."""
    sigma1: jax.Array
    sigma2: jax.Array
    alignment: jax.Array
    alignment2: jax.Array


def _check_draws(key, d, n_features, n_samples, reps, etas, target, noise, *, min_features):
    """Validate the arguments shared by :func:`step_size_sweep` and :func:`step_risk_change`."""
    etas = v.float_array(etas, "etas", ndim=1)
    v.nonnegative(etas, "etas")
    return (v.key(key), v.integer(d, "d", minimum=2),
            v.integer(n_features, "n_features", minimum=min_features),
            v.integer(n_samples, "n_samples", minimum=1), v.integer(reps, "reps", minimum=1), etas,
            _as_function(target, "target"), v.scalar(noise, "noise", nonnegative=True))


@partial(jax.jit, static_argnames=("d", "N", "n", "reps", "f", "activation", "rank_one", "block",
                                   "iters"))
def _sweep(key, etas, noise, mu1, d, N, n, reps, f, activation, rank_one, block, iters):
    act = activations.activation_fn(activation)

    def one(k):
        kb, kd, kn = jax.random.split(k, 3)
        beta = jax.random.normal(kb, (d,), dtype=etas.dtype)
        beta = beta / jnp.linalg.norm(beta)
        X, y = _single_index(kd, n, beta, f, noise)
        W0, a = _init(kn, N, d, etas.dtype.type)
        if rank_one:
            step = mu1 * jnp.outer(a, X.T @ y / n)
        else:
            step = np.sqrt(N) * _gradient(W0, a, X, y, act)

        G00, G01, G11 = W0.T @ W0, W0.T @ step, step.T @ step

        def at(eta):                        # W₁ᵀW₁ = W₀ᵀW₀ + η(W₀ᵀS + SᵀW₀) + η² SᵀS
            M = G00 + eta * (G01 + G01.T) + eta ** 2 * G11
            lam, V = _top_eig(M, 2, block, iters)
            overlaps = (V.T @ beta) ** 2
            s = jnp.sqrt(jnp.maximum(lam, 0.0))
            return s[0], s[1], overlaps[0], overlaps[1]
        return jax.lax.map(at, etas)

    return jax.lax.map(one, jax.random.split(key, reps))


def step_size_sweep(key, *, d: int, n_features: int, n_samples: int, etas, reps: int,
                    target: Callable, noise: float = 0.0, activation: str = "tanh",
                    rank_one: bool = False, block: int = 8, iters: int = 150) -> SpikeSweep:
    """Spectrum of ``W₁`` after one step, for every step size in ``etas`` and ``reps`` draws.

    Each draw samples ``β*`` uniform on the unit sphere, ``n_samples`` points of
    :func:`single_index_data`, and ``(W₀, a)`` from :func:`init_two_layer`; the gradient ``G`` at
    ``W₀`` is computed once and ``W₁ = W₀ + η√N G`` is formed for every ``η`` (``W₁`` is affine in
    ``η``). With ``rank_one=True`` the step is replaced by its rank-one model
    ``η μ₁ a (Xᵀy/n)ᵀ`` (:func:`rank_one_step`). The top two singular pairs come from
    :func:`leading_singular_pairs` (``block``, ``iters``). Compare the means with :func:`spike_limit`
    (``ψ₁ = n_samples/d``, ``ψ₂ = n_features/d``).
    """
    key, d, N, n, reps, etas, f, noise = _check_draws(key, d, n_features, n_samples, reps, etas,
                                                      target, noise, min_features=2)
    block = v.integer(block, "block", minimum=2)
    if block > d:
        raise ValueError(f"block must be <= d = {d}, got {block}")
    iters = v.integer(iters, "iters", minimum=1)
    mu1 = gaussian_equivalence_constants(activation).mu1 if rank_one else 0.0
    out = _sweep(key, etas, jnp.asarray(noise, etas.dtype), jnp.asarray(mu1, etas.dtype),
                 d, N, n, reps, f, activation, bool(rank_one), block, iters)
    return SpikeSweep(*out)


# ------------------------------------------------------------------------------------------------
# features and ridge regression on them
# ------------------------------------------------------------------------------------------------

def network_features(X, W, *, activation: str = "tanh") -> jax.Array:
    """Conjugate-kernel features ``φ(x) = σ(W x)/√N`` of the first layer, shape ``(n, N)``.

    With rows of ``W`` of norm ≈ 1 this is ``lib.ridgeless.random_features(X, √d·W)/√N`` (that
    function uses the Mei–Montanari scaling ``σ(⟨w, x⟩/√d)``), which is what is called here.
    """
    X = v.float_array(X, "X", ndim=2)
    W = v.float_array(W, "W", ndim=2)
    v.same_dim(X, W, "X", "W", axis=1)
    return random_features(X, np.sqrt(X.shape[1]) * W, activation=activation) / np.sqrt(W.shape[0])


def gaussian_equivalent_features(key, X, W, *, mu0, mu1, mu2) -> jax.Array:
    """Gaussian-equivalent features ``φ_GE(x) = (μ₀ + μ₁ W x + μ₂ z)/√N`` with a fresh
    ``z ~ N(0, I_N)`` for every row of ``X``: the nonlinear part of ``σ`` replaced by independent
    Gaussian noise of the same variance. Shape ``(n, N)``.
    """
    key = v.key(key)
    X = v.float_array(X, "X", ndim=2)
    W = v.float_array(W, "W", ndim=2)
    v.same_dim(X, W, "X", "W", axis=1)
    mu0, mu1 = v.scalar(mu0, "mu0"), v.scalar(mu1, "mu1")
    mu2 = v.scalar(mu2, "mu2", nonnegative=True)
    z = jax.random.normal(key, (X.shape[0], W.shape[0]), dtype=X.dtype)
    return (mu0 + mu1 * X @ W.T + mu2 * z) / np.sqrt(W.shape[0])


@jax.jit
def _ridge_path(Phi, y, Phi_test, y_test, nlams):
    evals, Q = jnp.linalg.eigh(Phi.T @ Phi)                      # (N,), (N, N)
    evals = jnp.maximum(evals, 0.0)
    c = Q.T @ (Phi.T @ y)
    coefs = Q @ (c[:, None] / (evals[:, None] + nlams[None, :]))   # (N, n_lams)
    sq = (Phi_test @ coefs - y_test[:, None]) ** 2                # (m, n_lams)
    m = sq.shape[0]
    return sq.mean(axis=0), sq.std(axis=0, ddof=1) / jnp.sqrt(m)


class RidgePath(NamedTuple):
    """Test mean squared error ``mse`` for every ridge penalty and its standard error ``stderr``
    as an average over the test points (``std/√m`` of the squared residuals)."""
    mse: jax.Array
    stderr: jax.Array


def ridge_path(Phi, y, Phi_test, y_test, *, lams) -> RidgePath:
    """Test MSE of ridge regression on fixed features for every ``λ`` in ``lams``.

    ``â_λ = argmin_a (1/n)‖y − Φa‖² + λ‖a‖² = (ΦᵀΦ + nλI)⁻¹Φᵀy`` (the normalization of
    :func:`lib.ridgeless.ridge`, which it matches for each ``λ > 0``), computed for the whole grid
    from one eigendecomposition of the ``N × N`` matrix ``ΦᵀΦ`` (cheap when ``N ≤ n``). Returns
    :class:`RidgePath`: ``mse = mean((Φ_test â_λ − y_test)²)`` and its standard error over the
    ``m ≥ 2`` test points, each of shape ``(len(lams),)``. ``lams`` must be > 0.
    """
    Phi, y = v.samples(Phi, y, "Phi", "y")
    Phi_test, y_test = v.samples(Phi_test, y_test, "Phi_test", "y_test")
    v.same_dim(Phi, Phi_test, "Phi", "Phi_test", axis=1)
    if Phi_test.shape[0] < 2:
        raise ValueError(f"Phi_test needs at least 2 test points, got {Phi_test.shape[0]}")
    lams = v.float_array(lams, "lams", ndim=1)
    if lams.shape[0] == 0:
        raise ValueError("lams must be a non-empty 1-D array of ridges > 0")
    v.positive(lams, "lams")
    dtype = jnp.result_type(Phi.dtype, y.dtype, Phi_test.dtype, y_test.dtype)
    return RidgePath(*_ridge_path(Phi.astype(dtype), y.astype(dtype), Phi_test.astype(dtype),
                                  y_test.astype(dtype), (Phi.shape[0] * lams).astype(dtype)))


class GERiskBand(NamedTuple):
    """What :func:`gaussian_equivalent_risk_band` returns: the population error ``lower`` of the
    best predictor on the Gaussian-equivalent features and ``upper`` = ``lower`` plus the expected
    excess of the least-squares fit from ``n`` samples; also the linear-part error ``linear``."""
    lower: float
    upper: float
    linear: float


def gaussian_equivalent_risk_band(W, beta, *, mu1, mu2, mu1_star, nonlinear_energy, noise,
                                  n_samples) -> GERiskBand:
    """Test-error band of ridge regression on the Gaussian-equivalent features of ``W``.

    For ``φ_GE(x) = (μ₁ W x + μ₂ z)/√N`` (``μ₀ = μ₀* = 0``: odd activation, centred target) and
    the target ``f*(⟨x, β*⟩) = μ₁*⟨x, β*⟩ + P_{>1}f*``, the best predictor ``cᵀφ_GE`` has error

        lower = ‖P_{>1}f*‖² + A,    A = μ₁*² β*ᵀ (I + (μ₁²/μ₂²) WᵀW)⁻¹ β*

    (``P_{>1}f*`` is uncorrelated with every feature; minimizing
    ``‖μ₁*β* − μ₁Wᵀc‖² + μ₂²‖c‖²`` over ``c`` and Woodbury give ``A``). Least squares on ``n``
    samples of these jointly Gaussian features, with label noise of standard deviation
    ``noise``, has expected test error ≈ ``lower + (lower + noise²) N/(n − N − 1)`` =: ``upper``
    (the OLS excess for a Gaussian design with an independent residual; here the residual
    ``P_{>1}f*`` + misfit is uncorrelated with, not independent of, the features, so the formula is
    exact only asymptotically); ridge with the best penalty lies approximately in
    ``[lower, upper]``. ``W`` is ``(N, d)``, ``beta`` ``(d,)`` of unit norm, ``n_samples > N + 1``.
    Computed in float64 NumPy.
    """
    W = np.asarray(v.float_array(W, "W", ndim=2), np.float64)
    beta = np.asarray(v.float_array(beta, "beta", ndim=1), np.float64)
    if beta.shape[0] != W.shape[1]:
        raise ValueError(f"beta must have length d = {W.shape[1]}, got shape {beta.shape}")
    mu1, mu1_star = v.scalar(mu1, "mu1"), v.scalar(mu1_star, "mu1_star")
    mu2 = v.scalar(mu2, "mu2", positive=True)
    energy = v.scalar(nonlinear_energy, "nonlinear_energy", nonnegative=True)
    noise = v.scalar(noise, "noise", nonnegative=True)
    N = W.shape[0]
    n = v.integer(n_samples, "n_samples", minimum=N + 2)
    M = np.eye(W.shape[1]) + (mu1 ** 2 / mu2 ** 2) * (W.T @ W)
    linear = float(mu1_star ** 2 * beta @ np.linalg.solve(M, beta))
    lower = energy + linear
    return GERiskBand(lower, lower + (lower + noise ** 2) * N / (n - N - 1), linear)


# ------------------------------------------------------------------------------------------------
# the kernel (lazy) regime: risk change after one step, across sizes
# ------------------------------------------------------------------------------------------------

class StepRiskChange(NamedTuple):
    """What :func:`step_risk_change` returns: the ridge test error ``risk0`` ``(reps,)`` on the
    random features of ``W₀``, and ``plus``/``minus`` ``(reps, len(etas))`` on those of
    ``W₀ + η√N G(±a)``, the step taken with the second layer ``a`` and with ``−a``."""
    risk0: jax.Array
    plus: jax.Array
    minus: jax.Array


@partial(jax.jit, static_argnames=("d", "N", "n", "m", "reps", "f", "activation"))
def _risk_change(key, etas, ridge, noise, d, N, n, m, reps, f, activation):
    act = activations.activation_fn(activation)

    def risk(W, Xf, yf, Xt, ft):
        P = act(Xf @ W.T) / np.sqrt(N)
        chol = jax.scipy.linalg.cho_factor(P.T @ P + n * ridge * jnp.eye(N, dtype=P.dtype))
        coef = jax.scipy.linalg.cho_solve(chol, P.T @ yf)
        return jnp.mean((act(Xt @ W.T) @ coef / np.sqrt(N) - ft) ** 2)

    def one(k):
        kb, ks, kf, kt, kn = jax.random.split(k, 5)
        beta = jax.random.normal(kb, (d,), dtype=etas.dtype)
        beta = beta / jnp.linalg.norm(beta)
        Xs, ys = _single_index(ks, n, beta, f, noise)          # data of the gradient step
        Xf, yf = _single_index(kf, n, beta, f, noise)          # independent data of the ridge fit
        Xt = jax.random.normal(kt, (m, d), dtype=etas.dtype)   # test inputs, noiseless target
        ft = f(Xt @ beta)
        W0, a = _init(kn, N, d, etas.dtype.type)
        out = [risk(W0, Xf, yf, Xt, ft)]
        for sign in (1.0, -1.0):
            S = np.sqrt(N) * _gradient(W0, sign * a, Xs, ys, act)
            out.append(jax.lax.map(lambda e: risk(W0 + e * S, Xf, yf, Xt, ft), etas))
        return tuple(out)

    return jax.lax.map(one, jax.random.split(key, reps))


def step_risk_change(key, *, d: int, n_features: int, n_samples: int, n_test: int, etas,
                     reps: int, ridge: float, target: Callable, noise: float = 0.0,
                     activation: str = "tanh") -> StepRiskChange:
    """Ridge test error on the features of ``W₀`` and of ``W₁ = W₀ + η√N G`` for each ``η``.

    Each of ``reps`` draws samples ``β*`` uniform on the unit sphere, ``(W₀, a)``
    (:func:`init_two_layer`), ``n_samples`` points for the gradient step and an *independent*
    set of ``n_samples`` points for the ridge fit (:func:`single_index_data`), and ``n_test``
    test inputs. For ``W`` in ``{W₀} ∪ {W₀ + η√N G(a), W₀ + η√N G(−a) : η ∈ etas}``
    (``G(±a)`` the negative gradient :func:`first_step_gradient` with second layer ``±a``, a draw
    as likely as ``a``) it fits ``â = (ΦᵀΦ + n λ I)⁻¹Φᵀy`` on ``Φ = σ(X Wᵀ)/√N`` with
    ``λ = ridge`` (the normalization of :func:`ridge_path`) and returns the test error
    ``mean((φ_W(x)ᵀâ − f*(⟨x, β*⟩))²)`` against the noiseless teacher, as
    :class:`StepRiskChange`. The features have covariance eigenvalues of order ``1/N``, so a
    fixed ``N·ridge`` is the penalty that has a limit as ``n, d, N → ∞`` proportionally.
    ``risk0 − (plus + minus)/2`` is the antithetic estimate of the mean improvement: since
    ``G(−a) = −G(a) + O(N^{-1/2})`` (only the residual ``y ∓ f_{W₀}`` with ``f_{W₀} = O(N^{-1/2})``
    differs), its term linear in ``η`` cancels up to that correction, draw by draw.
    """
    key, d, N, n, reps, etas, f, noise = _check_draws(key, d, n_features, n_samples, reps, etas,
                                                      target, noise, min_features=1)
    m = v.integer(n_test, "n_test", minimum=1)
    ridge = v.scalar(ridge, "ridge", positive=True)
    activations.activation_fn(activation)
    out = _risk_change(key, etas, jnp.asarray(ridge, etas.dtype), jnp.asarray(noise, etas.dtype),
                       d, N, n, m, reps, f, activation)
    return StepRiskChange(*out)
