"""What a reader outside the checkout gets: a wheel of `lib` built from a copy of the repository."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]


@pytest.fixture(scope="session")
def lib_wheel(tmp_path_factory) -> Path:
    """A wheel of ``lib`` built from a copy of its sources (the checkout is left untouched)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "lib", src / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(PIP + ["wheel", "--no-deps", "--wheel-dir", str(tmp / "dist"), str(src)],
                   check=True)
    return next((tmp / "dist").glob("mathdl_lib-*.whl"))


@pytest.fixture(scope="session")
def fresh_venv():
    """``fresh_venv(path, *pip_install_args)``: a new virtual environment at ``path`` into which the
    project's pip installs ``pip_install_args``; returns its python."""
    def make(path: Path, *pip_install_args: str) -> Path:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        python = path / "bin" / "python"
        subprocess.run(PIP + ["--python", str(python), "install", *pip_install_args], check=True)
        return python
    return make
