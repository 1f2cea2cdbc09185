"""The README's report/export recipe, run exactly as written."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import FIXTURES

README = Path(__file__).resolve().parents[2] / "README.md"


def paper_block() -> str:
    section = README.read_text().split("## For the paper: `report` and `export`", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_readme_paper_commands_run_as_written(tmp_path):
    shutil.copy(FIXTURES / "pytorch-pip-gpu.json", tmp_path / "envcapture.json")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    block = paper_block()
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "<title>Computational environment</title>" in (tmp_path / "environment.html").read_text()
    assert (tmp_path / "environment.tex").read_text().startswith("\\documentclass")
    assert json.loads((tmp_path / "sbom.cdx.json").read_text())["specVersion"] == "1.6"
    assert "ro-crate-metadata.json" in zipfile.ZipFile(tmp_path / "environment-crate.zip").namelist()
    assert len(block.strip().splitlines()) == 4  # a new line in the README block needs a check here
