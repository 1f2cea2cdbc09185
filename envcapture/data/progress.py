"""A progress bar on stderr for long data work: only on a terminal, only once the work has taken a second.

The probes report plain counts through a callback; this module is the only one that knows about rich.
"""

from __future__ import annotations

import contextlib
import sys
import time

DELAY_S = 1.0


class _DelayedBar:
    """Starts a rich progress bar the first time it is told about work after DELAY_S seconds."""

    def __init__(self):
        self.started = time.monotonic()
        self.progress = None
        self.tasks: dict[str, int] = {}

    def callback(self, name: str):
        def update(state) -> None:
            if self.progress is None:
                if time.monotonic() - self.started < DELAY_S:
                    return
                self._start()
            task = self.tasks.get(name)
            if task is None:
                task = self.tasks[name] = self.progress.add_task(name, total=state.bytes_total or 1)
            self.progress.update(task, completed=state.bytes_done,
                                 description=f"{name} {state.files_done}/{state.files_total} files")
        return update

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=Console(file=sys.stderr), transient=True)
        self.progress.start()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextlib.contextmanager
def data_progress(stream=None):
    """Yields ``progress(name) -> callback`` when ``stream`` (stderr) is a terminal, else None."""
    stream = sys.stderr if stream is None else stream
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield None
        return
    bar = _DelayedBar()
    try:
        yield bar.callback
    finally:
        bar.stop()
