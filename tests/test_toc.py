"""The table of contents and the test suite agree: no chapter escapes execution."""
import re
import subprocess
import sys

from chapters import ROOT, toc_files as _toc_files


def test_toc_files_exist():
    missing = [str(p) for p in _toc_files() if not p.is_file()]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_pages_with_code_are_notebooks():
    """A page with code cells must carry a kernelspec, or Jupyter Book would not execute it."""
    for p in _toc_files():
        text = p.read_text(encoding="utf-8")
        if "{code-cell}" in text:
            header = text.split("---", 2)[1] if text.startswith("---") else ""
            assert "kernelspec" in header, f"{p.name} has code cells but no jupytext kernelspec"


def test_every_toc_notebook_is_executed_by_pytest():
    """Ask pytest itself which notebooks it would execute, and compare with _toc.yml."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "book"],
                         cwd=ROOT, capture_output=True, text=True, check=False).stdout
    collected = {line.split("::")[0] for line in out.splitlines() if "::" in line}
    notebooks = [p for p in _toc_files() if "{code-cell}" in p.read_text(encoding="utf-8")]
    assert notebooks, "no executable chapter found in _toc.yml"
    missed = [str(p.relative_to(ROOT)) for p in notebooks
              if str(p.relative_to(ROOT)) not in collected]
    assert not missed, f"chapters in _toc.yml that pytest would not execute: {missed}\n{out[-2000:]}"


def test_no_orphan_chapters():
    """Every notebook under book/ is in the table of contents (else it is neither built nor tested)."""
    listed = set(_toc_files())
    for p in (ROOT / "book").rglob("*.md"):
        if re.search(r"^kernelspec:", p.read_text(encoding="utf-8"), re.M):
            assert p in listed, f"{p.relative_to(ROOT)} is a notebook but not in _toc.yml"
