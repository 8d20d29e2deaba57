"""Student notebooks and the graded code exercises (``make student``).

A chapter's graded exercise is an exercise box followed by three code cells, marked by tags:

* ``wrong-solution`` (with ``remove-cell``): a plausible wrong answer, defining the same function.
  Never shown: the site hides it, the notebooks drop it; the tests require its grade to be FAIL.
* ``solution`` (with ``hide-input``): the reference solution, self-contained ``def`` s whose
  docstrings state the task. The site shows it collapsed.
* ``grader`` (with ``hide-input``): a self-contained call of ``lib.grading.grade`` that runs the
  function on fresh random inputs against ``lib`` or a closed form and prints PASS or FAIL.

``student_notebook(path, ref)`` is the chapter's Colab notebook (``chapters.colab_notebook``) with
every exercise solution removed, not collapsed: the ``{solution}`` blocks are dropped and each
solution cell becomes a stub (the signatures and docstrings, a ``raise NotImplementedError`` body).
The grader cells stay, their code hidden (Colab's form view, JupyterLab's ``source_hidden``), so a
student runs them to grade the function they wrote. Experiments and checks are kept.

``python book/_ext/student.py OUTDIR [--ref REF]`` writes them all as ``OUTDIR/<path>.ipynb``.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

import chapters

WRONG, SOLUTION, GRADER = "wrong-solution", "solution", "grader"
STUB_BODY = 'raise NotImplementedError("write your solution here")'


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


@dataclass(frozen=True)
class GradedExercise:
    """The three code cells of one graded exercise (sources)."""

    wrong: str
    solution: str
    grader: str


def graded_exercises(nb) -> list[GradedExercise]:
    """The graded exercises of notebook ``nb``, each a wrong-solution, solution and grader cell in
    this order. Raises ``ValueError`` if the tagged cells are not in such triples."""
    tagged = [(next(t for t in (WRONG, SOLUTION, GRADER) if t in tags(c)), c.source)
              for c in nb.cells if c.cell_type == "code" and {WRONG, SOLUTION, GRADER} & set(tags(c))]
    kinds = [kind for kind, _ in tagged]
    if kinds != [WRONG, SOLUTION, GRADER] * (len(kinds) // 3):
        raise ValueError(f"graded exercise cells must come as ({WRONG}, {SOLUTION}, {GRADER}) "
                         f"triples, got {kinds}")
    return [GradedExercise(*(src for _, src in tagged[i:i + 3])) for i in range(0, len(tagged), 3)]


def stub_source(source: str) -> str:
    """A solution cell as the student sees it: imports kept, and each top-level function reduced to
    its decorators, signature and docstring with the body ``raise NotImplementedError(...)``.
    Anything else at top level is dropped (a solution cell holds only imports and functions)."""
    lines = source.split("\n")
    out = []
    for node in ast.parse(source).body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append("\n".join(lines[start:node.end_lineno]))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0]
            has_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None),
                                                                 ast.Constant) \
                and isinstance(first.value.value, str)
            head_end = first.end_lineno if has_doc else first.lineno - 1
            indent = " " * first.col_offset
            out.append("\n".join(lines[start:head_end] + [indent + STUB_BODY]))
    return "\n\n\n".join(out) + "\n"


def student_notebook(path: Path, ref: str, nb: nbformat.NotebookNode | None = None
                     ) -> nbformat.NotebookNode:
    """The chapter at ``path`` as a student's Colab notebook (see the module docstring)."""
    nb = copy.deepcopy(nb) if nb is not None else jupytext.read(path)
    graded_exercises(nb)  # validates the triples
    cells = []
    for cell in nb.cells:
        kinds = set(tags(cell))
        if cell.cell_type == "code" and WRONG in kinds:
            continue
        if cell.cell_type == "code" and SOLUTION in kinds:
            cell.source = "# Your solution: replace each `raise NotImplementedError` by code.\n" \
                + stub_source(cell.source)
            cell.outputs = []
            cell.metadata["tags"] = [t for t in tags(cell) if t != "hide-input"]
        elif cell.cell_type == "code" and GRADER in kinds:
            cell.source = "#@title Grader: run this cell to check your function\n" + cell.source
            cell.outputs = []
            cell.metadata["cellView"] = "form"                       # Colab: code folded away
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True   # JupyterLab
        cells.append(cell)
    nb.cells = cells
    nb = chapters.colab_notebook(path, ref, nb, solutions=False)
    nb.metadata["colab"]["name"] = "student-" + nb.metadata["colab"]["name"]
    return nb


def main(argv=None):
    chapters.main(argv, student_notebook, "student notebooks")


if __name__ == "__main__":
    main()
