"""Gradient Langevin dynamics: Gibbs laws, discretization bias, KL decay and escape times.

The gradient Langevin dynamics (GLD) ``dθ = −∇L(θ) dt + √(2/β) dB`` has the Gibbs law
``π_β ∝ exp(−βL)`` as its stationary distribution; its Euler–Maruyama discretization (the
unadjusted Langevin algorithm, ULA) is :func:`lib.mfld.simulate` with a drift that ignores the
other particles and ``temperature = 1/β``. This module holds the closed forms and the measurements
the chapter compares that simulation with.
"""
from __future__ import annotations

from functools import partial

import jax
import numpy as np
import scipy.linalg
import jax.numpy as jnp

from .. import _validate as v

__all__ = ["double_well", "double_well_grad", "gibbs_on_grid", "kolmogorov_distance",
           "gaussian_kl", "ula_ou_variance", "first_passage_times", "kramers_time",
           "mean_first_passage_time", "generator_spectral_gap", "gld_first_passage",
           "double_well_critical_points", "ula_ou_kl_rate", "ula_ou_stationary_kl",
           "ula_transition_matrix", "ula_stationary_on_grid", "ula_spectral_gap",
           "ula_mean_hitting_time"]


def double_well(theta, *, barrier: float = 1.0, tilt: float = 0.0):
    """``L(θ) = h (θ² − 1)² + tilt·θ`` with ``h = barrier`` (elementwise).

    Without tilt: minima at ``±1`` with ``L'' = 8h``, a saddle (local maximum) at ``0`` with
    ``L'' = −4h``, and barrier height ``h``. A positive tilt lowers the left well.
    """
    theta = v.float_array(theta, "theta")
    barrier = v.scalar(barrier, "barrier", positive=True)
    tilt = v.scalar(tilt, "tilt")
    return barrier * (theta**2 - 1) ** 2 + tilt * theta


def double_well_grad(theta, *, barrier: float = 1.0, tilt: float = 0.0):
    """``L'(θ) = 4h θ(θ² − 1) + tilt`` (elementwise); a non-interacting particle drift."""
    return 4 * barrier * theta * (theta**2 - 1) + tilt


def double_well_critical_points(*, barrier: float = 1.0, tilt: float = 0.0):
    """Real roots of ``L'(θ) = 4h θ(θ² − 1) + tilt = 0``, sorted: ``(θ_left, θ_saddle, θ_right)``.

    For ``|tilt| < 8h/(3√3)`` the cubic has three real roots: the two minima (``L'' = 12hθ² − 4h
    > 0``) and the local maximum between them; a positive tilt makes ``θ_left`` the global minimum.
    Computed as the eigenvalues of the companion matrix (``numpy.roots``), in float64.
    """
    h = v.scalar(barrier, "barrier", positive=True)
    tilt = v.scalar(tilt, "tilt")
    if not abs(tilt) < 8 * h / (3 * np.sqrt(3)):
        raise ValueError(f"tilt must satisfy |tilt| < 8 barrier / (3 sqrt 3) for two wells, got {tilt}")
    roots = np.roots([4 * h, 0.0, -4 * h, tilt])
    return tuple(float(r) for r in np.sort(roots.real))


def ula_ou_kl_rate(curvature, step_size):
    """Per-unit-time log-rate ``2 log|1 − ηm| / η`` of ULA on ``L(θ) = (m/2)θ²``.

    The chain ``θ ← (1 − ηm)θ + √(2η/β) ξ`` multiplies the mean by ``1 − ηm`` per step, so the
    mean term ``E[θ]²/(2v)`` of ``KL(N(E θ, ·) ‖ N(0, v))`` decays like ``(1 − ηm)^{2k}``; per unit
    time ``t = kη`` that is ``e^{t·2log|1−ηm|/η}``, which tends to the LSI rate ``−2m`` as ``η → 0``
    (the variance term decays twice as fast). Requires ``0 < ηm < 2``.
    """
    m = v.scalar(curvature, "curvature", positive=True)
    eta = v.scalar(step_size, "step_size", positive=True)
    if not eta * m < 2:
        raise ValueError(f"step_size * curvature must be < 2 for a stable chain, got {eta * m}")
    return 2.0 * np.log(abs(1.0 - eta * m)) / eta


