"""A bug is not "a difference was found": its own exit code (4), one summary line, then the traceback."""

import subprocess
import sys

from envcapture.errors import EXIT_DIFFERENT, EXIT_INTERNAL_ERROR

PLANTED = """
import envcapture.manifest.file as manifest_file
def broken():
    raise KeyError("planted bug \\x1b]0;title\\x07")
manifest_file.schema_text = broken
from envcapture.cli import main
raise SystemExit(main(["schema"]))
"""


def test_a_bug_exits_4_with_one_summary_line_then_the_traceback():
    proc = subprocess.run([sys.executable, "-c", PLANTED], capture_output=True, text=True, timeout=60)
    assert proc.returncode == EXIT_INTERNAL_ERROR != EXIT_DIFFERENT
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("envcapture: internal error (a bug in envcapture ")
    assert "KeyError" in first and "planted bug" in first
    assert rest[0] == "Traceback (most recent call last):" and "in broken" in proc.stderr
    assert "\x1b" not in proc.stderr and "\\x1b]0;title" in first  # the message is escaped like every other
    assert proc.stdout == ""


def test_the_readme_names_exit_code_4():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`4` an internal error (a bug in envcapture)" in readme
