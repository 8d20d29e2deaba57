"""Part I — Expressivity.

  universal_approximation      ch. 1.1: two-layer ReLU interpolants, sigmoid staircases, batched fits
  random_vs_learned_features   ch. 1.3: nested random-feature fits, features needed for ε
  depth                        ch. 1.4: linear regions; sawtooth, zigzag and Yarotsky constructions
  adaptivity_besov             ch. 1.5: tuned kernel ridge vs ReLU nets, Haar coefficients

Modules are imported on first use (``from lib.expressivity import depth``); each imports only the core of `lib`.
"""
from .._lazy import submodule_getattr

__all__ = ["universal_approximation", "random_vs_learned_features", "depth", "adaptivity_besov"]

__getattr__ = submodule_getattr(__name__, __all__)
