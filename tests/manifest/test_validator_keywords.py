"""The compiled validator (envcapture/manifest/validator.py) against jsonschema, keyword by keyword.

The schema is walked with a manifest in which every field the schema names is present and every list holds an
item (``full_manifest``). At every place the schema puts a rule, each of the rule's keywords is mutated at its
bound and one past it (each maxLength, maxItems, maxProperties, minimum, maximum, const, enum, pattern, type
integer, required, additionalProperties), keys are added, removed and renamed, and jsonschema is the oracle: the
validator must refuse exactly what jsonschema refuses, except for two rules where it is stricter on purpose
(STRICTER). A keyword the schema uses that has no mutation here fails the test, so does a place the walk never
reached, so does a keyword compile() does not implement.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from envcapture.manifest import file as manifest
from envcapture.manifest import grammar, validator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "manifests"
SCHEMA = manifest.schema()
STRUCTURE = {"properties", "items", "$ref", "anyOf", "additionalProperties", "propertyNames"}
ASSERTIONS = {"type", "maxLength", "maxItems", "maxProperties", "minimum", "maximum", "const", "enum", "pattern",
              "required", "additionalProperties", "format", validator.SIZE_KEYWORD}

# One valid value per grammar rule, used to fill fields the fixture leaves empty or null.
EXAMPLES = {
    "text": "some text", "dist-name": "numpy", "pep440-version": "1.26.4", "pep508-requirement": "six>=1.0",
    "marker-value": "linux", "python-version": "3.12.3", "deb-name": "libc6", "deb-version": "2.36-9+deb12u4",
    "package-token": "libc6", "arch": "x86_64", "identifier": "abc", "sha256": "a" * 64, "md5": "b" * 32,
    "hash": "sha256=" + "c" * 64, "git-commit": "d" * 40, "git-ref": "main", "conda-channel": "conda-forge",
    "env-name": "OMP_NUM_THREADS", "image-ref": "debian:bookworm", "url": "https://example.org/simple",
    "path": "/srv/data", "subdirectory": "pkg/sub", "apt-source": "deb http://deb.debian.org/debian bookworm main",
    "hex-digest": "e" * 64, "dvc-hash": "f" * 32 + ".dir", "data-path": "train/a.csv",
    "iso-datetime": "2026-01-02T03:04:05Z", "date": "2026-01-02", "purl": "pkg:pypi/numpy@1.26.4",
}
# Where the validator is stricter than jsonschema, on purpose (validator.py's docstring says why).
STRICTER = {("const", "1.0 for 1"), ("pattern", "a final newline")}


def resolve(node: dict) -> dict:
    target = SCHEMA
    for part in node["$ref"].lstrip("#/").split("/"):
        target = target[part]
    return target


def types_of(node: dict) -> list[str]:
    kinds = node.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def json_type(value) -> str:
    return {bool: "boolean", str: "string", dict: "object", list: "array", type(None): "null", int: "integer",
            float: "number"}[type(value)]


def fits(node: dict, value) -> bool:
    kinds = types_of(node)
    kind = json_type(value)
    return not kinds or kind in kinds or (kind == "integer" and "number" in kinds)


# ---- a manifest with every field present -------------------------------------------------------------------


def example(node: dict, depth: int = 0):
    """A small valid value for ``node`` (the first type it allows that is not null)."""
    if "$ref" in node:
        return example(resolve(node), depth)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return next(v for v in node["enum"] if v is not None)
    if "anyOf" in node:  # a free-form fact: every branch of every level, down to the last
        return fact(1)
    kinds = [k for k in types_of(node) if k != "null"]
    kind = "string" if "string" in kinds and "format" in node else kinds[0]
    if kind == "string":
        return EXAMPLES[node["format"]]
    if kind in ("integer", "number"):
        return 3
    if kind == "boolean":
        return True
    if kind == "array":
        return [example(node["items"], depth + 1)]
    value = {key: example(sub, depth + 1) for key, sub in node.get("properties", {}).items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and not value:
        names = node.get("propertyNames", {})
        key = names["enum"][0] if "enum" in names else "PATH" if "format" not in names else "OMP_NUM_THREADS"
        value[key if names.get("format") != "env-name" else "OMP_NUM_THREADS"] = example(extra, depth + 1)
    return value


def fact(level: int):
    """A free-form value at ``level`` that reaches every branch of every deeper level of the unrolled fact
    definition (an object, a list, a number, a string, null), in a chain that grows linearly."""
    if level == validator_depth():
        return "leaf"
    value = {"n": 1.5, "s": "x", "z": None, "l": [2, "y", True], "o": fact(level + 1)}
    if level + 1 == validator_depth():  # the last level holds no list
        del value["l"]
    return value


def fact_list(level: int):
    return [2, "y", None, fact(level + 1)]


def validator_depth() -> int:
    from envcapture.manifest.schema import MAX_FACT_DEPTH

    return MAX_FACT_DEPTH


def fill(node: dict, value):
    """``value`` with every absent optional field, null object or empty list of ``node`` filled in, and every
    list cut to one item (jsonschema then answers in milliseconds)."""
    if "$ref" in node or "anyOf" in node or "const" in node or "enum" in node:
        return value
    kinds = types_of(node)
    if value is None and kinds != ["null"] and any(k in ("object", "array", "string") for k in kinds):
        return example(node)
    if isinstance(value, list):
        return [fill(node["items"], value[0])] if value else [example(node["items"])]
    if isinstance(value, dict):
        props = node.get("properties", {})
        out = {key: fill(props[key], item) if key in props else item for key, item in value.items()}
        for key, sub in props.items():
            if key not in out:
                out[key] = example(sub)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and not props:
            if not out:
                out = example(node)
            out = {key: fill(extra, item) for key, item in list(out.items())[:2]}
        return out
    return value


def full_manifest() -> dict:
    data = json.loads((FIXTURES / "cuda-11.8.json").read_text())
    data["conda"] = json.loads((FIXTURES / "conda-env.json").read_text())["conda"]
    data["python"]["markers"] = {"os_name": "posix", "python_version": "3.12"}
    data = fill(SCHEMA, data)
    data["determinism"]["deep"] = fact(1)
    framework = data["gpu"]["frameworks"][0]  # free-form runtimes of each kind at the first level
    data["gpu"]["frameworks"] = [{**framework, "runtime": runtime} for runtime in (fact_list(1), "x", 3.5)]
    return data


# ---- the walk: every place a schema node applies to a value ------------------------------------------------


@dataclass
class Site:
    path: tuple  # where the value is in the manifest
    pointer: str  # where the rule is in the schema
    node: dict
    value: object
    name_of: tuple | None = None  # for a propertyNames node: the object whose keys it checks
    owner: dict | None = None  # ... and that object's schema
    parent: dict | None = None  # the schema of the object or list that holds the value
    whole: dict | None = None  # the schema that decides the value as a whole (an anyOf, not its branch)


def sites(node: dict, value, path: tuple = (), pointer: str = "#", parent: dict | None = None, whole=None):
    whole = node if whole is None else whole
    if "$ref" in node:
        yield from sites(resolve(node), value, path, node["$ref"], parent, whole)
    yield Site(path, pointer, node, value, parent=parent, whole=whole)
    if "anyOf" in node:
        for index, branch in enumerate(node["anyOf"]):
            if fits(branch, value) and json_type(value) != "null" or types_of(branch) == ["null"]:
                yield from sites(branch, value, path, f"{pointer}/anyOf/{index}", parent, whole)
    if isinstance(value, dict) and fits(node, value):
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                yield from sites(props[key], item, path + (key,), f"{pointer}/properties/{key}", node)
            elif isinstance(extra, dict):
                yield from sites(extra, item, path + (key,), f"{pointer}/additionalProperties", node)
            if "propertyNames" in node:
                yield Site(path + (key,), f"{pointer}/propertyNames", node["propertyNames"], key, name_of=path,
                           owner=node)
    if isinstance(value, list) and value and "items" in node:
        for index, item in enumerate(value[:6]):
            yield from sites(node["items"], item, path + (index,), f"{pointer}/items", node)


def rule_places(node: dict, pointer: str = "#", seen=None):
    """Every place in the schema that holds an assertion keyword, with its keywords."""
    seen = set() if seen is None else seen
    if pointer in seen:
        return
    seen.add(pointer)
    if "$ref" in node:
        yield from rule_places(resolve(node), node["$ref"], seen)
    found = set(node) & ASSERTIONS
    if found:
        yield pointer, found
    for key, sub in node.get("properties", {}).items():
        yield from rule_places(sub, f"{pointer}/properties/{key}", seen)
    for index, sub in enumerate(node.get("anyOf", [])):
        yield from rule_places(sub, f"{pointer}/anyOf/{index}", seen)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(node.get(key), dict):
            yield from rule_places(node[key], f"{pointer}/{key}", seen)


def all_keywords(node, found=None) -> set:
    found = set() if found is None else found
    if isinstance(node, dict):
        for key, sub in node.items():
            if key in ("properties", "$defs"):
                for item in sub.values():
                    all_keywords(item, found)
                found.add(key)
                continue
            found.add(key)
            all_keywords(sub, found)
    elif isinstance(node, list):
        for item in node:
            all_keywords(item, found)
    return found


# ---- mutations ---------------------------------------------------------------------------------------------


@dataclass
class Mutation:
    keyword: str
    label: str
    apply: object  # data -> None (changes data in place)
    bound: str = ""  # "at" or "past" for mutations at a keyword's bound
    cheap_oracle: dict = field(default_factory=dict)  # for huge lists: the keyword alone, checked by jsonschema


def copy_along(data, path):
    """``data`` with every container on ``path`` copied (what a mutation changes), the rest shared."""
    top = dict(data)
    node = top
    for part in path:
        child = node[part]
        if not isinstance(child, (dict, list)):
            break
        node[part] = child = dict(child) if isinstance(child, dict) else list(child)
        node = child
    return top


def get(data, path):
    for part in path:
        data = data[part]
    return data


def setter(path, value):
    def apply(data):
        get(data, path[:-1])[path[-1]] = value
    return apply


def string_of_length(node: dict, length: int, current) -> str:
    """A string of ``length`` characters that passes the node's format, when one of these shapes does."""
    rule = grammar.RULES[node["format"]][0] if "format" in node else (lambda value: True)
    seeds = [current if isinstance(current, str) else "", EXAMPLES.get(node.get("format"), "a")]
    candidates = []
    for seed in seeds:
        for pad in ("a", "1", "0", "x", "e", " a"):
            if len(seed) <= length:
                candidates.append((seed + pad * length)[:length])
            candidates.append(seed[:length - len(seed)] + pad * (length - len(seed)) if len(seed) < length else "")
    candidates += ["a" * length, "1" * length, "a" + "1" * (length - 1), "/" + "a" * (length - 1),
                   "https://example.org/" + "a" * (length - 20), "pkg:pypi/a@" + "1" * (length - 11),
                   "1." + "1" * (length - 2), "deb http://deb.debian.org/debian " + "a" * (length - 33)]
    for candidate in candidates:
        if len(candidate) == length and rule(candidate) and not candidate.endswith(" "):
            return candidate
    return "a" * length


