"""Build a kit's Dockerfile with the docker SDK, streaming the build log.

The SDK talks to the engine's classic builder (it has no BuildKit session support). The generated
Dockerfile uses BuildKit cache mounts (``RUN --mount=type=cache,...``) only to keep download caches
between builds; they do not change what lands in the image, so for the classic builder they are dropped
from a private copy of the Dockerfile and the build says so. Any other BuildKit-only feature is refused
with a line saying how to build the kit by hand.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from envcapture.errors import BadInput, ToolFailed

TAIL_LINES = 25
# Labels put on every image envcapture builds, "key=value[,key=value]": lets a CI or a shared engine find and
# remove exactly the images its runs made (.ci/run sets envcapture.test=1).
LABELS_VARIABLE = "ENVCAPTURE_IMAGE_LABELS"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CACHE_MOUNT = re.compile(r"--mount=type=cache(?:,[^\s\\]*)?\s*")
# Features the classic builder does not understand, after cache mounts are gone.
BUILDKIT_ONLY = (
    (re.compile(r"^\s*RUN\s+(?:--[a-z-]+=\S+\s+)*--mount=", re.I | re.M), "RUN --mount (other than cache mounts)"),
    (re.compile(r"^\s*RUN\s+(?:--[a-z-]+=\S+\s+)*--(network|security)=", re.I | re.M), "RUN --network/--security"),
    (re.compile(r"^\s*(COPY|ADD)\s+(?:--[a-z-]+(?:=\S+)?\s+)*--link\b", re.I | re.M), "COPY --link"),
    (re.compile(r"^\s*(COPY|ADD)\s+(?:--[a-z-]+(?:=\S+)?\s+)*--(chmod|parents|exclude)\b", re.I | re.M),
     "COPY --chmod/--parents/--exclude"),
    (re.compile(r"<<-?\s*['\"]?[A-Za-z_]+['\"]?\s*$", re.M), "heredocs"),
)


@dataclass
class BuiltImage:
    tag: str
    image_id: str
    seconds: float


def connect(timeout: int = 600):
    """A docker SDK client with a live engine behind it, or ToolFailed in one line."""
    try:
        import docker
    except ImportError as exc:  # a dependency of envcapture, so only a broken install lands here
        raise ToolFailed("the docker Python SDK is not installed (pip install docker)") from exc
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, PermissionError, ... all mean the same
        raise ToolFailed(f"no Docker engine reachable ({_first_line(exc)}): start Docker, or point DOCKER_HOST "
                         f"at a running engine") from None
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def classic_dockerfile(text: str) -> tuple[str, int]:
    """``text`` without BuildKit cache mounts, and how many were dropped; BadInput for other BuildKit features."""
    stripped, dropped = CACHE_MOUNT.subn("", text)
    # A RUN whose only content was the mount now reads "RUN \" + next line: still valid Dockerfile syntax.
    for pattern, feature in BUILDKIT_ONLY:
        if pattern.search(stripped):
            raise BadInput(f"this Dockerfile uses {feature}, which needs BuildKit; the docker SDK builds with the "
                           f"classic builder. Build the kit with `docker buildx build` instead")
    return stripped, dropped


def build_image(context: Path, tag: str, *, client=None, dockerfile: str = "Dockerfile",
                echo: Callable[[str], None] | None = None, timeout: int = 3600, nocache: bool = False,
                snapshot_date: str | None = None, network_mode: str | None = None) -> BuiltImage:
    """``docker build`` of ``context`` (a generated kit) as ``tag``; the log streams to ``echo`` (stderr)."""
    context = Path(context)
    source = context / dockerfile
    if not source.is_file():
        raise BadInput(f"{source}: no Dockerfile to build (run `envcapture generate docker` first)")
    echo = echo or _stderr
    client = client or connect(timeout=timeout)
    text, dropped = classic_dockerfile(source.read_text(encoding="utf-8"))
    if dropped:
        echo(f"envcapture: building with the classic builder of the docker SDK: {dropped} BuildKit cache "
             f"mount(s) dropped (download caches only; the image is the same)")
    with tempfile.TemporaryDirectory(prefix="envcapture-build-") as tmp:
        # Outside the context, so the SDK adds it to the build context under a private name.
        private = Path(tmp) / "Dockerfile"
        private.write_text(labelled_stages(text, image_labels()), encoding="utf-8")
        started = time.monotonic()
        image_id = _stream_build(client, context, str(private), tag, echo, nocache, snapshot_date, network_mode)
    return BuiltImage(tag=tag, image_id=image_id, seconds=time.monotonic() - started)


def image_labels() -> dict[str, str] | None:
    """The labels of $ENVCAPTURE_IMAGE_LABELS; BadInput when it is not key=value pairs."""
    import os

    text = os.environ.get(LABELS_VARIABLE, "").strip()
    if not text:
        return None
    labels = {}
    for pair in text.split(","):
        key, sep, value = pair.strip().partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", key):
            raise BadInput(f"{LABELS_VARIABLE}: {pair.strip()!r} is not key=value")
        labels[key] = value
    return labels


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# The lines in which the tools themselves say what went wrong: apt's E:, pip's and uv's error lines.
TOOL_ERROR = re.compile(r"^(E: |ERROR: |error: |  × |× |  ╰─▶ |Error: |fatal: |W: Failed to fetch )")
APT_VERSION_GONE = re.compile(r"^E: Version '(?P<version>[^']+)' for '(?P<package>[^']+)' was not found")
# apt's line for an archive it could not reach: `W: Failed to fetch http://snapshot.debian.org/... Could not resolve`
SNAPSHOT_UNREACHABLE = re.compile(r"^[WE]: Failed to fetch (?P<url>https?://snapshot\.[a-z.]+/\S*)\s+(?P<why>.*)$")
NON_ZERO = re.compile(r"returned a non-zero code: (?P<code>[0-9]+)")
MAX_TOOL_ERRORS = 40


def failure(context: Path, message: str, tail: list[str], tool_errors: list[str],
            snapshot_date: str | None) -> ToolFailed:
    """One line that names the cause, and the tools' own error lines (never the echoed command)."""
    for line in tool_errors:
        gone = APT_VERSION_GONE.match(line)
        if gone:
            return ToolFailed(version_gone_message(context, gone["package"], gone["version"], tool_errors,
                                                   snapshot_date), tail="\n".join(tool_errors))
    code = NON_ZERO.search(message)
    step = next((line for line in reversed(tail) if line.startswith("Step ")), "")
    summary = f"a build step exited with {code['code']}" if code else _first_line(Exception(message))
    if step:
        summary += f" ({step.split(':')[0].strip()})"
    return ToolFailed(f"docker build of {context} failed: {summary}",
                      tail="\n".join(tool_errors or tail[-TAIL_LINES:]))


