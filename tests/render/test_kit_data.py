"""`generate --vendor --with-data [NAME ...]` without Docker: the recorded data sets copied into the kit, each file
checked against its recorded fingerprint while copying (a file changed after freeze stops the copy, named, and no
kit or staging folder is left), links left out and named, a data set over --max-data referenced in REPRODUCE.md,
bad names and sizes refused in one line. The wheels come from the loopback index of test_vendor.py."""

from __future__ import annotations

import json
import os

import pytest

from envcapture.data import fingerprint
from envcapture.data.specs import DataSpec, add_to_manifest, collect, write_sidecars
from envcapture.errors import BadInput
from envcapture.render import kit_data, vendor
from tests.render.conftest import REPO, run_cli
from tests.render.test_vendor import served  # noqa: F401  (the loopback package index fixture)


def _record_data(work, big: int = 0):
    """Two data sets recorded in m.json as freeze records them: a folder `raw` (nested files, a link, a FIFO)
    and a file `labels`; with ``big``, a third set `big` of that many bytes."""
    raw = work / "data" / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.csv").write_text("x,y\n1,2\n")
    (raw / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    (raw / "link-to-a").symlink_to("a.csv")
    os.mkfifo(raw / "pipe")
    (work / "labels.csv").write_text("cat\ndog\n")
    specs = [DataSpec("data/raw", work, "raw"), DataSpec("labels.csv", work, "labels")]
    if big:
        (work / "big.bin").write_bytes(b"\0" * big)
        specs.append(DataSpec("big.bin", work, "big"))
    section = collect(specs, work, "blake3", use_cache=False, manifest_name="m.json", home=str(work.parent))
    manifest = json.loads((work / "m.json").read_text())
    add_to_manifest(manifest, section.section, section.warnings)
    (work / "m.json").write_text(json.dumps(manifest))
    write_sidecars(section.sidecars, work / "m.json")
    return manifest


def _generate(*extra) -> int:
    return run_cli(["generate", "docker", "-m", "m.json", "-o", "kit", "--vendor", *extra])


def test_every_recorded_set_is_copied_checked_and_vouched_for_by_the_kit_index(served, capsys):  # noqa: F811
    work, _ = served
    manifest = _record_data(work)
    assert _generate("--with-data") == 0
    err = capsys.readouterr().err
    kit = work / "kit"
    copied = sorted(str(p.relative_to(kit)) for p in (kit / "data").rglob("*") if not p.is_dir())
    assert copied == ["data/labels/labels.csv", "data/raw/a.csv", "data/raw/sub/b.bin"]
    assert (kit / "data" / "raw" / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 40
    assert "data set raw: 1 symbolic link(s) left out (a kit holds no links): link-to-a" in err
    # The copies fingerprint to the recorded root hash (links aside, which the kit does not carry).
    labels = next(s for s in manifest["data"]["sets"] if s["name"] == "labels")
    assert fingerprint.fingerprint(kit / "data" / "labels" / "labels.csv").root_hash == labels["root_hash"]
    raw = next(s for s in manifest["data"]["sets"] if s["name"] == "raw")
    records = [fingerprint.FileRecord(**f) for f in raw["files"] if "link" not in f]
    assert fingerprint.fingerprint(kit / "data" / "raw").root_hash == fingerprint.root_hash(records, "blake3")
    index = (kit / ".envcapture-files").read_text()
    assert "  data/raw/sub/b.bin\n" in index and "--with-data" in index.splitlines()[1]
    assert vendor.verify_kit(kit) == 7  # idna, uv, SHA256SUMS, requirements.txt and the three data files
    (kit / "data" / "raw" / "a.csv").write_text("x,y\n1,3\n")
    with pytest.raises(BadInput, match="a.csv: differs from the sha256"):
        vendor.verify_kit(kit)
    dockerfile = (kit / "Dockerfile").read_text()
    assert "COPY data/ /data/\nRUN chmod -R a-w /data\n" in dockerfile
    assert "COPY --from=data /data/ /data/\n" in dockerfile
    reproduce = (kit / "REPRODUCE.md").read_text()
    assert "- `raw` (recorded at `data/raw`, in the image at `/data/raw`): 3 files" in reproduce
    assert "- `labels` (recorded at `labels.csv`, in the image at `/data/labels/labels.csv`): 1 files" in reproduce
    assert "1 symbolic link(s) left out" in reproduce and "- `data/`" in reproduce


def test_only_the_named_sets_are_copied_and_an_unknown_name_is_one_line(served, capsys):  # noqa: F811
    work, _ = served
    _record_data(work)
    assert _generate("--with-data", "labels") == 0
    assert sorted(p.name for p in (work / "kit" / "data").iterdir()) == ["labels"]
    assert "COPY data/ /data/" in (work / "kit" / "Dockerfile").read_text()
    capsys.readouterr()
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "other", "--vendor", "--with-data", "labels",
                    "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "envcapture: --with-data \"nope\": the manifest records no such data set (recorded: labels, raw)\n"
    assert not (work / "other").exists()


def test_a_file_changed_after_freeze_stops_the_copy_naming_it_and_leaves_nothing(served, capsys):  # noqa: F811
    work, _ = served
    _record_data(work)
    (work / "data" / "raw" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 39 + bytes(reversed(range(256))))
    assert _generate("--with-data") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("envcapture: --with-data: data set raw: \"sub/b.bin\" changed since the manifest was written "
                       "(its blake3 differs from the recorded fingerprint); copy stopped, nothing was written to the "
                       "kit (freeze again, or restore the file)")
    assert not (work / "kit").exists()
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []  # no staging folder left
    # A different size is named before a byte is read; a file swapped for a link is not followed.
    (work / "data" / "raw" / "sub" / "b.bin").write_bytes(b"short")
    assert _generate("--with-data") == 2
    assert "(10240 bytes recorded, 5 now)" in capsys.readouterr().err
    (work / "data" / "raw" / "sub" / "b.bin").unlink()
    (work / "data" / "raw" / "sub" / "b.bin").symlink_to("/etc/passwd")
    assert _generate("--with-data") == 2
    assert '"sub/b.bin" (or a folder on its way) is now a symbolic link' in capsys.readouterr().err
    (work / "data" / "raw" / "sub" / "b.bin").unlink()
    os.mkfifo(work / "data" / "raw" / "sub" / "b.bin")  # opened without blocking, refused as no regular file
    assert _generate("--with-data") == 2
    assert '"sub/b.bin" is no longer a regular file' in capsys.readouterr().err
    (work / "data" / "raw" / "sub" / "b.bin").unlink()
    assert _generate("--with-data") == 2
    assert '"sub/b.bin" is missing' in capsys.readouterr().err
    # A kit written before keeps its files when a later copy stops.
    (work / "data" / "raw" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    assert _generate("--with-data") == 0
    before = (work / "kit" / ".envcapture-files").read_bytes()
    (work / "labels.csv").write_text("cat\ncow\n")
    assert _generate("--with-data") == 2
    assert (work / "kit" / ".envcapture-files").read_bytes() == before
    assert (work / "kit" / "data" / "labels" / "labels.csv").read_text() == "cat\ndog\n"


def test_a_set_over_max_data_is_referenced_with_how_to_check_it(served, capsys):  # noqa: F811
    work, _ = served
    (work / ".dvc").mkdir()  # a DVC project whose big.bin.dvc tracks the big set: REPRODUCE.md names it
    (work / "big.bin.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 3000\n"
                                      "  path: big.bin\n")
    _record_data(work, big=3000)
    assert _generate("--with-data", "--max-data", "2K") == 0
    err = capsys.readouterr().err
    assert "data set big (2.9 KiB) is over --max-data 2.0 KiB: referenced in REPRODUCE.md, not copied" in err
    assert not (work / "kit" / "data" / "big").exists() and (work / "kit" / "data" / "labels").is_dir()
    reproduce = (work / "kit" / "REPRODUCE.md").read_text()
    assert "Referenced, not copied (each is over `--max-data`, 2048 bytes)" in reproduce
    assert "- `big` (recorded at `big.bin`): 1 files, 3000 bytes, blake3 root hash `" in reproduce
    assert "envcapture check --data-only --data big=PATH envcapture.json" in reproduce
    assert "DVC tracks it (`big.bin.dvc` in the project's repository): `dvc pull big.bin` there fetches it" \
        in reproduce
    # What REPRODUCE.md says works: the copy checks clean against the kit's manifest.
    capsys.readouterr()
    assert run_cli(["check", "--data-only", "--data", f"big={work / 'big.bin'}", str(work / "kit" /
                                                                                     "envcapture.json")]) in (0, 1)
    assert "data set big (big.bin, checked at" in capsys.readouterr().out


def test_bad_sizes_and_misplaced_options_are_one_line(served, capsys):  # noqa: F811
    work, _ = served
    _record_data(work)
    for size in ("2X", "", "-1G", "1e9", "G"):
        assert _generate("--with-data", f"--max-data={size}") == 2
        err = capsys.readouterr().err
        assert err.startswith("envcapture: --max-data ") and "not a size" in err and err.count("\n") == 1
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "kit", "--with-data"]) == 2
    assert "--with-data copies the data sets into a vendored kit: add --vendor" in capsys.readouterr().err
    assert _generate("--max-data", "1G") == 2
    assert "add --with-data" in capsys.readouterr().err
    assert not (work / "kit").exists()
    assert [kit_data.parse_size(s) for s in ("500M", "2G", "1.5k", "2GiB", "2 GB", "123")] == \
        [500 << 20, 2 << 30, 1536, 2 << 30, 2 << 30, 123]


def test_a_manifest_without_data_sets_is_refused_in_one_line(served, capsys):  # noqa: F811
    work, _ = served
    assert _generate("--with-data") == 2
    assert capsys.readouterr().err == ("envcapture: --with-data: the manifest records no data sets (record them "
                                       "with envcapture freeze --data PATH)\n")


def _files(kit) -> dict:
    return {str(p.relative_to(kit)): p.read_bytes() for p in sorted(kit.rglob("*")) if not p.is_dir()}


def test_vendor_remove_gives_the_networked_kit_byte_for_byte(served, capsys):  # noqa: F811
    work, _ = served
    _record_data(work)
    kit = work / "kit"
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "kit"]) == 0
    plain = _files(kit)
    assert _generate("--with-data") == 0  # the same folder, vendored with its data
    assert (kit / "wheels").is_dir() and (kit / "data" / "raw" / "sub" / "b.bin").is_file()
    assert _files(kit) != plain
    assert run_cli(["vendor", "--remove", "kit"]) == 0
    assert _files(kit) == plain
    assert sorted(p.name for p in kit.iterdir() if p.is_dir()) == ["project"]  # wheels/, data/ gone, not emptied
    capsys.readouterr()
    assert run_cli(["vendor", "--remove", "kit"]) == 2
    assert "is not vendored (the command that made it has no --vendor)" in capsys.readouterr().err
    # vendor, then unvendor: the same networked kit again (the header keeps the command that made the kit).
    assert run_cli(["vendor", "kit"]) == 0
    assert "--vendor" in (kit / "Dockerfile").read_text().splitlines()[1]
    assert run_cli(["vendor", "--remove", "kit"]) == 0
    assert _files(kit) == plain


