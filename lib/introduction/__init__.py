"""Part 0 — Introduction.

  gradient_descent   ch. 0.2: ridge least squares for GD/SGD, exact suboptimality, SGD constants

Modules are imported on first use (``from lib.introduction import gradient_descent``); each imports only the core of `lib`.
"""
from .._lazy import submodule_getattr

__all__ = ["gradient_descent"]

__getattr__ = submodule_getattr(__name__, __all__)
