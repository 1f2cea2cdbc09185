"""Reading hundreds of manifests for `diff`: each distinct section validated and flattened once.

The manifests of a cluster's nodes are nearly identical: the same packages, the same system, a different
creation time and node name. Here each file is read by the bounded reader and parsed once, section by section,
keeping each top-level section's exact JSON text: a section whose text was already seen is already validated
and flattened, so only what differs costs anything. Identical text parses to identical data, and the checks
are the compiled validator's (``manifest/validator.py``, the one ``validate`` runs; no jsonschema, which a
plain install lacks), so this gives exactly the verdict of validating each file whole; a file that fails is
read again by ``manifest.load``, whose message names the problem.

Nothing is kept per manifest but its section variants, so memory grows with what differs, not with the count.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.compare.facts import EXTRACTORS, Facts
from envcapture.compare.grading import Comparison, grade_tables, groups_of, not_compared_sections
from envcapture.compare.rules import DIFF_SECTIONS
from envcapture.errors import BadInput
from envcapture.manifest import reader

_SPACE = re.compile(r"[ \t\n\r]*")


class NotPlain(ValueError):
    """The fast reader gives up; ``manifest.load`` reads the file and says precisely what is wrong."""


def split_sections(text: str) -> list[tuple[str, str, object]]:
    """A JSON object's top-level members as (key, exact JSON text of the value, parsed value)."""
    decoder = reader.decoder_for(text)  # numbers bounded as every reader bounds them
    i = _SPACE.match(text, 0).end()
    if text[i:i + 1] != "{":
        raise NotPlain("not a JSON object")
    i = _SPACE.match(text, i + 1).end()
    members = []
    if text[i:i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i:i + 1] != '"':
                raise NotPlain("expected a key")
            try:
                key, i = decoder.raw_decode(text, i)
            except ValueError:
                raise NotPlain("bad key") from None
            i = _SPACE.match(text, i).end()
            if text[i:i + 1] != ":":
                raise NotPlain("expected ':'")
            start = _SPACE.match(text, i + 1).end()
            try:
                value, i = decoder.raw_decode(text, start)
            except (ValueError, RecursionError):  # reader.NumberOutOfRange is a ValueError too
                raise NotPlain("bad value") from None
            members.append((key, text[start:i], value))
            i = _SPACE.match(text, i).end()
            if text[i:i + 1] == ",":
                i = _SPACE.match(text, i + 1).end()
                continue
            if text[i:i + 1] == "}":
                i += 1
                break
            raise NotPlain("expected ',' or '}'")
    if _SPACE.match(text, i).end() != len(text):
        raise NotPlain("extra data after the object")
    return members


class _Validators:
    """The manifest schema cut at the top level, compiled by envcapture's own validator (the one ``validate``
    uses, so a file gets one verdict whichever path reads it): one check per section, one for the object's
    keys, and for object sections one for their keys and one per member."""

    def __init__(self):
        from envcapture.manifest import file as manifest
        from envcapture.manifest import grammar
        from envcapture.manifest.validator import Compiler

        full = manifest.schema()
        compiler = Compiler(full, {name: rule for name, (rule, _) in grammar.RULES.items()})
        self.top = _passes(compiler.compile(_shallow(full)))
        self.sections = {name: _passes(compiler.compile(sub)) for name, sub in full["properties"].items()}
        # Object sections are checked a level deeper too: their own keys, then each member on its own, so
        # a hardware section that differs only in memory_total does not revalidate 100 CPU flags.
        self.shallow = {name: _passes(compiler.compile(_shallow(sub)))
                        for name, sub in full["properties"].items() if "properties" in sub}
        self.members = {(name, key): _passes(compiler.compile(member))
                        for name, sub in full["properties"].items() for key, member in sub.get("properties", {}).items()}
        self.valid_members: set = set()

    def section_is_valid(self, name: str, text: str, value) -> bool:
        if name not in self.sections:
            return False
        if not isinstance(value, dict) or name not in self.shallow:
            return self.sections[name](value)
        if not self.shallow[name](value):
            return False
        for key, member_text, member_value in split_sections(text):
            if (name, key, member_text) in self.valid_members:
                continue
            if not self.members[(name, key)](member_value):
                return False
            self.valid_members.add((name, key, member_text))
        return True


