"""Check data against the manifest's JSON Schema quickly: the schema is compiled once into small closures.

jsonschema stays the reference (a test checks that both agree on mutated manifests), but it dispatches on
every keyword of every node and took 34 s on a 20 MB manifest and minutes on a 1 MB nested free-form
section. The manifest schema uses a small subset of JSON Schema: type, properties, required,
additionalProperties, items, maxItems, maxProperties, maxLength, minimum, maximum, pattern, enum, const, anyOf,
$ref, propertyNames and format (a rule of grammar.py). Those are compiled here, plus one envcapture keyword,
``x-max-json-bytes``, that bounds the size of a free-form section (JSON Schema cannot say it; other
validators ignore it). A keyword outside that list is refused when the schema is compiled (KEYWORDS): a
schema that grows one must grow its check here first, never be checked less than it says.

Two rules are stricter than jsonschema's, on purpose: ``const`` compares types too (``true`` and ``1.0``
are not ``1``), and ``pattern``'s ``$`` is the end of the text as in ECMA-262 regular expressions, which JSON
Schema names (Python's ``$`` also matches before a final newline).

Every check is bounded by the schema's own depth, so no input, however deeply nested, recurses further
than the schema does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

MAX_PROBLEMS = 1000
SIZE_KEYWORD = "x-max-json-bytes"


@dataclass
class Problem:
    path: tuple
    kind: str  # the JSON Schema keyword that failed (format, type, maxItems, additionalProperties, ...)
    value: object
    detail: object = None  # the keyword's value: the rule name, the limit, the unknown key
    key: bool = False  # ``value`` is a key of the object at ``path`` that breaks its propertyNames rule

    def message(self) -> str:
        from envcapture.manifest import grammar

        where = json_path(self.path)
        if self.kind == "format":
            return grammar.describe_violation(where, self.value, self.detail)
        return f"{where}: {_MESSAGES[self.kind](self)}"


class TooManyProblems(Exception):
    """Enough problems found to refuse; stop looking (a 20 MB hostile manifest could have millions)."""


def json_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def short(value) -> str:
    """A value in one short line, without walking into containers (they may be nested 100,000 deep)."""
    from envcapture.manifest import grammar

    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, str):
        return grammar.quote_for_message(value)
    return json.dumps(value) if isinstance(value, (int, float, bool)) or value is None else repr(value)


# What compile() implements; the annotations are read by people and other tools, not checked.
KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties", "items", "maxItems", "maxProperties",
                      "maxLength", "minimum", "maximum", "pattern", "enum", "const", "anyOf", "$ref", "propertyNames",
                      "format", SIZE_KEYWORD})
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
_BODY_KEYWORDS = ("maxLength", "pattern", "format", "items", "maxItems", "properties", "required", "additionalProperties",
                  "propertyNames", "maxProperties", "minimum", "maximum")
# Python type of a parsed JSON value -> the JSON Schema type names it satisfies.
_PY_TYPES = [(str, "string"), (dict, "object"), (list, "array"), (bool, "boolean"), (type(None), "null"),
             (int, "integer"), (int, "number"), (float, "number")]
_TYPE_NAMES = {bool: "boolean", str: "string", dict: "object", list: "array", type(None): "null"}
_MESSAGES: dict[str, Callable[[Problem], str]] = {
    "type": lambda p: f"{short(p.value)} is not of type {', '.join(repr(t) for t in p.detail)}",
    "required": lambda p: f"{p.detail!r} is a required property",
    "additionalProperties": lambda p: f"unknown key {short(p.detail)}",
    "enum": lambda p: f"{short(p.value)} is not one of {p.detail!r}",
    "const": lambda p: f"{p.detail!r} was expected",
    "maxItems": lambda p: f"{len(p.value)} items, more than the {p.detail} allowed",
    "maxProperties": lambda p: f"{len(p.value)} keys, more than the {p.detail} allowed",
    "maxLength": lambda p: f"{short(p.value)} is longer than {p.detail} characters",
    "minimum": lambda p: f"{short(p.value)} is less than the minimum of {p.detail}",
    "maximum": lambda p: f"{short(p.value)} is greater than the maximum of {p.detail}",
    "pattern": lambda p: f"{short(p.value)} does not match {p.detail!r}",
    "anyOf": lambda p: f"{short(p.value)} is not a number, boolean, null, text, list or object within the limits",
    SIZE_KEYWORD: lambda p: f"free-form section larger than {p.detail} bytes of JSON",
}


def _is_type(value, name: str) -> bool:
    kind = type(value)
    if name == "integer":
        return kind is int or (kind is float and value.is_integer())
    if name == "number":
        return kind is int or kind is float
    return _TYPE_NAMES.get(kind) == name


Check = Callable[[object, tuple, list], None]


class Compiler:
    def __init__(self, root: dict, rules: dict[str, Callable[[str], bool]]):
        self.root = root
        self.rules = rules
        self.refs: dict[str, Check] = {}
        self.trivial_of: dict[int, frozenset] = {}  # id(check) -> value types it accepts without looking
        self.trivial_kinds: frozenset = frozenset()

    def ref(self, pointer: str) -> Check:
        if pointer not in self.refs:
            self.refs[pointer] = lambda value, path, out: compiled(value, path, out)  # placeholder for cycles
            node = self.root
            for part in pointer.lstrip("#/").split("/"):
                node = node[part]
            compiled = self.compile(node)
            self.refs[pointer] = compiled
        return self.refs[pointer]

    def compile(self, schema: dict) -> Check:
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise ValueError(f"schema keyword(s) {sorted(unknown)} have no check in validator.py")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if SIZE_KEYWORD in schema:
            checks.insert(0, _size_check(schema[SIZE_KEYWORD]))
        if "const" in schema:
            checks.append(_const_check(schema["const"]))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        if "anyOf" in schema:
            checks.append(self.any_of([self.compile(sub) for sub in schema["anyOf"]], schema["anyOf"]))
        types = schema.get("type")
        if types is not None or any(k in schema for k in _BODY_KEYWORDS):
            checks.append(self.typed(schema, types))
        if len(checks) == 1:
            if not ("$ref" in schema or "const" in schema or "enum" in schema or "anyOf" in schema):
                self.trivial_of[id(checks[0])] = self.trivial_kinds
            return checks[0]

        def all_of(value, path, out):
            for check in checks:
                before = len(out)
                check(value, path, out)
                if len(out) > before and check is checks[0] and SIZE_KEYWORD in schema:
                    return  # oversized: do not walk it
        return all_of

    def typed(self, schema: dict, types) -> Check:
        """One dict lookup on the value's Python type finds the checks of its JSON type (a string's format does
        not apply to a number); a type the schema does not allow is a problem."""
        bodies = {str: self.string_body(schema), dict: self.object_body(schema), list: self.array_body(schema),
                  int: _number_body(schema), float: _number_body(schema), bool: None, type(None): None}
        if types is not None:
            types = [types] if isinstance(types, str) else list(types)
            allowed = {kind for kind, name in _PY_TYPES if name in types}
            bodies = {kind: body for kind, body in bodies.items() if kind in allowed}
        integral_floats = types is not None and "integer" in types and "number" not in types
        if integral_floats:  # a float is an integer only when whole: never trivial, even with no bound
            bodies[float] = _number_body(schema) or _no_check
        missing = object()
        self.trivial_kinds = frozenset(kind for kind, body in bodies.items() if body is None)
        others = [kind for kind in bodies if kind is not type(None)]
        if others == [str] and bodies[str] is not None:
            return self.string_node(bodies[str], type(None) in bodies, types)
        if others == [dict] and bodies[dict] is not None:
            return _single_kind(dict, bodies[dict], type(None) in bodies, types)
        if others == [list] and bodies[list] is not None:
            return _single_kind(list, bodies[list], type(None) in bodies, types)

        def typed(value, path, out):
            body = bodies.get(type(value), missing)
            if body is None:
                return
            if body is missing or (integral_floats and type(value) is float and not value.is_integer()):
                _add(out, Problem(path, "type", value, types))
                return
            body(value, path, out)
        return typed

    @staticmethod
    def string_node(body, nullable: bool, types) -> Check:
        """The most common node (a string with a format): type check and rule in one call, cached by value."""
        cache: dict[str, bool] = {}

        def string(value, path, out):
            if type(value) is str:
                ok = cache.get(value)
                if ok is None:
                    found: list = []
                    body(value, path, found)
                    ok = not found
                    if len(cache) > 100_000:
                        cache.clear()
                    cache[value] = ok
                if not ok:
                    body(value, path, out)
            elif value is not None or not nullable:
                _add(out, Problem(path, "type", value, types))
        return string

    def string_body(self, schema: dict):
        max_length, fmt = schema.get("maxLength"), schema.get("format")
        rule = self.rules.get(fmt) if fmt else None
        pattern = _ecma_pattern(schema["pattern"]) if "pattern" in schema else None
        if max_length is None and rule is None and pattern is None:
            return None
        cache: dict[str, bool] = {}  # the same versions, installers and kinds recur thousands of times

        def string(value, path, out):
            if max_length is not None and len(value) > max_length:
                _add(out, Problem(path, "maxLength", value, max_length))
                return
            if pattern is not None and pattern.search(value) is None:
                _add(out, Problem(path, "pattern", value, schema["pattern"]))
                return
            if rule is not None:
                ok = cache.get(value)
                if ok is None:
                    ok = bool(rule(value))
                    if len(cache) > 100_000:
                        cache.clear()
                    cache[value] = ok
                if not ok:
                    _add(out, Problem(path, "format", value, fmt))
        return string

    def array_body(self, schema: dict):
        max_items = schema.get("maxItems")
        items = self.compile(schema["items"]) if "items" in schema else None
        if max_items is None and items is None:
            return None

        def array(value, path, out):
            if max_items is not None and len(value) > max_items:
                _add(out, Problem(path, "maxItems", value, max_items))
                return
            if items is not None:
                for index, item in enumerate(value):
                    items(item, path + (index,), out)
        return array

    def object_body(self, schema: dict):
        props, trivial = {}, {}
        for key, sub in schema.get("properties", {}).items():
            props[key] = self.compile(sub)
            trivial[key] = self.trivial_of.get(id(props[key]), frozenset())
        required = list(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        extra_check = self.compile(extra) if isinstance(extra, dict) else None
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        max_props = schema.get("maxProperties")
        if not props and not required and extra is True and names is None and max_props is None:
            return None

        def obj(value, path, out):
            if max_props is not None and len(value) > max_props:
                _add(out, Problem(path, "maxProperties", value, max_props))
                return
            for key, item in value.items():
                check = props.get(key)
                if check is not None:
                    if type(item) not in trivial[key]:  # a bool where a bool is all that is asked: no call
                        check(item, path + (key,), out)
                    continue
                if names is not None:
                    before = len(out)
                    names(key, path, out)
                    if len(out) > before:
                        for problem in out[before:]:
                            problem.key = True
                        continue
                if extra is False:
                    _add(out, Problem(path, "additionalProperties", value, key))
                elif extra_check is not None:
                    extra_check(item, path + (key,), out)
            for key in required:
                if key not in value:
                    _add(out, Problem(path, "required", value, key))
        return obj

    @staticmethod
    def any_of(branches: list[Check], schemas: list[dict]) -> Check:
        def any_of(value, path, out):
            best = None
            for branch, schema in zip(branches, schemas):
                found: list[Problem] = []
                branch(value, path, found)
                if not found:
                    return
                types = schema.get("type")
                types = [types] if isinstance(types, str) else types or []
                if any(_is_type(value, t) for t in types):
                    best = found  # the branch of the value's own type says what is wrong with it
            for problem in best or [Problem(path, "anyOf", value)]:
                _add(out, problem)
        return any_of


def _ecma_pattern(source: str) -> re.Pattern:
    """``source`` as Python reads an ECMA-262 regular expression: an unescaped ``$`` outside a character
    class is the end of the text (``\\Z``), so that ``^[a-z_]+$`` refuses ``"os\\n"``."""
    out, escaped, in_class = [], False, False
    for char in source:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
    return re.compile("".join(out))


def _no_check(value, path, out) -> None:
    return None


def _add(out: list, problem: Problem) -> None:
    out.append(problem)
    if len(out) >= MAX_PROBLEMS:
        raise TooManyProblems


def _single_kind(kind, body, nullable: bool, types) -> Check:
    def single(value, path, out):
        if type(value) is kind:
            body(value, path, out)
        elif value is not None or not nullable:
            _add(out, Problem(path, "type", value, types))
    return single


def _const_check(expected) -> Check:
    def const(value, path, out):
        if type(value) is not type(expected) or value != expected:
            _add(out, Problem(path, "const", value, expected))
    return const


def _enum_check(allowed: list) -> Check:
    typed = [(type(v), v) for v in allowed]

    def enum(value, path, out):
        if (type(value), value) not in typed:
            _add(out, Problem(path, "enum", value, allowed))
    return enum


def _number_body(schema: dict):
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is None and maximum is None:
        return None

    def number(value, path, out):
        if minimum is not None and value < minimum:
            _add(out, Problem(path, "minimum", value, minimum))
        elif maximum is not None and value > maximum:
            _add(out, Problem(path, "maximum", value, maximum))
    return number


def _size_check(limit: int) -> Check:
    def size(value, path, out):
        if json_size_exceeds(value, limit):
            _add(out, Problem(path, SIZE_KEYWORD, value, limit))
    return size


def json_size_exceeds(value, limit: int) -> bool:
    """Whether ``value`` takes more than ``limit`` bytes as JSON (about), walked without recursion and only
    as far as the limit: a 190 MB section costs no more than a section of ``limit`` bytes."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item) + 3
        elif kind is dict:
            total += 2 + len(item)
            for key, sub in item.items():
                total += len(key) + 3 if type(key) is str else 8
                stack.append(sub)
        elif kind is list:
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 6
        if total > limit:
            return True
    return False


def compile_schema(schema: dict, rules: dict[str, Callable[[str], bool]]) -> Callable[[object], list[Problem]]:
    check = Compiler(schema, rules).compile(schema)

    def problems(data) -> list[Problem]:
        out: list[Problem] = []
        try:
            check(data, (), out)
        except TooManyProblems:
            pass
        return out
    return problems
