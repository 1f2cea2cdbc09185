"""`envcapture run`: the real CLI in a subprocess, a real child Python, a real git project."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runrecords import CLI, without_times

ROOT = Path(__file__).resolve().parents[2]

TRAIN = """
import random
import numpy as np
X = np.random.rand(200, 3)
y = (X.sum(1) > 1.5).astype(float)
w = np.random.randn(3)
for _ in range(50):
    idx = np.random.permutation(200)[:32]
    p = 1 / (1 + np.exp(-X[idx] @ w))
    w -= 0.1 * X[idx].T @ (p - y[idx])
with open("model.txt", "w") as handle:
    handle.write(w.tobytes().hex())
print(w.tobytes().hex(), random.random(), list({"alpha", "beta", "gamma", "delta", "epsilon"}))
"""


def envcapture(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(cwd.parent / f"{cwd.name}-cache")  # the environment cache of this test only
    env.update(kwargs.pop("env", {}))
    return subprocess.run([*CLI, "run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture
def project(tmp_path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def record(path: Path) -> dict:
    from envcapture.manifest import file as manifest_io

    return manifest_io.load(path)  # the record is a valid manifest


def test_more_files_than_a_record_lists_are_counted_not_listed(project):
    """100,000 files are listed; each one past them is counted in files_not_listed (an open that fails is an
    open the program tried: it is recorded, so this makes 100,005 distinct paths without 100,005 files)."""
    script = ("for i in range(100_005):\n    try:\n        open('missing-%d' % i, 'rb')\n"
              "    except FileNotFoundError:\n        pass\n")
    done = envcapture(["--", sys.executable, "-c", script], project)
    assert done.returncode == 0, done.stderr
    used = record(project / "run.json")["run"]["used"]
    assert len(used["files_read"]) == 100_000 and used["files_written"] == []
    assert used["files_not_listed"] == 5


def test_a_relative_open_from_the_root_folder_is_resolved_against_it(project):
    """A program started in / opening a relative path: the hook joins it to / without doubling the slash."""
    (project / "in.txt").write_text("x")
    relative = os.path.relpath(project / "in.txt", "/")
    done = envcapture(["-o", str(project / "run.json"), "--project", str(project), "--", sys.executable, "-c",
                       f"open({relative!r}).read()"], Path("/"), env={"XDG_CACHE_HOME": str(project / ".cache")})
    assert done.returncode == 0, done.stderr
    assert record(project / "run.json")["run"]["used"]["files_read"] == ["in.txt"]


def test_a_child_killed_by_sigpipe_kills_envcapture_with_sigpipe(project):
    """Python itself ignores SIGPIPE: envcapture must restore its default before dying of it, as the child did."""
    done = envcapture(["--", "sh", "-c", "kill -PIPE $$"], project)
    assert done.returncode == -signal.SIGPIPE, (done.returncode, done.stderr)
    run = record(project / "run.json")["run"]
    assert (run["status"], run["signal"]) == ("killed", "SIGPIPE")
    assert "Traceback" not in done.stderr


def test_the_programs_own_sitecustomize_failing_to_import_is_reported_as_python_reports_it(project):
    """An ImportError inside the program's own sitecustomize (of another module) is what site.py reports without
    envcapture; only the absence of a sitecustomize is silent."""
    own = project / "own"
    own.mkdir()
    # only in the program (prog.py), not in the interpreter envcapture's probe starts with the same PYTHONPATH
    (own / "sitecustomize.py").write_text("import sys\nif sys.argv[0].endswith('prog.py'):\n"
                                          "    import no_such_module_anywhere\n")
    (project / "prog.py").write_text("print('ran')\n")
    env = {"PYTHONPATH": str(own)}
    plain = subprocess.run([sys.executable, "prog.py"], cwd=project, capture_output=True, text=True,
                           env={**os.environ, **env})
    done = envcapture(["--", sys.executable, "prog.py"], project, env=env)
    assert done.returncode == 0, done.stderr
    assert "no_such_module_anywhere" in plain.stderr and plain.stdout == "ran\n"
    assert done.stdout == plain.stdout and plain.stderr in done.stderr


def test_files_opened_by_a_path_object_or_bytes_are_recorded(project):
    """open() hands the audit hook what the program passed: a pathlib.Path or bytes is a path like a str."""
    for name in ("by-path.txt", "by-bytes.txt", "by-str.txt"):
        (project / name).write_text(name)
    script = ("import pathlib\nopen(pathlib.Path('by-path.txt')).read()\nopen(b'by-bytes.txt').read()\n"
              "open('by-str.txt').read()\n")
    done = envcapture(["--", sys.executable, "-c", script], project)
    assert done.returncode == 0, done.stderr
    assert record(project / "run.json")["run"]["used"]["files_read"] == ["by-bytes.txt", "by-path.txt", "by-str.txt"]


def test_two_seeded_runs_give_the_same_result_and_the_same_record_but_times(project):
    # The records go outside the project: a record written into it is a change of the project's files.
    runs = project.parent / f"{project.name}-runs"
    runs.mkdir()
    first = envcapture(["-o", f"{runs}/run.json", "--seed", "1", "--output", "model.txt", "--", sys.executable,
                        "train.py"], project)
    assert first.returncode == 0, first.stderr
    (runs / "run.json").rename(runs / "run-1.json")
    (project / "model.txt").unlink()  # the second run starts from the same project
    second = envcapture(["-o", f"{runs}/run.json", "--seed", "1", "--output", "model.txt", "--", sys.executable,
                         "train.py"], project)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout  # the weights, random.random() and a set's order (PYTHONHASHSEED)
    # the second run's environment came from the cache the first wrote: the records must not tell them apart
    assert len(list((project.parent / f"{project.name}-cache" / "envcapture" / "run-env").iterdir())) == 1
    a, b = without_times(record(runs / "run-1.json")), without_times(record(runs / "run.json"))
    assert a == b
    shown = subprocess.run([sys.executable, "-m", "envcapture", "diff", str(runs / "run-1.json"),
                            str(runs / "run.json"), "--format", "json"], capture_output=True, text=True)
    assert [d["what"] for d in json.loads(shown.stdout)["differences"]] in ([], ["duration"])
    run = a["run"]
    assert run["status"] == "succeeded" and run["exit_code"] == 0 and run["seed"] == 1
    assert [(s["name"], s["when"]) for s in run["seed_records"][0]["seeded"]] == [("random", "on import"),
                                                                                    ("numpy", "on import")]
    assert run["seed_records"][0]["environment"]["PYTHONHASHSEED"] == "1"
    assert run["used"]["python_packages"] == ["numpy"]
    assert run["used"]["files_written"] == ["model.txt"] and "train.py" in run["used"]["files_read"]
    assert run["outputs"][0]["path"] == "model.txt"


def test_another_seed_gives_another_result(project):
    one = envcapture(["-o", "a.json", "--seed", "1", "--", sys.executable, "train.py"], project)
    two = envcapture(["-o", "b.json", "--seed", "2", "--", sys.executable, "train.py"], project)
    assert one.returncode == two.returncode == 0
    assert one.stdout.split()[0] != two.stdout.split()[0]


def test_files_read_and_written_are_recorded_as_inputs_and_outputs(project):
    (project / "data").mkdir()
    (project / "data" / "in.csv").write_text("1,2\n")
    script = ("import os\nopen('data/in.csv').read()\nos.makedirs('results', exist_ok=True)\n"
              "fd = os.open('results/out.bin', os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'x')\nos.close(fd)\n"
              "open('/etc/hostname').read()\n")
    done = envcapture(["--data", "data", "--output", "results", "--", sys.executable, "-c", script], project)
    assert done.returncode == 0, done.stderr
    data = record(project / "run.json")
    used = data["run"]["used"]
    assert used["files_read"] == ["data/in.csv"]  # /etc/hostname is outside the project and data folders
    assert used["files_written"] == ["results/out.bin"]
    assert [s["path"] for s in data["data"]["sets"]] == ["data"]  # the input, fingerprinted before
    assert data["run"]["outputs"][0]["file_count"] == 1


def test_relative_paths_and_chdir_are_resolved_before_the_roots_decide(project):
    """The hook keeps raw events and resolves them at exit: ../ out of the project is not in it, a chdir moves
    the base of the relative paths that follow."""
    (project / "sub").mkdir()
    (project / "sub" / "a.txt").write_text("a")
    (project.parent / f"{project.name}-outside.txt").write_text("o")
    script = (f"import os\nopen('sub/../sub/a.txt').read()\nopen('../{project.name}-outside.txt').read()\n"
              "os.chdir('sub')\nopen('b.txt', 'w').write('b')\nopen(os.open('a.txt', os.O_RDONLY)).read()\n")
    done = envcapture(["--", sys.executable, "-c", script], project)
    assert done.returncode == 0, done.stderr
    used = record(project / "run.json")["run"]["used"]
    assert used["files_read"] == ["sub/a.txt"] and used["files_written"] == ["sub/b.txt"]


def test_a_run_importing_only_json_used_no_third_party_package(project):
    done = envcapture(["--", sys.executable, "-c", "import json; print(json.dumps([1]))"], project)
    assert done.returncode == 0 and done.stdout == "[1]\n"
    used = record(project / "run.json")["run"]["used"]
    assert used["recorded"] is True and used["python_packages"] == []


def test_exit_code_and_stdin_pass_through(project):
    done = envcapture(["--", sys.executable, "-c", "import sys; print(input().upper()); sys.exit(3)"], project,
                      input="hello\n")
    assert (done.returncode, done.stdout) == (3, "HELLO\n")
    run = record(project / "run.json")["run"]
    assert (run["status"], run["exit_code"]) == ("failed", 3)


def test_a_crashing_child_leaves_a_record_marked_failed(project):
    done = envcapture(["--", sys.executable, "-c", "raise RuntimeError('boom')"], project)
    assert done.returncode == 1 and "RuntimeError: boom" in done.stderr
    run = record(project / "run.json")["run"]
    assert (run["status"], run["exit_code"]) == ("failed", 1)


def test_a_child_killed_by_a_signal_kills_envcapture_the_same_way_after_the_record(project):
    done = envcapture(["--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                      project)
    assert done.returncode == -signal.SIGKILL
    run = record(project / "run.json")["run"]
    assert (run["status"], run["signal"], run["exit_code"]) == ("killed", "SIGKILL", None)
    assert run["used"]["recorded"] is False and "killed" in run["used"]["problems"][0]


def test_ctrl_c_reaches_the_child_and_the_record_is_still_written(project):
    script = ("import sys, time\ntry:\n    print('ready', flush=True)\n    time.sleep(60)\n"
              "except KeyboardInterrupt:\n    print('child saw ctrl-c', flush=True)\n    raise\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen([*CLI, "run", "--", sys.executable, "-c", script],
                               cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout.readline() == "ready\n"
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does: the whole foreground group
    out, err = process.communicate(timeout=300)
    assert out == "child saw ctrl-c\n"
    assert process.returncode == -signal.SIGINT
    run = record(project / "run.json")["run"]
    assert (run["status"], run["signal"]) == ("killed", "SIGINT")


def test_the_program_sees_its_own_environment_and_sitecustomize(project):
    own = project / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import builtins\nbuiltins.OWN_SITECUSTOMIZE = True\n")
    script = ("import os, sys, builtins\nprint(getattr(builtins, 'OWN_SITECUSTOMIZE', False), "
              "os.environ.get('PYTHONPATH'), sorted(k for k in os.environ if k.startswith('ENVCAPTURE_RUN')), "
              "[p for p in sys.path if 'run/hook' in p], 'sitecustomize' in sys.modules)")
    env = {"PYTHONPATH": str(own)}
    plain = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True,
                           env={**os.environ, **env})
    done = envcapture(["--", sys.executable, "-c", script], project, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain.stdout == f"True {own} [] [] True\n"


def test_a_missing_command_is_one_line_and_exit_127(project):
    done = envcapture(["--", "no-such-command-here"], project)
    assert done.returncode == 127
    assert "no-such-command-here: command not found" in done.stderr and "Traceback" not in done.stderr
    assert record(project / "run.json")["run"]["status"] == "not started"


def test_a_bad_output_path_is_refused_before_the_command_runs(project):
    (project / "notes.txt").write_text("mine")
    done = envcapture(["-o", "notes.txt", "--", sys.executable, "-c", "open('ran', 'w')"], project)
    assert done.returncode == 2 and "not an envcapture manifest" in done.stderr
    assert not (project / "ran").exists() and (project / "notes.txt").read_text() == "mine"


def test_force_overwrites_a_file_that_is_not_a_manifest_as_the_refusal_says(project):
    (project / "notes.txt").write_text("mine")
    done = envcapture(["-o", "notes.txt", "--force", "--", sys.executable, "-c", "open('ran', 'w')"], project)
    assert done.returncode == 0, done.stderr
    assert (project / "ran").exists() and record(project / "notes.txt")["run"]["exit_code"] == 0


@pytest.mark.slow
def test_scikit_learn_training_is_reproduced_bit_for_bit(project):
    pytest.importorskip("sklearn")
    (project / "fit.py").write_text(
        "import numpy as np\nfrom sklearn.datasets import make_classification\n"
        "from sklearn.linear_model import SGDClassifier\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = make_classification(n_samples=300, random_state=np.random.randint(1 << 30))\n"
        "a, b, c, d = train_test_split(X, y, random_state=np.random.randint(1 << 30))\n"
        "model = SGDClassifier(random_state=np.random.randint(1 << 30)).fit(a, c)\n"
        "print(model.coef_.tobytes().hex(), model.score(b, d))\n")
    runs = [envcapture(["-o", f"{name}.json", "--seed", seed, "--", sys.executable, "fit.py"], project)
            for name, seed in (("a", "5"), ("b", "5"), ("c", "6"))]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout != runs[2].stdout
    used = record(project / "a.json")["run"]["used"]["python_packages"]
    assert {"numpy", "scikit-learn", "scipy"} <= set(used)


def test_a_program_calling_seed_everything_itself_is_recorded(project):
    script = ("import warnings\nwarnings.simplefilter('ignore')\nfrom envcapture import seed_everything\n"
              "record = seed_everything(3)\nimport numpy\nprint(numpy.random.rand())")
    env = {"PYTHONPATH": str(ROOT)}  # envcapture importable in the child, as in a project that depends on it
    done = envcapture(["--", sys.executable, "-c", script], project, env=env)
    assert done.returncode == 0, done.stderr
    (seed_record,) = record(project / "run.json")["run"]["seed_records"]
    assert seed_record["mode"] == "call" and seed_record["seed"] == 3
    assert ("numpy", "on import") in [(s["name"], s["when"]) for s in seed_record["seeded"]]
    assert [p["name"] for p in seed_record["not_set"]] == ["PYTHONHASHSEED"]  # no --seed: not set at start-up


def test_a_secret_in_the_run_section_is_redacted_when_the_environment_comes_from_the_cache(project):
    """The cached environment is sealed once; the run section still passes the gate on every run."""
    token = "ghp_" + "Z9y8X7w6" * 5
    first = envcapture(["-o", "first.json", "--", sys.executable, "-c", "pass"], project)
    assert first.returncode == 0, first.stderr
    assert list((project.parent / f"{project.name}-cache" / "envcapture" / "run-env").glob("*.json"))
    script = f"open('out-{token}.txt', 'w').write('x'); open('out-{token}.txt').read()"
    done = envcapture(["-o", "second.json", "--", sys.executable, "-c", script, f"--token={token}"], project)
    assert done.returncode == 0, done.stderr
    assert (project / f"out-{token}.txt").exists()  # the program's own file keeps its name
    text = (project / "second.json").read_text()
    assert token not in text and "REDACTED" in text
    second = record(project / "second.json")
    assert any("REDACTED" in path for path in second["run"]["used"]["files_written"])
    assert any("GitHub token" in w["message"] for w in second["warnings"])
    assert second["python_packages"] == record(project / "first.json")["python_packages"]