def version_gone_message(context: Path, package: str, version: str, tool_errors: list[str],
                         snapshot_date: str | None) -> str:
    """The package, the version, where the recorded machine got it, and advice that works: a snapshot archive
    that the build could not reach is said to be unreachable, not offered again."""
    suite = recorded_suite(context, package)
    head = f"docker build of {context} failed: apt has no {package} {version} ({suite}) any more"
    unreachable = next((m for m in map(SNAPSHOT_UNREACHABLE.match, tool_errors) if m), None)
    if unreachable:
        host = unreachable["url"].split("/")[2]
        return (f"{head}, and the snapshot archive that keeps old versions could not be reached from the build "
                f"({host}: {unreachable['why'][:120]}); build where {host} is reachable, or freeze again after "
                f"`apt-get upgrade` so that the manifest records versions the archive still has")
    where = f"--apt-snapshot {snapshot_date}" if snapshot_date else "--apt-snapshot DATE (the capture date)"
    return f"{head}; build again with {where}"


def recorded_suite(context: Path, package: str) -> str:
    """Where the manifest in the kit says the recorded version came from, in words."""
    import json

    try:
        with open(Path(context) / "envcapture.json", encoding="utf-8") as handle:
            manifest = json.loads(handle.read(256 << 20))
        records = manifest["system_packages"]["packages"]
    except (OSError, ValueError, KeyError, TypeError):
        return "its apt suite unknown"
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict) or record.get("name") != package:
            continue
        origin = record.get("origin")
        if isinstance(origin, dict) and isinstance(origin.get("suite"), str):
            return f"recorded from the suite {origin['suite']} of {origin.get('url') or 'an apt source'}"
        if "origin" in record:
            return "no apt source configured at capture time offered it"
        return "the manifest does not record its apt suite"
    return "not in the manifest"


LABEL_STAGE = re.compile(r"^(FROM\s+\S+(?:\s+AS\s+\S+)?)[ \t]*$", re.I | re.M)


def labelled_stages(text: str, labels: dict[str, str] | None) -> str:
    """Every stage labelled right after its FROM, so that every image the build makes (stages, the cached layers of
    a failed build) carries $ENVCAPTURE_IMAGE_LABELS, not only the final image."""
    if not labels:
        return text
    import json

    line = "LABEL " + " ".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    return LABEL_STAGE.sub(lambda match: f"{match.group(1)}\n{line}", text)