def _passes(check):
    """A compiled check as a yes/no question: the first problem is enough to hand the file to ``load``."""
    from envcapture.manifest.validator import TooManyProblems

    def passes(value) -> bool:
        out: list = []
        try:
            check(value, (), out)
        except TooManyProblems:
            return False
        return not out
    return passes


def _shallow(schema: dict) -> dict:
    """``schema`` with each property's own schema dropped: only the type and the keys are checked."""
    return {**schema, "properties": {key: {} for key in schema["properties"]}}


@dataclass
class Variant:
    """One distinct text of one section: its facts (compared sections) or its not-collected sections (warnings)."""

    facts: Facts | None = None
    not_collected: frozenset = frozenset()


@dataclass
class ManifestSet:
    """Manifests read for one comparison; each holds only the ids of its section variants."""

    variants: dict = field(default_factory=dict)  # (section, text) -> Variant
    manifests: list = field(default_factory=list)  # per manifest: {section: Variant}
    _validators: _Validators | None = None

    def add(self, path: str | Path) -> None:
        """Read, validate and flatten one manifest file (BadInput, from the bounded reader or ``manifest.load``,
        when it is not one)."""
        from envcapture.manifest import file as manifest_io

        text = manifest_io.read_text(path)
        self._add(text, lambda: manifest_io.load(path))

    def add_text(self, text: str, where: str) -> None:
        """The same for a manifest that arrived as text (``gather``); ``where`` names it in an error."""
        from envcapture.manifest import file as manifest_io

        self._add(text, lambda: manifest_io.loads(text, where))

    def _add(self, text: str, load_precisely) -> None:
        from envcapture.manifest import file as manifest_io

        try:
            if len(text) > manifest_io.MAX_MANIFEST_BYTES:
                raise NotPlain("too large")
            members = split_sections(text)
            if len({key for key, _, _ in members}) != len(members):
                raise NotPlain("a key appears twice")
            self.manifests.append(self._variants_of(members))
        except (NotPlain, RecursionError):
            data = load_precisely()  # raises the precise one-line error
            members = [(key, json.dumps(value, sort_keys=True), value) for key, value in data.items()]
            self.manifests.append(self._variants_of(members, validated=True))

    def _variants_of(self, members, validated: bool = False) -> dict:
        validators = self._validators or _Validators()
        self._validators = validators
        if not validated and not validators.top({key: None for key, _, _ in members}):
            raise NotPlain("top-level keys")
        chosen = {}
        for key, text, value in members:
            variant = self.variants.get((key, text))
            if variant is None:
                if not validated and not validators.section_is_valid(key, text, value):
                    raise NotPlain(f"section {key}")
                variant = self._new_variant(key, value)
                self.variants[(key, text)] = variant
            chosen[key] = variant
        return chosen

    def _new_variant(self, key: str, value) -> Variant:
        if key in EXTRACTORS:
            facts = Facts()
            EXTRACTORS[key]({key: value}, facts)
            return Variant(facts=facts)
        if key == "warnings":
            from envcapture.compare.grading import sections_not_collected

            return Variant(not_collected=frozenset(sections_not_collected({"warnings": value})))
        return Variant()  # sections that are never compared (created, filesystem, scheduler, host, ...)

    def compare(self, labels: list[str], sources: list[str]) -> Comparison:
        if len(self.manifests) < 2:
            raise BadInput("compare needs at least two manifests")
        empty = Variant()
        not_collected = [m.get("warnings", empty).not_collected for m in self.manifests]
        not_compared = not_compared_sections(labels, not_collected)
        sections = [s for s in DIFF_SECTIONS if s not in not_compared]
        tables = [self._table(m, sections) for m in self.manifests]
        differences = grade_tables(tables, not_compared)
        return Comparison(labels=labels, sources=sources, differences=differences, not_compared=not_compared,
                          groups=groups_of(labels, differences))

    def _variant(self, m: dict, section: str) -> Variant:
        """A section missing from a manifest flattens like an empty one (the extractors' own default)."""
        if section not in m:
            m[section] = self.variants.setdefault((section, ""), self._new_variant(section, None))
        return m[section]

    def _table(self, m: dict, sections: list[str]) -> Facts:
        table = Facts()
        for section in sections:
            facts = self._variant(m, section).facts
            table.values.update(facts.values)
            table.items.update(facts.items)
        return table
