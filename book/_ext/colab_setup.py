"""The set-up cell at the top of every Colab notebook (``chapters.colab_notebook`` puts it there).

Inside Colab (``"google.colab" in sys.modules``) the cell

1. installs the book's ``lib`` pinned to a commit, without its dependencies;
2. reads the dependencies ``lib`` declares from the installed distribution's metadata and installs
   only those that are missing or older than declared; it never installs ``jax``, ``jaxlib`` or a
   ``jax-cuda*`` plugin: Colab's JAX comes with a CUDA plugin of the same version, and replacing
   one without the other breaks the runtime or silently falls back to the CPU. If Colab's JAX is
   older than ``lib`` supports, the cell says so and stops;
3. prints the JAX version and the backend (``cpu`` / ``gpu``) the chapter will run on.

Outside Colab it only does step 3. The logic is written out in the cell, for the reader to see.
``setup_cell(spec)`` takes the pip requirement of ``lib``: ``git_spec(repository, ref)`` for the
published notebooks, a local wheel in tests/packaging/test_colab.py.
"""
from __future__ import annotations

# The function the cell defines and calls. A module-level constant of its own so that a test can
# run it with pip and the installed metadata replaced.
INSTALL_FUNCTION = '''\
def install_lib(spec):
    """pip-install `lib` (spec) without dependencies, then only the dependencies it declares that
    are missing or too old. Never JAX, jaxlib or a CUDA plugin: Colab's own stay."""
    import re, subprocess
    from importlib import metadata
    from packaging.requirements import Requirement
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--no-deps", spec], check=True)
    needed = []
    for req in map(Requirement, metadata.requires("mathdl-lib") or []):
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            have = None
        if have is not None and req.specifier.contains(have, prereleases=True):
            continue
        if re.fullmatch(r"jax|jaxlib|jax[-_.]cuda.*", req.name.lower()):
            raise RuntimeError(
                f"This runtime has {req.name} {have}, but the book's lib needs {req}. Installing "
                "another JAX would break Colab's GPU plugin, so nothing else was changed: choose "
                "a newer runtime (Runtime > Change runtime type > Runtime version: Latest).")
        needed.append(str(req))
    if needed:
        print("installing", *needed)
        subprocess.run(pip + needed, check=True)
        stale = [r for r in needed if Requirement(r).name.lower() in sys.modules]
        if stale:
            print("Already imported before the upgrade:", *stale,
                  "- restart the session (Runtime > Restart session) and run this cell again.")
'''

CELL = '''\
# Set-up. Inside Colab this installs the book's `lib` at the commit this notebook was built from,
# keeping Colab's JAX; elsewhere it does nothing but report JAX (install the repository with
# `make setup` or `pip install -e .`).
import os, sys
BOOK_SCALE = 1  # 1: CPU teaching size (about a minute); try 8 on a GPU runtime
LIB = {spec!r}


{function}


if "google.colab" in sys.modules:
    install_lib(LIB)
    os.environ["BOOK_SCALE"] = str(BOOK_SCALE)
import jax
print(f"JAX {{jax.__version__}}, backend: {{jax.default_backend()}}")
%matplotlib inline'''


def git_spec(repository: str, ref: str) -> str:
    """The pip requirement of ``lib`` at commit ``ref`` of the GitHub repository ``owner/name``."""
    return f"mathdl-lib @ git+https://github.com/{repository}@{ref}"


def setup_cell(spec: str) -> str:
    """The source of the Colab set-up cell that installs ``lib`` from the pip requirement ``spec``."""
    return CELL.format(spec=spec, function=INSTALL_FUNCTION.rstrip("\n"))
