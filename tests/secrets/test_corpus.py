"""The secret corpus: one realistic fake value per shape, planted in every place where freeze records a value,
asserted absent from the manifest, its warnings and ``envcapture show``.

Everything is real: a venv made here with a wheel that the real pip installs (its direct_url.json then says
where the wheel came from), dist-info folders, pip.conf, PIP_*/UV_* variables, a conda-meta folder in the
venv's prefix, git repositories with remotes, PYTHONPATH, allow-listed variables and file names in the
project, all read by the real ``envcapture freeze`` in a subprocess. apt sources and apk repositories are
read by the dpkg and apk probes from a root folder (freeze always reads the machine's own /etc) and go through
the same final scan.

Run with ``-s`` to see the tally (placements tried and leaked).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from localwheels import write_wheel

from envcapture.manifest.redact import REDACTED

from .corpus import (FREE_TEXT_CONTEXT, INDEX_PATH_SHAPES, SECRET_PARAMS, SHAPES, Planted, crammed_url, free_text,
                     in_url, index_path_url, plant, shaped, url_shapes)

REPO = Path(__file__).resolve().parents[2]
RUNS = 4
# Only one index URL is recorded, so each run sets a different source of it (pip applies them in this order).
INDEX_SOURCES = ("pip.conf index-url", "PIP_INDEX_URL", "UV_INDEX_URL", "UV_DEFAULT_INDEX")
MULTI_URL_VARIABLES = ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS")


def run(*argv, cwd=None, env=None, check=True):
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, check=check, capture_output=True, text=True)


def clean_env(home: Path) -> dict:
    """This machine's environment without anything that says where packages come from or holds a value
    freeze records, and with a home folder of its own (no user pip.conf)."""
    from envcapture.manifest.redact import ENV_ALLOW_LIST

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "CONDA")) and k not in ENV_ALLOW_LIST and k != "PYTHONPATH"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CONFIG_DIRS=str(home / "xdg"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    return env


def copy_dist(site: Path, real: Path, name: str, direct_url: dict | None, requires=()) -> None:
    """Another installed distribution made from the pip-installed one: same files, its own name."""
    folder = site / f"{name.replace('-', '_')}-1.0.dist-info"
    shutil.copytree(real, folder)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (folder / "METADATA").write_text("\n".join(lines) + "\n")
    if direct_url is None:
        (folder / "direct_url.json").unlink(missing_ok=True)
    else:
        (folder / "direct_url.json").write_text(json.dumps(direct_url))


class Corpus:
    def __init__(self):
        self.planted: list[Planted] = []

    def add(self, planted: Planted) -> Planted:
        self.planted.append(planted)
        return planted

    def url(self, shape: str, placement: str, base: str, form: int) -> str:
        return in_url(self.add(plant(shape, placement)), base, form)

    def crammed(self, placement: str, base: str, userinfo_form: int) -> str:
        url, planted = crammed_url(url_shapes(), placement, base, userinfo_form)
        self.planted += planted
        return url


def plant_venv(root: Path, corpus: Corpus) -> Path:
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    wheel = write_wheel(root, "secreal", "1.0")
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", "--no-deps",
        "--disable-pip-version-check", wheel)
    site = next((venv / "lib").glob("python*/site-packages"))
    real = next(site.glob("secreal-1.0.dist-info"))
    assert json.loads((real / "direct_url.json").read_text())["archive_info"]  # pip wrote it
    sha = "sha256=" + "ab" * 32
    for k, shape in enumerate(url_shapes()):
        url = corpus.url(shape, "direct_url archive URL", f"https://files.example.com/wheels/pkg{k}-1.0-py3-none-any"
                                                          f".whl", k)
        copy_dist(site, real, f"sec-archive-{k}", {"url": url, "archive_info": {"hash": sha}})
        url = corpus.url(shape, "direct_url VCS URL", f"https://dev.azure.com/org/proj/_git/repo{k}", k + 1)
        copy_dist(site, real, f"sec-vcs-{k}", {"url": url, "vcs_info": {"vcs": "git", "commit_id": "c" * 40}})
    requires = [f"dep{k} @ " + corpus.url(shape, "Requires-Dist URL", f"https://files.example.com/dep{k}-1.0.tar.gz", k)
                for k, shape in enumerate(url_shapes())]
    copy_dist(site, real, "sec-requires", None, requires)
    # the real one came "from" a URL with a token, as pip records `pip install https://...whl?token=...`
    direct = json.loads((real / "direct_url.json").read_text())
    direct["url"] = corpus.url("gitlab-pat", "direct_url of the pip-installed wheel",
                               "https://gitlab.example.com/api/v4/projects/7/packages/pypi/files/x.whl", 2)
    (real / "direct_url.json").write_text(json.dumps(direct))

    extra = [corpus.url(s, "pip.conf extra-index-url", f"https://pypi{k}.example.com/simple", k)
             for k, s in enumerate(url_shapes())]
    extra += [index_path_url(corpus.add(plant(s, "pip.conf extra-index-url path"))) for s in INDEX_PATH_SHAPES]
    links = [corpus.url(s, "pip.conf find-links", f"https://wheels{k}.example.com/links/", k + 2)
             for k, s in enumerate(url_shapes())]
    index = corpus.crammed("pip.conf index-url", "https://pypi.internal.example.com/simple/", 0)
    (venv / "pip.conf").write_text("[global]\nindex-url = " + index + "\nextra-index-url =\n    "
                                   + "\n    ".join(extra) + "\nfind-links =\n    " + "\n    ".join(links) + "\n")
    plant_conda(venv, corpus)
    return python


def plant_conda(prefix: Path, corpus: Corpus) -> None:
    from urllib.parse import quote

    meta = prefix / "conda-meta"
    meta.mkdir()
    specs, cmd_specs = [], []
    for k, shape in enumerate(url_shapes()):
        channel_token = quote(corpus.add(plant(shape, "conda record channel")).value, safe="")
        spec_token = quote(corpus.add(plant(shape, "conda record requested_spec")).value, safe="")
        url = corpus.url(shape, "conda record url", f"https://conda.example.com/mychan/linux-64/secpkg{k}-1.0-0.conda",
                         k)
        record = {"name": f"secpkg{k}", "version": "1.0", "build": "0", "build_number": 0,
                  "channel": f"https://conda.anaconda.org/t/{channel_token}/mychan/linux-64", "subdir": "linux-64",
                  "url": url, "md5": "0" * 32,
                  "requested_spec": f"https://conda.anaconda.org/t/{spec_token}/mychan::secpkg{k}"}
        (meta / f"secpkg{k}-1.0-0.json").write_text(json.dumps(record, indent=2))
        if k % 2:
            specs.append(corpus.url(shape, "conda history specs", f"https://conda.example.com/mychan/linux-64/"
                                                                   f"hist{k}-1.0-0.conda", k))
        else:
            token = quote(corpus.add(plant(shape, "conda history specs")).value, safe="")
            specs.append(f"https://conda.anaconda.org/t/{token}/mychan::hist{k}")
        cmd_specs.append(corpus.url(shape, "conda history cmd", f"https://conda.example.com/mychan/linux-64/"
                                                                 f"cmd{k}-2.0-0.tar.bz2", k + 1))
    (meta / "history").write_text(
        "==> 2024-01-01 00:00:00 <==\n# cmd: /opt/conda/bin/conda install " + " ".join(cmd_specs) + "\n"
        "# conda version: 23.1.0\n"
        "==> 2024-01-02 00:00:00 <==\n# cmd: /opt/conda/bin/conda install -y something\n"
        "# conda version: 23.1.0\n# update specs: " + repr(specs) + "\n")


def plant_project(folder: Path, remote: str, env: dict, names=()) -> Path:
    folder.mkdir(parents=True)
    run("git", "init", "-q", "-b", "main", cwd=folder, env=env)
    run("git", "remote", "add", "origin", remote, cwd=folder, env=env)
    for name in names:
        (folder / name).write_text("x\n")
    return folder


def apt_outputs(root: Path, corpus: Corpus) -> str:
    """apt sources in both formats and apk repositories, read by the real dpkg and apk probes from a root
    folder, then the final scan."""
    from envcapture.probes import ProbeContext, apk, dpkg
    from envcapture.manifest.redact import scan_and_redact

    lines, stanzas = [], []
    for k, shape in enumerate(url_shapes()):
        lines.append(f"deb [signed-by=/usr/share/keyrings/x.gpg] "
                     f"{corpus.url(shape, 'apt sources.list', f'https://apt{k}.example.com/debian', k)} bookworm main")
        uri = corpus.url(shape, "apt deb822 .sources", f"https://deb{k}.example.com/", k)
        stanzas.append(f"Types: deb\nURIs: {uri}"
                       "\nSuites: bookworm\nComponents: main\n")
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    (root / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")
    (root / "etc/apt/sources.list.d/extra.sources").write_text("\n".join(stanzas))
    result = dpkg.collect(ProbeContext(root=root, env={}))
    # Alpine's apk: /etc/apk/repositories, one URL a line, optionally tagged
    (root / "etc/apk").mkdir(parents=True)
    (root / "lib/apk/db").mkdir(parents=True)
    (root / "lib/apk/db/installed").write_text("")
    (root / "etc/apk/repositories").write_text("".join(
        f"@edge {corpus.url(shape, 'apk repositories', f'https://apk{k}.example.com/alpine/edge/main', k)}\n"
        for k, shape in enumerate(url_shapes())))
    alpine = apk.collect(ProbeContext(root=root, env={}))
    clean, _ = scan_and_redact({"system_packages": [result.data, alpine.data],
                                "warnings": [w.message for w in result.warnings + alpine.warnings]})
    return json.dumps(clean)


# More files than a manifest holds inline: the data set's records go to a sidecar.
SIDECAR_FILLER = 10_001


def fits(name: str) -> bool:
    """A name the file system takes (255 bytes, no /): an AWS session token is longer than that."""
    return "/" not in name and len(name.encode()) <= 255


def plant_data(project: Path, corpus: Corpus) -> list[str]:
    """The data section's places, planted in ``project``: file names as wget writes them (the presigned URL's
    query kept) and as shaped names, inline and in a sidecar; link targets; data set (folder) names; pyproject
    ``[tool.envcapture]`` data entries (names and paths); DVC outputs. Returns freeze's --data arguments."""
    downloads = project / "data" / "downloads"
    big = project / "data" / "big"
    for folder in (downloads, big):
        folder.mkdir(parents=True)

    def named(shape: str, placement: str, form) -> str | None:
        planted = plant(shape, placement)
        name = form(planted.value)
        if not fits(name):
            return None
        corpus.add(planted)
        return name

    for k, shape in enumerate(SHAPES):
        param = SECRET_PARAMS[k % len(SECRET_PARAMS)]
        wget = lambda value: f"dl{k}.bin?X-Amz-Date=20260101T000000Z&{param}={quote(value, safe='')}"  # noqa: E731
        for where, placement in ((downloads, "data file name (wget query)"), (big, "sidecar file name (wget query)")):
            name = named(shape, placement, wget)
            if name:
                (where / name).write_text(f"{k}\n")
    for shape in shaped():
        for where, placement in ((downloads, "data file name"), (big, "sidecar file name")):
            name = named(shape, placement, lambda value: f"{value}.txt")
            if name:
                (where / name).write_text("x\n")
    for k, shape in enumerate(url_shapes()):
        target = corpus.url(shape, "data link target", f"https://data{k}.example.com/bucket/f{k}.csv", k)
        os.symlink(target, downloads / f"link{k}")
    for i in range(SIDECAR_FILLER):
        (big / f"f{i:05d}.txt").write_text(f"{i}\n")
    arguments = ["--data", "data/downloads", "--data", "data/big"]
    for shape in shaped():
        name = named(shape, "data set folder name", lambda value: f"set-{value}")
        if name:
            (project / "data" / name).mkdir()
            (project / "data" / name / "a.csv").write_text("1\n")
            arguments += ["--data", f"data/{name}"]
    entries = []
    for k, shape in enumerate(shaped()):
        name = named(shape, "pyproject data name", lambda value: f"n-{value}")
        if name and re.fullmatch(r"[A-Za-z0-9._+-]+", name):
            (project / "data" / f"p{k}").mkdir()
            (project / "data" / f"p{k}" / "a.csv").write_text("1\n")
            entries.append(f"{{path = 'data/p{k}', name = '{name}'}}")
        elif name:
            corpus.planted.pop()  # not an identifier: not planted
    for k, shape in enumerate(SHAPES):
        param = SECRET_PARAMS[(k + 1) % len(SECRET_PARAMS)]
        folder = named(shape, "pyproject data path", lambda value: f"q{k}?{param}={quote(value, safe='')}")
        if folder:
            (project / "data" / folder).mkdir()
            (project / "data" / folder / "a.csv").write_text("1\n")
            entries.append(f"{{path = 'data/{folder}'}}")
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '1'\n[tool.envcapture]\ndata = [\n"
                                            + ",\n".join(entries) + "]\n")
    outs = "".join(f"    - path: {corpus.url(shape, 'DVC output', f'https://dvc{k}.example.com/remote/o{k}.csv', k)}\n"
                   f"      md5: {'%032x' % k}\n      size: 19\n" for k, shape in enumerate(url_shapes()))
    (project / "dvc.lock").write_text(f"schema: '2.0'\nstages:\n  fetch:\n    cmd: python fetch.py\n    outs:\n{outs}")
    return arguments