LONG_LISTS_DONE: set = set()


def mutations(site: Site, data: dict):  # noqa: C901 (one branch per keyword, the list the test checks)
    node, value, path = site.node, site.value, site.path
    if site.name_of is not None:
        yield from name_mutations(site, data)
        return
    if not path:  # the manifest itself: only its keys change
        yield from key_mutations(site)
        return
    kinds = types_of(node)
    if "type" in node:
        for wrong in (None, True, 0, "x", {"k": 1}):  # 1.5: below; a list: as an object (one body per type)
            if json_type(wrong) not in kinds and not (json_type(wrong) == "integer" and "number" in kinds):
                yield Mutation("type", f"type {json_type(wrong)}", setter(path, wrong))
        if "integer" in kinds:
            yield Mutation("type", "integer 2.0", setter(path, 2.0), "at")
            yield Mutation("type", "integer 1.5", setter(path, 1.5), "past")
            yield Mutation("type", "integer huge", setter(path, 10 ** 30))
    if "maxLength" in node and isinstance(value, str):
        limit = node["maxLength"]
        yield Mutation("maxLength", "at", setter(path, string_of_length(node, limit, value)), "at")
        yield Mutation("maxLength", "past", setter(path, string_of_length(node, limit + 1, value)), "past")
    if "format" in node and isinstance(value, str):
        for bad in ("x\x1b[31m", "1.0; rm -rf /"):  # the rules themselves: tests/manifest/test_grammar*.py
            yield Mutation("format", f"format {bad!r}", setter(path, bad))
    if "minimum" in node and isinstance(value, (int, float)) and not isinstance(value, bool):
        yield Mutation("minimum", "at", setter(path, node["minimum"]), "at")
        yield Mutation("minimum", "past", setter(path, node["minimum"] - 1), "past")
        yield Mutation("minimum", "past by a fraction", setter(path, node["minimum"] - 0.5), "past")
    if "maximum" in node and isinstance(value, (int, float)) and not isinstance(value, bool):
        yield Mutation("maximum", "at", setter(path, node["maximum"]), "at")
        yield Mutation("maximum", "past", setter(path, node["maximum"] + 1), "past")
    if "const" in node:
        expected = node["const"]
        yield Mutation("const", "at", setter(path, expected), "at")
        for other, label in ((True, "true for 1"), (1.0, "1.0 for 1"), (expected + 1, "past"), (str(expected), "text"),
                             (None, "null")):
            yield Mutation("const", label, setter(path, other), "past" if label == "past" else "")
    if "enum" in node:
        for allowed in node["enum"]:
            yield Mutation("enum", f"allowed {allowed!r}", setter(path, allowed), "at")
        for other in ("not-in-the-list", False, 0, "NVIDIA" if "nvidia" in node["enum"] else "Index"):
            yield Mutation("enum", f"not allowed {other!r}", setter(path, other), "past")
    if "maxItems" in node and isinstance(value, list) and value:
        limit = node["maxItems"]
        for count, bound in ((limit, "at"), (limit + 1, "past")):
            if bound == "at" and limit > 1000:  # validating 200,000 records: once per distinct bound
                if limit in LONG_LISTS_DONE:
                    continue
                LONG_LISTS_DONE.add(limit)
            long = [value[0]] * count
            yield Mutation("maxItems", bound, setter(path, long), bound,
                           {"maxItems": limit} if limit > 1000 else {})
    if "maxProperties" in node and isinstance(value, dict) and value:
        limit = node["maxProperties"]
        first = next(iter(value.values()))
        for count, bound in ((limit, "at"), (limit + 1, "past")):
            yield Mutation("maxProperties", bound, setter(path, {f"k{i}": first for i in range(count)}), bound)
    if isinstance(value, dict) and ("properties" in node or "additionalProperties" in node):
        yield from key_mutations(site)


