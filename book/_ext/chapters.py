"""The book's chapters as files: the table of contents, Colab notebooks, and the Sphinx hooks.

* ``toc_files()`` / ``toc_notebooks()``: the pages of ``_toc.yml`` and those that are executable
  jupytext notebooks (their front matter names a kernelspec). The tests and nbval use them.
* ``colab_notebook(path, ref)``: a chapter as an ``.ipynb`` for Colab. Its first cells are a
  "GPU optional" note and a set-up cell that, only inside Colab, installs this book's ``lib`` at
  commit ``ref``; the rest is the chapter, its markdown cells in plain Jupyter Markdown
  (``plain_markdown``: numbered boxes, citations and links to the published site, collapsed
  solutions, the book's TeX macros expanded).
* ``python book/_ext/chapters.py OUTDIR [--ref REF]`` (``make colab``) writes every chapter as
  ``OUTDIR/<path in the repository>.ipynb``; the GitHub workflow publishes that tree on the
  ``notebooks`` branch, which is where the site's Colab buttons point.
* ``setup(app)``: a Sphinx extension (``_config.yml``) that numbers chapters by part as the lecture
  does (Chapter 1.4, Theorem 1.4.2, Figure 1.4.3), points each chapter's Colab button at its
  published ``.ipynb``, puts the "GPU optional" note under each chapter's title, and points myst-nb
  at the execution cache that nbval fills (``execution_cache``); after the build, each chapter's
  downloadable ``.ipynb`` is replaced by its Colab notebook with the executed outputs.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

import jupytext
import nbformat
import yaml
from docutils import nodes
from jupyter_cache import get_cache

import colab_setup
import execution_cache
import plain_markdown

ROOT = Path(__file__).resolve().parents[2]
# owner/name on GitHub; the workflow sets BOOK_REPOSITORY so that a fork points at itself.
REPOSITORY = os.environ.get("BOOK_REPOSITORY", "mathdl-book/mathematics-of-deep-learning")
NOTEBOOKS_BRANCH = "notebooks"
STUDENT_FOLDER = "student"     # the student notebooks, on the notebooks branch (student.py)
SLIDES_FOLDER = "slides"       # the decks, in the site (slides.py)

GPU_NOTE = (
    "This chapter runs on a CPU in about a minute. In Colab, a GPU is optional: choose "
    "*Runtime → Change runtime type → GPU*, then set `BOOK_SCALE` in the first code cell "
    "(1 = teaching size; 8 or more on a GPU) to multiply the sample sizes, widths and particle "
    "counts of every experiment. On your own machine, run e.g. `BOOK_SCALE=8 make book`. `BOOK_SEED` "
    "changes the random seed; the checks hold for any seed."
)

def _toc_entries(node):
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                yield node[key]
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from _toc_entries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_entries(item)


def toc_files(root: Path = ROOT) -> list[Path]:
    """The ``.md`` pages listed in ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [(root / f).with_suffix(".md") for f in _toc_entries(toc)]


