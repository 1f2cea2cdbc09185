"""The views of a comparison as a reader and a script see them: the text tables and verdict line, Markdown for
CI comments, the JSON contract (docs/compare-json.md) and the HTML heat map."""

from __future__ import annotations

import copy
import io
import json
import re

import pytest
from rich.console import Console

from envcapture import compare
from envcapture.compare.html import render_html
from envcapture.compare.emit import emit
from envcapture.compare.views import render_markdown, render_text, verdict_line

from .conftest import edited


def six(version: str):
    return lambda m: next(p for p in m["python_packages"] if p["name"] == "six").update(version=version)


def kernel(release: str):
    return lambda m: m["os"].update(kernel=release)


def both(*edits):
    def edit(m):
        for e in edits:
            e(m)
    return edit


def text_of(result, command: str, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=250, force_terminal=color, color_system="standard" if color else None,
                      no_color=not color)
    render_text(result, command, console=console)
    return out.getvalue()


def check(base, other, **kw):
    return compare.compare([base, other], ["envcapture.json", "live"], **kw)


# --- the verdict line -----------------------------------------------------------------------------------

def test_check_verdicts(base):
    assert verdict_line(check(base, base), "check") == "OK: live satisfies envcapture.json"
    assert verdict_line(check(base, edited(base, kernel("6.12.0"))), "check") == \
        "OK: live satisfies envcapture.json (0 errors, 1 warning)"
    drift = check(base, edited(base, both(six("1.17.0"), kernel("6.12.0"),
                                          lambda m: m["hardware"].update(cpu_model="AMD EPYC"))))
    assert verdict_line(drift, "check") == "DRIFT: live does not satisfy envcapture.json: 1 error, 2 warnings"
    two_errors = check(base, edited(base, both(six("1.17.0"), lambda m: m["os"].update(id="ubuntu"))))
    assert verdict_line(two_errors, "check").endswith(": 2 errors, 0 warnings")


def test_diff_verdicts(base):
    assert verdict_line(compare.compare([base, base, base], ["a", "b", "c"]), "diff") == \
        "same: the 3 manifests agree on every compared fact"
    assert verdict_line(compare.compare([base, edited(base, kernel("6.12.0"))], ["a", "b"]), "diff") == \
        "different: 0 errors, 1 warning"


# --- text ------------------------------------------------------------------------------------------------

def test_text_has_the_verdict_first_and_last_and_error_sections_before_warning_ones(base):
    # The kernel (operating system, a warning) is recorded before the hardware; a changed CPU model is a warning
    # too, and a missing package an error: the Python packages' table must come first all the same.
    result = check(base, edited(base, both(kernel("6.12.0"), lambda m: m["python_packages"].pop(0))))
    lines = text_of(result, "check").splitlines()
    verdict = "DRIFT: live does not satisfy envcapture.json: 1 error, 1 warning"
    assert lines[:2] == ["Comparing envcapture.json vs live", verdict] and lines[-1] == verdict
    os_only = check(base, edited(base, kernel("6.12.0")))
    warned = text_of(os_only, "check").splitlines()
    assert warned[1] == warned[-1] == "OK: live satisfies envcapture.json (0 errors, 1 warning)"
    assert text_of(check(base, base), "check").splitlines() == ["Comparing envcapture.json vs live",
                                                                 "OK: live satisfies envcapture.json"]


def test_a_section_with_an_error_comes_before_sections_with_warnings_only(base):
    from envcapture.compare.views import sections_with_errors_first

    result = check(base, edited(base, both(six("1.17.0"), kernel("6.12.0"))))
    # Recorded order put the warning-only section first: the error's section still leads, each keeps its rows.
    warnings_first = sorted(result.differences, key=lambda d: d.grade == "error")
    assert [d.section for d in warnings_first] == ["os", "python_packages"]
    sections = sections_with_errors_first(warnings_first)
    assert list(sections) == ["python_packages", "os"]
    assert [d.what for d in sections["python_packages"]] == ["six"]


