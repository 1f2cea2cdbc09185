"""The scheduler section: which node, job, partition and task a manifest was taken in, from the task's environment."""

from __future__ import annotations

import socket

from envcapture.manifest import file as manifest
from envcapture.capture.freeze import build_manifest
from envcapture.probes import ProbeContext
from envcapture.probes.scheduler import collect

# What srun gave a task on node n2 of the CI cluster (recorded with `srun -N3 env`).
SLURM_ENV = {"SLURM_JOB_ID": "4", "SLURMD_NODENAME": "n2", "SLURM_JOB_PARTITION": "debug", "SLURM_PROCID": "1",
             "SLURM_NODEID": "1", "SLURM_JOB_NUM_NODES": "3", "SLURM_CLUSTER_NAME": "envcapture-ci"}


def section(env, root=None):
    ctx = ProbeContext(env=env, **({"root": root} if root else {}))
    return collect(ctx)


def test_slurm_task():
    result = section(SLURM_ENV)
    assert result.data == {"kind": "slurm", "job_id": "4", "node": "n2", "partition": "debug", "rank": 1,
                           "node_index": 1, "nodes": 3, "cluster": "envcapture-ci", "namespace": None, "pod": None}
    assert result.warnings == []


def test_no_scheduler_is_null():
    assert section({"PATH": "/usr/bin"}).data is None


def test_pbs_and_lsf_name_the_node_by_host_name():
    pbs = section({"PBS_JOBID": "1234.pbs01", "PBS_QUEUE": "gpu", "PBS_NODENUM": "2"}).data
    assert (pbs["kind"], pbs["job_id"], pbs["partition"], pbs["node_index"]) == ("pbs", "1234.pbs01", "gpu", 2)
    assert pbs["node"] == socket.gethostname().split(".")[0]
    lsf = section({"LSB_JOBID": "77", "LSB_QUEUE": "normal"}).data
    assert (lsf["kind"], lsf["job_id"], lsf["partition"]) == ("lsf", "77", "normal")


def test_kubernetes_reads_the_namespace_file(tmp_path):
    secrets = tmp_path / "var/run/secrets/kubernetes.io/serviceaccount"
    secrets.mkdir(parents=True)
    (secrets / "namespace").write_text("ml-team\n")
    data = section({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "train-0", "NODE_NAME": "gke-pool-1"},
                   root=tmp_path).data
    assert (data["kind"], data["pod"], data["node"], data["namespace"]) == \
        ("kubernetes", "train-0", "gke-pool-1", "ml-team")


def test_hostile_values_are_left_out_with_a_warning():
    result = section({**SLURM_ENV, "SLURMD_NODENAME": "n2; rm -rf /", "SLURM_PROCID": "-1"})
    assert result.data["node"] is None and result.data["rank"] is None
    assert [w.message for w in result.warnings] == ["SLURMD_NODENAME is not a plain name: left out",
                                                    "SLURM_PROCID is not a plain number: left out"]


def test_freeze_records_it_without_include_host_and_the_manifest_validates(tmp_path):
    data = build_manifest(project=tmp_path, env={**SLURM_ENV, "PATH": "/usr/bin:/bin"})
    assert data["host"] is None and data["scheduler"]["node"] == "n2"
    assert manifest.problems(data) == []


def test_old_manifests_without_the_section_stay_valid(tmp_path):
    data = build_manifest(project=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert data["scheduler"] is None and manifest.problems(data) == []
    del data["scheduler"]
    assert manifest.problems(data) == []


def test_bounds_of_names_and_numbers(tmp_path):
    """Names up to 200 characters (the schema's bound) and numbers up to 9 digits are kept; one more is left out
    with a warning, and what is kept validates."""
    kept = section({**SLURM_ENV, "SLURM_JOB_PARTITION": "p" * 200, "SLURM_PROCID": "9" * 9})
    assert (kept.data["partition"], kept.data["rank"]) == ("p" * 200, 999_999_999) and kept.warnings == []
    data = build_manifest(project=tmp_path, env={**SLURM_ENV, "SLURM_JOB_PARTITION": "p" * 200, "PATH": "/usr/bin"})
    assert data["scheduler"]["partition"] == "p" * 200 and manifest.problems(data) == []
    refused = section({**SLURM_ENV, "SLURM_JOB_PARTITION": "p" * 201, "SLURM_PROCID": "1" * 10})
    assert (refused.data["partition"], refused.data["rank"]) == (None, None)
    assert [w.message for w in refused.warnings] == ["SLURM_JOB_PARTITION is not a plain name: left out",
                                                     "SLURM_PROCID is not a plain number: left out"]


def test_kubernetes_namespace_file_bound(tmp_path):
    secrets = tmp_path / "var/run/secrets/kubernetes.io/serviceaccount"
    secrets.mkdir(parents=True)
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "train-0"}
    (secrets / "namespace").write_text("n" * 200 + "\n")
    assert section(env, root=tmp_path).data["namespace"] == "n" * 200
    (secrets / "namespace").write_text("n" * 201 + "\n")
    assert section(env, root=tmp_path).data["namespace"] is None
    (secrets / "namespace").write_text("ml team; id\n")
    assert section(env, root=tmp_path).data["namespace"] is None