def is_notebook(path: Path) -> bool:
    """Whether a page is an executable chapter (jupytext front matter with a kernelspec)."""
    return path.is_file() and "kernelspec" in jupytext.read(path).metadata


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapters of ``_toc.yml`` that are notebooks, in reading order."""
    return [p for p in toc_files(root) if is_notebook(p)]


def current_commit(root: Path = ROOT) -> str:
    """The checked-out commit, which the Colab set-up cell pins ``lib`` to."""
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=True).stdout.strip()


def colab_notebook(path: Path, ref: str, nb: nbformat.NotebookNode | None = None,
                   solutions: bool = True) -> nbformat.NotebookNode:
    """The chapter at ``path`` with the GPU note and the Colab set-up cell in front, its markdown
    in plain Jupyter Markdown, without the graded exercises' hidden wrong solutions (cells tagged
    ``wrong-solution``). ``nb``: the chapter already read, e.g. with its executed outputs
    (default: read from ``path``, unexecuted); it is changed in place. ``solutions=False`` drops the
    exercise solutions (the student notebooks, ``student.py``)."""
    nb = nb if nb is not None else jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.cells = [c for c in nb.cells if "wrong-solution" not in c.get("metadata", {}).get("tags", [])]
    plain_markdown.notebook_markdown(nb, str(Path(path).resolve().relative_to(ROOT).with_suffix("")),
                                     solutions=solutions)
    nb.metadata["colab"] = {"name": path.name.replace(".md", ".ipynb")}
    setup = colab_setup.setup_cell(colab_setup.git_spec(REPOSITORY, ref))
    nb.cells[:0] = [nbformat.v4.new_markdown_cell("**GPU optional.** " + GPU_NOTE),
                    nbformat.v4.new_code_cell(setup, metadata={"tags": ["colab-setup"]})]
    return nb


def write_notebooks(outdir: Path, ref: str, build=None, root: Path = ROOT) -> list[Path]:
    """Write every chapter, made into a notebook by ``build(path, ref)`` (default
    :func:`colab_notebook`), as ``outdir/<repository path>.ipynb``; return the written paths."""
    build = build or colab_notebook
    written = []
    for path in toc_notebooks(root):
        target = outdir / path.relative_to(root).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(path, ref), target)
        written.append(target)
    return written


def main(argv=None, build=None, what: str = "Colab notebooks"):
    """``python chapters.py OUTDIR [--ref REF]``: write every chapter as a notebook (``build``)."""
    parser = argparse.ArgumentParser(description=f"Write every chapter as one of the {what}.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--ref", help="commit or tag to install lib from (default: HEAD)")
    args = parser.parse_args(argv)
    written = write_notebooks(args.outdir, args.ref or current_commit(), build)
    print(f"wrote {len(written)} {what} under {args.outdir}")


# --- Sphinx -------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _notebook_docnames(srcdir: str) -> frozenset[str]:
    root = Path(srcdir)
    return frozenset(str(p.relative_to(root).with_suffix("")) for p in toc_notebooks(root))


def _colab_url(pagename: str, branch: str) -> str:
    return (f"https://colab.research.google.com/github/{REPOSITORY}/blob/{branch}/"
            f"{pagename}.ipynb")


def _point_colab_buttons(app, pagename, templatename, context, doctree):
    """Replace the theme's Colab link (to the ``.md`` source) by the published ``.ipynb``."""
    if pagename not in _notebook_docnames(app.srcdir):
        return

    def visit(buttons):
        for button in buttons:
            if isinstance(button, dict):
                if button.get("text") == "Colab":
                    button["url"] = _colab_url(pagename, app.config.colab_notebooks_branch)
                visit(button.get("buttons", []))

    visit(context.get("header_buttons", []))


def student_colab_url(docname: str, branch: str = NOTEBOOKS_BRANCH) -> str:
    """The chapter's student notebook in Colab (published under ``student/`` on ``branch``)."""
    return _colab_url(f"{STUDENT_FOLDER}/{docname}", branch)


def slides_uri(from_docname: str, docname: str) -> str:
    """The relative address of ``docname``'s deck (``slides/<docname>.html`` in the site) as seen
    from the page ``from_docname``."""
    return "../" * from_docname.count("/") + f"{SLIDES_FOLDER}/{docname}.html"


