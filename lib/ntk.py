"""Neural tangent kernels: the analytic infinite-width limit and the empirical kernel.

Analytic kernels
----------------
``infinite_width(x1, x2, depth=L)`` returns the NNGP kernel Σ and the NTK Θ of the fully
connected network ``(Dense → σ) × L → Dense(1)`` in NTK parameterization, with the conventions of
``neural_tangents.stax`` (and of ``lib.nets`` with ``parameterization="ntk"``): a Dense layer maps
``h = w_std/√n_in · W x + b_std · b`` with ``W``, ``b`` standard Gaussian. The kernels follow the
recursion

    Σ¹(x, x') = w_std² xᵀx'/d + b_std²,                       Θ¹ = Σ¹,
    Σ^{l+1}   = w_std² E[σ(u)σ(v)] + b_std²,
    Θ^{l+1}   = Σ^{l+1} + w_std² E[σ'(u)σ'(v)] Θ^l,
    (u, v) ~ N(0, [[Σ^l(x, x), Σ^l(x, x')], [Σ^l(x, x'), Σ^l(x', x')]]),

for l = 1..L, and ``nngp = Σ^{L+1}``, ``ntk = Θ^{L+1}`` (the readout layer included). The two
Gaussian expectations are closed forms. With ``q = Σ(x, x)``, ``q' = Σ(x', x')``, ``c = Σ(x, x')``:

* ReLU (arc-cosine kernels of Cho & Saul, 2009), ``cos θ = c/√(q q')``:
  ``E[σ(u)σ(v)] = √(q q')/(2π) · (sin θ + (π − θ) cos θ)``, ``E[σ'(u)σ'(v)] = (π − θ)/(2π)``.
* erf (Williams, 1997):
  ``E[σ(u)σ(v)] = (2/π) arcsin(2c/√((1 + 2q)(1 + 2q')))``,
  ``E[σ'(u)σ'(v)] = (4/π) / √((1 + 2q)(1 + 2q') − 4c²)``.

Both are computed by :func:`lib.activations.gaussian_expectations`, the one implementation shared
with the arc-cosine kernels of :mod:`lib.kernels`.

Empirical kernels
-----------------
``empirical(apply_fn, params, x1, x2)`` is ``Θ(x, x') = Σ_p ∂f(x)/∂p · ∂f(x')/∂p`` for any
scalar-output JAX model, and ``two_layer_empirical`` is its closed form for the two-layer network
``f(x) = scale · Σ_j a_j σ(w_jᵀx)``, which never materializes a Jacobian.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from . import _validate as v
from .activations import (ACTIVATIONS, KERNEL_ACTIVATIONS, activation_fn, derivative_fn,
                          gaussian_expectations)

__all__ = ["Kernels", "infinite_width", "empirical", "two_layer_empirical"]


class Kernels(NamedTuple):
    """The NNGP kernel (output covariance at initialization) and the NTK, each ``(n1, n2)``."""
    nngp: jax.Array
    ntk: jax.Array


# ------------------------------------------------------------------------------------------------
# Analytic (infinite-width) kernels
# ------------------------------------------------------------------------------------------------

def _diag_variances(x, depth, activation, w_std, b_std):
    """Σ^l(x, x) for l = 1..depth, stacked as ``(depth, n)`` (row l-1 is layer l)."""
    q = w_std ** 2 * jnp.mean(x * x, axis=1) + b_std ** 2
    qs = [q]
    for _ in range(depth - 1):
        q = w_std ** 2 * gaussian_expectations(q, q, q, activation=activation)[0] + b_std ** 2
        qs.append(q)
    return jnp.stack(qs)


def _layer_factors(qs, activation):
    """What the pair recursion needs of the diagonal variances ``qs`` ``(depth, n)``: for ReLU the
    pair ``(1/√q or 0 where q = 0, √q)`` per layer and row, computed once per input set (not once
    per kernel entry); for erf the variances themselves."""
    if activation != "relu":
        return qs, qs
    r = jnp.where(qs > 0, jax.lax.rsqrt(jnp.where(qs > 0, qs, 1.0)), 0.0)
    return r, jnp.sqrt(qs)


def _expectations(l, sigma, f1, f2, activation):
    """``(E[σ(u)σ(v)], E[σ'(u)σ'(v)])`` of layer ``l`` for one tile, from ``_layer_factors``.

    ReLU is homogeneous: ``E[σ(u)σ(v)] = √(q q') · E₁(c/√(q q'))`` and ``E[σ'(u)σ'(v)] = E₀(·)``,
    with ``E₁, E₀`` the expectations at unit variances, so the per-row factors are applied here
    and :func:`gaussian_expectations` sees the cosine only (the same cosine, ``c · r · r'``)."""
    if activation == "relu":
        cos = sigma * f1[0][l][:, None] * f2[0][l][None, :]
        one = jnp.ones((), sigma.dtype)
        e_ff, e_dd = gaussian_expectations(one, one, cos, activation="relu")
        return (f1[1][l][:, None] * f2[1][l][None, :]) * e_ff, e_dd
    return gaussian_expectations(f1[0][l][:, None], f2[0][l][None, :], sigma,
                                 activation=activation)


def _pair_kernels(x1, x2, f1, f2, depth, activation, w_std, b_std):
    """(Σ^{depth+1}, Θ^{depth+1}) for the pairs of rows of ``x1`` and ``x2`` (one tile)."""
    d = x1.shape[1]
    sigma = (w_std ** 2 / d) * (x1 @ x2.T) + b_std ** 2
    theta = sigma
    for l in range(depth):
        e_ff, e_dd = _expectations(l, sigma, f1, f2, activation)
        sigma = w_std ** 2 * e_ff + b_std ** 2
        theta = sigma + w_std ** 2 * e_dd * theta
    return sigma, theta


def _factors(x1, x2, depth, activation, w_std, b_std):
    return tuple(_layer_factors(_diag_variances(x, max(depth, 1), activation, w_std, b_std),
                                activation) for x in (x1, x2))


@partial(jax.jit, static_argnames=("depth", "activation"))
def _infinite_width(x1, x2, w_std, b_std, depth, activation):
    f1, f2 = _factors(x1, x2, depth, activation, w_std, b_std)
    return _pair_kernels(x1, x2, f1, f2, depth, activation, w_std, b_std)


@partial(jax.jit, static_argnames=("depth", "activation", "block_size", "packed"))
def _infinite_width_tiled(x1, x2, w_std, b_std, depth, activation, block_size, packed):
    # Strips of block_size rows of x1 against all of x2. The per-row factors are computed once
    # per input set, outside the strips. Either way the values are those of the untiled path
    # (up to the rounding of x1 x2ᵀ).
    # Not packed (GPU/TPU, whose XLA fuses sibling outputs): lax.map, each strip returns (Σ, Θ).
    # packed (CPU): XLA's CPU backend has no multi-output fusion. From one recursion with two
    # outputs it writes every intermediate both need to memory (several passes per layer); and
    # a fusion that writes into a slice of a loop's output runs on one core. So each strip is
    # computed as ONE array Σ + iΘ (one fused pass, spread over the cores) and split into the
    # two outputs in the NEXT iteration of the loop: the loop boundary keeps XLA from
    # simplifying real(Σ + iΘ) back to Σ. At n = 4096 on two cores: 1.4× faster than a map
    # over strips (whose strips run on one core), 2.5× faster than untiled.
    n1 = x1.shape[0]
    (r1, s1), f2 = _factors(x1, x2, depth, activation, w_std, b_std)
    rows = min(block_size, n1)
    n_blocks = -(-n1 // rows)
    pad = n_blocks * rows - n1  # zero rows: a zero-variance input, handled without NaN
    blocks = [jnp.pad(a, ((0, pad), (0, 0))).reshape(n_blocks, rows, a.shape[1])
              for a in (x1, r1.T, s1.T)]

    def strip(i):
        xa, ra, sa = (a[i] for a in blocks)
        return _pair_kernels(xa, x2, (ra.T, sa.T), f2, depth, activation, w_std, b_std)

    if packed:
        def write(out, z, i):  # strip i of Σ + iΘ into the outputs (Σ, Θ)
            return tuple(jax.lax.dynamic_update_slice(o, part(z), (i * rows, 0))
                         for o, part in zip(out, (jnp.real, jnp.imag)))

        def step(i, carry):  # write strip i - 1, compute strip i
            out, z = carry
            return write(out, z, i - 1), jax.lax.complex(*strip(i))

        shape = (n_blocks * rows, x2.shape[0])
        out = jnp.zeros(shape, x1.dtype), jnp.ones(shape, x1.dtype)  # from one constant, XLA
        # would build the second output as a copy of the first
        out, z = jax.lax.fori_loop(1, n_blocks, step, (out, jax.lax.complex(*strip(0))))
        s, t = write(out, z, n_blocks - 1)
    else:
        s, t = (a.reshape(n_blocks * rows, -1) for a in jax.lax.map(strip, jnp.arange(n_blocks)))
    return (s[:n1], t[:n1]) if pad else (s, t)


_CPU_STRIP_ELEMENTS = 2 ** 19  # 2 MiB of float32 per temporary: within a CPU's L2/L3 cache


def _auto_block_size(n1: int, n2: int) -> int | None:
    """Strip height used when ``block_size=None``: untiled on accelerators (XLA fuses the whole
    recursion into few kernels there); on CPU, strips of about 2¹⁹ entries and at most a
    quarter of ``n1`` rows, but at least 8 (each strip one fused pass over entries that stay in
    cache: see ``_infinite_width_tiled``), then evened out so that the last strip is nearly
    full (which can bring them below 8 rows); untiled below 16 rows."""
    if jax.default_backend() != "cpu" or n1 < 16:
        return None
    n_blocks = -(-n1 // max(8, min(_CPU_STRIP_ELEMENTS // max(n2, 1), n1 // 4)))
    return -(-n1 // n_blocks)


def _kernel_inputs(x1, x2):
    x1, x2 = v.points(x1, x2, "x1", "x2")
    dtype = jnp.promote_types(x1.dtype, jnp.float32)       # half precision computes in float32
    return x1.astype(dtype), x2.astype(dtype)


def infinite_width(x1, x2, *, depth: int = 1, activation: str = "relu", w_std: float = 1.0,
                   b_std: float = 0.0, block_size: int | None = None) -> Kernels:
    """Analytic NNGP and NTK of ``(Dense → activation) × depth → Dense(1)``, NTK parameterization.

    Returns ``Kernels(nngp=Σ^{depth+1}, ntk=Θ^{depth+1})``, each of shape ``(n1, n2)``, for the
    rows of ``x1`` ``(n1, d)`` and ``x2`` ``(n2, d)``, computed by the recursion of the module
    docstring:

        Σ¹ = w_std² x·x'/d + b_std²,  Θ¹ = Σ¹,
        Σ^{l+1} = w_std² E[σ(u)σ(v)] + b_std²,  Θ^{l+1} = Σ^{l+1} + w_std² E[σ'(u)σ'(v)] Θ^l.

    This is the limit, as every hidden width → ∞, of ``f(x)f(x')`` averaged over initializations
    (NNGP) and of the empirical NTK (:func:`empirical`) of the ``lib.nets`` network with
    ``parameterization="ntk"`` and the same ``activation``, ``w_std`` and ``b_std``.

    Parameters
    ----------
    depth
        Number of hidden layers, an integer ``≥ 0``; ``depth=0`` is the linear model
        ``Dense(1)`` alone, with ``nngp = ntk = Σ¹``.
    activation
        ``"relu"`` or ``"erf"``.
    w_std, b_std
        Weight (``> 0``) and bias (``≥ 0``) standard deviations of every Dense layer.
    block_size
        An integer splits the output into strips of ``block_size`` rows (of ``x1``) against all
        of ``x2``, computed one after another, so the peak memory is the output plus the
        temporaries of one ``(block_size, n2)`` strip (untiled, XLA keeps a few ``(n1, n2)``
        temporaries per layer): use it for ``n`` of ``10⁵`` on a GPU. It need not divide ``n1``
        (the last strip is zero-padded). ``None`` chooses: untiled on GPU/TPU; on CPU, strips
        of about 2¹⁹ entries and at most ``n1/4`` rows (about 8 at least), each one fused pass over
        entries that stay in cache, spread over the cores (2.5× faster than untiled at
        ``n = 4096`` on two cores); untiled below 16 rows.
        Tiled and untiled results agree up to the rounding of ``x1 x2ᵀ`` (≈ 1e-16 relative in
        float64).

    Notes
    -----
    The Gaussian expectations are those of :func:`lib.activations.gaussian_expectations`: cosines
    within ``64 ε`` of ``±1`` are snapped to ``±1`` (``arccos`` has infinite slope there), which
    makes the diagonal ``x' = x`` exact to ``O(ε)`` (e.g. with ``w_std = √2``, ``b_std = 0``:
    ``nngp(x, x) = 2‖x‖²/d`` and ``ntk(x, x) = (depth + 1) · 2‖x‖²/d``). An input with zero
    variance (``x = 0`` with ``b_std = 0``) is handled without NaN: its network output is
    identically zero, and so are its rows of both kernels. erf needs no such care: its
    denominators are ``≥ 1``.

    The output dtype is that of the inputs (float32 by default, float64 with ``jax_enable_x64``
    and float64 inputs; half-precision inputs are computed in float32). In float32, arccos and
    arcsin are Cephes' polynomial algorithms (≤ 3 ulp, several times faster than XLA's on CPU);
    in float64 they are ``jnp.arccos``/``jnp.arcsin``. The core is jitted with ``depth``,
    ``activation`` and ``block_size`` static; validation also works inside a user's ``jit``.
    """
    with jax.ensure_compile_time_eval():  # checks of concrete values also inside a user's jit
        x1, x2 = _kernel_inputs(x1, x2)
        depth = v.integer(depth, "depth", minimum=0)
        activation = v.choice(activation, "activation", KERNEL_ACTIVATIONS)
        w_std = v.scalar(w_std, "w_std", positive=True)
        b_std = v.scalar(b_std, "b_std", nonnegative=True)
        if block_size is not None:
            block_size = v.integer(block_size, "block_size", minimum=1)
    w = jnp.asarray(w_std, x1.dtype)
    b = jnp.asarray(b_std, x1.dtype)
    if block_size is None:
        block_size = _auto_block_size(x1.shape[0], x2.shape[0])
    if block_size is None or block_size >= x1.shape[0] or x2.shape[0] == 0:
        s, t = _infinite_width(x1, x2, w, b, depth, activation)
    else:
        s, t = _infinite_width_tiled(x1, x2, w, b, depth, activation, block_size,
                                     jax.default_backend() == "cpu")
    return Kernels(s, t)


# ------------------------------------------------------------------------------------------------
# Empirical kernels
# ------------------------------------------------------------------------------------------------

def _per_example_jacobian(apply_fn, params, x):
    """Per-leaf Jacobians ``∂f(x_i)/∂p``, each of shape ``(n, P_leaf)``."""

    def f(p, xi):
        out = apply_fn(p, xi[None, :])
        if out.size != 1:
            raise ValueError("apply_fn must return one scalar per example, shape (n,) or (n, 1); "
                             f"on one example it returned shape {out.shape}")
        return out.reshape(())

    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(params, x)
    return [leaf.reshape(x.shape[0], -1) for leaf in jax.tree_util.tree_leaves(jac)]


@partial(jax.jit, static_argnums=(0, 4))
def _empirical(apply_fn, params, x1, x2, same):
    j1 = _per_example_jacobian(apply_fn, params, x1)
    j2 = j1 if same else _per_example_jacobian(apply_fn, params, x2)
    return sum(a @ b.T for a, b in zip(j1, j2))


def empirical(apply_fn: Callable, params, x1, x2) -> jax.Array:
    """Empirical NTK ``Θ(x, x') = Σ_p ∂f(x)/∂p · ∂f(x')/∂p`` of a scalar-output model, ``(n1, n2)``.

    ``apply_fn(params, x)`` maps a batch ``x`` of shape ``(n, d)`` to outputs of shape ``(n,)``
    or ``(n, 1)``; ``params`` is any pytree of arrays. The sum runs over every entry of every
    leaf of ``params``.

    Implementation: per-example reverse mode, ``vmap(jacrev(f(p, x_i)))`` over the rows, giving
    one ``(n, P_leaf)`` Jacobian per leaf, then ``Σ_leaves J1 J2ᵀ``. This costs ``n`` backward
    passes of one example and ``O((n1 + n2) P)`` memory, with ``P`` the number of parameters (use
    :func:`two_layer_empirical` for the two-layer network, which needs no Jacobian). It assumes,
    as every per-example model does, that output ``i`` depends on row ``i`` of ``x`` only. When
    ``x2 is x1`` the Jacobian is computed once. Jitted, with ``apply_fn`` static (pass the same
    function object to reuse the compilation).
    """
    if not callable(apply_fn):
        raise ValueError(f"apply_fn must be callable apply_fn(params, x), got {apply_fn!r}")
    same = x2 is x1
    with jax.ensure_compile_time_eval():
        x1, x2 = _kernel_inputs(x1, x2)
    return _empirical(apply_fn, params, x1, x1 if same else x2, same)


@partial(jax.jit, static_argnames="activation")
def _two_layer(x1, x2, W, a, scale, activation):
    sigma, dsigma = activation_fn(activation), derivative_fn(activation)
    z1, z2 = x1 @ W.T, x2 @ W.T
    grad_a = sigma(z1) @ sigma(z2).T
    grad_w = (x1 @ x2.T) * ((dsigma(z1) * a) @ (dsigma(z2) * a).T)
    return scale ** 2 * (grad_a + grad_w)


def two_layer_empirical(x1, x2, W, a, *, activation: str = "relu", scale) -> jax.Array:
    """Closed-form empirical NTK of ``f(x) = scale · Σ_j a_j σ(w_jᵀx)``, shape ``(n1, n2)``.

    With ``W`` of shape ``(M, d)`` (row ``j`` is ``w_j``) and ``a`` of shape ``(M,)``,

        Θ(x, x') = scale² [ Σ_j σ(w_jᵀx) σ(w_jᵀx')                   (gradient in a)
                            + (xᵀx') Σ_j a_j² σ'(w_jᵀx) σ'(w_jᵀx') ]  (gradient in W),

    i.e. ``scale² [σ(X1Wᵀ) σ(X2Wᵀ)ᵀ + (X1X2ᵀ) ⊙ (σ'(X1Wᵀ) diag(a)) (σ'(X2Wᵀ) diag(a))ᵀ]``.
    Cost ``O(n1 n2 M + (n1 + n2) M d)``; the ``(n, M d)`` Jacobian is never formed. It equals
    :func:`empirical` on the same model (with ``relu'(0) = 0``, as ``jax.grad`` takes it).

    ``activation`` is any name of ``lib.activations.ACTIVATIONS``; ``scale`` (keyword, required,
    ``> 0``) is e.g. ``1/√M`` for the NTK scaling or ``1/M`` for the mean-field scaling.
    """
    with jax.ensure_compile_time_eval():
        x1, x2 = _kernel_inputs(x1, x2)
        W = v.float_array(W, "W", ndim=2)
        a = v.float_array(a, "a", ndim=1)
        if W.shape[1] != x1.shape[1]:
            raise ValueError(f"W must have shape (M, d) with d = {x1.shape[1]} (the feature "
                             f"dimension of x1 and x2), got shape {W.shape}")
        if a.shape[0] != W.shape[0]:
            raise ValueError(f"a must have length M = {W.shape[0]} (the number of rows of W), "
                             f"got shape {a.shape}")
        activation = v.choice(activation, "activation", ACTIVATIONS)
        scale = v.scalar(scale, "scale", positive=True)
    dtype = jnp.result_type(x1, W, a)
    return _two_layer(x1.astype(dtype), x2.astype(dtype), W.astype(dtype), a.astype(dtype),
                      jnp.asarray(scale, dtype), activation)
