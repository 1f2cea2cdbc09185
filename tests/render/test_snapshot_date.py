"""--apt-snapshot takes a real calendar day: anything else is one line on stderr and exit 2, and no kit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.render.conftest import MANIFESTS


def generate(tmp_path, date):
    out = tmp_path / "kit"
    proc = subprocess.run([sys.executable, "-m", "envcapture", "generate", "docker", "-m",
                           str(MANIFESTS / "distro-python.json"), "-o", str(out), "--apt-snapshot", date],
                          capture_output=True, text=True, timeout=120)
    return proc, out


@pytest.mark.parametrize("date, why", [
    ("2026-13-01", "not a calendar date"),
    ("2025-02-29", "not a calendar date"),   # 2025 is not a leap year
    ("2025-06-00", "not a calendar date"),
    ("yesterday", "words like 'yesterday' are not accepted"),
    ("9999-12-31", "in the future"),
])
def test_a_day_that_does_not_exist_is_one_line_and_exit_2(tmp_path, date, why):
    proc, out = generate(tmp_path, date)
    assert proc.returncode == 2, proc.stderr
    assert why in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def test_a_real_day_is_accepted_leap_day_included(tmp_path):
    proc, out = generate(tmp_path, "2024-02-29")
    assert proc.returncode == 0, proc.stderr
    assert "20240229T000000Z" in (out / "apt-snapshot.list").read_text()


def test_the_date_grammar_is_a_calendar_day():
    from envcapture.manifest.grammar import is_date

    assert is_date("2024-02-29") and not is_date("2023-02-29") and not is_date("2025-06-01\n")
    assert not is_date("2025-6-1") and not is_date("20250601")
