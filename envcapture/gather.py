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
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from envcapture.errors import EXIT_TOOL_FAILED, BadInput, EnvcaptureError, ToolFailed

FRAME_BEGIN = "ENVCAPTURE-MANIFEST-BEGIN"
FRAME_END = "ENVCAPTURE-MANIFEST-END"
FRAME_VERSION = "1"
LINE_WIDTH = 76
# `srun --label` writes "N: text", right-aligning N when there are 10 or more tasks.
LABELED = re.compile(r"^ *(\d{1,7}): ?(.*)$", re.S)
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
# What a node sends is untrusted and read as it comes: lines are split only at \n (srun labels at \n; a \r
# inside a line must not start a forged line of another task), a line is cut at MAX_LINE bytes, a task keeps
# only its last error lines, and a frame is decoded and inflated line by line, never past the size its header
# announced (itself at most MAX_MANIFEST). Memory stays bounded whatever a node prints.
MAX_LINE = 64 * 1024
MAX_ERROR_LINES = 20
MAX_SHOWN = 1000
MAX_SRUN_LINES = 200
MAX_TASKS = 100_000
_READ_BYTES = 256 * 1024


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
        from envcapture.text import printable

        return printable(f"{self.where}: {self.reason}")


class FrameError(Exception):
    pass


class _Frame:
    """One manifest frame being received: base64 decoded and inflated per line, bounded by its header."""

    def __init__(self, header: str):
        parts = header.split(" ")
        if len(parts) != 5 or parts[1] != FRAME_VERSION:
            raise FrameError("sent a manifest frame this envcapture cannot read (another envcapture version on "
                             "the node?)")
        _, _, self.node, self.digest, size = parts
        if not (size.isdigit() and len(size) <= 12) or int(size) > MAX_MANIFEST:
            raise FrameError(f"announced a manifest of more than {MAX_MANIFEST} bytes (refused)")
        self.size = int(size)
        # zlib never grows data by more than a few bytes per 16 KiB block
        self.max_packed = self.size + self.size // 100 + 1024
        self.packed = 0
        self.carry = ""
        self.inflater = zlib.decompressobj()
        self.hasher = hashlib.sha256()
        self.out = bytearray()

    def add(self, line: str) -> None:
        if len(line) > 4 * LINE_WIDTH or not _BASE64_LINE.match(line):
            raise FrameError("its manifest arrived corrupted (not base64/zlib)")
        text = self.carry + line
        whole = len(text) - len(text) % 4
        self.carry = text[whole:]
        self._inflate(base64.b64decode(text[:whole]) if whole else b"")

    def _inflate(self, packed: bytes) -> None:
        self.packed += len(packed)
        if self.packed > self.max_packed:
            raise FrameError("its manifest frame is longer than its announced size allows (refused)")
        try:
            chunk = self.inflater.decompress(packed, self.size + 1 - len(self.out))
        except zlib.error:
            raise FrameError("its manifest arrived corrupted (not base64/zlib)") from None
        self.out += chunk
        if len(self.out) > self.size or self.inflater.unconsumed_tail:
            raise FrameError("its manifest arrived corrupted (size or SHA-256 does not match)")

    def finish(self) -> bytes:
        if self.carry:
            raise FrameError("its manifest arrived corrupted (not base64/zlib)")
        if not self.inflater.eof or len(self.out) != self.size \
                or hashlib.sha256(self.out).hexdigest() != self.digest:
            raise FrameError("its manifest arrived corrupted (size or SHA-256 does not match)")
        return bytes(self.out)