def ula_ou_stationary_kl(curvature, beta, step_size, dim: int = 1):
    """Exact ``KL(π_{β,η} ‖ π_β)`` between ULA's stationary law and the Gibbs law on
    ``L(θ) = (m/2)‖θ‖²`` in ``R^p``: ``(p/2)(r − 1 − log r)`` with ``r = 1/(1 − ηm/2)``,
    i.e. ``p (ηm)²/16 + O(η³)``. Both laws are centred Gaussians, with variances
    :func:`ula_ou_variance` and ``1/(βm)`` per coordinate. Requires ``0 < ηm < 2``.
    """
    p = v.integer(dim, "dim", minimum=1)
    r = ula_ou_variance(curvature, beta, step_size) * v.scalar(beta, "beta", positive=True) \
        * v.scalar(curvature, "curvature", positive=True)
    return 0.5 * p * (r - 1.0 - np.log(r))


def ula_transition_matrix(grad_values, grid, beta, step_size):
    """Row-stochastic matrix of the ULA chain ``θ ← θ − η L'(θ) + √(2η/β) ξ`` on a uniform 1-D grid.

    ``P[i, j] ∝ exp(−(x_j − x_i + η L'(x_i))² / (2 s²))`` with ``s² = 2η/β`` (the Gaussian kernel
    sampled at the grid points), each row normalized to one — mass that would leave the grid is
    spread over the row in proportion to the kernel (not a reflecting end), which is harmless only
    where the chain has negligible probability of jumping off the grid. Needs ``s`` several grid
    spacings wide. float64 NumPy array of shape ``(m, m)``.
    """
    g = v.float_array(grad_values, "grad_values", ndim=1)
    v.same_dim(g, v.float_array(grid, "grid", ndim=1), "grad_values", "grid")
    g, x = (np.asarray(a, np.float64) for a in _uniform_grid(g, grid))
    beta = v.scalar(beta, "beta", positive=True)
    eta = v.scalar(step_size, "step_size", positive=True)
    s = np.sqrt(2 * eta / beta)
    h = (x[-1] - x[0]) / (x.shape[0] - 1)
    if s < 3 * h:
        raise ValueError(f"the noise sd sqrt(2 step_size/beta) = {s:.3g} must span at least 3 grid "
                         f"spacings ({h:.3g}); refine the grid")
    mean = x - eta * g
    logk = -((x[None, :] - mean[:, None]) ** 2) / (2 * s * s)
    P = np.exp(logk - logk.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def ula_stationary_on_grid(grad_values, grid, beta, step_size):
    """Density and CDF of the stationary law ``π_{β,η}`` of ULA on a uniform 1-D grid.

    The stationary vector ``π P = π`` of :func:`ula_transition_matrix` (a linear solve with one
    equation replaced by ``Σπ = 1``), turned into a density ``π_i / h`` and a trapezoidal CDF as in
    :func:`gibbs_on_grid`, so the two are directly comparable: ``sup |F_η − F|`` is the Kolmogorov
    distance that the time step alone adds. Returns ``(density, cdf)``, float64 NumPy arrays.
    """
    P = ula_transition_matrix(grad_values, grid, beta, step_size)
    m = P.shape[0]
    A = P.T - np.eye(m)
    A[0, :] = 1.0
    b = np.zeros(m)
    b[0] = 1.0
    pi = np.clip(np.linalg.solve(A, b), 0.0, None)
    x = np.asarray(grid, np.float64)
    h = (x[-1] - x[0]) / (m - 1)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pi[1:] + pi[:-1]))])
    return pi / (cdf[-1] * h), cdf / cdf[-1]


