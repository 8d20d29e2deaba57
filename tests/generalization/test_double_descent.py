"""lib.generalization.double_descent: the self-consistent anisotropic risk against the isotropic
closed form, its scaling law in Σ and a direct simulation; the Rao–Blackwellized Monte Carlo
against the inverse-Wishart identity and against sampling β and ε; the Hermite coefficients of
ReLU and erf against closed forms; the Mei–Montanari limit at infinite width against linear ridge
regression (Marchenko–Pastur quadrature); input validation."""
import jax
import numpy as np
import pytest
from scipy import integrate

from lib import ridgeless as rl
from lib.generalization import double_descent as dd

pytestmark = pytest.mark.usefixtures("x64")


def test_loguniform_spectrum_quantiles():
    tau = dd.loguniform_spectrum(4, low=0.1, high=10.0)
    np.testing.assert_allclose(np.log10(tau), [-0.75, -0.25, 0.25, 0.75], rtol=1e-12)
    np.testing.assert_allclose(dd.loguniform_spectrum(3, low=2.0, high=2.0), [2.0] * 3)


@pytest.mark.parametrize("gamma", [0.3, 0.8, 1.2, 2.0, 7.0])
def test_anisotropic_risk_reduces_to_isotropic(gamma):
    b, v = dd.anisotropic_ridgeless_risk(gamma, np.ones(17), signal=1.3, noise=0.7)
    ref = float(rl.isotropic_asymptotic_risk(gamma, signal=1.3, noise=0.7))
    assert b + v == pytest.approx(ref, rel=1e-10)
    if gamma > 1:   # the two parts separately: r²(1 − 1/γ) and σ²/(γ − 1)
        assert b == pytest.approx(1.3 ** 2 * (1 - 1 / gamma), rel=1e-10)


def test_anisotropic_risk_scaling_in_sigma():
    # Σ → cΣ: X⁺ scales by 1/√c, so the variance (in the Σ-norm) is unchanged and the bias
    # ‖(I − P)β‖²_Σ is multiplied by c
    tau = dd.loguniform_spectrum(50, low=0.2, high=5.0)
    b1, v1 = dd.anisotropic_ridgeless_risk(2.5, tau, signal=1.0, noise=0.5)
    b3, v3 = dd.anisotropic_ridgeless_risk(2.5, 3 * tau, signal=1.0, noise=0.5)
    assert b3 == pytest.approx(3 * b1, rel=1e-10)
    assert v3 == pytest.approx(v1, rel=1e-10)


def test_monte_carlo_matches_inverse_wishart_below_threshold():
    # E tr(Σ(XᵀX)⁻¹) = d/(n − d − 1) for every Σ; d = 20 and 30 share one zero-padded group
    n = 60
    spectra = [dd.loguniform_spectrum(d, low=0.1, high=10.0) for d in (30, 20)]
    draws = np.asarray(dd.anisotropic_risk_monte_carlo(jax.random.key(0), n, spectra, signal=1.0,
                                                       noise=0.5, reps=400))
    assert draws.shape == (2, 400)
    for row, d in zip(draws, (30, 20)):
        se = row.std(ddof=1) / np.sqrt(row.size)
        assert abs(row.mean() - 0.25 * d / (n - d - 1)) <= 4 * se


def test_monte_carlo_padding_above_threshold():
    # d = 50 padded to 75 in one group with d = 75: same law as the unpadded single-spectrum call
    n, r, s = 30, 1.0, 0.5
    spectra = [dd.loguniform_spectrum(d, low=0.2, high=4.0) for d in (75, 50)]
    grouped = np.asarray(dd.anisotropic_risk_monte_carlo(jax.random.key(4), n, spectra, signal=r,
                                                         noise=s, reps=300))
    alone = np.asarray(dd.anisotropic_risk_monte_carlo(jax.random.key(5), n, spectra[1], signal=r,
                                                       noise=s, reps=300))
    se = np.hypot(grouped[1].std(ddof=1), alone.std(ddof=1)) / np.sqrt(300)
    assert abs(grouped[1].mean() - alone.mean()) <= 4 * se


def test_monte_carlo_matches_sampled_beta_and_noise():
    # independent implementation: NumPy pinv with β and ε sampled instead of integrated out
    n, d, r, s = 30, 75, 1.2, 0.6
    tau = dd.loguniform_spectrum(d, low=0.2, high=4.0)
    rb = np.asarray(dd.anisotropic_risk_monte_carlo(jax.random.key(1), n, tau, signal=r, noise=s,
                                                    reps=600))
    rng = np.random.default_rng(2)
    direct = []
    for _ in range(1500):
        X = rng.standard_normal((n, d)) * np.sqrt(tau)
        beta = rng.standard_normal(d)
        beta *= r / np.linalg.norm(beta)
        bhat = np.linalg.pinv(X) @ (X @ beta + s * rng.standard_normal(n))
        direct.append(np.sum(tau * (bhat - beta) ** 2))
    direct = np.asarray(direct)
    se = np.hypot(rb.std(ddof=1) / np.sqrt(rb.size), direct.std(ddof=1) / np.sqrt(direct.size))
    assert abs(rb.mean() - direct.mean()) <= 4 * se
    assert rb.std() < 0.5 * direct.std()       # integrating out β and ε removes most of the noise


