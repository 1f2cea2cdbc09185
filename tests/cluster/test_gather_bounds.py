"""gather's bounds on what a node sends, at the bound and one past it: the announced manifest size (256 MiB)
and the task numbers srun can label (at most 7 digits).

Found by bench/mutation.py: ``MAX_MANIFEST = 256 * 1024 * 1023`` and ``len(low) <= 8`` survived every test.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from envcapture.gather import FRAME_BEGIN, FRAME_END, collect_streams

NODE = (Path(__file__).resolve().parents[1] / "fixtures" / "compare" / "node-1.json").read_bytes()
MIB_256 = 256 * 1024 * 1024


def announcing(size: int) -> str:
    """A frame whose header announces ``size`` bytes, carrying NODE (so it can never check out)."""
    import base64

    packed = base64.b64encode(zlib.compress(NODE)).decode()
    lines = [f"{FRAME_BEGIN} 1 n0 {hashlib.sha256(NODE).hexdigest()} {size}"]
    lines += [packed[i:i + 76] for i in range(0, len(packed), 76)] + [FRAME_END]
    return "".join(f"0: {line}\n" for line in lines)


def test_a_frame_announcing_256_mib_is_read_and_checked():
    received, failures, _ = collect_streams(announcing(MIB_256), "")
    assert received == [] and [f.reason for f in failures] == [
        "its manifest arrived corrupted (size or SHA-256 does not match)"]


def test_a_frame_announcing_one_byte_more_is_refused_unread():
    received, failures, _ = collect_streams(announcing(MIB_256 + 1), "")
    assert received == [] and [f.reason for f in failures] == [
        f"announced a manifest of more than {MIB_256} bytes (refused)"]


@pytest.mark.parametrize("tasks, failed", [
    ("1234567", [1234567]),
    ("12345678", []),
    ("9999998-9999999", [9999998, 9999999]),
    ("1-12345678", []),
    ("12345678-12345679", []),
    ("3,12345678", [3]),
])
def test_srun_error_lines_name_tasks_of_at_most_seven_digits(tasks, failed):
    stderr = f"srun: error: n1: task{'s' if ',' in tasks or '-' in tasks else ''} {tasks}: Exited with exit code 1\n"
    received, failures, other = collect_streams("", stderr)
    assert received == [] and other == []
    assert [f.where for f in failures] == [f"n1 (task {task})" for task in failed]
    assert all(f.reason == "Exited with exit code 1" for f in failures)


def test_a_label_of_eight_digits_is_no_task():
    line = "12345678: " + "x" * 10 + "\n"
    received, failures, other = collect_streams("", line + "1234567: boom\n")
    assert received == [] and other == [line.rstrip("\n")]
    assert [(f.where, f.reason) for f in failures] == [("task 1234567", "boom")]