def test_vendor_remove_refuses_a_changed_or_foreign_file_and_changes_nothing(served, capsys):  # noqa: F811
    work, _ = served
    _record_data(work)
    kit = work / "kit"
    assert _generate("--with-data") == 0
    vendored = _files(kit)
    capsys.readouterr()
    (kit / "data" / "raw" / "notes.txt").write_text("mine")
    assert run_cli(["vendor", "--remove", "kit"]) == 2
    assert "data/raw/notes.txt: not a file envcapture vendored (not in the kit's index)" in capsys.readouterr().err
    (kit / "data" / "raw" / "notes.txt").unlink()
    (kit / "wheels" / "mine").symlink_to("/etc")
    assert run_cli(["vendor", "--remove", "kit"]) == 2
    assert "wheels/mine: not a file envcapture vendored (a symbolic link)" in capsys.readouterr().err
    assert os.path.isdir("/etc") and (kit / "wheels" / "mine").is_symlink()
    (kit / "wheels" / "mine").unlink()
    (kit / "data" / "labels" / "labels.csv").write_text("edited")
    assert run_cli(["vendor", "--remove", "kit"]) == 2
    assert "data/labels/labels.csv: changed since it was vendored" in capsys.readouterr().err
    changed = _files(kit)
    assert changed == {**vendored, "data/labels/labels.csv": b"edited"}


