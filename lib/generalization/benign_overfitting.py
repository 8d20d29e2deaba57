"""Benign overfitting of the minimum-norm interpolator (Bartlett, Long, Lugosi & Tsigler 2020).

Model
-----
Rows ``x ~ N(0, Σ)`` with a *diagonal* covariance ``Σ = diag(λ_1 ≥ λ_2 ≥ …)``, responses
``y = xᵀθ* + ε`` with ``ε ~ N(0, σ²)``, and the minimum-norm interpolator ``θ̂ = X⁺y``
(:func:`lib.ridgeless.min_norm_interpolator`). Its excess risk is
``R(θ̂) = E_x[(xᵀθ̂ − xᵀθ*)²] = (θ̂ − θ*)ᵀ Σ (θ̂ − θ*)``.

Effective ranks (BLLT, Definition 3), for ``k ≥ 0``:

    r_k(Σ) = Σ_{i>k} λ_i / λ_{k+1},        R_k(Σ) = (Σ_{i>k} λ_i)² / Σ_{i>k} λ_i²,

and the critical index ``k* = min{k ≥ 0 : r_k(Σ) ≥ b n}`` for the theorem's constant ``b > 1``.

Block spectra
-------------
Benign covariances need ``d ≫ n`` dimensions. A :class:`BlockSpectrum` is a short explicit *head*
``λ_1 ≥ … ≥ λ_h`` followed by a flat *tail*: ``tail_dim = p`` further eigenvalues all equal to
``tail_value = ε ≤ λ_h``. The signal ``θ*`` lives on the head. Because the tail is isotropic, the
data enter the min-norm interpolator only through the head columns ``H ∈ R^{n×h}`` and the tail
Gram matrix ``ε W Wᵀ``, ``W ∈ R^{n×p}`` standard Gaussian; ``W Wᵀ`` is a Wishart matrix, sampled
here in ``O(n³)`` by the Bartlett decomposition (``W Wᵀ = L Lᵀ``, ``L`` lower triangular with
``L_ii² ~ χ²_{p−i+1}`` and ``L_ij ~ N(0, 1)`` below the diagonal) — so a tail of ``p = 10⁶``
dimensions costs no more than one of ``p = n``. A plain array of eigenvalues is the block spectrum
with no tail.

Exact conditional risk
----------------------
Given the design, with ``A = XXᵀ`` (invertible when the rank is ``n``), ``θ̂ − θ* =
−(I − X⁺X)θ* + X⁺ε`` and ``X⁺ = Xᵀ A⁻¹``, so ``E_ε R = bias + variance`` with

    bias     = θ*ᵀ (I − X⁺X) Σ (I − X⁺X) θ*,
    variance = σ² tr(X⁺ᵀ Σ X⁺).

A signal in the tail (a *misaligned* ``θ*``) is handled through rotation invariance of the flat
tail: only its norm ``t = ‖θ*_tail‖`` matters for the design-averaged risk, so it is put on the first
tail coordinate, whose column ``w_1`` is drawn explicitly; the other ``p − 1`` tail columns enter
through a Bartlett factor. No Monte Carlo over the noise is needed.

Deterministic equivalent
------------------------
For large ``n`` the design-averaged bias and variance are predicted by the self-consistent
("deterministic equivalent") formulas of the ridgeless limit (Hastie, Montanari, Rosset & Tibshirani
2022; non-asymptotic: Cheng & Montanari 2024): ``κ > 0`` solves ``Σ_i λ_i/(λ_i + κ) = n`` and

    bias ≈ n/(n − df₂) · κ² Σ_i λ_i θ*_i²/(λ_i + κ)²,    variance ≈ σ² df₂/(n − df₂),
    df₂ = Σ_i λ_i²/(λ_i + κ)²

(:func:`ridgeless_equivalent`). ``κ`` is the implicit ridge of the interpolator.

All public functions validate their inputs and raise
``ValueError`` naming the argument; numerical cores are jitted; float64 when x64 is enabled.
"""
from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import data, ridgeless

__all__ = [
    "BlockSpectrum", "BLLTTerms", "block_spectrum", "spike_tail", "power_law", "isotropic",
    "eigenvalues", "effective_ranks", "critical_index", "bllt_terms", "sample_design",
    "block_bias_variance", "min_norm_bias_variance", "risk_draws", "reduced_bias_draws",
    "ClassificationDraws",
    "classification_draws", "RidgelessEquivalent", "ridgeless_equivalent",
]


class BlockSpectrum(NamedTuple):
    """Diagonal covariance ``diag(head_1, …, head_h, ε, …, ε)`` with ``tail_dim`` copies of
    ``ε = tail_value``; total dimension ``d = h + tail_dim``."""
    head: jax.Array
    tail_value: float
    tail_dim: int

    @property
    def dim(self) -> int:
        return int(self.head.shape[0]) + int(self.tail_dim)


class BLLTTerms(NamedTuple):
    """The quantities of the Bartlett–Long–Lugosi–Tsigler bounds at sample size ``n``.

    ``k_star``: critical index; ``r0``: ``r_0(Σ)``; ``R_kstar``: ``R_{k*}(Σ)``;
    ``variance``: ``σ² (k*/n + n/R_{k*})``; ``bias``: ``‖θ*‖² ‖Σ‖ max(√(r_0/n), r_0/n)``.
    ``variance`` is ``inf`` when no ``k`` has ``r_k ≥ b n``.
    """
    k_star: int
    r0: float
    R_kstar: float
    variance: float
    bias: float


