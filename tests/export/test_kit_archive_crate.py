"""`export --format ro-crate --kit-archive KIT.tar.gz`: the archive `generate --vendor --with-data --archive` wrote
(a real vendored kit: wheels from the loopback index of tests/render/test_vendor.py, a data set) carried in the
crate as a File with its sha256 and contentSize; roc-validator passes the crate; an archive of another manifest, a
link, a file that is no kit archive and the option outside ro-crate are each refused in one line."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile

from envcapture.cli import main
from tests.render.test_kit_data import _record_data
from tests.render.test_vendor import served  # noqa: F401  (the loopback package index fixture)


def _kit_archive(work) -> None:
    _record_data(work)
    assert main(["generate", "docker", "-m", "m.json", "-o", "kit", "--vendor", "--with-data", "--archive",
                 "kit.tar.gz"]) == 0


def test_the_crate_carries_the_kit_archive_with_its_sha256_and_size(served, monkeypatch, capsys):  # noqa: F811
    from .roc import validate

    work, _ = served
    _kit_archive(work)
    archive = (work / "kit.tar.gz").read_bytes()
    assert main(["export", "m.json", "--format", "ro-crate", "-o", "crate.zip", "--kit-archive", "kit.tar.gz"]) == 0
    passed, issues = validate(work / "crate.zip", monkeypatch)
    assert passed, issues
    with zipfile.ZipFile(work / "crate.zip") as crate:
        assert crate.read("kit.tar.gz") == archive
        assert crate.getinfo("kit.tar.gz").compress_type == zipfile.ZIP_STORED
        meta = json.loads(crate.read("ro-crate-metadata.json"))
    graph = {e["@id"]: e for e in meta["@graph"]}
    entity = graph["kit.tar.gz"]
    assert entity["@type"] == "File" and entity["encodingFormat"] == "application/gzip"
    assert entity["sha256"] == hashlib.sha256(archive).hexdigest() and entity["contentSize"] == str(len(archive))
    assert "docker build --network none kit" in entity["description"]
    assert {"@id": "kit.tar.gz"} in graph["./"]["hasPart"]
    assert main(["export", "m.json", "--format", "ro-crate", "-o", "crate", "--kit-archive", "kit.tar.gz"]) == 0
    assert (work / "crate" / "kit.tar.gz").read_bytes() == archive


def test_what_is_not_this_manifests_kit_archive_is_refused_in_one_line(served, capsys):  # noqa: F811
    work, _ = served
    _kit_archive(work)
    capsys.readouterr()

    def refused(*extra, manifest="m.json", fmt="ro-crate", out="crate.zip"):
        assert main(["export", manifest, "--format", fmt, "-o", out, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert not (work / out).exists()
        return err

    other = json.loads((work / "m.json").read_text())
    other["created"] = "2020-01-01T00:00:00Z"
    (work / "other.json").write_text(json.dumps(other))
    assert "its kit was made from another manifest" in refused("--kit-archive", "kit.tar.gz", manifest="other.json")
    (work / "link.tar.gz").symlink_to(work / "kit.tar.gz")
    assert "link.tar.gz" in refused("--kit-archive", "link.tar.gz")
    (work / "fake.tar.gz").write_bytes(b"not gzip at all")
    assert "not a gzip'd tar archive" in refused("--kit-archive", "fake.tar.gz")
    assert "name the .tar.gz" in refused("--kit-archive", "m.json")
    assert "only an RO-Crate carries" in refused("--kit-archive", "kit.tar.gz", fmt="cyclonedx", out="sbom.json")
    # the same archive less its index (.envcapture-files): a folder holding this manifest is not yet a kit
    with tarfile.open(work / "kit.tar.gz", "r:gz") as source, tarfile.open(work / "noindex.tar.gz", "w:gz") as out:
        kept = [m for m in source.getmembers() if not m.name.endswith("/.envcapture-files")]
        assert len(kept) == len(source.getmembers()) - 1
        for member in kept:
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
    assert "not a kit archive envcapture wrote" in refused("--kit-archive", "noindex.tar.gz")