def key_mutations(site: Site):
    node, value, path = site.node, site.value, site.path
    required = set(node.get("required", ()))
    for key in list(value):
        def drop(data, key=key):
            del get(data, path)[key]
        bound = "past" if key in required else "at"
        yield Mutation("required", f"without {key!r}" + (" (required)" if key in required else ""), drop, bound)

        def rename(data, key=key):
            obj = get(data, path)
            obj[key.upper() if key.upper() != key else key.lower() + "_"] = obj.pop(key)
        yield Mutation("additionalProperties", f"{key!r} renamed", rename)
    if value:
        first_key = next(iter(value))

        def add(data):
            obj = get(data, path)
            obj["x_unknown"] = copy.deepcopy(obj[first_key])
        yield Mutation("additionalProperties", "unknown key added", add,
                       "past" if node.get("additionalProperties", True) is False else "at")


def name_mutations(site: Site, data: dict):
    """Keys of an object whose names have rules (propertyNames): each rule at its bound and past it."""
    node, owner = site.node, site.name_of
    item = get(data, site.path)

    def add_key(name):
        def apply(data):
            get(data, owner)[name] = copy.deepcopy(item)
        return apply
    if "maxLength" in node:
        limit = node["maxLength"]
        yield Mutation("maxLength", "key at", add_key("k" * limit), "at")
        yield Mutation("maxLength", "key past", add_key("k" * (limit + 1)), "past")
    if "pattern" in node:
        yield Mutation("pattern", "key matching", add_key("new_marker"), "at")
        yield Mutation("pattern", "key not matching", add_key("Not A Marker; $(id)"), "past")
        yield Mutation("pattern", "key with a capital", add_key("os_Name"), "past")
        yield Mutation("pattern", "a final newline", add_key("os_name\n"))
    if "enum" in node:
        yield Mutation("enum", "key allowed", add_key(node["enum"][-1]), "at")
        yield Mutation("enum", "key not allowed", add_key("HOME"), "past")
    if "format" in node:
        yield Mutation("format", "key breaking the format", add_key("A\x1b[31mB"), "past")
        yield Mutation("format", "key that is empty", add_key(""))