def _slides_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{slides}`path``: a link to a chapter's deck; ``path`` relative to the page, as for ``{doc}``
    (``{slides}`Depth <../part1/depth>``` gives the text "Depth")."""
    match = re.fullmatch(r"\s*(?:(.*?)\s*<([^>]+)>|([^<>]+))\s*", text)
    label, target = (match[1], match[2]) if match[2] else (None, match[3].strip())
    env = inliner.document.settings.env
    docname = os.path.normpath(os.path.join(os.path.dirname(env.docname), target)).replace(os.sep, "/")
    if docname not in _notebook_docnames(env.srcdir):
        message = inliner.reporter.error(f"slides: no chapter {target!r}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    number = ".".join(map(str, plain_markdown.load_book(ROOT).chapter_numbers.get(docname, ())))
    node = nodes.reference(rawtext, label or number or docname, refuri=slides_uri(env.docname, docname),
                           classes=["slides-link"])
    return [node], []


def _insert_gpu_note(app, doctree):
    if app.env.docname not in _notebook_docnames(app.srcdir):
        return
    section = doctree.next_node(nodes.section)
    if section is None:
        return
    docname = app.env.docname
    links = nodes.paragraph(classes=["teaching-links"])
    links += nodes.Text("For teaching: ")
    links += nodes.reference("", "lecture slides", refuri=slides_uri(docname, docname))
    links += nodes.Text(" · ")
    links += nodes.reference("", "student notebook (Colab: solutions removed, exercises graded)",
                             refuri=student_colab_url(docname, app.config.colab_notebooks_branch))
    section.insert(1, links)
    note = nodes.admonition(classes=["tip", "gpu-optional"])
    note += nodes.title(text="GPU optional")
    paragraph = nodes.paragraph()
    for i, piece in enumerate(re.split(r"`([^`]*)`", GPU_NOTE)):
        piece = piece.replace("*", "")
        paragraph += nodes.literal(text=piece) if i % 2 else nodes.Text(piece)
    note += paragraph
    section.insert(1, note)


def _number_by_part(app, env):
    """Renumber the chapters of the k-th numbered part of the root toctree as k.1, k.2, ...

    Sphinx numbers the entries of each numbered toctree 1, 2, ...; the book numbers its chapters
    within parts, from Part 0, and leaves part overview pages (``index``) unnumbered. Section,
    sidebar, theorem and figure numbers all follow, since figure numbers are re-assigned here from
    the new section numbers (``numfig_secnum_depth: 2`` gives Figure 1.4.3).
    """
    from sphinx import addnodes
    from sphinx.environment.collectors.toctree import TocTreeCollector

    root = env.get_doctree(app.config.root_doc)
    parts = [t for t in root.findall(addnodes.toctree) if t.get("numbered")]
    renumber = {}
    for part, toctree in enumerate(parts):
        chapters = [ref for _, ref in toctree["entries"] if ref in env.toc_secnumbers]
        overview = [ref for ref in chapters if ref.endswith("/index")]
        numbered = [ref for ref in chapters if ref not in overview]
        renumber.update({ref: () for ref in overview})
        renumber.update({ref: (part, k) for k, ref in enumerate(numbered, start=1)})

    def new(docname, number):
        prefix = renumber[docname]
        return prefix + tuple(number[1:]) if prefix and number else ()

    for docname in renumber:
        secnums = env.toc_secnumbers[docname]
        for anchor, number in secnums.items():
            secnums[anchor] = new(docname, number)
        for node in env.tocs[docname].findall(nodes.reference):
            if node.get("secnumber"):
                node["secnumber"] = list(new(docname, node["secnumber"])) or None
        title = env.titles.get(docname)
        if title is not None and title.get("secnumber"):
            title["secnumber"] = list(new(docname, title["secnumber"])) or None
    TocTreeCollector().assign_figure_numbers(env)
    return list(renumber)


def _clean_downloads(app, exception):
    """Make each chapter's downloadable ``.ipynb`` its Colab notebook, with the executed outputs.

    sphinx-book-theme's download button offers ``_sources/<chapter>.ipynb``, a copy of
    ``_build/jupyter_execute/<chapter>.ipynb``: raw MyST markdown and, with myst-nb's cache mode,
    no outputs. The outputs come from the execution cache the build read (a chapter missing there
    is offered unexecuted).
    """
    if exception is not None or app.builder.format != "html":
        return
    srcdir = Path(app.srcdir)
    cache_dir = execution_cache.cache_path(srcdir)
    cache = get_cache(str(cache_dir)) if cache_dir.is_dir() else None
    ref = current_commit(srcdir)
    for docname in sorted(_notebook_docnames(app.srcdir)):
        download = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        if not download.is_file():
            continue
        path = srcdir / f"{docname}.md"
        nb = execution_cache.read_notebook(path)
        nb.metadata.pop("source_map", None)
        try:
            nb = cache.merge_match_into_notebook(nb)[1] if cache else nb
        except KeyError:
            pass
        nbformat.write(colab_notebook(path, ref, nb), download)


def _figure_alt_text(app, doctree):
    """Give every image a description as alt text: a figure's caption, else the heading of the
    section it is in (myst-nb leaves a code cell's image with its file path as alt text)."""
    for image in doctree.findall(nodes.image):
        alt = image.get("alt", "")
        if alt and not re.fullmatch(r"\S*[/\\]\S*|\S+\.(png|svg|jpe?g|gif)", alt.strip()):
            continue
        figure = next((a for a in _ancestors(image) if isinstance(a, nodes.figure)), None)
        caption = figure.next_node(nodes.caption) if figure is not None else None
        section = next((a for a in _ancestors(image) if isinstance(a, nodes.section)), None)
        if caption is not None:
            image["alt"] = caption.astext()
        elif section is not None:
            image["alt"] = f"Figure of the section “{section.next_node(nodes.title).astext()}”"


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def _write_slides(app, exception):
    """Write every chapter's deck into the site (``slides/``), from the execution cache."""
    if exception is not None or app.builder.format != "html":
        return
    import slides
    outdir = Path(app.outdir) / SLIDES_FOLDER
    slides.copy_assets(outdir)
    for path in toc_notebooks(Path(app.srcdir)):
        slides.write_deck(path, outdir)


def setup(app):
    app.add_config_value("colab_notebooks_branch", NOTEBOOKS_BRANCH, "html")
    app.connect("config-inited", execution_cache.use_cache)
    # After Sphinx's own section and figure numbering (TocTreeCollector, priority 500).
    app.connect("env-get-updated", _number_by_part, priority=900)
    app.connect("doctree-read", _insert_gpu_note)
    # After sphinx-book-theme's launch buttons (priority 501).
    app.connect("html-page-context", _point_colab_buttons, priority=600)
    app.connect("build-finished", _clean_downloads)
    app.connect("build-finished", _write_slides)
    app.connect("doctree-read", _figure_alt_text)
    app.add_role("slides", _slides_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    main()
