"""`check --image`: run the stdlib-only probe inside an image and turn its report into manifest sections."""

from __future__ import annotations

import json
from pathlib import Path

from envcapture.errors import BadInput, ToolFailed

NOT_REPRODUCED = "/etc/envcapture/not-reproduced.json"
IMAGE_FILES = (NOT_REPRODUCED, "/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status", "/var/lib/apt/extended_states",
               "/etc/apt/sources.list", "/lib/apk/db/installed", "/etc/alpine-release", "/etc/debian_version")
IMAGE_TIMEOUT = 120

# Runs inside the image with its own python: the target probe plus the few files the system probes read.
_IMAGE_SCRIPT = """\
import base64, json, os, sys, zlib
ns = {"__name__": "envcapture_target"}
exec(compile(zlib.decompress(base64.b64decode(%(probe)r)).decode("utf-8"), "target.py", "exec"), ns)
files = {}
for path in %(files)r:
    try:
        with open(path, "rb") as handle:
            files[path] = handle.read(64 << 20).decode("utf-8", "replace")
    except (OSError, IOError):
        pass
if os.path.isdir("/etc/apt/sources.list.d"):
    for name in sorted(os.listdir("/etc/apt/sources.list.d")):
        path = os.path.join("/etc/apt/sources.list.d", name)
        try:
            with open(path, "rb") as handle:
                files[path] = handle.read(1 << 20).decode("utf-8", "replace")
        except (OSError, IOError):
            pass
# A conda environment's records, without their per-file lists (most of their bytes); condabin marks a base env.
meta = os.path.join(sys.prefix, "conda-meta")
if os.path.isdir(meta):
    if os.path.isdir(os.path.join(sys.prefix, "condabin")):
        files[os.path.join(sys.prefix, "condabin", ".envcapture-base")] = ""
    for name in sorted(os.listdir(meta)):
        path = os.path.join(meta, name)
        try:
            with open(path, "rb") as handle:
                data = handle.read(64 << 20)
            if name.endswith(".json"):
                record = json.loads(data.decode("utf-8"))
                for key in ("files", "paths_data"):
                    record.pop(key, None)
                files[path] = json.dumps(record)
            elif name == "history":
                files[path] = data.decode("utf-8", "replace")
        except (OSError, IOError, ValueError, AttributeError):
            pass
sys.stdout.write(json.dumps({"target": ns["collect"](False), "files": files}))
"""


def image_script() -> str:
    import base64
    import zlib

    from envcapture.probes import interpreter

    source = interpreter.TARGET_SCRIPT.read_bytes()
    probe = base64.b64encode(zlib.compress(source, 9)).decode("ascii")
    return _IMAGE_SCRIPT % {"probe": probe, "files": IMAGE_FILES}


