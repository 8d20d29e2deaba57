"""Residual networks as dynamical systems: Euler steps of an ODE, and functional-gradient boosting.

* A residual network with ``L`` blocks ``x ← x + (1/L) v(x, t_l)`` is the explicit Euler scheme of
  the ODE ``dx/dt = v(x, t)`` on ``[0, 1]`` (:func:`euler_flow`); as ``L → ∞`` its output converges
  to the ODE's flow at the rate ``O(1/L)``. :func:`rk4_flow` gives a reference solution, and
  :func:`smooth_velocity` a random, smooth-in-time tanh velocity field (one "layer" per time).
* Functional-gradient boosting in the spirit of ResFGB (Nitanda & Suzuki, 2018): each new residual
  block moves the features along the kernel-smoothed functional gradient of the training loss of
  the best linear predictor on them (:func:`boosting_fit`, :func:`boosting_transform`).
"""
from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .. import _validate as v

__all__ = ["euler_flow", "rk4_flow", "smooth_velocity", "BoostedFeatures", "boosting_fit",
           "boosting_transform", "ridge_readout"]


# --- ResNet = Euler scheme -------------------------------------------------------------------


@partial(jax.jit, static_argnames=("velocity", "n_steps", "method", "trajectory"))
def _flow(velocity, x, n_steps, method, trajectory):
    h = 1.0 / n_steps

    def euler(x, t):
        return x + h * velocity(x, t)

    def rk4(x, t):
        k1 = velocity(x, t)
        k2 = velocity(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = velocity(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = velocity(x + h * k3, t + h)
        return x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)

    step = euler if method == "euler" else rk4

    def body(x, t):
        x = step(x, t)
        return x, (x if trajectory else None)

    times = jnp.arange(n_steps, dtype=x.dtype) * h
    out, path = lax.scan(body, x, times)
    return jnp.concatenate([x[None], path]) if trajectory else out


def _check_flow(velocity, x, n_steps, name):
    if not callable(velocity):
        raise ValueError(f"velocity must be a function v(x, t), got {type(velocity).__name__}")
    x = v.float_array(x, "x", ndim=2)
    return x, v.integer(n_steps, name, minimum=1)


def euler_flow(velocity: Callable, x, n_layers: int, *, trajectory: bool = False) -> jax.Array:
    """Output of the residual network ``x_{l+1} = x_l + (1/L) v(x_l, l/L)``, ``l = 0..L−1``.

    ``velocity(x, t)`` maps a batch ``(n, d)`` and a time ``t ∈ [0, 1)`` to ``(n, d)``; ``x`` has
    shape ``(n, d)``. This is the explicit Euler scheme for ``dx/dt = v(x, t)`` with step ``1/L``;
    for Lipschitz ``v`` its global error at ``t = 1`` is ``O(1/L)`` (Grönwall). One ``lax.scan``.
    ``trajectory=True`` returns every block's output, shape ``(L + 1, n, d)`` (input first).
    """
    x, n_layers = _check_flow(velocity, x, n_layers, "n_layers")
    return _flow(velocity, x, n_layers, "euler", bool(trajectory))


def rk4_flow(velocity: Callable, x, n_steps: int, *, trajectory: bool = False) -> jax.Array:
    """Flow of ``dx/dt = v(x, t)`` from ``t = 0`` to ``1`` by classical Runge–Kutta (error ``O(h⁴)``).

    Same conventions as :func:`euler_flow`; used as the reference ("infinitely deep") solution.
    """
    x, n_steps = _check_flow(velocity, x, n_steps, "n_steps")
    return _flow(velocity, x, n_steps, "rk4", bool(trajectory))


class _Velocity:
    """``v(x, t) = tanh(x W(t)ᵀ + b(t)) A(t)ᵀ`` with ``θ(t) = cos(πt/2) θ₀ + sin(πt/2) θ₁``.

    Hashable by identity, so that jitted flows of the same field compile once.
    """

    def __init__(self, theta0, theta1):
        self.theta0, self.theta1 = theta0, theta1

    def __call__(self, x, t):
        c, s = jnp.cos(0.5 * jnp.pi * t), jnp.sin(0.5 * jnp.pi * t)
        W, b, A = (c * p0 + s * p1 for p0, p1 in zip(self.theta0, self.theta1))
        return jnp.tanh(x @ W.T + b) @ A.T


def smooth_velocity(key, dim: int, width: int, *, scale: float = 1.0) -> Callable:
    """A random velocity field whose "layer parameters" vary smoothly with depth ``t``.

    ``v(x, t) = A(t) tanh(W(t) x + b(t))`` with ``W ∈ R^{width×dim}``, ``A ∈ R^{dim×width}`` and
    ``θ(t) = cos(πt/2) θ₀ + sin(πt/2) θ₁`` between two Gaussian draws (entries of ``W`` and ``b``
    with variance ``scale²/dim``, of ``A`` with variance ``scale²/width``). Smooth in ``(x, t)``,
    hence a well-posed ODE whose Euler scheme converges at rate exactly one.
    """
    v.key(key, "key")
    dim = v.integer(dim, "dim", minimum=1)
    width = v.integer(width, "width", minimum=1)
    scale = v.scalar(scale, "scale", positive=True)

    def draw(k):
        kw, kb, ka = jax.random.split(k, 3)
        return (scale / jnp.sqrt(dim) * jax.random.normal(kw, (width, dim)),
                scale / jnp.sqrt(dim) * jax.random.normal(kb, (width,)),
                scale / jnp.sqrt(width) * jax.random.normal(ka, (dim, width)))

    k0, k1 = jax.random.split(key)
    return _Velocity(draw(k0), draw(k1))


# --- Functional-gradient boosting ------------------------------------------------------------


def ridge_readout(H, y, reg):
    """Best linear predictor on features: ``argmin_w (1/2n)‖y − [H, 1] w‖² + (reg/2)‖w‖²``.

    Returns ``w`` of length ``D + 1`` (last entry: the intercept, also penalized), via an SVD.
    """
    Z = jnp.concatenate([H, jnp.ones((H.shape[0], 1), H.dtype)], axis=1)
    n = H.shape[0]
    U, s, Vt = jnp.linalg.svd(Z, full_matrices=False)
    return Vt.T @ ((s / (s**2 + n * reg)) * (U.T @ y))


def _readout_loss(H, y, reg):
    w = ridge_readout(H, y, reg)
    Z = jnp.concatenate([H, jnp.ones((H.shape[0], 1), H.dtype)], axis=1)
    r = Z @ w - y
    return 0.5 * jnp.mean(r**2) + 0.5 * reg * jnp.sum(w**2), w


def _gaussian_gram(A, B, bandwidth):
    d2 = jnp.sum(A**2, 1)[:, None] + jnp.sum(B**2, 1)[None, :] - 2 * A @ B.T
    return jnp.exp(-jnp.maximum(d2, 0.0) / (2 * bandwidth**2))


class BoostedFeatures(NamedTuple):
    """A trained ResFGB-style residual network.

    ``anchors[l]`` and ``directions[l]`` (shape ``(L, n, D)``) define block ``l``:
    ``h ← h − η (1/n) Σ_i k(anchors[l, i], h) directions[l, i]``. ``losses[l]`` is the training
    loss of the best linear readout after ``l`` blocks (``L + 1`` values); ``weights`` is the final
    readout; ``step_size`` and ``bandwidth`` are the block parameters.
    """

    anchors: jax.Array
    directions: jax.Array
    losses: jax.Array
    weights: jax.Array
    step_size: float
    bandwidth: float


@partial(jax.jit, static_argnames=("n_layers",))
def _boost(H0, y, n_layers, step_size, bandwidth, reg):
    def block(H, _):
        loss, w = _readout_loss(H, y, reg)
        # Functional gradient of the loss at each training feature (envelope theorem: the
        # readout is optimal, so only the explicit dependence on h_i counts), scaled by n.
        G = (jnp.concatenate([H, jnp.ones((H.shape[0], 1), H.dtype)], 1) @ w - y)[:, None] * w[None, :-1]
        K = _gaussian_gram(H, H, bandwidth)
        H_next = H - step_size * (K @ G) / H.shape[0]
        return H_next, (H, G, loss)

    H_final, (anchors, directions, losses) = lax.scan(block, H0, None, length=n_layers)
    final_loss, w = _readout_loss(H_final, y, reg)
    return anchors, directions, jnp.append(losses, final_loss), w, H_final


def boosting_fit(X, y, *, n_layers: int, step_size: float, bandwidth: float,
                 reg: float = 1e-3) -> tuple[BoostedFeatures, jax.Array]:
    """Grow a residual network block by block along smoothed functional gradients.

    With features ``h_i`` (initially ``x_i``) and the optimal ridge readout ``w`` on them, the
    loss ``ℒ(h) = min_w (1/2n)Σ_i (wᵀh̃_i − y_i)² + (reg/2)‖w‖²`` (``h̃ = [h, 1]``) has gradient
    ``g_i = (wᵀh̃_i − y_i) w_{1:D}`` in ``h_i`` (times ``1/n``). The block adds the kernel-smoothed
    direction ``T_k g(h) = (1/n) Σ_i k(h_i, h) g_i`` with a Gaussian kernel of width
    ``bandwidth``: ``h ← h − η T_k g(h)``. Since ``k`` is positive definite, the first-order change
    of the loss is ``−(η/n²) Σ_{ij} k(h_i, h_j) g_iᵀ g_j ≤ 0``: each new layer is a descent step in
    function space. Returns the model and the training features after the last block.
    """
    X, y = v.samples(X, y)
    n_layers = v.integer(n_layers, "n_layers", minimum=1)
    step_size = v.scalar(step_size, "step_size", positive=True)
    bandwidth = v.scalar(bandwidth, "bandwidth", positive=True)
    reg = v.scalar(reg, "reg", positive=True)
    anchors, directions, losses, w, H = _boost(X, y.astype(X.dtype), n_layers, step_size,
                                               bandwidth, reg)
    return BoostedFeatures(anchors, directions, losses, w, step_size, bandwidth), H


@jax.jit
def _transform(anchors, directions, step_size, bandwidth, H):
    def block(H, layer):
        A, G = layer
        return H - step_size * (_gaussian_gram(H, A, bandwidth) @ G) / A.shape[0], None

    H, _ = lax.scan(block, H, (anchors, directions))
    return H


def boosting_transform(model: BoostedFeatures, X) -> jax.Array:
    """Features of new inputs ``X`` after all blocks of ``model`` (the network's hidden output)."""
    X = v.float_array(X, "X", ndim=2)
    v.same_dim(X, model.anchors[0], "X", "model.anchors")
    return _transform(model.anchors, model.directions, model.step_size, model.bandwidth, X)