def _stream_build(client, context: Path, dockerfile: str, tag: str, echo, nocache: bool,
                  snapshot_date: str | None = None, network_mode: str | None = None) -> str:
    import docker

    tail: list[str] = []
    tool_errors: list[str] = []
    image_id = ""
    pending = ""
    try:
        chunks = client.api.build(path=str(context), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True,
                                  pull=False, decode=True, nocache=nocache, labels=image_labels(),
                                  network_mode=network_mode)
        for chunk in chunks:
            if "error" in chunk or "errorDetail" in chunk:
                message = chunk.get("error") or chunk.get("errorDetail", {}).get("message", "")
                if pending:
                    tail.append(pending)
                raise failure(context, message, tail, tool_errors, snapshot_date)
            if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            text = chunk.get("stream") or _status_line(chunk)
            if not text:
                continue
            # The engine splits lines across chunks; echo whole lines only.
            pending += text
            *complete, pending = pending.split("\n")
            for line in complete:
                # The classic builder paints a step's stderr red; the log is plain text.
                line = ANSI_ESCAPE.sub("", line)
                echo(line)
                tail.append(line)
                del tail[:-TAIL_LINES]
                if TOOL_ERROR.match(line) and line not in tool_errors and len(tool_errors) < MAX_TOOL_ERRORS:
                    tool_errors.append(line)
    except docker.errors.APIError as exc:
        raise ToolFailed(f"docker build of {context} failed: {_first_line(exc)}", tail="\n".join(tail)) from None
    except docker.errors.DockerException as exc:
        raise ToolFailed(f"docker build of {context} failed: {_first_line(exc)}", tail="\n".join(tail)) from None
    if pending:
        echo(pending)
    if not image_id:
        image_id = client.images.get(tag).id
    return image_id


def _status_line(chunk: dict) -> str:
    status = chunk.get("status")
    if not status:
        return ""
    ident = chunk.get("id")
    return f"{ident}: {status}\n" if ident else f"{status}\n"


def tag_image(client, image_id: str, tag: str) -> None:
    repository, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    client.images.get(image_id).tag(repository, version)


def size_report(client, tag: str, largest: int = 5) -> list[str]:
    """The final image's size next to its base's, and its largest layers (what to look at to slim it)."""
    try:
        image = client.images.get(tag)
        history = image.history()
    except Exception:  # a report, not a result: never fail a build over it
        return []
    layers = [(entry.get("Size") or 0, (entry.get("CreatedBy") or "").replace("/bin/sh -c #(nop) ", "").strip())
              for entry in history]
    base = _base_size(client, image)
    lines = [f"image size {_mb(image.attrs.get('Size') or 0)}" + (f" (base image {_mb(base)})" if base else "")]
    for size, created_by in sorted(layers, key=lambda layer: -layer[0])[:largest]:
        if size:
            lines.append(f"  {_mb(size):>9}  {created_by[:100]}")
    return lines


def _base_size(client, image) -> int | None:
    name = (image.labels or {}).get("org.opencontainers.image.base.name")
    if not name:
        return None
    try:
        return client.images.get(name).attrs.get("Size")
    except Exception:
        return None


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def image_packages(image: str, client=None) -> frozenset[str] | None:
    """Names of the packages installed in ``image`` (its dpkg status), None when it has no dpkg."""
    import docker

    client = client or connect()
    try:
        raw = client.containers.run(image, ["cat", "/var/lib/dpkg/status"], entrypoint="", remove=True,
                                    network_disabled=True)
    except docker.errors.DockerException:
        return None
    names, name = set(), None
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("Package: "):
            name = line[len("Package: "):].strip()
        elif line.startswith("Status: ") and line.endswith(" installed") and name:
            names.add(name)
    return frozenset(names)


def image_os(image: str, client=None) -> str | None:
    """``ID:VERSION_ID`` from the image's /etc/os-release (None when the image cannot tell).

    `build` passes it to the generator, so a --base-image of the captured distribution still gets the
    recorded system packages.
    """
    import docker

    client = client or connect()
    try:
        raw = client.containers.run(image, ["cat", "/etc/os-release"], entrypoint="", remove=True,
                                    network_disabled=True)
    except docker.errors.ImageNotFound:
        raise BadInput(f"--base-image {image}: not available to the Docker engine (build or pull it first)") \
            from None
    except docker.errors.DockerException:
        return None
    from envcapture.probes.os_info import parse_os_release

    fields = parse_os_release(raw.decode("utf-8", "replace"))
    if fields.get("ID") and fields.get("VERSION_ID"):
        return f"{fields['ID']}:{fields['VERSION_ID']}"
    return None