# ---- the oracle ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, (rule, _) in grammar.RULES.items():
        checker.checks(name)(lambda value, rule=rule: not isinstance(value, str) or rule(value))
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=checker), jsonschema


@pytest.fixture(scope="module")
def verdicts(reference):
    """Every mutation, with jsonschema's verdict and the validator's."""
    check, jsonschema = reference
    LONG_LISTS_DONE.clear()
    base = full_manifest()
    assert manifest.find_problems(base) == [], manifest.problems(base)[:3]
    assert list(check.iter_errors(base)) == []
    found, seen = [], set()
    for site in sites(SCHEMA, base):
        if site.pointer in seen:  # one value per place of the schema: the rule is the same for the others
            continue
        seen.add(site.pointer)
        for mutation in mutations(site, base):
            data = copy_along(base, site.path)
            mutation.apply(data)
            ours = manifest.find_problems(data)
            if mutation.cheap_oracle:  # a list of 200,000 items, copies of a valid one: jsonschema on the keyword
                theirs = list(jsonschema.Draft202012Validator(mutation.cheap_oracle).iter_errors(get(data, site.path)))
                theirs_paths = {site.path} if theirs else set()
            elif site.path:  # the schema has no rule across fields: only the changed subtree can break one
                where, node = (site.name_of, site.owner) if site.name_of is not None else (site.path, site.whole)
                try:
                    value = get(data, where)
                except (KeyError, IndexError):  # the value itself was removed: its parent's rules decide
                    where, node = where[:-1], site.parent
                    value = get(data, where)
                sub = check.evolve(schema=node)
                theirs_paths = {(*where, *error.absolute_path) for error in sub.iter_errors(value)}
            else:
                theirs_paths = {tuple(error.absolute_path) for error in check.iter_errors(data)}
            found.append((site, mutation, {p.path for p in ours}, theirs_paths))
    return found


