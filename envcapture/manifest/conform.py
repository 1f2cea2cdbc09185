"""Make what freeze collected fit the schema before it is written: freeze never writes what `validate` refuses.

The probes already check most values, but a machine can hold anything: file names that are not UTF-8
(Python hands them over as surrogate escapes, which cannot be encoded), a quote in an environment's folder
name, an escape byte in a dist-info folder name quoted by a warning, 2,500 Requires-Dist lines. Each value
that fails a rule is repaired (undecodable bytes written as \\xNN, characters a rule forbids replaced), or
else left out, and every repair becomes a warning that says where and what.
"""

from __future__ import annotations

import re

from envcapture.manifest import grammar

MAX_ROUNDS = 6
MAX_WARNINGS = 10_000
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORBIDDEN_ELSEWHERE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\"'`$\\]")
# Rules whose values may hold a secret that failed stripping: a warning never quotes them.
_NOT_QUOTED = {"url", "apt-source"}


def conform(manifest: dict) -> dict:
    """``manifest`` made valid in place (and returned); what had to change is added to its warnings."""
    conform_and_validate(manifest)
    return manifest


def conform_and_validate(manifest: dict, sealed: frozenset = frozenset()) -> list[str]:
    """Make ``manifest`` valid in place; return what had to change (the notes added to its warnings).

    A manifest that is valid as it comes is validated exactly once. BadInput when a repair did not work.
    ``sealed``: top-level sections that already passed the gate unchanged (gate.seal), not looked into."""
    from envcapture.manifest.file import find_problems

    notes: list[str] = []
    escape_undecodable(manifest, notes)
    tries: dict[tuple, int] = {}
    found = []
    for _ in range(MAX_ROUNDS):
        found = find_problems(manifest, sealed)
        if not found:
            break
        removals = []
        for problem in found:
            attempt = tries.get(problem.path, 0)
            tries[problem.path] = attempt + 1
            removal = repair(manifest, problem, attempt, notes)
            if removal:
                removals.append(removal)
        # Remove list items last, highest index first, so that the other paths of this round stay right.
        for path in sorted(set(removals), key=lambda p: [str(part).zfill(12) for part in p], reverse=True):
            parent = _get(manifest, path[:-1])
            if isinstance(parent, list) and path[-1] < len(parent):
                del parent[path[-1]]
    if not notes and not found:
        return notes  # valid as it was: the one validation above was enough
    warnings = manifest.setdefault("warnings", [])
    if isinstance(warnings, list):
        warnings.extend({"source": "freeze", "message": note[:4000]} for note in notes)
        if len(warnings) > MAX_WARNINGS:
            dropped = len(warnings) - MAX_WARNINGS + 1
            del warnings[MAX_WARNINGS - 1:]
            warnings.append({"source": "freeze", "message": f"{dropped} more warnings left out"})
    left = find_problems(manifest, sealed)
    if left:  # a repair that did not work is a bug: say where, rather than write an invalid manifest
        from envcapture.errors import BadInput

        raise BadInput(f"freeze could not make a valid manifest: {left[0].message()}")
    return notes


