"""The comparison itself: facts of two or more manifests, graded differences, groups of identical manifests."""

from __future__ import annotations

from dataclasses import dataclass

from envcapture.compare.facts import Facts, extract
from envcapture.compare.rules import (DIFF_SECTIONS, ERROR, JSON_FORMAT_VERSION, RULES, SECTION_OF, SECTIONS,
                                      WARNING, Rule)
from envcapture.errors import BadInput


@dataclass
class Difference:
    section: str
    item: str
    field: str
    what: str
    grade: str
    change: str  # missing | extra | changed, seen from the first manifest; unsatisfied (pip check)
    values: list  # one display value per manifest; None where absent or not known
    by_design: str | None = None  # why the kit leaves this out on purpose (not-reproduced.json in the image)
    items: list | None = None  # a summary of many differences: each one's item and why (detail for --format json)

    def spread(self, labels: list[str]) -> tuple[tuple, list]:
        """(majority value, its labels), then [(value, labels)] of every other value, in order of appearance.

        None (the item is absent there) is a value like any other: it can be the majority."""
        by_value: dict = {}
        for label, value in zip(labels, self.values):
            by_value.setdefault(value, []).append(label)
        majority = max(by_value, key=lambda v: len(by_value[v]))  # first seen wins a tie
        return (majority, by_value.pop(majority)), list(by_value.items())

    def message(self, labels: list[str]) -> str:
        text = self._message(labels)
        return f"{text} (not reproduced, by design: {self.by_design})" if self.by_design else text

    def _message(self, labels: list[str]) -> str:
        if self.items is not None:
            return self.what
        if self.change == "unsatisfied":  # a broken requirement in the checked environment (pip check's finding)
            return f"{self.what} (in {labels[-1]})"
        if len(self.values) > 2:
            (value, where), others = self.spread(labels)
            parts = [f"{_shown(value)} on {label_list(where, 5, 'nodes')}"]
            parts += [f"{_shown(v)} on {label_list(ls, 20)}" for v, ls in others]
            return f"{self.what}: " + "; ".join(parts)
        if len(self.values) == 2:
            a, b = self.values
            if self.change == "missing":
                return f"{self.what}: {a} in {labels[0]}, missing in {labels[1]}"
            if self.change == "extra":
                return f"{self.what}: not in {labels[0]}, {b} in {labels[1]}"
            return f"{self.what}: {a} in {labels[0]}, {b} in {labels[1]}"
        return f"{self.what}: (compared with itself)"

    def to_json(self, labels: list[str]) -> dict:
        out = {"section": self.section, "item": self.item or None, "field": self.field, "what": self.what,
               "grade": self.grade, "change": self.change, "values": self.values,
               "message": self.message(labels)}
        if len(self.values) > 2:
            (value, where), others = self.spread(labels)
            out["majority"] = {"value": value, "count": len(where)}
            out["minority"] = [{"value": v, "labels": ls} for v, ls in others]
        if self.by_design:
            out["by_design"] = self.by_design
        if self.items is not None:
            out["items"] = self.items
        return out


def _shown(value) -> str:
    return "(missing)" if value is None else str(value)


def label_list(labels: list[str], limit: int, many: str = "") -> str:
    """Names up to ``limit``; past it, a count ("497 nodes") or the first names and how many more."""
    if len(labels) <= limit:
        return ", ".join(labels)
    if many:
        return f"{len(labels)} {many}"
    return ", ".join(labels[:limit]) + f" and {len(labels) - limit} more"


