"""`envcapture generate`: turn a manifest into one reproduction folder, written atomically.

Order matters for safety: the manifest is validated (schema + grammar), every file is rendered in memory
(each renderer re-checks every value it writes), the overwrite rules are checked, and only then is anything
written. A hostile manifest therefore writes no file at all.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

from envcapture.errors import BadInput
from envcapture.render.common import render_template, with_header

ALL_TARGETS = ("docker", "binder", "packer", "vagrant", "apptainer", "devcontainer")
INDEX_NAME = ".envcapture-files"


def generate_command(args, before_write=None) -> int:
    """``before_write(files)``: called once the kit is rendered, before a file is written (`vendor --remove`)."""
    targets = resolve_targets(args.targets)
    manifest_path = Path(getattr(args, "only_used", None) or args.manifest)
    out = Path(args.output)
    import contextlib
    import tempfile

    vendor = getattr(args, "vendor", False)
    archive = getattr(args, "archive", None)
    with_data = getattr(args, "with_data", None)
    max_data = _max_data(args, with_data, vendor)
    if archive:
        from envcapture.render.kit_archive import check_target

        check_target(Path(archive), args.force)
    # Vendored files are staged on disk (wheels can be gigabytes), beside the kit so that copying is cheap.
    staged = tempfile.TemporaryDirectory(prefix=".envcapture-vendor-", dir=_staging_parent(out)) if vendor \
        else contextlib.nullcontext()
    with staged as staging:
        files = build_kit(
            manifest_path, targets,
            command=command_line(args, targets),
            base_image=args.base_image, ca_bundle=args.ca_bundle, hashes=args.hashes, apt_snapshot=args.apt_snapshot,
            base_os=getattr(args, "base_os", None), with_code=getattr(args, "with_code", False),
            base_has=getattr(args, "base_has", None), buildkit=getattr(args, "buildkit", False),
            system_packages=getattr(args, "system_packages", None),
            vendor_to=Path(staging) if vendor else None,
            only_used=bool(getattr(args, "only_used", None)),
            with_data=with_data, max_data=max_data, data_from_kit=getattr(args, "data_from_kit", None),
        )
        if before_write is not None:
            before_write(files)
        files = write_kit(out, files, force=args.force)
    print(f"envcapture: wrote {len(files)} files to {out}/ ({', '.join(targets)}); see {out}/REPRODUCE.md")
    if archive:
        from envcapture.render import kit_archive
        from envcapture.text import printable

        created = _capture_seconds(files)
        entries = kit_archive.write_archive(out, Path(archive), mtime=created)
        for line in kit_archive.summary(Path(archive), entries):
            print(f"envcapture: {printable(line)}")
    return 0


def _max_data(args, with_data, vendor) -> int:
    """--max-data in bytes; refused, before anything is done, where it has no meaning."""
    from envcapture.render.kit_data import DEFAULT_MAX, parse_size

    given = getattr(args, "max_data", None)
    if with_data is not None and not vendor:
        raise BadInput("--with-data copies the data sets into a vendored kit: add --vendor")
    if given is not None and with_data is None:
        raise BadInput("--max-data applies to the data sets --with-data copies: add --with-data")
    return parse_size(given if given is not None else DEFAULT_MAX)


def _capture_seconds(files) -> int:
    """The capture time as seconds: every archive entry's time, so the same kit gives the same archive."""
    import datetime
    import json

    created = json.loads(files["envcapture.json"])["created"]
    return int(datetime.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())


def _staging_parent(out: Path) -> str | None:
    parent = out.absolute().parent
    try:
        return str(parent) if parent.is_dir() and os.access(parent, os.W_OK) else None
    except OSError:
        return None


def resolve_targets(names) -> tuple[str, ...]:
    wanted = set(ALL_TARGETS) if "all" in names else set(names)
    return tuple(t for t in ALL_TARGETS if t in wanted)


