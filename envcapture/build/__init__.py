"""`envcapture build docker|packer|vagrant`: generate the kit when needed, build it with the real tool, and
for Docker and Packer run `check --image` on the result.

A builder never decides content: it runs a real tool on a kit that `generate` wrote. Exit codes: 0 built
and checked clean, 1 built but the image drifts from the manifest, 2 bad input, 3 the tool is missing or
failed (with its last lines).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

from envcapture.errors import BadInput

DEFAULT_REPOSITORY = "envcapture/reproduce"
KIT_MANIFEST = "envcapture.json"
_TIMEOUT_VARIABLE = "ENVCAPTURE_BUILD_TIMEOUT"


def build_command(args) -> int:
    kit = Path(args.output)
    manifest = resolve_manifest(Path(args.manifest), kit)
    if Path(args.manifest).is_file():
        generate_kit(args, args.tool)
    timeout = build_timeout()
    if args.tool == "docker":
        return _build_docker(kit, manifest, args.tag or default_tag(manifest), timeout,
                             offline=getattr(args, "vendor", False))
    if args.tool == "packer":
        return _build_packer(kit, manifest, args.tag, timeout, offline=getattr(args, "vendor", False))
    from envcapture.build import vagrant

    vagrant.build(kit, timeout=timeout)
    say(f"vagrant up finished for {kit}/Vagrantfile (check the VM with `vagrant ssh -c 'envcapture check'`)")
    return 0


def resolve_manifest(manifest: Path, kit: Path) -> Path:
    """The manifest to build from: the one given, else the copy inside an already generated kit."""
    from envcapture.manifest import reader

    if os.path.lexists(manifest):  # a FIFO, device, folder or dangling link given as -m: one line, not the kit's
        os.close(reader.open_regular(manifest))
        return manifest
    if (kit / KIT_MANIFEST).is_file():
        return kit / KIT_MANIFEST
    raise BadInput(f"{manifest}: no such manifest, and {kit}/ holds no generated kit (run `envcapture freeze` first)")


def generate_kit(args, tool: str) -> None:
    from envcapture.render.kit import generate_command

    base_os = getattr(args, "base_os", None)
    base_has = None
    if args.base_image and tool in ("docker", "packer"):
        from envcapture.build.docker import image_os, image_packages

        base_os = base_os or image_os(args.base_image)
        # What the base already has stays the base's: pinning it again breaks at the next point release.
        base_has = image_packages(args.base_image)
    options = argparse.Namespace(targets=[tool], manifest=args.manifest, output=args.output,
                                 base_image=args.base_image, base_os=base_os, base_has=base_has,
                                 ca_bundle=getattr(args, "ca_bundle", None), hashes=False,
                                 apt_snapshot=getattr(args, "apt_snapshot", None),
                                 with_code=getattr(args, "with_code", False), force=getattr(args, "force", False),
                                 system_packages=getattr(args, "system_packages", None),
                                 vendor=getattr(args, "vendor", False),
                                 with_data=getattr(args, "with_data", None), max_data=getattr(args, "max_data", None))
    generate_command(options)


def default_tag(manifest: Path, suffix: str = "") -> str:
    """envcapture/reproduce:<first 12 hex of the manifest's sha256>: the same manifest gives the same tag."""
    from envcapture.manifest import reader

    digest = hashlib.sha256(reader.read_bytes(manifest)).hexdigest()[:12]
    return f"{DEFAULT_REPOSITORY}:{digest}{suffix}"


def build_timeout() -> float:
    raw = os.environ.get(_TIMEOUT_VARIABLE, "3600")
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) == 0:
        raise BadInput(f"{_TIMEOUT_VARIABLE}={raw!r}: expected a whole number of seconds")
    return float(raw)


def say(line: str) -> None:
    print(f"envcapture: {line}", file=sys.stderr, flush=True)


def _build_docker(kit: Path, manifest: Path, tag: str, timeout: float, offline: bool = False) -> int:
    from envcapture.build import docker

    if offline:
        from envcapture.render.vendor import verify_kit

        say(f"verified {verify_kit(kit)} vendored file(s) against {kit}/.envcapture-files; building with no network")
    client = docker.connect()
    built = docker.build_image(kit, tag, client=client, timeout=int(timeout), snapshot_date=capture_date(manifest),
                               network_mode="none" if offline else None)
    say(f"built {built.tag} ({built.image_id[:19]}) in {built.seconds:.1f} s; checking it against {manifest}")
    for line in docker.size_report(client, built.tag):
        say(line)
    return check_image(manifest, built.tag)


def capture_date(manifest: Path) -> str | None:
    """YYYY-MM-DD of the manifest's capture: the snapshot date that has every recorded apt version."""
    from envcapture.manifest import reader

    try:
        created = reader.read_json(manifest).get("created")
    except (BadInput, AttributeError):
        return None
    return created[:10] if isinstance(created, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", created[:10]) \
        else None


def _build_packer(kit: Path, manifest: Path, tag: str | None, timeout: float, offline: bool = False) -> int:
    from envcapture.build import docker, packer
    from envcapture.build.tool import find_tool

    if offline:  # the kit's template runs the docker source with --network=none
        from envcapture.render.vendor import verify_kit

        say(f"verified {verify_kit(kit)} vendored file(s) against {kit}/.envcapture-files; building with no network")
    find_tool("packer")
    client = docker.connect()  # the docker source needs an engine; say so before Packer starts
    result = packer.build(kit, timeout=timeout)
    tag = tag or default_tag(manifest, "-packer")
    docker.tag_image(client, result.artifact, tag)
    say(f"packer built docker.{result.source} as {tag}; checking it against {manifest}")
    return check_image(manifest, tag)


def check_image(manifest: Path, image: str) -> int:
    from envcapture.compare import check_command

    return check_command(argparse.Namespace(manifest=str(manifest), python=None, image=image, format="text",
                                            strict=False, data=[], no_cache=False))