_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class TaskOutput:
    """What one task sent: its last error lines, and its manifest frame as it arrives."""

    def __init__(self):
        self.stderr: deque = deque(maxlen=MAX_ERROR_LINES)
        self.frame: _Frame | None = None
        self.document: tuple[str, bytes] | None = None  # (node, manifest) of the last complete frame
        self.problem: str | None = None
        self.seen_frame = False

    def stdout_line(self, text: str) -> None:
        if text.startswith(FRAME_BEGIN + " "):
            self.seen_frame, self.document, self.problem, self.frame = True, None, None, None
            try:
                self.frame = _Frame(text)
            except FrameError as exc:
                self.problem = str(exc)
            return
        if self.frame is None:
            return  # anything else a task prints on stdout is not ours to keep
        try:
            if text == FRAME_END:
                self.document = (self.frame.node, self.frame.finish())
                self.frame = None
            else:
                self.frame.add(text)
        except FrameError as exc:
            self.problem, self.frame = str(exc), None

    def result(self) -> tuple[tuple[str, bytes] | None, str | None]:
        if self.frame is not None:
            return None, "its manifest was cut short (the task was killed while writing it?)"
        return self.document, self.problem


class Collector:
    """srun's two labeled streams, fed as bytes as they come, split per task."""

    def __init__(self):
        self.tasks: dict[int, TaskOutput] = {}
        self.own: deque = deque(maxlen=MAX_SRUN_LINES)
        self.dropped_tasks = 0
        self._partial = {"stdout": bytearray(), "stderr": bytearray()}
        self._overlong = {"stdout": False, "stderr": False}

    def feed(self, stream: str, data: bytes) -> None:
        partial = self._partial[stream]
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(stream, data[start:])
                return
            self._keep(stream, data[start:end])
            self._line(stream, bytes(partial), self._overlong[stream])
            partial.clear()
            self._overlong[stream] = False
            start = end + 1

    def _keep(self, stream: str, piece: bytes) -> None:
        partial = self._partial[stream]
        room = MAX_LINE - len(partial)
        if len(piece) > room:
            self._overlong[stream] = True
            piece = piece[:max(room, 0)]
        partial += piece

    def close(self) -> None:
        for stream, partial in self._partial.items():
            if partial:
                self._line(stream, bytes(partial), self._overlong[stream])
                partial.clear()

    def _line(self, stream: str, raw: bytes, overlong: bool) -> None:
        text = raw.decode("utf-8", "replace")
        match = LABELED.match(text)
        if not match:
            if stream == "stderr" and text.strip():
                self.own.append(text[:MAX_SHOWN])
            return
        task = int(match.group(1))
        output = self.tasks.get(task)
        if output is None:
            if len(self.tasks) >= MAX_TASKS:
                self.dropped_tasks += 1
                return
            output = self.tasks[task] = TaskOutput()
        body = match.group(2)
        if stream == "stderr":
            output.stderr.append(body[:MAX_SHOWN])
        elif overlong:  # a cut line cannot be part of a frame: the frame fails
            if output.frame is not None:
                output.problem, output.frame = "its manifest arrived corrupted (not base64/zlib)", None
        else:
            output.stdout_line(body)

    def results(self) -> tuple[list[Received], list[Failure], list[str]]:
        from envcapture.capture.placeholders import is_safe_value

        self.close()
        srun_errors = srun_failures(list(self.own))
        received, failures = [], []
        for task in sorted(set(self.tasks) | set(srun_errors)):
            output = self.tasks.get(task) or TaskOutput()
            document, problem = output.result()
            got = None
            if document is not None:
                node, body = document
                got = Received(task, node if is_safe_value(node) else f"task-{task}", body)
            node = got.node if got else srun_errors.get(task, (None, ""))[0]
            where = f"{node} (task {task})" if node else f"task {task}"
            if got is not None and task not in srun_errors:
                received.append(got)
                continue
            reason = last_error_line(list(output.stderr)) or problem \
                or (srun_errors.get(task) or (None, None))[1] or "no manifest received"
            if got is not None:  # a manifest and a failed exit: keep the manifest, say what happened after it
                received.append(got)
            failures.append(Failure(where, reason))
        other = [line for line in self.own if not SRUN_TASK_ERROR.match(line)]
        return received, failures, other


def srun_failures(own_lines: list[str]) -> dict[int, tuple[str, str]]:
    """task -> (node, reason) from srun's "srun: error: n2: task 1: Exited with exit code 2"."""
    failures = {}
    for line in own_lines:
        match = SRUN_TASK_ERROR.match(line)
        if not match:
            continue
        node, tasks, reason = match.groups()
        for part in tasks.split(",")[:MAX_TASKS]:
            low, _, high = part.partition("-")
            if low.isdigit() and len(low) <= 7 and (not high or (high.isdigit() and len(high) <= 7)):
                for task in range(int(low), min(int(high or low), int(low) + MAX_TASKS) + 1):
                    failures[task] = (node, reason)
    return failures


