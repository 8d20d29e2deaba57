"""Part IV — Outlook.

  resnet   ch. 4: residual networks as Euler schemes; functional-gradient boosting (ResFGB)

Modules are imported on first use (``from lib.outlook import resnet``); each imports only the core of `lib`.
"""
from .._lazy import submodule_getattr

__all__ = ["resnet"]

__getattr__ = submodule_getattr(__name__, __all__)
