"""The execution cache: what nbval stores is what the site build looks up (``execution_cache``).

No chapter is executed: a tiny synthetic MyST notebook stands in for an executed chapter, and
myst-nb's own client, configured from ``_config.yml`` as the build configures it, must find it in
the cache instead of executing it.
"""
from __future__ import annotations

from unittest import mock

import nbformat
import pytest
from jupyter_book.config import get_final_config
from jupyter_cache.cache.main import JupyterCacheBase
from myst_nb.core.config import NbParserConfig
from myst_nb.core.execute import create_client
from myst_nb.core.read import create_nb_reader
from myst_parser.config.main import MdParserConfig

import execution_cache
from chapters import ROOT, toc_notebooks

NOTEBOOK = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
# A chapter

```{code-cell} ipython3
import os
SCALE = int(os.environ.get("BOOK_SCALE", 1))
```

:::{note}
A note, between two code cells.
:::

```{code-cell} ipython3
:tags: [hide-input]
print(SCALE)
```
"""


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A book root with a ``lib`` package and one chapter, at the default scale and seed."""
    for name in execution_cache.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "lib" / "part").mkdir(parents=True)
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "part" / "topic.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "chapter.md").write_text(NOTEBOOK)
    return tmp_path


def test_key_follows_lib_sources_scale_and_seed(book, monkeypatch):
    key = execution_cache.cache_key(book)
    assert execution_cache.cache_key(book) == key
    monkeypatch.setenv("BOOK_SCALE", "1")
    monkeypatch.setenv("BOOK_SEED", "0")
    assert execution_cache.cache_key(book) == key, "the defaults are the unset variables"
    (book / "lib" / "part" / "topic.py").write_text("def f(x):\n    return 2 * x\n")
    changed = {execution_cache.cache_key(book)}
    monkeypatch.setenv("BOOK_SCALE", "8")
    changed.add(execution_cache.cache_key(book))
    monkeypatch.setenv("BOOK_SEED", "3")
    changed.add(execution_cache.cache_key(book))
    (book / "lib" / "part" / "new.py").write_text("")
    changed.add(execution_cache.cache_key(book))
    assert len(changed) == 4 and key not in changed
    assert execution_cache.cache_path(book).name == execution_cache.cache_key(book)


def _build_configs(cache):
    """myst-nb's Markdown and notebook configurations, as ``jupyter-book build`` derives them."""
    sphinx, _ = get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                 cli_config={"latex_individualpages": False})
    md = MdParserConfig(**{k[5:]: v for k, v in sphinx.items() if k.startswith("myst_")})
    nb = {k[3:]: v for k, v in sphinx.items() if k.startswith("nb_")}
    return md, NbParserConfig(**{**nb, "execution_cache_path": str(cache)})


def _as_myst_nb_reads(path, md_config, nb_config):
    text = path.read_text(encoding="utf-8")
    return create_nb_reader(str(path), md_config, nb_config, text).read(text)


def test_stored_notebook_is_what_the_site_build_finds(book):
    path = book / "chapter.md"
    nb = execution_cache.read_notebook(path)  # as nbval reads and then executes it
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for count, cell in enumerate(code, start=1):
        cell.execution_count = count
    code[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    execution_cache.store(nb, path, seconds=1.5, root=book)

    md_config, nb_config = _build_configs(execution_cache.cache_path(book))
    page = _as_myst_nb_reads(path, md_config, nb_config)
    execute = "myst_nb.core.execute.cache.single_nb_execution"
    with mock.patch(execute, side_effect=AssertionError("executed")):
        with create_client(page, str(path), nb_config, mock.Mock()) as client:
            assert client.exec_metadata["runtime"] == 1.5
            assert client.code_cell_outputs(3) == (2, code[1].outputs)


def test_every_chapter_hashes_as_the_site_build_reads_it(tmp_path):
    """jupyter-cache finds a notebook by this hash: nbval's chapters are the build's chapters."""
    md_config, nb_config = _build_configs(tmp_path)
    hashed = lambda nb: JupyterCacheBase(str(tmp_path)).create_hashed_notebook(nb)[1]  # noqa: E731
    for path in toc_notebooks():
        assert hashed(execution_cache.read_notebook(path)) == hashed(
            _as_myst_nb_reads(path, md_config, nb_config)), path.relative_to(ROOT)