def command_line(args, targets) -> str:
    """The command as a user would retype it (normalized, so the header does not depend on how it was spelled)."""
    # `envcapture vendor KIT` reads the manifest and CA bundle from the kit: the header keeps the words of the
    # command that made the kit, so that vendoring and unvendoring give the files that command gives.
    shown = getattr(args, "shown", None) or {}
    manifest, output = shown.get("manifest", args.manifest), shown.get("output", args.output)
    words = ["envcapture", "generate", *(["all"] if set(targets) == set(ALL_TARGETS) else targets),
             *(["--only-used", args.only_used] if getattr(args, "only_used", None) else ["-m", manifest]),
             "-o", output]
    for flag, value in (("--base-image", args.base_image), ("--base-os", getattr(args, "base_os", None)),
                        ("--ca-bundle", shown.get("ca_bundle", args.ca_bundle)),
                        ("--apt-snapshot", args.apt_snapshot)):
        if value:
            words += [flag, value]
    if getattr(args, "system_packages", None):
        words += ["--system-packages", *args.system_packages]
    if args.hashes:
        words.append("--hashes")
    for flag in ("with_code", "buildkit", "vendor"):
        if getattr(args, flag, False):
            words.append("--" + flag.replace("_", "-"))
    if getattr(args, "max_data", None) is not None:
        words += ["--max-data", args.max_data]
    if getattr(args, "with_data", None) is not None:  # last: its names run to the end of the line
        words += ["--with-data", *args.with_data]
    text = " ".join(shlex.quote(w) for w in words)
    from envcapture.manifest.grammar import check

    if not check("text", text):
        raise BadInput("the command line contains control characters; use plain paths")
    return text


def build_kit(manifest_path: Path, targets, command: str, base_image=None, ca_bundle=None, hashes=False,
              apt_snapshot=None, base_os=None, with_code=False, base_has=None,
              buildkit=False, system_packages=None, vendor_to: Path | None = None,
              only_used=False, with_data: list[str] | None = None, max_data: int = 0,
              data_from_kit: Path | None = None) -> dict[str, str | bytes]:
    """Every file of the kit, rendered in memory (relative path -> content)."""
    from envcapture.manifest import file as manifest_module
    from envcapture.render import (apptainer, binder, devcontainer, docker, packer, provision, reproduce_md,
                                   vagrant)
    from envcapture.render.plan import Options, make_plan

    from envcapture.manifest.gate import for_publication

    data = manifest_module.load(manifest_path)
    raw = manifest_module.read_text(manifest_path).encode("utf-8")  # a run record with its shared environment
    if only_used:  # the kit's manifest is the reduced one: check in the image compares against what it installs
        from envcapture.run.used import only_used as keep_used

        data = keep_used(data, str(manifest_path))
        raw = manifest_module.dumps(data).encode("utf-8")
    # the kit publishes the manifest (envcapture.json goes into the image): through the gate's redaction
    data, raw = for_publication(data, raw)
    options = Options(targets=tuple(targets), command=command, manifest_sha256=hashlib.sha256(raw).hexdigest(),
                      base_image=base_image, ca_bundle=_read_ca_bundle(ca_bundle), hashes=hashes,
                      apt_snapshot=apt_snapshot, base_os=base_os, with_code=with_code, base_has=base_has,
                      buildkit=buildkit, system_packages=tuple(system_packages) if system_packages else None)
    plan = make_plan(data, options)
    files: dict[str, str | bytes] = {"envcapture.json": raw}
    files.update(shared_files(plan))
    if with_code:
        from envcapture.render.project_code import project_files

        files.update(project_files(plan, manifest_path))
    renderers = {"docker": docker.render, "binder": binder.render, "packer": packer.render,
                 "vagrant": vagrant.render, "apptainer": apptainer.render, "devcontainer": devcontainer.render}
    for target in targets:
        files.update(renderers[target](plan))
    if {"packer", "vagrant"} & set(targets):
        files.update(provision.render(plan))
    if vendor_to is not None:
        from envcapture.render import vendor, vendor_conda

        vendoring = vendor_conda if vendor_conda.applies(plan, data) else vendor
        vendoring.refuse_unsupported(plan)
        if with_data is not None:  # before any download: a changed data file stops the kit at once
            from envcapture.render import kit_data

            plan.kit_data = kit_data.stage(data, manifest_path.parent, with_data, max_data, vendor_to, _say,
                                           data_from_kit)
            files.update(plan.kit_data.sidecars)
            for line in plan.kit_data.warnings():
                _say(f"warning: {line}")
        vendored, done = vendoring.kit_files(plan, data, vendor_to, say=_say, kit=files)
        files.update(vendored)
        for line in done.warnings():
            _say(f"warning: {line}")
    files["REPRODUCE.md"] = reproduce_md.render(plan, _listed(files))
    # The kit's own file list: lets a rerun recognise files that cannot carry a header (runtime.txt, ...).
    files[INDEX_NAME] = with_header(plan, "#", "".join(f"{rel}\n" for rel in sorted(files)))
    return files