# ------------------------------------------------------------------------------------------------
# spectra
# ------------------------------------------------------------------------------------------------

def block_spectrum(head, tail_value=0.0, tail_dim: int = 0) -> BlockSpectrum:
    """Validated :class:`BlockSpectrum`: ``head`` positive and non-increasing, ``tail_value``
    in ``(0, head[-1]]`` when ``tail_dim > 0``."""
    head = v.float_array(head, "head", ndim=1)
    if head.shape[0] < 1:
        raise ValueError("head must contain at least one eigenvalue")
    tail_dim = v.integer(tail_dim, "tail_dim", minimum=0)
    tail_value = v.scalar(tail_value, "tail_value", nonnegative=True)
    h = np.asarray(head)
    if np.any(h <= 0):
        raise ValueError("head must be positive (covariance eigenvalues)")
    if np.any(np.diff(h) > 0):
        raise ValueError("head must be sorted in non-increasing order")
    if tail_dim > 0 and not 0 < tail_value <= float(h[-1]):
        raise ValueError(f"tail_value must be in (0, head[-1]] = (0, {float(h[-1]):.3g}] when "
                         f"tail_dim > 0, got {tail_value}")
    if tail_dim == 0:
        tail_value = 0.0
    return BlockSpectrum(head, tail_value, tail_dim)


def _as_spectrum(spec, name: str = "spec") -> BlockSpectrum:
    if isinstance(spec, BlockSpectrum):
        return block_spectrum(spec.head, spec.tail_value, spec.tail_dim)
    try:
        return block_spectrum(spec)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from err


def spike_tail(n: int, *, spike=(1.0,), tail_mass=1.0, tail_exponent=1.5) -> BlockSpectrum:
    """The benign family: a few large *spike* eigenvalues and a long flat tail.

    ``head = spike`` (non-increasing), ``tail_dim = p_n = ⌈n^tail_exponent⌉`` and
    ``tail_value = tail_mass / p_n``, so the tail carries the total variance ``tail_mass`` spread
    over ``p_n ≫ n`` directions. With ``s = len(spike)``: ``r_s = R_s = p_n``, hence
    ``k* = s`` once ``r_k < b n`` for ``k < s``, and the BLLT variance term is
    ``s/n + n/p_n → 0`` when ``tail_exponent > 1``.
    """
    n = v.integer(n, "n", minimum=1)
    tail_mass = v.scalar(tail_mass, "tail_mass", positive=True)
    tail_exponent = v.scalar(tail_exponent, "tail_exponent", positive=True)
    spike = v.float_array(spike, "spike", ndim=1)
    p = int(math.ceil(n ** tail_exponent))
    return block_spectrum(spike, tail_mass / p, p)


def power_law(d: int, *, alpha, tail_dim: int = 0) -> BlockSpectrum:
    """``λ_i = i^{−alpha}``, ``i = 1, …, d``; with ``tail_dim = p > 0`` followed by a flat tail that
    carries the remaining mass ``Σ_{i>d} i^{−alpha} = ζ(alpha, d + 1)`` (Hurwitz zeta, needs
    ``alpha > 1``) spread over ``p`` eigenvalues — a stand-in for the infinite power law whose
    effective ranks ``r_k`` (``k < d``) are exactly those of the infinite sequence. For
    ``alpha > 1`` ``r_k ≈ k/(alpha−1)``, so ``k*`` grows proportionally to ``n`` and overfitting is
    *not* benign. ``p ≥ d/(alpha − 1)`` is needed for the tail to lie below ``λ_d``."""
    d = v.integer(d, "d", minimum=1)
    alpha = v.scalar(alpha, "alpha", positive=True)
    tail_dim = v.integer(tail_dim, "tail_dim", minimum=0)
    i = jnp.arange(1, d + 1, dtype=jnp.result_type(float))
    if tail_dim == 0:
        return block_spectrum(i ** -alpha)
    if alpha <= 1:
        raise ValueError(f"alpha must be > 1 for a summable tail (tail_dim > 0), got {alpha}")
    from scipy import special        # Hurwitz zeta (imported on use)
    mass = float(special.zeta(alpha, d + 1))
    return block_spectrum(i ** -alpha, mass / tail_dim, tail_dim)


def isotropic(d: int) -> BlockSpectrum:
    """``Σ = I_d``, stored as a head ``(1,)`` (where the signal lives) and a tail of ``d − 1``
    unit eigenvalues."""
    d = v.integer(d, "d", minimum=1)
    return block_spectrum(jnp.ones((1,), dtype=jnp.result_type(float)), 1.0, d - 1)


def eigenvalues(spec) -> jax.Array:
    """All ``d`` eigenvalues of ``spec`` (a :class:`BlockSpectrum` or 1-D array), non-increasing."""
    spec = _as_spectrum(spec)
    tail = jnp.full((spec.tail_dim,), spec.tail_value, dtype=spec.head.dtype)
    return jnp.concatenate([spec.head, tail])


# ------------------------------------------------------------------------------------------------
# effective ranks and the BLLT terms
# ------------------------------------------------------------------------------------------------