def test_text_has_a_table_per_section_and_the_verdict_last(base):
    result = check(base, edited(base, both(six("1.17.0"), kernel("6.12.0"),
                                           lambda m: m["python_packages"].pop(0))))
    text = text_of(result, "check")
    lines = text.splitlines()
    assert lines[0] == "Comparing envcapture.json vs live"
    assert lines[-1] == "DRIFT: live does not satisfy envcapture.json: 2 errors, 1 warning"
    packages, system = text.index("Python packages"), text.index("Operating system")
    assert packages < system  # sections in manifest order
    assert re.search(r"│ error\s+│ idna\s+│ 3\.7\s+│ -\s+│", text)  # missing on the right: a dash
    assert re.search(r"│ error\s+│ six\s+│ 1\.16\.0\s+│ 1\.17\.0\s+│", text)
    assert re.search(r"│ warning\s+│ kernel release\s+│ 6\.1\.0-18-amd64\s+│ 6\.12\.0\s+│", text)
    assert "Groups of identical manifests" not in text  # two manifests: the columns already say it


def test_text_says_what_was_not_compared_and_why(base):
    result = check(base, base, skip={"gpu": "an image cannot tell", "hardware": "an image cannot tell",
                                     "os.kernel": "an image has no kernel of its own"})
    lines = text_of(result, "check").splitlines()
    assert "not compared: gpu, hardware (an image cannot tell)" in lines
    assert "not compared: os.kernel (an image has no kernel of its own)" in lines
    assert lines[-1] == "OK: live satisfies envcapture.json"


def test_text_shows_by_design_items_with_their_reason(base):
    image = edited(base, lambda m: m["python_packages"].remove(
        next(p for p in m["python_packages"] if p["name"] == "six")))
    result = check(base, image, by_design={("python_packages", "six"): "left to the base image"})
    assert "six: not reproduced, by design: left to the base image" in text_of(result, "check")


def many_differences(base: dict, warnings: int, errors: int) -> dict:
    """``warnings`` extra system packages (dependencies), and ``errors`` packages installed by hand, whose
    names sort after them."""
    def edit(m):
        for i in range(warnings):
            m["system_packages"]["packages"].append({"name": f"libextra{i:03d}", "version": "1.0",
                                                     "architecture": "amd64", "manual": False})
        for i in range(errors):
            m["system_packages"]["packages"].append({"name": f"zzmanual{i:03d}", "version": "1.0",
                                                     "architecture": "amd64", "manual": True})
    return edit


def test_a_long_table_keeps_every_error_and_summarises_the_warnings_it_leaves_out(base):
    """A dev machine against a slim image: hundreds of dependencies differ, the few installed by hand matter."""
    result = check(edited(base, many_differences(base, 0, 3)), edited(base, many_differences(base, 42, 0)))
    assert (result.count("error"), result.count("warning")) == (3, 42)
    text = text_of(result, "check")
    assert all(f"zzmanual{i:03d}" in text for i in range(3))  # errors first: none of them is cut
    shown = [i for i in range(42) if f"libextra{i:03d}" in text]
    assert shown == list(range(37))  # the rest of the 40 rows, in manifest order
    assert "... and 5 more (0 errors, 5 warnings): --format json lists every difference" in text
    assert text.index("zzmanual000") > text.index("libextra036")  # shown in manifest order


def test_the_row_limit_is_per_table_and_counts_errors_it_leaves_out(base):
    result = check(edited(base, many_differences(base, 0, 43)), edited(base, many_differences(base, 2, 0)))
    text = text_of(result, "check")
    assert "... and 5 more (3 errors, 2 warnings): --format json lists every difference" in text


def test_a_table_of_exactly_forty_rows_is_shown_whole(base):
    result = check(base, edited(base, many_differences(base, 40, 0)))
    text = text_of(result, "check")
    assert "libextra039" in text and "more (" not in text


