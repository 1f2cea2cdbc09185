"""The wheel holds every package of the tree: setuptools installs only the packages pyproject.toml lists, and a
folder missing from the list works in an editable install (the tests' venv) but not from the wheel a user gets."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def packages_in_tree() -> set[str]:
    """Every folder holding Python files (render/ is a namespace package: it has no __init__.py)."""
    found = {".".join(module.parent.relative_to(REPO).parts) for module in (REPO / "envcapture").rglob("*.py")
             if "__pycache__" not in module.parts}
    return found | {"envcapture.templates"}


def test_pyproject_lists_every_package_of_the_tree():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert packages_in_tree() - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - packages_in_tree() == set(), "pyproject.toml lists packages that do not exist"