def repair(manifest: dict, problem, attempt: int, notes: list[str]):
    """Fix one problem; returns the path of a list item to remove, when that is the fix."""
    from envcapture.manifest.validator import json_path

    path, value = problem.path, problem.value
    where = json_path(path)
    if problem.key:  # a key that breaks its object's rule for names: the entry goes, never the object
        holder = _get(manifest, path)
        if isinstance(holder, dict) and value in holder:
            del holder[value]
            notes.append(f"{where}: key {grammar.quote_for_message(value)} breaks a manifest rule; left out")
        return None
    if problem.kind == "maxItems" and isinstance(value, list):
        notes.append(f"{where}: {len(value)} items, more than the {problem.detail} a manifest holds; "
                     f"kept the first {problem.detail}")
        del value[problem.detail:]
        return None
    if problem.kind == "maxProperties" and isinstance(value, dict):
        for key in list(value)[problem.detail:]:
            del value[key]
        notes.append(f"{where}: more than {problem.detail} keys; kept the first {problem.detail}")
        return None
    if problem.kind == "additionalProperties" and isinstance(value, dict):
        value.pop(problem.detail, None)
        notes.append(f"{where}: unknown key {grammar.quote_for_message(problem.detail)} left out")
        return None
    if problem.kind == "required" or not path:
        return _drop_enclosing_item(manifest, path, where, notes)
    shown = "(value not shown)" if problem.kind == "format" and problem.detail in _NOT_QUOTED \
        else grammar.quote_for_message(value) if isinstance(value, str) else f"({type(value).__name__})"
    if attempt == 0 and isinstance(value, str) and problem.kind in ("format", "maxLength"):
        fixed = printable(value, problem.detail if problem.kind == "format" else "text")
        fixed = fixed[:problem.detail] if problem.kind == "maxLength" else fixed
        if fixed != value and (problem.kind == "maxLength" or grammar.check(problem.detail, fixed)):
            _set(manifest, path, fixed)
            notes.append(f"{where}: {shown} breaks a manifest rule; written as "
                         f"{grammar.quote_for_message(fixed)}")
            return None
    parent = _get(manifest, path[:-1])
    if isinstance(parent, list):
        notes.append(f"{where}: {shown} breaks a manifest rule; left out")
        return path
    if attempt <= 1 and isinstance(parent, dict) and parent.get(path[-1]) is not None:
        parent[path[-1]] = None
        notes.append(f"{where}: {shown} breaks a manifest rule; left out")
        return None
    return _drop_enclosing_item(manifest, path, where, notes)


def _drop_enclosing_item(manifest, path, where, notes):
    """The nearest record in a list that holds ``path`` (a package whose required field cannot be repaired)."""
    from envcapture.manifest.validator import json_path

    for cut in range(len(path), 0, -1):
        if isinstance(_get(manifest, path[:cut - 1]), list):
            notes.append(f"{where}: cannot be repaired; {json_path(path[:cut])} left out")
            return path[:cut]
    return None


def printable(value: str, rule: str) -> str:
    """``value`` with the characters ``rule`` forbids escaped (text) or replaced by _ (names, paths)."""
    pattern = _FORBIDDEN_IN_TEXT if rule == "text" else _FORBIDDEN_ELSEWHERE
    if rule == "text":
        return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                           else f"\\u{ord(m.group()):04x}", value)
    return pattern.sub("_", value)


def escape_undecodable(data, notes: list[str]) -> None:
    """Bytes that were not UTF-8 (surrogate escapes in str) become \\xNN text, in keys and values alike."""
    import json

    from envcapture.manifest.validator import json_path

    try:  # the C encoder finds out in milliseconds whether there is anything to walk for
        json.dumps(data, ensure_ascii=False).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass

    stack = [((), data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                item = node[key]
                if isinstance(key, str) and _SURROGATE.search(key):
                    fixed = _escape(key)
                    del node[key]
                    node[fixed] = item
                    notes.append(f"{json_path(path)}: key {grammar.quote_for_message(fixed)} held bytes that "
                                 "are not UTF-8; written as \\xNN")
                    key = fixed
                if isinstance(item, str):
                    if _SURROGATE.search(item):
                        node[key] = _escape(item)
                        notes.append(f"{json_path(path + (key,))}: bytes that are not UTF-8 written as \\xNN")
                elif isinstance(item, (dict, list)):
                    stack.append((path + (key,), item))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    if _SURROGATE.search(item):
                        node[index] = _escape(item)
                        notes.append(f"{json_path(path + (index,))}: bytes that are not UTF-8 written as \\xNN")
                elif isinstance(item, (dict, list)):
                    stack.append((path + (index,), item))


def _escape(text: str) -> str:
    def one(match) -> str:
        code = ord(match.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"
    return _SURROGATE.sub(one, text)


def _get(data, path):
    node = data
    for part in path:
        node = node[part]
    return node


def _set(data, path, value) -> None:
    _get(data, path[:-1])[path[-1]] = value
