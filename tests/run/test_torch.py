"""`envcapture run --seed` on an unmodified PyTorch training loop: bit-identical results and records apart from
times, another seed another result, and the record names what was seeded and which switches the run set.

PyTorch is not a test dependency (a CPU wheel is hundreds of MB): the test runs where the test's Python can
import torch (`pip install torch`), and is skipped with that reason elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runrecords import CLI, without_times

pytestmark = pytest.mark.slow

TRAIN = """
import torch
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
X = torch.randn(256, 8)
y = X.sum(1, keepdim=True) + 0.1 * torch.randn(256, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
for epoch in range(3):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
weights = torch.cat([p.detach().flatten() for p in model.parameters()])
print(weights.numpy().tobytes().hex())
"""


def torch_importable() -> bool:
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def envcapture(args: list[str], cwd: Path, command: str = "run") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(cwd.parent / f"{cwd.name}-cache")
    return subprocess.run([*CLI, command, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    if not torch_importable():
        pytest.skip(f"torch is not importable by {sys.executable} (pip install torch: a CPU wheel is enough)")
    project = tmp_path_factory.mktemp("torch-project")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "train.py").write_text(TRAIN)
    records = project.parent / f"{project.name}-runs"
    records.mkdir()
    done = {}
    for name, seed in (("one", 1), ("again", 1), ("two", 2)):
        run = envcapture(["-o", f"{records}/run.json", "--seed", str(seed), "--", sys.executable, "train.py"],
                         project)  # the same command line each time: the records differ only where the runs did
        assert run.returncode == 0, run.stderr
        (records / "run.json").rename(records / f"{name}.json")
        done[name] = (run.stdout, json.loads((records / f"{name}.json").read_text()), records / f"{name}.json")
    return done


def test_the_same_seed_gives_bit_identical_weights_and_records_apart_from_times(runs):
    (out_one, one, path_one), (out_again, again, path_again) = runs["one"], runs["again"]
    assert out_one == out_again and len(out_one.strip()) > 100
    assert without_times(one) == without_times(again)
    shown = envcapture([str(path_one), str(path_again), "--format", "json"], path_one.parent, "diff")
    assert [d["what"] for d in json.loads(shown.stdout)["differences"]] in ([], ["duration"])


def test_another_seed_gives_other_weights(runs):
    assert runs["one"][0] != runs["two"][0]
    shown = envcapture([str(runs["one"][2]), str(runs["two"][2]), "--format", "json"], runs["one"][2].parent, "diff")
    assert "seed" in [d["what"] for d in json.loads(shown.stdout)["differences"]]


def test_the_record_names_torch_seeded_on_import_and_the_switches_the_run_set(runs):
    run = runs["one"][1]["run"]
    [record] = run["seed_records"]
    seeded = {s["name"]: s for s in record["seeded"]}
    assert seeded["torch"]["when"] == "on import" and "torch.manual_seed(1)" in seeded["torch"]["call"]
    assert seeded["torch"]["version"].startswith(__import__("importlib.metadata").metadata.version("torch")[:4])
    assert record["switches"]["torch.use_deterministic_algorithms"] == "warn_only"  # the hook never raises
    assert record["switches"]["torch.backends.cudnn.deterministic"] is True
    assert record["switches"]["torch.backends.cudnn.benchmark"] is False
    assert record["environment"]["PYTHONHASHSEED"] == "1"
    assert record["environment"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert "torch" in run["used"]["python_packages"]
