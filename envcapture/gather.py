"""`envcapture gather`: one manifest per node of a Slurm job, collected on the submitting host, then the diff.

srun runs one task per node (``srun --label --ntasks-per-node=1 PYTHON -m envcapture.gather --task``); each
task freezes its node and prints the manifest to stdout in a frame (a header with the node name, the
SHA-256 and the size, then zlib-compressed base64 in short lines). The frame is what makes this robust:
srun forwards a task's output in chunks and ``--label`` prefixes each line with the task number, so raw JSON
with long lines could be cut; short base64 lines and a checksum cannot be silently corrupted. No shared
file system is needed: every manifest travels through srun's own I/O.

A node that fails is one line (which node, why: the task's last error line); the other nodes' manifests are
written and compared all the same, and the exit code is then 3.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from envcapture.errors import EXIT_TOOL_FAILED, BadInput, EnvcaptureError, ToolFailed

FRAME_BEGIN = "ENVCAPTURE-MANIFEST-BEGIN"
FRAME_END = "ENVCAPTURE-MANIFEST-END"
FRAME_VERSION = "1"
LINE_WIDTH = 76
# `srun --label` writes "N: text", right-aligning N when there are 10 or more tasks.
LABELED = re.compile(r"^\s*(\d+): ?(.*)$")
SRUN_TASK_ERROR = re.compile(r"^srun: error: (\S+): tasks? ([0-9,\-]+): (.*)$")
MAX_MANIFEST = 256 * 1024 * 1024


# ------------------------------------------------------------------------------------- task side

def frame(node: str, document: bytes) -> str:
    """The manifest as a frame of short lines: ``srun --label`` may cut long lines, never these."""
    packed = base64.b64encode(zlib.compress(document, 6)).decode("ascii")
    lines = [f"{FRAME_BEGIN} {FRAME_VERSION} {node} {hashlib.sha256(document).hexdigest()} {len(document)}"]
    lines += [packed[i:i + LINE_WIDTH] for i in range(0, len(packed), LINE_WIDTH)]
    lines.append(FRAME_END)
    return "\n".join(lines) + "\n"


def task_node_name(env) -> str:
    from envcapture.capture.placeholders import is_safe_value
    import socket

    name = env.get("SLURMD_NODENAME") or socket.gethostname()
    return name if is_safe_value(name) else "unnamed"


def task_main(argv: list[str]) -> int:
    """One srun task: freeze this node and print the framed manifest; errors are one line on stderr."""
    import argparse

    from envcapture.manifest import file as manifest_io
    from envcapture.capture.freeze import build_manifest

    parser = argparse.ArgumentParser(prog="envcapture gather --task")
    parser.add_argument("--python")
    parser.add_argument("--project", default=".")
    parser.add_argument("--include-host", action="store_true")
    parser.add_argument("--deep", action="store_true")
    args = parser.parse_args(argv)
    try:
        if not Path(args.project).is_dir():
            raise BadInput(f"--project {args.project}: not a folder on this node")
        data = build_manifest(python=args.python, project=args.project, include_host=args.include_host,
                              deep=args.deep, argv=["freeze", "-o", "-", *argv])
    except EnvcaptureError as exc:
        print(f"envcapture: {exc}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.write(frame(task_node_name(os.environ), manifest_io.dumps(data).encode("utf-8")))
    sys.stdout.flush()
    return 0


# ---------------------------------------------------------------------------------- submitting side

@dataclass
class TaskOutput:
    """What one task printed, split out of srun's labeled streams."""

    stdout: list = field(default_factory=list)
    stderr: list = field(default_factory=list)


@dataclass
class Received:
    task: int
    node: str
    document: bytes


@dataclass
class Failure:
    where: str  # "n2 (task 1)" or "task 1"
    reason: str

    def line(self) -> str:
        return f"{self.where}: {self.reason}"


def split_labeled(text: str, into: dict, stream: str) -> list[str]:
    """Lines of srun's labeled output, appended per task; returns the unlabeled lines (srun's own)."""
    own = []
    for line in text.splitlines():
        match = LABELED.match(line)
        if match:
            getattr(into.setdefault(int(match.group(1)), TaskOutput()), stream).append(match.group(2))
        elif line.strip():
            own.append(line)
    return own