def test_every_keyword_of_the_schema_is_implemented_and_mutated_here():
    used = all_keywords(SCHEMA)
    assert used - validator.KEYWORDS - validator.ANNOTATIONS == set(), "compile() lacks these"
    assert used - ASSERTIONS - STRUCTURE - validator.ANNOTATIONS == set(), "no mutation here for these"


def test_compile_refuses_a_keyword_it_does_not_implement():
    with pytest.raises(ValueError, match="minItems"):
        validator.compile_schema({"type": "array", "minItems": 1}, {})
    with pytest.raises(ValueError, match="exclusiveMaximum"):
        validator.compile_schema({"properties": {"n": {"type": "integer", "exclusiveMaximum": 3}}}, {})


def test_the_walk_reaches_every_rule_of_the_schema(verdicts):
    reached = {(site.pointer, mutation.keyword) for site, mutation, _, _ in verdicts}
    missing = []
    for pointer, keywords in rule_places(SCHEMA):
        for keyword in keywords - {validator.SIZE_KEYWORD}:  # its own test below: jsonschema ignores it
            if (pointer, keyword) == ("#", "type"):  # the manifest itself: its own test below
                continue
            if keyword == "additionalProperties" and not isinstance(get_node(pointer).get(keyword), bool):
                continue
            if (pointer, keyword) not in reached:
                missing.append((pointer, keyword))
    assert not missing, missing[:10]


