"""Collect the book's chapters for nbval, and keep what it executed for the site build.

nbval only collects ``.ipynb`` files; the chapters are jupytext MyST-markdown notebooks. Every
``.md`` file listed in ``_toc.yml`` that is a notebook (its front matter names a kernelspec) is
read as myst-nb reads it and handed to nbval's collector, which executes it cell by cell
(``--nbval-lax``: a cell fails the test when it raises, e.g. a failing check ``assert``).

Each cell's outputs are recorded from the kernel's messages as nbclient records them. When every
cell of a chapter passed, the executed chapter is stored in the execution cache that the site build
reads (``execution_cache``), so ``make test`` executes each chapter once. A chapter with a failing
cell, or of which only some cells ran (``-k``), is not stored.
"""
from __future__ import annotations

import time
from unittest import mock

import nbformat
import nbval.plugin
import pytest

import execution_cache
from chapters import toc_notebooks

_NOTEBOOKS = {p.resolve() for p in toc_notebooks()}
_OUTPUTS = ("stream", "display_data", "execute_result", "error")
OUTPUT_TIMEOUT = 120  # seconds nbval waits for a cell's outputs once the kernel has replied


class MystNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading the chapter as myst-nb does and storing its outputs."""

    def collect(self):
        read = lambda path, as_version: execution_cache.read_notebook(path)  # noqa: E731
        with mock.patch.object(nbval.plugin.nbformat, "read", read):
            yield from super().collect()

    def setup(self):
        self.messages, self.passed, self.seconds = [], 0, 0.0
        super().setup()
        reply = self.kernel.kc.kernel_info(reply=True, timeout=60)
        self.nb.metadata["language_info"] = reply["content"]["language_info"]

    def get_kernel_message(self, timeout=None, stream="iopub"):
        message = super().get_kernel_message(timeout=timeout, stream=stream)
        self.messages.append(message)
        return message

    def keep(self, cell, start: int, seconds: float):
        """Give a cell that passed its outputs from the messages since ``start``, as nbclient does."""
        messages = self.messages[start:]
        request = next(m["parent_header"]["msg_id"] for m in messages
                       if m["msg_type"] == "execute_input")
        self.passed += 1
        self.seconds += seconds
        cell.execution_count = self.passed  # nbclient's numbering (nbval does not store history)
        cell.outputs = [nbformat.v4.output_from_msg(m) for m in messages
                        if m["parent_header"].get("msg_id") == request and m["msg_type"] in _OUTPUTS]
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = self.passed

    def teardown(self):
        super().teardown()
        if self.passed == sum(cell.cell_type == "code" for cell in self.nb.cells):
            execution_cache.store(self.nb, self.path, self.seconds)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Run a chapter's cell; when it passes, keep its outputs (``MystNotebook.keep``).

    nbval waits a fixed 5 s for a cell's outputs after the kernel has replied; on a loaded machine
    a figure can arrive later than that, failing a cell that passed, so the wait is raised.
    """
    item.output_timeout = OUTPUT_TIMEOUT
    start, begun = len(item.parent.messages), time.perf_counter()
    result = yield
    item.parent.keep(item.cell, start, time.perf_counter() - begun)
    return result


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".md" and file_path.resolve() in _NOTEBOOKS:
        return MystNotebook.from_parent(parent, path=file_path)
    return None