@dataclass
class Comparison:
    labels: list[str]
    sources: list[str]
    differences: list[Difference]
    not_compared: dict  # section -> reason
    groups: list[list[str]]
    strict: bool = False

    def count(self, grade: str) -> int:
        return sum(1 for d in self.differences if d.grade == grade)

    @property
    def same(self) -> bool:
        return not self.differences

    @property
    def ok(self) -> bool:
        return self.count(ERROR) == 0

    def to_json(self, command: str) -> dict:
        return {
            "envcapture_compare": JSON_FORMAT_VERSION,
            "command": command,
            "manifests": [{"label": label, "source": source} for label, source in zip(self.labels, self.sources)],
            "strict": self.strict,
            "same": self.same,
            "ok": self.ok,
            "counts": {ERROR: self.count(ERROR), WARNING: self.count(WARNING)},
            "not_compared": [{"section": s, "reason": r} for s, r in self.not_compared.items()],
            "groups": self.groups,
            "differences": [d.to_json(self.labels) for d in self.differences],
        }


def _what(group: str, item: str, name: str, rule: Rule) -> str:
    if group == "determinism":
        return item
    if item:
        if rule.primary:
            return item
        return f"{item} {rule.label or name}" if group != "python_packages" else f"{item} (source)"
    return rule.label or name.replace("_", " ")


def _grade(rule: Rule, values: list, directional: bool) -> str:
    if directional:
        return rule.grade(values[0], values[1])
    distinct = list({rule.key(v) if v is not None else None: v for v in values}.values())
    for i, a in enumerate(distinct):
        for j, b in enumerate(distinct):
            if i != j and rule.grade(a, b) == ERROR:
                return ERROR
    return WARNING


def _change(present: list[bool], keys: list) -> str:
    if not present[0]:
        return "extra"
    if all(keys[i] == keys[0] for i in range(len(keys)) if present[i]):
        return "missing"
    return "changed"


def sections_not_collected(manifest: dict) -> set[str]:
    """Sections whose probe failed at freeze time (freeze says so in its warnings): nothing to compare."""
    from envcapture.capture.freeze import sections_not_collected as from_messages

    return from_messages(warning.get("message", "") for warning in manifest.get("warnings") or [])


def compare(manifests: list[dict], labels: list[str], sources: list[str] | None = None,
            skip: dict | None = None, strict: bool = False, by_design: dict | None = None) -> Comparison:
    """Compare ``manifests`` (the first is the reference) and grade every difference.

    ``skip`` maps a section, or a ``section.field`` fact, to the reason it is not compared (e.g. facts an
    image cannot tell); sections that a freeze could not collect are skipped the same way. ``by_design`` maps
    (section, item) to why a kit leaves that item out on purpose: such a difference is a warning (an error
    only with ``strict``) that says why.
    """
    if len(manifests) < 2:
        raise BadInput("compare needs at least two manifests")
    not_compared = not_compared_sections(labels, [sections_not_collected(m) for m in manifests], skip)
    sections = [s for s in SECTIONS if s not in not_compared]
    tables = [extract(m, sections) for m in manifests]
    differences = grade_tables(tables, not_compared, strict, by_design)
    return Comparison(labels=labels, sources=sources or list(labels), differences=differences,
                      not_compared=not_compared, groups=groups_of(labels, differences), strict=strict)


def not_compared_sections(labels: list[str], not_collected: list[set], skip: dict | None = None) -> dict:
    """``skip`` plus every section some freeze could not collect, with the reason."""
    not_compared = dict(skip or {})
    for label, missing in zip(labels, not_collected):
        for section in sorted(missing):
            if section in SECTIONS and section not in not_compared:
                not_compared[section] = f"not collected in {label}"
    return not_compared