def _ranks(head, eps, p, ks):
    # NumPy in the head's dtype (O(h), not worth a compile per shape). Suffix sums of the head
    # (S1[k] = Σ_{i>k} head_i, 0-based: sum of head[k:]) plus the tail.
    h = head.shape[0]
    zero = np.zeros(1, head.dtype)
    s1_head = np.concatenate([np.cumsum(head[::-1])[::-1], zero])
    s2_head = np.concatenate([np.cumsum((head ** 2)[::-1])[::-1], zero])
    in_head = ks < h
    kc = np.minimum(ks, h)
    # tail indices counted from the end: k ≥ h leaves d − k = h + p − k tail eigenvalues
    n_tail = np.where(in_head, p, h + p - ks).astype(head.dtype)
    s1 = s1_head[kc] + n_tail * eps
    s2 = s2_head[kc] + n_tail * eps ** 2
    lam_next = np.where(in_head, head[np.minimum(ks, h - 1)], eps)
    return jnp.asarray(s1 / lam_next), jnp.asarray(s1 ** 2 / s2)


def effective_ranks(spec, ks=None):
    """``(r_k, R_k)`` of Bartlett et al. (2020) for ``k`` in ``ks``.

    ``r_k = Σ_{i>k} λ_i / λ_{k+1}`` and ``R_k = (Σ_{i>k} λ_i)² / Σ_{i>k} λ_i²`` (eigenvalues
    1-indexed and non-increasing, ``0 ≤ k ≤ d − 1``). ``spec`` is a :class:`BlockSpectrum` or a 1-D
    array of eigenvalues; ``ks`` a 1-D array of integers (default ``0, …, h`` for a block spectrum —
    the head and the first tail index — and ``0, …, d − 1`` for an array). On the flat tail
    ``r_k = R_k = d − k``. Computed from suffix sums in ``O(h + len(ks))``.
    """
    spec = _as_spectrum(spec)
    h, d = spec.head.shape[0], spec.dim
    if ks is None:
        ks = np.arange(min(h + 1, d))
    ks = np.asarray(ks)
    if ks.ndim != 1 or not np.issubdtype(ks.dtype, np.integer):
        raise ValueError(f"ks must be a 1-D array of integers, got {ks!r}")
    if ks.size and (ks.min() < 0 or ks.max() > d - 1):
        raise ValueError(f"ks must lie in [0, d − 1] = [0, {d - 1}]")
    head = np.asarray(spec.head)
    return _ranks(head, head.dtype.type(spec.tail_value), head.dtype.type(spec.tail_dim), ks)


def _b_constant(b) -> float:
    b = v.scalar(b, "b")
    if not b > 1:
        raise ValueError(f"b must be > 1 (the constant of Bartlett et al. 2020, Thm. 4), got {b}")
    return b


def critical_index(spec, n: int, *, b) -> int:
    """``k* = min{k ≥ 0 : r_k(Σ) ≥ b n}``, or ``d`` when no such ``k`` exists.

    ``b > 1`` is the constant of Bartlett et al. (2020, Thm. 4): the theorem asserts that *some*
    ``b > 1``, depending only on the sub-Gaussian norm of the whitened features, makes its bounds
    hold; it gives no numerical value, so ``b`` has no default (``b ≤ 1`` raises ``ValueError``).
    On the flat tail ``r_k = d − k`` decreases, so only ``k ≤ h`` (head and first tail index) need
    to be scanned.
    """
    spec = _as_spectrum(spec)
    n = v.integer(n, "n", minimum=1)
    b = _b_constant(b)
    r, _ = effective_ranks(spec)
    hit = np.nonzero(np.asarray(r) >= b * n)[0]
    return int(hit[0]) if hit.size else spec.dim


def bllt_terms(spec, n: int, *, b, signal=1.0, noise=1.0) -> BLLTTerms:
    """The bias and variance terms of the BLLT bounds for the min-norm interpolator.

    With ``k* =`` :func:`critical_index` (``b > 1``, required: the theorem's constant has no
    stated value), Bartlett et al. (2020, Thm. 4) show that, with high probability and up to
    constants depending only on the sub-Gaussian norm,

        variance ≍ σ² (k*/n + n/R_{k*}),       bias ≲ ‖θ*‖² ‖Σ‖ max(√(r_0/n), r_0/n)

    (the variance bound is two-sided). ``signal = ‖θ*‖``, ``noise = σ``.
    """
    spec = _as_spectrum(spec)
    n = v.integer(n, "n", minimum=1)
    signal = v.scalar(signal, "signal", nonnegative=True)
    noise = v.scalar(noise, "noise", nonnegative=True)
    k = critical_index(spec, n, b=b)
    r0, _ = effective_ranks(spec, np.array([0]))
    r0 = float(r0[0])
    norm = float(spec.head[0])
    bias = signal ** 2 * norm * max(math.sqrt(r0 / n), r0 / n)
    if k >= spec.dim:
        return BLLTTerms(k, r0, float("nan"), float("inf"), bias)
    _, R = effective_ranks(spec, np.array([k]))
    R = float(R[0])
    return BLLTTerms(k, r0, R, noise ** 2 * (k / n + n / R), bias)


# ------------------------------------------------------------------------------------------------
# sampling and exact conditional risk
# ------------------------------------------------------------------------------------------------

_CHI2_CHUNK = 4096


@jax.jit
def _chi2_chunk(key, df):
    return 2.0 * jax.random.gamma(key, df / 2.0, dtype=df.dtype)


