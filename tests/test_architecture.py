"""The layout rules of DESIGN.md, checked from the source: who may import whom, lazy imports, __all__."""
from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import subprocess
import sys

import pytest

import lib

LIB = pathlib.Path(lib.__file__).parent
MODULES = sorted(p for p in LIB.rglob("*.py"))


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_topic(name: str) -> bool:
    return name.split(".")[1:2] and name.split(".")[1] in lib.PARTS and name.count(".") >= 2


def lib_imports(path: pathlib.Path, source: str | None = None):
    """Yield (imported module, imported names) for every import of a `lib` module in ``path``
    (whose text is ``source`` if given, else read from ``path``)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lib":
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "lib":
                continue
            names = [a.name for a in node.names]
            submodules = [f"{target}.{n}" for n in names if (LIB.parent / f"{target}.{n}".replace(".", "/")).with_suffix(".py").exists()
                          or (LIB.parent / f"{target}.{n}".replace(".", "/") / "__init__.py").exists()]
            if submodules:
                for sub in submodules:
                    yield sub, []
            else:
                yield target, names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_dependency_rule(path):
    """Topic modules import only the core; the core imports no topic module; no private name crosses."""
    me = module_name(path)
    for target, names in lib_imports(path):
        if target in ("lib", "lib._lazy", "lib._validate") or target.endswith("._lazy"):
            continue
        if is_topic(target):
            assert not is_topic(me) or target == me, f"{me} imports the topic module {target}"
            assert is_topic(me), f"core module {me} imports the topic module {target}"
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{me} imports private names {private} from {target}"
        assert not target.rpartition(".")[2].startswith("_"), f"{me} imports the private module {target}"


def test_dependency_rule_sees_violations():
    """The AST reader resolves relative imports (a test that cannot fail proves nothing)."""
    module = LIB / "optimization" / "langevin.py"
    assert any(t == "lib._validate" for t, _ in lib_imports(module))
    bad = "from ..expressivity import depth\nfrom ..nets import _private\n"
    got = list(lib_imports(module, source=bad))
    assert ("lib.expressivity.depth", []) in got and ("lib.nets", ["_private"]) in got


def test_core_import_is_light():
    """`import lib.ntk, lib.ridgeless, lib.mfld` loads no plotting library, scipy or topic module."""
    code = ("import sys, lib.ntk, lib.ridgeless, lib.mfld, lib.kernels, lib.nets, lib.data, lib.stats\n"
            "print(' '.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded} & {"matplotlib", "seaborn", "scipy"})
    topics = [m for m in loaded if m.startswith("lib.") and m.split(".")[1] in lib.PARTS]
    assert not heavy and not topics, f"the core pulled in {heavy + topics}"


PUBLIC_MODULES = [module_name(p) for p in MODULES
                  if not any(part.startswith("_") for part in p.relative_to(LIB).with_suffix("").parts)]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_correct(name):
    """`__all__` exists, names only defined objects, and lists every public function and class."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    for n in exported:
        assert hasattr(module, n), f"{name}.__all__ names {n!r}, which is not defined"
    defined_here = {n for n, obj in vars(module).items()
                    if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and getattr(obj, "__module__", None) == name}
    missing = sorted(defined_here - set(exported))
    assert not missing, f"{name} defines public {missing} but leaves them out of __all__"
