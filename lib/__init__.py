"""`lib`: the small JAX package behind *Mathematics of Deep Learning*.

The core (this folder) is what a newcomer reads first; every chapter builds on it::

    from lib import ntk, ridgeless, mfld

Core kernels (see DESIGN.md)
  ntk            analytic (infinite-width) and empirical neural tangent kernels
  ridgeless      min-norm / ridge / kernel ridge regression (one spectral solver),
                 double-descent asymptotics, Marchenko–Pastur
  mfld           mean-field Langevin dynamics of interacting particles (one integrator)
What they share
  activations    activation functions, their derivatives and Gaussian expectations (dual kernels)
  kernels        arc-cosine, Gaussian and Laplace kernels, conjugate kernels, Mercer spectra
  nets           MLPs in standard / NTK / mean-field parameterization, jitted training loops
  data           synthetic data sets (explicit PRNG keys, no downloads)
  stats          power-law fits and Monte-Carlo error bars for the check cells
  plotting       the book's figure theme and log-log plots with fitted slopes (matplotlib, seaborn)
  book           setup_chapter(): BOOK_SCALE, BOOK_SEED, PRNG key and theme for a chapter
  grading        grade(): the graders of the chapters' code exercises (fresh random inputs, PASS/FAIL)

Chapter topics, one subpackage per part of the book, one module per chapter (``lib.<part>.<chapter>``,
named after the chapter's file ``book/<part>/<chapter>.md`` unless noted):
  introduction   gradient_descent
  expressivity   universal_approximation, random_vs_learned_features, depth, adaptivity_besov
  generalization overparameterization, compression, double_descent, benign_overfitting,
                 implicit_bias
  optimization   landscapes, two_scalings, ntk_training (chapter "ntk"), one_step, mean_field, langevin,
                 mean_field_langevin (chapter "mfld")
  outlook        resnet (chapter "outlook")
Chapters 0.1 and 1.2 need nothing beyond the core.

The dependency rule (tested in tests/test_architecture.py): topic modules import only the core; the
core never imports a topic module; topic modules never import one another; no private name crosses a
module boundary. Importing this package is lazy: ``import lib.ntk`` loads neither a plotting library
nor any topic module.
"""
from ._lazy import submodule_getattr

CORE = ("ntk", "ridgeless", "mfld", "activations", "kernels", "nets", "data", "stats", "plotting",
        "book", "grading")
PARTS = ("introduction", "expressivity", "generalization", "optimization", "outlook")

__all__ = list(CORE + PARTS)
__version__ = "0.1.0"

__getattr__ = submodule_getattr(__name__, __all__)


def __dir__():
    return sorted(list(globals()) + __all__)
