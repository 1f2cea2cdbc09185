"""envcapture.seed_everything in a fresh interpreter each time (it changes global state: generators, finders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def record_of(code: str, env: dict | None = None) -> tuple[dict, subprocess.CompletedProcess]:
    done = python(code + "\nimport json, sys\nsys.stdout.write('\\n' + json.dumps(record))", env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done


def test_importing_it_loads_nothing_heavy():
    done = python("import sys\nfrom envcapture import seed_everything\nprint(sorted(sys.modules))")
    loaded = set(eval(done.stdout))
    assert "envcapture.seed" in loaded
    heavy = {"numpy", "packaging", "rich", "jinja2", "psutil", "blake3", "envcapture.cli", "envcapture.manifest",
             "importlib.metadata", "subprocess", "json"}
    assert heavy & loaded == set()


def test_seeds_random_and_numpy_imported_before_and_after_the_call():
    record, done = record_of("import random\nfrom envcapture import seed_everything\nrecord = seed_everything(7)\n"
                             "import numpy\nprint(random.random(), numpy.random.rand())")
    import numpy
    import random

    random.seed(7)
    numpy.random.seed(7)
    assert done.stdout.splitlines()[0] == f"{random.random()} {numpy.random.rand()}"
    seeded = {entry["name"]: entry for entry in record["seeded"]}
    assert seeded["random"]["when"] == "at call" and seeded["numpy"]["when"] == "on import"
    assert seeded["numpy"]["version"] == numpy.__version__
    assert "numpy" not in record["waiting"] and "torch" in record["waiting"]


def test_a_framework_the_program_never_imports_is_not_imported():
    done = python("import sys\nfrom envcapture import seed_everything\nseed_everything(1)\n"
                  "print('numpy' in sys.modules)")
    assert done.stdout.strip() == "False"


def test_pythonhashseed_set_from_inside_is_named_with_the_value_to_set():
    record, done = record_of("import os\nos.environ['PYTHONHASHSEED'] = '5'\n"
                             "from envcapture import seed_everything\nrecord = seed_everything(5)")
    assert [p["name"] for p in record["not_set"]] == ["PYTHONHASHSEED"]
    assert record["not_set"][0]["value_to_set"] == "5"
    assert "PYTHONHASHSEED=5" in done.stderr  # the warning names the variable and the value


def test_pythonhashseed_set_at_start_is_recorded_without_a_warning():
    record, done = record_of("from envcapture import seed_everything\nrecord = seed_everything(5)",
                             {"PYTHONHASHSEED": "5"})
    assert record["not_set"] == [] and record["environment"] == {"PYTHONHASHSEED": "5"}
    assert "PYTHONHASHSEED" not in done.stderr


def test_pythonhashseed_set_at_start_is_found_behind_a_large_environment():
    """The start-up environment is read whole: 1.1 MiB of other variables before it (the kernel allows 2 MiB of
    arguments and environment) do not hide it."""
    big = {f"ENVCAPTURE_TEST_BIG_{i}": "x" * (120 * 1024) for i in range(9)}
    record, done = record_of("from envcapture import seed_everything\nrecord = seed_everything(5)",
                             {**big, "PYTHONHASHSEED": "5"})
    assert record["not_set"] == [] and record["environment"] == {"PYTHONHASHSEED": "5"}


@pytest.mark.parametrize("seed", ["-1", "2**32", "True", "1.5", "'1'"])
def test_a_seed_numpy_would_refuse_is_refused_at_once(seed):
    done = python(f"from envcapture import seed_everything\nseed_everything({seed})")
    assert done.returncode == 1 and "ValueError: seed must be an integer from 0 to 4294967295" in done.stderr


def test_the_record_saves_as_the_run_schema_says():
    from envcapture.manifest.schema import _seed_record
    from envcapture.manifest.validator import compile_schema
    from envcapture.manifest import grammar

    record, _ = record_of("import numpy\nfrom envcapture import seed_everything\nrecord = seed_everything(3)")
    check = compile_schema({**_seed_record(), "$defs": {}}, {n: rule for n, (rule, _) in grammar.RULES.items()})
    assert check(record) == []


def test_worker_seeds_follow_the_base_seed():
    # The DataLoader helper without torch: a worker seeds random and NumPy from what it is given.
    done = python("import random, numpy\nfrom envcapture import seed_worker\n"
                  "seed_worker(3); a = (random.random(), numpy.random.rand())\n"
                  "seed_worker(3); b = (random.random(), numpy.random.rand())\n"
                  "seed_worker(4); c = (random.random(), numpy.random.rand())\nprint(a == b, a == c)")
    assert done.stdout.strip() == "True False"