def test_vendor_again_takes_the_data_from_the_kit_checked_against_the_manifest(served, capsys):  # noqa: F811
    work, _ = served
    _record_data(work)
    kit = work / "kit"
    assert _generate("--with-data") == 0
    first = _files(kit)
    (work / "data" / "raw" / "a.csv").unlink()  # the original is gone: the kit's copy is the source now
    assert run_cli(["vendor", "kit"]) == 0
    assert _files(kit) == first
    capsys.readouterr()
    (kit / "data" / "raw" / "a.csv").write_text("x,y\n9,9\n")
    assert run_cli(["vendor", "kit"]) == 2
    assert 'data set raw: "a.csv" changed since the manifest was written' in capsys.readouterr().err


def test_a_set_with_a_sidecar_travels_with_it_and_leaves_with_vendor_remove(served, monkeypatch, capsys):  # noqa: F811
    from envcapture.data import specs

    work, _ = served
    monkeypatch.setattr(specs, "INLINE_LIMIT", 2)  # raw (3 records) gets a sidecar, labels (1) stays inline
    _record_data(work)
    manifest = json.loads((work / "m.json").read_text())
    raw = next(s for s in manifest["data"]["sets"] if s["name"] == "raw")
    assert raw["files"] is None and raw["sidecar"]
    name = raw["sidecar"]["file"]
    assert (work / name).is_file()
    kit = work / "kit"
    assert run_cli(["generate", "docker", "-m", "m.json", "-o", "kit"]) == 0
    plain = _files(kit)
    assert _generate("--with-data") == 0
    assert (kit / name).read_bytes() == (work / name).read_bytes() and f"  {name}\n" in \
        (kit / ".envcapture-files").read_text()
    capsys.readouterr()
    # The kit's own manifest now names each changed file of a copy, not only a different root hash.
    changed = work / "copy"
    import shutil

    shutil.copytree(kit / "data" / "raw", changed)
    (changed / "a.csv").write_text("x,y\n1,3\n")
    assert run_cli(["check", "--data-only", "--data", f"raw={changed}", "--data", f"labels={work / 'labels.csv'}",
                    str(kit / "envcapture.json")]) == 1
    out = capsys.readouterr().out
    assert "changed    a.csv: 8 bytes -> 8 bytes" in out and "link-to-a" in out  # the link the copy lacks
    assert run_cli(["vendor", "--remove", "kit"]) == 0
    assert _files(kit) == plain
    (work / name).write_bytes(b"edited")
    assert _generate("--with-data") == 2
    assert f'its sidecar "{name}"' in capsys.readouterr().err



