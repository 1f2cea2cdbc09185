"""freeze on a real venv: every install kind gets the right source, and the manifest validates."""

import json

from envcapture.manifest import file as manifest

from clirun import freeze


def packages_of(data):
    return {p["name"]: p for p in data["python_packages"]}


def test_records_pypi_editable_git_and_wheel_sources(sample_venv, tmp_path):
    out = tmp_path / "m.json"
    freeze("--python", sample_venv["python"], "-o", out, "--project", tmp_path)
    data = json.loads(out.read_text())
    assert manifest.problems(data) == []
    pkgs = packages_of(data)

    indexpkg = pkgs["indexpkg"]
    assert indexpkg["version"] == "1.16.0"
    assert indexpkg["source"]["kind"] == "index"
    assert indexpkg["requested"] is True and indexpkg["installer"] == "pip"
    assert indexpkg["top_level"] is False  # editable-pkg requires it

    editable = pkgs["editable-pkg"]
    assert editable["source"]["kind"] == "editable"
    assert editable["source"]["checkout"] == {"commit": sample_venv["editable_commit"], "dirty": False}
    assert editable["top_level"] is True
    assert editable["requires"] == ["indexpkg"]

    git = pkgs["gitpkg"]
    assert git["version"] == "1.2.0"
    assert git["source"]["kind"] == "vcs"
    assert git["source"]["vcs"] == "git"
    assert git["source"]["commit"] == sample_venv["git_commit"]
    assert git["source"]["requested_revision"] == "main"
    assert git["source"]["url"].startswith("git+file://")

    wheel = pkgs["wheelpkg"]
    assert wheel["source"]["kind"] == "archive"
    assert wheel["source"]["hash"].startswith("sha256=")

    # pip inspect's coverage: the venv's own pip is there too
    assert "pip" in pkgs
    assert data["python"]["is_virtualenv"] is True
    assert data["python"]["version"].count(".") == 2


def test_dirty_editable_checkout_is_flagged(sample_venv, tmp_path):
    module = sample_venv["editable"] / "editable_pkg" / "__init__.py"
    original = module.read_text()
    module.write_text(original + "CHANGED = True\n")
    try:
        data = json.loads(freeze("--python", sample_venv["python"], "-o", "-", "--project", tmp_path).stdout)
    finally:
        module.write_text(original)
    assert packages_of(data)["editable-pkg"]["source"]["checkout"]["dirty"] is True


def test_virtual_env_variable_selects_the_target(sample_venv, tmp_path):
    proc = freeze("-o", "-", "--project", tmp_path, env={"VIRTUAL_ENV": str(sample_venv["venv"])})
    assert "gitpkg" in packages_of(json.loads(proc.stdout))


def test_home_is_written_as_tilde(sample_venv, tmp_path):
    home = str(sample_venv["root"])
    proc = freeze("--python", sample_venv["python"], "-o", "-", "--project", tmp_path, env={"HOME": home})
    data = json.loads(proc.stdout)
    assert data["python"]["prefix"] == "~/venv"
    assert home not in proc.stdout


def test_local_version_label_implies_the_pytorch_index():
    from envcapture.manifest.indexes import implied_index
    from envcapture.probes.python_env import local_label

    assert local_label("2.11.0+cu130") == "cu130"
    assert implied_index("cu126") == "https://download.pytorch.org/whl/cu126"
    assert implied_index("cpu") == "https://download.pytorch.org/whl/cpu"
    assert implied_index("ubuntu1") is None


def test_a_distribution_on_pythonpath_is_a_local_directory_not_an_index_package(sample_venv, tmp_path):
    checkout = tmp_path / "checkout"
    info = checkout / "devpkg.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: devpkg\nVersion: 0.5\n")
    data = json.loads(freeze("--python", sample_venv["python"], "-o", "-", "--project", tmp_path,
                             env={"PYTHONPATH": f"{checkout}"}).stdout)
    devpkg = packages_of(data)["devpkg"]
    assert devpkg["source"]["kind"] == "directory"
    assert devpkg["source"]["url"] == f"file://{checkout}"
    assert packages_of(data)["indexpkg"]["source"]["kind"] == "index"
