"""The public surface: ``streamlet.__all__`` and ``streamlet.serde.__all__`` stay honest.

"Sorted" is the project linter's order (ruff RUF022, isort-style): SCREAMING_SNAKE_CASE
constants, then CamelCase classes, then everything else, each group in natural order.
"Public names" are what a package's ``__init__.py`` itself binds (imports from streamlet,
definitions, assignments), not the submodules Python attaches as attributes.
"""

from __future__ import annotations

import ast
import re
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

import streamlet
from streamlet import serde


def _isort_key(name: str) -> tuple[int, list[int | str]]:
    if name.isupper() and len(name) > 1:
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def _from_streamlet(stmt: ast.ImportFrom) -> bool:
    module = stmt.module or ""
    return stmt.level > 0 or module == "streamlet" or module.startswith("streamlet.")


def _bound_names(package: ModuleType) -> set[str]:
    """Names bound at module level of the package's ``__init__.py`` that it means to provide:
    imports from streamlet itself, and its own definitions and assignments."""
    assert package.__file__ is not None
    tree = ast.parse(Path(package.__file__).read_text())
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and _from_streamlet(stmt):
            names.update(alias.asname or alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    return {n for n in names if not n.startswith("_")}


_PACKAGES = [streamlet, serde]


@pytest.mark.parametrize("package", _PACKAGES, ids=lambda p: p.__name__)
def test_all_is_sorted(package: ModuleType) -> None:
    assert package.__all__ == sorted(package.__all__, key=_isort_key)


@pytest.mark.parametrize("package", _PACKAGES, ids=lambda p: p.__name__)
def test_all_has_no_duplicates(package: ModuleType) -> None:
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("package", _PACKAGES, ids=lambda p: p.__name__)
def test_all_names_resolve(package: ModuleType) -> None:
    missing = [name for name in package.__all__ if not hasattr(package, name)]

    assert missing == []


@pytest.mark.parametrize("package", _PACKAGES, ids=lambda p: p.__name__)
def test_all_lists_every_public_name(package: ModuleType) -> None:
    unlisted = _bound_names(package) - set(package.__all__)

    assert unlisted == set(), f"public names of {package.__name__} missing from __all__"


def test_star_import_binds_every_name_in_all() -> None:
    namespace: dict[str, object] = {}
    exec("from streamlet import *", namespace)

    assert set(streamlet.__all__) <= set(namespace)


def test_serde_resolves_avro_lazily() -> None:
    from streamlet.serde import avro

    assert serde.Avro is avro.Avro
    assert serde.SubjectNameStrategy is avro.SubjectNameStrategy
    assert "Avro" in serde.__all__


def test_serde_raises_attribute_error_for_unknown_name() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Protobuf'"):
        _ = serde.Protobuf


def test_exported_errors_share_one_root() -> None:
    errors = [
        getattr(streamlet, n) for n in streamlet.__all__ if n.endswith("Error") and n != "Error"
    ]

    assert errors
    assert all(issubclass(e, streamlet.StreamletError) for e in errors)


def test_version_matches_package_metadata() -> None:
    assert streamlet.__version__ == version("streamlet")