def unframe(task: int, lines: list[str]) -> tuple[Received | None, str | None]:
    """The manifest one task sent, or why there is none (no frame, cut short, checksum mismatch)."""
    from envcapture.capture.placeholders import is_safe_value

    starts = [i for i, line in enumerate(lines) if line.startswith(FRAME_BEGIN + " ")]
    if not starts:
        return None, None
    header = lines[starts[-1]].split()
    if len(header) != 5 or header[1] != FRAME_VERSION:
        return None, "sent a manifest frame this envcapture cannot read (another envcapture version on the node?)"
    _, _, node, digest, size = header
    try:
        end = lines.index(FRAME_END, starts[-1])
    except ValueError:
        return None, "its manifest was cut short (the task was killed while writing it?)"
    try:
        document = zlib.decompress(base64.b64decode("".join(lines[starts[-1] + 1:end]), validate=True),
                                   bufsize=1 << 20)
    except (ValueError, zlib.error):
        return None, "its manifest arrived corrupted (not base64/zlib)"
    if len(document) > MAX_MANIFEST or str(len(document)) != size \
            or hashlib.sha256(document).hexdigest() != digest:
        return None, "its manifest arrived corrupted (size or SHA-256 does not match)"
    return Received(task, node if is_safe_value(node) else f"task-{task}", document), None


def srun_failures(own_lines: list[str]) -> dict[int, tuple[str, str]]:
    """task -> (node, reason) from srun's "srun: error: n2: task 1: Exited with exit code 2"."""
    failures = {}
    for line in own_lines:
        match = SRUN_TASK_ERROR.match(line)
        if not match:
            continue
        node, tasks, reason = match.groups()
        for part in tasks.split(","):
            low, _, high = part.partition("-")
            if low.isdigit() and (not high or high.isdigit()):
                for task in range(int(low), int(high or low) + 1):
                    failures[task] = (node, reason)
    return failures


def last_error_line(lines: list[str]) -> str | None:
    for line in reversed(lines):
        if line.strip():
            text = " ".join(line.split())
            return (text[len("envcapture: "):] if text.startswith("envcapture: ") else text)[:300]
    return None


def collect_streams(stdout: str, stderr: str) -> tuple[list[Received], list[Failure], list[str]]:
    """Split srun's two labeled streams into one manifest per task and one failure line per failed task."""
    tasks: dict[int, TaskOutput] = {}
    split_labeled(stdout, tasks, "stdout")
    own = split_labeled(stderr, tasks, "stderr")
    srun_errors = srun_failures(own)
    received, failures = [], []
    for task in sorted(set(tasks) | set(srun_errors)):
        output = tasks.get(task, TaskOutput())
        got, problem = unframe(task, output.stdout)
        node = got.node if got else srun_errors.get(task, (None, ""))[0]
        where = f"{node} (task {task})" if node else f"task {task}"
        if got is not None and task not in srun_errors:
            received.append(got)
            continue
        reason = last_error_line(output.stderr) or problem or (srun_errors.get(task) or (None, None))[1] \
            or "no manifest received"
        if got is not None:  # a manifest and a failed exit: keep the manifest, say what happened after it
            received.append(got)
        failures.append(Failure(where, reason))
    other = [line for line in own if not SRUN_TASK_ERROR.match(line)]
    return received, failures, other


def srun_command(srun: str, srun_args: list[str], task_args: list[str]) -> list[str]:
    # --kill-on-bad-exit=0: a node that fails must not take the others' manifests with it.
    return [srun, "--label", "--ntasks-per-node=1", "--kill-on-bad-exit=0", *srun_args,
            sys.executable, "-m", "envcapture.gather", "--task", *task_args]


def task_arguments(args) -> list[str]:
    out = []
    if args.python:
        out += ["--python", args.python]
    if args.project != ".":
        out += ["--project", str(Path(args.project).resolve())]
    if args.include_host:
        out.append("--include-host")
    if args.deep:
        out.append("--deep")
    return out