def test_three_manifests_make_one_matrix_with_groups_and_the_odd_value_highlighted(base):
    odd = edited(base, six("1.17.0"))
    result = compare.compare([base, odd, copy.deepcopy(base)], ["n1", "n2", "n3"])
    plain = text_of(result, "diff")
    assert "What differs, and where" in plain and "Python packages" in plain
    assert re.search(r"│ Python packages\s+│ error\s+│ six\s+│ 1\.16\.0\s+│ 1\.17\.0\s+│ 1\.16\.0\s+│",
                     plain)
    assert "Groups of identical manifests:" in plain and "  n1, n3" in plain.splitlines()
    colored = text_of(result, "diff", color=True)
    # The odd node's value in bold red, the others dimmed.
    assert re.search(r"\x1b\[1;31m1\.17\.0", colored) and re.search(r"\x1b\[2m1\.16\.0", colored)


def test_two_manifests_highlight_the_checked_side(base):
    colored = text_of(check(base, edited(base, kernel("6.12.0"))), "check", color=True)
    assert re.search(r"\x1b\[33m6\.12\.0", colored)  # a warning's value, in yellow
    assert not re.search(r"\x1b\[[0-9;]*m6\.1\.0-18-amd64", colored)  # the reference plain


def cluster(base: dict, count: int, odd: dict) -> compare.Comparison:
    """``count`` nodes n1..nN, the ``odd`` ones (index -> version) with another six."""
    manifests = [edited(base, six(odd[i])) if i in odd else base for i in range(1, count + 1)]
    return compare.compare(manifests, [f"n{i}" for i in range(1, count + 1)])


def test_more_than_six_manifests_show_the_majority_and_where_it_differs(base):
    result = cluster(base, 7, {3: "1.17.0", 5: "1.17.0", 6: "1.15.0"})
    text = text_of(result, "diff")
    assert text.splitlines()[0] == "Comparing 7 manifests: n1, n2, n3, n4, n5, n6 and 1 more"
    assert "What differs across 7 manifests" in text
    assert re.search(r"│ Python packages\s+│ error\s+│ six\s+│ 1\.16\.0 on n1, n2, n4, n7\s+│ "
                     r"1\.17\.0 on n3, n5; 1\.15\.0 on n6\s+│", text)
    assert "  n1, n2, n4, n7" in text.splitlines()


def test_six_manifests_are_still_a_matrix(base):
    text = text_of(cluster(base, 6, {3: "1.17.0"}), "diff")
    assert text.splitlines()[0] == "Comparing n1 vs n2 vs n3 vs n4 vs n5 vs n6"
    assert "What differs, and where" in text


def test_a_large_group_is_counted_and_its_first_names_listed(base):
    result = cluster(base, 26, {1: "1.17.0"})
    lines = text_of(result, "diff").splitlines()
    named = ", ".join(f"n{i}" for i in range(2, 22))
    assert f"  25: {named} and 5 more" in lines
    result = cluster(base, 21, {1: "1.17.0"})
    assert "  " + ", ".join(f"n{i}" for i in range(2, 22)) in text_of(result, "diff").splitlines()


def test_the_majority_cell_counts_nodes_past_five(base):
    result = cluster(base, 8, {8: "1.17.0"})
    assert "1.16.0 on 7 nodes" in text_of(result, "diff")
    result = cluster(base, 7, {7: "1.17.0", 6: "1.17.0"})
    assert "1.16.0 on n1, n2, n3, n4, n5" in text_of(result, "diff")


def test_spread_table_keeps_errors_first_and_counts_the_rest(base):
    manifests = [edited(base, many_differences(base, 0, 2))] + [edited(base, many_differences(base, 45, 0))] * 6
    result = compare.compare(manifests, [f"n{i}" for i in range(1, 8)])
    text = text_of(result, "diff")
    assert "zzmanual000" in text and "zzmanual001" in text
    assert "... and 7 more (0 errors, 7 warnings)" in text


# --- Markdown ---------------------------------------------------------------------------------------------

