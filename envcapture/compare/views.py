"""The views of a comparison: a rich text table, Markdown (for CI comments), JSON (docs/compare-json.md)."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

from envcapture.compare.grading import Comparison, Difference, _shown, label_list
from envcapture.compare.rules import ERROR, WARNING
from envcapture.text import printable

# Every view prints values read from manifests, live environments and images (check --image runs a probe in
# an image a stranger may have made): control characters and bidi marks are shown escaped (grammar.printable),
# and text views take values as rich Text, never as markup.


GRADE_STYLE = {ERROR: "bold red", WARNING: "yellow"}
SECTION_TITLES = {"python": "Python", "python_packages": "Python packages", "conda": "conda", "os": "Operating system",
                  "system_packages": "System packages", "hardware": "Hardware", "gpu": "GPU",
                  "determinism": "Determinism settings", "code": "Code", "data": "Data sets",
                  "run": "Run (command, outputs, seeds and switches as the run set them)"}


def _console():
    from rich.console import Console

    # Not a terminal (a CI log, a pipe): wide enough that a version is never wrapped in two.
    out = Console()
    return out if out.is_terminal else Console(width=200, no_color=True)


def verdict_line(result: Comparison, command: str) -> str:
    errors, warnings = result.count(ERROR), result.count(WARNING)
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    if command == "diff":
        if result.same:
            return f"same: the {len(result.labels)} manifests agree on every compared fact"
        return f"different: {counts}"
    if result.ok:
        note = f" ({counts})" if warnings else ""
        return f"OK: {result.labels[1]} satisfies {result.labels[0]}{note}"
    return f"DRIFT: {result.labels[1]} does not satisfy {result.labels[0]}: {counts}"


def render_text(result: Comparison, command: str, console=None) -> None:
    from rich.table import Table
    from rich.text import Text

    console = console or _console()
    n = len(result.labels)
    ok = result.same if command == "diff" else result.ok
    verdict = Text(printable(verdict_line(result, command)), style="bold green" if ok else "bold red")
    # The verdict comes first (a long report must not hide it) and again last when tables came between.
    console.print(Text(f"Comparing {printable(heading(result.labels))}", style="bold"))
    console.print(verdict)
    by_section = sections_with_errors_first(result.differences)
    if n > MATRIX_COLUMNS and result.differences:
        _print_spread_table(console, result)
        by_section = {}
    elif n > 2 and result.differences:
        # One matrix for a few machines: a row per differing fact, a column per manifest, odd values highlighted.
        by_section = {"matrix": result.differences}
    for section, differences in by_section.items():
        title = "What differs, and where" if section == "matrix" else SECTION_TITLES.get(section, section)
        table = Table(title=title, title_justify="left", show_lines=False)
        if section == "matrix":
            table.add_column("section")
        table.add_column("grade")
        table.add_column("what")
        for label in result.labels:
            table.add_column(Text(printable(label)), overflow="fold")
        shown, hidden = shown_rows(differences)
        for difference in shown:
            cells = [Text(printable(v) if v is not None else "-", style=_cell_style(difference, i)) for i, v in
                     enumerate(difference.values)]
            first = [SECTION_TITLES.get(difference.section, difference.section)] if section == "matrix" else []
            table.add_row(*first, Text(difference.grade, style=GRADE_STYLE[difference.grade]),
                          Text(printable(shown_what(difference))), *cells)
        console.print(table)
        if hidden:
            console.print(Text(hidden_note(hidden), style="dim"))
    if n > 2 and len(result.groups) > 1:
        console.print(Text("Groups of identical manifests:", style="bold"))
        for group in result.groups:
            console.print(Text(f"  {printable(group_line(group))}"))
    for reason, sections in _by_reason(result.not_compared).items():
        console.print(Text(printable(f"not compared: {', '.join(sections)} ({reason})"), style="dim"))
    if result.differences or result.not_compared or (n > 2 and len(result.groups) > 1):
        console.print(verdict)


def sections_with_errors_first(differences: list[Difference]) -> dict[str, list[Difference]]:
    """The differences by section, in the order recorded, except that a section holding an error comes before
    the sections that hold only warnings (hundreds of system-package warnings must not push an error off screen)."""
    by_section: dict[str, list[Difference]] = {}
    for difference in differences:
        by_section.setdefault(difference.section, []).append(difference)
    has_error = {section: any(d.grade == ERROR for d in items) for section, items in by_section.items()}
    return dict(sorted(by_section.items(), key=lambda item: not has_error[item[0]]))


MAX_ROWS = 40
# Up to this many manifests a matrix (a column each) is readable; past it, each fact is shown as the value most
# manifests have and the manifests that differ from it.
MATRIX_COLUMNS = 6
MAX_NAMED = 20


def heading(labels: list[str]) -> str:
    if len(labels) <= MATRIX_COLUMNS:
        return " vs ".join(labels)
    return f"{len(labels)} manifests: {label_list(labels, MATRIX_COLUMNS)}"


def group_line(group: list[str]) -> str:
    return f"{len(group)}: {label_list(group, MAX_NAMED)}" if len(group) > MAX_NAMED else ", ".join(group)


def spread_cells(difference: Difference, labels: list[str]) -> tuple[str, str]:
    """("1.26.4 on 497 nodes", "2.1.3 on n017, n233, n301; (missing) on n400")."""
    (value, where), others = difference.spread(labels)
    most = f"{_shown(value)} on {label_list(where, 5, 'nodes')}"
    return most, "; ".join(f"{_shown(v)} on {label_list(ls, MAX_NAMED)}" for v, ls in others)


def _print_spread_table(console, result: Comparison) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"What differs across {len(result.labels)} manifests", title_justify="left")
    for column in ("section", "grade", "what", "most have", "differs on"):
        table.add_column(column, overflow="fold")
    shown, hidden = shown_rows(result.differences)
    for difference in shown:
        most, others = spread_cells(difference, result.labels)
        table.add_row(SECTION_TITLES.get(difference.section, difference.section),
                      Text(difference.grade, style=GRADE_STYLE[difference.grade]), Text(printable(difference.what)),
                      Text(printable(most)), Text(printable(others), style=GRADE_STYLE[difference.grade]))
    console.print(table)
    if hidden:
        console.print(Text(hidden_note(hidden), style="dim"))


def shown_what(difference: Difference) -> str:
    if difference.by_design:
        return f"{difference.what}: not reproduced, by design: {difference.by_design}"
    return difference.what


def shown_rows(differences: list[Difference], limit: int = MAX_ROWS) -> tuple[list, list]:
    """At most ``limit`` rows of a table, errors first: a dev machine against a slim image differs in
    hundreds of system packages, and the few installed by hand are what matter."""
    if len(differences) <= limit:
        return differences, []
    ranked = sorted(differences, key=lambda d: d.grade != ERROR)
    keep = {id(d) for d in ranked[:limit]}
    return [d for d in differences if id(d) in keep], [d for d in differences if id(d) not in keep]


def hidden_note(hidden: list[Difference]) -> str:
    errors = sum(1 for d in hidden if d.grade == ERROR)
    return (f"... and {len(hidden)} more ({errors} errors, {len(hidden) - errors} warnings): "
            "--format json lists every difference")


def _by_reason(not_compared: dict) -> dict:
    grouped: dict = {}
    for section, reason in not_compared.items():
        grouped.setdefault(reason, []).append(section)
    return grouped


def _majority(values: list):
    counts = Counter(v for v in values)
    return counts.most_common(1)[0][0] if counts else None


def _cell_style(difference: Difference, index: int) -> str:
    """Values that differ from the most common one stand out (the odd node in a cluster)."""
    if len(difference.values) == 2:
        return "" if index == 0 else GRADE_STYLE[difference.grade]
    return GRADE_STYLE[difference.grade] if difference.values[index] != _majority(difference.values) else "dim"


def _md_cell(value) -> str:
    text = "-" if value is None else printable(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")


def render_markdown(result: Comparison, command: str) -> str:
    lines = [f"## envcapture {command}: {_md_cell(heading(result.labels))}", ""]
    lines.append(f"**{_md_cell(verdict_line(result, command))}**")
    lines.append("")
    if result.differences and len(result.labels) > MATRIX_COLUMNS:
        lines.append("| section | grade | what | most have | differs on |")
        lines.append("|---|---|---|---|---|")
        shown, hidden = shown_rows(result.differences, limit=100)
        for d in shown:
            most, others = spread_cells(d, result.labels)
            lines.append(f"| {SECTION_TITLES.get(d.section, d.section)} | {d.grade} | {_md_cell(d.what)} | "
                         f"{_md_cell(most)} | **{_md_cell(others)}** |")
        lines.append("")
        if hidden:
            lines += [hidden_note(hidden), ""]
    elif result.differences:
        lines.append("| section | grade | what | " + " | ".join(_md_cell(l) for l in result.labels) + " |")
        lines.append("|---|---|---|" + "---|" * len(result.labels))
        shown, hidden = shown_rows(result.differences, limit=100)
        for d in shown:
            values = []
            for i, value in enumerate(d.values):
                cell = _md_cell(value)
                odd = (i > 0 and value != d.values[0]) if len(d.values) == 2 else value != _majority(d.values)
                values.append(f"**{cell}**" if odd else cell)
            lines.append(f"| {SECTION_TITLES.get(d.section, d.section)} | {d.grade} | {_md_cell(shown_what(d))} | "
                         + " | ".join(values) + " |")
        lines.append("")
        if hidden:
            lines += [hidden_note(hidden), ""]
    if len(result.labels) > 2 and len(result.groups) > 1:
        lines.append("Groups of identical manifests: " + "; ".join(
            "{" + _md_cell(group_line(g)) + "}" for g in result.groups))
        lines.append("")
    for reason, sections in _by_reason(result.not_compared).items():
        lines.append(f"- not compared: {_md_cell(', '.join(sections))} ({_md_cell(reason)})")
    return "\n".join(lines).rstrip("\n") + "\n"


def terminal_safe_json(text: str) -> str:
    """JSON with C1 controls and bidi marks written as \\u escapes: the same data, nothing a terminal obeys
    (json.dumps already escapes C0 controls)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
