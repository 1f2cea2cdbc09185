"""Real git repositories for tests: git run with a fixed test identity, whatever the machine's config says."""

from __future__ import annotations

import subprocess


def git(repo, *args) -> str:
    base = ["git", "-C", str(repo), "-c", "user.name=envcapture tests", "-c", "user.email=tests@invalid"]
    return subprocess.run([*base, *args], check=True, capture_output=True, text=True).stdout.strip()