def grade_tables(tables: list[Facts], not_compared: dict, strict: bool = False,
                 by_design: dict | None = None) -> list[Difference]:
    """Every fact that differs between the flattened manifests, graded (the first table is the reference)."""
    keys = sorted(set().union(*(t.values for t in tables)),
                  key=lambda k: (DIFF_SECTIONS.index(SECTION_OF.get(k[0], k[0])), k[0], k[1], k[2]))
    directional = len(tables) == 2
    differences = []
    for key in keys:
        group, item, name = key
        section = SECTION_OF.get(group, group)
        if f"{section}.{name}" in not_compared:
            continue
        rule = RULES[(group, name)]
        raw = [t.values.get(key) for t in tables]
        by_id = {id(v): v for v in raw}
        if len(by_id) == 1:
            # One value object everywhere (tables of many manifests share the facts of identical sections),
            # or None everywhere: nothing can differ, whatever the presence rules below say.
            continue
        if item and group != "determinism":
            present = [(group, item) in t.items for t in tables]
            if not rule.primary:
                # A secondary field of an item missing somewhere: the primary field already reports it.
                if not all(present):
                    continue
            present = [p and v is not None for p, v in zip(present, raw)]
        elif rule.none_counts:
            present = [True] * len(raw)
        else:
            present = [v is not None for v in raw]
            if not all(present):
                continue  # not known on one side: nothing to say
        # rule.key once per distinct value object: with hundreds of manifests most values are shared
        key_of = {i: rule.key(v) for i, v in by_id.items() if v is not None}
        value_keys = [(key_of[id(v)] if v is not None else rule.key(None)) if p else None
                      for v, p in zip(raw, present)]
        if len(set(value_keys)) <= 1:
            continue
        values = [v if p else None for v, p in zip(raw, present)]
        grade = _grade(rule, values, directional)
        recorded = [p and v is not None for p, v in zip(present, raw)]
        change = _change(recorded, value_keys)
        why = _by_design(by_design, section, item, change)
        if why:
            grade = WARNING
        if strict:
            grade = ERROR
        shown = {i: rule.show(v) for i, v in by_id.items()}
        # A fact whose absence counts (a driver, a conda environment) is still "missing" or "extra" when absent.
        differences.append(Difference(
            section=section, item=item, field=name, what=_what(group, item, name, rule), grade=grade,
            change=change, values=[shown[id(v)] if v is not None else None for v in values],
            by_design=why))
    return fold_left_out(differences, strict)


# not-reproduced.json's item for every recorded system package the kit does not install (render/plan.py).
ALL_OTHERS = "*"
FOLD_AT = 3


def _by_design(by_design: dict | None, section: str, item: str, change: str = "changed") -> str | None:
    if not by_design or not item:
        return None
    # A multiarch system package is compared as name:arch; the kit records the name.
    why = by_design.get((section, item)) or by_design.get((section, item.split(":")[0]))
    if why is None and change == "missing":
        # Only an absent package: a package the kit pinned and the image has at another version is never this.
        why = by_design.get((section, ALL_OTHERS))
    return why


def fold_left_out(differences: list[Difference], strict: bool) -> list[Difference]:
    """Recorded system packages a kit leaves out on purpose become one line (a workstation has hundreds);
    ``--format json`` still lists each one, with why."""
    left_out = [d for d in differences if d.section == "system_packages" and d.by_design and d.change == "missing"]
    if len(left_out) < FOLD_AT:
        return differences
    first = differences.index(left_out[0])
    rest = [d for d in differences if not (d.section == "system_packages" and d.by_design and d.change == "missing")]
    summary = Difference(
        section="system_packages", item="", field="left_out",
        what=f"{len(left_out)} recorded system packages not in the image, left out by design: "
             "`--system-packages all` adds them",
        grade=ERROR if strict else WARNING, change="missing", values=[len(left_out), None],
        items=[{"item": d.item, "why": d.by_design} for d in left_out])
    rest.insert(min(first, len(rest)), summary)
    return rest


def groups_of(labels: list[str], differences: list[Difference]) -> list[list[str]]:
    """Manifests that agree on every compared fact (every difference shows them the same value), so a
    heterogeneous cluster is seen at a glance. Nodes whose memory is a few MiB apart are one group: the
    comparison itself counts whole GiB."""
    groups: dict = {}
    for index, label in enumerate(labels):
        groups.setdefault(tuple(d.values[index] for d in differences), []).append(label)
    return list(groups.values())