def get_node(pointer: str) -> dict:
    node = SCHEMA
    for part in pointer.lstrip("#/").split("/"):
        if part:
            node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_the_validator_refuses_exactly_what_jsonschema_refuses(verdicts):
    disagreements = []
    for site, mutation, ours, theirs in verdicts:
        if (mutation.keyword, mutation.label) in STRICTER:
            if not ours:
                disagreements.append((site.path, mutation.keyword, mutation.label, "stricter rule not applied"))
            continue
        if bool(ours) != bool(theirs) or not ours <= theirs | {site.path, site.path[:-1], site.name_of}:
            disagreements.append((site.path, mutation.keyword, mutation.label, ours, theirs))
    assert not disagreements, (len(disagreements), disagreements[:5])


@pytest.mark.parametrize("keyword", ["maxLength", "maxItems", "maxProperties", "minimum", "const", "enum", "type",
                                     "pattern", "required", "additionalProperties"])
def test_each_bound_is_reached_on_both_sides(verdicts, keyword):
    """For each keyword, a mutation at the bound that jsonschema accepts and one past it that it refuses, for every
    distinct bound the schema sets (an off-by-one in any of them is caught)."""
    accepted_at, refused_past, places_past = set(), set(), set()
    for site, mutation, ours, theirs in verdicts:
        if mutation.keyword != keyword:
            continue
        limit = json.dumps(site.node.get(keyword)) if keyword.startswith(("max", "min")) else keyword
        if mutation.bound == "at" and not theirs:
            accepted_at.add(limit)
        if mutation.bound == "past":
            assert theirs, (site.path, mutation.label)
            refused_past.add(limit)
            places_past.add(site.pointer)
    assert refused_past and accepted_at
    if keyword.startswith(("max", "min")):
        assert accepted_at == refused_past, f"bounds of {keyword} reached only past: {refused_past - accepted_at}"
    every = {pointer for pointer, keywords in rule_places(SCHEMA) if keyword in keywords and
             (keyword != "additionalProperties" or get_node(pointer)[keyword] is False)}
    if keyword not in ("type", "enum", "required", "additionalProperties"):
        assert every <= places_past, sorted(every - places_past)[:5]


def test_schema_version_must_be_the_integer_1():
    data = full_manifest()
    for wrong in (True, 1.0, "1", 0, 2, None):
        data["schema_version"] = wrong
        assert [p.kind for p in manifest.find_problems(data)] == ["const"], wrong
    data["schema_version"] = 1
    assert manifest.find_problems(data) == []


def test_a_manifest_that_is_not_an_object_is_refused(reference):
    check, _ = reference
    for wrong in ([], "x", 1, None):
        assert [p.kind for p in manifest.find_problems(wrong)] == ["type"]
        assert [e.validator for e in check.iter_errors(wrong)] == ["type"]


def test_integer_fields_refuse_fractions_and_accept_whole_floats():
    data = full_manifest()
    data["hardware"]["logical_cores"] = 1.5
    assert [(p.path, p.kind) for p in manifest.find_problems(data)] == [(("hardware", "logical_cores"), "type")]
    data["hardware"]["logical_cores"] = 16.0  # JSON has one number type: jsonschema calls 16.0 an integer too
    assert manifest.find_problems(data) == []


def test_free_form_size_limit_at_its_bound_and_past_it():
    from envcapture.manifest.schema import MAX_FACT_BYTES

    # The validator's count for a list of one string: 2 + 1 (the list) + len + 3 (the string).
    at = ["a" * (MAX_FACT_BYTES - 6)]
    assert not validator.json_size_exceeds(at, MAX_FACT_BYTES)
    assert validator.json_size_exceeds(["a" * (MAX_FACT_BYTES - 5)], MAX_FACT_BYTES)
    assert len(json.dumps(at)) <= MAX_FACT_BYTES  # the count is never below the real size
    data = full_manifest()
    data["determinism"]["deep"] = {"blob": ["b" * 4000] * 200}
    assert manifest.find_problems(data) == []
    data["determinism"]["deep"] = {"blob": ["b" * 4000] * 300}
    assert [p.kind for p in manifest.find_problems(data)] == [validator.SIZE_KEYWORD]


