"""gather's framing and file names, fed what srun really does: two tasks on one node, output cut into chunks at
any byte, a frame whose size, digest or length lies, a line longer than the limit, a task that prints a second
frame. Real manifests (tests/fixtures/compare) travel in the frames."""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from pathlib import Path

import pytest

from envcapture.compare.many import ManifestSet
from envcapture.gather import (FRAME_BEGIN, FRAME_END, MAX_LINE, Collector, Received, collect_streams, frame,
                               unique_names, write_manifests)

NODE = (Path(__file__).resolve().parents[1] / "fixtures" / "compare" / "node-1.json").read_bytes()


def labeled(task: int, text: str) -> str:
    return "".join(f"{task}: {line}\n" for line in text.splitlines())


def test_two_tasks_on_one_node_write_two_files(tmp_path):
    other = json.loads(NODE)
    other["created"] = "2026-01-02T03:04:05Z"
    second = json.dumps(other).encode()
    received, failures, _ = collect_streams(labeled(0, frame("n1", NODE)) + labeled(1, frame("n1", second)), "")
    assert failures == [] and [r.node for r in received] == ["n1", "n1"]
    paths, failures = write_manifests(tmp_path, received, ManifestSet())
    assert failures == [] and sorted(p.name for p in paths) == ["n1-task0.json", "n1-task1.json"]
    assert (tmp_path / "n1-task0.json").read_bytes() == NODE and (tmp_path / "n1-task1.json").read_bytes() == second


@pytest.mark.parametrize("nodes, names", [
    (["a", "b"], ["a", "b"]),
    (["a", "a", "b"], ["a-task0", "a-task1", "b"]),
    (["N1", "n1"], ["N1-task0", "n1-task1"]),  # case-insensitive file systems
    (["a", "a", "a-task1"], ["a-task0", "a-task1-task1", "a-task1-task2"]),
])
def test_file_names_are_never_shared(nodes, names):
    received = [Received(task, node, b"{}") for task, node in enumerate(nodes)]
    found = unique_names(received)
    assert found == names
    assert len({n.lower() for n in found}) == len(found)


def test_frames_survive_any_chunking_of_srun_output():
    documents = {task: NODE.replace(b"node-1", f"node-{task}".encode()) for task in range(3)}
    lines = [labeled(task, frame(f"n{task}", doc)).splitlines(True) for task, doc in documents.items()]
    mixed = "".join(line for group in zip(*lines) for line in group).encode()
    rng = random.Random(5)
    for _ in range(5):
        collector = Collector()
        start = 0
        while start < len(mixed):
            size = rng.randint(1, 300)
            collector.feed("stdout", mixed[start:start + size])
            start += size
        received, failures, _ = collector.results()
        assert failures == [] and {r.task: r.document for r in received} == documents


def forged(node: str, document: bytes, digest: str | None = None, size: int | None = None, body: bytes | None = None):
    import base64

    packed = base64.b64encode(zlib.compress(body if body is not None else document)).decode()
    lines = [f"{FRAME_BEGIN} 1 {node} {digest or hashlib.sha256(document).hexdigest()} "
             f"{len(document) if size is None else size}"]
    lines += [packed[i:i + 76] for i in range(0, len(packed), 76)] + [FRAME_END]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, reason", [
    (forged("n0", NODE, digest="0" * 64), "size or SHA-256 does not match"),
    (forged("n0", NODE, size=len(NODE) - 1), "size or SHA-256 does not match"),
    (forged("n0", NODE, size=len(NODE) + 1), "size or SHA-256 does not match"),
    (forged("n0", NODE, body=NODE + b" "), "size or SHA-256 does not match"),
    (forged("n0", NODE, size=10 ** 12), "announced a manifest of more than"),
    (frame("n0", NODE).replace(f"{FRAME_BEGIN} 1 ", f"{FRAME_BEGIN} 2 "), "another envcapture version"),
    (frame("n0", NODE).replace("\n", "\n!!\n", 3), "not base64/zlib"),
])
def test_a_frame_that_lies_is_a_failure_never_a_manifest(text, reason):
    received, failures, _ = collect_streams(labeled(0, text), "")
    assert received == [] and len(failures) == 1 and reason in failures[0].reason, failures


def test_an_overlong_line_inside_a_frame_fails_it():
    lines = frame("n0", NODE).splitlines()
    lines[2] = lines[2] + "A" * (MAX_LINE + 10)
    received, failures, _ = collect_streams(labeled(0, "\n".join(lines) + "\n"), "")
    assert received == [] and "not base64/zlib" in failures[0].reason


def test_a_second_frame_replaces_the_first_and_text_around_frames_is_ignored():
    other = NODE.replace(b"node-1", b"node-9")
    text = "hello from the job script\n" + frame("n0", NODE) + "progress 50%\n" + frame("n0", other) + "bye\n"
    received, failures, _ = collect_streams(labeled(0, text), "")
    assert failures == [] and [r.document for r in received] == [other]


def test_a_task_that_failed_after_its_frame_keeps_the_manifest_and_says_so():
    stderr = "srun: error: n0: task 0: Exited with exit code 1\n" + labeled(0, "Traceback ...\nValueError: late")
    received, failures, _ = collect_streams(labeled(0, frame("n0", NODE)), stderr)
    assert [r.document for r in received] == [NODE]
    assert [f.line() for f in failures] == ["n0 (task 0): ValueError: late"]


def test_a_secret_a_node_sent_is_redacted_before_it_is_written(tmp_path):
    leaky = json.loads(NODE)
    token = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3f"
    leaky["determinism"]["warnings"] = [f"downloaded with token {token}"]
    document = json.dumps(leaky).encode()
    paths, failures = write_manifests(tmp_path, [Received(0, "n1", document), Received(1, "n2", NODE)],
                                      ManifestSet())
    assert failures == [] and sorted(p.name for p in paths) == ["n1.json", "n2.json"]
    written = (tmp_path / "n1.json").read_text()
    assert token not in written and "REDACTED" in written
    assert (tmp_path / "n2.json").read_bytes() == NODE  # nothing to redact: the node's own bytes
