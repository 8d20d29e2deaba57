"""The built website, checked as a reader would see it (run after ``make book``).

Every chapter page has figures, rendered proof boxes, exercises with collapsed solutions, the
"GPU optional" note, download buttons for the ``.md`` and ``.ipynb`` (the clean Colab notebook with
outputs), a Colab button that opens an ``.ipynb``, no error output and no TeX left unrendered (a formula that Markdown broke apart, e.g.
a display line starting with ``+`` read as a list item); no internal link on any page is broken.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urldefrag

import nbformat
import pytest
from bs4 import BeautifulSoup

import plain_markdown
from chapters import ROOT, toc_files, toc_notebooks

HTML = ROOT / "_build" / "html"
CHAPTERS = [str(p.relative_to(ROOT).with_suffix("")) for p in toc_notebooks()]

pytestmark = pytest.mark.skipif(not (HTML / "index.html").is_file(),
                                reason="the site is not built (run `make book`)")


@lru_cache(maxsize=None)
def page(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


TEX_COMMAND = re.compile(r"\\(frac|sum|sigma|lambda|theta|mathrm|mathbb|operatorname|underbrace|"
                         r"big|Big|qquad|quad|E|R|tr|sqrt|top|le|ge|infty)(?![a-zA-Z])")


def unrendered_tex(main) -> list[str]:
    """Text outside math and code elements that still contains TeX commands."""
    found = []
    for text in main.find_all(string=TEX_COMMAND):
        if text.find_parent(["pre", "code", "script", "style"]) or text.find_parent(class_="math"):
            continue
        found.append(str(text).strip()[:120])
    return found


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_is_complete(chapter):
    html = page(HTML / f"{chapter}.html")
    main = html.select_one("main") or html
    assert main.select("div.cell_output img"), "no figure"
    assert main.select("div.proof.admonition"), "no rendered proof box (definition/theorem)"
    exercises, solutions = main.select("div.exercise"), main.select("div.solution")
    assert len(exercises) >= 2, f"{len(exercises)} exercises"
    assert solutions and all("dropdown" in s["class"] for s in solutions), "solutions not collapsed"
    assert main.select("div.gpu-optional"), "no GPU-optional note"
    errors = main.select("div.output.error, div.output.traceback, div.output.stderr")
    assert not errors, f"error output: {errors[0].get_text()[:300]}"
    assert "Traceback (most recent call last)" not in main.get_text()
    assert not unrendered_tex(main), f"TeX outside math: {unrendered_tex(main)[:5]}"
    links = [a["href"] for a in html.select("a[href]")]
    name = Path(chapter).name
    colab = [h for h in links if h.startswith("https://colab.research.google.com/")]
    assert colab and all(h.endswith(f"{chapter}.ipynb") for h in colab), colab
    for suffix in (".md", ".ipynb"):
        download = [h for h in links if h.endswith(f"_sources/{chapter}{suffix}")]
        assert download, f"no {suffix} download button"
        assert (HTML / "_sources" / f"{chapter}{suffix}").is_file(), f"{name}{suffix} not shipped"


def test_every_toc_page_is_built():
    missing = [str(p) for p in toc_files() if not (HTML / p.relative_to(ROOT)).with_suffix(".html").is_file()]
    assert not missing, missing


def test_no_broken_internal_links():
    broken = []
    for path in sorted(HTML.rglob("*.html")):
        if "_static" in path.parts or "_sources" in path.parts:
            continue
        for a in page(path).select("a[href]"):
            href = a["href"]
            if href.startswith(("http://", "https://", "mailto:", "javascript:", "data:")):
                continue
            target, fragment = urldefrag(href)
            target_path = (path.parent / unquote(target)).resolve() if target else path
            if not target_path.exists():
                broken.append(f"{path.relative_to(HTML)} → {href}")
            elif fragment and target_path.suffix == ".html":
                soup = page(target_path)
                if not (soup.find(id=fragment) or soup.find(attrs={"name": fragment})):
                    broken.append(f"{path.relative_to(HTML)} → {href} (no anchor)")
    assert not broken, "\n".join(broken[:40])


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_downloadable_notebook_is_the_clean_colab_notebook(chapter):
    """The page's ``.ipynb`` download is the Colab notebook, with outputs, numbered as the page,
    its links to the site pointing at pages and anchors that exist."""
    nb = nbformat.read(HTML / "_sources" / f"{chapter}.ipynb", as_version=4)
    assert "colab-setup" in nb.cells[1].metadata.get("tags", []), "no Colab set-up cell"
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no outputs"
    text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert not plain_markdown.myst_leftovers(text), plain_markdown.myst_leftovers(text)[:5]
    main = page(HTML / f"{chapter}.html").select_one("main")
    titles = main.select("div.proof > p.admonition-title, div.exercise > p.admonition-title")
    numbers = [re.match(r"\w+ [\d.]+", t.get_text(" ", strip=True)) for t in titles]
    missing = [n.group() for n in numbers if n and f"**{n.group()}**" not in text]
    assert not missing, f"numbered differently from the page: {missing}"
    broken = []
    for url in re.findall(r"\]\((https://[^)\s]+)\)", text):
        if url.startswith(plain_markdown.SITE_URL):
            target, fragment = urldefrag(url[len(plain_markdown.SITE_URL):])
            path = HTML / unquote(target)
            if not path.is_file() or (fragment and not page(path).find(id=fragment)):
                broken.append(url)
    assert not broken, broken[:10]
