"""How protect opens an entry its walk found regular: the entry may have been swapped since the walk's lstat
(a stranger who can write into the data folder can do it at any moment), so the open itself must be safe for
whatever is there now: a FIFO must not block the walk, a terminal must not become protect's controlling
terminal, and no descriptor may leak into a child process.

The swap is a race no test can time, so these tests hand ``_open_file`` what the race would leave in place (a
real FIFO, a real pseudo-terminal) directly. Found by bench/mutation.py: ``_FILE_FLAGS`` losing O_NONBLOCK,
O_NOCTTY or O_CLOEXEC (``|`` -> ``//``, ``|`` -> ``&``) survived every test.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

from envcapture.data.protect import _open_file


def run_child(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """In a child so that a blocking open or a terminal acquired cannot hang or change the test runner."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)


def test_a_fifo_in_place_of_a_file_is_opened_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "swapped")
    child = run_child(f"""
        import os, signal, stat
        from envcapture.data.protect import _open_file
        signal.alarm(5)  # without O_NONBLOCK the open waits for a writer that never comes
        folder = os.open({str(tmp_path)!r}, os.O_RDONLY | os.O_DIRECTORY)
        fd = _open_file("swapped", folder)
        print("fifo" if stat.S_ISFIFO(os.fstat(fd).st_mode) else "other")
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "fifo"


def test_a_terminal_in_place_of_a_file_does_not_become_the_controlling_terminal():
    # The child is a session leader without a terminal (start_new_session): opening a terminal without
    # O_NOCTTY would make it the child's controlling terminal, and /dev/tty would then open.
    child = run_child("""
        import errno, os
        from envcapture.data.protect import _open_file
        leader, follower = os.openpty()
        name = os.ttyname(follower)
        os.close(follower)
        folder = os.open(os.path.dirname(name), os.O_RDONLY | os.O_DIRECTORY)
        fd = _open_file(os.path.basename(name), folder)
        try:
            os.close(os.open("/dev/tty", os.O_RDONLY))
            print("controlling terminal acquired")
        except OSError as exc:
            print("no controlling terminal" if exc.errno == errno.ENXIO else f"other: {exc}")
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "no controlling terminal"


def test_an_opened_file_is_not_inherited_by_a_child(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = _open_file("data.csv", folder)
        try:
            assert os.get_inheritable(fd) is False
            assert os.read(fd, 4) == b"a,b\n"
        finally:
            os.close(fd)
    finally:
        os.close(folder)


def test_a_link_in_place_of_a_file_is_not_followed(tmp_path):
    (tmp_path / "secret").write_text("not data\n")
    (tmp_path / "data.csv").symlink_to(tmp_path / "secret")
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fd = _open_file("data.csv", folder)
        except OSError as exc:
            assert exc.errno == errno.ELOOP
        else:  # an O_PATH descriptor would name the link itself, never its target
            try:
                assert os.fstat(fd).st_ino != os.stat(tmp_path / "secret").st_ino
            finally:
                os.close(fd)
    finally:
        os.close(folder)