def ula_spectral_gap(grad_values, grid, beta, step_size):
    """Per-unit-time spectral gap ``−log|λ₂(P)| / η`` of the ULA chain on a uniform 1-D grid.

    ``λ₂`` is the second-largest eigenvalue in modulus of :func:`ula_transition_matrix` (found by
    Arnoldi iteration, ``scipy.sparse.linalg.eigs``); ``E f(θ_k)`` relaxes like ``|λ₂|^k =
    e^{−gap·kη}``. As ``η → 0`` it tends to the generator's gap (:func:`generator_spectral_gap`);
    on ``L = (m/2)θ²`` it is ``−log|1 − ηm| / η`` exactly (the chain is AR(1)).
    """
    import scipy.sparse.linalg
    eta = v.scalar(step_size, "step_size", positive=True)
    P = ula_transition_matrix(grad_values, grid, beta, step_size)
    vals = scipy.sparse.linalg.eigs(P, k=3, which="LM", return_eigenvectors=False, tol=1e-12,
                                    v0=np.ones(P.shape[0]))
    mods = np.sort(np.abs(vals))[::-1]
    return -np.log(mods[1]) / eta


def ula_mean_hitting_time(grad_values, grid, beta, step_size, threshold):
    """Mean time ``η·E[k_A]`` for the ULA chain on a uniform 1-D grid to reach ``A = {θ ≥ threshold}``.

    With ``P`` from :func:`ula_transition_matrix` and ``k_A = min{k ≥ 0 : θ_k ∈ A}`` (time ``k·η``,
    the convention of :func:`gld_first_passage`), first-step analysis gives ``T = 0`` on ``A`` and
    ``(I − P_{A^c A^c}) T = η·1`` on the complement, solved directly. Returns ``T`` for every grid
    point as a float64 NumPy array of shape ``(m,)``. The grid should extend past ``threshold`` far
    enough that a jump off its ends has negligible probability. As ``η → 0`` it tends to the
    diffusion's :func:`mean_first_passage_time`, with an ``O(√η)`` overshoot-and-monitoring
    correction and an ``O(η)`` drift error.
    """
    eta = v.scalar(step_size, "step_size", positive=True)
    threshold = v.scalar(threshold, "threshold")
    P = ula_transition_matrix(grad_values, grid, beta, step_size)
    x = np.asarray(grid, np.float64)
    out = x < threshold
    if not out.any() or out.all():
        raise ValueError(f"threshold must lie inside the grid [{x[0]:.3g}, {x[-1]:.3g}], got {threshold}")
    Q = P[np.ix_(out, out)]
    T = np.zeros(x.shape[0])
    T[out] = np.linalg.solve(np.eye(Q.shape[0]) - Q, np.full(Q.shape[0], eta))
    return T


def gibbs_on_grid(potential_values, grid, beta):
    """Density and CDF of ``π ∝ exp(−β L)`` on a uniform 1-D ``grid`` (trapezoidal rule).

    ``potential_values`` are ``L`` at the grid points. Returns ``(density, cdf)``, each the length
    of ``grid``; the density integrates to one on the grid and ``cdf[-1] == 1``.
    """
    L = v.float_array(potential_values, "potential_values", ndim=1)
    x = v.float_array(grid, "grid", ndim=1)
    v.same_dim(L, x, "potential_values", "grid")
    beta = v.scalar(beta, "beta", positive=True)
    w = jnp.exp(-beta * (L - L.min()))
    dx = jnp.diff(x)
    pieces = 0.5 * (w[1:] + w[:-1]) * dx
    cdf = jnp.concatenate([jnp.zeros(1, w.dtype), jnp.cumsum(pieces)])
    return w / cdf[-1], cdf / cdf[-1]


