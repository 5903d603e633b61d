"""The source tree reads as the data flow: subpackages say what enters, what leaves and where to start reading,
no module name repeats its folder's name (the folder already says it), and every DoFn that sets up worker
state names it (``preprocessing/beam/setup_state.py``)."""

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


def _set_up_dofns() -> list[tuple[Path, ast.ClassDef]]:
    return [
        (path, node)
        for path in sorted((ROOT / "preprocessing").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and node.name != "SetUpDoFn"
        and any(isinstance(item, ast.FunctionDef) and item.name == "build_state" for item in node.body)
    ]


def _assigned_in_build_state(dofn: ast.ClassDef) -> set[str]:
    setup = next(item for item in dofn.body if isinstance(item, ast.FunctionDef) and item.name == "build_state")
    return {
        target.attr
        for node in ast.walk(setup)
        if isinstance(node, ast.Assign)
        for chain in node.targets
        for target in (chain.elts if isinstance(chain, ast.Tuple) else [chain])
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
    }


def _declared_state(dofn: ast.ClassDef) -> set[str] | None:
    for item in dofn.body:
        if isinstance(item, ast.Assign) and [getattr(t, "id", None) for t in item.targets] == ["STATE"]:
            return set(ast.literal_eval(item.value))
    return None


def test_every_dofn_that_sets_up_state_drops_it_at_teardown_and_never_pickles_it():
    """Beam's DaskRunner keeps each partition's DoFn until the pass ends: state left on it is held per partition
    (``SetUpDoFn`` shares what ``build_state`` assigns and drops it from the DoFn at teardown)."""
    dofns = _set_up_dofns()
    assert len(dofns) >= 6  # the readers, the title, article, link-count and packing passes
    for path, dofn in dofns:
        where = f"{path.relative_to(ROOT)}: {dofn.name}"
        assert [getattr(base, "id", None) for base in dofn.bases] == ["SetUpDoFn"], where
        assert _declared_state(dofn) == _assigned_in_build_state(dofn), where
