"""Each chapter executes once: the execution cache that nbval fills and the site build reads.

``make test`` executes every chapter with nbval (``book/conftest.py``). When all of a chapter's
cells pass, ``store`` writes the executed notebook into the jupyter-cache that myst-nb reads with
``execute_notebooks: cache``, so the site build that follows executes nothing; a chapter that
failed is not stored. Where nothing is stored (``make book`` on a fresh clone), myst-nb executes
the chapter itself and stores it in the same cache.

The cache is ``_build/.jupyter_cache/<key>``, ``key`` a short hash of every ``.py`` file under
``lib/`` and of ``BOOK_SCALE`` and ``BOOK_SEED`` (defaults 1 and 0). Within it, jupyter-cache
matches a notebook by a hash of its kernelspec and code cells (source and metadata). So editing a
chapter's code, any ``lib`` source, the scale or the seed re-executes the chapter. nbval reads each
chapter with ``read_notebook``, myst-nb's own reader, so what it stores hashes as what myst-nb
looks up. ``use_cache`` (a Sphinx ``config-inited`` hook, registered by ``chapters.setup``) points
myst-nb at the cache, overriding ``execute.cache`` in ``_config.yml``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = {"BOOK_SCALE": "1", "BOOK_SEED": "0"}  # variables the chapters read, and defaults


def cache_key(root: Path = ROOT) -> str:
    """Short hash of the ``lib/`` sources (paths and contents), ``BOOK_SCALE`` and ``BOOK_SEED``."""
    digest = hashlib.sha256()
    for path in sorted((root / "lib").rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes() + b"\0")
    for name, default in ENVIRONMENT.items():
        digest.update(f"{name}={os.environ.get(name, default)}\0".encode())
    return digest.hexdigest()[:16]


def cache_path(root: Path = ROOT) -> Path:
    """The jupyter-cache of the current ``lib``, scale and seed."""
    return root / "_build" / ".jupyter_cache" / cache_key(root)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A MyST-markdown chapter read as myst-nb reads it for the site build."""
    text = Path(path).read_text(encoding="utf-8")
    return read_myst_markdown_notebook(text, add_source_map=True, path=str(path))


def store(nb: nbformat.NotebookNode, path: Path, seconds: float, root: Path = ROOT):
    """Store ``nb``, the executed chapter ``path``, where the site build will look it up."""
    bundle = CacheBundleIn(nb, str(path), data={"execution_seconds": seconds})
    return get_cache(str(cache_path(root))).cache_notebook_bundle(bundle, overwrite=True)


def use_cache(app, config):
    """Sphinx ``config-inited``: myst-nb reads and writes the cache of ``cache_path``."""
    config.nb_execution_cache_path = str(cache_path(Path(app.srcdir)))
