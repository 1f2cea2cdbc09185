"""Who made the work: the authors a research repository asks for (Zenodo requires creators).

Found in the project folder beside the manifest, first source wins: CITATION.cff (the citation file GitHub and
Zenodo read), then pyproject.toml's ``[project] authors``, then git's ``user.name``. Each answer says where it came
from, so the crate can say it too. A file is read only when it is a regular file of modest size.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from envcapture.text import one_line, printable

MAX_FILE_BYTES = 1 << 20  # a citation file or pyproject.toml is a few kB
MAX_AUTHORS = 200


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    orcid: str | None = None
    affiliation: str | None = None


def find_authors(folder: Path) -> tuple[list[Person], str]:
    for finder, where in ((_from_citation, "CITATION.cff"), (_from_pyproject, "pyproject.toml authors"),
                          (_from_git, "git config user.name")):
        try:
            people = finder(folder)
        except Exception:  # a malformed file is the same as no file: the next source may know
            people = []
        people = [p for p in people if p.name][:MAX_AUTHORS]
        if people:
            return people, where
    return [], ""


def _read_small(path: Path) -> str | None:
    """The file's text through the one bounded reader (regular file, no blocking open, size checked)."""
    from envcapture.errors import BadInput
    from envcapture.manifest import reader

    if not path.exists():
        return None
    try:
        return reader.read_bytes(path, MAX_FILE_BYTES, what=path.name).decode("utf-8", errors="replace")
    except BadInput:
        return None


def _clean(value) -> str | None:
    if not isinstance(value, str):
        return None
    text = printable(one_line(value, 200))
    return text or None


def _from_citation(folder: Path) -> list[Person]:
    import yaml

    text = _read_small(folder / "CITATION.cff")
    if text is None:
        return []
    data = yaml.safe_load(text)
    people = []
    for entry in (data or {}).get("authors") or []:
        if not isinstance(entry, dict):
            continue
        name = " ".join(part for part in (_clean(entry.get("given-names")), _clean(entry.get("name-particle")),
                                          _clean(entry.get("family-names"))) if part) or _clean(entry.get("name"))
        orcid = _clean(entry.get("orcid"))
        people.append(Person(name=name or "", email=_clean(entry.get("email")),
                             orcid=orcid if orcid and orcid.startswith("https://orcid.org/") else None,
                             affiliation=_clean(entry.get("affiliation"))))
    return people


def _from_pyproject(folder: Path) -> list[Person]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    text = _read_small(folder / "pyproject.toml")
    if text is None:
        return []
    authors = (tomllib.loads(text).get("project") or {}).get("authors") or []
    return [Person(name=_clean(a.get("name")) or "", email=_clean(a.get("email")))
            for a in authors if isinstance(a, dict)]


def _from_git(folder: Path) -> list[Person]:
    def config(key: str) -> str | None:
        try:
            run = subprocess.run(["git", "-C", str(folder), "config", "--get", key], capture_output=True,
                                 text=True, timeout=10, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return _clean(run.stdout.strip()) if run.returncode == 0 else None

    name = config("user.name")
    return [Person(name=name, email=config("user.email"))] if name else []
