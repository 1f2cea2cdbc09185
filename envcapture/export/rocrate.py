"""An RO-Crate 1.1 (written with the `rocrate` package): the manifest, its HTML report and the Docker kit, with
the metadata research repositories (Zenodo, WorkflowHub) read."""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

from envcapture import __version__


def write(manifest: dict, manifest_path: Path, out: Path, as_zip: bool) -> None:
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    from envcapture.report.facts import build_report
    from envcapture.report.views import html

    with tempfile.TemporaryDirectory(prefix="envcapture-crate-") as scratch:
        work = Path(scratch)
        report = work / "report.html"
        report.write_text(html(build_report([manifest], [manifest_path.name])), encoding="utf-8")
        kit = work / "reproduce"
        status = _generate_docker_kit(manifest_path, kit)
        crate = ROCrate(version="1.1")  # the version Zenodo and WorkflowHub read
        root = crate.root_dataset
        root["name"] = f"Computational environment ({manifest_path.name})"
        root["description"] = ("The software environment of this work, recorded by envcapture: the manifest, a "
                               "readable report and a kit that rebuilds it.")
        root["datePublished"] = manifest["created"]
        root["license"] = "https://spdx.org/licenses/CC-BY-4.0"
        crate.add_file(manifest_path, dest_path="envcapture.json", properties={
            "name": "envcapture manifest", "encodingFormat": "application/json",
            "description": "Every package, the OS, hardware, GPU stack and code state (schema-validated JSON)."})
        crate.add_file(report, dest_path="report.html", properties={
            "name": "Computational environment report", "encodingFormat": "text/html"})
        if status == 0:
            crate.add_tree(kit, dest_path="reproduce", properties={
                "name": "Reproduction kit (Dockerfile)",
                "description": "envcapture generate docker: build it with `docker build reproduce`."})
        tool = crate.add(ContextEntity(crate, "https://pypi.org/project/envcapture/", properties={
            "@type": "SoftwareApplication", "name": "envcapture", "version": __version__}))
        crate.add_action(tool, identifier="#freeze", object=None, result=[crate.get("envcapture.json")],
                         properties={"name": "envcapture freeze", "endTime": manifest["created"]})
        if not as_zip:
            crate.write(str(out))
            return
        # rocrate's write_zip stores a tree's files twice (as the folder and as parts): zip the written folder.
        folder = work / "crate"
        crate.write(str(folder))
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())


def _generate_docker_kit(manifest_path: Path, kit: Path) -> int:
    """The Docker kit as `envcapture generate docker` writes it; a manifest no kit can be made of costs only the kit."""
    from types import SimpleNamespace

    from envcapture.errors import EnvcaptureError
    from envcapture.render import kit as kit_module
    from envcapture.text import printable

    args = SimpleNamespace(manifest=str(manifest_path), output=str(kit), base_image=None, ca_bundle=None,
                           apt_snapshot=None, hashes=False)
    try:
        command = kit_module.command_line(args, ("docker",))
        kit_module.write_kit(kit, kit_module.build_kit(manifest_path, ("docker",), command=command))
    except EnvcaptureError as exc:
        print(f"envcapture: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    return 0
