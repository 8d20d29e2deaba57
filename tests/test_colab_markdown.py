"""The Colab notebooks read cleanly in plain Jupyter Markdown (book/_ext/plain_markdown.py).

Every chapter's notebook is generated and searched for MyST left raw (roles, directive fences,
``(label)=`` lines) and for TeX commands that a plain MathJax or KaTeX does not know (the book's own
macros must have been expanded); small inputs check the numbering, citations, exercises,
solutions, nested fences and macro expansion one by one.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from types import SimpleNamespace

import nbformat
import pytest

import chapters
import plain_markdown as pm
from chapters import ROOT, colab_notebook, toc_notebooks

SITE = pm.SITE_URL
DEPTH = "book/part1/depth"           # Chapter 1.4 (Part I, fourth chapter)

# Standard LaTeX/AMS commands that both MathJax 3 and KaTeX know without configuration. A command
# used in the book that is not here fails the test: add it only if it is standard.
STANDARD_TEX = set("""
alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi
varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi
Sigma Upsilon Phi Psi Omega
frac dfrac tfrac binom sqrt sum prod int iint oint lim liminf limsup sup inf max min arg argmax
log ln exp sin cos tan sinh cosh tanh arcsin arccos arctan det ker dim deg Pr gcd mod pmod bmod
mathbb mathbf mathcal mathfrak mathscr mathrm mathit mathsf mathtt boldsymbol operatorname text textbf
textit textrm rm bf it displaystyle textstyle scriptstyle
left right big Big bigg Bigg bigl bigr Bigl Bigr middle
langle rangle lfloor rfloor lceil rceil lvert rvert lVert rVert vert Vert mid parallel
cdot cdots ldots dots vdots ddots times div pm mp ast star circ bullet odot oplus otimes setminus
le leq ge geq ne neq ll gg lesssim gtrsim approx sim simeq asymp equiv propto cong prec preceq succ
succeq subset subseteq supset supseteq in notin ni cup cap bigcup bigcap emptyset varnothing
forall exists neg land lor wedge vee implies iff to gets mapsto rightarrow leftarrow Rightarrow
Leftarrow Leftrightarrow leftrightarrow longrightarrow longmapsto uparrow downarrow xrightarrow
infty partial nabla ell hbar Re Im aleph top bot perp angle sharp flat natural square blacksquare
triangle prime dagger
hat widehat tilde widetilde bar overline underline vec dot ddot check breve acute grave
overbrace underbrace overset underset stackrel
quad qquad enspace hspace vspace phantom
begin end tag label nonumber notag
""".split())
ENVIRONMENTS = {"cases", "aligned", "align", "align*", "equation", "equation*", "gathered", "split",
                "matrix", "pmatrix", "bmatrix", "vmatrix", "array"}


@pytest.fixture(scope="module")
def notebooks():
    return {str(p.relative_to(ROOT).with_suffix("")): colab_notebook(p, ref="HEAD")
            for p in toc_notebooks()}


def markdown_of(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def tex_commands(markdown: str) -> set[str]:
    """Control words outside code (a superset of those in math)."""
    return {m.group(1) for piece in pm.outside_code(markdown)
            for m in re.finditer(r"\\([A-Za-z]+)", re.sub(r"\\\\", " ", piece))}


def test_every_notebook_is_plain_markdown(notebooks):
    assert len(notebooks) >= 20
    problems = {}
    for docname, nb in notebooks.items():
        text = markdown_of(nb)
        found = pm.myst_leftovers(text)
        unknown = tex_commands(text) - STANDARD_TEX
        envs = set(re.findall(r"\\begin\{([^}]*)\}", text)) - ENVIRONMENTS
        if found or unknown or envs:
            problems[docname] = (found[:5], sorted(unknown), sorted(envs))
    assert not problems, problems


def test_macros_come_from_the_config_and_are_expanded(notebooks):
    macros = pm.tex_macros()
    assert {"R", "E", "tr", "Ent"} <= set(macros)
    assert not set(macros) & STANDARD_TEX
    text = "\n".join(markdown_of(nb) for nb in notebooks.values())
    assert "\\mathbb{R}" in text and "\\operatorname{Ent}" in text


def test_notebooks_are_numbered_as_the_site(notebooks):
    """Per type and chapter, boxes, exercises and figures count 1, 2, … after the chapter's number
    within its part (Part I's fourth chapter: 1.4); every exercise has its collapsed solution, except a
    graded one, whose solution is a code cell."""
    for docname, nb in notebooks.items():
        text = markdown_of(nb)
        chapter = ".".join(map(str, pm.load_book().chapter_numbers[docname]))
        heads = re.findall(r"^(?:> )*\*\*(\w+\.?) (\d+(?:\.\d+)*)\.?\*\*", text, flags=re.MULTILINE)
        for kind in {k for k, _ in heads}:
            numbers = [n for k, n in heads if k == kind]
            assert numbers == [f"{chapter}.{i}" for i in range(1, len(numbers) + 1)], (docname, kind)
        exercises = [n for k, n in heads if k == "Exercise"]
        solutions = re.findall(r"<summary>Solution to Exercise ([\d.]+)</summary>", text)
        # a graded exercise's solution is the code cell after it (tagged "solution"), not a block
        graded = {re.findall(r"\*\*Exercise ([\d.]+)\*\*", cell.source)[-1]
                  for cell, after in zip(nb.cells, nb.cells[1:])
                  if cell.cell_type == "markdown" and "solution" in after.metadata.get("tags", [])
                  and re.search(r"\*\*Exercise [\d.]+\*\*", cell.source)}
        assert graded, f"{docname}: no graded exercise"
        assert solutions == [n for n in exercises if n not in graded], docname
    numbers = pm.load_book().chapter_numbers          # parts from 0; overview pages unnumbered
    assert numbers["book/part0/risk_minimization"] == (0, 1) and numbers[DEPTH] == (1, 4)
    assert numbers["book/part2/overparameterization"] == (2, 1) and "book/part2/index" not in numbers
    depth = markdown_of(notebooks[DEPTH])
    assert f"[Theorem 1.4.1]({SITE}{DEPTH}.html#dp-thm-shallow)" in depth
    assert "> **Theorem 1.4.1** (One hidden layer" in depth


def test_site_build_replaces_the_downloadable_notebook(tmp_path):
    download = tmp_path / "_sources" / f"{DEPTH}.ipynb"
    download.parent.mkdir(parents=True)
    download.write_text("raw MyST copy written by the theme")
    app = SimpleNamespace(outdir=str(tmp_path), srcdir=str(ROOT),
                          builder=SimpleNamespace(format="html"))
    chapters._clean_downloads(app, None)
    nb = nbformat.read(download, as_version=4)
    assert "colab-setup" in nb.cells[1].metadata["tags"] and "source_map" not in nb.metadata
    text = markdown_of(nb)
    assert "**Theorem 1.4.1**" in text and not pm.myst_leftovers(text)


# --- the converter on small inputs ----------------------------------------------------------


def convert(text: str, docname: str = DEPTH) -> str:
    return pm.markdown(text, docname)


def test_theorem_box_is_headed_and_numbered_per_type():
    text = (":::{prf:definition} Regions\n:label: t-def\n\nA set in $\\R^d$.\n:::\n\n"
            ":::{prf:theorem} Telgarsky\n:label: t-a\n\nFirst.\n:::\n\n"
            ":::{prf:theorem}\n:label: t-b\n\nSecond, after {prf:ref}`t-a`.\n:::")
    out = convert(text)
    assert out.startswith("> **Definition 1.4.1** (Regions)\n>\n> A set in $\\mathbb{R}^d$.")
    assert "> **Theorem 1.4.1** (Telgarsky)\n>\n> First." in out
    assert f"> **Theorem 1.4.2**\n>\n> Second, after [Theorem 1.4.1]({SITE}{DEPTH}.html#t-a)." in out
    assert not pm.myst_leftovers(out)


def test_unnumbered_chapter_and_nonumber_box():
    out = convert(":::{prf:remark}\n:nonumber:\n\nNo number.\n:::", "book/part2/index")
    assert out == "> **Remark**\n>\n> No number."
    assert convert(":::{prf:lemma}\nx\n:::", "book/part2/index").startswith("> **Lemma 1**")


def test_citations_are_author_year_linked_to_the_references_page():
    refs = f"{SITE}book/appendix/references.html"
    assert convert("{cite:t}`hanin2019complexity`") == \
        f"Hanin and Rolnick ([2019]({refs}#cite-hanin2019complexity))"
    assert convert("{cite:p}`zaslavsky1975facing`") == \
        f"([Zaslavsky, 1975]({refs}#cite-zaslavsky1975facing))"
    assert convert("{cite}`robbins1951stochastic,bottou2018optimization`") == (
        f"([Robbins and Monro, 1951]({refs}#cite-robbins1951stochastic); "
        f"[Bottou *et al.*, 2018]({refs}#cite-bottou2018optimization))")
    with pytest.raises(ValueError, match="nokey"):
        convert("{cite:p}`nokey`")


def test_exercise_keeps_statement_and_solution_is_collapsed():
    text = (":::{exercise}\n:label: t-ex\n\nProve $\\E[X]=0$.\n:::\n\n"
            ":::{solution} t-ex\n:class: dropdown\n\nBy symmetry, $\\tr A$.\n:::")
    out = convert(text)
    assert out == ("> **Exercise 1.4.1**\n>\n> Prove $\\mathbb{E}[X]=0$.\n\n"
                   "<details>\n<summary>Solution to Exercise 1.4.1</summary>\n\n"
                   "By symmetry, $\\operatorname{tr} A$.\n\n</details>")


def test_nested_fences_colon_and_backtick():
    text = ("::::{prf:theorem} Outer\n:label: t-outer\n\nStatement.\n\n"
            ":::{note}\nInner {term}`depth`.\n:::\n::::\n\n"
            "````{admonition} Code inside\n```python\nx = {'a': 1}  # {term}`not a role`\n```\n````")
    out = convert(text)
    assert "> **Theorem 1.4.1** (Outer)\n>\n> Statement.\n>\n> > **Note**\n> >\n> > Inner [depth](" in out
    assert "> **Code inside**\n>\n> ```python\n> x = {'a': 1}  # {term}`not a role`\n> ```" in out
    assert pm.myst_leftovers(out) == ["{term}`"]     # only the one inside the code block


def test_labels_comments_macros_and_code_spans():
    text = ("(sec-x)=\n## Section\n\n% a comment\nSee $\\Ent(\\mu)$, $\\tr\\, A$ and the code "
            "`\\R {term}`.\n\n$$\na \\\\R\n$$ (eq-x)\n\nBy {eq}`eq-x` in {ref}`sec-x`.")
    out = convert(text)
    assert out.startswith("## Section\n\nSee $\\operatorname{Ent}(\\mu)$, $\\operatorname{tr}\\, A$ "
                          "and the code `\\R {term}`.")
    assert "a \\\\R \\tag{1.4.1}\n$$" in out
    assert f"By [(1.4.1)]({SITE}{DEPTH}.html#equation-eq-x) in [Section]({SITE}{DEPTH}.html#sec-x)." in out


def test_code_fences_in_markdown_stay_verbatim():
    code = "```python\n%matplotlib inline\n# {term}`x` and $\\R$\n(not-a-label)=\n````\n"
    assert convert(f"Text $\\R$.\n\n{code}\nAfter $\\E$.") == \
        f"Text $\\mathbb{{R}}$.\n\n{code}\nAfter $\\mathbb{{E}}$."


def test_python_and_literal_roles_become_inline_code():
    assert convert("{func}`~lib.stats.power_law_fit` and {py:class}`lib.book.Chapter`") == \
        "`power_law_fit()` and `lib.book.Chapter`"
    assert convert("{kbd}`Ctrl` H{sub}`2`O") == "`Ctrl` H<sub>2</sub>O"


def test_macro_expansion_reads_control_words_whole():
    macros = {"E": ("\\mathbb{E}", 0), "Ent": ("\\operatorname{Ent}", 0), "R": ("\\mathbb{R}", 0),
              "norm": ("\\lVert #1\\rVert", 1), "tr": ("\\operatorname{tr}", 0)}
    assert pm.expand_macros("\\Ent \\E x \\Eta \\\\R \\norm{\\R^d} \\tr A \\triangle", macros) == \
        "\\operatorname{Ent} \\mathbb{E} x \\Eta \\\\R \\lVert \\mathbb{R}^d\\rVert \\operatorname{tr} A \\triangle"
    assert pm.expand_macros("\\tr\\E", macros) == "\\operatorname{tr}\\mathbb{E}"


def test_figures_admonitions_and_unknown_directives():
    out = convert("```{figure} img/plot.png\n:name: t-fig\n\nA *plot*.\n```\n\n{numref}`t-fig`")
    assert out.startswith(f"![Fig. 1.4.1]({SITE}_images/plot.png)\n\n**Fig. 1.4.1.** A *plot*.")
    assert out.endswith(f"[Fig. 1.4.1]({SITE}{DEPTH}.html#t-fig)")
    assert convert(":::{warning}\nCareful.\n:::") == "> **Warning**\n>\n> Careful."
    assert convert(":::{tip}\n:class: dropdown\nHidden.\n:::").startswith("<details>\n<summary>**Tip**")
    with pytest.raises(ValueError, match="glue"):
        convert(":::{glue:figure} x\n:::")
    with pytest.raises(ValueError, match="unknown label"):
        convert("{prf:ref}`no-such-label`")


def test_a_box_with_a_table_sits_between_rules():
    out = convert(":::{prf:theorem} Bounds\n\n| a | b |\n|---|---|\n| $\\R$ | 2 |\n:::")
    assert out == "---\n\n**Theorem 1.4.1** (Bounds)\n\n| a | b |\n|---|---|\n| $\\mathbb{R}$ | 2 |\n\n---"


def test_math_inside_a_box_is_one_line():
    out = convert(":::{prf:theorem}\nIt holds that\n$$\n\\sum_i x_i\n= 1\n$$\nand $a\n+ b$.\n:::")
    assert "> $$ \\sum_i x_i = 1 $$" in out and "> and $a + b$." in out
    assert all(">" not in span for span in pm.math_spans(out))


def test_pages_url():
    assert pm.pages_url("https://github.com/Owner/repo") == "https://owner.github.io/repo/"
    with pytest.raises(ValueError, match="repository_url"):
        pm.pages_url("https://gitlab.com/a/b")


def render_html(nb, path):
    """``nb`` as nbconvert's HTML (MathJax is loaded from a CDN: without network, math stays TeX)."""
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    path.write_text(html, encoding="utf-8")
    return html


def test_a_notebook_renders_to_html_and_a_screenshot(notebooks, tmp_path):
    """Depth (Chapter 1.4) through nbconvert: boxes as blockquotes with their numbers, solutions in
    <details>, citations as links; then a headless-Chromium screenshot of the top of the page."""
    from bs4 import BeautifulSoup

    html = render_html(notebooks[DEPTH], tmp_path / "depth.html")
    soup = BeautifulSoup(html, "html.parser")
    quotes = [q.get_text(" ", strip=True) for q in soup.select("blockquote")]
    assert any(q.startswith("Theorem 1.4.2 (Depth multiplies regions)") for q in quotes), quotes[:3]
    assert [s.get_text() for s in soup.select("details > summary")][:1] == ["Solution to Exercise 1.4.1"]
    links = {a.get_text(" ", strip=True): a["href"] for a in soup.select("a[href]")}
    assert links["Zaslavsky, 1975"].endswith("references.html#cite-zaslavsky1975facing")
    assert links["Theorem 1.4.1"].endswith("depth.html#dp-thm-shallow")
    assert "{prf:" not in soup.get_text() and ":::" not in soup.get_text()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium for the screenshot")
    shot = tmp_path / "depth.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1100,2400",
                    (tmp_path / "depth.html").as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000, "screenshot empty"