def kolmogorov_distance(samples, grid, cdf):
    """``sup_x |F_n(x) − F(x)|`` between the empirical CDF of 1-D ``samples`` and a CDF on a grid.

    The reference CDF is linearly interpolated between grid points; the supremum is taken at the
    sample points (from both sides), where it is attained.
    """
    s = jnp.sort(v.float_array(samples, "samples", ndim=1))
    x = v.float_array(grid, "grid", ndim=1)
    F = jnp.interp(s, x, v.float_array(cdf, "cdf", ndim=1))
    n = s.shape[0]
    upper = jnp.arange(1, n + 1) / n - F
    lower = F - jnp.arange(n) / n
    return jnp.maximum(upper.max(), lower.max())


def gaussian_kl(mean, var, target_var):
    """``KL(N(mean, var) ‖ N(0, target_var))`` in one dimension (elementwise)."""
    mean = v.float_array(mean, "mean")
    var = v.float_array(var, "var")
    ratio = var / target_var
    return 0.5 * (ratio - 1.0 - jnp.log(ratio) + mean**2 / target_var)


def ula_ou_variance(curvature, beta, step_size):
    """Stationary variance of ULA on ``L(θ) = (m/2)θ²``: ``1 / (β m (1 − η m / 2))``.

    The chain ``θ ← (1 − ηm) θ + √(2η/β) ξ`` has stationary variance ``(2η/β)/(1 − (1 − ηm)²)``;
    the continuous-time Gibbs variance is ``1/(βm)``, so the relative bias is ``ηm/2 + O(η²)``.
    Requires ``0 < η m < 2`` (stability).
    """
    m = v.scalar(curvature, "curvature", positive=True)
    beta = v.scalar(beta, "beta", positive=True)
    eta = v.scalar(step_size, "step_size", positive=True)
    if not eta * m < 2:
        raise ValueError(f"step_size * curvature must be < 2 for a stable chain, got {eta * m}")
    return 1.0 / (beta * m * (1.0 - eta * m / 2.0))


@jax.jit
def _first_passage(path, threshold):
    crossed = path >= threshold
    first = jnp.argmax(crossed, axis=0)
    return jnp.where(crossed.any(axis=0), first, -1)


def first_passage_times(trajectory, threshold, dt):
    """First recorded time each chain is at or above ``threshold``; ``inf`` if it never is.

    ``trajectory`` has shape ``(T, N)`` (time-major, e.g. ``lib.mfld.simulate``'s record of 1-D
    particles, squeezed); snapshot ``t`` is at time ``(t + 1)·dt``. Returns shape ``(N,)``.
    """
    path = v.float_array(trajectory, "trajectory", ndim=2)
    threshold = v.scalar(threshold, "threshold")
    dt = v.scalar(dt, "dt", positive=True)
    first = _first_passage(path, threshold)
    return jnp.where(first >= 0, (first + 1) * dt, jnp.inf)


def kramers_time(barrier, curvature_min, curvature_saddle, beta):
    """Eyring–Kramers mean escape time ``2π / √(L''(min)·|L''(saddle)|) · exp(β ΔL)``.

    Asymptotically exact as ``β → ∞`` for GLD ``dθ = −L'(θ) dt + √(2/β) dB`` leaving a well of
    depth ``ΔL = barrier`` over a non-degenerate saddle; corrections are ``O(1/β)``.
    """
    barrier = v.scalar(barrier, "barrier", positive=True)
    c_min = v.scalar(curvature_min, "curvature_min", positive=True)
    c_sad = v.scalar(curvature_saddle, "curvature_saddle", positive=True)
    beta = v.float_array(beta, "beta")
    return 2 * jnp.pi / jnp.sqrt(c_min * c_sad) * jnp.exp(beta * barrier)


