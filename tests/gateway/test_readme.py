"""The README says what the tree holds and how to run it: every package folder has its row in
the Layout table, and the `make` targets it names are the Makefile's, each described."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _layout_rows() -> set[str]:
    """The folders of the Layout table's rows (`| `folder/` | ... |`)."""
    section = README.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)/` \|", section, flags=re.MULTILINE))


def test_every_package_folder_has_its_row_in_the_layout_table() -> None:
    tops = [
        folder
        for folder in ROOT.iterdir()
        if (folder / "__init__.py").is_file() and folder.name != "tests"
    ]
    packages = {
        str(init.parent.relative_to(ROOT)) for top in tops for init in top.rglob("__init__.py")
    }
    rows = _layout_rows()
    assert packages - rows == set(), "fix: describe these folders in README's Layout"
    assert {row for row in rows if not (ROOT / row).is_dir()} == set(), "rows of no folder"


def test_the_make_targets_the_readme_names_are_the_makefiles_and_each_is_named() -> None:
    [phony] = re.findall(r"^\.PHONY: (.+)$", MAKEFILE, flags=re.MULTILINE)
    targets = set(phony.split())
    named = set(re.findall(r"`make\s+([a-z-]+)", README))
    assert named - targets == set(), "the README names targets the Makefile lacks"
    assert targets - named == set(), "fix: say in the README what these targets do"