def sidecar_texts(manifest: dict, folder: Path) -> list[str]:
    texts = []
    for record in (manifest.get("data") or {}).get("sets", []):
        if record.get("sidecar"):
            texts.append(gzip.decompress((folder / record["sidecar"]["file"]).read_bytes()).decode("utf-8"))
    return texts


def kit_text(kit: Path) -> str:
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in sorted(kit.rglob("*")) if path.is_file())


def freeze_and_show(python: Path, project: Path, out: Path, env: dict, data_args=()) -> tuple[str, dict | None]:
    """freeze, then every output made from its manifest: the manifest, its sidecars, what freeze, show and
    check (the environment, and the data only) print, and every file of the kit (generate all)."""
    env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)}
    envcapture = (sys.executable, "-m", "envcapture")
    frozen = run(*envcapture, "freeze", "--python", python, "--project", project, "-o", out, *data_args,
                 env=env, check=False, cwd=project)
    texts = [frozen.stdout, frozen.stderr]
    data = None
    if out.exists():
        texts.append(out.read_text())
        data = json.loads(texts[-1])
        texts += sidecar_texts(data, out.parent)
        shown = run(*envcapture, "show", out, env=env, check=False)
        checked = run(*envcapture, "check", out, "--python", python, "--project", project, env=env, check=False,
                      cwd=project)
        data_only = run(*envcapture, "check", out, "--data-only", env=env, check=False, cwd=project)
        # The corpus puts free text with spaces into allow-listed variables, which no Dockerfile ENV line takes
        # (generate refuses them, rightly): the kit is made from a copy without them; the rest is the manifest.
        for_kit = out.parent / (out.stem + "-for-kit.json")
        for_kit.write_text(json.dumps({**data, "determinism": {**data["determinism"], "environment": {}}}))
        kit = out.parent / (out.stem + "-kit")
        made = run(*envcapture, "generate", "all", "-m", for_kit, "-o", kit, env=env, check=False)
        assert made.returncode == 0, made.stderr
        texts += [shown.stdout, shown.stderr, checked.stdout, checked.stderr, data_only.stdout, data_only.stderr,
                  made.stdout, made.stderr, kit_text(kit)]
    return "\n".join(texts), data


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    home = root / "home"
    home.mkdir()
    corpus = Corpus()
    python = plant_venv(root, corpus)
    base_env = clean_env(home)
    from envcapture.manifest.redact import ENV_ALLOW_LIST

    variables = [name for name in ENV_ALLOW_LIST if name != "PYTHONHASHSEED"]
    texts, manifests = [], []
    for r in range(RUNS):
        env = dict(base_env)
        if r == 0:  # the multi-valued settings: one URL per shape
            for name in MULTI_URL_VARIABLES:
                env[name] = " ".join(corpus.url(s, name, f"https://{name.lower()}{k}.example.com/simple", k)
                                     for k, s in enumerate(url_shapes()))
            env["PYTHONPATH"] = os.pathsep.join(
                ["/opt/ml/lib"] + [corpus.url(s, "PYTHONPATH", f"https://libs{k}.example.com/py", k)
                                   for k, s in enumerate(url_shapes())] + ["/srv/shared/lib"])
        else:
            env[INDEX_SOURCES[r]] = corpus.crammed(INDEX_SOURCES[r], "https://pypi.internal.example.com/simple/", r % 2)
        for k, shape in enumerate(SHAPES):
            if k % RUNS == r:
                env[variables[k // RUNS]] = "--xla_gpu_autotune_level=4 " + free_text(
                    corpus.add(plant(shape, "allow-listed environment variable")))
        if r == 0:
            remote = corpus.crammed("git remote", "https://dev.azure.com/org/proj/_git/repo", 1)
            # a value with no provider shape is not recognisable in a file name: only shaped ones are tried
            names = [corpus.add(plant(shape, "project file name")).value + ".txt" for shape in SHAPES
                     if shape not in ("slack-webhook", "private-key-pem") and shape not in FREE_TEXT_CONTEXT]
            names = [name for name in names if "/" not in name]
        else:
            remote, names = {1: "https://alice:Hunter@2-LEAKEDPART@git.example.com/org/r.git",
                             2: "alice@git.example.com:org/repo.git",
                             3: "ssh://git.example.com:2222/org/repo.git"}[r], []
        project = plant_project(root / f"project{r}", remote, base_env, names)
        data_args = plant_data(project, corpus) if r == 0 else []
        if r == 2:  # the index URL as Cloudsmith and Gemfury tell users to set it, the token a path segment
            env["PIP_INDEX_URL"] = index_path_url(corpus.add(plant("cloudsmith-entitlement-token", "PIP_INDEX_URL path")))
            env["PIP_EXTRA_INDEX_URL"] = index_path_url(corpus.add(plant("gemfury-token", "PIP_EXTRA_INDEX_URL path")))
        text, data = freeze_and_show(python, project, root / f"run{r}.json", env, data_args)
        texts.append(text)
        manifests.append(data)
    corpus.planted = [p for p in corpus.planted if p.placement != "project file name" or "/" not in p.value]
    texts.append(apt_outputs(root / "aptroot", corpus))
    everything = "\n".join(texts)
    leaked = [p for p in corpus.planted if any(trace in everything for trace in p.traces())]
    return {"planted": corpus.planted, "leaked": leaked, "manifests": manifests, "text": everything}


def tally(planted: list[Planted], leaked: list[Planted]) -> str:
    by_place: dict[str, list[int]] = {}
    for p in planted:
        by_place.setdefault(p.placement, [0, 0])[0] += 1
    for p in leaked:
        by_place[p.placement][1] += 1
    lines = [f"secret corpus: {len(planted)} placements tried, {len(leaked)} leaked "
             f"({len(SHAPES)} shapes, {len(by_place)} places)"]
    lines += [f"  {place}: {tried} tried, {bad} leaked" for place, (tried, bad) in sorted(by_place.items())]
    lines += [f"  LEAK {p.placement}: {p.shape}" for p in leaked]
    return "\n".join(lines)


def test_no_planted_secret_reaches_manifest_warnings_or_show(outcome):
    report = tally(outcome["planted"], outcome["leaked"])
    print("\n" + report)
    assert all(m is not None for m in outcome["manifests"]), "freeze wrote no manifest"
    assert not outcome["leaked"], report


def test_every_run_recorded_what_it_should(outcome):
    """The corpus is only meaningful if the planted places were read: the values are there, redacted."""
    first, *others = outcome["manifests"]
    packages = {p["name"]: p for p in first["python_packages"]}
    assert "secreal" in packages and "sec-archive-0" in packages and "sec-vcs-0" in packages
    assert packages["sec-archive-3"]["source"]["url"].startswith("https://files.example.com/wheels/pkg3")
    indexes = first["python"]["package_indexes"]
    assert indexes["index_url"].startswith("https://pypi.internal.example.com/simple/?private_token=REDACTED")
    assert len(indexes["extra_index_urls"]) >= len(url_shapes())
    assert len(first["conda"]["packages"]) == len(url_shapes())
    # every URL spec of the history survives (they were all keyed "https" and overwrote each other)
    assert len(first["conda"]["explicit_specs"]) >= 2 * len(url_shapes())
    assert first["code"]["remote"].startswith("https://dev.azure.com/org/proj/_git/repo?")
    paths = first["filesystem"]["search_paths"]["PYTHONPATH"]  # the URL entries are not paths, nor split on ':'
    assert "/opt/ml/lib" in paths and "/srv/shared/lib" in paths
    assert [entry for entry in paths if "example.com" in entry or REDACTED in entry or "__token__" in entry] == []


def test_git_remote_forms(outcome):
    _, with_at_password, scp_user, ssh_port = outcome["manifests"]
    assert with_at_password["code"]["remote"] in (None, "https://git.example.com/org/r.git")
    assert "LEAKEDPART" not in outcome["text"]
    assert scp_user["code"]["remote"] == "ssh://git.example.com/org/repo.git"  # the user name is personal data
    assert ssh_port["code"]["remote"] == "ssh://git.example.com:2222/org/repo.git"


def test_the_data_section_and_index_paths_were_recorded(outcome):
    """The data places were read (so 0 leaks means redacted, not missed): every set, the sidecar, the links,
    the DVC outputs, and the index URLs whose first path segment was the token."""
    first = outcome["manifests"][0]
    sets = {s["path"]: s for s in first["data"]["sets"]}
    downloads, big = sets["data/downloads"], sets["data/big"]
    assert big["sidecar"] is not None and big["file_count"] > SIDECAR_FILLER
    assert downloads["files"] is not None
    links = [f for f in downloads["files"] if "link" in f]
    assert len(links) == len(url_shapes())  # recorded, not skipped
    assert any(REDACTED in f["path"] for f in downloads["files"])
    planted = [p.placement for p in outcome["planted"]]
    assert len([s for s in first["data"]["sets"] if s["path"].startswith("data/set-")]) \
        == planted.count("data set folder name") > 20
    assert len([s for s in first["data"]["sets"] if s["name"].startswith("n-")]) \
        == planted.count("pyproject data name") > 20
    assert len([s for s in first["data"]["sets"] if s["path"].startswith("data/q")]) \
        == planted.count("pyproject data path") > 30
    assert len(first["data"]["dvc"]["outputs"]) == len(url_shapes())
    extra = outcome["manifests"][1]["python"]["package_indexes"]["extra_index_urls"]  # pip.conf's, in run 1
    assert "https://dl.cloudsmith.io/REDACTED/acme/ml-wheels/python/simple/" in extra
    assert "https://pypi.fury.io/REDACTED/acme/" in extra
    third = outcome["manifests"][2]["python"]["package_indexes"]
    assert "https://dl.cloudsmith.io/REDACTED/acme/ml-wheels/python/simple/" in [third["index_url"],
                                                                                *third["extra_index_urls"]]
    for manifest in outcome["manifests"]:
        claimed = [w for w in manifest["warnings"] if w["source"] == "redact"]
        assert all("REDACTED" in w["message"] or "removed" in w["message"] for w in claimed)
