"""The teaching kit's notebooks (book/_ext/student.py): every chapter has a graded code exercise whose
grader passes the reference solution and fails a wrong one and the empty stub; and no solution
survives in any student notebook."""
from __future__ import annotations

import contextlib
import io
import re

import jupytext
import pytest

from chapters import ROOT, colab_notebook, toc_notebooks
from student import graded_exercises, stub_source, student_notebook

CHAPTERS = {str(p.relative_to(ROOT).with_suffix("")): p for p in toc_notebooks()}
GRADED = [(name, i, ex) for name, path in CHAPTERS.items()
          for i, ex in enumerate(graded_exercises(jupytext.read(path)))]
SOLUTION_BLOCK = re.compile(r"<details>\n<summary>Solution to [^<]*</summary>\n\n(.*?)\n\n</details>",
                            re.DOTALL)


def grade_output(*sources: str) -> str:
    """Run the cells in one fresh namespace, as a student's kernel would; return what they print."""
    namespace, out = {"__name__": "__main__"}, io.StringIO()
    with contextlib.redirect_stdout(out):
        for source in sources:
            exec(compile(source, "<cell>", "exec"), namespace)
    lines = [line for line in out.getvalue().splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 1, f"a grader prints one PASS/FAIL line, got: {out.getvalue()!r}"
    return lines[0]


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_has_a_graded_exercise(name):
    assert graded_exercises(jupytext.read(CHAPTERS[name])), f"{name} has no graded code exercise"


@pytest.mark.parametrize("name, i, ex", GRADED, ids=[f"{n}-{i}" for n, i, _ in GRADED])
def test_grader_passes_reference_and_fails_wrong_answers(name, i, ex):
    assert grade_output(ex.solution, ex.grader).startswith("PASS"), "the reference solution fails"
    wrong = grade_output(ex.wrong, ex.grader)
    assert wrong.startswith("FAIL"), "the grader accepts the wrong solution"
    assert grade_output(stub_source(ex.solution), ex.grader).startswith("FAIL"), \
        "the grader accepts the unsolved stub"


def test_stub_keeps_signature_docstring_and_imports():
    source = ('import numpy as np\nfrom lib import ntk\n\n\n@staticmethod\ndef f(x,\n      y=1):\n'
              '    """Return x + y."""\n    z = x + y\n    return z\n\n\ndef g(x):\n    return x\n')
    stub = stub_source(source)
    assert "import numpy as np" in stub and "from lib import ntk" in stub
    assert '@staticmethod\ndef f(x,\n      y=1):\n    """Return x + y."""\n    raise NotImplementedError' in stub
    assert "def g(x):\n    raise NotImplementedError" in stub
    assert "z = x + y" not in stub and "return" not in stub
    compile(stub, "<stub>", "exec")


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_solution_survives_in_the_student_notebook(name):
    """Every line of every solution (markdown solution blocks and solution code cells) occurs in the
    student notebook only as often as it occurs in the chapter outside the solutions."""
    path = CHAPTERS[name]
    teacher = colab_notebook(path, ref="HEAD")
    student = student_notebook(path, ref="HEAD")
    text = {nb_name: "\n".join(c.source for c in nb.cells) for nb_name, nb in
            (("teacher", teacher), ("student", student))}
    solutions = SOLUTION_BLOCK.findall(text["teacher"])   # what the teacher's notebook shows
    hidden = []                                            # wrong solutions: in no notebook
    for ex in graded_exercises(jupytext.read(path)):
        stub = set(stub_source(ex.solution).splitlines())
        solutions.append("\n".join(l for l in ex.solution.splitlines() if l not in stub))
        hidden.append("\n".join(l for l in ex.wrong.splitlines() if l not in stub))
    assert "Solution to" not in text["student"]
    in_solutions = "\n".join(solutions)
    for line in {l.strip() for s in solutions + hidden for l in s.splitlines() if len(l.strip()) >= 25}:
        expected = text["teacher"].count(line) - in_solutions.count(line)
        assert text["student"].count(line) <= max(expected, 0), \
            f"solution text survives in the student notebook of {name}: {line!r}"


def test_student_notebook_hides_grader_code_and_keeps_checks():
    name = next(n for n, _, _ in GRADED) if GRADED else pytest.skip("no graded exercise yet")
    path = CHAPTERS[name]
    student = student_notebook(path, ref="HEAD")
    graders = [c for c in student.cells if "grader" in c.metadata.get("tags", [])]
    assert graders and all(c.metadata["cellView"] == "form" and c.metadata["jupyter"]["source_hidden"]
                           and c.source.startswith("#@title") for c in graders)
    assert not any("wrong-solution" in c.metadata.get("tags", []) for c in student.cells)
    original = jupytext.read(path)
    asserts = sum(c.source.count("assert ") for c in original.cells if c.cell_type == "code")
    assert sum(c.source.count("assert ") for c in student.cells if c.cell_type == "code") >= asserts
