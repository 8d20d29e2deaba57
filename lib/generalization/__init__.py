"""Part II — Generalization.

  overparameterization   ch. 2.1: Rademacher complexity of norm balls; VC, spectral, PAC-Bayes bounds
  compression            ch. 2.2: effective degrees of freedom, spectral pruning, compression bounds
  double_descent         ch. 2.3: anisotropic (self-consistent) and random-features (Mei–Montanari) limits
  benign_overfitting     ch. 2.4: effective ranks and the exact risk of interpolation
  implicit_bias          ch. 2.5: preconditioned GD, matrix sensing, deep linear nets

Modules are imported on first use (``from lib.generalization import compression``); each imports only the core of `lib`.
"""
from .._lazy import submodule_getattr

__all__ = ["overparameterization", "compression", "double_descent", "benign_overfitting",
           "implicit_bias"]

__getattr__ = submodule_getattr(__name__, __all__)
