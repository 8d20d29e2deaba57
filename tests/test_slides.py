"""The deck generator (book/_ext/slides.py) on a chapter's source, without executing it: which
blocks become slides, the marks that add or remove slides, figures from outputs, the check slide.
(The decks of the built site are checked in tests/site/test_teaching.py.)"""
from __future__ import annotations

import base64
import copy
import re

import jupytext
import nbformat
import pytest

import slides
from chapters import ROOT

DEPTH = ROOT / "book" / "part1" / "depth.md"
BOX = re.compile(r"^:::\{prf:(definition|theorem|lemma|proposition|corollary)\}", re.MULTILINE)
MARKED = re.compile(r"^:::\{[\w:]+\}[^\n]*\n(?::[\w-]+:[^\n]*\n)*:class: slide$", re.MULTILINE)


def n_slides(source):
    """Theorem-like boxes plus directives marked ``:class: slide``."""
    return len(BOX.findall(source)) + len(MARKED.findall(source))


@pytest.fixture(scope="module")
def chapter():
    return jupytext.read(DEPTH)


def kinds(deck):
    return [s.kind for s in deck]


def test_default_deck(chapter):
    deck = slides.chapter_slides(DEPTH, chapter)
    assert deck[0].kind == "title" and "Chapter 1.4" in deck[0].body_html and "Depth" in deck[0].title
    n_boxes = sum(n_slides(c.source) for c in chapter.cells if c.cell_type == "markdown")
    assert kinds(deck).count("box") == n_boxes
    assert "<strong>Theorem 1.4.1</strong>" in next(s.body_html for s in deck if s.kind == "box"
                                                    and "Theorem" in s.body_html)
    assert "figure" not in kinds(deck)          # not executed: no outputs, no figures
    assert kinds(deck)[-1] == "check" and "fails" in deck[-1].body_html


def test_marks_and_figures(chapter):
    nb = copy.deepcopy(chapter)
    boxes = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and BOX.search(c.source)]
    nb.cells[boxes[0]].metadata["tags"] = ["no-slide"]
    text = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and i != boxes[0])
    nb.cells[text].metadata["tags"] = ["slide"]
    figure = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  and c.metadata.get("mystnb", {}).get("figure"))
    png = base64.b64encode(b"\x89PNG fake").decode()
    nb.cells[figure].outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    deck = slides.chapter_slides(DEPTH, nb)
    default = slides.chapter_slides(DEPTH, chapter)
    removed = n_slides(nb.cells[boxes[0]].source)
    assert kinds(deck).count("box") == kinds(default).count("box") - removed
    assert "marked" in kinds(deck)
    fig = next(s for s in deck if s.kind == "figure")
    assert png in fig.body_html and "<strong>Fig. 1.4.1.</strong>" in fig.body_html
    assert "alt='Fig. 1.4.1." in fig.body_html


def test_directive_class_marks():
    source = ("# T\n\nIntro.\n\n## Statement\n\n:::{prf:theorem} A\n:label: t-a\n:class: no-slide\n\nx\n:::\n\n"
              ":::{prf:remark} R\n:label: t-r\n:class: slide\n\nSee $x^2$.\n:::\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])
    deck = slides.chapter_slides(DEPTH, nb)
    assert kinds(deck) == ["title", "box"] and "Remark" in deck[1].body_html
    assert r"\(x^2\)" in deck[1].body_html


def test_wrong_claims_are_read_from_assert_comments():
    source = ("x = 1\n# a slope of -1/2 instead of\n# -2/3 fails here\nassert x == 1\n"
              "assert x > 0  # positivity fails here\nassert x  # nothing\n")
    assert slides.wrong_claims(source) == ["a slope of -1/2 instead of -2/3 fails here",
                                           "positivity fails here"]


def test_render_keeps_math_for_mathjax():
    html = slides.render("Let $a<b$ and\n\n$$\\frac{1}{2}$$")
    assert r"\(a&lt;b\)" in html and r"\[\frac{1}{2}\]" in html
