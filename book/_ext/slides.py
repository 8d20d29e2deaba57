"""Lecture slides generated from the chapters: one reveal.js deck per chapter (``make slides``).

Nothing is written twice: a deck is assembled from the chapter's source, converted to plain Markdown
exactly as for the Colab notebooks (``plain_markdown``: the site's numbering, citations, expanded TeX
macros; solutions removed), and from its executed outputs (the execution cache that ``make test``
and ``make book`` fill; a chapter missing there is executed first). A deck holds, one idea per slide:

* a title slide: the chapter's number and title and its opening paragraph (the motivation);
* every theorem-like box (definition, theorem, lemma, proposition, corollary, assumption,
  conjecture), each on its own slide, under the heading of its section;
* every figure the experiments draw (the executed image, its numbered caption);
* the check: what the check cells printed and, from the comment beside each assertion, the wrong
  claims the chapter rejects.

The chapter marks what else goes on slides, or what stays off: a cell tagged ``slide`` becomes a
slide (a markdown cell as text, a code cell by its outputs), a cell tagged ``no-slide`` is left
out, and a directive with ``:class: slide`` (a proof, a remark, an admonition) is added, one with
``:class: no-slide`` left out. A chapter with no marks gets the default deck above.

The decks need no network: reveal.js (from the RISE package) and MathJax 2 (from
jupyter-server-mathjax) are copied next to them, into ``_static/``.
``python book/_ext/slides.py OUTDIR`` writes ``OUTDIR/<chapter path>.html`` and an index.
"""
from __future__ import annotations

import argparse
import ast
import base64
import copy
import html
import importlib.util
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_cache import get_cache
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from nbclient import NotebookClient

import chapters
import execution_cache
import plain_markdown

ROOT = chapters.ROOT
BOXES = {"prf:definition", "prf:theorem", "prf:lemma", "prf:proposition", "prf:corollary",
         "prf:assumption", "prf:conjecture", "prf:axiom", "prf:criterion", "prf:property"}
CHECK_SECTION = re.compile(r"^check", re.IGNORECASE)
MAX_OUTPUT_LINES = 14


@dataclass
class Slide:
    kind: str          # "title", "box", "figure", "check", "marked"
    title: str         # plain text (may contain math)
    body_html: str


def _math(content: str, options: dict) -> str:
    tex = html.escape(content)
    return f"\\[{tex}\\]" if options.get("display_mode") else f"\\({tex}\\)"


MARKDOWN = (MarkdownIt("commonmark", {"html": True}).enable("table")
            .use(dollarmath_plugin, allow_space=True, double_inline=True, renderer=_math))


def render(markdown: str) -> str:
    """Plain Jupyter Markdown (with ``$…$`` math) as HTML with MathJax delimiters."""
    return MARKDOWN.render(markdown)


def render_inline(markdown: str) -> str:
    """One line of Markdown as inline HTML (no enclosing paragraph), for headings and list items."""
    return MARKDOWN.renderInline(markdown.strip())