def unique_names(received: list[Received]) -> list[str]:
    """One file name per manifest: the node name, with the task number where two tasks shared a node."""
    counts: dict = {}
    for item in received:
        counts[item.node] = counts.get(item.node, 0) + 1
    return [item.node if counts[item.node] == 1 else f"{item.node}-task{item.task}" for item in received]


def write_manifests(folder: Path, received: list[Received], manifests) -> tuple[list[Path], list[Failure]]:
    """Validate each manifest (``manifests``: a compare ManifestSet, so identical sections cost nothing twice)
    and write it as it arrived to FOLDER/<node>.json."""
    from envcapture.manifest import file as manifest_io

    paths, failures = [], []
    for item, name in zip(received, unique_names(received)):
        where = f"{item.node} (task {item.task})"
        path = folder / f"{name}.json"
        if path.exists() and not manifest_io.is_manifest_file(path):
            failures.append(Failure(where, f"{path} exists and is not an envcapture manifest: not overwritten"))
            continue
        try:
            manifests.add_text(item.document.decode("utf-8"), "its manifest")
        except UnicodeDecodeError:
            failures.append(Failure(where, "sent something that is not UTF-8 text"))
            continue
        except BadInput as exc:
            first = f"; first: {exc.problems[0]}" if getattr(exc, "problems", None) else ""
            failures.append(Failure(where, f"{exc}{first}"))
            continue
        manifest_io.write_atomically(path, item.document)
        paths.append(path)
    return paths, failures


def gather_command(args) -> int:
    from envcapture import compare

    srun = shutil.which("srun")
    if srun is None:
        raise ToolFailed("srun not found: gather runs on a Slurm login node or inside an allocation "
                         "(Slurm's srun must be on PATH)")
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"-o {args.output}: exists and is not a folder")
    if args.project != "." and not Path(args.project).is_dir():
        raise BadInput(f"--project {args.project}: not a folder")
    srun_args = list(args.srun_args or [])
    argv = srun_command(srun, srun_args, task_arguments(args))
    try:
        proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise ToolFailed(f"srun could not run: {exc.strerror}") from None
    received, failures, srun_lines = collect_streams(proc.stdout.decode("utf-8", "replace"),
                                                     proc.stderr.decode("utf-8", "replace"))
    if not received:
        for failure in failures:
            print(f"envcapture: {failure.line()}", file=sys.stderr)
        reason = last_error_line(srun_lines) or (failures[0].reason if failures else f"exit code {proc.returncode}")
        raise ToolFailed(f"srun returned no manifest: {reason}")
    from envcapture.compare.many import ManifestSet

    folder.mkdir(parents=True, exist_ok=True)
    manifests = ManifestSet()
    paths, bad = write_manifests(folder, received, manifests)
    failures += bad
    for line in srun_lines:  # srun's own complaints (a node that failed to start the step, ...)
        if "error" in line.lower():
            print(f"envcapture: {' '.join(line.split())[:300]}", file=sys.stderr)
    for failure in failures:
        print(f"envcapture: no manifest from {failure.line()}", file=sys.stderr)
    print(f"envcapture: wrote {len(paths)} manifest{'s' * (len(paths) != 1)} to {folder}/ "
          f"({', '.join(p.stem for p in paths)})", file=sys.stderr)
    if len(paths) < 2:
        print("envcapture: only one node answered, so there is nothing to compare: srun ran one task "
              "(outside an allocation, pass the node count: envcapture gather -- --nodes=3)", file=sys.stderr)
        code = 0
    else:
        result = manifests.compare([p.stem for p in paths], sources=[str(p) for p in paths])
        compare.emit(result, "diff", args.format)
        code = 0 if result.same else 1
    return EXIT_TOOL_FAILED if failures else code


if __name__ == "__main__":  # the task side: srun ... python -m envcapture.gather --task [freeze options]
    if sys.argv[1:2] != ["--task"]:
        print("envcapture.gather: run `envcapture gather`; this entry point is the srun task", file=sys.stderr)
        sys.exit(2)
    sys.exit(task_main(sys.argv[2:]))
