"""Lazy submodules: ``package.name`` imports ``package/name.py`` on first access (PEP 562)."""
import importlib


def submodule_getattr(package: str, names):
    """Return a module ``__getattr__`` that imports the listed submodules of ``package`` on demand."""
    names = frozenset(names)

    def __getattr__(name):
        if name in names:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
