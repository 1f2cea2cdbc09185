"""Where probes record URL- and secret-bearing values: each one strips credentials, and no warning quotes a
value that failed the URL rule after stripping (it may hold credentials that were not recognised)."""

from __future__ import annotations

import json
from pathlib import Path

from envcapture.probes import ProbeContext
from envcapture.manifest.redact import REDACTED

SECRET = "Zq8" + "xOpaqueSecretValue91"


def test_a_url_that_fails_the_rule_is_never_quoted_in_a_warning(tmp_path):
    from envcapture.probes.python_env import package_indexes

    warnings = []
    env = {"PIP_INDEX_URL": f"https://pypi.example.com/simple/$(id)?opaque={SECRET}",
           "PIP_EXTRA_INDEX_URL": f"https://alice:Hunter@2-{SECRET}@pypi.example.com/`x`/simple"}
    found = package_indexes(str(tmp_path), env, str(tmp_path), warnings)
    assert found.index_url is None and found.extra_index_urls == []
    messages = " ".join(w.message for w in warnings)
    assert "PIP_INDEX_URL: index-url value is not a plain URL" in messages
    assert SECRET not in messages and "alice" not in messages and "Hunter" not in messages


def dist(name, requires=(), direct_url=None):
    return {"name": name, "version": "1.0", "requires": list(requires), "direct_url": direct_url,
            "folder": f"{name}-1.0.dist-info", "path": f"/venv/lib/site-packages/{name}-1.0.dist-info"}


def test_requires_dist_is_recorded_without_credentials():
    from envcapture.probes.python_env import packages

    target = {"markers": {}, "site_packages": ["/venv/lib/site-packages"], "distributions": [dist("app", [
        f"internal @ git+https://{SECRET}@dev.azure.com/org/p/_git/internal@main",
        f"wheelpkg @ https://files.example.com/wheelpkg-1.0-py3-none-any.whl?token={SECRET}",
        f"other @ https://deploy:{SECRET}@files.example.com/other-1.0.tar.gz ; python_version >= '3.8'",
        f"broken @ https://files.example.com/x.whl?opaque={SECRET} ; $$$",
    ])]}
    records, warnings = packages(target, "/home/u", None)
    requires = records[0].requires
    assert requires[:3] == [
        "internal @ git+https://dev.azure.com/org/p/_git/internal@main",
        f"wheelpkg @ https://files.example.com/wheelpkg-1.0-py3-none-any.whl?token={REDACTED}",
        "other @ https://files.example.com/other-1.0.tar.gz ; python_version >= '3.8'"]
    assert len(requires) == 3
    assert [w.message for w in warnings] == ["app: requirement with a URL is not PEP 508; left out"]


def test_a_source_url_that_fails_its_rule_is_not_quoted():
    from envcapture.probes.python_env import packages

    target = {"markers": {}, "site_packages": ["/venv/lib/site-packages"], "distributions": [
        dist("app", direct_url={"url": f"https://files.example.com/$(x)/a.whl?opaque={SECRET}",
                                "archive_info": {}})]}
    records, warnings = packages(target, "/home/u", None)
    assert records[0].source.url is None
    assert warnings and SECRET not in " ".join(w.message for w in warnings)


def history(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "history"
    path.write_text(text)
    return path


def test_conda_history_keeps_every_url_spec_without_its_token(tmp_path):
    from envcapture.probes.conda import read_history

    specs, _ = read_history(history(tmp_path, (
        "==> 2024-01-01 00:00:00 <==\n# cmd: conda install https://conda.example.com/c/linux-64/a-1.0-0.conda "
        f"https://conda.example.com/c/linux-64/b-2.0-1.tar.bz2?token={SECRET}\n"
        "==> 2024-01-02 00:00:00 <==\n# cmd: conda install x\n# update specs: ["
        f"'https://conda.anaconda.org/t/{SECRET}/mychan::numpy', 'https://conda.anaconda.org/t/{SECRET}/other::scipy',"
        f" 'https://conda.example.com/c/noarch/?x=1', 'conda-forge::numpy>=1.26']\n")))
    assert specs == ["https://conda.example.com/c/linux-64/a-1.0-0.conda",
                     f"https://conda.example.com/c/linux-64/b-2.0-1.tar.bz2?token={REDACTED}",
                     "conda-forge::numpy>=1.26",  # a later spec for numpy replaces the earlier one
                     "https://conda.anaconda.org/other::scipy", "https://conda.example.com/c/noarch/?x=1"]


def test_conda_spec_names():
    from envcapture.probes.conda import spec_name

    assert spec_name("numpy>=1.26") == "numpy"
    assert spec_name("conda-forge::NumPy") == "numpy"
    assert spec_name("https://conda.anaconda.org/mychan::scipy=1.11") == "scipy"
    assert spec_name("https://h/c/linux-64/py-opencv-4.9.0-py312_0.conda") == "py-opencv"
    assert spec_name("https://h/c/noarch/") == "https://h/c/noarch/"


def test_conda_record_keeps_no_token(tmp_path):
    from envcapture.probes.conda import package_record

    record = package_record({"name": "numpy", "version": "1.26.4", "build": "py312_0", "subdir": "linux-64",
                             "channel": f"https://conda.anaconda.org/t/{SECRET}/mychan/linux-64",
                             "url": f"https://conda.anaconda.org/t/{SECRET}/mychan/linux-64/numpy.conda",
                             "requested_spec": f"https://conda.anaconda.org/t/{SECRET}/mychan::numpy"}, "x", [])
    assert SECRET not in json.dumps(record.__dict__)
    assert record.requested_spec == "https://conda.anaconda.org/mychan::numpy"
    assert record.channel == "mychan"


def test_a_pythonpath_url_is_not_split_into_a_password_entry():
    from envcapture.probes.filesystem import search_paths

    warnings = []
    env = {"PYTHONPATH": f"/opt/lib:https://alice:{SECRET}@libs.example.com/py:https://{SECRET}@h/x:/srv/lib"}
    paths = search_paths(ProbeContext(env=env, home="/home/u"), warnings)
    assert paths["PYTHONPATH"] == ["/opt/lib", "/srv/lib"]
    assert [w.message for w in warnings] == ["2 PYTHONPATH entries that are URLs left out"]


def test_git_remote_forms():
    from envcapture.probes.git import clean_remote

    ctx = ProbeContext(env={}, home="/home/u", project=Path("/work/p"))
    cases = {f"https://{SECRET}@dev.azure.com/org/p/_git/r": "https://dev.azure.com/org/p/_git/r",
             f"https://dev.azure.com/org/p/_git/r?private_token={SECRET}":
                 f"https://dev.azure.com/org/p/_git/r?private_token={REDACTED}",
             "alice@git.example.com:org/repo.git": "ssh://git.example.com/org/repo.git",
             "git@github.com:org/repo.git": "ssh://git@github.com/org/repo.git",
             "ssh://git.example.com:2222/org/repo.git": "ssh://git.example.com:2222/org/repo.git"}
    for remote, recorded in cases.items():
        warnings = []
        assert clean_remote(remote, ctx, warnings) == recorded
        assert warnings == []