def test_anisotropic_limit_against_large_simulation():
    # finite-n mean within 2 % of the limit (the O(1/n) correction is about 0.3 % at n = 200,
    # gamma = 2); the isotropic formula (about 27 % off here) is rejected
    n, gamma = 200, 2.0
    tau = dd.loguniform_spectrum(int(gamma * n), low=0.1, high=10.0)
    draws = np.asarray(dd.anisotropic_risk_monte_carlo(jax.random.key(3), n, tau, signal=1.0,
                                                       noise=0.5, reps=8))
    lim = sum(dd.anisotropic_ridgeless_risk(gamma, tau, signal=1.0, noise=0.5))
    assert draws.mean() == pytest.approx(lim, rel=0.02)
    iso = float(rl.isotropic_asymptotic_risk(gamma, signal=1.0, noise=0.5))
    assert abs(iso - lim) > 0.2 * lim


def test_activation_coefficients_closed_forms():
    mu0, mu1, mus = dd.activation_coefficients("relu")
    np.testing.assert_allclose([mu0, mu1, mus ** 2],
                               [1 / np.sqrt(2 * np.pi), 0.5, 0.25 - 1 / (2 * np.pi)], rtol=1e-8)
    mu0, mu1, mus = dd.activation_coefficients("erf")
    # E erf(G) = 0, E G erf(G) = E erf'(G) = 2/√(3π), E erf(G)² = (2/π) arcsin(2/3)
    np.testing.assert_allclose([mu0, mu1], [0.0, 2 / np.sqrt(3 * np.pi)], atol=1e-10)
    assert mus ** 2 == pytest.approx(2 / np.pi * np.arcsin(2 / 3) - 4 / (3 * np.pi), rel=1e-8)


@pytest.mark.parametrize("lam", [1e-9, 0.1])
def test_mei_montanari_infinite_width_is_linear_ridge(lam):
    # ψ₁ → ∞: ΦΦᵀ/N → μ₀²11ᵀ + μ₁²XXᵀ/d + μ_*² I, so the predictor is linear ridge regression
    # with ridge (μ_*² + ψ₂λ)/(μ₁²ψ₂) (lib normalization); its risk for isotropic x is
    # r²λ²m'(−λ) + σ²γ(m(−λ) − λm'(−λ)), m the Stieltjes transform of MP(γ = 1/ψ₂)
    _, mu1, mus = dd.activation_coefficients("relu")
    psi2, r, s = 2.0, 1.0, 0.5
    risk, bias, var = dd.mei_montanari_risk(1e6, psi2, lam, mu1=mu1, mu_star=mus, signal=r,
                                            noise=s)
    g = 1 / psi2
    lin = (mus ** 2 + psi2 * lam) / (mu1 ** 2 * psi2)
    a, b = rl.marchenko_pastur_support(g)
    p = lambda x: float(rl.marchenko_pastur_density(x, ratio=g))
    m = integrate.quad(lambda x: p(x) / (x + lin), a, b, limit=200)[0]
    mp = integrate.quad(lambda x: p(x) / (x + lin) ** 2, a, b, limit=200)[0]
    assert float(bias) == pytest.approx(lin ** 2 * mp, rel=1e-4)
    assert float(var) == pytest.approx(g * (m - lin * mp), rel=1e-4)
    assert float(risk) == pytest.approx(r ** 2 * float(bias) + s ** 2 * float(var), rel=1e-12)


def test_mei_montanari_peak_and_broadcasting():
    _, mu1, mus = dd.activation_coefficients("relu")
    psi1 = np.array([1.0, 1.9, 2.0, 2.1, 4.0])
    risk = dd.mei_montanari_risk(psi1, 2.0, 1e-8, mu1=mu1, mu_star=mus, signal=1.0, noise=0.5)[0]
    assert risk.shape == (5,)
    assert np.argmax(risk) == 2 and risk[2] > 100 * risk[0]     # divergence at ψ₁ = ψ₂


def test_validation():
    k = jax.random.key(0)
    with pytest.raises(ValueError, match="high"):
        dd.loguniform_spectrum(5, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="gamma"):
        dd.anisotropic_ridgeless_risk(1.0, np.ones(3), signal=1.0, noise=1.0)
    with pytest.raises(ValueError, match="spectrum"):
        dd.anisotropic_ridgeless_risk(2.0, np.array([1.0, -1.0]), signal=1.0, noise=1.0)
    with pytest.raises(ValueError, match="noise"):
        dd.anisotropic_ridgeless_risk(2.0, np.ones(3), signal=1.0, noise=-1.0)
    with pytest.raises(ValueError, match="spectrum length"):
        dd.anisotropic_risk_monte_carlo(k, 10, np.ones(11), signal=1.0, noise=1.0, reps=2)
    with pytest.raises(ValueError, match="reps"):
        dd.anisotropic_risk_monte_carlo(k, 10, np.ones(5), signal=1.0, noise=1.0, reps=0)
    with pytest.raises(ValueError, match="activation"):
        dd.activation_coefficients("softsign")
    with pytest.raises(ValueError, match="lam"):
        dd.mei_montanari_risk(1.0, 2.0, 0.0, mu1=0.5, mu_star=0.3, signal=1.0, noise=0.5)
    with pytest.raises(ValueError, match="mu_star"):
        dd.mei_montanari_risk(1.0, 2.0, 0.1, mu1=0.5, mu_star=0.0, signal=1.0, noise=0.5)
