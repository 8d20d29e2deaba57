"""The chapters' MyST Markdown as plain Jupyter Markdown, for the Colab notebooks and the site's
``.ipynb`` downloads (``chapters.colab_notebook``).

A plain Markdown renderer (Jupyter, Colab, GitHub, nbconvert) knows no MyST roles, directives or
labels and none of the book's TeX macros. ``notebook_markdown(nb, docname)`` rewrites every
markdown cell of a chapter so that it reads as on the site:

* sphinx-proof boxes (``:::{prf:theorem} Title``) become blockquotes headed
  ``**Theorem 1.4.2** (Title)``, numbered as the site numbers them: one counter per type within
  the chapter, prefixed by the chapter's number within its part (``_toc.yml``, the rule of
  ``chapters._number_by_part``); exercises are headed ``**Exercise 1.4.1**`` and keep their
  statement, solutions go into a collapsed ``<details>`` block; figures become an image with a
  numbered caption (a code cell's ``mystnb.figure`` caption becomes a markdown cell after it);
  other admonitions become headed blockquotes (``:class: dropdown``: collapsed);
* citations become "Author (year)" (``cite:t``) and "(Author, year)" (``cite``, ``cite:p``), the
  names and years formatted by sphinxcontrib-bibtex's author-year style from ``references.bib``
  (as on the site), each linked to its entry on the references page (``bibtex_cite_id`` in
  ``_config.yml`` gives entries the stable anchor ``cite-<key>``);
* ``{prf:ref}``, ``{ref}``, ``{numref}``, ``{eq}``, ``{doc}`` and ``{term}`` become links to the
  page and anchor of the published site (``SITE_URL``) with the text the site shows
  ("Theorem 1.4.2", "Fig. 0.2.3", the page title, the glossary term);
* ``(label)=`` lines and ``%`` comment lines are dropped;
* the book's TeX macros (``mathjax3_config`` in ``_config.yml``, the one definition the site uses
  too) are expanded in place, e.g. ``\\R`` → ``\\mathbb{R}``. Expanding rather than defining them
  in a first ``\\newcommand`` cell: Colab and GitHub render each markdown cell on its own, and
  JupyterLab renders cells as they scroll into view, so a definition in one cell does not
  reliably reach the others; an expanded formula renders in any MathJax or KaTeX renderer.

Math that spans lines inside a blockquote is joined onto one line: Jupyter extracts math before
parsing Markdown, so a ``> `` line prefix inside a formula would be typeset as part of it.
A directive or role with no plain rendering raises ``ValueError`` naming it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jupytext
import nbformat
import yaml
from docutils.nodes import make_id as docutils_make_id

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def pages_url(repository_url: str) -> str:
    """GitHub Pages address of a repository:
    https://github.com/OWNER/REPO → https://OWNER.github.io/REPO/."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url)
    if match is None:
        raise ValueError("repository_url must be https://github.com/OWNER/REPO, "
                         f"got {repository_url!r}")
    owner, repo = match.groups()
    return f"https://{owner.lower()}.github.io/{repo}/"


#: Base address of the published site; every link from a notebook to the site starts here.
SITE_URL = pages_url(CONFIG["repository"]["url"])

GLOSSARY = "book/appendix/glossary"
REFERENCES = "book/appendix/references"

ADMONITIONS = {"admonition", "attention", "caution", "danger", "error", "hint", "important", "note",
               "seealso", "tip", "warning", "dropdown"}
CODE_DIRECTIVES = {"code", "code-block", "sourcecode"}
PYTHON_ROLES = {"func", "meth", "class", "mod", "attr", "data", "obj", "exc", "const"}
LITERAL_ROLES = {"code", "samp", "file", "kbd", "command", "literal"}
# sphinx-proof's numbered types (proof boxes share no counter: one per type, as on the site).
PROOF_TYPES = {"axiom", "theorem", "lemma", "algorithm", "definition", "remark", "conjecture",
               "corollary", "criterion", "example", "property", "observation", "proposition",
               "assumption", "notation"}

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[A-Za-z][\w:.+-]*)\}\s*(?P<argument>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*))?$")
LABEL_LINE = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*$")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
LABELLED_MATH = re.compile(r"\$\$(?P<math>.+?)\$\$[ \t]*\((?P<label>[\w.:-]+)\)[ \t]*$",
                           re.DOTALL | re.MULTILINE)
