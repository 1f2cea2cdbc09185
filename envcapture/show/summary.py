"""`envcapture show`: a readable summary of a manifest (rich tables), or the validated JSON."""

from __future__ import annotations

import sys

from envcapture.manifest import file as manifest_io


def human_size(value) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "?"


def source_text(source: dict) -> str:
    kind = source.get("kind", "index")
    if kind == "index":
        return "index"
    if kind == "vcs":
        return f"{source.get('vcs') or 'vcs'} {source.get('url') or ''} @ {(source.get('commit') or '?')[:12]}"
    detail = source.get("url") or ""
    checkout = source.get("checkout")
    if checkout:
        detail += f" (git {checkout['commit'][:12]}{', dirty' if checkout['dirty'] else ''})"
    return f"{kind} {detail}".strip()


def code_text(code: dict | None) -> str:
    if not code:
        return "not a git checkout"
    state = f"dirty ({code['dirty_files']} files)" if code.get("dirty") else "clean"
    text = f"{(code.get('commit') or '?')[:12]} on {code.get('branch') or 'detached HEAD'}, {state}"
    return text + (f", {code['remote']}" if code.get("remote") else "")


def overview_rows(m: dict) -> list[tuple[str, str]]:
    py, os_, hw = m["python"], m["os"], m["hardware"]
    libc = os_.get("libc") or {}
    os_text = (f"{os_.get('pretty_name') or os_['system']} {os_['machine']}, kernel {os_.get('kernel') or '?'}, "
               f"{libc.get('name') or 'libc'} {libc.get('version') or '?'}")
    if os_.get("container"):
        os_text += f", in a {os_['container']} container"
    if os_.get("wsl"):
        os_text += ", under WSL"
    rows = [
        ("Created", f"{m['created']} by envcapture {m['envcapture']['version']}"),
        ("Python", f"{py['implementation']} {py['version']} ({py['origin']}"
                   f"{', virtualenv' if py['is_virtualenv'] else ''}) at {py['executable']}"),
        ("OS", os_text),
        ("CPU", f"{hw.get('cpu_model') or '?'}, {hw.get('physical_cores') or '?'} cores / "
                f"{hw.get('logical_cores') or '?'} threads, {human_size(hw.get('memory_total'))} RAM"),
    ]
    if hw.get("flags"):
        rows.append(("CPU flags", " ".join(hw["flags"])))
    rows.append(("Code", code_text(m.get("code"))))
    for data_set in (m.get("data") or {}).get("sets", []):
        rows.append((f"Data {data_set['name']}",
                     f"{data_set['path']} ({data_set['role']}): {data_set['file_count']} files, "
                     f"{human_size(data_set['total_bytes'])}, {data_set['algorithm']} {data_set['root_hash'][:16]}"))
    conda = m.get("conda")
    if conda:
        rows.append(("Conda", f"{len(conda['packages'])} packages from {', '.join(conda['channels']) or '?'}"))
    system = m["system_packages"]
    if system.get("manager"):
        manual = sum(1 for p in system["packages"] if p.get("manual"))
        rows.append(("System packages",
                     f"{len(system['packages'])} {system['manager']} packages, {manual} installed by hand"))
    return rows


def package_rows(m: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for package in m["python_packages"]:
        flags = []
        if package.get("top_level"):
            flags.append("top level")
        if package.get("requested"):
            flags.append("requested")
        if package.get("index_url"):
            flags.append(f"from {package['index_url']}")
        rows.append((package["name"], package["version"], source_text(package["source"]), ", ".join(flags)))
    return rows


def determinism_rows(m: dict) -> list[tuple[str, str]]:
    det = m["determinism"]
    rows = [(name, "unset" if value is None else value) for name, value in sorted(det["environment"].items())]
    return rows


def render(m: dict, console) -> None:
    from rich.table import Table
    from rich.text import Text

    from envcapture.text import printable

    def cells(*values):  # Text, not markup: a manifest value like "[red]" is shown, never interpreted;
        return [Text(printable(value)) for value in values]  # an ESC or a bidi override is shown escaped

    overview = Table(title="Environment", show_header=False, title_justify="left", expand=False)
    overview.add_column(style="bold")
    overview.add_column()
    for key, value in overview_rows(m):
        overview.add_row(*cells(key, value))
    console.print(overview)

    packages = Table(title=f"Python packages ({len(m['python_packages'])})", title_justify="left")
    for column in ("name", "version", "source", "notes"):
        packages.add_column(column)
    for row in package_rows(m):
        packages.add_row(*cells(*row))
    console.print(packages)

    if m.get("gpu") is not None:
        try:
            from envcapture.show.gpu import render_gpu
        except ImportError:
            render_gpu = None
        if render_gpu:
            render_gpu(m["gpu"], console)

    det = Table(title="Determinism", show_header=False, title_justify="left")
    det.add_column(style="bold")
    det.add_column()
    for key, value in determinism_rows(m):
        det.add_row(*cells(key, value))
    console.print(det)
    for line in m["determinism"].get("warnings", []):
        console.print(Text("! ", style="yellow") + Text(printable(line)))

    if m["warnings"]:
        console.print(f"[bold]Warnings ({len(m['warnings'])})[/bold]")
        for warning in m["warnings"]:
            console.print(Text("  ") + Text(printable(warning["source"]), style="yellow")
                          + Text(": " + printable(warning["message"])))


def show_command(args) -> int:
    data = manifest_io.load(args.path)
    if args.format == "json":
        sys.stdout.write(manifest_io.dumps(data))
        return 0
    from rich.console import Console

    render(data, Console(highlight=False))
    return 0
