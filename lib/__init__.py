"""`lib`: the small JAX package behind *Mathematics of Deep Learning*.

Modules
-------
Core kernels (see DESIGN.md)
  ntk            analytic (infinite-width) and empirical neural tangent kernels
  ridgeless      min-norm / ridge / kernel regression, double-descent asymptotics, Marchenko–Pastur
  mfld           mean-field Langevin dynamics of interacting particles
  nets           MLPs in standard / NTK / mean-field parameterization, jitted training loops
  data           synthetic data sets (explicit PRNG keys, no downloads)
  stats          power-law fits and Monte-Carlo error bars for the check cells
  plotting       the book's figure theme and log-log plots with fitted slopes
  book           setup_chapter(): BOOK_SCALE, BOOK_SEED, PRNG key and theme for a chapter

Part I — expressivity
  approximation  two-layer nets as universal approximators: ReLU interpolants, sigmoid staircases
  kernels        arc-cosine and conjugate kernels, kernel alignment, Mercer spectra on the sphere
  features       random vs learned first layers: nested random-feature fits, features needed for ε
  regions        linear regions of ReLU nets; sawtooth, zigzag and Yarotsky constructions
  estimators     tuned kernel ridge vs early-stopped ReLU nets: the nonparametric-regression harness

Part 0 / II — optimization basics and generalization
  optim          ridge least squares for GD/SGD: exact suboptimality, SGD constants, cost to reach ε
  complexity     Rademacher complexity of norm balls; VC, spectral, Frobenius, PAC-Bayes bounds
  compression    effective degrees of freedom, spectral pruning, compression bounds
  benign         effective ranks r_k, R_k and exact risk of interpolation for spiked covariances
  implicit_bias  preconditioned GD and its interpolators, matrix sensing, deep linear nets

Part III / IV — optimization dynamics and outlook
  landscape      critical points, Gaussian smoothing, noisy and graduated descent, mode paths
  scalings       abc-parameterizations (NTK, mean field, μP) and width sweeps
  linearized     kernel gradient descent, norm bounds, averaged SGD in the NTK regime
  one_step       Gaussian-equivalence constants, one-step feature learning, BBP spikes
  mean_field     1-D optimal transport, teacher alignment, logistic mean-field drifts
  langevin       Gibbs laws, ULA bias, KL decay and escape times of Langevin dynamics
  resnet         residual networks as Euler schemes; functional-gradient boosting (ResFGB)
"""
from . import (approximation, benign, book, complexity, compression, data, estimators, features,
               implicit_bias, kernels, landscape, langevin, linearized, mean_field, mfld, nets, ntk, one_step,
               optim, plotting, regions, resnet, ridgeless, scalings, stats)

__all__ = ["approximation", "benign", "book", "complexity", "compression", "data", "estimators",
           "features", "implicit_bias", "kernels", "landscape", "langevin", "linearized", "mean_field", "mfld",
           "nets", "ntk", "one_step", "optim", "plotting", "regions", "resnet", "ridgeless",
           "scalings", "stats"]
__version__ = "0.1.0"