# A role, or a code span (kept verbatim); roles first, so that {name}`x` is not read as code.
ROLE_OR_CODE = re.compile(r"\{(?P<role>[A-Za-z][\w:.+-]*)\}"
                          r"(?P<ticks>`+)(?P<content>.+?)(?P=ticks)(?!`)"
                          r"|(?P<code>(?P<cticks>`+).+?(?P=cticks)(?!`))", re.DOTALL)
TABLE_DELIMITER = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$", re.MULTILINE)
TITLED_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
# Math: $$…$$, \begin{env}…\end{env}, $…$ (not across a blank line; dollarmath's rules for $).
MATH = re.compile(r"\$\$.+?\$\$|\\begin\{(?P<env>[A-Za-z]+\*?)\}.+?\\end\{(?P=env)\}"
                  r"|(?<![\\$])\$(?![\s$])(?:[^$\n\\]|\\.|\n(?![ \t>]*\n))+?(?<![\s\\])\$(?!\d)",
                  re.DOTALL)
TEX_TOKEN = re.compile(r"\\(?:[A-Za-z]+|.)", re.DOTALL)


def sphinx_term_id(term: str) -> str:
    """The anchor Sphinx gives a glossary term (``sphinx.util.nodes.make_id``, prefix ``term``):
    ASCII-folded, runs of characters other than letters, digits, ``.`` and ``_`` → ``-``, case
    kept."""
    ascii_term = unicodedata.normalize("NFKD", f"term-{term}").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-zA-Z0-9._]+", "-", ascii_term).strip("-")


def cite_id(key: str) -> str:
    """The anchor of a bibliography entry, ``bibtex_cite_id: "cite-{key}"`` (docutils make_id)."""
    return docutils_make_id(f"cite-{key}")


# --- TeX macros --------------------------------------------------------------------------------


def tex_macros(config: dict = CONFIG) -> dict[str, tuple[str, int]]:
    """The book's macros (``mathjax3_config``, ``_config.yml``): name → (body, number of args)."""
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    out = {}
    for name, body in macros.items():
        out[name] = (body, 0) if isinstance(body, str) else (body[0], int(body[1]))
    return out


