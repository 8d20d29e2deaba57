"""The Colab notebooks are self-contained.

What a Colab user gets is the generated ``.ipynb`` plus ``lib`` installed by its set-up cell. This
test stands in for that: it builds a wheel of ``lib`` from the repository, installs it into a fresh
virtual environment outside the checkout, and executes a generated notebook there from a temporary
directory. The third-party packages (JAX, matplotlib, ...) come from the project environment's
site-packages, standing in for Colab's preinstalled ones; the editable install of ``lib`` there is
not visible (a path in a ``.pth`` file does not run that directory's ``.pth`` hooks), and the test
asserts that ``lib`` is imported from the wheel.

Not part of ``make test-lib``: ``make test`` checks one chapter; ``COLAB_CHECK=all``
(``make colab-check``) checks all.
"""
from __future__ import annotations

import os
import subprocess
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from chapters import ROOT, colab_notebook, toc_notebooks

DEFAULT_CHAPTER = "book/part1/depth.md"
CHAPTERS = ([str(p.relative_to(ROOT)) for p in toc_notebooks()]
            if os.environ.get("COLAB_CHECK") == "all" else [DEFAULT_CHAPTER])

EXECUTE = textwrap.dedent("""\
    import sys, nbformat, nbclient
    nb = nbformat.read(sys.argv[1], as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": sys.argv[2]}})
    client.execute()
    print("executed", len(nb.cells), "cells")
""")

WHERE_IS_LIB = textwrap.dedent("""\
    import os, sys, lib
    assert lib.__file__.startswith(sys.prefix), (lib.__file__, sys.prefix)
    others = [p for p in sys.path if not p.startswith(sys.prefix)
              and os.path.isfile(os.path.join(p or ".", "lib", "__init__.py"))]
    assert not others, f"another copy of lib is importable: {{others}}"
    assert not os.path.realpath(os.getcwd()).startswith({root!r})
""")


@pytest.fixture(scope="module")
def colab_python(lib_wheel, fresh_venv, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with ``lib`` installed from a wheel of the repository."""
    python = fresh_venv(tmp_path_factory.mktemp("colab") / "venv", "--no-deps", "--no-index",
                        str(lib_wheel))
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_notebook_runs_outside_the_checkout(colab_python, chapter, tmp_path):
    nb = colab_notebook(ROOT / chapter, ref="HEAD")
    nb.cells.insert(2, nbformat.v4.new_code_cell(WHERE_IS_LIB.format(root=str(ROOT))))
    workdir = tmp_path / "run"
    workdir.mkdir()
    path = workdir / Path(chapter).with_suffix(".ipynb").name
    nbformat.write(nb, path)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST")}
    env["PATH"] = f"{colab_python.parent}:{env.get('PATH', '')}"
    env["JUPYTER_PATH"] = str(colab_python.parent.parent / "share" / "jupyter")
    result = subprocess.run([str(colab_python), "-c", EXECUTE, str(path), str(workdir)],
                            cwd=workdir, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
