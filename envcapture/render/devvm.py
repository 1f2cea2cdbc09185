"""envcapture's own development VM: the top-level Vagrantfile, generated from a committed manifest.

    python -m envcapture.render.devvm

regenerates the provisioning kit in tests/golden/dev-vm/ and the repository's Vagrantfile, which points at
that kit. tests/render/test_devvm.py fails when either is stale.
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "tests/fixtures/manifests/dev-environment.json"
KIT_DIR = "tests/golden/dev-vm"
# The manifest's date: apt installs the exact recorded versions from that day's snapshot.
SNAPSHOT = "2026-11-26"
COMMAND = "python -m envcapture.render.devvm"


def render(repo: Path) -> dict[str, str | bytes]:
    """Relative path (from the repository root) -> content, for the kit and the top-level Vagrantfile."""
    from envcapture.render import kit, vagrant
    from envcapture.render.plan import Options, make_plan

    files = kit.build_kit(repo / MANIFEST, ("vagrant",), command=COMMAND, apt_snapshot=SNAPSHOT)
    out = {f"{KIT_DIR}/{rel}": content for rel, content in files.items()}
    import hashlib

    from envcapture.manifest import file as manifest

    raw = (repo / MANIFEST).read_bytes()
    plan = make_plan(manifest.load(repo / MANIFEST), Options(("vagrant",), COMMAND, hashlib.sha256(raw).hexdigest(),
                                                            apt_snapshot=SNAPSHOT))
    out["Vagrantfile"] = vagrant.render(plan, kit_dir=KIT_DIR + "/")["Vagrantfile"]
    return out


def main() -> int:
    from envcapture.render.kit import write_kit

    repo = Path.cwd()
    files = render(repo)
    top = files.pop("Vagrantfile")
    write_kit(repo / KIT_DIR, {rel[len(KIT_DIR) + 1:]: c for rel, c in files.items()}, force=True)
    (repo / "Vagrantfile").write_text(top, encoding="utf-8")
    print(f"wrote Vagrantfile and {KIT_DIR}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
