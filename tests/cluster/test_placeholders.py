"""`freeze -o` placeholders: envcapture names the file per node or task; srun's %-spelling is refused."""

from __future__ import annotations

import json
import socket

import pytest

from envcapture.errors import BadInput
from envcapture.capture.placeholders import fill

from .conftest import envcapture

SLURM_TASK = {"SLURMD_NODENAME": "gpu017", "SLURM_PROCID": "5", "SLURM_JOB_ID": "81234"}


def test_fills_node_rank_and_job_from_a_slurm_task():
    assert fill("out/{node}-{rank}-{jobid}.json", SLURM_TASK) == "out/gpu017-5-81234.json"


def test_node_falls_back_to_the_host_name_outside_slurm():
    assert fill("{node}.json", {}) == f"{socket.gethostname()}.json"
    assert fill("{hostname}.json", SLURM_TASK) == f"{socket.gethostname()}.json"


@pytest.mark.parametrize("env, rank", [({"OMPI_COMM_WORLD_RANK": "3"}, "3"), ({"RANK": "7"}, "7"),
                                       ({"SLURM_PROCID": "1", "RANK": "7"}, "1")])
def test_rank_comes_from_the_launcher(env, rank):
    assert fill("m-{rank}.json", env) == f"m-{rank}.json"


def test_no_placeholder_leaves_the_path_alone():
    assert fill("envcapture.json", SLURM_TASK) == "envcapture.json"
    assert fill("-", SLURM_TASK) == "-"


@pytest.mark.parametrize("pattern, spelling", [("%n", "{node}"), ("%N", "{node}"), ("%t", "{rank}"),
                                               ("%j", "{jobid}")])
def test_srun_patterns_are_refused_with_the_right_spelling(pattern, spelling):
    with pytest.raises(BadInput) as error:
        fill(f"node-{pattern}.json", SLURM_TASK)
    assert f"use -o node-{spelling}.json" in str(error.value)


@pytest.mark.parametrize("hostile", ["../etc", "a/b", ".hidden", "..", "x y", "n1\nn2", "/abs", "é" * 3, "a" * 201])
def test_a_value_that_is_not_a_plain_name_is_refused(hostile, tmp_path):
    with pytest.raises(BadInput) as error:
        fill(str(tmp_path / "{node}.json"), {"SLURMD_NODENAME": hostile})
    assert "not a plain file name" in str(error.value)


def test_unknown_placeholder_and_missing_value_are_named():
    with pytest.raises(BadInput, match=r"unknown placeholder \"\{nodename\}\""):
        fill("{nodename}.json", SLURM_TASK)
    with pytest.raises(BadInput, match=r"\{rank\} needs SLURM_PROCID"):
        fill("{rank}.json", {})
    with pytest.raises(BadInput, match=r"\{jobid\} needs SLURM_JOB_ID"):
        fill("{jobid}.json", {})


def test_cli_refuses_srun_spelling_in_one_line_and_writes_nothing(tmp_path):
    proc = envcapture("freeze", "-o", "node-%n.json", "--project", tmp_path, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "use -o node-{node}.json" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_names_the_file_after_the_slurm_node(tmp_path):
    proc = envcapture("freeze", "-o", tmp_path / "node-{node}.json", "--project", tmp_path, env=SLURM_TASK)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((tmp_path / "node-gpu017.json").read_text())
    assert written["scheduler"]["node"] == "gpu017" and written["scheduler"]["rank"] == 5


def test_cli_refuses_a_host_name_that_would_leave_the_folder(tmp_path):
    proc = envcapture("freeze", "-o", tmp_path / "m-{node}.json", env={"SLURMD_NODENAME": "../escaped"})
    assert proc.returncode == 2 and "not a plain file name" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path.parent / "escaped.json").exists() and list(tmp_path.iterdir()) == []


def test_cli_missing_output_folder_is_one_line(tmp_path):
    proc = envcapture("freeze", "-o", tmp_path / "nope" / "{node}.json", "--project", tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