def _asset(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the slides need the package {package!r} (make setup installs it)")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def copy_assets(outdir: Path) -> None:
    """reveal.js and MathJax 2 into ``outdir/_static`` (once). RISE ships reveal.js with its CSS
    patched for use inside a notebook page; the untouched files are ``*.upstream`` (the core) and
    ``*.patched`` (the themes, whose plain name holds RISE's version)."""
    static = outdir / "_static"
    reveal = _asset("rise", "static", "reveal.js")
    files = {"js/reveal.js": "js/reveal.js", "css/reveal.css.upstream": "css/reveal.css",
             "css/theme/white.css.patched": "css/theme/white.css"}
    for source, target in files.items():
        (static / "reveal" / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reveal / source, static / "reveal" / target)
    if not (static / "reveal" / "lib").exists():
        shutil.copytree(reveal / "lib" / "font", static / "reveal" / "lib" / "font")
    if not (static / "mathjax").exists():
        shutil.copytree(_asset("jupyter_server_mathjax", "static"), static / "mathjax")


def executed_notebook(path: Path):
    """The chapter with its outputs from the execution cache; executed (and stored) if not there."""
    nb = execution_cache.read_notebook(path)
    nb.metadata.pop("source_map", None)
    cache_dir = execution_cache.cache_path(ROOT)
    if cache_dir.is_dir():
        try:
            return get_cache(str(cache_dir)).merge_match_into_notebook(nb)[1]
        except KeyError:
            pass
    start = time.perf_counter()
    NotebookClient(nb, timeout=1200, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    execution_cache.store(nb, path, time.perf_counter() - start)
    return nb


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _heading(markdown: str) -> str | None:
    heads = re.findall(r"^#{2,3}\s+(.+)$", markdown, flags=re.MULTILINE)
    return heads[-1].strip() if heads else None


def _images(cell) -> list[str]:
    return [out["data"]["image/png"] for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result")
            and "image/png" in out.get("data", {})]


def _stdout(cell) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name") == "stdout")


def _pre(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    if len(lines) > MAX_OUTPUT_LINES:
        lines = lines[:MAX_OUTPUT_LINES] + ["…"]
    return f"<pre class='output'>{html.escape(chr(10).join(lines))}</pre>"


def _figure(png: str, caption_md: str) -> str:
    alt = html.escape(re.sub(r"[*$\\`_]", "", caption_md)[:300] or "figure")
    return (f"<figure><img src='data:image/png;base64,{png.strip()}' alt='{alt}'>"
            f"<figcaption>{render(caption_md)}</figcaption></figure>")


def wrong_claims(source: str) -> list[str]:
    """The comment beside each assertion of a check cell (the comment lines right above it and the
    comments on its own lines), where it names the wrong claim that fails there."""
    lines = source.split("\n")
    claims = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Assert):
            continue
        start = node.lineno - 1
        while start > 0 and lines[start - 1].strip().startswith("#"):
            start -= 1
        comments = [line.split("#", 1)[1].strip() for line in lines[start:node.end_lineno]
                    if "#" in line]
        claim = " ".join(comments)
        if re.search(r"\bfails?\b", claim):
            claims.append(claim)
    return claims


def chapter_slides(path: Path, nb) -> list[Slide]:
    """The slides of the chapter at ``path`` from its executed notebook ``nb`` (not changed)."""
    docname = str(path.resolve().relative_to(ROOT).with_suffix(""))
    book = plain_markdown.load_book(ROOT)
    number = ".".join(map(str, book.chapter_numbers.get(docname, ())))
    converted = copy.deepcopy(nb)
    blocks = plain_markdown.notebook_blocks(converted, docname)
    by_cell: dict[int, list[plain_markdown.Block]] = {}
    for block in blocks:
        by_cell.setdefault(block.cell, []).append(block)

    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    title = re.search(r"^#\s+(.+)$", first, flags=re.MULTILINE).group(1).strip()
    intro_md = by_cell.get(next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), [])
    intro = "\n\n".join(b.markdown for b in intro_md if b.name is None)
    intro = re.sub(r"^#\s+.*$", "", intro, flags=re.MULTILINE).strip().split("\n\n")[0]
    slides = [Slide("title", title, f"<p class='kicker'>Chapter {number}</p><h1>{render_inline(title)}"
                                    f"</h1>{render(intro)}<p class='book'>Mathematics of Deep Learning</p>")]
    section, check_lines, check_claims = title, [], []
    for i, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if "no-slide" in tags:
            continue
        if cell.cell_type == "markdown":
            for block in by_cell.get(i, []):
                if block.name is None:
                    section = _heading(block.markdown) or section
                    continue
                wanted = (block.name in BOXES or "slide" in block.classes) \
                    and "no-slide" not in block.classes
                if wanted and block.markdown.strip():
                    slides.append(Slide("box", section, render(block.markdown)))
            if "slide" in tags:
                body = "\n\n".join(b.markdown for b in by_cell.get(i, []))
                slides.append(Slide("marked", section, render(body)))
            continue
        if cell.cell_type != "code" or {"remove-cell", "wrong-solution", "solution", "grader"} & tags:
            continue
        captions = [b.markdown for b in by_cell.get(i, []) if b.name == "code-figure"]
        for k, png in enumerate(_images(cell)):
            caption = captions[0] if captions else ""
            slides.append(Slide("figure", section, _figure(png, caption if k == 0 else "")))
        if CHECK_SECTION.match(section) and "assert" in cell.source:
            check_lines.append(_stdout(cell))
            check_claims += wrong_claims(cell.source)
        elif "slide" in tags and _stdout(cell):
            slides.append(Slide("marked", section, _pre(_stdout(cell))))
    if check_lines or check_claims:
        claims = "".join(f"<li>{render_inline(c)}</li>" for c in check_claims[:8])
        more = f"<p class='small'>… and {len(check_claims) - 8} more.</p>" if len(check_claims) > 8 else ""
        printed = _pre("".join(check_lines)) if "".join(check_lines).strip() else ""
        slides.append(Slide("check", "Check: theory against experiment",
                            f"{printed}<p class='lead'>Every assertion passed when this deck was built. "
                            f"Each one fails for a wrong theory:</p><ul class='claims'>{claims}</ul>{more}"))
    return slides


STYLE = """
.reveal { font-size: 30px; }
.reveal .slides section { text-align: left; }
.reveal h1 { font-size: 1.9em; text-transform: none; }
.reveal h2 { font-size: 1.15em; text-transform: none; color: #555; margin-bottom: .5em; }
.reveal blockquote { width: 100%; margin: 0; padding: .3em .8em; box-shadow: none;
  background: #f4f7fb; border-left: 6px solid #2a6ebb; font-style: normal; }
.reveal figure { margin: 0; text-align: center; }
.reveal figure img { max-height: 490px; max-width: 100%; border: 0; box-shadow: none; margin: 0; }
.reveal figcaption { font-size: .55em; text-align: left; color: #333; }
.reveal pre.output { font-size: .42em; box-shadow: none; background: #f6f6f6; padding: .4em;
  white-space: pre-wrap; width: 100%; }
.reveal .kicker { color: #2a6ebb; font-weight: bold; margin-bottom: 0; }
.reveal .book { color: #888; font-size: .6em; margin-top: 2em; }
.reveal ul.claims { font-size: .55em; }
.reveal p.lead { font-size: .7em; }
.reveal .small { font-size: .5em; }
.reveal table { font-size: .6em; }
"""

MATHJAX_CONFIG = """MathJax.Hub.Config({
  tex2jax: {inlineMath: [['\\\\(', '\\\\)']], displayMath: [['\\\\[', '\\\\]']], processEscapes: false},
  "HTML-CSS": {availableFonts: ["TeX"], imageFont: null}, messageStyle: "none"
});"""


def deck_html(slides: list[Slide], title: str, static: str) -> str:
    """A reveal.js page; ``static`` is the relative path of the ``_static`` folder."""
    sections = []
    for slide in slides:
        head = "" if slide.kind == "title" else f"<h2>{render_inline(slide.title)}</h2>"
        sections.append(f"<section data-kind='{slide.kind}'>{head}{slide.body_html}</section>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} — slides</title>
<link rel="stylesheet" href="{static}/reveal/css/reveal.css">
<link rel="stylesheet" href="{static}/reveal/css/theme/white.css">
<style>{STYLE}</style>
<script type="text/x-mathjax-config">{MATHJAX_CONFIG}</script>
<script src="{static}/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>
</head><body>
<div class="reveal"><div class="slides">
{chr(10).join(sections)}
</div></div>
<script src="{static}/reveal/js/reveal.js"></script>
<script>
Reveal.initialize({{hash: true, slideNumber: "c/t", width: 1280, height: 760, margin: 0.04,
                   transition: "none"}});
Reveal.addEventListener("slidechanged", function (e) {{
  MathJax.Hub.Queue(["Typeset", MathJax.Hub, e.currentSlide]); }});
</script>
</body></html>
"""


def write_deck(path: Path, outdir: Path, nb=None) -> Path:
    """Write the deck of the chapter at ``path`` as ``outdir/<path in the repository>.html``."""
    nb = nb if nb is not None else executed_notebook(path)
    slides = chapter_slides(path, nb)
    relative = path.resolve().relative_to(ROOT).with_suffix(".html")
    target = outdir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    static = "/".join([".."] * (len(relative.parts) - 1) + ["_static"])
    target.write_text(deck_html(slides, slides[0].title, static), encoding="utf-8")
    return target


def write_decks(outdir: Path, root: Path = ROOT) -> list[Path]:
    """Every chapter's deck, the assets and an index page under ``outdir``."""
    copy_assets(outdir)
    written = [write_deck(path, outdir) for path in chapters.toc_notebooks(root)]
    items = "".join(f"<li><a href='{p.relative_to(outdir).as_posix()}'>{p.stem.replace('_', ' ')}</a>"
                    f" <small>({p.relative_to(outdir).parent.as_posix()})</small></li>" for p in written)
    (outdir / "index.html").write_text(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Slides — Mathematics of "
        f"Deep Learning</title></head><body><h1>Lecture slides</h1><ol>{items}</ol></body></html>",
        encoding="utf-8")
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write one reveal.js deck per chapter.")
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    written = write_decks(args.outdir)
    print(f"wrote {len(written)} slide decks under {args.outdir}")


if __name__ == "__main__":
    main()
