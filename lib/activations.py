"""Activation functions, their derivatives, and their Gaussian expectations (dual kernels).

Activations
-----------
``activation_fn(name)`` and ``derivative_fn(name)`` return the elementwise ``σ`` and ``σ'`` of
``relu``, ``erf``, ``tanh``, ``sigmoid`` and ``identity`` (``relu'(0) = 0``, as ``jax.grad``
takes it). Every module of ``lib`` takes activations by these names.

Gaussian expectations
---------------------
For a centred Gaussian pair ``(u, v) ~ N(0, [[q1, c], [c, q2]])`` (two pre-activations of one
unit at inputs ``x``, ``x'``) the expectations behind every infinite-width kernel have closed forms:

* ReLU, the arc-cosine kernels of Cho & Saul (2009), with ``cos θ = c/√(q1 q2)``:
  ``E[relu(u)ⁿ relu(v)ⁿ] = (q1 q2)^{n/2} J_n(θ)/(2π)`` (``relu⁰`` = the step function), where
  ``J_0 = π − θ``, ``J_1 = sin θ + (π − θ) cos θ``, ``J_2 = 3 sin θ cos θ + (π − θ)(1 + 2 cos² θ)``;
  so ``E[σσ]`` is order 1 and ``E[σ'σ']`` is order 0 (:func:`relu_expectation`).
* erf (Williams, 1997): ``E[erf(u) erf(v)] = (2/π) arcsin(2c/√((1 + 2q1)(1 + 2q2)))`` and
  ``E[erf'(u) erf'(v)] = (4/π)/√((1 + 2q1)(1 + 2q2) − 4c²)``.

:func:`gaussian_expectations` returns the pair ``(E[σ(u)σ(v)], E[σ'(u)σ'(v)])`` for both; it is
the one implementation used by :mod:`lib.ntk` (the NNGP/NTK recursion) and :mod:`lib.kernels`
(arc-cosine kernels).

Numerics near cos θ = ±1
------------------------
``arccos`` has infinite slope at ``±1``: a rounding error ``ε`` of the cosine becomes an angle
error ``√(2ε)``. Cosines within ``64 ε`` of ``±1`` (angles below about ``11√ε``: 4e-3 rad in
float32, 2e-7 in float64) are therefore snapped to ``±1``, which makes the diagonal ``x' = x`` and
antipodal pairs exact to ``O(ε)``; ``π − θ`` is computed as ``arccos(−cos θ)`` (no cancellation
near ``θ = π``) and ``sin θ`` as ``√((1 − cos θ)(1 + cos θ))``. A zero variance (``q = 0``: the
unit is identically 0) is taken as ``cos θ = 0``, so nothing divides by zero. In float32,
``arccos``/``arcsin`` are Cephes' polynomial algorithms (≤ 3 ulp, several times faster than XLA's
on CPU); in float64 they are ``jnp.arccos``/``jnp.arcsin``.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate as v

__all__ = ["ACTIVATIONS", "KERNEL_ACTIVATIONS", "ARCCOS_ORDERS", "activation_fn", "derivative_fn",
           "relu_expectation", "gaussian_expectations"]


def _erf_derivative(z):
    return (2.0 / np.sqrt(np.pi)) * jnp.exp(-z * z)


def _tanh_derivative(z):
    return 1.0 - jnp.tanh(z) ** 2


def _sigmoid_derivative(z):
    s = jax.nn.sigmoid(z)
    return s * (1.0 - s)


# name: (σ, σ')
_FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (jax.nn.relu, lambda z: (z > 0).astype(z.dtype)),
    "erf": (jax.scipy.special.erf, _erf_derivative),
    "tanh": (jnp.tanh, _tanh_derivative),
    "sigmoid": (jax.nn.sigmoid, _sigmoid_derivative),
    "identity": (lambda z: z, jnp.ones_like),
}
ACTIVATIONS: dict[str, Callable] = {name: pair[0] for name, pair in _FUNCTIONS.items()}
KERNEL_ACTIVATIONS = ("relu", "erf")     # closed-form Gaussian expectations
ARCCOS_ORDERS = (0, 1, 2)


def activation_fn(name: str) -> Callable:
    """The elementwise activation ``σ`` called ``name`` (one of ``ACTIVATIONS``)."""
    return _FUNCTIONS[v.choice(name, "activation", ACTIVATIONS)][0]


def derivative_fn(name: str) -> Callable:
    """The elementwise derivative ``σ'`` of the activation ``name`` (``relu'(0) = 0``)."""
    return _FUNCTIONS[v.choice(name, "activation", ACTIVATIONS)][1]


# ------------------------------------------------------------------------------------------------
# arccos / arcsin: exact near ±1, fast in float32
# ------------------------------------------------------------------------------------------------

# Cephes' asinf minimax polynomial: asin(s) = s + s·z·P(z), z = s², for 0 ≤ s ≤ 1/2.
_ASIN_COEFFS = (4.2163199048e-2, 2.4181311049e-2, 4.5470025998e-2, 7.4953002686e-2,
                1.6666752422e-1)


def _asin_core(x):
    """For |x| ≤ 1/2: asin|x|. For |x| > 1/2: asin √((1 − |x|)/2) (half the angle of arccos|x|).
    Also returns the mask |x| > 1/2."""
    a = jnp.abs(x)
    big = a > 0.5
    s = jnp.where(big, jnp.sqrt(0.5 * (1.0 - a)), a)
    z = s * s
    p = jnp.asarray(_ASIN_COEFFS[0], x.dtype)
    for coeff in _ASIN_COEFFS[1:]:
        p = p * z + coeff
    return s + s * z * p, big


def _fast(x) -> bool:
    return jnp.finfo(x.dtype).bits < 64


def _arcsin(x):
    """``arcsin`` on [-1, 1]: ``jnp.arcsin`` in float64; in float32 Cephes' ``asinf`` algorithm
    (≤ 3 ulp, like XLA's own), which is about 8× faster than XLA's CPU ``arcsin``."""
    if not _fast(x):
        return jnp.arcsin(x)
    r, big = _asin_core(x)
    return jnp.sign(x) * jnp.where(big, 0.5 * jnp.pi - 2.0 * r, r)


def _arccos(x):
    """``arccos`` on [-1, 1]: ``jnp.arccos`` in float64; in float32 Cephes' ``acosf`` algorithm
    (≤ 2 ulp; ``arccos x = 2 asin √((1 − x)/2)`` near ±1, ``π/2 − asin x`` elsewhere), about 7×
    faster than XLA's CPU ``arccos``, which otherwise dominates the ReLU kernel's run time."""
    if not _fast(x):
        return jnp.arccos(x)
    r, big = _asin_core(x)
    return jnp.where(big, jnp.where(x > 0, 2.0 * r, jnp.pi - 2.0 * r),
                     0.5 * jnp.pi - jnp.sign(x) * r)


# ------------------------------------------------------------------------------------------------
# Gaussian expectations
# ------------------------------------------------------------------------------------------------

def _inputs(q1, q2, c):
    q1, q2, c = (v.float_array(a, name) for a, name in ((q1, "q1"), (q2, "q2"), (c, "c")))
    dtype = jnp.promote_types(jnp.result_type(q1, q2, c), jnp.float32)
    return q1.astype(dtype), q2.astype(dtype), c.astype(dtype)


def _relu_angle(q1, q2, c):
    """``(√q1 √q2, cos θ, sin θ, π − θ)`` with the care described in the module docstring."""
    r1 = jnp.where(q1 > 0, jax.lax.rsqrt(jnp.where(q1 > 0, q1, 1.0)), 0.0)
    r2 = jnp.where(q2 > 0, jax.lax.rsqrt(jnp.where(q2 > 0, q2, 1.0)), 0.0)
    cos = jnp.clip(c * r1 * r2, -1.0, 1.0)
    tol = 64 * jnp.finfo(cos.dtype).eps
    cos = jnp.where(cos > 1.0 - tol, 1.0, jnp.where(cos < tol - 1.0, -1.0, cos))
    sin = jnp.sqrt((1.0 - cos) * (1.0 + cos))
    return jnp.sqrt(q1) * jnp.sqrt(q2), cos, sin, _arccos(-cos)


def _arccos_j(order, cos, sin, pi_minus):
    """Cho–Saul's ``J_n(θ)`` from ``cos θ``, ``sin θ`` and ``π − θ``."""
    if order == 0:
        return pi_minus
    if order == 1:
        return sin + pi_minus * cos
    return 3.0 * sin * cos + pi_minus * (1.0 + 2.0 * cos * cos)


def relu_expectation(q1, q2, c, *, order: int = 1) -> jax.Array:
    """``E[relu(u)ⁿ relu(v)ⁿ] = (q1 q2)^{n/2} J_n(θ)/(2π)``, ``(u, v) ~ N(0, [[q1, c], [c, q2]])``.

    ``cos θ = c/√(q1 q2)``; ``order`` ``n`` is 0 (step functions: ``J_0 = π − θ``), 1 or 2 (see the
    module docstring for ``J_n`` and the numerics near ``cos θ = ±1``). ``q1``, ``q2`` (``≥ 0``)
    and ``c`` (``c² ≤ q1 q2``; the cosine is clipped to ``[-1, 1]``) broadcast against each other.
    Traceable (call it inside ``jax.jit``).
    """
    order = v.choice(order, "order", ARCCOS_ORDERS)
    norm, cos, sin, pi_minus = _relu_angle(*_inputs(q1, q2, c))
    scale = norm ** order if order else 1.0
    return scale * _arccos_j(order, cos, sin, pi_minus) * (0.5 / jnp.pi)


def gaussian_expectations(q1, q2, c, *,
                          activation: str = "relu") -> tuple[jax.Array, jax.Array]:
    """``(E[σ(u)σ(v)], E[σ'(u)σ'(v)])`` for ``(u, v) ~ N(0, [[q1, c], [c, q2]])``, σ relu or erf.

    ReLU: ``(√(q1 q2) J_1(θ)/(2π), J_0(θ)/(2π))`` (:func:`relu_expectation`, orders 1 and 0).
    erf: ``((2/π) arcsin(2c/√((1 + 2q1)(1 + 2q2))), (4/π)/√((1 + 2q1)(1 + 2q2) − 4c²))``, where
    the determinant is evaluated as ``1 + 2q1 + 2q2 + 4 max(q1 q2 − c², 0) ≥ 1`` (no cancellation
    for large variances). ``q1``, ``q2`` (``≥ 0``) and ``c`` broadcast against each other;
    ``activation`` is one of ``KERNEL_ACTIVATIONS``. Traceable (call it inside ``jax.jit``).
    """
    activation = v.choice(activation, "activation", KERNEL_ACTIVATIONS)
    q1, q2, c = _inputs(q1, q2, c)
    if activation == "relu":
        norm, cos, sin, pi_minus = _relu_angle(q1, q2, c)
        return (norm * _arccos_j(1, cos, sin, pi_minus) * (0.5 / jnp.pi),
                pi_minus * (0.5 / jnp.pi))
    a1, a2 = 1.0 + 2.0 * q1, 1.0 + 2.0 * q2
    ratio = jnp.clip(2.0 * c * jax.lax.rsqrt(a1 * a2), -1.0, 1.0)
    det = a1 + a2 - 1.0 + 4.0 * jnp.maximum(q1 * q2 - c * c, 0.0)
    return (2.0 / jnp.pi) * _arcsin(ratio), (4.0 / jnp.pi) * jax.lax.rsqrt(det)
