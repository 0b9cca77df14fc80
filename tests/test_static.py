"""The house rules, checked in the test run: layering contracts, lint and types."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(tool, path=str(BIN)) or shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_layering_contracts_hold() -> None:
    out = _run("lint-imports")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_is_clean() -> None:
    out = _run("ruff", "check", "app", "tests", "bench")
    assert out.returncode == 0, out.stdout


def test_mypy_is_clean() -> None:
    out = _run("mypy")  # strict, over app/ and tests/ (pyproject)
    assert out.returncode == 0, out.stdout


def test_styles_ship_in_the_wheel(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {out.stderr[-200:]}")
    import zipfile

    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/styles.tcss" in names and "app/cli.py" in names


def test_the_repository_needs_nothing_outside_itself() -> None:
    """A fresh clone must run everything (the audio rig included) from its own files."""
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    needles = ("../" + "shared", "shared" + "/audio")  # spelled apart so this file does not match itself
    for name in out.stdout.splitlines():
        path = ROOT / name
        if path.suffix in {".svg", ".png", ".wav"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(needle in text for needle in needles):
            offenders.append(name)
    assert offenders == []


def test_only_public_textual_modules_are_imported() -> None:
    """Issue 11: public Textual APIs only; a private module (`textual.widgets._markdown`) can move or change
    in any release."""
    import re

    private = re.compile(r"^\s*(?:from|import)\s+textual(?:\.\w+)*\._\w+", re.MULTILINE)
    offenders = [f"{path.relative_to(ROOT)}: {match.group(0).strip()}" for path in sorted((ROOT / "app").rglob("*.py"))
                 for match in private.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []


def _names_bound(node: ast.AST) -> set[str]:
    """The names one statement binds: a function's, or an assignment's plain-name targets."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return {node.name}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    return set()


def _private(names: set[str]) -> set[str]:
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _private_names_defined(tree: ast.Module) -> set[str]:
    """The `_names` a module gives its own objects: methods, class attributes, `self._x = …` assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        names |= _names_bound(node)
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return _private(names)


def test_no_module_reaches_into_another_modules_private_fields() -> None:
    """Issue 11: `other._name` outside `self`/`cls`/`super()` is allowed only for a name its own module
    defines (a class copying its own index); anything else is one module writing another's state."""
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = _private_names_defined(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                continue
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super":
                continue
            if node.attr not in own:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


# Private Textual names this code overrides on purpose, each with the reason at the override.
DELIBERATE_TEXTUAL_OVERRIDES = {"_fatal_error"}


def _names_in_source(cls: type) -> set[str]:
    """The private names a class's own source gives its instances: its methods and class-body names, and
    `self._x` stores in its methods (locals and other objects' fields are not the class's names)."""
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))  # no source to read: the check cannot be done
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    names: set[str] = set().union(*(_names_bound(node) for node in body.body))
    for inner in ast.walk(body):
        if (isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Store)
                and isinstance(inner.value, ast.Name) and inner.value.id == "self"):
            names.add(inner.attr)
    return _private(names)


def test_no_class_reuses_a_private_name_of_its_textual_base() -> None:
    """An App field named `_closing` silently replaced Textual's own flag of that name, and the App never
    finished shutting down. Subclasses of Textual's classes keep their private names out of Textual's."""
    import importlib
    import inspect
    import pkgutil

    import app as package

    offenders = []
    for info in pkgutil.walk_packages(package.__path__, "app."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "textual"]
            if not bases:
                continue
            theirs = set().union(*(_names_in_source(base) | set(vars(base)) for base in bases))
            ours = _names_in_source(cls)
            for name in sorted((ours & theirs) - DELIBERATE_TEXTUAL_OVERRIDES):
                offenders.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert offenders == []