def _uniform_grid(potential_values, grid):
    L = v.float_array(potential_values, "potential_values", ndim=1)
    x = v.float_array(grid, "grid", ndim=1)
    v.same_dim(L, x, "potential_values", "grid")
    if x.shape[0] < 3:
        raise ValueError(f"grid must have at least 3 points, got {x.shape[0]}")
    h = jnp.diff(x)
    mean_h = (x[-1] - x[0]) / (x.shape[0] - 1)
    if not bool(jnp.all(h > 0)) or float(jnp.max(jnp.abs(h - mean_h))) > 0.05 * float(mean_h):
        raise ValueError("grid must be increasing and uniformly spaced")
    dtype = jnp.result_type(L.dtype, x.dtype)
    return L.astype(dtype), x.astype(dtype)


def mean_first_passage_time(potential_values, grid, beta, start, target):
    """Exact mean first-passage time of GLD ``dθ = −L'(θ) dt + √(2/β) dB`` from ``start`` up to
    ``target`` (``start < target``), with reflection at ``grid[0]``:

        E τ = β ∫_start^target e^{β L(y)} ∫_{grid[0]}^y e^{−β L(z)} dz dy,

    the solution of ``β⁻¹T'' − L'T' = −1``, ``T(target) = 0``, ``T'(grid[0]) = 0`` at ``start``
    (the reflecting end stands in for ``−∞`` when ``π_β`` has negligible mass left of it). Both
    integrals by the trapezoidal rule on the uniform ``grid`` (``start`` and ``target`` are rounded
    to grid points), the outer one in log space so that ``e^{βL}`` does not overflow.
    """
    L, x = _uniform_grid(potential_values, grid)
    beta = v.scalar(beta, "beta", positive=True)
    start = v.scalar(start, "start")
    target = v.scalar(target, "target")
    if not float(x[0]) < start < target <= float(x[-1]):
        raise ValueError(f"need grid[0] < start < target <= grid[-1], got start={start}, "
                         f"target={target} on [{float(x[0])}, {float(x[-1])}]")
    return _mfpt(L, x, jnp.asarray(beta, L.dtype), start, target)


@jax.jit
def _mfpt(L, x, beta, start, target):
    h = (x[-1] - x[0]) / (x.shape[0] - 1)
    e = beta * (L - L.min())
    w = jnp.exp(-e)
    inner = jnp.concatenate([jnp.zeros(1, L.dtype), jnp.cumsum(0.5 * (w[1:] + w[:-1]) * h)])
    i0 = jnp.argmin(jnp.abs(x - start))
    i1 = jnp.argmin(jnp.abs(x - target))
    idx = jnp.arange(x.shape[0])
    weight = jnp.where((idx == i0) | (idx == i1), 0.5 * h, h)
    inside = (idx >= i0) & (idx <= i1)
    log_terms = e + jnp.log(jnp.maximum(inner, jnp.finfo(L.dtype).tiny)) + jnp.log(weight)
    return beta * jnp.exp(jax.nn.logsumexp(jnp.where(inside, log_terms, -jnp.inf)))


def generator_spectral_gap(potential_values, grid, beta):
    """Spectral gap ``λ₁`` of the GLD generator ``𝓛f = β⁻¹ f'' − L' f'`` on ``[grid[0], grid[-1]]``
    with reflecting ends: the smallest non-zero ``λ`` with ``−𝓛φ = λφ``, i.e. the best constant in
    the Poincaré inequality ``Var_π(f) ≤ λ₁⁻¹ β⁻¹ E_π|f'|²`` and the rate ``e^{−λ₁ t}`` at which
    ``E f(θ_t)`` relaxes. Discretized as the reversible nearest-neighbour jump process with rates
    ``q_{i→i±1} = exp(−β(L_{i±1} − L_i)/2)/(β h²)`` (detailed balance with ``e^{−βL_i}``,
    second-order consistent with ``𝓛``), whose symmetrized tridiagonal matrix is diagonalized
    (in float64 on the host by LAPACK's tridiagonal solver; returned in the input's dtype).
    """
    L, x = _uniform_grid(potential_values, grid)
    beta = v.scalar(beta, "beta", positive=True)
    Ld, h = np.asarray(L, np.float64), float(x[-1] - x[0]) / (x.shape[0] - 1)
    dL = np.diff(Ld)
    up = np.exp(-beta * dL / 2) / (beta * h * h)            # i -> i + 1
    down = np.exp(beta * dL / 2) / (beta * h * h)           # i + 1 -> i
    diag = np.concatenate([up, [0.0]]) + np.concatenate([[0.0], down])
    lam = scipy.linalg.eigh_tridiagonal(diag, -np.sqrt(up * down), eigvals_only=True,
                                        select="i", select_range=(0, 1))
    return jnp.asarray(lam[1], L.dtype)


