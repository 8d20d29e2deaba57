"""The teaching kit in the built site (run after ``make book``): one lecture deck per chapter, linked
from its page and from the course plan; a student-notebook link on every chapter page; alt text on
every image; the licenses in the footer."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from chapters import ROOT, SLIDES_FOLDER, student_colab_url, toc_notebooks

HTML = ROOT / "_build" / "html"
SLIDES = HTML / SLIDES_FOLDER
CHAPTERS = [str(p.relative_to(ROOT).with_suffix("")) for p in toc_notebooks()]
# TeX commands outside \( \) / \[ \] in a deck are raw TeX a reader would see.
TEX_COMMAND = re.compile(r"\\(frac|sum|sigma|lambda|theta|mathrm|mathbb|mathcal|operatorname|sqrt|"
                         r"top|le|ge|infty|alpha|beta|gamma|eta|log|exp|cdot|tfrac|mathbf)(?![a-zA-Z])")

pytestmark = pytest.mark.skipif(not (HTML / "index.html").is_file(),
                                reason="the site is not built (run `make book`)")


@lru_cache(maxsize=None)
def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def is_path(alt: str) -> bool:
    """An alt text that is a file path or name (one word with a slash or an image extension)."""
    return bool(re.fullmatch(r"\S*[/\\]\S*|\S+\.(png|svg|jpe?g|gif)", alt.strip()))


def outside_math(text: str) -> str:
    return re.sub(r"\\\(.*?\\\)|\\\[.*?\\\]", " ", text, flags=re.DOTALL)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_deck(chapter):
    """A title slide, at least one theorem-like box and one figure, the check; no raw TeX outside
    math, no error output; the chapter page links it and its student notebook."""
    deck = soup(SLIDES / f"{chapter}.html")
    kinds = [s["data-kind"] for s in deck.select("div.slides > section")]
    assert kinds[0] == "title" and deck.select_one("section[data-kind=title] h1").get_text(strip=True)
    assert "box" in kinds, "no theorem or definition slide"
    assert "figure" in kinds, "no figure slide"
    assert "check" in kinds, "no check slide"
    for img in deck.select("section[data-kind=figure] img"):
        assert img["src"].startswith("data:image/png;base64,") and len(img["src"]) > 5000
        assert img.get("alt") and not is_path(img["alt"]), "figure without a description"
    text = deck.select_one("div.slides").get_text(" ")
    raw = TEX_COMMAND.findall(outside_math(text))
    assert not raw, f"raw TeX outside math: {raw[:5]}"
    assert "Traceback" not in text and "Error:" not in text, "error output on a slide"
    for asset in ("reveal/js/reveal.js", "reveal/css/reveal.css", "mathjax/MathJax.js"):
        assert (SLIDES / "_static" / asset).is_file(), asset
    links = [a["href"] for a in soup(HTML / f"{chapter}.html").select("p.teaching-links a[href]")]
    assert any((HTML / chapter).parent.joinpath(h).resolve() == (SLIDES / f"{chapter}.html").resolve()
               for h in links), f"the page does not link its deck: {links}"
    assert student_colab_url(chapter) in links, "no student notebook link"


def test_course_plan_links_every_deck():
    plan = HTML / "book" / "appendix" / "course_plan.html"
    linked = {(plan.parent / a["href"]).resolve() for a in soup(plan).select("a.slides-link")}
    missing = [c for c in CHAPTERS if (SLIDES / f"{c}.html").resolve() not in linked]
    assert not missing, f"decks not linked from the course plan: {missing}"


def test_every_image_has_a_description():
    bad = []
    for path in sorted(HTML.rglob("*.html")):
        if {"_static", "_sources", SLIDES_FOLDER} & set(path.relative_to(HTML).parts):
            continue
        for img in soup(path).select("main img"):
            alt = (img.get("alt") or "").strip()
            if not alt or is_path(alt):
                bad.append(f"{path.relative_to(HTML)}: {alt!r}")
    assert not bad, "\n".join(bad[:20])


def test_footer_states_the_licenses():
    footer = " ".join(f.get_text(" ") for f in soup(HTML / "book" / "intro.html").select("footer"))
    assert "MIT" in footer and "CC BY 4.0" in footer, footer[:300]


def test_a_deck_renders_in_chromium(tmp_path):
    """Open one deck headless, on its third slide (a theorem): reveal.js lays it out and MathJax
    typesets it from the local copies (no network)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium for the screenshot")
    deck = SLIDES / "book" / "part1" / "depth.html"
    shot = tmp_path / "deck.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,760", "--virtual-time-budget=10000", f"--screenshot={shot}",
                    f"{deck.as_uri()}#/2"], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 30_000, "the deck screenshot is blank"
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=10000", "--dump-dom", deck.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    assert "reveal" in dom and " ready" in dom, "reveal.js did not start"
    assert dom.count('class="MathJax"') > 20, "MathJax did not typeset the formulas"