def _chi2_draws(key, p, n, reps, dtype):
    """``(reps, n)`` draws of ``χ²_{p − i}`` (row ``i = 0, …, n − 1``) for the Bartlett diagonals.

    Drawn in fixed-size chunks of :data:`_CHI2_CHUNK` so that the (slow to compile) gamma sampler
    is compiled once per dtype, whatever ``n`` and ``reps``.
    """
    df = np.tile(np.maximum(float(p) - np.arange(n), 1.0), reps)
    chunks = -(-df.size // _CHI2_CHUNK)
    df = np.concatenate([df, np.ones(chunks * _CHI2_CHUNK - df.size)])
    out = [_chi2_chunk(jax.random.fold_in(key, j),
                       jnp.asarray(df[j * _CHI2_CHUNK:(j + 1) * _CHI2_CHUNK], dtype))
           for j in range(chunks)]
    return jnp.concatenate(out)[:reps * n].reshape(reps, n)


_NORMAL_CHUNK = 1 << 15
_BATCH_NUMBERS = 1 << 21            # standard normals held at once per batch of designs


@lru_cache(maxsize=None)
def _normal_sampler(dtype):
    """``key ↦`` :data:`_NORMAL_CHUNK` standard normals of ``dtype``; one object per dtype, so that
    :func:`lib.data.chunked_draws` compiles it once per dtype, whatever the design's shape."""
    return partial(jax.random.normal, shape=(_NORMAL_CHUNK,), dtype=np.dtype(dtype))


def _design_size(n, h, has_tail):
    """Standard normals per design: ``n h`` head entries, ``n²`` for the Bartlett factor (its
    upper triangle unused) and ``n`` for the explicit tail column."""
    return n * h + (n * n + n if has_tail else 0)


def _sample(z, chi2, head, n, has_tail):
    """Head columns ``H`` and the tail factor ``F = [w_1 | L]`` from the flat standard normals
    ``z`` (length :func:`_design_size`): ``w_1 ~ N(0, I_n)`` is the first tail column (where a tail
    signal sits) and ``L`` the Bartlett factor of the other ``p − 1`` columns (``L_ii =
    √χ²_{p−1−i}``, ``L_ij ~ N(0,1)`` for ``i > j``, so ``L Lᵀ ~ Wishart_n(p − 1, I)`` and
    ``F Fᵀ ~ Wishart_n(p, I)``); ``F = 0`` without a tail."""
    h = head.shape[0]
    H = z[:n * h].reshape(n, h) * jnp.sqrt(head)
    if has_tail:
        L = jnp.tril(z[n * h:n * h + n * n].reshape(n, n), -1) + jnp.diag(jnp.sqrt(chi2))
        F = jnp.concatenate([z[n * h + n * n:, None], L], axis=1)
    else:
        F = jnp.zeros((n, 1), head.dtype)
    return H, F


_sample_jit = jax.jit(_sample, static_argnames=("n", "has_tail"))


def _design_batches(key, spec, n, reps):
    """The random numbers of ``reps`` designs, in consecutive batches ``(z, chi2)`` of ``b``
    designs (``b`` the largest divisor of ``reps`` with ``b`` designs' normals, as drawn in
    whole chunks of :data:`_NORMAL_CHUNK`, within :data:`_BATCH_NUMBERS`, so that memory stays
    bounded and every batch has one shape):
    ``z`` is ``(b, size)``, design ``r`` drawn from ``fold_in(k_z, r)``; ``chi2`` is ``(b, n)``, the
    Bartlett diagonals. Design ``r`` does not depend on ``b`` or ``reps``."""
    dtype = spec.head.dtype
    size = _design_size(n, spec.head.shape[0], spec.tail_dim > 0)
    drawn = -(-size // _NORMAL_CHUNK) * _NORMAL_CHUNK
    b = max(d for d in range(1, reps + 1) if reps % d == 0 and (d == 1 or d * drawn <= _BATCH_NUMBERS))
    kc, kz = jax.random.split(key)
    chi2 = _chi2_draws(kc, spec.tail_dim - 1, n, reps, dtype)
    for start in range(0, reps, b):
        z = _design_normals(kz, start, b, drawn // _NORMAL_CHUNK, np.dtype(dtype))[:, :size]
        yield z, chi2[start:start + b]


@partial(jax.jit, static_argnames=("b", "chunks", "dtype"))
def _design_normals(kz, start, b, chunks, dtype):
    """``(b, chunks · _NORMAL_CHUNK)``: row ``i`` the :func:`lib.data.chunked_draws` stream of
    design ``start + i``, drawn from ``fold_in(kz, start + i)``, all ``b`` designs in one
    vectorized draw. Whole chunks, so that one compilation serves every design size with the
    same number of chunks (and the same ``b``)."""
    def one(r):
        return data.chunked_draws(jax.random.fold_in(kz, r), _normal_sampler(dtype),
                                  chunks * _NORMAL_CHUNK, _NORMAL_CHUNK)
    return jax.vmap(one)(start + jnp.arange(b))


def _check_tail(spec, n):
    if 0 < spec.tail_dim <= n:
        raise ValueError(f"spec.tail_dim must be 0 or > n = {n} for the Bartlett sampler, "
                         f"got {spec.tail_dim}")


def sample_design(key, spec: BlockSpectrum, n: int):
    """One design of ``n`` rows from ``N(0, diag(eigenvalues(spec)))`` in block form ``(H, F)``.

    ``H`` (``n × h``) are the head columns, ``H_ij = √head_j · g_ij``; ``F`` is a factor of the
    *standardized* tail Gram matrix, ``F Fᵀ = W Wᵀ`` with ``W`` the ``n × p`` standard Gaussian tail
    block, so that ``XXᵀ = HHᵀ + ε FFᵀ``. ``F = [w_1 | L]`` is ``n × (n + 1)``: the first tail column
    itself and the Bartlett factor of the other ``p − 1`` (this requires ``tail_dim > n``;
    ``F = 0`` of shape ``(n, 1)`` when there is no tail).
    """
    key = v.key(key)
    spec = _as_spectrum(spec)
    n = v.integer(n, "n", minimum=1)
    _check_tail(spec, n)
    z, chi2 = next(_design_batches(key, spec, n, 1))
    return _sample_jit(z[0], chi2[0], spec.head, n, spec.tail_dim > 0)


@jax.jit
def _block_bv(H, F, head, eps, theta, t, sigma):
    A = H @ H.T + eps * (F @ F.T)
    cf = jax.scipy.linalg.cho_factor(A, lower=True)
    AiF = jax.scipy.linalg.cho_solve(cf, F)
    if H.shape[1] > H.shape[0]:       # long head: σ² tr(A⁻² K₂), K₂ = HΛHᵀ + ε²FFᵀ, O(n²h + n³)
        Ai = jax.scipy.linalg.cho_solve(cf, jnp.eye(A.shape[0], dtype=A.dtype))
        K2 = (H * head) @ H.T + eps ** 2 * (F @ F.T)
        variance = sigma ** 2 * jnp.sum((Ai @ Ai) * K2)
        c = jax.scipy.linalg.cho_solve(cf, H @ theta) + jnp.sqrt(eps) * t * AiF[:, 0]
    else:                             # short head: Σ_j head_j ‖A⁻¹H_{:j}‖² + ε²‖A⁻¹F‖²
        AiH = jax.scipy.linalg.cho_solve(cf, H)                # A⁻¹ H
        variance = sigma ** 2 * (jnp.sum(AiH ** 2 * head) + eps ** 2 * jnp.sum(AiF ** 2))
        c = AiH @ theta + jnp.sqrt(eps) * t * AiF[:, 0]        # A⁻¹ X θ*
    e_tail = jnp.sqrt(eps) * (F.T @ c) - t * (jnp.arange(F.shape[1]) == 0)
    bias = jnp.sum(head * (H.T @ c - theta) ** 2) + eps * jnp.sum(e_tail ** 2)
    return bias, variance


def _theta_noise(spec, theta, noise, tail_signal=0.0):
    theta = v.float_array(theta, "theta", ndim=1)
    if theta.shape[0] != spec.head.shape[0]:
        raise ValueError(f"theta must have the head's length h = {spec.head.shape[0]}, "
                         f"got {theta.shape[0]}")
    tail_signal = v.scalar(tail_signal, "tail_signal", nonnegative=True)
    if tail_signal > 0 and spec.tail_dim == 0:
        raise ValueError("tail_signal must be 0 for a spectrum without a flat tail")
    return theta, v.scalar(noise, "noise", nonnegative=True), tail_signal


def block_bias_variance(H, F, spec, theta, *, noise, tail_signal=0.0):
    """Exact ``(bias, variance)`` of ``θ̂ = X⁺y`` given the block design ``(H, F)``.

    ``XXᵀ = A = HHᵀ + ε FFᵀ`` (``ε = spec.tail_value``) must be invertible (``n ≤ d``, generic).
    The signal is ``theta`` on the head (length ``h``) plus ``t = tail_signal`` on the tail
    coordinate whose column is ``F[:, 0]``; ``σ = noise``. With ``c = A⁻¹(Hθ* + √ε t F_{:0})``:

        bias     = Σ_j head_j ((Hᵀc)_j − θ*_j)² + ε ‖√ε Fᵀc − t e_1‖²,
        variance = σ² (Σ_j head_j ‖A⁻¹H_{:j}‖² + ε² ‖A⁻¹F‖_F²)  = σ² tr(X⁺ᵀΣX⁺).

    (The tail part of ``θ̂`` is ``√ε Wᵀ A⁻¹ y``, and ``‖Wᵀu‖ = ‖Fᵀu‖`` coordinate-wise for the first
    column.) ``F`` may be the factor from :func:`sample_design` or the explicit ``n × p`` tail block
    ``W`` itself. Cholesky solves, ``O(n³ + n² (h + m))``.
    """
    spec = _as_spectrum(spec)
    H = v.float_array(H, "H", ndim=2)
    F = v.float_array(F, "F", ndim=2)
    if H.shape[1] != spec.head.shape[0]:
        raise ValueError(f"H must have h = {spec.head.shape[0]} columns, got shape {H.shape}")
    v.same_dim(H, F, "H", "F", axis=0)
    theta, sigma, t = _theta_noise(spec, theta, noise, tail_signal)
    dtype = jnp.result_type(H.dtype, F.dtype, theta.dtype, spec.head.dtype)
    return _block_bv(H.astype(dtype), F.astype(dtype), spec.head.astype(dtype),
                     jnp.asarray(spec.tail_value, dtype), theta.astype(dtype),
                     jnp.asarray(t, dtype), jnp.asarray(sigma, dtype))


@jax.jit
def _explicit_bv(pinv, fit, eigs, theta, sigma):
    err = fit - theta
    return jnp.sum(eigs * err ** 2), sigma ** 2 * jnp.sum(eigs[:, None] * pinv ** 2)


def min_norm_bias_variance(X, eigs, theta, *, noise):
    """Exact ``(bias, variance)`` of the min-norm estimator ``θ̂ = X⁺y`` given an explicit design.

    ``X`` is ``(n, d)``, ``Σ = diag(eigs)``, ``y = Xθ* + ε``, ``ε ~ N(0, σ² I)``, ``σ = noise``:

        bias     = (X⁺Xθ* − θ*)ᵀ Σ (X⁺Xθ* − θ*),
        variance = σ² tr(X⁺ᵀ Σ X⁺) = σ² Σ_ij λ_i (X⁺)_ij²,

    with ``X⁺`` from :func:`lib.ridgeless.min_norm_interpolator` (SVD, any rank, any ``n ≶ d``),
    so ``bias + variance = E_ε[(θ̂ − θ*)ᵀΣ(θ̂ − θ*)]``. Cost ``O(n² d)``.
    """
    X = v.float_array(X, "X", ndim=2)
    eigs = v.float_array(eigs, "eigs", ndim=1)
    theta = v.float_array(theta, "theta", ndim=1)
    v.same_dim(X, eigs, "X", "eigs", axis=-1)
    v.same_dim(X, theta, "X", "theta", axis=-1)
    v.nonnegative(eigs, "eigs")
    sigma = v.scalar(noise, "noise", nonnegative=True)
    dtype = jnp.result_type(X.dtype, eigs.dtype, theta.dtype)
    X, eigs, theta = X.astype(dtype), eigs.astype(dtype), theta.astype(dtype)
    n = X.shape[0]
    # one SVD: the columns are X⁺Xθ* (noiseless fit) and X⁺ = X⁺ I_n
    sol = ridgeless.min_norm_interpolator(X, jnp.column_stack([X @ theta,
                                                               jnp.eye(n, dtype=dtype)]))
    return _explicit_bv(sol[:, 1:], sol[:, 0], eigs, theta, jnp.asarray(sigma, dtype))


@partial(jax.jit, static_argnames=("n", "has_tail"))
def _risk_batch(z, chi2, head, eps, theta, t, sigma, n, has_tail):
    def one(args):
        H, F = _sample(*args, head, n, has_tail)
        return _block_bv(H, F, head, eps, theta, t, sigma)
    return jax.lax.map(one, (z, chi2))


def _check_draw_args(key, spec, n, reps):
    """Validated ``(key, spec, n, reps)`` of the per-design samplers: ``n, reps >= 1`` and
    ``d > n`` (interpolation)."""
    key = v.key(key)
    spec = _as_spectrum(spec)
    n = v.integer(n, "n", minimum=1)
    reps = v.integer(reps, "reps", minimum=1)
    _check_tail(spec, n)
    if spec.dim <= n:
        raise ValueError(f"the dimension d = {spec.dim} must be > n = {n} (interpolation)")
    return key, spec, n, reps


def risk_draws(key, spec, n: int, *, theta, noise, reps: int, tail_signal=0.0):
    """``reps`` independent designs of size ``n``; for each the exact conditional ``(bias,
    variance)`` of the min-norm interpolator (:func:`block_bias_variance` on
    :func:`sample_design`). The signal is ``theta`` on the head plus a tail part of Euclidean norm
    ``tail_signal`` (its direction inside the isotropic tail does not change the distribution).
    Returns two arrays of shape ``(reps,)``; their sum averages to the expected excess risk
    ``E R(X⁺y)``. Cost ``reps · O(n³ + n² h)``, independent of ``tail_dim``.
    """
    key, spec, n, reps = _check_draw_args(key, spec, n, reps)
    theta, sigma, t = _theta_noise(spec, theta, noise, tail_signal)
    dtype = spec.head.dtype
    args = (spec.head, jnp.asarray(spec.tail_value, dtype), theta.astype(dtype),
            jnp.asarray(t, dtype), jnp.asarray(sigma, dtype))
    out = [_risk_batch(z, c, *args, n, spec.tail_dim > 0)
           for z, c in _design_batches(key, spec, n, reps)]
    return tuple(jnp.concatenate(parts) for parts in zip(*out))


@jax.jit
def _reduced_bias(c_gram, c_tail, normals, head, eps, theta):
    h = head.shape[0]
    low = jnp.tril(jnp.ones((h, h), dtype=bool), -1)

    def bartlett(chi2, z):                  # lower-triangular L, L Lᵀ ~ Wishart_h(dof, I)
        return jnp.where(low, z, 0.0) + jnp.diag(jnp.sqrt(chi2))

    def one(cg, ct, z):
        R = bartlett(cg, z[0]).T                        # Rᵀ R = Gᵀ G ~ Wishart_h(n, I)
        Ld = bartlett(ct, z[1])                         # D = Ld Ldᵀ ~ Wishart_h(p − n + h, I)
        Y = jax.scipy.linalg.solve_triangular(Ld, R * jnp.sqrt(head), lower=True)
        M = (Y.T @ Y) / eps                             # Λ^{1/2} Rᵀ D⁻¹ R Λ^{1/2} / ε
        u = jnp.linalg.solve(jnp.eye(h, dtype=M.dtype) + M, theta)
        return u @ (head * u) + eps * (u @ (M @ u))
    return jax.vmap(one)(c_gram, c_tail, normals)


def reduced_bias_draws(key, spec, n: int, *, theta, draws: int):
    """``draws`` independent copies of the conditional bias of ``θ̂ = X⁺Xθ*`` for a head signal,
    sampled *exactly* through an ``h × h`` reduction (no ``n × n`` matrices).

    With ``A = HHᵀ + T``, ``T = ε WWᵀ`` (flat tail, ``W`` standard ``n × p``) and
    ``M = HᵀT⁻¹H``, the Woodbury identity ``A⁻¹H = T⁻¹H(I + M)⁻¹`` turns the bias of
    :func:`block_bias_variance` (``t = 0``) into

        bias = θ*ᵀ (I + M)⁻¹ (Λ + ε M) (I + M)⁻¹ θ*,      Λ = diag(head).

    Writing ``H = G Λ^{1/2}`` and ``G = QR`` (``Q`` Haar on the Stiefel manifold, independent of
    ``RᵀR = GᵀG ~ Wishart_h(n, I)``), rotation invariance of ``S = WWᵀ ~ Wishart_n(p, I)`` gives
    ``QᵀS⁻¹Q ~ D⁻¹`` with ``D ~ Wishart_h(p − n + h, I)`` (inverse of a Schur complement), so

        M  =ᵈ  ε⁻¹ Λ^{1/2} Rᵀ D⁻¹ R Λ^{1/2},

    ``R`` and ``D`` independent Bartlett factors. The mean of the returned array is the exact
    finite-``n`` design average ``E bias`` (``n`` rows, ``d = h + p`` columns), up to Monte
    Carlo error over ``h × h`` draws; cost ``O(draws · h³)``. Needs a flat tail with
    ``tail_dim > n`` and a head no longer than the sample, ``h <= n`` (the QR factor of the
    ``n × h`` head columns must have orthonormal columns).
    """
    draws = v.integer(draws, "draws", minimum=1)
    key, spec, n, draws = _check_draw_args(key, spec, n, draws)
    if spec.tail_dim == 0:
        raise ValueError("spec must have a flat tail (tail_dim > n) for the reduction")
    theta, _, _ = _theta_noise(spec, theta, 0.0)
    dtype = spec.head.dtype
    h = spec.head.shape[0]
    if h > n:
        raise ValueError(f"the head must have at most n eigenvalues for the reduction, got h={h} > n={n}")
    kg, kt, kz = jax.random.split(key, 3)
    c_gram = _chi2_draws(kg, n, h, draws, dtype)                       # χ²_{n − i}
    c_tail = _chi2_draws(kt, spec.tail_dim - n + h, h, draws, dtype)   # χ²_{p − n + h − i}
    normals = jax.random.normal(kz, (draws, 2, h, h), dtype=dtype)
    return _reduced_bias(c_gram, c_tail, normals, spec.head, jnp.asarray(spec.tail_value, dtype),
                         theta.astype(dtype))


# ------------------------------------------------------------------------------------------------
# classification with the min-norm interpolator of ±1 labels
# ------------------------------------------------------------------------------------------------

class ClassificationDraws(NamedTuple):
    """Per-design results of :func:`classification_draws` (arrays of shape ``(reps,)``).

    ``error``: 0-1 test error ``P_x(sign(xᵀθ̂) ≠ sign(xᵀθ*))``; ``survival``: ``SU``;
    ``contamination``: ``CN``; ``all_support``: whether every training point is a support vector
    (then ``θ̂`` is the hard-margin SVM solution); ``regression_risk``: the excess risk
    ``(θ̃ − θ*)ᵀΣ(θ̃ − θ*)`` of ``θ̃ = X⁺Xθ*``, the min-norm interpolator of the real-valued
    noiseless labels ``xᵀθ*`` on the same design.
    """
    error: jax.Array
    survival: jax.Array
    contamination: jax.Array
    all_support: jax.Array
    regression_risk: jax.Array


@partial(jax.jit, static_argnames=("n", "has_tail"))
def _classification_batch(z, chi2, head, eps, theta, n, has_tail):
    s_theta = jnp.sqrt(head) * theta
    norm = jnp.linalg.norm(s_theta)
    u = s_theta / norm                                         # unit vector Σ^{1/2}θ*/‖·‖

    def one(args):
        H, F = _sample(*args, head, n, has_tail)
        y = jnp.sign(H @ theta)
        A = H @ H.T + eps * (F @ F.T)
        sol = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(A, lower=True),
                                         jnp.stack([y, H @ theta], axis=1))
        alpha, c = sol[:, 0], sol[:, 1]                        # A⁻¹y and A⁻¹Xθ*
        g = jnp.sqrt(head) * (H.T @ alpha)                     # head part of Σ^{1/2}θ̂
        a = g @ u
        cn = jnp.sqrt(jnp.sum((g - a * u) ** 2) + eps ** 2 * jnp.sum((F.T @ alpha) ** 2))
        reg = jnp.sum(head * (H.T @ c - theta) ** 2) + eps ** 2 * jnp.sum((F.T @ c) ** 2)
        return (jnp.arctan2(cn, a) / jnp.pi, a / norm, cn, jnp.all(y * alpha > 0), reg)
    return jax.lax.map(one, (z, chi2))


def classification_draws(key, spec, n: int, *, theta, reps: int) -> ClassificationDraws:
    """Min-norm interpolation of noiseless binary labels, exact test error for ``reps`` designs.

    Labels ``y_i = sign(x_iᵀθ*)`` with ``θ* = theta`` on the head of ``spec``; ``θ̂ = X⁺y =
    Xᵀα``, ``α = (XXᵀ)⁻¹y``, so ``y_i x_iᵀθ̂ = 1`` for every ``i``. Write
    ``Σ^{1/2}θ̂ = SU·Σ^{1/2}θ* + w`` with ``w ⟂ Σ^{1/2}θ*``; the *survival* is ``SU`` and the
    *contamination* ``CN = ‖w‖`` (Muthukumar et al. 2021; for ``θ* = e_t``,
    ``SU = θ̂_t`` and ``CN² = Σ_{j≠t} λ_j θ̂_j²``). For a Gaussian test point ``xᵀθ*`` and
    ``xᵀθ̂`` are jointly Gaussian, so the exact test error given the design is

        error = (1/π) · arctan2(CN, SU ‖Σ^{1/2}θ*‖) = (1/π) arccos(ρ(xᵀθ̂, xᵀθ*)).

    ``all_support`` is ``all_i y_i α_i > 0``: the KKT conditions of the hard-margin SVM
    ``min ‖θ‖ s.t. y_i x_iᵀθ ≥ 1`` then hold with multipliers ``y_i α_i``, i.e. ``θ̂`` *is* the
    SVM solution. ``regression_risk`` is the same design's noiseless regression risk (the bias of
    :func:`block_bias_variance`). Designs from :func:`sample_design` (the tail through its Gram
    factor); cost
    ``reps · O(n³ + n² h)``, independent of ``tail_dim``.
    """
    key, spec, n, reps = _check_draw_args(key, spec, n, reps)
    theta, _, _ = _theta_noise(spec, theta, 0.0)
    if not float(jnp.linalg.norm(theta)) > 0:
        raise ValueError("theta must be nonzero (it defines the labels sign(xᵀθ*))")
    dtype = spec.head.dtype
    args = (spec.head, jnp.asarray(spec.tail_value, dtype), theta.astype(dtype))
    out = [_classification_batch(z, c, *args, n, spec.tail_dim > 0)
           for z, c in _design_batches(key, spec, n, reps)]
    return ClassificationDraws(*(jnp.concatenate(parts) for parts in zip(*out)))


# ------------------------------------------------------------------------------------------------
# deterministic equivalent of the ridgeless risk
# ------------------------------------------------------------------------------------------------

class RidgelessEquivalent(NamedTuple):
    """Deterministic equivalent of the min-norm interpolator's risk at sample size ``n``.

    ``kappa``: implicit ridge, ``Σ_i λ_i/(λ_i + κ) = n``; ``df2``: ``Σ_i λ_i²/(λ_i + κ)²``;
    ``bias``, ``variance``: the predicted design-averaged bias and variance.
    """
    kappa: float
    df2: float
    bias: float
    variance: float


def ridgeless_equivalent(spec, n: int, *, theta, noise, tail_signal=0.0) -> RidgelessEquivalent:
    """Self-consistent prediction of ``E bias`` and ``E variance`` of ``θ̂ = X⁺y`` (``n < d``).

    ``κ > 0`` is the root of ``df₁(κ) = Σ_i λ_i/(λ_i + κ) = n`` (decreasing from ``d`` to ``0``,
    found by bisection in ``log κ``), ``df₂ = Σ_i λ_i²/(λ_i + κ)²``, and

        bias     = n/(n − df₂) · κ² (Σ_{j≤h} head_j θ*_j²/(head_j + κ)² + ε t²/(ε + κ)²),
        variance = σ² df₂/(n − df₂),

    with ``θ*`` = ``theta`` on the head and a tail part of norm ``t = tail_signal`` (Hastie,
    Montanari, Rosset & Tibshirani 2022 in the proportional limit; Cheng & Montanari 2024 give
    non-asymptotic error bounds). For ``Σ = I_d``, ``d = γn``: ``κ = γ − 1``, variance
    ``σ²/(γ − 1)``, bias ``‖θ*‖²(1 − 1/γ)``.
    """
    spec = _as_spectrum(spec)
    n = v.integer(n, "n", minimum=1)
    if spec.dim <= n:
        raise ValueError(f"the dimension d = {spec.dim} must be > n = {n} (interpolation)")
    theta, sigma, t = _theta_noise(spec, theta, noise, tail_signal)
    lam = np.asarray(spec.head, dtype=np.float64)
    eps, p = float(spec.tail_value), int(spec.tail_dim)
    th2 = np.asarray(theta, dtype=np.float64) ** 2

    def df1(k):
        return np.sum(lam / (lam + k)) + (p * eps / (eps + k) if p else 0.0)

    lo, hi = 1e-300, float(np.sum(lam) + p * eps)          # df1(hi) ≤ 1 ≤ n ... < d = df1(0⁺)
    lo = max(lo, hi * 1e-30)
    while df1(lo) <= n:                                     # make sure the root is bracketed
        lo *= 1e-10
    for _ in range(200):                                    # bisection in log κ
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if df1(mid) > n else (lo, mid)
    k = math.sqrt(lo * hi)
    df2 = float(np.sum(lam ** 2 / (lam + k) ** 2) + (p * eps ** 2 / (eps + k) ** 2 if p else 0.0))
    amp = n / (n - df2)
    bias_core = float(np.sum(lam * th2 / (lam + k) ** 2) + (eps * t ** 2 / (eps + k) ** 2 if p
                                                           else 0.0))
    return RidgelessEquivalent(k, df2, amp * k ** 2 * bias_core, sigma ** 2 * df2 / (n - df2))
