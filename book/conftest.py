"""Collect the book's chapters for nbval.

nbval only collects ``.ipynb`` files; the chapters are jupytext MyST-markdown notebooks. Every
``.md`` file listed in ``_toc.yml`` that is a notebook (its front matter names a kernelspec) is
read with jupytext and handed to nbval's collector, which executes it cell by cell
(``--nbval-lax``: a cell fails the test when it raises, e.g. a failing check ``assert``).
"""
from __future__ import annotations

from unittest import mock

import jupytext
import nbval.plugin

from chapters import toc_notebooks

_NOTEBOOKS = {p.resolve() for p in toc_notebooks()}


class MystNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading the notebook through jupytext."""

    def collect(self):
        read = lambda path, as_version: jupytext.read(path)  # noqa: E731
        with mock.patch.object(nbval.plugin.nbformat, "read", read):
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".md" and file_path.resolve() in _NOTEBOOKS:
        return MystNotebook.from_parent(parent, path=file_path)
    return None
