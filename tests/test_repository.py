"""What an instructor checks before adopting the book: the licenses and how to cite it."""
import tomllib

import yaml

from chapters import ROOT


def test_code_license_matches_pyproject():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT"


def test_text_license_and_citation():
    assert "CC BY 4.0" in (ROOT / "LICENSE-TEXT.md").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"].startswith("1.2") and cff["title"] and cff["authors"] and cff["message"]
    assert set(cff["license"]) == {"CC-BY-4.0", "MIT"}
    readme = (ROOT / "README.md").read_text()
    for needle in ("LICENSE-TEXT.md", "CC BY 4.0", "CITATION.cff", "## Teaching with this book",
                   "make slides", "make student"):
        assert needle in readme, needle
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    assert "CC BY 4.0" in footer and "MIT" in footer
