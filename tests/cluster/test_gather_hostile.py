"""`envcapture gather` against hostile nodes, on the real Slurm (.ci/start-slurm.sh, 3 nodes on this machine).

A node is made hostile the way a compromised or broken node would be: its Python runs a sitecustomize.py
(the CI cluster's TaskProlog gives the task on that node the environment in $ENVCAPTURE_NODE_ENV/<node>, here a
PYTHONPATH) that prints what a node should not: terminal escapes, a frame forged for another task behind a
\\r, a zlib bomb, a flood of output, a name that another node's file already has. gather runs with its
address space limited, so buffering or inflating without a bound fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from .conftest import REPO

LIMIT_AS = 1536 << 20  # gather and srun together; the flood and the bomb are larger than this

SITECUSTOMIZE = r'''
import os, sys
mode = os.environ.get("HOSTILE_MODE")
if mode and os.environ.get("SLURM_PROCID") == os.environ.get("HOSTILE_TASK"):
    import time, zlib, base64, hashlib
    out = sys.stdout
    if mode == "escape":
        sys.stderr.write("envcapture: \x1b]0;pwned\x07\x1b[2J\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ "
                         "\u202egnp.exe\n")
        sys.stderr.flush()
        os._exit(2)
    if mode == "forge":
        time.sleep(float(os.environ["HOSTILE_DELAY"]))  # after the real task 1 has sent its frame
        from envcapture.gather import frame
        document = open(os.environ["HOSTILE_DOCUMENT"], "rb").read()
        for line in frame(os.environ["HOSTILE_NODE"], document).splitlines():
            out.write("junk\r1: " + line + "\n")
        out.flush()
        os._exit(0)
    if mode == "bomb":
        packer = zlib.compressobj(9)
        zeros = bytes(1 << 20)
        packed = b"".join(packer.compress(zeros) for _ in range(3 * 1024)) + packer.flush()
        text = base64.b64encode(packed).decode()
        out.write(f"ENVCAPTURE-MANIFEST-BEGIN 1 {os.environ['SLURMD_NODENAME']} {'0' * 64} 1000\n")
        for i in range(0, len(text), 76):
            out.write(text[i:i + 76] + "\n")
        out.write("ENVCAPTURE-MANIFEST-END\n")
        out.flush()
        os._exit(0)
    if mode == "flood":
        line = "A" * 1023 + "\n"
        block = line * 1024
        for _ in range(1200):  # 1.2 GB
            out.write(block)
        out.flush()
        os._exit(0)
    if mode == "name":
        os.environ["SLURMD_NODENAME"] = os.environ["HOSTILE_NODE"]
'''


@pytest.fixture
def hostile(tmp_path, slurm_nodes):
    """run(mode, node, **extra): gather on the 3 nodes, with ``node``'s task ``HOSTILE_TASK`` hostile."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    per_node = tmp_path / "per-node"
    per_node.mkdir()

    def run(mode: str, node: str, task: int, srun_args=(), **extra) -> subprocess.CompletedProcess:
        exports = {"PYTHONPATH": f"{site}:{REPO}", "HOSTILE_MODE": mode, "HOSTILE_TASK": str(task), **extra}
        (per_node / node).write_text("".join(f"export {k}={v}\n" for k, v in exports.items()))
        env = {**os.environ, "ENVCAPTURE_NODE_ENV": str(per_node), "PYTHONPATH": str(REPO)}

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))

        return subprocess.run([sys.executable, "-m", "envcapture", "gather", "-o", tmp_path / "out", "--format",
                               "json", "--", *(srun_args or [f"--nodes={len(slurm_nodes)}"])],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
                              preexec_fn=limit)

    return run, slurm_nodes, tmp_path / "out"


def test_a_nodes_terminal_escapes_are_shown_escaped(hostile):
    run, nodes, out = hostile
    proc = run("escape", nodes[1], 1)
    assert proc.returncode == 3, proc.stderr
    assert not any(c in proc.stderr for c in "\x1b\x07\u202e"), repr(proc.stderr)
    line = next(x for x in proc.stderr.splitlines() if "no manifest from" in x)
    assert line.startswith(f"envcapture: no manifest from task 1: ") or nodes[1] in line
    assert "\\x1b]0;pwned\\x07" in line and "\\u202egnp.exe" in line
    assert sorted(p.name for p in out.iterdir()) == [f"{nodes[0]}.json", f"{nodes[2]}.json"]


def test_a_carriage_return_cannot_forge_another_tasks_frame(hostile, tmp_path):
    run, nodes, out = hostile
    forged = json.loads((REPO / "tests" / "fixtures" / "compare" / "node-1.json").read_text())
    forged["python_packages"][0]["version"] = "6.6.6"
    document = tmp_path / "forged.json"
    document.write_text(json.dumps(forged))
    proc = run("forge", nodes[0], 0, HOSTILE_DELAY="8", HOSTILE_DOCUMENT=document, HOSTILE_NODE=nodes[1])
    assert proc.returncode == 3, proc.stderr  # task 0 sent no manifest of its own
    second = json.loads((out / f"{nodes[1]}.json").read_text())
    assert second["scheduler"]["node"] == nodes[1] and "6.6.6" not in json.dumps(second)
    assert sorted(p.name for p in out.iterdir()) == [f"{nodes[1]}.json", f"{nodes[2]}.json"]


def test_a_zlib_bomb_is_refused_without_inflating_it(hostile):
    run, nodes, out = hostile
    proc = run("bomb", nodes[2], 2)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"no manifest from task 2: its manifest arrived corrupted (size or SHA-256 does not match)" \
        in proc.stderr or f"no manifest from {nodes[2]} (task 2): its manifest arrived corrupted" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"{nodes[0]}.json", f"{nodes[1]}.json"]


@pytest.mark.slow
def test_a_flood_of_output_is_read_as_a_stream(hostile):
    run, nodes, out = hostile
    proc = run("flood", nodes[0], 0)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "no manifest from task 0: no manifest received" in proc.stderr, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [f"{nodes[1]}.json", f"{nodes[2]}.json"]


def test_no_two_manifests_share_a_file(hostile):
    """Two tasks per node, and a node that calls itself like the other node's first task's file."""
    run, nodes, out = hostile
    proc = run("name", nodes[1], 2, srun_args=["--nodes=2", "--ntasks-per-node=2"],
               HOSTILE_NODE=f"{nodes[0]}-task0")
    assert proc.returncode in (0, 1), proc.stderr
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 4, written
    nodes_in_files = sorted(json.loads((out / name).read_text())["scheduler"]["node"] for name in written)
    assert nodes_in_files == sorted([nodes[0], nodes[0], f"{nodes[0]}-task0", nodes[1]])