def last_error_line(lines: list[str]) -> str | None:
    for line in reversed(lines):
        if line.strip():
            text = " ".join(line.split())
            return (text[len("envcapture: "):] if text.startswith("envcapture: ") else text)[:300]
    return None


def collect_streams(stdout: str | bytes, stderr: str | bytes) -> tuple[list[Received], list[Failure], list[str]]:
    """Split srun's two labeled streams into one manifest per task and one failure line per failed task."""
    collector = Collector()
    collector.feed("stdout", stdout.encode("utf-8", "surrogateescape") if isinstance(stdout, str) else stdout)
    collector.feed("stderr", stderr.encode("utf-8", "surrogateescape") if isinstance(stderr, str) else stderr)
    return collector.results()


def run_srun(argv: list[str]) -> tuple[Collector, int]:
    """srun, its two streams read as they come into a Collector (never buffered whole)."""
    import selectors

    collector = Collector()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
        open_streams = 2
        while open_streams:
            for key, _ in selector.select():
                data = os.read(key.fileobj.fileno(), _READ_BYTES)
                if not data:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                else:
                    collector.feed(key.data, data)
    proc.stdout.close()
    proc.stderr.close()
    return collector, proc.wait()


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
    """One file name per manifest, never two alike (compared without case, for case-insensitive file systems):
    the node name, and the task number added to every name two manifests would share (two tasks on one node,
    or a node that calls itself ``a-task0``) until none is shared."""
    names = [item.node for item in received]
    for _ in range(8):
        counts = Counter(name.lower() for name in names)
        if all(count == 1 for count in counts.values()):
            return names
        names = [f"{name}-task{item.task}" if counts[name.lower()] > 1 else name
                 for name, item in zip(names, received)]
    return [f"task-{item.task}-of-{len(received)}" for item in received]  # task numbers are unique


def published(document: bytes) -> bytes:
    """A node's manifest as it may be written here: through the write gate, so a secret a node sent (an older
    envcapture there, a hand-edited file) is redacted before it lands in the gathered folder. A manifest with
    nothing to redact keeps its own bytes."""
    import json

    from envcapture.manifest.gate import for_publication

    return for_publication(json.loads(document), document)[1]


def write_manifests(folder: Path, received: list[Received], manifests) -> tuple[list[Path], list[Failure]]:
    """Validate each manifest (``manifests``: a compare ManifestSet, so identical sections cost nothing twice)
    and write it as it arrived to FOLDER/<node>.json."""
    from envcapture.manifest import file as manifest_io

    paths, failures, written = [], [], set()
    for item, name in zip(received, unique_names(received)):
        if name in written:  # unique_names makes this impossible; a manifest must never replace another
            raise AssertionError(f"two manifests named {name}")
        written.add(name)
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
        manifest_io.write_atomically(path, published(item.document))
        paths.append(path)
    return paths, failures


def gather_command(args) -> int:
    from envcapture import compare
    from envcapture.text import printable

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
        collector, returncode = run_srun(argv)
    except OSError as exc:
        raise ToolFailed(f"srun could not run: {exc.strerror}") from None
    received, failures, srun_lines = collector.results()
    if not received:
        for failure in failures:
            print(f"envcapture: {failure.line()}", file=sys.stderr)
        reason = last_error_line(srun_lines) or (failures[0].reason if failures else f"exit code {returncode}")
        raise ToolFailed(f"srun returned no manifest: {reason}")
    from envcapture.compare.many import ManifestSet

    folder.mkdir(parents=True, exist_ok=True)
    manifests = ManifestSet()
    paths, bad = write_manifests(folder, received, manifests)
    failures += bad
    for line in srun_lines:  # srun's own complaints (a node that failed to start the step, ...)
        if "error" in line.lower():
            print(f"envcapture: {printable(' '.join(line.split())[:300])}", file=sys.stderr)
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
