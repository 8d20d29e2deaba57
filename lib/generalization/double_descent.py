"""Chapter 2.3 (double descent): the two asymptotic risk formulas that need more than the core.

* :func:`anisotropic_ridgeless_risk` — the min-norm least-squares risk for a general covariance
  Σ, from the self-consistent (Stieltjes-transform) equation of Hastie, Montanari, Rosset &
  Tibshirani (2022, Thm. 2); :func:`anisotropic_risk_monte_carlo` gives its finite-n counterpart
  and :func:`loguniform_spectrum` the covariance family of the chapter.
* :func:`mei_montanari_risk` — the asymptotic test error of random-features ridge regression of
  Mei & Montanari (2022, Thm. 1), with :func:`activation_coefficients` for the constants
  ``μ₀, μ₁, μ_*`` of the activation.

The formulas are evaluated on the host (NumPy/SciPy: a scalar root and a damped fixed point);
the Monte Carlo is a jitted JAX program. Imports only the core of ``lib``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, optimize

from .. import _validate as v
from ..activations import ACTIVATIONS, activation_fn

__all__ = ["loguniform_spectrum", "anisotropic_ridgeless_risk", "anisotropic_risk_monte_carlo",
           "activation_coefficients", "mei_montanari_risk"]


# ------------------------------------------------------------------------------------------------
# min-norm least squares with a general covariance (Hastie et al. 2022, Thm. 2)
# ------------------------------------------------------------------------------------------------

def loguniform_spectrum(d: int, *, low: float, high: float) -> np.ndarray:
    """Eigenvalues ``τ_j = low · (high/low)^((j − ½)/d)``, ``j = 1..d``: the midpoint quantiles
    of the log-uniform law on ``[low, high]``, so the spectral distribution converges to it as
    ``d → ∞``. Requires ``0 < low ≤ high``."""
    d = v.integer(d, "d", minimum=1)
    low = v.scalar(low, "low", positive=True)
    high = v.scalar(high, "high", positive=True)
    if high < low:
        raise ValueError(f"high must be >= low, got low={low}, high={high}")
    return low * (high / low) ** ((np.arange(d) + 0.5) / d)


def _spectrum(spectrum) -> np.ndarray:
    tau = np.asarray(v.float_array(spectrum, "spectrum", ndim=1), dtype=float)
    if tau.size == 0 or np.min(tau) <= 0:
        raise ValueError("spectrum must be a non-empty 1-D array of positive eigenvalues")
    return tau


def anisotropic_ridgeless_risk(gamma, spectrum, *, signal, noise) -> tuple[float, float]:
    """Limit ``(bias, variance)`` of the Σ-risk ``E‖X⁺y − β‖²_Σ`` of min-norm least squares.

    Rows ``x = Σ^{1/2} z`` (``z`` iid isotropic), ``y = xᵀβ + ε``, ``Var ε = σ²`` (``noise``),
    ``β`` uniform on the sphere of radius ``r`` (``signal``; equivalently ``E ββᵀ = r²/d · I``),
    ``d/n → γ`` and the spectral distribution of Σ → ``H`` (here the empirical distribution of
    ``spectrum``, the eigenvalues of Σ). Hastie, Montanari, Rosset & Tibshirani (2022, Thm. 2):
    for ``γ < 1`` the bias is 0 and the variance ``σ² γ/(1 − γ)`` (independent of Σ); for
    ``γ > 1`` let ``c₀ > 0`` solve the self-consistent equation

        1 − 1/γ = ∫ 1/(1 + c₀ γ τ) dH(τ);

    then

        variance = σ² · c₀γ ∫ τ²/(1 + c₀γτ)² dH / ∫ τ/(1 + c₀γτ)² dH,
        bias     = r² · (1 + c₀γ ∫ τ²/(1 + c₀γτ)² dH / ∫ τ/(1 + c₀γτ)² dH) · ∫ τ/(1 + c₀γτ)² dH.

    (``−1/(c₀γ)`` is the point where the Stieltjes transform of the companion spectrum of
    ``XXᵀ/n`` vanishes at ``z = 0``.) For Σ = I this is ``r²(1 − 1/γ)`` and ``σ²/(γ − 1)``.
    ``gamma`` is a positive scalar ``≠ 1``; returns two floats.
    """
    g = v.scalar(gamma, "gamma", positive=True)
    if g == 1.0:
        raise ValueError("gamma must differ from 1 (the risk diverges at the threshold)")
    tau = _spectrum(spectrum)
    r = v.scalar(signal, "signal", nonnegative=True)
    sigma = v.scalar(noise, "noise", nonnegative=True)
    if g < 1:
        return 0.0, sigma ** 2 * g / (1 - g)
    target = 1 - 1 / g
    f = lambda c: np.mean(1 / (1 + c * g * tau)) - target          # decreasing, from 1/γ to −target
    hi = 1.0
    while f(hi) > 0:
        hi *= 2
    c0 = optimize.brentq(f, 0.0, hi, xtol=1e-15, rtol=1e-14)
    w = 1 / (1 + c0 * g * tau) ** 2
    m1, m2 = np.mean(tau * w), np.mean(tau ** 2 * w)
    ratio = c0 * g * m2 / m1
    return r ** 2 * (1 + ratio) * m1, sigma ** 2 * ratio


@partial(jax.jit, static_argnames=("n", "reps"))
def _aniso_mc(keys, taus, dims, n, reps, r2, s2):
    # ``taus`` (g, w): spectra padded with zeros to a common width w (all d < n, or all d > n).
    # A zero eigenvalue gives a zero column of X, which changes neither G = XXᵀ, A = XΣXᵀ nor
    # tr Σ; below the threshold the padded diagonal of XᵀX is set to 1 and its row of Σ^{1/2}
    # is 0, so tr(Σ(XᵀX)⁻¹) is unchanged. One compilation serves the group.
    w = taus.shape[1]

    def one(tau, d, k):
        X = jax.random.normal(k, (n, w), dtype=tau.dtype) * jnp.sqrt(tau)
        if w < n:
            pad = (jnp.arange(w) >= d).astype(tau.dtype)
            L = jnp.linalg.cholesky(X.T @ X + jnp.diag(pad))
            Linv = jax.scipy.linalg.solve_triangular(L, jnp.diag(jnp.sqrt(tau)), lower=True)
            return s2 * jnp.sum(Linv ** 2)                    # variance σ² tr(Σ (XᵀX)⁻¹); no bias
        G = X @ X.T
        A = (X * tau) @ X.T
        cf = jax.scipy.linalg.cho_factor(G, lower=True)
        GiA = jax.scipy.linalg.cho_solve(cf, A)
        bias = r2 / d * (jnp.sum(tau) - jnp.trace(GiA))
        var = s2 * jnp.trace(jax.scipy.linalg.cho_solve(cf, GiA.T))
        return bias + var

    def per_dim(args):
        tau, d, kd = args
        return jax.lax.map(lambda k: one(tau, d, k), jax.random.split(kd, reps))
    return jax.lax.map(per_dim, (taus, dims, keys))


def anisotropic_risk_monte_carlo(key, n: int, spectra, *, signal, noise, reps: int) -> jax.Array:
    """Draws of the conditional risk ``E_{β,ε}[‖X⁺y − β‖²_Σ | X]``, one per design ``X``.

    For each spectrum in ``spectra`` (a sequence of 1-D arrays of positive eigenvalues, one per
    dimension ``d = len(spectrum)``; a single 1-D array is one spectrum): ``X`` has ``n`` iid
    rows ``N(0, Σ)``, ``Σ = diag(spectrum)``; ``β`` uniform on the sphere of radius ``r``
    (``signal``) and ``ε ~ N(0, σ² I)`` (``noise``) are integrated out exactly
    (Rao–Blackwellization, far less Monte-Carlo noise than sampling them):

        d < n:   σ² tr(Σ (XᵀX)⁻¹)                                   (no bias),
        d > n:   (r²/d)(tr Σ − tr(G⁻¹A)) + σ² tr(G⁻¹ A G⁻¹),   G = XXᵀ, A = XΣXᵀ,

    using ``X⁺ = Xᵀ G⁻¹`` and that ``X⁺X`` projects on the row space. Their mean estimates the
    finite-``n`` risk, whose limit is :func:`anisotropic_ridgeless_risk`; for ``d < n`` it is
    exactly ``σ² d/(n − d − 1)`` for every Σ. Requires ``|d − n| ≥ 2``. The dimensions are
    computed in groups (all ``< n`` or all ``> n``, largest at most twice the smallest), each
    padded with zero eigenvalues to its largest ``d`` (which leaves every term unchanged) and
    run by one compiled program. Returns shape ``(len(spectra), reps)`` (``(reps,)`` for a
    single spectrum) in the default float dtype (use float64: ``G`` is ill-conditioned near
    ``d = n``).
    """
    key = v.key(key)
    n = v.integer(n, "n", minimum=2)
    single = not isinstance(spectra, (list, tuple))
    taus = [_spectrum(spectra)] if single else [_spectrum(t) for t in spectra]
    if not taus:
        raise ValueError("spectra must contain at least one spectrum")
    for t in taus:
        if abs(t.size - n) < 2:
            raise ValueError(f"spectrum length d={t.size} must differ from n={n} by at least 2")
    reps = v.integer(reps, "reps", minimum=1)
    r = v.scalar(signal, "signal", nonnegative=True)
    sigma = v.scalar(noise, "noise", nonnegative=True)
    dtype = jnp.zeros(()).dtype
    dims = [t.size for t in taus]
    groups = []
    for i in sorted(range(len(dims)), key=lambda i: dims[i]):
        first = dims[groups[-1][0]] if groups else None
        if first is not None and dims[i] <= 2 * first and (dims[i] < n) == (first < n):
            groups[-1].append(i)
        else:
            groups.append([i])
    keys = jax.random.split(key, len(dims))
    parts = []
    for g in groups:
        w = max(dims[i] for i in g)
        padded = np.stack([np.pad(taus[i], (0, w - dims[i])) for i in g])
        parts.append(_aniso_mc(keys[np.asarray(g)], jnp.asarray(padded, dtype),
                               jnp.asarray([dims[i] for i in g]), n, reps,
                               jnp.asarray(r ** 2, dtype), jnp.asarray(sigma ** 2, dtype)))
    out = jnp.concatenate(parts)[np.argsort(np.concatenate(groups))]
    return out[0] if single else out


# ------------------------------------------------------------------------------------------------
# random-features ridge regression (Mei & Montanari 2022, Thm. 1)
# ------------------------------------------------------------------------------------------------

def activation_coefficients(activation: str = "relu") -> tuple[float, float, float]:
    """``(μ₀, μ₁, μ_*)`` with ``μ₀ = E σ(G)``, ``μ₁ = E G σ(G)``, ``μ_*² = E σ(G)² − μ₀² − μ₁²``,
    ``G ~ N(0, 1)``: the constant, linear and "everything else" parts of ``σ`` in the Hermite
    basis (ReLU: ``1/√(2π)``, ``1/2``, ``(1/4 − 1/(2π))^{1/2}``). Computed by adaptive quadrature
    (split at 0, where ReLU-type activations have their kink). ``activation`` is one of
    ``lib.activations.ACTIVATIONS``."""
    activation = v.choice(activation, "activation", ACTIVATIONS)
    f = activation_fn(activation)
    phi = lambda g: np.exp(-g * g / 2) / np.sqrt(2 * np.pi)
    sig = lambda g: float(f(jnp.asarray(g)))

    def gauss(h):
        return sum(integrate.quad(lambda g: h(g) * phi(g), a, b, limit=200, epsabs=1e-13)[0]
                   for a, b in ((-np.inf, 0.0), (0.0, np.inf)))
    mu0 = gauss(sig)
    mu1 = gauss(lambda g: g * sig(g))
    second = gauss(lambda g: sig(g) ** 2)
    return mu0, mu1, float(np.sqrt(max(second - mu0 ** 2 - mu1 ** 2, 0.0)))


def _mm_nu(psi1, psi2, z2, xi, *, tol=1e-13, max_iter=200_000):
    """Damped fixed point for ``(ν₁, ν₂)`` at ``ξ = iy`` (vectorized); see mei_montanari_risk."""
    n1, n2 = psi1 / (-xi), psi2 / (-xi)
    for _ in range(max_iter):
        den = 1 - z2 * n1 * n2
        a1 = psi1 / (-xi - n2 - z2 * n2 / den)
        a2 = psi2 / (-xi - n1 - z2 * n1 / den)
        new1, new2 = 0.5 * (a1 + n1), 0.5 * (a2 + n2)
        err = max(np.max(np.abs(new1 - n1) / np.abs(new1)), np.max(np.abs(new2 - n2) / np.abs(new2)))
        n1, n2 = new1, new2
        if err < tol:
            return n1, n2
    raise RuntimeError("Mei–Montanari fixed point did not converge")  # pragma: no cover


def mei_montanari_risk(psi1, psi2, lam, *, mu1, mu_star, signal, noise, nonlinear=0.0):
    """Asymptotic test error ``(risk, bias, variance)`` of random-features ridge regression.

    Mei & Montanari (2022, *CPAM*, Thm. 1): ``x_i`` and ``θ_j`` uniform on the sphere of radius
    ``√d``, features ``σ(⟨θ_j, x⟩/√d)``, ``y = ⟨β, x⟩ + f_NL(x) + ε`` with ``‖β‖ = F₁``
    (``signal``), ``E f_NL² = F_*²`` (``nonlinear`` = F_*), ``Var ε = τ²`` (``noise`` = τ), and

        â = argmin_a (1/n) Σ_i (y_i − Σ_j a_j σ(⟨θ_j, x_i⟩/√d))² + (Nλ/d)‖a‖²

    (``lam`` = λ > 0; in the normalization of ``lib.ridgeless`` the ridge is ``N·λ/d``). As
    ``N/d → ψ₁``, ``n/d → ψ₂``, the excess error ``E_x(f(x) − f̂(x))²`` converges to

        R = F₁² B + (τ² + F_*²) V + F_*²,     B = E₁/E₀,  V = E₂/E₀,

    where, with ``ζ = μ₁/μ_*``, ``λ̄ = λ/μ_*²``, and ``χ = ν₁ν₂`` evaluated at ``ξ = i√(ψ₁ψ₂λ̄)``
    for the solution of ``ν₁ = ψ₁(−ξ − ν₂ − ζ²ν₂/(1 − ζ²ν₁ν₂))⁻¹``,
    ``ν₂ = ψ₂(−ξ − ν₁ − ζ²ν₁/(1 − ζ²ν₁ν₂))⁻¹`` in the upper half plane,

        E₀ = −χ⁵ζ⁶ + 3χ⁴ζ⁴ + (ψ₁ψ₂ − ψ₂ − ψ₁ + 1)χ³ζ⁶ − 2χ³ζ⁴ − 3χ³ζ²
             + (ψ₁ + ψ₂ − 3ψ₁ψ₂ + 1)χ²ζ⁴ + 2χ²ζ² + χ² + 3ψ₁ψ₂χζ² − ψ₁ψ₂,
        E₁ = ψ₂χ³ζ⁴ − ψ₂χ²ζ² + ψ₁ψ₂χζ² − ψ₁ψ₂,
        E₂ = χ⁵ζ⁶ − 3χ⁴ζ⁴ + (ψ₁ − 1)χ³ζ⁶ + 2χ³ζ⁴ + 3χ³ζ² + (−ψ₁ − 1)χ²ζ⁴ − 2χ²ζ² − χ².

    ``mu1``, ``mu_star`` are from :func:`activation_coefficients` (μ₀ does not enter). The
    ridgeless limit is ``lam → 0⁺`` (pass a small positive ``lam``). ``psi1``, ``psi2``, ``lam``
    broadcast; returns three float arrays of the broadcast shape.
    """
    psi1 = np.asarray(v.float_array(psi1, "psi1"), dtype=float)
    psi2 = np.asarray(v.float_array(psi2, "psi2"), dtype=float)
    lam = np.asarray(v.float_array(lam, "lam"), dtype=float)
    for a, name in ((psi1, "psi1"), (psi2, "psi2"), (lam, "lam")):
        if np.any(a <= 0):
            raise ValueError(f"{name} must be positive")
    mu1 = v.scalar(mu1, "mu1")
    mu_star = v.scalar(mu_star, "mu_star", positive=True)
    F1 = v.scalar(signal, "signal", nonnegative=True)
    tau = v.scalar(noise, "noise", nonnegative=True)
    Fs = v.scalar(nonlinear, "nonlinear", nonnegative=True)
    psi1, psi2, lam = np.broadcast_arrays(psi1, psi2, lam)
    z = mu1 / mu_star
    xi = 1j * np.sqrt(psi1 * psi2 * lam / mu_star ** 2)
    n1, n2 = _mm_nu(psi1, psi2, z * z, xi)
    chi = (n1 * n2).real
    p1, p2, c = psi1, psi2, chi
    E0 = (-c**5 * z**6 + 3 * c**4 * z**4 + (p1 * p2 - p2 - p1 + 1) * c**3 * z**6
          - 2 * c**3 * z**4 - 3 * c**3 * z**2 + (p1 + p2 - 3 * p1 * p2 + 1) * c**2 * z**4
          + 2 * c**2 * z**2 + c**2 + 3 * p1 * p2 * c * z**2 - p1 * p2)
    E1 = p2 * c**3 * z**4 - p2 * c**2 * z**2 + p1 * p2 * c * z**2 - p1 * p2
    E2 = (c**5 * z**6 - 3 * c**4 * z**4 + (p1 - 1) * c**3 * z**6 + 2 * c**3 * z**4
          + 3 * c**3 * z**2 + (-p1 - 1) * c**2 * z**4 - 2 * c**2 * z**2 - c**2)
    bias, var = E1 / E0, E2 / E0
    return F1 ** 2 * bias + (tau ** 2 + Fs ** 2) * var + Fs ** 2, bias, var