def _brace_group(tex: str, start: int) -> tuple[str, int]:
    """The argument of a macro at ``tex[start:]`` (a {…} group or one token) and where it ends."""
    i = start
    while i < len(tex) and tex[i].isspace():
        i += 1
    if i >= len(tex):
        raise ValueError(f"macro argument missing in {tex!r}")
    if tex[i] != "{":
        token = TEX_TOKEN.match(tex, i)
        end = token.end() if token else i + 1
        return tex[i:end], end
    depth = 0
    for j in range(i, len(tex)):
        if tex[j] == "\\":
            continue
        if tex[j] == "{" and tex[j - 1] != "\\":
            depth += 1
        elif tex[j] == "}" and tex[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return tex[i + 1:j], j + 1
    raise ValueError(f"unbalanced braces in {tex!r}")


def expand_macros(tex: str, macros: dict[str, tuple[str, int]]) -> str:
    """``tex`` with every use of ``macros`` replaced by its body (``#1``… by the arguments).

    Control words are read whole (``\\Ent`` is not ``\\E`` + ``nt``) and ``\\\\`` is a line break,
    not a backslash before a word. Expansion repeats until no macro is left (macros may use macros).
    """
    for _ in range(10):
        out, i, changed = [], 0, False
        for token in TEX_TOKEN.finditer(tex):
            if token.start() < i:
                continue
            name = token.group()[1:]
            if name not in macros:
                continue
            body, nargs = macros[name]
            end = token.end()
            for k in range(1, nargs + 1):
                argument, end = _brace_group(tex, end)
                body = body.replace(f"#{k}", argument)
            # A body ending in a control word must not run into a following letter.
            if re.search(r"\\[A-Za-z]+$", body) and re.match(r"[A-Za-z]", tex[end:end + 1]):
                body += " "
            out += [tex[i:token.start()], body]
            i, changed = end, True
        tex = "".join(out) + tex[i:]
        if not changed:
            return tex
    raise ValueError("macro expansion does not terminate (a macro defined by itself?)")


def math_spans(markdown: str) -> list[str]:
    """The math of a plain Markdown text ($…$, $$…$$, \\begin…\\end), code left out."""
    spans = []
    for text in outside_code(markdown):
        spans += [m.group() for m in MATH.finditer(text)]
    return spans


def outside_code(markdown: str) -> list[str]:
    """The pieces of a Markdown text outside fenced code blocks and code spans."""
    pieces, lines, fence = [], [], None
    for line in markdown.split("\n"):
        match = FENCE.match(line.lstrip("> ").rstrip()) if fence is None else None
        if fence is None and match and match["fence"][0] == "`":
            fence = match["fence"]
            continue
        if fence is not None:
            bare = line.lstrip("> ").strip()
            if bare.startswith(fence) and not bare.strip("`"):
                fence = None
            continue
        lines.append(line)
    text = "\n".join(lines)
    for part in re.split(r"(`+).+?\1", text, flags=re.DOTALL)[::2]:
        pieces.append(part)
    return pieces


# --- the book's index: chapters, labels, glossary, bibliography ----------------------------------


@dataclass(frozen=True)
class Target:
    """Something a cross-reference can point at: on page ``docname`` at ``anchor``."""

    docname: str
    anchor: str
    kind: str                 # "theorem", …, "exercise", "figure", "displaymath", "section"
    number: str | None        # "1.4.2", or None when unnumbered
    title: str = ""           # caption, section or box title

    @property
    def numbered_text(self) -> str:
        if self.kind == "displaymath":
            return f"({self.number})"
        name = "Fig." if self.kind == "figure" else self.kind.capitalize()
        return f"{name} {self.number}" if self.number else name


@dataclass(frozen=True)
class Block:
    """A top-level block of a chapter's markdown cell: a directive (``name``, e.g. "prf:theorem",
    with its ``:class:`` list) or a run of text (``name`` None), and its plain Markdown; or the
    numbered caption of a code cell's figure (``name`` "code-figure")."""

    cell: int
    name: str | None
    classes: list[str]
    markdown: str


@dataclass
class Book:
    """What conversion needs to know about the whole book."""

    site: str
    macros: dict[str, tuple[str, int]]
    chapter_numbers: dict[str, tuple[int, ...]]          # docname → (part, chapter)
    titles: dict[str, str] = field(default_factory=dict)  # docname → page title
    labels: dict[str, Target] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)   # lower-case term → glossary anchor
    bibliography: object = None                           # pybtex BibliographyData


def chapter_numbers(toc: dict) -> dict[str, tuple[int, ...]]:
    """docname → (part, chapter): the k-th numbered part's pages 1, 2, … skipping ``*/index``
    overview pages, parts counted from 0, as ``chapters._number_by_part`` numbers the site."""
    numbers = {}
    parts = [p for p in toc.get("parts", []) if p.get("numbered")]
    for part, entry in enumerate(parts):
        files = [c["file"] for c in entry.get("chapters", []) if "file" in c]
        numbered = [f for f in files if not f.endswith("/index")]
        numbers.update({f: (part, k) for k, f in enumerate(numbered, start=1)})
    return numbers


def glossary_terms(text: str) -> dict[str, str]:
    """Lower-case term → anchor, for the terms of the ``{glossary}`` directive in ``text``."""
    terms, inside = {}, False
    for line in text.split("\n"):
        if re.match(r"^(`{3,}|:{3,})\{glossary\}", line):
            inside = True
        elif inside and re.match(r"^(`{3,}|:{3,})\s*$", line):
            inside = False
        elif inside and line.strip() and not line[0].isspace() and not line.startswith(":"):
            terms[line.strip().lower()] = sphinx_term_id(line.strip())
    return terms