def test_markdown_of_two_manifests(base):
    result = check(base, edited(base, both(six("1.17.0"), lambda m: m["python_packages"].pop(0))),
                   skip={"gpu": "an image cannot tell"})
    md = render_markdown(result, "check")
    assert md.splitlines()[:3] == ["## envcapture check: envcapture.json vs live", "",
                                   "**DRIFT: live does not satisfy envcapture.json: 2 errors, 0 warnings**"]
    assert "| section | grade | what | envcapture.json | live |" in md
    assert "| Python packages | error | idna | 3.7 | **-** |" in md
    assert "| Python packages | error | six | 1.16.0 | **1.17.0** |" in md
    assert md.endswith("- not compared: gpu (an image cannot tell)\n")
    assert "Groups" not in md


def test_markdown_of_a_matrix_bolds_the_odd_value_and_lists_groups(base):
    result = compare.compare([base, edited(base, six("1.17.0")), base], ["n1", "n2", "n3"])
    md = render_markdown(result, "diff")
    assert "| Python packages | error | six | 1.16.0 | **1.17.0** | 1.16.0 |" in md
    assert "Groups of identical manifests: {n1, n3}; {n2}" in md


def test_markdown_of_a_cluster_and_its_row_limit(base):
    result = cluster(base, 7, {2: "1.17.0"})
    md = render_markdown(result, "diff")
    assert "| section | grade | what | most have | differs on |" in md
    assert "| Python packages | error | six | 1.16.0 on 6 nodes | **1.17.0 on n2** |" in md
    long = check(base, edited(base, many_differences(base, 103, 0)))
    md = render_markdown(long, "check")
    assert md.count("| System packages | warning |") == 100
    assert "... and 3 more (0 errors, 3 warnings): --format json lists every difference" in md


def test_markdown_of_a_same_result_has_no_table(base):
    md = render_markdown(compare.compare([base, base], ["a", "b"]), "diff")
    assert md == "## envcapture diff: a vs b\n\n**same: the 2 manifests agree on every compared fact**\n"


# --- JSON: the contract scripts read -----------------------------------------------------------------------

def json_of(result, command: str, capsys) -> dict:
    emit(result, command, "json")
    return json.loads(capsys.readouterr().out)


def test_json_of_a_check(base, capsys):
    result = check(base, edited(base, both(six("1.17.0"), kernel("6.12.0"))),
                   skip={"gpu": "an image cannot tell"}, strict=False)
    result.sources = ["envcapture.json", "live:/usr/bin/python3"]
    data = json_of(result, "check", capsys)
    assert {k: data[k] for k in ("envcapture_compare", "command", "manifests", "strict", "same", "ok", "counts",
                                 "not_compared", "groups")} == {
        "envcapture_compare": 1, "command": "check",
        "manifests": [{"label": "envcapture.json", "source": "envcapture.json"},
                      {"label": "live", "source": "live:/usr/bin/python3"}],
        "strict": False, "same": False, "ok": False, "counts": {"error": 1, "warning": 1},
        "not_compared": [{"section": "gpu", "reason": "an image cannot tell"}],
        "groups": [["envcapture.json"], ["live"]]}
    assert data["differences"] == [
        {"section": "python_packages", "item": "six", "field": "version", "what": "six", "grade": "error",
         "change": "changed", "values": ["1.16.0", "1.17.0"],
         "message": "six: 1.16.0 in envcapture.json, 1.17.0 in live"},
        {"section": "os", "item": None, "field": "kernel", "what": "kernel release", "grade": "warning",
         "change": "changed", "values": ["6.1.0-18-amd64", "6.12.0"],
         "message": "kernel release: 6.1.0-18-amd64 in envcapture.json, 6.12.0 in live"}]


def test_json_ok_with_warnings_and_strict(base, capsys):
    warned = check(base, edited(base, kernel("6.12.0")))
    data = json_of(warned, "check", capsys)
    assert (data["same"], data["ok"], data["strict"]) == (False, True, False)
    data = json_of(check(base, edited(base, kernel("6.12.0")), strict=True), "check", capsys)
    assert (data["same"], data["ok"], data["strict"], data["counts"]) == (False, False, True,
                                                                         {"error": 1, "warning": 0})
    data = json_of(check(base, base), "check", capsys)
    assert (data["same"], data["ok"], data["differences"], data["groups"]) == \
        (True, True, [], [["envcapture.json", "live"]])


