"""What two run records of the same command may differ in: only their times."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def without_times(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    data.pop("created")
    for key in ("started", "ended", "duration_seconds"):
        data["run"].pop(key)
    return data


# `python -m envcapture` of this checkout, without putting the checkout on PYTHONPATH (the recorded program would
# inherit it): the run tests clear PYTHONPATH so the program runs as a user's would, and the installed package
# may be another checkout (bench/mutation.py runs the tests in copies of the tree, each with its mutant).
ROOT = Path(__file__).resolve().parents[2]
CLI = (sys.executable, "-c", f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); "
                             "runpy.run_module('envcapture', run_name='__main__', alter_sys=True)")