@lru_cache(maxsize=None)
def load_book(root: Path = ROOT) -> Book:
    """Index every page of ``_toc.yml`` (titles, labels and their numbers), the glossary and the
    bibliography, so that a chapter can be converted with references to any page."""
    import pybtex.database

    from chapters import toc_files

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    book = Book(site=pages_url(config["repository"]["url"]), macros=tex_macros(config),
                chapter_numbers=chapter_numbers(toc))
    bibliography = pybtex.database.BibliographyData()
    for bibfile in config.get("bibtex_bibfiles", []):
        for key, entry in pybtex.database.parse_file(root / bibfile).entries.items():
            bibliography.add_entry(key, entry)
    book.bibliography = bibliography
    book.terms = glossary_terms((root / f"{GLOSSARY}.md").read_text(encoding="utf-8"))
    for path in toc_files(root):
        docname = str(path.relative_to(root).with_suffix(""))
        _Converter(book, docname, collect=True).notebook(jupytext.read(path))
    return book


# --- conversion --------------------------------------------------------------------------------


@dataclass
class _Directive:
    name: str
    argument: str
    options: dict
    body: str


def _split_blocks(text: str) -> list[str | _Directive]:
    """Text runs, directives and plain code fences (as text) of a Markdown text, in order."""
    lines, blocks, run, i = text.split("\n"), [], [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            run.append(lines[i])
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), len(lines))
        directive = DIRECTIVE_INFO.match(info)
        if directive is None:            # a plain code fence (or a bare ::: line): verbatim
            run += lines[i:end + 1]
            i = end + 1
            continue
        if run:
            blocks.append("\n".join(run))
            run = []
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                for line in lines[i + 1:end]]
        options = {}
        if body and body[0].strip() == "---":
            stop = next(k for k in range(1, len(body)) if body[k].strip() == "---")
            options = yaml.safe_load("\n".join(body[1:stop])) or {}
            body = body[stop + 1:]
        else:
            while body and (option := OPTION.match(body[0].strip())):
                options[option["key"]] = option["value"] or ""
                body = body[1:]
        blocks.append(_Directive(directive["name"], directive["argument"].strip(), options,
                                 "\n".join(body).strip("\n")))
        i = end + 1
    if run:
        blocks.append("\n".join(run))
    return blocks


def _one_line_math(markdown: str) -> str:
    """Join the lines of each formula (a ``> `` prefix must not land inside math)."""
    pieces = []
    for piece in re.split(r"(```.*?```|`[^`\n]*`)", markdown, flags=re.DOTALL):
        if piece.startswith("`"):
            pieces.append(piece)
        else:
            pieces.append(MATH.sub(lambda m: re.sub(r"\s*\n\s*", " ", m.group()), piece))
    return "".join(pieces)


def _quote(markdown: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in _one_line_math(markdown).split("\n"))


def _details(summary: str, markdown: str) -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{markdown}\n\n</details>"