def test_json_messages_of_missing_extra_and_by_design(base, capsys):
    without_six = edited(base, lambda m: m["python_packages"].remove(
        next(p for p in m["python_packages"] if p["name"] == "six")))
    [missing] = json_of(check(base, without_six), "check", capsys)["differences"]
    assert (missing["change"], missing["values"], missing["message"]) == \
        ("missing", ["1.16.0", None], "six: 1.16.0 in envcapture.json, missing in live")
    assert "by_design" not in missing and "majority" not in missing and "minority" not in missing
    [extra] = json_of(check(without_six, base), "check", capsys)["differences"]
    assert (extra["change"], extra["message"]) == ("extra", "six: not in envcapture.json, 1.16.0 in live")
    [designed] = json_of(check(base, without_six, by_design={("python_packages", "six"): "the project"}),
                         "check", capsys)["differences"]
    assert (designed["grade"], designed["by_design"], designed["message"]) == \
        ("warning", "the project", "six: 1.16.0 in envcapture.json, missing in live (not reproduced, by design: "
                                   "the project)")


def test_json_of_many_manifests_names_majority_and_minority(base, capsys):
    without_six = edited(base, lambda m: m["python_packages"].remove(
        next(p for p in m["python_packages"] if p["name"] == "six")))
    result = compare.compare([without_six, base, without_six, edited(base, six("1.17.0"))], ["a", "b", "c", "d"])
    [d] = json_of(result, "diff", capsys)["differences"]
    # Most lack the item: the majority is null; the first manifest lacks it, so the change is "extra".
    assert (d["change"], d["values"], d["majority"], d["minority"]) == (
        "extra", [None, "1.16.0", None, "1.17.0"], {"value": None, "count": 2},
        [{"value": "1.16.0", "labels": ["b"]}, {"value": "1.17.0", "labels": ["d"]}])
    assert d["message"] == "six: (missing) on a, c; 1.16.0 on b; 1.17.0 on d"


def test_json_change_of_an_item_missing_on_some_manifests_only(base, capsys):
    without_six = edited(base, lambda m: m["python_packages"].remove(
        next(p for p in m["python_packages"] if p["name"] == "six")))
    [d] = json_of(compare.compare([base, base, without_six], ["a", "b", "c"]), "diff", capsys)["differences"]
    assert d["change"] == "missing" and d["majority"] == {"value": "1.16.0", "count": 2}
    [d] = json_of(compare.compare([base, without_six, edited(base, six("1.17.0"))], ["a", "b", "c"]), "diff",
                  capsys)["differences"]
    assert d["change"] == "changed"


def test_a_tie_goes_to_the_first_value_seen(base, capsys):
    result = compare.compare([edited(base, six("1.17.0")), base], ["a", "b"])
    result3 = compare.compare([edited(base, six("1.17.0")), base, edited(base, six("1.15.0")), base,
                               edited(base, six("1.17.0"))], list("abcde"))
    [d] = json_of(result3, "diff", capsys)["differences"]
    assert d["majority"] == {"value": "1.17.0", "count": 2}
    assert result.differences[0].message(result.labels) == "six: 1.17.0 in a, 1.16.0 in b"


def test_json_escapes_what_a_terminal_would_obey(base, capsys):
    # The live side of `check` is read from the machine, not validated: it may hold what a manifest may not.
    result = check(base, edited(base, lambda m: m["hardware"].update(cpu_model="CPU\u202e\u0085x"), valid=False))
    emit(result, "check", "json")
    raw = capsys.readouterr().out
    assert "\\u202e" in raw and "\\u0085" in raw and "\u202e" not in raw and "\u0085" not in raw
    assert json.loads(raw)["differences"][0]["values"][1] == "CPU\u202e\u0085x"  # the same data


# --- HTML and emit --------------------------------------------------------------------------------------------