def docker_client():
    """A reachable engine, or one clear line saying there is none."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise ToolFailed("the docker Python SDK is not installed (pip install docker)") from None
    try:
        client = docker.from_env(timeout=IMAGE_TIMEOUT)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ToolFailed(f"no Docker engine reachable: start dockerd or set DOCKER_HOST ({reason})") from None
    except Exception as exc:  # requests' connection errors when the socket exists but nobody answers
        raise ToolFailed(f"no Docker engine reachable: start dockerd or set DOCKER_HOST ({type(exc).__name__})") \
            from None
    return client


def run_in_image(image: str, python: str) -> dict:
    """Run the stdlib-only probe inside ``image`` with its own ``python``; return its report."""
    from docker.errors import APIError, ImageNotFound

    client = docker_client()
    try:
        client.images.get(image)
    except ImageNotFound:
        raise BadInput(f"image {image} is not available to the Docker engine (build or pull it first)") from None
    except APIError as exc:
        raise ToolFailed(f"docker: {exc.explanation or exc}") from None
    container = None
    try:
        container = client.containers.create(image, entrypoint=[python], command=["-c", image_script()],
                                             network_disabled=True, user="0", working_dir="/")
        container.start()
        status = container.wait(timeout=IMAGE_TIMEOUT)
        stdout = container.logs(stdout=True, stderr=False)
        stderr = container.logs(stdout=False, stderr=True)
    except APIError as exc:
        text = str(exc.explanation or exc)
        if "executable file not found" in text or "no such file or directory" in text:
            raise BadInput(f"image {image} has no {python} (pass --python PATH of the interpreter inside the "
                           "image)") from None
        raise ToolFailed(f"docker: {text.splitlines()[0][:300]}") from None
    except Exception as exc:  # the engine went away, or the wait timed out
        raise ToolFailed(f"docker: running the probe in {image} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:
                pass
    from envcapture.probes.interpreter import parse_probe_output

    code = status.get("StatusCode", 1) if isinstance(status, dict) else 1
    if code == 127:
        raise BadInput(f"image {image} has no {python} (pass --python PATH of the interpreter inside the image)")
    if code:
        parse_probe_output(code, stdout, stderr, f"{python} in {image}")  # raises with the probe's last line
    try:
        report = json.loads(stdout.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ToolFailed(f"{python} in {image}: the inspection probe printed something that is not JSON") from None
    if not isinstance(report, dict) or not isinstance(report.get("target"), dict) \
            or report["target"].get("probe_version") != 1:
        raise ToolFailed(f"{python} in {image}: unexpected answer from the inspection probe")
    from envcapture.probes.interpreter import check_target_answer

    check_target_answer(report["target"], f"{python} in {image}")
    return report


def image_manifest(image: str, python: str = "python3") -> tuple[dict, dict]:
    """The sections an image can tell about itself, and the reasons for the ones it cannot."""
    report = run_in_image(image, python)
    return manifest_from_image_report(report, image)


def not_reproduced_in_report(report: dict) -> dict:
    """(section, item) -> why, from the not-reproduced.json an envcapture kit puts beside the manifest."""
    text = (report.get("files") or {}).get(NOT_REPRODUCED)
    if not isinstance(text, str):
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    found = {}
    for entry in (data.get("items") if isinstance(data, dict) else None) or []:
        if isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("section", "item", "why")):
            found[(entry["section"], entry["item"])] = entry["why"][:300]
    return found


def manifest_from_image_report(report: dict, image: str) -> tuple[dict, dict]:
    import tempfile

    from envcapture.capture.freeze import run_probe
    from envcapture.probes import ProbeContext, python_env

    target = report["target"]
    skip = {section: "an image cannot tell" for section in ("hardware", "gpu", "determinism", "code")}
    skip["os.kernel"] = "an image has no kernel of its own"
    skip["os.container"] = "always a container"
    skip["os.wsl"] = "an image has no WSL"
    with tempfile.TemporaryDirectory(prefix="envcapture-image-") as root:
        for path, text in (report.get("files") or {}).items():
            if not isinstance(path, str) or not path.startswith("/") or ".." in path.split("/"):
                continue
            destination = Path(root) / path.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text if isinstance(text, str) else "", encoding="utf-8")
        ctx = ProbeContext(root=Path(root), env={}, home="/root", target=target, project=Path(root))
        python = python_env.collect(ctx).data
        os_result = run_probe("os", "os_info", ctx)
        packages_result = run_probe("system_packages", "system_packages", ctx)
        conda_result = run_probe("conda", "conda", ProbeContext(
            root=Path(root), env={}, home="/root", project=Path(root),
            target={**target, "prefix": str(Path(root) / str(target.get("prefix") or "/").lstrip("/"))}))
    os_section = dict(os_result.data or {})
    markers = target.get("markers") or {}
    os_section["machine"] = markers.get("platform_machine") or os_section.get("machine")
    os_section["libc"] = target.get("libc") or os_section.get("libc")
    from envcapture.capture.freeze import sections_not_collected as from_messages

    if from_messages(w.message for w in os_result.warnings):
        skip["os"] = "the image's os-release could not be read"
    if from_messages(w.message for w in packages_result.warnings) \
            or not (packages_result.data or {}).get("manager"):
        skip["system_packages"] = "no package database found in the image"
    if from_messages(w.message for w in conda_result.warnings):
        skip["conda"] = "the image's conda records could not be read"
    live = {"python": python["python"], "python_packages": python["python_packages"], "os": os_section,
            "system_packages": packages_result.data, "conda": conda_result.data, "warnings": []}
    return live, skip