class _Converter:
    """Converts one page, cell by cell, numbering its boxes, exercises, figures and equations.

    With ``collect=True`` it only records the page's title and labels in ``book`` (references are
    not resolved yet, and directives without a plain rendering are skipped)."""

    def __init__(self, book: Book, docname: str, collect: bool = False, solutions: bool = True):
        self.book, self.docname, self.collect = book, docname, collect
        self.solutions = solutions
        self.blocks: list[Block] = []           # top-level blocks of the markdown cells, in order
        self.cell_index = -1
        self.counters: dict[str, int] = {}
        self.labels: dict[str, Target] = {}     # this page's, as numbered in this conversion
        self.pending_labels: list[str] = []

    # numbering and labels

    def number(self, kind: str) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        prefix = self.book.chapter_numbers.get(self.docname, ())
        return ".".join(map(str, (*prefix, self.counters[kind])))

    def record(self, label: str, kind: str, number: str | None, title: str = "") -> None:
        if label:
            anchor = f"equation-{label}" if kind == "displaymath" else label
            self.labels[label] = Target(self.docname, anchor, kind, number, title)
            if self.collect:
                self.book.labels[label] = self.labels[label]

    def target(self, label: str) -> Target | None:
        return self.labels.get(label) or self.book.labels.get(label)

    # cells

    def notebook(self, nb) -> None:
        """Convert the markdown cells of ``nb`` in place; add a caption cell after figure cells."""
        cells = []
        for self.cell_index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                cell.source = self.markdown(cell.source, top=True)
            cells.append(cell)
            figure = cell.metadata.get("mystnb", {}).get("figure", {}) \
                if cell.cell_type == "code" else {}
            if figure.get("caption"):
                number = self.number("figure")
                self.record(figure.get("name", ""), "figure", number, figure["caption"])
                caption = f"**Fig. {number}.** {self.inline(figure['caption'])}"
                cells.append(nbformat.v4.new_markdown_cell(caption))
                self.blocks.append(Block(self.cell_index, "code-figure", [], caption))
        nb.cells = cells

    def markdown(self, text: str, top: bool = False) -> str:
        out = []
        for block in _split_blocks(text):
            if isinstance(block, _Directive):
                out.append(self.directive(block))
                if top:
                    self.blocks.append(Block(self.cell_index, block.name,
                                             str(block.options.get("class", "")).split(), out[-1]))
            else:
                out.append(self.text(block))
                if top:
                    self.blocks.append(Block(self.cell_index, None, [], out[-1]))
        return "\n\n".join(part.strip("\n") for part in out if part.strip())

    def text(self, text: str) -> str:
        """A run of Markdown without directives; plain code fences in it are kept as they are."""
        segments, lines, fence = [], [], None       # segments: (is_code, lines)
        for line in text.split("\n"):
            opening = FENCE.match(line) if fence is None else None
            if opening and opening["fence"][0] == "`":
                segments.append((False, lines))
                lines, fence = [line], opening["fence"]
                continue
            if fence is not None:
                lines.append(line)
                if re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", line):
                    segments.append((True, lines))
                    lines, fence = [], None
                continue
            label = LABEL_LINE.match(line)
            if label:
                self.pending_labels.append(label["label"])
                continue
            if re.match(r"^%", line):         # a MyST comment
                continue
            heading = HEADING.match(line)
            if heading:
                if self.collect and line.startswith("# ") and self.docname not in self.book.titles:
                    self.book.titles[self.docname] = heading["title"]
                for label in self.pending_labels:
                    self.record(label, "section", None, heading["title"])
                self.pending_labels = []
            lines.append(line)
        segments.append((fence is not None, lines))

        def tag(match):
            number = self.number("displaymath")
            self.record(match["label"], "displaymath", number)
            return f"$${match['math'].rstrip()} \\tag{{{number}}}\n$$"

        return "\n".join("\n".join(lines) if code else
                         self.inline(LABELLED_MATH.sub(tag, "\n".join(lines)))
                         for code, lines in segments if lines)

    def inline(self, text: str) -> str:
        """Roles → Markdown, TeX macros expanded; code spans kept verbatim."""
        out, i = [], 0
        for match in ROLE_OR_CODE.finditer(text):
            out.append(expand_macros(text[i:match.start()], self.book.macros))
            if match["code"]:
                out.append(match["code"])
            else:
                out.append(self.role(match["role"], match["content"]))
            i = match.end()
        out.append(expand_macros(text[i:], self.book.macros))
        return "".join(out)

    # directives

    def directive(self, d: _Directive) -> str:
        name, label = d.name, d.options.get("label") or d.options.get("name") or ""
        classes = str(d.options.get("class", "")).split()
        realtype = name.split(":", 1)[1] if name.startswith("prf:") else name
        if name.startswith("prf:") and realtype in PROOF_TYPES or name == "exercise":
            number = None if "nonumber" in d.options else self.number(realtype)
            self.record(label, realtype, number, d.argument)
            head = f"**{realtype.capitalize()}{' ' + number if number else ''}**"
            if d.argument:
                head += f" ({self.inline(d.argument)})"
            return self.box(head, d.body, "dropdown" in classes)
        if name == "prf:proof":
            head = "**Proof.**" + (f" ({self.inline(d.argument)})" if d.argument else "")
            return self.box(head, d.body, "dropdown" in classes)
        if name == "solution":
            if not self.solutions:
                return ""
            exercise = self.target(d.argument)
            summary = f"Solution to {exercise.numbered_text}" if exercise else "Solution"
            if not self.collect and exercise is None:
                raise ValueError(f"{self.docname}: solution to unknown exercise {d.argument!r}")
            return _details(summary, self.markdown(d.body))
        if name == "figure":
            number = self.number("figure") if d.body.strip() else None
            self.record(label, "figure", number, d.body.split("\n\n")[0])
            image = d.argument if re.match(r"https?://", d.argument) else \
                f"{self.book.site}_images/{Path(d.argument).name}"
            caption = self.markdown(d.body)
            figure = f"![{d.options.get('alt') or f'Fig. {number}'}]({image})"
            return f"{figure}\n\n**Fig. {number}.** {caption}" if number else figure
        if name in ADMONITIONS:
            title = d.argument if name in {"admonition", "dropdown"} else \
                ("See also" if name == "seealso" else name.capitalize())
            return self.box(f"**{self.inline(title)}**", d.body,
                            name == "dropdown" or "dropdown" in classes)
        if name in CODE_DIRECTIVES:
            return f"```{d.argument}\n{d.body}\n```"
        if name == "math":
            number = self.number("displaymath") if label else None
            self.record(label, "displaymath", number)
            tag = f" \\tag{{{number}}}" if number else ""
            return f"$$\n{expand_macros(d.body, self.book.macros)}{tag}\n$$"
        if self.collect:
            return ""
        raise ValueError(f"{self.docname}: no plain-Markdown rendering for directive {{{name}}}")

    def box(self, head: str, body: str, collapsed: bool) -> str:
        """A headed block: a blockquote; between rules if it holds a table (nbconvert's Markdown
        parser, mistune, reads no table inside a blockquote); collapsed: a ``<details>`` block."""
        content = self.markdown(body)
        if collapsed:
            return _details(head, content)
        if TABLE_DELIMITER.search(content):
            return f"---\n\n{head}\n\n{content}\n\n---"
        return _quote(f"{head}\n\n{content}" if content else head)

    # roles

    def role(self, name: str, content: str) -> str:
        if self.collect:
            return content
        if name == "cite" or name.startswith("cite:"):
            return self.cite(name.split(":", 1)[1] if ":" in name else "p", content)
        if name == "math":
            return f"${expand_macros(content, self.book.macros)}$"
        if name.removeprefix("py:") in PYTHON_ROLES or name in LITERAL_ROLES:
            return self.literal(name.removeprefix("py:"), content)
        if name in {"sub", "sup"}:
            return f"<{name}>{content}</{name}>"
        titled = TITLED_TARGET.match(content)
        text, target = (titled["text"], titled["target"]) if titled else ("", content.strip())
        if name == "term":
            anchor = self.book.terms.get(target.lower())
            if anchor is None:
                raise ValueError(f"{self.docname}: {{term}} {target!r} is not in the glossary")
            return self.link(text or target, GLOSSARY, anchor)
        if name == "doc":
            docname = self.resolve_doc(target)
            return self.link(text or self.book.titles.get(docname, docname), docname)
        if name in {"prf:ref", "ref", "numref", "eq"}:
            found = self.target(target)
            if found is None:
                raise ValueError(f"{self.docname}: {{{name}}} to unknown label {target!r}")
            if name == "numref" and text:
                for placeholder in ("%s", "{number}"):
                    text = text.replace(placeholder, found.number or "")
                text = text.replace("{name}", found.title)
            elif not text:
                text = found.title if name == "ref" and found.kind in {"section", "figure"} \
                    else found.numbered_text
            return self.link(self.inline(text), found.docname, found.anchor)
        raise ValueError(f"{self.docname}: no plain-Markdown rendering for role {{{name}}}")

    @staticmethod
    def literal(name: str, content: str) -> str:
        """A Python object or a literal as inline code, as Sphinx shows an unresolved one:
        ``~a.b.f`` → ``f()``, ``a.b.f`` → ``a.b.f()`` (functions and methods get parentheses)."""
        if name in PYTHON_ROLES:
            titled = TITLED_TARGET.match(content)
            content = titled["text"] if titled and titled["text"] else content
            if content.startswith("~"):
                content = content[1:].rsplit(".", 1)[-1]
            content = content.lstrip(".")
            if name in {"func", "meth"} and not content.endswith(")"):
                content += "()"
        ticks = "``" if "`" in content else "`"
        return f"{ticks}{content}{ticks}"

    def resolve_doc(self, target: str) -> str:
        if target.startswith("/"):
            return target.lstrip("/").removesuffix(".md")
        base = Path(self.docname).parent
        parts = []
        for part in (base / target.removesuffix(".md")).parts:
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        return "/".join(parts)

    def link(self, text: str, docname: str, anchor: str = "") -> str:
        url = f"{self.book.site}{docname}.html" + (f"#{anchor}" if anchor else "")
        return f"[{text}]({url})"

    def cite(self, role: str, content: str) -> str:
        """Author–year citation text as sphinxcontrib-bibtex formats it, brackets round, each
        reference linked to its entry on the references page."""
        from pybtex.richtext import BaseMultipartText, HRef
        from sphinxcontrib.bibtex.citation_target import parse_citation_targets
        from sphinxcontrib.bibtex.richtext import BaseReferenceText
        from sphinxcontrib.bibtex.style.referencing import BracketStyle, format_references
        from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
        from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

        style = AuthorYearReferenceStyle(
            bracket_parenthetical=BracketStyle(left="(", right=")", sep="; "),
            bracket_textual=BracketStyle(left="(", right=")"))
        if role not in style.role_names():
            raise ValueError(f"{self.docname}: unknown citation role cite:{role}")
        references = []
        for target in parse_citation_targets(content):
            entry = self.book.bibliography.entries.get(target.key)
            if entry is None:
                raise ValueError(f"{self.docname}: citation key {target.key!r} is not in the .bib")
            info = SphinxReferenceInfo(None, self.docname, REFERENCES, target.key, None,
                                       target.pre, target.post)
            references.append((entry, None, info))
        url = f"{self.book.site}{REFERENCES}.html#"

        def linked(text):
            if isinstance(text, BaseReferenceText):
                return HRef(url + cite_id(text.info[0].citation_id), *map(linked, text.parts))
            if isinstance(text, BaseMultipartText):
                return text._create_similar(list(map(linked, text.parts)))
            return text

        return _markdown(linked(format_references(style, role, references)))


