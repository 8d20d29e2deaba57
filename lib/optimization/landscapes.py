"""Non-convex loss landscapes: critical points, Gaussian smoothing, paths between minima, noisy GD.

Critical points
---------------
``hessian_eigenvalues(f, x)``          ascending eigenvalues of ``∇²f(x)``
``classify_critical_point(eigs)``      minimum / maximum / saddle / degenerate from their signs
``critical_points(f, starts)``         distinct zeros of ``∇f`` found by damped Newton from many starts
``top_hessian_eigenvalue(loss, p, k)`` power iteration with Hessian-vector products (``jax.jvp`` of
                                       ``jax.grad``), for any pytree of parameters

Smoothing (the noise view of SGD)
---------------------------------
``gaussian_smoothing(f, width)``       ``f_s(x) = E f(x + s Z)``, ``Z ~ N(0, 1)``, by Gauss–Hermite
``gaussian_smooth_grid(values, ...)``  the same convolution for values on a uniform grid
``count_local_minima(values)``         interior local minima of sampled 1-D curves
``first_downcrossing(fn, lo, hi)``     first grid point from ``lo`` on where ``fn < 0`` (for
                                       ``fn = f′``: the first local maximum of ``f``, a basin edge)
``graduated_descent(grad, x0, s)``     GD on ``f_s`` for a decreasing sequence of widths
``noisy_gd(grad, x0, ...)``            ensembles of ``x ← x − η(∇f(x) + σ ξ)`` (vmap + scan)

Paths between parameter vectors
-------------------------------
``polyline(nodes, t)``                 point at ``t ∈ [0, 1]`` of the piecewise-linear path
``mean_path_loss(loss, nodes, ts)``    average loss along that path (differentiable in the nodes)
``path_losses(loss, nodes, n)``        the loss profile along the path, and ``barrier(profile)``
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .. import _validate as v

__all__ = ["CRITICAL_KINDS", "hessian_eigenvalues", "classify_critical_point", "critical_points",
           "top_hessian_eigenvalue", "gaussian_smoothing", "gaussian_smooth_grid",
           "count_local_minima", "first_downcrossing", "DescentResult", "noisy_gd", "graduated_descent", "polyline",
           "mean_path_loss", "PathProfile", "path_losses", "lifting_path", "barrier"]

CRITICAL_KINDS = ("minimum", "maximum", "saddle", "degenerate")


# --------------------------------------------------------------------------- critical points
def hessian_eigenvalues(f: Callable, x) -> jax.Array:
    """Ascending eigenvalues of the Hessian ``∇²f(x)`` of a scalar function of a vector ``x``."""
    x = v.float_array(x, "x", ndim=1)
    H = jax.jit(jax.hessian(f))(x)
    return jnp.linalg.eigvalsh(0.5 * (H + H.T))


def classify_critical_point(eigenvalues, *, tol: float = 1e-6) -> str:
    """Second-order test at a critical point from the Hessian eigenvalues ``λ_i``.

    ``"minimum"`` if all ``λ_i > tol``, ``"maximum"`` if all ``λ_i < −tol``, ``"saddle"`` if some
    ``λ_i > tol`` and some ``λ_i < −tol`` (a *strict* saddle: a direction of negative curvature),
    else ``"degenerate"`` (some ``|λ_i| <= tol`` and no sign change: the test is inconclusive,
    as for the monkey saddle ``x³ − 3xy²``, whose Hessian vanishes at 0).
    """
    lam = np.asarray(v.float_array(eigenvalues, "eigenvalues", ndim=1))
    tol = v.scalar(tol, "tol", nonnegative=True)
    pos, neg = bool(np.any(lam > tol)), bool(np.any(lam < -tol))
    if pos and neg:
        return "saddle"
    if np.all(lam > tol):
        return "minimum"
    if np.all(lam < -tol):
        return "maximum"
    return "degenerate"


def critical_points(f: Callable, starts, *, n_iter: int = 60, tol: float = 1e-6,
                    damping: float = 1e-10) -> jax.Array:
    """Distinct critical points of ``f`` reached by damped Newton iterations from ``starts``.

    Each start ``x`` (rows of ``starts``, shape ``(m, d)``) is iterated ``n_iter`` times with the
    Levenberg–Marquardt step on ``g = ∇f``: ``x ← x − (H² + δI)⁻¹ H g`` (``H = ∇²f(x)``,
    ``δ = damping``), which is Newton's step where ``H`` is well conditioned and stays finite
    where it is singular. Points with ``‖∇f‖ <= tol`` are kept, rounded duplicates (closer than
    ``sqrt(tol)``) merged, and returned sorted lexicographically, shape ``(k, d)``.
    """
    starts = v.float_array(starts, "starts", ndim=2)
    n_iter = v.integer(n_iter, "n_iter", minimum=1)
    tol = v.scalar(tol, "tol", positive=True)
    damping = v.scalar(damping, "damping", positive=True)
    ends, gnorm = _newton(f, starts, n_iter, damping)
    ends, gnorm = np.asarray(ends), np.asarray(gnorm)
    ok = np.isfinite(gnorm) & (gnorm <= tol)
    found: list[np.ndarray] = []
    for p in ends[ok]:
        if not any(np.linalg.norm(p - q) < np.sqrt(tol) for q in found):
            found.append(p)
    if not found:
        return jnp.zeros((0, starts.shape[1]), starts.dtype)
    pts = np.array(found)
    pts = pts[np.lexsort(pts.T[::-1])]
    return jnp.asarray(pts)


def _newton(f, starts, n_iter, damping):
    grad, hess = jax.grad(f), jax.hessian(f)
    d = starts.shape[1]

    def one(x):
        def step(x, _):
            g, H = grad(x), hess(x)
            H = 0.5 * (H + H.T)
            dx = jnp.linalg.solve(H @ H + damping * jnp.eye(d, dtype=x.dtype), H @ g)
            return x - dx, None
        x, _ = jax.lax.scan(step, x, None, length=n_iter)
        return x, jnp.linalg.norm(grad(x))

    return jax.jit(jax.vmap(one))(starts)


def top_hessian_eigenvalue(loss_fn: Callable, params, key, *, n_iter: int = 100) -> jax.Array:
    """Largest-magnitude Hessian eigenvalue of ``loss_fn`` at ``params`` by power iteration.

    ``v ← Hv/‖Hv‖`` from a random unit ``v`` (drawn with ``key``), where the Hessian-vector
    product ``Hv = d/dε ∇L(θ + εv)|_{ε=0}`` is one ``jax.jvp`` of ``jax.grad(loss_fn)`` (the
    Hessian is never formed). Returns the Rayleigh quotient ``vᵀHv`` after ``n_iter`` steps; at a
    minimum (``H ⪰ 0``) this is ``λ_max``, the *sharpness*. ``params`` is any pytree.
    """
    key = v.key(key)
    n_iter = v.integer(n_iter, "n_iter", minimum=1)
    flat, unravel = ravel_pytree(params)
    return _power_iteration(loss_fn, unravel, flat, key, n_iter)


def _power_iteration(loss_fn, unravel, flat, key, n_iter):
    g = lambda z: ravel_pytree(jax.grad(loss_fn)(unravel(z)))[0]  # noqa: E731
    hvp = lambda u: jax.jvp(g, (flat,), (u,))[1]  # noqa: E731

    @jax.jit
    def run(u):
        def body(u, _):
            w = hvp(u)
            return w / jnp.linalg.norm(w), None
        u, _ = jax.lax.scan(body, u / jnp.linalg.norm(u), None, length=n_iter)
        return u @ hvp(u)

    return run(jax.random.normal(key, flat.shape, flat.dtype))


# --------------------------------------------------------------------------- smoothing
def gaussian_smoothing(f: Callable, width, *, n_nodes: int = 96) -> Callable:
    """The Gaussian-smoothed function ``f_s(x) = E_Z f(x + sZ) = ∫ f(x − u) g_s(u) du``.

    ``g_s`` is the ``N(0, s²)`` density (``s = width``), i.e. ``f_s = f * g_s``. Computed by
    ``n_nodes``-point Gauss–Hermite quadrature, ``f_s(x) ≈ π^{-1/2} Σ_k w_k f(x + √2 s t_k)``,
    exact for polynomials of degree ``< 2 n_nodes`` and accurate for ``cos(ωx)`` while
    ``ωs ≲ n_nodes^{1/2}``. ``f`` maps a scalar to a scalar (it is applied elementwise, so
    ``f_s`` accepts arrays of any shape); ``width`` may be a tracer (e.g. inside ``lax.scan``),
    and ``width = 0`` gives ``f`` itself.
    """
    n_nodes = v.integer(n_nodes, "n_nodes", minimum=1)
    width = v.scalar(width, "width", nonnegative=True)
    t, w = np.polynomial.hermite.hermgauss(n_nodes)
    t, w = jnp.asarray(t), jnp.asarray(w / np.sqrt(np.pi))

    def f_s(x):
        shifted = jnp.asarray(x)[..., None] + np.sqrt(2.0) * width * t
        return jnp.sum(w * f(shifted), axis=-1)

    return f_s


def gaussian_smooth_grid(values, *, spacing, width) -> jax.Array:
    """Convolve samples ``values[..., i] = f(x_0 + i h)`` with the ``N(0, s²)`` density.

    ``(f * g_s)(x_i) ≈ Σ_j f(x_j) g_s(x_i − x_j) / Σ_j g_s(x_i − x_j)`` (``h = spacing``,
    ``s = width``; the Gaussian is truncated at ``±6s``). The normalization by the truncated
    kernel mass makes the result exact for constants and reduces to the Riemann sum
    ``h Σ_j f(x_j) g_s(x_i − x_j)`` at points farther than ``6s`` from the ends of the grid;
    nearer the ends the kernel is cut off, so keep the grid ``6s`` wider than the region of
    interest. ``width`` is a scalar or a 1-D array ``(k,)``; the result has shape
    ``values.shape`` or ``(k,) + values.shape``. ``width = 0`` returns ``values``.
    """
    values = v.float_array(values, "values", ndim=(1, 2))
    h = v.scalar(spacing, "spacing", positive=True)
    widths = np.asarray(width, dtype=float)
    if widths.ndim > 1 or not np.all(np.isfinite(widths)) or np.any(widths < 0):
        raise ValueError(f"width must be a non-negative scalar or 1-D array, got {width!r}")
    half = int(np.ceil(6 * max(float(widths.max(initial=0.0)), h) / h))
    offsets = jnp.arange(-half, half + 1) * h
    out = _smooth_grid(values, offsets, jnp.atleast_1d(jnp.asarray(widths, values.dtype)))
    return out if widths.ndim else out[0]


@jax.jit
def _smooth_grid(values, offsets, widths):
    n = values.shape[-1]
    ones = jnp.ones(n, values.dtype)
    conv = lambda a, k: jnp.convolve(a, k, mode="same")  # noqa: E731

    def one(s):
        safe = jnp.where(s > 0, s, 1.0)
        k = jnp.where(s > 0, jnp.exp(-0.5 * (offsets / safe) ** 2),
                      (offsets == 0).astype(values.dtype))
        mass = conv(ones, k)
        smooth = lambda row: conv(row, k) / mass  # noqa: E731
        return smooth(values) if values.ndim == 1 else jax.vmap(smooth)(values)

    return jax.lax.map(one, widths)


def count_local_minima(values) -> jax.Array:
    """Number of interior local minima of each sampled curve ``values[..., :]``.

    A local minimum is a place where the curve stops decreasing and starts increasing: with
    ``σ_i = sign(v_{i+1} − v_i)`` and zero signs replaced by the last nonzero one (so a flat
    stretch inherits the direction before it), it is each ``i`` with ``σ_{i−1} = −1`` and
    ``σ_i = +1``. Minima at the two ends of the grid are not counted. Shape ``values.shape[:-1]``.
    """
    values = v.float_array(values, "values")
    if values.ndim < 1 or values.shape[-1] < 3:
        raise ValueError(f"values must have at least 3 samples along its last axis, "
                         f"got shape {values.shape}")
    return _count_minima(values)


@jax.jit
def _count_minima(values):
    s = jnp.sign(jnp.diff(values, axis=-1))
    idx = jnp.arange(s.shape[-1])
    last = jax.lax.cummax(jnp.where(s != 0, idx, -1), axis=s.ndim - 1)
    filled = jnp.where(last >= 0, jnp.take_along_axis(s, jnp.maximum(last, 0), axis=-1), 0)
    turns = (filled[..., :-1] < 0) & (filled[..., 1:] > 0)
    return jnp.sum(turns, axis=-1)


def first_downcrossing(fn: Callable, lo, hi, *, num: int = 100001) -> float:
    """First sign change ``+ → −`` of a scalar function ``fn`` right of ``lo``, on a grid.

    Evaluates ``fn`` (scalar to scalar, vmapped) at ``x_k = lo + k (hi − lo)/(num − 1)``,
    ``k = 0, …, num − 1``, and returns the smallest ``x_k`` with ``fn(x_k) < 0``. If
    ``fn >= 0`` on ``[lo, x_k)`` a crossing lies in ``[x_{k−1}, x_k)``, within one grid spacing
    ``(hi − lo)/(num − 1)`` (two crossings closer than a spacing are not resolved). With ``fn = f′`` and ``f′ >= 0`` just right of ``lo`` (``lo``
    a local minimum of ``f`` or a point on its rising side) this is the first local maximum of
    ``f`` right of ``lo``: the right edge of the gradient-flow basin that contains ``lo``.
    Raises ``ValueError`` if ``fn(lo) < 0`` (no down-crossing right of ``lo`` can be located) or
    if ``fn >= 0`` on the whole grid. The grid has the default float
    dtype (float32, or float64 under ``jax_enable_x64``).
    """
    lo = v.scalar(lo, "lo")
    hi = v.scalar(hi, "hi")
    if not hi > lo:
        raise ValueError(f"hi must exceed lo, got lo={lo}, hi={hi}")
    num = v.integer(num, "num", minimum=2)
    grid = jnp.linspace(lo, hi, num)
    negative = np.asarray(jax.jit(jax.vmap(fn))(grid) < 0)
    if negative[0]:
        raise ValueError(f"fn(lo) must be >= 0 (start left of the crossing), got fn({lo}) < 0")
    if not negative.any():
        raise ValueError(f"fn has no negative value on the grid of [{lo}, {hi}]")
    return float(grid[int(np.argmax(negative))])


class DescentResult(NamedTuple):
    """What :func:`noisy_gd` and :func:`graduated_descent` return.

    ``final``: the last iterates, shape ``x0.shape``; ``average``: for :func:`noisy_gd`, the
    mean of the iterates over the second half of the run (for :func:`graduated_descent`, the
    same as ``final``); ``trajectory``: recorded iterates ``(n_records, *x0.shape)`` or ``None``.
    """
    final: jax.Array
    average: jax.Array
    trajectory: Any


def noisy_gd(grad_fn: Callable, x0, *, step_size, n_steps: int, noise_std=0.0, key=None,
             anneal_steps: int = 0, record_every: int | None = None) -> DescentResult:
    """Run an ensemble of noisy gradient descents ``x ← x − η (∇f(x) + σ ξ_t)``, ``ξ_t ~ N(0, I)``.

    ``x0`` has shape ``(m, ...)``: ``m`` independent runs (vmapped), each from ``x0[i]``; ``grad_fn``
    maps one point (shape ``x0.shape[1:]``) to ``∇f`` there. ``step_size`` ``η`` and ``noise_std``
    ``σ`` are scalars or arrays of shape ``(m,)`` (one value per run), so a sweep over ``η`` is one
    call. ``σ = 0`` is plain GD (then ``key`` may be omitted). The noise enters as in SGD, scaled by
    ``η``: by the argument of Kleinberg, Li & Yuan, ``y_t = x_t − η∇f(x_t)`` then follows, in
    expectation, gradient descent on the smoothed loss ``E_ξ f(y − ησξ)`` of width ``ησ``.
    With ``anneal_steps = A > 0`` the step of the last ``A`` steps decays linearly to 0,
    ``η_t = η (n_steps − t)/A`` (a learning-rate decay: the smoothing width ``η_t σ`` and the
    noise shrink together, so the run ends in a minimum of ``f`` itself).
    One jitted ``lax.scan`` (nested when ``record_every`` is given: the iterate is recorded every
    ``record_every`` steps, which must divide ``n_steps``).
    """
    x0 = v.float_array(x0, "x0")
    if x0.ndim < 1:
        raise ValueError(f"x0 must have a leading ensemble axis, got shape {x0.shape}")
    m = x0.shape[0]
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    eta = _per_run(step_size, "step_size", m, x0.dtype, positive=True)
    sig = _per_run(noise_std, "noise_std", m, x0.dtype, positive=False)
    noisy = not (isinstance(noise_std, (int, float)) and float(noise_std) == 0.0)
    if noisy:
        if key is None:
            raise ValueError("key is required when noise_std is nonzero")
        keys = jax.random.split(v.key(key), m)
    else:
        keys = jax.random.split(jax.random.key(0), m)
    anneal = v.integer(anneal_steps, "anneal_steps", minimum=0)
    if anneal > n_steps:
        raise ValueError(f"anneal_steps ({anneal}) must be <= n_steps ({n_steps})")
    chunk = n_steps if record_every is None else v.integer(record_every, "record_every", minimum=1)
    if n_steps % chunk:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of record_every ({chunk})")
    final, avg, traj = _noisy_gd(grad_fn, x0, eta, sig, keys, n_steps=n_steps, chunk=chunk,
                                 noisy=noisy, anneal=anneal)
    return DescentResult(final, avg, traj if record_every is not None else None)


def _per_run(x, name, m, dtype, *, positive):
    arr = v.float_array(x, name, ndim=(0, 1)).astype(dtype)
    if arr.ndim == 1 and arr.shape[0] != m:
        raise ValueError(f"{name} must be a scalar or have shape ({m},), got {arr.shape}")
    (v.positive if positive else v.nonnegative)(arr, name)
    return jnp.broadcast_to(arr, (m,))


def _noisy_gd(grad_fn, x0, eta, sig, keys, *, n_steps, chunk, noisy, anneal):
    half = n_steps // 2

    def one(x, eta, sig, key):
        def step(carry, t):
            x, acc = carry
            g = grad_fn(x)
            if noisy:
                g = g + sig * jax.random.normal(jax.random.fold_in(key, t), x.shape, x.dtype)
            factor = jnp.clip((n_steps - t) / anneal, 0.0, 1.0) if anneal else 1.0
            x = x - eta * factor * g
            acc = acc + jnp.where(t >= n_steps - half - 1, x, 0.0)
            return (x, acc), None

        def block(carry, c):
            carry, _ = jax.lax.scan(step, carry, c * chunk + jnp.arange(chunk))
            return carry, carry[0]

        (x, acc), traj = jax.lax.scan(block, (x, jnp.zeros_like(x)), jnp.arange(n_steps // chunk))
        return x, acc / (half + 1), traj

    final, avg, traj = jax.jit(jax.vmap(one))(x0, eta, sig, keys)
    return final, avg, jnp.moveaxis(traj, 0, 1)


def graduated_descent(grad_fn: Callable, x0, widths, *, step_size, n_steps: int) -> DescentResult:
    """Graduated optimization: GD on ``f_{s_1}``, then on ``f_{s_2}``, ... (``s_1 > s_2 > ...``).

    ``grad_fn(x, s)`` is the gradient at one point ``x`` of the loss smoothed at width ``s``
    (e.g. ``jax.grad(gaussian_smoothing(f, s))``); each stage runs ``n_steps`` steps
    ``x ← x − η ∇f_s(x)`` from where the previous one stopped. ``x0`` is an ensemble
    ``(m, ...)``; ``trajectory`` holds the iterates at the end of every stage,
    ``(len(widths), m, ...)``. Widths need not decrease, but graduated optimization uses them so.
    """
    x0 = v.float_array(x0, "x0")
    if x0.ndim < 1:
        raise ValueError(f"x0 must have a leading ensemble axis, got shape {x0.shape}")
    widths = v.float_array(widths, "widths", ndim=1).astype(x0.dtype)
    v.nonnegative(widths, "widths")
    eta = v.scalar(step_size, "step_size", positive=True)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)

    @jax.jit
    def run(x0, widths):
        def one(x):
            def stage(x, s):
                x, _ = jax.lax.scan(lambda x, _: (x - eta * grad_fn(x, s), None), x, None,
                                    length=n_steps)
                return x, x
            return jax.lax.scan(stage, x, widths)
        final, traj = jax.vmap(one)(x0)
        return final, jnp.moveaxis(traj, 0, 1)

    final, traj = run(x0, widths)
    return DescentResult(final, final, traj)


# --------------------------------------------------------------------------- paths
def _stack(nodes):
    if not isinstance(nodes, (list, tuple)) or len(nodes) < 2:
        raise ValueError("nodes must be a list of at least 2 parameter pytrees (the path's "
                         "vertices)")
    structs = {jax.tree_util.tree_structure(n) for n in nodes}
    if len(structs) > 1:
        raise ValueError("nodes must all have the same pytree structure")
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *nodes), len(nodes) - 1


def _point(stacked, K, t):
    u = jnp.clip(jnp.asarray(t) * K, 0.0, K)
    k = jnp.minimum(jnp.floor(u), K - 1).astype(jnp.int32)
    frac = u - k
    return jax.tree_util.tree_map(lambda a: (1 - frac) * a[k] + frac * a[k + 1], stacked)


def polyline(nodes, t) -> Any:
    """Point at ``t ∈ [0, 1]`` of the piecewise-linear path ``θ_0 → θ_1 → ... → θ_K``.

    ``nodes`` is a list of ``K + 1 >= 2`` pytrees of the same structure. The ``K`` segments get
    equal parameter length: with ``u = tK``, ``k = min(⌊u⌋, K − 1)``, the point is
    ``(1 − (u − k)) θ_k + (u − k) θ_{k+1}``. Traceable in ``t`` and in the nodes.
    """
    stacked, K = _stack(nodes)
    return _point(stacked, K, t)


def mean_path_loss(loss_fn: Callable, nodes, ts) -> jax.Array:
    """``(1/|T|) Σ_{t∈T} L(polyline(nodes, t))``: the loss averaged along the path at ``ts``.

    Differentiable in the nodes: minimizing it over the interior nodes (with the end nodes held
    fixed) bends the path into a low-loss valley, as in the mode-connectivity curves of Garipov
    et al. and Draxler et al.
    """
    stacked, K = _stack(nodes)
    return jnp.mean(jax.vmap(lambda t: loss_fn(_point(stacked, K, t)))(jnp.asarray(ts)))


class PathProfile(NamedTuple):
    """Loss along a path: ``t`` in ``[0, 1]`` (shape ``(n,)``) and ``loss`` at those points."""
    t: jax.Array
    loss: jax.Array


def path_losses(loss_fn: Callable, nodes, n_points: int = 101) -> PathProfile:
    """The loss ``L(polyline(nodes, t))`` at ``n_points`` equally spaced ``t ∈ [0, 1]`` (vmapped).

    Use ``n_points = K m + 1`` for ``K`` segments so that every node is on the grid.
    """
    n_points = v.integer(n_points, "n_points", minimum=2)
    stacked, K = _stack(nodes)
    ts = jnp.linspace(0.0, 1.0, n_points)
    losses = jax.jit(jax.vmap(lambda t: loss_fn(_point(stacked, K, t))))(ts)
    return PathProfile(ts, losses)


def lifting_path(features: Callable, W0, a0, W1, a1, y, *, n_points: int = 31) -> PathProfile:
    """Square loss along the three-stage path of the "lifting" argument (Venturi et al. 2019).

    The model is linear in its output weights, ``f = Φ(W) a`` with ``Φ(W) ∈ R^{n×M}`` given by
    ``features(W)`` (``W`` any pytree), and ``L(W, a) = ½ mean((Φ(W)a − y)²)``. The path goes

    1. ``a: a0 → â(W0)`` at fixed ``W0`` (straight line),
    2. ``W: W0 → W1`` on the straight line, with ``a = â(W_t)`` re-solved at every point,
    3. ``a: â(W1) → a1`` at fixed ``W1``,

    where ``â(W) = Φ(W)⁺ y`` is the minimum-norm least-squares output layer. Stages 1 and 3 are
    segments of a convex function of ``a``, so they never rise above their end points; along
    stage 2 the loss is ``min_a L(W_t, a)``, which is 0 whenever ``Φ(W_t)`` has rank ``n`` — the
    reason a network of width ``M >= n`` has no spurious valleys. Each stage gets ``n_points``
    points (``t`` in thirds of ``[0, 1]``); returns the profile of ``3 n_points`` losses.
    """
    n_points = v.integer(n_points, "n_points", minimum=2)
    y = v.float_array(y, "y", ndim=1)
    a0 = v.float_array(a0, "a0", ndim=1)
    a1 = v.float_array(a1, "a1", ndim=1)
    v.same_dim(a0, a1, "a0", "a1")
    Phi0, Phi1 = features(W0), features(W1)
    if Phi0.shape != (y.shape[0], a0.shape[0]) or Phi1.shape != Phi0.shape:
        raise ValueError(f"features(W) must have shape (len(y), len(a0)) = "
                         f"{(y.shape[0], a0.shape[0])}, got {Phi0.shape} and {Phi1.shape}")
    stacked, K = _stack([W0, W1])
    s = jnp.linspace(0.0, 1.0, n_points)
    loss = lambda Phi, a: 0.5 * jnp.mean((Phi @ a - y) ** 2)  # noqa: E731
    solve = lambda Phi: jnp.linalg.pinv(Phi) @ y  # noqa: E731

    @jax.jit
    def run(stacked):
        ahat0, ahat1 = solve(Phi0), solve(Phi1)
        st1 = jax.vmap(lambda u: loss(Phi0, (1 - u) * a0 + u * ahat0))(s)
        st2 = jax.vmap(lambda u: (lambda P: loss(P, solve(P)))(features(_point(stacked, K, u))))(s)
        st3 = jax.vmap(lambda u: loss(Phi1, (1 - u) * ahat1 + u * a1))(s)
        return jnp.concatenate([st1, st2, st3])

    t = jnp.concatenate([s / 3, (1 + s) / 3, (2 + s) / 3])
    return PathProfile(t, run(stacked))


def barrier(losses) -> jax.Array:
    """Loss barrier of a profile: ``max_t L(t) − max(L(0), L(1))`` (0 for a path that never
    rises above its higher end point; > 0 when one must climb to get from one end to the other).
    """
    losses = v.float_array(losses, "losses", ndim=1)
    if losses.shape[0] < 2:
        raise ValueError("losses must hold at least 2 values")
    return jnp.max(losses) - jnp.maximum(losses[0], losses[-1])
