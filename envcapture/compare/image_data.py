"""`check --image` and the data sets a kit carries (`generate --vendor --with-data`): each is read out of the
image at /data/NAME (`docker cp`'s archive, never a shell in the image) into a scratch folder and fingerprinted
again by data/check.py, exactly as `check` does a folder on this machine; a set the image does not hold (one
referenced, over --max-data) is checked where the manifest or ``--data NAME=PATH`` says, as before.

The image is untrusted input like a manifest: only folders and regular files are taken from its archive, into a
fresh folder, each created without following links and never over an existing name; the archive may hold at most
twice the recorded size (plus 64 MiB) before the check stops.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

from envcapture.errors import BadInput, ToolFailed

IMAGE_DATA = "/data"  # where render/kit_data.py puts them (compare sits below render: the path is repeated)
_SLACK = 64 << 20


def run(manifest: dict, manifest_path: Path, items: list[str], no_cache: bool, image: str) -> list:
    from envcapture.data import check as data_check

    data = manifest.get("data") or {}
    sets, dvc = data.get("sets", []), data.get("dvc")
    if not sets and not dvc:
        raise BadInput(f"{manifest_path}: records no data sets (record them with envcapture freeze --data PATH)")
    data_check.refuse_duplicate_names(sets, manifest_path)
    mapping = data_check.parse_mapping(items, sets)
    from envcapture.data.specs import data_places

    places = data_places(manifest, Path(manifest_path).parent)
    reports, elsewhere = {}, []
    if any(record["name"] not in mapping for record in sets):
        with _stopped_container(image) as container, \
                tempfile.TemporaryDirectory(prefix="envcapture-image-data-") as scratch:
            try:
                for record in sets:
                    if record["name"] in mapping:
                        elsewhere.append(record)
                        continue
                    report = _verify_in_image(container, image, record, places, Path(scratch))
                    if report is None:
                        elsewhere.append(record)
                    else:
                        reports[record["name"]] = report
            finally:
                _make_removable(Path(scratch))
    else:
        elsewhere = list(sets)
    if elsewhere:
        for report in data_check.verify({"data": {"sets": elsewhere}}, places, mapping, not no_cache):
            if not report.mapped:
                report.notes.append(f"not in the image {image} (no {IMAGE_DATA}/{report.name}): checked here")
            reports[report.name] = report
    ordered = [reports[record["name"]] for record in sets]
    if dvc:
        ordered.append(data_check.verify_dvc(dvc, places))
    return ordered


class _stopped_container:
    """A container of the image, created and never started: its files are read through the engine's archive."""

    def __init__(self, image: str):
        self.image = image
        self.container = None

    def __enter__(self):
        from docker.errors import APIError, ImageNotFound

        from envcapture.compare.image import docker_client

        client = docker_client()
        try:
            self.container = client.containers.create(self.image, entrypoint=["/nonexistent"],
                                                      network_disabled=True)
        except ImageNotFound:
            raise BadInput(f"image {self.image} is not available to the Docker engine (build or pull it first)") \
                from None
        except APIError as exc:
            raise ToolFailed(f"docker: {str(exc.explanation or exc).splitlines()[0][:300]}") from None
        return self.container

    def __exit__(self, *exc_info):
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - the engine went away: nothing left to clean here
            pass


def _verify_in_image(container, image: str, record: dict, places, scratch: Path):
    """The set's report, checked in the image; None when the image does not hold it."""
    from envcapture.data import check as data_check

    name = record["name"]
    into = scratch / name
    into.mkdir()
    limit = 2 * int(record.get("total_bytes") or 0) + _SLACK
    not_files = _export(container, image, f"{IMAGE_DATA}/{name}", into, limit)
    if not_files is None:
        return None
    carried, links = carried_record(record, places.manifest_dir)
    where = into / name
    if record["kind"] == "file" and carried.get("files"):
        where = where / carried["files"][0]["path"]
    report = data_check.verify_set(carried, places, str(where), None)
    report.checked_path = f"{image}:{IMAGE_DATA}/{name}"
    for path in not_files:
        report.differences.append(data_check.Difference(
            "kind", path, detail="in the image, not a regular file or folder (a kit carries neither links nor "
                                 "special files): not read"))
    if links:
        report.notes.append(f"{len(links)} symbolic link(s) recorded in the set are not in the image (a kit "
                            "carries no links): " + ", ".join(links[:10]))
    return report