def _markdown(text) -> str:
    """pybtex rich text → Markdown: links, emphasis, strings (only ``*[]`` escaped)."""
    from pybtex.richtext import BaseMultipartText, HRef, String, Tag

    if isinstance(text, HRef):
        return f"[{''.join(map(_markdown, text.parts))}]({text.url})"
    if isinstance(text, Tag) and text.name in {"em", "i"}:
        return f"*{''.join(map(_markdown, text.parts))}*"
    if isinstance(text, BaseMultipartText):
        return "".join(map(_markdown, text.parts))
    if isinstance(text, String):
        return re.sub(r"([*\[\]])", r"\\\1", text.value)
    return str(text)


def myst_leftovers(markdown: str) -> list[str]:
    """MyST left in a Markdown text: roles (``{name}`` + backtick), directive fences
    (```` ```{ ````, ``:::{``) and ``(label)=`` lines."""
    return re.findall(r"\{[A-Za-z][\w:.+-]*\}`|`{3,}\{|:{3,}\{|^\([\w.:-]+\)=[ \t]*$", markdown,
                      flags=re.MULTILINE)


def notebook_markdown(nb, docname: str, root: Path = ROOT, solutions: bool = True):
    """Rewrite the markdown cells of the chapter ``docname``'s notebook ``nb`` as plain Jupyter
    Markdown (in place; also returned). ``solutions=False``: exercise solutions are removed."""
    _Converter(load_book(root), docname, solutions=solutions).notebook(nb)
    return nb


def notebook_blocks(nb, docname: str, root: Path = ROOT) -> list[Block]:
    """Convert ``nb`` as :func:`notebook_markdown` does (solutions removed) and return its markdown
    cells' top-level blocks in order: each directive (a theorem box, a figure, …) and each run of
    text between them, with the plain Markdown it became. ``Block.cell`` is the cell's index in
    ``nb`` as it was before the conversion (which inserts a caption cell after each figure cell)."""
    converter = _Converter(load_book(root), docname, solutions=False)
    converter.notebook(nb)
    return converter.blocks


def markdown(text: str, docname: str, root: Path = ROOT) -> str:
    """One Markdown text of page ``docname`` as plain Jupyter Markdown (numbering starts afresh)."""
    return _Converter(load_book(root), docname).markdown(text)
