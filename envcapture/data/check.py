"""`check`'s data part: fingerprint each recorded data set again and name every file that differs.

A data set is found where the manifest says (a relative path against the project folder the manifest records,
or the manifest's folder when that is not on this machine: ``specs.data_places``) or where
``check --data NAME=PATH`` maps it. Equal root hashes mean equal data; otherwise the recorded per-file
records (inline, or the sidecar next to the manifest) say which files changed, went missing, are new,
were renamed or cannot be read, each with its old and new size. Without them, only the root hash can be
compared, and the report says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from envcapture.errors import BadInput

MAX_LISTED = 200


@dataclass
class Difference:
    kind: str  # changed, missing, new, renamed, unreadable, link, writable, root-hash, not-found, not-checked,
    #              differs (files not named), kind, dvc-lock, dvc-file, dvc-output
    path: str | None = None
    old_size: int | None = None
    new_size: int | None = None
    detail: str | None = None


@dataclass
class SetReport:
    name: str
    recorded_path: str
    checked_path: str
    role: str
    mapped: bool = False  # checked where --data NAME=PATH said, not where the manifest says
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file_count: int | None = None
    total_bytes: int | None = None
    title: str | None = None  # how the text report names it (default: data set NAME)

    @property
    def ok(self) -> bool:
        return not self.differences


def parse_mapping(items: list[str], recorded: list[dict]) -> dict[str, str]:
    """``NAME=PATH`` options of check, each naming a recorded data set."""
    names = {s["name"] for s in recorded}
    mapping = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise BadInput(f"--data {item}: expected NAME=PATH (a recorded data set and where it is here)")
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise BadInput(f"--data {item}: the manifest records no data set {name!r} (recorded: {known})")
        mapping[name] = path
    return mapping


def refuse_duplicate_names(sets: list[dict], manifest_path) -> None:
    seen = set()
    for record in sets:
        if record["name"] in seen:
            raise BadInput(f"{manifest_path}: records data set {record['name']!r} twice; names are unique")
        seen.add(record["name"])


def trusted_roots(manifest_dir: Path) -> list[str]:
    """Where recorded data sets are checked without being mapped: the manifest's folder and the current folder,
    unless either is /, a home folder or a system folder (a stranger's manifest saved in ~ must not get ~/.ssh
    fingerprinted and listed)."""
    from envcapture.data.protect import refusal

    roots = []
    for folder in (manifest_dir, Path.cwd()):
        real = os.path.realpath(folder)
        if refusal(real, mounts=set()) is None and real not in roots:
            roots.append(real)
    return roots


def outside(where: Path, roots: list[str]) -> bool:
    """True when ``where`` (links resolved: a link in a stranger's project may point at ~/.ssh) is in none of
    ``roots``."""
    real = os.path.realpath(where)
    return not any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)


def run(manifest: dict, manifest_path: Path, items: list[str], no_cache: bool = False) -> list[SetReport]:
    """What `check` runs: every recorded data set, with ``--data NAME=PATH`` mappings applied."""
    sets = (manifest.get("data") or {}).get("sets", [])
    dvc = (manifest.get("data") or {}).get("dvc")
    if not sets and not dvc:
        raise BadInput(f"{manifest_path}: records no data sets (record them with envcapture freeze --data PATH)")
    refuse_duplicate_names(sets, manifest_path)
    mapping = parse_mapping(items, sets)
    from envcapture.data.progress import data_progress
    from envcapture.data.specs import data_places

    places = data_places(manifest, Path(manifest_path).parent)
    with data_progress() as progress:
        reports = verify(manifest, places, mapping, not no_cache, progress)
    if dvc:
        reports.append(verify_dvc(dvc, places))
    return reports


def verify_dvc(recorded: dict, places) -> SetReport:
    """DVC's own files against the recorded ones: a changed dvc.lock or .dvc file, and the outputs whose
    md5 or size DVC now records differently (DVC's hashes are compared, nothing is hashed again). DVC's
    files are the project's: read in ``places.base``, when that is a trusted root (as a data set is)."""
    from envcapture.data import dvc as dvc_probe

    project = places.base
    report = SetReport("dvc", "dvc.lock", str(project), "dvc", title="DVC-tracked outputs (dvc.lock, *.dvc)")
    trust = how_far_trusted(project, places)
    if trust is None:
        report.differences.append(Difference("not-checked", detail=f"{project} is outside the manifest's folder and "
                                             "the current folder: not checked (run check in the project folder)"))
        return report
    compare_dvc(recorded, dvc_probe.collect(project), report)
    if trust == VERDICT:
        withhold_names(report, places, "run check in the project folder to have each named")
    if places.apart:
        report.notes.insert(0, f"read in the project folder the manifest records, {project} (not beside the "
                               "manifest)")
    return report


def compare_dvc(recorded: dict, facts, report: SetReport) -> None:
    from envcapture.probes import to_data

    report.notes.extend(facts.warnings)
    old_files = {f["path"]: f["sha256"] for f in ([recorded["lock"]] if recorded.get("lock") else [])
                 + recorded.get("files", [])}
    new_files = {f.path: f.sha256 for f in ([facts.lock] if facts.lock else []) + facts.files}
    for path in sorted(old_files.keys() | new_files.keys()):
        before, after = old_files.get(path), new_files.get(path)
        if before != after:
            what = "is gone" if after is None else ("is new" if before is None else "changed since the manifest "
                                                                                 "was written")
            report.differences.append(Difference("dvc-lock" if path == "dvc.lock" else "dvc-file", path,
                                                 detail=f"{path} {what}"))
    old_outs = {(o["source"], o["path"]): o for o in recorded.get("outputs", [])}
    new_outs = {(o["source"], o["path"]): o for o in to_data(facts.outputs)}
    for key in sorted(old_outs.keys() | new_outs.keys()):
        before, after = old_outs.get(key), new_outs.get(key)
        if before is None or after is None or (before["md5"], before["size"]) != (after["md5"], after["size"]):
            show = lambda o: "absent" if o is None else f"md5 {o['md5']}"  # noqa: E731
            report.differences.append(Difference(
                "dvc-output", key[1], before and before["size"], after and after["size"],
                f"{show(before)} -> {show(after)} (in {key[0]})"))
    report.file_count, report.total_bytes = len(facts.outputs), sum(o.size or 0 for o in facts.outputs)


def verify(manifest: dict, places, mapping: dict[str, str] | None = None, use_cache: bool = True,
           progress=None) -> list[SetReport]:
    """Every recorded data set of ``manifest`` where ``places`` (specs.DataPlaces, or the manifest's folder to
    compute them from) or ``mapping`` says."""
    from envcapture.data.cache import FingerprintCache
    from envcapture.data.specs import DataPlaces, data_places

    if not isinstance(places, DataPlaces):
        places = data_places(manifest, places)
    mapping = mapping or {}
    sets = (manifest.get("data") or {}).get("sets", [])
    warnings: list[str] = []
    cache = FingerprintCache.open(warn=warnings.append) if use_cache and sets else None
    try:
        reports = [verify_set(record, places, mapping.get(record["name"]), cache,
                              progress(record["name"]) if progress else None) for record in sets]
    finally:
        if cache is not None:
            cache.close(warnings.append)
    if reports and warnings:
        reports[0].notes.extend(warnings)
    return reports


def verify_set(record: dict, places, mapped: str | None, cache, on_progress=None) -> SetReport:
    from envcapture.data import fingerprint as data_probe
    from envcapture.data.specs import is_relative

    where = Path(mapped) if mapped else places.resolve(record["path"])
    report = SetReport(record["name"], record["path"], str(where), record["role"], mapped=bool(mapped))
    trust = FULL if mapped else how_far_trusted(where, places)
    if trust is None:
        stand = "run check in the project folder, or " if is_relative(record["path"]) else ""
        report.differences.append(Difference(
            "not-checked", detail=f"recorded at {record['path']} ({where}), outside the manifest's folder and the "
                                  f"current folder: not checked ({stand}map it with --data {record['name']}=PATH)"))
        return report
    try:
        facts = data_probe.fingerprint(where, record["algorithm"], tuple(record.get("excludes", ())), cache,
                                       os.path.expanduser("~"), on_progress)
    except data_probe.DataSetError as exc:
        looked = "" if mapped else places.looked(record["path"])
        hint = "" if mapped else f" ({looked + '; ' if looked else ''}map it to your copy with --data " \
                                 f"{record['name']}=PATH)"
        report.differences.append(Difference("not-found", detail=f"{exc}{hint}"))
        return report
    compare_set(record, facts, places.manifest_dir, report)
    if trust == VERDICT:
        withhold_names(report, places, f"run check in the project folder, or map it with --data "
                                       f"{record['name']}=PATH, to have each named")
    if not mapped and places.apart and is_relative(record["path"]):
        report.notes.insert(0, f"found in the project folder the manifest records, {places.base} (not beside "
                               "the manifest)")
    return report


# How far check goes where a recorded path leads: everything (in the manifest's folder or the current folder, or
# mapped), or only the verdict (in the project folder the manifest records, which a stranger's manifest can name).
FULL, VERDICT = "full", "verdict"


def how_far_trusted(where: Path, places) -> str | None:
    """FULL inside the manifest's folder or the current folder; VERDICT inside the project folder the manifest
    records (when it is here and is not /, a home or a system folder): a stranger's manifest may name ~/.ssh as its
    project, so there check says whether the data match the record, never which files it found; else None."""
    if not outside(where, trusted_roots(places.manifest_dir)):
        return FULL
    if places.project_found:
        from envcapture.data.protect import refusal

        project = os.path.realpath(places.base)
        if refusal(project, mounts=set()) is None and not outside(where, [project]):
            return VERDICT
    return None


def withhold_names(report: SetReport, places, remedy: str) -> None:
    """Only the verdict: no file name, size or note from a folder the manifest (not the user) chose."""
    report.notes = []
    if not report.differences:
        return
    count = len(report.differences)
    report.differences = [Difference(
        "differs", detail=f"{count} difference{'s' if count != 1 else ''} from the record, found in the project folder "
                          f"the manifest records ({places.base}), outside the manifest's folder and the current folder: "
                          f"files not named ({remedy})")]
    report.file_count = report.total_bytes = None


def compare_set(record: dict, facts, manifest_dir: Path, report: SetReport) -> None:
    """The live fingerprint ``facts`` against the record: every difference into ``report``."""
    from envcapture.data.specs import recorded_files

    report.file_count, report.total_bytes = facts.file_count, facts.total_bytes
    report.notes.extend(facts.warnings)
    if facts.kind != record["kind"]:
        report.differences.append(Difference("kind", detail=f"recorded a {record['kind']}, found a {facts.kind}"))
        return
    if record["role"] == "raw" and record.get("read_only") and not facts.read_only:
        shown = ", ".join(facts.writable)
        report.differences.append(Difference("writable", detail=f"raw data is writable again ({shown}); "
                                                                 "run `envcapture protect` on it"))
    if facts.root_hash == record["root_hash"]:
        if record.get("files") is None:
            files, why = recorded_files(record, manifest_dir)
            if files is None:
                report.notes.append(f"only the root hash could be compared ({why}); it matches")
        return
    files, why = recorded_files(record, manifest_dir)
    if files is None:
        report.differences.append(Difference(
            "root-hash", detail=f"root hash {record['root_hash'][:16]}... is now {facts.root_hash[:16]}...; "
                                f"only the root hash could be compared: {why}"))
        return
    report.differences.extend(file_differences(files, facts.files))


def file_differences(recorded, live) -> list[Difference]:
    old = {r.path: r for r in recorded}
    new = {r.path: r for r in live}
    found, missing, added = [], [], []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if after is None:
            missing.append(before)
        elif before is None:
            added.append(after)
        elif before.line() != after.line():
            found.append(_changed(before, after))
    found.extend(_renames_and_the_rest(missing, added))
    found.sort(key=lambda d: d.path or "")
    return found


def _changed(before, after) -> Difference:
    if after.error is not None and before.error is None:
        return Difference("unreadable", before.path, before.size, after.size, after.error)
    if before.link is not None or after.link is not None:
        show = lambda r: f"link to {r.link}" if r.link is not None else f"file of {r.size} bytes"  # noqa: E731
        return Difference("link", before.path, before.size, after.size, f"{show(before)} -> {show(after)}")
    return Difference("changed", before.path, before.size, after.size)


def _renames_and_the_rest(missing, added) -> list[Difference]:
    """A missing file whose content reappears under a new name is a rename, not a loss and a gain."""
    by_content = {}
    for record in added:
        if record.hash is not None:
            by_content.setdefault((record.size, record.hash), []).append(record)
    found, renamed_to = [], set()
    for record in missing:
        twins = by_content.get((record.size, record.hash)) if record.hash is not None else None
        if twins:
            target = twins.pop(0)
            renamed_to.add(target.path)
            found.append(Difference("renamed", record.path, record.size, target.size, f"now {target.path}"))
        else:
            found.append(Difference("missing", record.path, record.size, None))
    found.extend(Difference("new", r.path, None, r.size) for r in added if r.path not in renamed_to)
    return found


# ------------------------------------------------------------------------------------------- output

def _size(value) -> str:
    return "-" if value is None else f"{value} bytes"


def describe(difference: Difference) -> str:
    d = difference
    if d.path is None:
        return f"  {d.kind}: {d.detail}"
    sizes = {
        "changed": f"{_size(d.old_size)} -> {_size(d.new_size)}",
        "missing": f"was {_size(d.old_size)}, now missing",
        "new": f"not recorded, now {_size(d.new_size)}",
        "renamed": f"{_size(d.old_size)}, {d.detail}",
        "unreadable": f"{_size(d.old_size)} -> {_size(d.new_size)}, cannot be read now ({d.detail})",
        "link": d.detail,
        "dvc-output": f"{_size(d.old_size)} -> {_size(d.new_size)}, {d.detail}",
        "dvc-lock": d.detail,
        "dvc-file": d.detail,
    }.get(d.kind, d.detail or "")
    return f"  {d.kind:<10} {d.path}: {sizes}"


def text_report(reports: list[SetReport]) -> str:
    lines = []
    for report in reports:
        where = f"{report.recorded_path}, checked at {report.checked_path}" if report.mapped \
            else report.recorded_path
        title = report.title or f"data set {report.name} ({where})"
        if report.ok:
            lines.append(f"{title}: unchanged ({report.file_count} {'outputs' if report.title else 'files'}, "
                         f"{report.total_bytes} bytes)")
        else:
            count = len(report.differences)
            lines.append(f"{title}: {count} difference{'s' if count != 1 else ''}")
            lines.extend(describe(d) for d in report.differences[:MAX_LISTED])
            if count > MAX_LISTED:
                lines.append(f"  ... and {count - MAX_LISTED} more (--format json lists them all)")
        lines.extend(f"  note: {note}" for note in report.notes[:20])
    from envcapture.text import printable

    return "\n".join(printable(line) for line in lines) + ("\n" if lines else "")


def json_report(reports: list[SetReport]) -> list[dict]:
    return [{**{k: v for k, v in asdict(r).items()}, "ok": r.ok} for r in reports]


def dumps(reports: list[SetReport]) -> str:
    return json.dumps(json_report(reports), indent=2)