def _say(line: str) -> None:
    import sys

    from envcapture.text import printable

    print(f"envcapture: {printable(line)}", file=sys.stderr, flush=True)


def _listed(files) -> list[str]:
    """The kit's files for REPRODUCE.md: a vendored folder as one entry, not one line per package."""
    shown = set()
    for rel in files:
        top = rel.split("/", 1)[0]
        shown.add(f"{top}/" if top in ("wheels", "debs", "data", "conda") else rel)
    return sorted(shown)


def _read_ca_bundle(path) -> bytes | None:
    if not path:
        return None
    from envcapture.manifest import reader

    try:
        data = reader.read_bytes(path, 16 << 20, "CA bundle")
    except BadInput as exc:
        raise BadInput(f"--ca-bundle {exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise BadInput(f"--ca-bundle {path}: no PEM certificate in this file")
    return data


def shared_files(plan) -> dict[str, str | bytes]:
    from envcapture.render.lock import hashed_body

    files: dict[str, str | bytes] = {}
    body = hashed_body(plan.lock, plan.python_version) if plan.options.hashes else plan.lock.body()
    if plan.options.hashes:
        body = "".join(line + "\n" for line in plan.lock.option_lines()) + body
    files["requirements.lock"] = with_header(plan, "#", body, cached=True)
    packages = "".join(f"{name}={version}\n" for name, version in plan.system_packages)
    files["system-packages.txt"] = with_header(plan, "#", packages)
    if plan.is_conda or plan.conda_explicit:
        files["conda-explicit.txt"] = with_header(plan, "#", "@EXPLICIT\n" + "".join(
            line + "\n" for line in plan.conda_explicit))
    snapshot = plan.snapshot_lines or ("docker" in plan.options.targets and plan.fallback_snapshot_lines)
    if snapshot:
        files["apt-snapshot.list"] = with_header(plan, "#", "".join(line + "\n" for line in snapshot), cached=True)
    if plan.options.ca_bundle is not None:
        files["ca-bundle.crt"] = plan.options.ca_bundle
    if not plan.project_in_kit:
        files["project/README.md"] = render_template("project-README.md.j2", plan)
    return files


# ---------------------------------------------------------------- writing


def write_kit(out: Path, files: dict[str, str | bytes], force: bool = False) -> dict[str, str | bytes]:
    """Write the kit; which files envcapture may replace is decided by content hash (render/kitfiles.py)."""
    from envcapture.render import kitfiles

    header = None
    if INDEX_NAME in files:
        index = files[INDEX_NAME]
        index = index.decode("utf-8") if isinstance(index, bytes) else index
        header = "".join(line + "\n" for line in index.splitlines() if line.startswith("#"))
    return kitfiles.write_kit(out, files, force=force, index_header=header)
