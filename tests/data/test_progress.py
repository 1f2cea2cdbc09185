"""The progress bar: only on a terminal, only after a second of work, on stderr."""

from __future__ import annotations

import io
import os

from envcapture.data import progress as progress_module
from envcapture.data.fingerprint import Progress


def test_no_bar_on_a_pipe():
    with progress_module.data_progress(io.StringIO()) as bar:
        assert bar is None


def read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_bar_on_a_terminal_once_the_work_takes_longer_than_the_delay(monkeypatch):
    leader, follower = os.openpty()
    terminal = os.fdopen(follower, "w")
    monkeypatch.setattr(progress_module.sys, "stderr", terminal)
    state = Progress(files_total=10, bytes_total=1000, files_done=3, bytes_done=300)
    with progress_module.data_progress(terminal) as bar:
        callback = bar("raw")
        callback(state)  # within the first second: nothing yet
        terminal.flush()
        assert read_all(leader) == b""
        monkeypatch.setattr(progress_module, "DELAY_S", 0.0)
        callback(state)
    terminal.flush()
    shown = read_all(leader)
    terminal.close()
    os.close(leader)
    assert b"raw 3/10 files" in shown