def test_the_archive_carries_the_data_and_is_byte_identical_twice(served, capsys):  # noqa: F811
    import tarfile

    work, _ = served
    _record_data(work)
    assert _generate("--with-data", "--archive", "kit.tar.gz") == 0
    first = (work / "kit.tar.gz").read_bytes()
    with tarfile.open(work / "kit.tar.gz") as archive:
        entry = archive.getmember("kit/data/raw/sub/b.bin")
        assert archive.extractfile(entry).read() == bytes(range(256)) * 40
        assert not any(m.issym() for m in archive.getmembers())
    assert _generate("--with-data", "--archive", "kit.tar.gz", "--force") == 0
    assert (work / "kit.tar.gz").read_bytes() == first


def _cli(*argv, cwd):
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "envcapture", *map(str, argv)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_a_manifest_written_outside_its_project_carries_the_projects_data(served):  # noqa: F811
    """`freeze --project P --data P/data/raw -o ELSEWHERE/m.json` records data/raw relative to P: generate finds
    it there (before: "ELSEWHERE/data/raw: no such file or directory"), and beside the manifest only when P is not
    on this machine. The environment is the one the loopback index serves; the project folder and the data set are
    exactly as that freeze recorded them."""
    work, _ = served
    project = work / "P"
    (project / "data" / "raw" / "sub").mkdir(parents=True)
    (project / "data" / "raw" / "a.csv").write_text("x,y\n1,2\n")
    (project / "data" / "raw" / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (work / "ELSEWHERE").mkdir()
    proc = _cli("freeze", "--no-cache", "--project", "P", "--data", "P/data/raw", "-o", "ELSEWHERE/frozen.json",
                cwd=work)
    assert proc.returncode == 0, proc.stderr
    frozen = json.loads((work / "ELSEWHERE" / "frozen.json").read_text())
    manifest = json.loads((work / "m.json").read_text())
    manifest["filesystem"] = frozen["filesystem"]
    add_to_manifest(manifest, frozen["data"], [])
    (work / "ELSEWHERE" / "m.json").write_text(json.dumps(manifest))
    assert manifest["data"]["sets"][0]["path"] == "data/raw"

    proc = _cli("generate", "docker", "-m", "ELSEWHERE/m.json", "-o", "kit", "--vendor", "--with-data", cwd=work)
    assert proc.returncode == 0, proc.stderr
    kit = work / "kit"
    assert sorted(str(p.relative_to(kit)) for p in (kit / "data").rglob("*") if p.is_file()) == \
        ["data/raw/a.csv", "data/raw/sub/b.bin"]
    assert (kit / "data" / "raw" / "sub" / "b.bin").read_bytes() == bytes(range(256))

    # found nowhere: one line naming where it looked
    (project / "data").rename(work / "moved-data")
    proc = _cli("generate", "docker", "-m", "ELSEWHERE/m.json", "-o", "kit2", "--vendor", "--with-data", cwd=work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        f"envcapture: --with-data: data set raw: {project.resolve()}/data/raw: no such file or directory (looked in "
        f"the project folder the manifest records, {project.resolve()})")
    assert not (work / "kit2").exists()

    # the manifest on a machine without the project folder: its data beside it, as before
    (work / "moved-data").rename(work / "ELSEWHERE" / "data")
    project.rename(work / "P-elsewhere")
    proc = _cli("generate", "docker", "-m", "ELSEWHERE/m.json", "-o", "kit3", "--vendor", "--with-data", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert (work / "kit3" / "data" / "raw" / "a.csv").read_text() == "x,y\n1,2\n"
