"""The subprocess wrapper for packer and vagrant, run against real processes (sh, sleep)."""

from __future__ import annotations

import time

import pytest

from envcapture.build.tool import find_tool, run_streamed, tool_version
from envcapture.errors import EXIT_TOOL_FAILED, ToolFailed


def test_streams_every_line_in_order_and_keeps_them_when_asked():
    seen = []
    run = run_streamed(["sh", "-c", "echo one; echo two >&2; echo three"], echo=seen.append, keep_lines=True)
    assert seen == ["one", "two", "three"]
    assert run.lines == seen and run.returncode == 0


def test_failure_raises_tool_failed_with_the_last_lines_only():
    script = "for i in $(seq 1 100); do echo line$i; done; echo 'Error: the real reason' >&2; exit 7"
    with pytest.raises(ToolFailed) as caught:
        run_streamed(["sh", "-c", script], echo=lambda line: None, what="packer build")
    error = caught.value
    assert error.exit_code == EXIT_TOOL_FAILED
    assert "packer build failed (exit 7)" in str(error)
    tail = error.tail.splitlines()
    assert tail[-1] == "Error: the real reason"
    assert "line1" not in tail and len(tail) <= 25


def test_timeout_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "child.pid"
    # The grandchild (sleep) would outlive a plain kill of sh; it must be gone too.
    script = f"sleep 60 & echo $! > {pid_file}; echo started; wait"
    started = time.monotonic()
    with pytest.raises(ToolFailed, match="did not finish within 1 s") as caught:
        run_streamed(["sh", "-c", script], echo=lambda line: None, timeout=1, what="vagrant up")
    assert time.monotonic() - started < 20
    assert "started" in caught.value.tail
    grandchild = int(pid_file.read_text())
    assert _gone(grandchild)


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: its parent was killed and nobody may reap it in a container)."""
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_missing_tool_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolFailed, match=r"packer is not installed .*install Packer"):
        find_tool("packer")


def test_missing_executable_in_argv_is_tool_failed_not_a_traceback(tmp_path):
    with pytest.raises(ToolFailed, match="is not installed"):
        run_streamed([str(tmp_path / "vagrant"), "up"], echo=lambda line: None)


def test_tool_version_parses_the_first_dotted_number(tmp_path):
    fake = tmp_path / "packer"
    fake.write_text("#!/bin/sh\necho 'Packer v1.6.6'\necho 'Your version of Packer is out of date! 1.11.2'\n")
    fake.chmod(0o755)
    assert tool_version(str(fake)) == (1, 6, 6)
