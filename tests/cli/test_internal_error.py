"""A bug is not "a difference was found": its own exit code (4), one summary line, then the traceback."""

import re
import subprocess
import sys
from pathlib import Path

from envcapture import errors

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
    assert proc.returncode == 4  # the README's number, not the constant: a changed constant breaks the contract
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("envcapture: internal error (a bug in envcapture ")
    assert "KeyError" in first and "planted bug" in first
    assert rest[0] == "Traceback (most recent call last):" and "in broken" in proc.stderr
    assert "\x1b" not in proc.stderr and "\\x1b]0;title" in first  # the message is escaped like every other
    assert proc.stdout == ""


def readme_exit_codes() -> dict[int, str]:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    sentence = " ".join(readme.partition("Exit codes, for every command:")[2].partition(". ")[0].split())
    return {int(code): what for code, what in re.findall(r"`(\d)` ([^,`]+)", sentence)}


def test_the_readme_names_exit_code_4():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`4` an internal error (a bug in envcapture)" in readme


def test_every_exit_code_constant_is_the_number_the_readme_documents():
    documented = readme_exit_codes()
    assert sorted(documented) == [0, 1, 2, 3, 4], documented
    for name, starts in (("EXIT_OK", "success"), ("EXIT_DIFFERENT", "a difference was found"),
                         ("EXIT_BAD_INPUT", "bad input"), ("EXIT_TOOL_FAILED", "a required external tool"),
                         ("EXIT_INTERNAL_ERROR", "an internal error")):
        code = getattr(errors, name)
        assert documented.get(code, "").startswith(starts), (name, code, documented)
    assert errors.BadInput("x").exit_code == 2 and errors.ToolFailed("x").exit_code == 3
