"""The source tree reads as the data flow: subpackages say what enters, what leaves and where to start reading,
and no module name repeats its folder's name (the folder already says it)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(
    p.parent for top in ("preprocessing", "pretraining", "luke") for p in (ROOT / top).rglob("__init__.py")
)
PREPROCESSING_STAGES = sorted(p for p in PACKAGES if p.parent == ROOT / "preprocessing")


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text())) or ""


@pytest.mark.parametrize("package", PREPROCESSING_STAGES, ids=lambda p: p.name)
def test_each_preprocessing_subpackage_says_what_enters_what_leaves_and_where_to_start(package):
    lines = _docstring(package / "__init__.py").splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["Enters", "Leaves", "Read first"], lines
    first = re.match(r"Read first: ``(\w+)``", lines[2])
    assert first and (package / f"{first.group(1)}.py").is_file(), lines[2]


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("us") else word


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_name_repeats_its_folder_name(package):
    names = {package.name, _singular(package.name)}  # entities/entity_vocab.py repeats it too
    repeating = [m.name for m in package.glob("*.py") if m.stem.split("_")[0] in names]
    assert not repeating, f"{package.relative_to(ROOT)}: {repeating}"