def gld_first_passage(grad, start, key, *, beta, step_size, n_steps: int, threshold,
                      record_every: int):
    """Run ``N`` independent 1-D ULA chains ``θ ← θ − η L'(θ) + √(2η/β_i) ξ`` and record, for each,
    the first time ``k·η`` (``k`` the step count) at which ``θ ≥ threshold`` (``inf`` if never).

    ``grad`` is ``L'`` (elementwise), ``start`` the ``(N,)`` initial points, ``beta`` a scalar or
    one inverse temperature per chain ``(N,)``. Chains keep running after the passage. The noise of
    step ``t`` is drawn as in :func:`lib.mfld.simulate` (``fold_in(key, t)``, split, first part), so
    with a scalar ``beta`` the path is that of ``simulate`` on the ``(N, 1)`` particles. Returns
    ``(tau, path)``: ``tau`` ``(N,)`` and ``path`` ``(n_steps // record_every, N)``, the positions
    after every ``record_every`` steps. One jitted ``lax.scan``.
    """
    if not callable(grad):
        raise ValueError(f"grad must be callable (elementwise L'), got {type(grad).__name__}")
    x0 = v.float_array(start, "start", ndim=1)
    key = v.key(key)
    eta = v.scalar(step_size, "step_size", positive=True)
    threshold = v.scalar(threshold, "threshold")
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    record_every = v.integer(record_every, "record_every", minimum=1)
    if n_steps % record_every:
        raise ValueError(f"record_every ({record_every}) must divide n_steps ({n_steps})")
    b = v.float_array(beta, "beta", ndim=(0, 1))
    if b.ndim == 1 and b.shape[0] != x0.shape[0]:
        raise ValueError(f"beta must be a scalar or have shape ({x0.shape[0]},), got {b.shape}")
    v.positive(b, "beta")
    scale = jnp.broadcast_to(jnp.sqrt(2 * eta / b), x0.shape).astype(x0.dtype)
    steps = _gld_passage(grad, x0, key, jnp.asarray(eta, x0.dtype), scale,
                         jnp.asarray(threshold, x0.dtype), n_chunks=n_steps // record_every,
                         chunk=record_every)
    first, path = steps
    return jnp.where(first >= 0, first * eta, jnp.inf), path


@partial(jax.jit, static_argnames=("grad", "n_chunks", "chunk"))
def _gld_passage(grad, x0, key, eta, scale, threshold, *, n_chunks, chunk):
    def step(carry, t):
        x, first = carry
        k_noise, _ = jax.random.split(jax.random.fold_in(key, t))
        x = x - eta * grad(x) + scale * jax.random.normal(k_noise, x.shape, x.dtype)
        first = jnp.where((first < 0) & (x >= threshold), (t + 1).astype(first.dtype), first)
        return (x, first), None

    def run_chunk(carry, c):
        carry, _ = jax.lax.scan(step, carry, c * chunk + jnp.arange(chunk))
        return carry, carry[0]

    first0 = jnp.full(x0.shape, -1, jnp.int32)
    (_, first), path = jax.lax.scan(run_chunk, (x0, first0), jnp.arange(n_chunks))
    return first, path
