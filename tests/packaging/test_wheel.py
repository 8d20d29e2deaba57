"""`lib` installs from a wheel with only its declared dependencies, and every module imports.

A fresh virtual environment outside the checkout gets the wheel and what ``pyproject.toml``
declares (pip resolves them from the package index, or its cache) — nothing from the project's
environment. An undeclared import (say scipy, used but not declared) fails here.
"""
from __future__ import annotations

import subprocess
import textwrap

IMPORT_ALL = textwrap.dedent("""\
    import importlib, pkgutil, sys, lib
    assert lib.__file__.startswith(sys.prefix), lib.__file__
    names = [m.name for m in pkgutil.walk_packages(lib.__path__, "lib.")]
    for name in names:
        importlib.import_module(name)
    print(len(names), "modules")
""")


def test_wheel_installs_with_declared_dependencies_only(lib_wheel, fresh_venv, tmp_path):
    python = fresh_venv(tmp_path / "venv", str(lib_wheel))
    out = subprocess.run([str(python), "-c", IMPORT_ALL], cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.split()[0]) >= 20, out.stdout
