"""Part III — Optimization.

  landscapes     ch. 3.1: critical points, Gaussian smoothing, graduated descent, mode paths
  two_scalings   ch. 3.2: abc-parameterizations (NTK, mean field, μP) and width sweeps
  ntk_training   ch. 3.3: kernel gradient descent, norm bounds, averaged SGD in the NTK regime
  one_step       ch. 3.4: Gaussian-equivalence constants, one-step feature learning, BBP spikes
  mean_field     ch. 3.5: 1-D optimal transport, teacher alignment
  langevin       ch. 3.6: Gibbs laws, ULA bias, KL decay and escape times
  mean_field_langevin  ch. 3.7 (chapter "mfld"): the solvable quadratic mean-field model (exact gap
                 and finite-N / step-size floor), MMD density estimation

Modules are imported on first use (``from lib.optimization import langevin``); each imports only the core of `lib`.
"""
from .._lazy import submodule_getattr

__all__ = ["landscapes", "two_scalings", "ntk_training", "one_step", "mean_field", "langevin",
           "mean_field_langevin"]

__getattr__ = submodule_getattr(__name__, __all__)
