"""End to end on a real Slurm (3 nodes on one machine, .ci/start-slurm.sh): `envcapture gather` and the
README's cluster recipe, run verbatim, each give one manifest per node and a diff that names the odd node.

The nodes share this machine's file system and Python, so a node differs the way it would on a cluster with
a drifted environment: the CI cluster's TaskProlog gives the task on a node the environment variables in
$ENVCAPTURE_NODE_ENV/<node> (here VIRTUAL_ENV, another virtualenv, so freeze records another interpreter).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, envcapture


def make_venv(folder: Path, packages: dict) -> Path:
    """A real virtualenv (no pip: fast) with installed distributions' metadata for ``packages``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next((folder / "lib").glob("python*/site-packages"))
    for name, version in packages.items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("pip\n")
    return folder


@pytest.fixture(scope="module")
def node_envs(tmp_path_factory, slurm_nodes):
    """n1 and n2 get a venv with numpy 1.26.4, the third node one with numpy 2.1.3."""
    root = tmp_path_factory.mktemp("node-envs")
    usual = make_venv(root / "usual", {"numpy": "1.26.4", "six": "1.16.0"})
    odd = make_venv(root / "odd", {"numpy": "2.1.3", "six": "1.16.0"})
    per_node = root / "per-node"
    per_node.mkdir()
    for node in slurm_nodes:
        (per_node / node).write_text(f"export VIRTUAL_ENV={odd if node == slurm_nodes[-1] else usual}\n")
    return {"ENVCAPTURE_NODE_ENV": str(per_node)}, slurm_nodes


def numpy_difference(diff_json: dict) -> dict:
    return next(d for d in diff_json["differences"] if d["section"] == "python_packages" and d["item"] == "numpy")


def test_gather_writes_one_manifest_per_node_and_names_the_odd_node(node_envs, tmp_path):
    env, nodes = node_envs
    proc = envcapture("gather", "-o", tmp_path / "out", "--format", "json", "--", f"--nodes={len(nodes)}",
                      env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # 1: the nodes differ
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"{node}.json" for node in nodes]
    for node in nodes:
        manifest = json.loads((tmp_path / "out" / f"{node}.json").read_text())
        assert manifest["scheduler"]["kind"] == "slurm" and manifest["scheduler"]["node"] == node
    result = json.loads(proc.stdout)
    numpy = numpy_difference(result)
    assert numpy["values"] == ["1.26.4"] * (len(nodes) - 1) + ["2.1.3"]
    assert numpy["majority"] == {"value": "1.26.4", "count": len(nodes) - 1}
    assert numpy["minority"] == [{"value": "2.1.3", "labels": [nodes[-1]]}]
    assert [d["item"] for d in result["differences"] if d["section"] == "python_packages"] == ["numpy"]


def test_gather_keeps_the_other_nodes_when_one_fails(node_envs, tmp_path):
    env, nodes = node_envs
    broken = tmp_path / "per-node"
    broken.mkdir()
    for node in nodes:
        text = (Path(env["ENVCAPTURE_NODE_ENV"]) / node).read_text()
        (broken / node).write_text("export VIRTUAL_ENV=/nonexistent-venv\n" if node == nodes[1] else text)
    proc = envcapture("gather", "-o", tmp_path / "out", "--", f"--nodes={len(nodes)}",
                      env={"ENVCAPTURE_NODE_ENV": str(broken)}, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if "no manifest from" in line]
    assert failed == [f"envcapture: no manifest from {nodes[1]} (task 1): /nonexistent-venv: no Python "
                      "interpreter found in this environment"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{nodes[0]}.json", f"{nodes[2]}.json"]
    assert "Traceback" not in proc.stderr


def readme_cluster_recipe() -> list[str]:
    """The command lines of the README's Slurm section, exactly as written there."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Is every node of my cluster the same? (Slurm)", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_recipe_runs_verbatim_on_slurm(node_envs, tmp_path):
    env, nodes = node_envs
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    lines = readme_cluster_recipe()
    assert any(line.startswith("srun ") for line in lines) and any("envcapture gather" in line for line in lines)
    outputs = {}
    for line in lines:
        proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                              env={**os.environ, **env})
        assert "Traceback" not in proc.stderr, line
        # freeze succeeds; the diff and gather exit 1 because one node differs
        assert proc.returncode == (0 if line.startswith("srun ") else 1), (line, proc.stderr)
        outputs[line] = proc.stdout
    assert sorted(p.name for p in tmp_path.glob("node-*.json")) == [f"node-{node}.json" for node in nodes]
    text_diff = next(out for line, out in outputs.items() if line.startswith("envcapture diff node-*.json "))
    assert re.search(r"numpy\s.*1\.26\.4.*1\.26\.4.*2\.1\.3", text_diff), text_diff
    markdown = next(out for line, out in outputs.items() if "--format markdown" in line)
    assert "| Python packages | error | numpy | 1.26.4 | 1.26.4 | **2.1.3** |" in markdown, markdown
    page = (tmp_path / "cluster.html").read_text()
    assert page.count('<td class="cell-error"') == 1 and f'title="node-{nodes[-1]}: 2.1.3"' in page
    assert sorted(p.name for p in (tmp_path / "manifests").iterdir()) == [f"{node}.json" for node in nodes]
