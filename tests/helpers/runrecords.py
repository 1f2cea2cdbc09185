"""What two run records of the same command may differ in: only their times."""

from __future__ import annotations

import json


def without_times(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    data.pop("created")
    for key in ("started", "ended", "duration_seconds"):
        data["run"].pop(key)
    return data