def carried_record(record: dict, manifest_dir: Path) -> tuple[dict, list[str]]:
    """The set as a kit carries it: its recorded links left out (and the root hash of what is left)."""
    from envcapture.data.fingerprint import root_hash
    from envcapture.data.specs import recorded_files

    files, _ = recorded_files(record, manifest_dir)
    if files is None or not any(f.link is not None for f in files):
        return record, []
    kept = [f for f in files if f.link is None]
    return ({**record, "files": [f.to_json() for f in kept], "sidecar": None, "file_count": len(kept),
             "root_hash": root_hash(kept, record["algorithm"])}, [f.path for f in files if f.link is not None])


def _export(container, image: str, path: str, into: Path, limit: int) -> list[str] | None:
    """``path`` of the image as folders and regular files under ``into``; the names of other entries. None when
    the image has no ``path``."""
    from docker.errors import APIError, NotFound

    try:
        stream, _ = container.get_archive(path)
    except NotFound:
        return None
    except APIError as exc:
        raise ToolFailed(f"docker: reading {path} from {image}: {str(exc.explanation or exc)[:300]}") from None
    not_files, folders, total = [], [], 0
    try:
        with tarfile.open(fileobj=_Chunks(stream), mode="r|") as archive:
            for member in archive:
                parts = member.name.split("/")
                if member.name.startswith("/") or any(p in ("", ".", "..") for p in parts):
                    raise BadInput(f"image {image}: {path} holds the entry {member.name[:200]!r}, which is not a "
                                   "plain relative path; not read")
                target = into.joinpath(*parts)
                if member.isdir():
                    os.mkdir(target, 0o700)
                    folders.append((target, member.mode))
                elif member.isfile():
                    total += member.size
                    if total > limit:
                        raise BadInput(f"image {image}: {path} holds more than {limit} bytes, over twice what the "
                                       "manifest records; not read further")
                    _write(archive.extractfile(member), target, member.mode)
                else:
                    not_files.append("/".join(parts[1:]) or parts[0])
    except (tarfile.TarError, OSError) as exc:
        raise ToolFailed(f"image {image}: {path} could not be read out of the image ({exc})") from None
    for folder, mode in reversed(folders):
        os.chmod(folder, stat.S_IMODE(mode) | stat.S_IRUSR | stat.S_IXUSR)
    return not_files


def _write(source, target: Path, mode: int) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
        os.fchmod(out.fileno(), stat.S_IMODE(mode) | stat.S_IRUSR)


def _make_removable(scratch: Path) -> None:
    """Folders read-only as in the image cannot be emptied by a user who is not root: writable again first."""
    for folder, _, _ in os.walk(scratch):
        try:
            os.chmod(folder, 0o700)
        except OSError:
            pass


class _Chunks:
    """A file object over the engine's stream of chunks (tarfile's streaming mode reads it once, in order, a
    record at a time): each read copies only what it returns, never the rest of a chunk."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)
        self.chunk = b""
        self.position = 0

    def read(self, size=-1):
        parts = []
        while size < 0 or size > 0:
            if self.position >= len(self.chunk):
                self.chunk, self.position = next(self.chunks, b""), 0
                if not self.chunk:
                    break
            end = len(self.chunk) if size < 0 else min(len(self.chunk), self.position + size)
            parts.append(self.chunk[self.position:end])
            if size > 0:
                size -= end - self.position
            self.position = end
        return b"".join(parts)
