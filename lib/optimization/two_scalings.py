"""Width scalings of neural networks: the abc-parameterizations of Yang & Hu (2021), their
predicted regimes, and ensemble training to measure how much a network moves as it gets wider.

abc-parameterizations
---------------------
For an MLP ``h¹ = W¹ x``, ``x^l = σ(h^l)``, ``h^{l+1} = W^{l+1} x^l`` (l = 1..L) and output
``f = W^{L+1} x^L`` with all hidden widths equal to ``n``, an *abc-parameterization* writes every
weight matrix as a width power times a trained parameter,

    W^l = n^{-a_l} w^l,      w^l_{ij} ~ N(0, n^{-2 b_l}),      learning rate η n^{-c},

and gradient descent updates the ``w^l`` (Yang & Hu, 2021, "Tensor programs IV"). Standard (SP),
NTK (NTP), mean-field (MFP, one hidden layer) and maximal-update (μP) parameterizations are
points of this space (:func:`abc_parameterization`). Their infinite-width behaviour is decided by
the exponent

    r = min(a_{L+1} + b_{L+1}, 2 a_{L+1} + c) + c − 1 + min_{l=1..L} [2 a_l + 1{l = 1}],

the rate at which the last hidden representation moves during training, ``Δx^L = Θ(n^{-r})``
(Yang & Hu, Definition 3.2). The classification of their Theorem 3.3 is :func:`regime`.

Ensembles
---------
:func:`width_sweep` trains abc-parameterized networks of several widths, a stack of independent
initializations per width at once (:func:`lib.nets.train_ensemble`), and records, every
``record_every`` steps, the
training loss and the relative change ``‖X^l_t − X^l_0‖_F / ‖X^l_0‖_F`` of every hidden
representation ``X^l = σ(h^l)`` on a probe set.
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate as v
from .. import activations, nets

__all__ = ["ABC", "Regime", "PARAMETERIZATIONS", "abc_parameterization", "regime",
           "init_abc", "apply_abc", "abc_features", "WidthSweep",
           "width_sweep", "relative_change", "neuron_movement"]

PARAMETERIZATIONS = ("standard", "ntk", "mean_field", "mup")


class ABC(NamedTuple):
    """Exponents of an abc-parameterization: ``a`` and ``b`` have one entry per weight matrix
    (``L + 1`` for ``L`` hidden layers; entry 0 is the input layer), ``c`` is the learning-rate
    exponent (the step size is ``η n^{-c}``)."""
    a: tuple
    b: tuple
    c: float

    @property
    def n_hidden(self) -> int:
        return len(self.a) - 1


class Regime(NamedTuple):
    """What :func:`regime` returns.

    ``r``: the feature-update exponent of Yang & Hu, ``Δx^L_t = Θ(n^{-r})`` for steps t ≥ 2;
    ``output``: the output-update exponent ``Δf_t = Θ(n^{output})``, the larger of
    ``1 − 2a_{L+1} − c`` (the readout's own update acting on ``x^L``) and
    ``1 − a_{L+1} − b_{L+1} − r`` (the initial readout acting on ``Δx^L``);
    ``r_first``, ``output_first``: the same after the first step, when the backward pass still
    sees the initial readout, so ``min(a_{L+1}+b_{L+1}, 2a_{L+1}+c)`` in ``r`` becomes
    ``a_{L+1}+b_{L+1}`` (they agree whenever ``a_{L+1}+b_{L+1} ≤ 2a_{L+1}+c``, e.g. for every
    stable nontrivial parameterization of the table); and the Boolean properties of Yang & Hu's
    Theorem 3.3.
    """
    r: float
    output: float
    r_first: float
    output_first: float
    stable_at_init: bool
    stable: bool
    nontrivial: bool
    feature_learning: bool
    kernel_regime: bool


def _check_abc(abc) -> ABC:
    if not isinstance(abc, ABC):
        try:
            abc = ABC(*abc)
        except TypeError as err:
            raise ValueError(f"abc must be an ABC(a, b, c) triple, got {abc!r}") from err
    a = tuple(v.scalar(x, f"abc.a[{i}]") for i, x in enumerate(np.atleast_1d(abc.a)))
    b = tuple(v.scalar(x, f"abc.b[{i}]") for i, x in enumerate(np.atleast_1d(abc.b)))
    if len(a) < 2:
        raise ValueError(f"abc.a needs one exponent per layer (at least 2), got {len(a)}")
    if len(b) != len(a):
        raise ValueError(f"abc.b must have the same length as abc.a ({len(a)}), got {len(b)}")
    return ABC(a, b, v.scalar(abc.c, "abc.c"))


def abc_parameterization(name: str, *, n_hidden: int = 1, c: float | None = None) -> ABC:
    """The exponents of a named parameterization with ``n_hidden`` hidden layers (Yang & Hu,
    Table 1 and Section 3):

    ============  ============================  ==========================  ==============
    name          a (input, hidden..., output)   b                          c
    ============  ============================  ==========================  ==============
    standard      0, 0, ..., 0                   0, 1/2, ..., 1/2            1 (``c`` kwarg)
    ntk           0, 1/2, ..., 1/2               0, ..., 0                   0
    mean_field    0, 1  (one hidden layer only)  0, 0                        −1
    mup           −1/2, 0, ..., 0, 1/2           1/2, ..., 1/2               0
    ============  ============================  ==========================  ==============

    ``c`` overrides the learning-rate exponent (e.g. ``c=0`` is standard parameterization with a
    width-independent step size, which is unstable).
    """
    v.choice(name, "name", PARAMETERIZATIONS)
    L = v.integer(n_hidden, "n_hidden", minimum=1)
    if name == "standard":
        a, b, c0 = [0.0] * (L + 1), [0.0] + [0.5] * L, 1.0
    elif name == "ntk":
        a, b, c0 = [0.0] + [0.5] * L, [0.0] * (L + 1), 0.0
    elif name == "mean_field":
        if L != 1:
            raise ValueError(f"n_hidden must be 1 for the mean_field parameterization "
                             f"(use 'mup' for deeper networks), got {L}")
        a, b, c0 = [0.0, 1.0], [0.0, 0.0], -1.0
    else:
        a, b, c0 = [-0.5] + [0.0] * (L - 1) + [0.5], [0.5] * (L + 1), 0.0
    return ABC(tuple(a), tuple(b), c0 if c is None else v.scalar(c, "c"))


def regime(abc) -> Regime:
    """Classify an abc-parameterization (Yang & Hu 2021, Definition 3.2 and Theorem 3.3).

    * ``r = min(a_{L+1}+b_{L+1}, 2a_{L+1}+c) + c − 1 + min_{l≤L}(2a_l + 1{l=1})``;
    * stable at initialization: ``a_1+b_1 = 0``, ``a_l+b_l = 1/2`` (2 ≤ l ≤ L),
      ``a_{L+1}+b_{L+1} ≥ 1/2``;
    * stable: stable at initialization, ``r ≥ 0``, ``2a_{L+1}+c ≥ 1`` and
      ``a_{L+1}+b_{L+1}+r ≥ 1``;
    * nontrivial: ``2a_{L+1}+c = 1`` or ``a_{L+1}+b_{L+1}+r = 1``;
    * a stable nontrivial parameterization is feature learning if ``r = 0`` and in the kernel
      regime if ``r > 0`` (never both: the dynamical dichotomy).

    Exponents are compared with a tolerance of 1e-9.
    """
    abc = _check_abc(abc)
    a, b, c = abc.a, abc.b, abc.c
    L, tol = len(a) - 1, 1e-9
    m = min(2 * a[l] + (1.0 if l == 0 else 0.0) for l in range(L))
    r = min(a[L] + b[L], 2 * a[L] + c) + c - 1 + m
    r1 = a[L] + b[L] + c - 1 + m
    out = max(1 - 2 * a[L] - c, 1 - a[L] - b[L] - r)
    out1 = max(1 - 2 * a[L] - c, 1 - a[L] - b[L] - r1)
    init = (abs(a[0] + b[0]) < tol and all(abs(a[l] + b[l] - 0.5) < tol for l in range(1, L))
            and a[L] + b[L] >= 0.5 - tol)
    stable = init and r >= -tol and 2 * a[L] + c >= 1 - tol and a[L] + b[L] + r >= 1 - tol
    nontrivial = abs(2 * a[L] + c - 1) < tol or abs(a[L] + b[L] + r - 1) < tol
    ok = stable and nontrivial
    return Regime(float(r), float(out), float(r1), float(out1), bool(init), bool(stable),
                  bool(nontrivial),
                  bool(ok and abs(r) < tol), bool(ok and r > tol))


def _normal_blocks(key, shapes, n_members):
    """Standard normal arrays of the given ``shapes`` (each with a leading axis ``n_members``
    when that is not None), cut from ONE ``jax.random.normal`` draw: eager random calls are
    compiled once per output shape, so one draw per network size keeps the compile cost at one
    small kernel (drawing layer by layer, or under ``vmap``/``jit``, compiles the threefry
    generator once per call site, which costs about a second each on a CPU)."""
    sizes = [int(np.prod(s)) for s in shapes]
    lead = () if n_members is None else (n_members,)
    z = jax.random.normal(key, lead + (sum(sizes),))
    out, start = [], 0
    for shp, size in zip(shapes, sizes):
        out.append(z[..., start:start + size].reshape(lead + tuple(shp)))
        start += size
    return out


def init_abc(key, d: int, width: int, abc, *, n_out: int = 1, n_members: int | None = None):
    """Draw the trained parameters ``[w¹, ..., w^{L+1}]`` of an abc-parameterized MLP with input
    dimension ``d``, ``L = len(abc.a) − 1`` hidden layers of width ``width`` and ``n_out``
    outputs: ``w^l`` has shape ``(fan_in, fan_out)`` and iid ``N(0, width^{-2 b_l})`` entries
    (no biases). With ``n_members`` every array gets a leading axis of that many independent
    draws (an ensemble for :func:`lib.nets.train_ensemble`)."""
    abc = _check_abc(abc)
    key = v.key(key)
    d = v.integer(d, "d", minimum=1)
    n = v.integer(width, "width", minimum=1)
    n_out = v.integer(n_out, "n_out", minimum=1)
    if n_members is not None:
        n_members = v.integer(n_members, "n_members", minimum=1)
    L = abc.n_hidden
    dims = [d] + [n] * L + [n_out]
    z = _normal_blocks(key, list(zip(dims[:-1], dims[1:])), n_members)
    return [w * float(n) ** (-b) for w, b in zip(z, abc.b)]


def _forward(params, x, a, activation):
    """Hidden representations ``[σ(h¹), ..., σ(h^L)]`` and output, with ``W^l = n^{-a_l} w^l``."""
    sigma = activations.activation_fn(activation)
    n = params[0].shape[1]
    feats, h = [], x
    for l, (w, al) in enumerate(zip(params, a)):
        if l > 0:
            h = sigma(h)
            feats.append(h)
        h = (float(n) ** (-al)) * (h @ w)
    return feats, h


def _check_params(params, x, abc):
    abc = _check_abc(abc)
    if not isinstance(params, (list, tuple)) or len(params) != len(abc.a):
        raise ValueError(f"params must be a list of {len(abc.a)} weight matrices (one per entry "
                         f"of abc.a), got {type(params).__name__} of length "
                         f"{len(params) if isinstance(params, (list, tuple)) else '?'}")
    x = v.float_array(x, "x", ndim=2)
    if x.shape[1] != params[0].shape[0]:
        raise ValueError(f"x must have {params[0].shape[0]} features (the network's input "
                         f"dimension), got shape {x.shape}")
    return abc, x


def apply_abc(params, x, abc, *, activation: str = "relu") -> jax.Array:
    """Network output ``f(x) = W^{L+1} σ(... σ(W¹ x))`` with ``W^l = n^{-a_l} w^l``, ``n`` the
    hidden width; ``x`` is ``(N, d)``, the result ``(N, n_out)``. Traceable (use inside jit)."""
    abc, x = _check_params(params, x, abc)
    activations.activation_fn(activation)
    return _forward(params, x, abc.a, activation)[1]


def abc_features(params, x, abc, *, activation: str = "relu") -> list:
    """The hidden representations ``[σ(h¹(x)), ..., σ(h^L(x))]``, each ``(N, n)``."""
    abc, x = _check_params(params, x, abc)
    activations.activation_fn(activation)
    return _forward(params, x, abc.a, activation)[0]


class WidthSweep(NamedTuple):
    """What :func:`width_sweep` returns (NumPy arrays; R seeds, T records, L hidden layers).

    ``widths`` ``(W,)``; ``steps`` ``(T,)`` the step counts at which records were taken;
    ``loss`` ``(W, R, T)`` training loss; ``feature_change`` ``(W, R, T, L)`` relative change
    ``‖X^l_t − X^l_0‖_F/‖X^l_0‖_F`` of hidden representation l on the probe inputs;
    ``output_change`` ``(W, R, T)`` the RMS change ``‖f_t − f_0‖/√N`` of the output on the probe
    inputs; ``loss0`` ``(W, R)`` the loss at initialization.
    """
    widths: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    feature_change: np.ndarray
    output_change: np.ndarray
    loss0: np.ndarray


def relative_change(x0, x1) -> jax.Array:
    """``‖x1 − x0‖_F / ‖x0‖_F`` over all entries (``x0`` must not be zero)."""
    x0 = v.float_array(x0, "x0")
    x1 = v.float_array(x1, "x1")
    if x0.shape != x1.shape:
        raise ValueError(f"x1 must have the shape of x0 {x0.shape}, got {x1.shape}")
    return jnp.linalg.norm((x1 - x0).ravel()) / jnp.linalg.norm(x0.ravel())


def neuron_movement(W0, W1, *, axis: int = 0) -> jax.Array:
    """Mean distance travelled by a neuron, ``(1/M) Σ_j ‖w_j(1) − w_j(0)‖``, where the neuron's
    weight vector ``w_j`` runs along ``axis`` of ``W0``/``W1`` (``axis=0`` for the ``(d, M)``
    first-layer matrices of :mod:`lib.nets`)."""
    W0 = v.float_array(W0, "W0", ndim=2)
    W1 = v.float_array(W1, "W1", ndim=2)
    if W0.shape != W1.shape:
        raise ValueError(f"W1 must have the shape of W0 {W0.shape}, got {W1.shape}")
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0 or 1 for a matrix, got {axis!r}")
    return jnp.mean(jnp.linalg.norm(W1 - W0, axis=axis))


def _rel(x0, x1):
    return jnp.linalg.norm((x1 - x0).ravel()) / jnp.linalg.norm(x0.ravel())


def width_sweep(key, X, y, *, widths, abc, step_size: float, n_steps: int, n_seeds: int = 4,
                record_every: int = 1, activation: str = "relu", center: bool = True,
                X_probe=None) -> WidthSweep:
    """Train abc-parameterized MLPs of every width in ``widths`` by full-batch gradient descent
    with step ``step_size · n^{-abc.c}``, ``n_seeds`` independent initializations per width
    (vmapped, :func:`lib.nets.train_ensemble`), recording the loss and the movement of every hidden
    representation and of the output on ``X_probe`` (default ``X``) every ``record_every`` steps.
    Width ``widths[i]`` uses the initializations drawn from ``jax.random.fold_in(key, i)``.
    See :class:`WidthSweep` for the output.

    The loss is ``(1/2N) Σ_i (f_θ(x_i) − f_{θ_0}(x_i) − y_i)²`` with ``center=True`` (the
    initial function is subtracted, so every member starts from the same function 0 and the
    seed-to-seed noise of the random initial output, O(1) in the standard and NTK
    parameterizations, does not blur the width dependence), ``(1/2N) Σ_i (f_θ(x_i) − y_i)²``
    with ``center=False``. A diverging run records ``inf``/``nan`` (nothing is clipped): that is
    how an unstable parameterization shows itself.
    """
    abc = _check_abc(abc)
    key = v.key(key)
    X, y = v.samples(X, y)
    Xp = X if X_probe is None else v.float_array(X_probe, "X_probe", ndim=2)
    v.same_dim(X, Xp, "X", "X_probe")
    widths = [v.integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths)]
    if not widths:
        raise ValueError("widths must list at least one width")
    eta = v.scalar(step_size, "step_size", positive=True)
    n_steps = v.integer(n_steps, "n_steps", minimum=1)
    n_seeds = v.integer(n_seeds, "n_seeds", minimum=1)
    record_every = v.integer(record_every, "record_every", minimum=1)
    activations.activation_fn(activation)
    same_probe = X_probe is None
    loss_fn, record_fn = _sweep_functions(activation, same_probe)
    # what every member sees: shared inputs, targets, probes and exponents; its own f_0 and its
    # initial probe representations and output (computed once, not at every record)
    shared = (X, y, Xp, abc.a)
    losses, feats, outs, loss0 = [], [], [], []
    for i, n in enumerate(widths):
        p0 = init_abc(jax.random.fold_in(key, i), X.shape[1], n, abc, n_members=n_seeds)
        f0 = _initial_outputs(p0, X, abc.a, activation=activation)                 # (R, N)
        if not center:
            f0 = jnp.zeros_like(f0)
        probe0 = _initial_probe(p0, Xp, abc.a, activation=activation)   # ([(R, N', n)], (R, N', 1))
        res = nets.train_ensemble(loss_fn, p0, data=shared + (f0, probe0),
                                  data_axes=(None, None, None, None, 0, 0), n_steps=n_steps,
                                  step_size=eta * float(n) ** (-abc.c), record_fn=record_fn,
                                  record_every=record_every)
        lt, ch, oc = res.history                     # (R, T), (R, T, L), (R, T)
        losses.append(np.asarray(lt))
        feats.append(np.asarray(ch))
        outs.append(np.asarray(oc))
        loss0.append(np.asarray(_initial_losses(p0, shared + (f0, probe0), activation=activation)))
    steps = record_every * np.arange(1, n_steps // record_every + 1)
    return WidthSweep(np.asarray(widths), steps, np.stack(losses), np.stack(feats),
                      np.stack(outs), np.stack(loss0))


@lru_cache(maxsize=None)
def _sweep_functions(activation: str, same_probe: bool):
    """The loss and the record of :func:`width_sweep` for one member, as functions of its
    parameters and ``data = (X, y, X_probe, a, f0, (features_0, output_0))`` (the member's
    initial representations and output on the probe inputs); one pair per activation and probe
    kind, so that repeated sweeps reuse the compiled training loop. With ``same_probe`` (the probe
    set is ``X``) the record evaluates the network once and takes the loss from that output."""
    def residual_loss(out, data):
        _, y, _, _, f0, _ = data
        return 0.5 * jnp.mean((out[:, 0] - f0 - y) ** 2)

    def loss(p, data):
        return residual_loss(_forward(p, data[0], data[3], activation)[1], data)

    def record(p, data):
        _, _, Xp, a, _, (fe0, out0) = data
        fe, out = _forward(p, Xp, a, activation)
        lt = residual_loss(out, data) if same_probe else loss(p, data)
        return (lt, jnp.stack([_rel(u, w) for u, w in zip(fe0, fe)]),
                jnp.sqrt(jnp.mean((out - out0) ** 2)))
    return loss, record


@partial(jax.jit, static_argnames="activation")
def _initial_outputs(p0, X, a, *, activation):
    return jax.vmap(lambda p: _forward(p, X, a, activation)[1][:, 0])(p0)


@partial(jax.jit, static_argnames="activation")
def _initial_probe(p0, Xp, a, *, activation):
    return jax.vmap(lambda p: _forward(p, Xp, a, activation))(p0)


@partial(jax.jit, static_argnames="activation")
def _initial_losses(p0, data, *, activation):
    loss = _sweep_functions(activation, False)[0]
    return jax.vmap(loss, in_axes=(0, (None, None, None, None, 0, 0)))(p0, data)