def test_validate_refuses_a_marker_name_that_is_not_one(tmp_path):
    from clirun import envcapture

    data = full_manifest()
    data["python"]["markers"]["Not A Marker; $(id)"] = "x"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    proc = envcapture("validate", path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "python.markers" in proc.stdout + proc.stderr


def test_enum_and_const_compare_types_as_jsonschema_does_for_booleans(reference):
    """The manifest's enums hold only text and null, so a bool/number confusion cannot show on the manifest: a
    schema of its own shows it (jsonschema, too, refuses true for 1 and false for 0)."""
    _, jsonschema = reference
    schema = {"type": "object", "properties": {"e": {"enum": [0, 1, "a", None]}, "c": {"const": 0}}}
    check = validator.compile_schema(schema, {})
    for field, value in (("e", True), ("e", False), ("c", False)):
        assert [p.kind for p in check({field: value})] == ["enum" if field == "e" else "const"], (field, value)
        assert list(jsonschema.Draft202012Validator(schema).iter_errors({field: value}))
    for value in (0, 1, "a", None):
        assert check({"e": value}) == []


def test_a_key_with_a_bad_name_does_not_hide_the_problems_of_the_keys_after_it(reference):
    """Every problem of an object is reported, as jsonschema reports them: a key that breaks the name rule is
    one problem, and the keys after it are still checked. Found by bench/mutation.py: ``continue`` -> ``break``
    after a bad key name survived (no mutation here put a second problem after a bad name)."""
    _, jsonschema = reference
    schema = {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"},
              "additionalProperties": {"type": "integer"}}
    check = validator.compile_schema(schema, {})
    value = {"BAD": 1, "ok": "not a number", "fine": 2}
    ours = sorted((p.path, p.kind) for p in check(value))
    theirs = sorted((tuple(e.absolute_path), e.validator) for e in jsonschema.Draft202012Validator(schema).iter_errors(value))
    assert ours == [((), "pattern"), (("ok",), "type")]
    assert [kind for _, kind in ours] == [kind for _, kind in theirs]
    data = full_manifest()
    data["python"]["markers"] = {"Not A Marker": "x", "python_version": ["not", "text"]}
    assert {p.path for p in manifest.find_problems(data)} == {("python", "markers"), ("python", "markers", "python_version")}


@pytest.mark.parametrize("shape", ["empty objects", "empty lists", "objects of objects", "short texts"])
def test_the_size_count_is_never_below_the_compact_json(shape):
    """x-max-json-bytes is counted about, walking the value; for containers, short keys and plain texts the
    count is never below the compact JSON's size, so nothing larger than the bound passes. Found by
    bench/mutation.py: an object's own bytes ``2 + len`` -> ``2 & len`` survived (a section of a thousand empty
    objects was counted at half its size)."""
    value = {"empty objects": {f"k{i}": {} for i in range(1000)},
             "empty lists": {f"k{i}": [] for i in range(1000)},
             "objects of objects": {f"k{i}": {"a": {"b": {}}} for i in range(300)},
             "short texts": [f"t{i}" for i in range(1000)]}[shape]
    size = len(json.dumps(value, separators=(",", ":")))
    assert validator.json_size_exceeds(value, size - 1)


@pytest.mark.parametrize("pattern, text", [("^a b$", "a b"), ("^#[0-9]+!$", "#12!"), ('^say "hi"$', 'say "hi"'),
                                           ("^[$]$", "$"), ("^a\\$$", "a$")])
def test_a_pattern_is_read_as_ecma_262_only_where_it_differs_from_python(reference, pattern, text):
    """Only an unescaped ``$`` outside a class changes (the end of the text, so ``"a\\n"`` never matches
    ``^a$``); every other character keeps its meaning, as jsonschema reads it. Found by bench/mutation.py:
    ``char == "$"`` -> ``char <= "$"`` (a space, ``#``, ``!``, ``"`` also taken for the end) survived: the
    schema's own patterns hold none of them."""
    _, jsonschema = reference
    schema = {"type": "string", "pattern": pattern}
    check = validator.compile_schema(schema, {})
    assert check(text) == [] and not list(jsonschema.Draft202012Validator(schema).iter_errors(text))
    assert [p.kind for p in check(text + "\n")] == ["pattern"]
