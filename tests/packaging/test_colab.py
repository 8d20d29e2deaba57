"""The Colab notebooks are self-contained, and their set-up cell keeps Colab's JAX.

What a Colab user gets is the generated ``.ipynb``, run in a runtime with its own JAX, plus ``lib``
installed by the notebook's set-up cell (``book/_ext/colab_setup.py``). This test stands in for
that: a fresh virtual environment outside the checkout starts with the oldest JAX ``lib`` supports
(the floor in ``pyproject.toml``, 0.5.3) installed by pip, a stand-in ``google.colab`` module, and
the other third-party packages (matplotlib, the kernel, ...) from the project environment's
site-packages through a ``.pth`` file, which comes after the venv's own site-packages on
``sys.path``, so that the venv's JAX shadows the project's. The generated notebook runs from a
temporary directory with its set-up cell installing a wheel of ``lib`` built from the repository;
the test asserts that ``lib`` is imported from that wheel (the editable install of the project is
not visible: a path in a ``.pth`` file does not run that directory's ``.pth`` hooks), that JAX is
still the preinstalled version, and that every cell passes. The cell's dependency logic is also
checked on its own, with pip and the installed versions replaced.

Not part of ``make test-lib``: ``make test`` checks one chapter; ``COLAB_CHECK=all``
(``make colab-check``) checks all.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path
from unittest import mock

import nbformat
import pytest

from chapters import ROOT, colab_notebook, toc_notebooks
from colab_setup import INSTALL_FUNCTION, setup_cell

DEFAULT_CHAPTER = "book/part1/depth.md"
CHAPTERS = ([str(p.relative_to(ROOT)) for p in toc_notebooks()]
            if os.environ.get("COLAB_CHECK") == "all" else [DEFAULT_CHAPTER])
# The oldest supported JAX: the floor pyproject.toml declares (`jax>=X`).
DEPENDENCIES = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
JAX_FLOOR = next(m[1] for d in DEPENDENCIES if (m := re.fullmatch(r"jax\s*>=\s*([\d.]+)", d)))

EXECUTE = textwrap.dedent("""\
    import sys, nbformat, nbclient
    nb = nbformat.read(sys.argv[1], as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": sys.argv[2]}})
    client.execute()
    nbformat.write(nb, sys.argv[1])
    print("executed", len(nb.cells), "cells")
""")

# Colab's kernel imports google.colab at start-up; here a first cell imports the stand-in.
IMPORT_COLAB = "import google.colab  # the stand-in for Colab's module (see the test)"

WHERE_IS_LIB = textwrap.dedent("""\
    import os, sys, jax, lib
    from importlib import metadata
    assert lib.__file__.startswith(sys.prefix), (lib.__file__, sys.prefix)
    others = [p for p in sys.path if not p.startswith(sys.prefix)
              and os.path.isfile(os.path.join(p or ".", "lib", "__init__.py"))]
    assert not others, f"another copy of lib is importable: {{others}}"
    assert not os.path.realpath(os.getcwd()).startswith({root!r})
    assert jax.__version__ == metadata.version("jax") == {jax!r}, jax.__version__
    assert jax.__file__.startswith(sys.prefix), jax.__file__
""")


@pytest.fixture(scope="module")
def colab_python(fresh_venv, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout standing in for a Colab runtime: JAX at the floor
    preinstalled, ``google.colab`` importable, the other packages from the project environment."""
    python = fresh_venv(tmp_path_factory.mktemp("colab") / "venv", "--no-deps",
                        f"jax=={JAX_FLOOR}", f"jaxlib=={JAX_FLOOR}")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(python), "-c", purelib], capture_output=True, text=True,
                               check=True).stdout.strip())
    stand_in = site / "google" / "colab"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')
    # jax imports google.colab.output when google.colab is loaded (its debugger's Colab front end)
    (stand_in / "output.py").write_text('"""Stand-in for Colab\'s output module."""\n')
    (site / "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_notebook_runs_outside_the_checkout(colab_python, lib_wheel, chapter, tmp_path):
    nb = colab_notebook(ROOT / chapter, ref="HEAD")
    [setup] = [c for c in nb.cells if "colab-setup" in c.metadata.get("tags", [])]
    setup.source = setup_cell(str(lib_wheel))
    at = nb.cells.index(setup)
    nb.cells.insert(at, nbformat.v4.new_code_cell(IMPORT_COLAB))
    nb.cells.insert(at + 2, nbformat.v4.new_code_cell(WHERE_IS_LIB.format(root=str(ROOT),
                                                                          jax=JAX_FLOOR)))
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
    executed = nbformat.read(path, as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[at + 1].outputs)
    assert f"JAX {JAX_FLOOR}, backend: cpu" in printed, printed


# --- the set-up cell's dependency logic, with pip and the installed versions replaced ---------


def run_install(installed: dict[str, str], requires: list[str], imported=()):
    """Run the cell's ``install_lib`` with ``installed`` (name -> version) as the environment and
    ``requires`` as lib's declared dependencies; return the pip command lines it ran."""
    namespace = {"sys": sys}
    exec(INSTALL_FUNCTION, namespace)

    def version(name):
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    with mock.patch("subprocess.run") as run, mock.patch.object(metadata, "version", version), \
            mock.patch.object(metadata, "requires", lambda name: requires), \
            mock.patch.dict(sys.modules, {m: mock.Mock() for m in imported}):
        namespace["install_lib"]("mathdl-lib @ file:///lib.whl")
    return [call.args[0][call.args[0].index("install") + 1:] for call in run.call_args_list]


REQUIRES = ["jax>=0.5.3", "numpy>=1.26", "scipy>=1.11", "matplotlib>=3.8", "seaborn>=0.13"]


def test_install_cell_adds_only_missing_or_old_dependencies(capsys):
    installed = {"jax": "0.5.3", "jaxlib": "0.5.3", "numpy": "1.25.2", "scipy": "1.16.0",
                 "matplotlib": "3.10.0"}
    calls = run_install(installed, REQUIRES, imported=["numpy"])
    # installing lib with its dependencies (which may replace JAX) fails here
    assert calls[0] == ["--quiet", "--no-deps", "mathdl-lib @ file:///lib.whl"]
    # reinstalling satisfied packages, or skipping an old/missing one, fails here
    assert calls[1:] == [["--quiet", "numpy>=1.26", "seaborn>=0.13"]], calls
    # upgrading a module already imported without asking for a restart fails here
    out = capsys.readouterr().out
    assert re.search(r"imported before the upgrade: numpy>=1\.26 - restart", out), out


def test_install_cell_never_replaces_jax():
    for installed in ({"jax": "0.4.33", "numpy": "2.0.2"}, {"numpy": "2.0.2"}):
        # an install cell that upgrades (or installs) JAX instead of stopping fails here
        with pytest.raises(RuntimeError, match=r"needs jax>=0\.5\.3"):
            run_install(installed, REQUIRES)
    calls = run_install({"jax": "0.5.3", "jax-cuda12-plugin": "0.4.0", "numpy": "2.0.2"},
                        ["jax>=0.5.3", "jax-cuda12-plugin>=0.5.3; extra == 'cuda'", "numpy>=1.26"])
    # a cell that follows an optional extra (the CUDA plugin) fails here
    assert calls[1:] == [], calls