def test_html_heat_map_cells(base):
    nodes = [base, edited(base, kernel("6.12.0")), base, edited(base, six("1.17.0")),
             edited(base, lambda m: m["python_packages"].remove(
                 next(p for p in m["python_packages"] if p["name"] == "six")))]
    result = compare.compare(nodes, [f"n{i}" for i in range(1, 6)], skip={"gpu": "not here"})
    page = render_html(result, "diff")
    assert '<p class="verdict different">different: 1 error, 1 warning</p>' in page
    rows = re.findall(r'<tr><th class="what">([^<]+)</th>(.*?)</tr>', page)
    cells = {what: re.findall(r'<td class="([a-z-]+)" title="([^"]+)"', row) for what, row in rows}
    assert cells["six"] == [("cell-same", "n1: 1.16.0"), ("cell-same", "n2: 1.16.0"), ("cell-same", "n3: 1.16.0"),
                            ("cell-error", "n4: 1.17.0"), ("cell-missing", "n5: (missing)")]
    assert [css for css, _ in cells["kernel release"]] == ["cell-same", "cell-warning"] + ["cell-same"] * 3
    assert "not compared: gpu (not here)" in page
    assert "<li>n1, n3</li>" in page


def test_html_of_the_same_manifests(base):
    page = render_html(compare.compare([base, base], ["a", "b"]), "diff")
    assert '<p class="verdict same">same: the 2 manifests agree on every compared fact</p>' in page
    assert "Heat map" not in page and "Groups of identical manifests" not in page


def test_html_of_a_check_is_judged_by_errors(base):
    page = render_html(check(base, edited(base, kernel("6.12.0"))), "check")
    assert '<p class="verdict same">OK: live satisfies envcapture.json (0 errors, 1 warning)</p>' in page


@pytest.mark.parametrize("fmt, start", [("markdown", "## envcapture diff"), ("html", "<!DOCTYPE html>"),
                                        ("text", "Comparing a vs b")])
def test_emit_writes_the_chosen_format(base, capsys, fmt, start):
    emit(compare.compare([base, base], ["a", "b"]), "diff", fmt)
    assert capsys.readouterr().out.startswith(start)


def test_markdown_matrix_details(base):
    six_nodes = compare.compare([base, edited(base, six("1.17.0"))] + [base] * 4, [f"n{i}" for i in range(1, 7)])
    md = render_markdown(six_nodes, "diff")
    assert "| section | grade | what | n1 | n2 | n3 | n4 | n5 | n6 |\n|---|---|---|---|---|---|---|---|---|\n" in md
    assert "| Python packages | error | six | 1.16.0 | **1.17.0** | 1.16.0 | 1.16.0 | 1.16.0 | 1.16.0 |" in md
    same = render_markdown(compare.compare([base] * 3, ["a", "b", "c"]), "diff")
    assert "Groups" not in same and "|" not in same  # one group: nothing to group


def test_markdown_cells_cannot_break_the_table_or_open_code(base):
    result = check(base, edited(base, lambda m: m["hardware"].update(cpu_model="a|b\\|c`d")))
    assert "| **a\\|b\\\\\\|c'd** |" in render_markdown(result, "check")


def test_markdown_of_a_large_cluster_caps_its_rows(base):
    manifests = [edited(base, many_differences(base, 0, 103))] + [base] * 6
    md = render_markdown(compare.compare(manifests, [f"n{i}" for i in range(1, 8)]), "diff")
    assert md.count("| System packages | error |") == 100
    assert "... and 3 more (3 errors, 0 warnings): --format json lists every difference" in md


def test_identical_manifests_print_no_table_whatever_their_count(base):
    for count in (3, 7):
        text = text_of(compare.compare([base] * count, [f"n{i}" for i in range(1, count + 1)]), "diff")
        assert "┃" not in text and "Groups" not in text
        assert text.splitlines()[-1] == f"same: the {count} manifests agree on every compared fact"


def test_html_shows_at_most_500_rows(base):
    def rows(count):
        result = check(base, edited(base, many_differences(base, count, 0)))
        return render_html(result, "diff")
    page = rows(501)
    assert page.count('<th class="what">') == 500
    assert "1 more differences: --format json lists every one" in page
    assert "more differences" not in rows(500)
