"""protect and protect --undo say how many files and folders got their recorded modes back, counted right.

Found by bench/mutation.py: the file count taken from the folders (``if not e.folder`` -> ``if e.folder``)
survived every test. Runs protect as the unprivileged sandbox uid, as test_protect.py does.
"""

from __future__ import annotations

from .test_protect import protected_project


def test_protect_and_undo_count_the_files_and_folders(sandbox):
    files = {"a.csv": "a", "b.csv": "b", "c/d.csv": "d", "c/e/f.csv": "f", "g.csv": "g"}
    project, data = protected_project(sandbox, files, {})
    proc = sandbox.envcapture("protect", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "5 files and 3 folders are now read-only" in proc.stderr, proc.stderr
    proc = sandbox.envcapture("protect", "--undo", "data", "-m", "m.json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "5 files and 3 folders have their recorded modes back" in proc.stderr, proc.stderr
