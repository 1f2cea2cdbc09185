"""Issue 23 and issue 19 (outputs): a report an author pastes unedited. The main table lists the frameworks, no
format gives advice, local details stay out, LaTeX compiles in real paper classes without running off the page,
Markdown stays text under GitHub's autolinking, two manifests show what changed, and -o never clobbers."""

import json
import re
import shutil
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from envcapture.cli import main
from envcapture.report import escape
from envcapture.report.facts import build_report

from .conftest import FIXTURES

ML = FIXTURES / "ml-editable.json"
FORMATS = ("markdown", "latex", "html")
needs_tex = pytest.mark.skipif(not shutil.which("pdflatex") or not shutil.which("pdftotext"),
                               reason="needs Debian's texlive and poppler-utils (installed by .ci/run)")


def run_report(tmp_path, *manifests, fmt="markdown", name=None):
    out = tmp_path / (name or f"report-{fmt}")
    assert main(["report", *map(str, manifests), "--format", fmt, "-o", str(out), "--force"]) == 0
    return out.read_text()


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.tables, self._table = [], {}, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = dict(attrs).get("id")
            self.tables.setdefault(self._table, [])
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append([])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        self.parts.append(data)
        if self._table is not None and self.tables[self._table] and data.strip():
            self.tables[self._table][-1].append(data.strip())


def visible_text(text: str, fmt: str) -> str:
    """What a reader sees, near enough: HTML's text, LaTeX without its break points and hyphen guards."""
    if fmt == "html":
        page = _Text()
        page.feed(text)
        return " ".join(page.parts)
    if fmt == "latex":
        return text.replace("\\allowbreak{}", "").replace("-{}", "-").replace("\\_", "_")
    return text


def test_main_table_lists_the_frameworks_of_an_editable_project(tmp_path):
    m = json.loads(ML.read_text())
    project = next(p for p in m["python_packages"] if p["source"]["kind"] == "editable")
    assert project["top_level"] and not next(p for p in m["python_packages"] if p["name"] == "numpy")["top_level"]
    expected = {"mlproj", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "torch"}
    markdown = run_report(tmp_path, ML)
    section = markdown.split("### Software", 1)[1].split("###", 1)[0]
    rows, in_body = [], False
    for token in MarkdownIt("gfm-like").parse(section):
        in_body = in_body or token.type == "tbody_open"
        if in_body and token.type == "tr_open":
            rows.append([])
        elif in_body and token.type == "inline":
            rows[-1].append(token.content)
    assert {row[0] for row in rows} == expected, rows
    page = _Text()
    page.feed(run_report(tmp_path, ML, fmt="html"))
    html_rows = {row[0]: row for row in page.tables["software"][1:]}
    assert set(html_rows) == expected
    assert html_rows["torch"][1:3] == ["2.13.0+cpu", "PyTorch CPU index (https://download.pytorch.org/whl/cpu)"]
    assert html_rows["mlproj"][2] == "this project (local source)"
    latex = visible_text(run_report(tmp_path, ML, fmt="latex"), "latex")
    latex = latex.split("\\subsection*{Software}", 1)[1].split("\\subsection", 1)[0]
    cells = set(re.findall(r"^\\raggedright (\S+) \S+ &", latex, re.M))
    assert cells == expected, cells


# Advice as the tool gives it in show/check, and the old report's own sentences: none may reach a report.
ADVICE = re.compile(r"(^|[.;:!?|>]\s*|\(\s*)(set|run|use|install|pin|consider|add|upgrade|try)\s+\S", re.I | re.M)
ADVICE_PHRASES = ("freeze --deep records it", "for repeatable runs", "CUDA code can be compiled here but not run",
                  "or any fixed number")
LOCAL_DETAILS = re.compile(r"/tmp/|%2B|dirty \(|\bcpython\b|\bFalse\b|\bTrue\b|file:///|Recorded by envcapture in")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_advice_and_no_local_detail_in_any_format(tmp_path, fmt):
    for fixture in (ML, FIXTURES / "pytorch-pip-gpu.json", FIXTURES / "system-cuda.json",
                    FIXTURES / "mixed-sources.json", FIXTURES / "conda-env.json"):
        m = json.loads(fixture.read_text())
        planted = m["determinism"]["warnings"] + [w["message"] for w in m["warnings"]]
        text = visible_text(run_report(tmp_path, fixture, fmt=fmt), fmt)
        # The determinism warnings of these manifests are advice ("set PYTHONHASHSEED=0 ..."): planted, refused.
        assert fixture != ML or any("set PYTHONHASHSEED" in w for w in planted)
        found = [match.group(0) for match in ADVICE.finditer(text)]
        assert found == [], (fixture.name, found)
        assert not [p for p in ADVICE_PHRASES if p in text], fixture.name
        assert not LOCAL_DETAILS.findall(text), (fixture.name, LOCAL_DETAILS.findall(text))


def test_report_of_two_manifests_shows_data_variable_source_and_second_time(tmp_path):
    a = json.loads(ML.read_text())
    b = json.loads(ML.read_text())
    b["created"] = "2027-01-15T10:20:00Z"
    b["data"]["sets"][0]["root_hash"] = "0" * 64
    b["determinism"]["environment"]["PYTHONHASHSEED"] = "0"
    torch = next(p for p in b["python_packages"] if p["name"] == "torch")
    torch["index_url"] = "https://download.pytorch.org/whl/cu126"
    paths = []
    for name, m in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps(m))
        paths.append(tmp_path / name)
    facts = dict(build_report([a, b], ["a.json", "b.json"]).differences)
    assert facts["data set raw"][1].startswith("blake3:" + "0" * 64) and facts["data set raw"][0] != facts["data set raw"][1]
    assert facts["variable PYTHONHASHSEED"] == ["not set", "0"]
    assert facts["source of torch"] == ["PyTorch CPU index (https://download.pytorch.org/whl/cpu)",
                                        "PyTorch cu126 index (https://download.pytorch.org/whl/cu126)"]
    for fmt in FORMATS:
        text = visible_text(run_report(tmp_path, *paths, fmt=fmt), fmt)
        assert "B: captured 2027-01-15 10:20 UTC" in text, fmt
        for fact in ("data set raw", "variable PYTHONHASHSEED", "source of torch"):
            assert fact in text.replace("\\_", "_"), (fmt, fact)


def test_run_record_gives_seeds_runs_time_and_switches():
    m = json.loads(ML.read_text())
    runs = []
    for seed, seconds in ((1, 61.0), (2, 59.0)):
        run = dict(m, run={"argv": ["python", "train.py", "--epochs", "3"], "duration_seconds": seconds,
                           "status": "succeeded", "seed": seed, "seed_records": [{
                               "seed": seed, "deterministic": True, "mode": "hook",
                               "seeded": [{"name": "torch", "version": "2.13.0+cpu", "call": "torch.manual_seed",
                                           "when": "on import"}],
                               "switches": {"torch.use_deterministic_algorithms": True,
                                            "torch.backends.cudnn.benchmark": False},
                               "environment": {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}}]})
        runs.append(run)
    rows = dict(build_report(runs, ["a.json", "b.json"]).run)
    assert rows["Command"] == "python train.py --epochs 3"
    assert rows["Runs"] == "2 (2 succeeded)" and rows["Seeds"] == "1, 2"
    assert rows["Time per run"] == "60.0 s on average (59.0 s to 61.0 s)" and rows["Time in all"] == "2.0 min"
    assert rows["Switch torch.use_deterministic_algorithms"] == "on"
    assert rows["Switch torch.backends.cudnn.benchmark"] == "off"
    assert rows["Set by the run: CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert rows["Packages used"].startswith("not recorded")
    for run, used in zip(runs, (["torch", "numpy"], ["Torch", "scipy"])):
        run["run"]["used"] = {"recorded": True, "python_packages": used, "system_packages": ["libgomp1"]}
    rows = dict(build_report(runs, ["a.json", "b.json"]).run)
    versions = {p["name"]: p["version"] for p in m["python_packages"]}
    named = [f"{n} {versions[n]}" if n in versions else n for n in ("numpy", "scipy", "torch")]
    assert rows["Python packages used"] == f"3 of {len(versions)} installed: {', '.join(named)}"
    assert rows["System packages used"].endswith(": libgomp1" + (
        f" {v}" if (v := next((p.get('version') for p in m['system_packages'].get('packages') or []
                              if p['name'] == 'libgomp1'), None)) else ""))
    without = build_report([m], ["a.json"])
    assert without.run == [] and "no run was recorded" in without.determinism_note
    assert [label for label, _ in without.determinism] == ["PYTHONHASHSEED"]  # not a fresh interpreter's defaults


def _gfm_tokens(text):
    return [t for block in MarkdownIt("gfm-like").parse(text) for t in [block, *(block.children or [])]]


def test_markdown_stays_text_under_gfm_autolinking(tmp_path, capsys):
    m = json.loads(ML.read_text())
    m["os"]["pretty_name"] = "see https://evil.example/x, www.evil.example, mail a@evil.example or train.py"
    m["hardware"]["cpu_model"] = "---"
    path = tmp_path / "odd\x1b[31m\x07.json"
    path.write_text(json.dumps(m))
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    kinds = [t.type for t in _gfm_tokens(out)]
    assert "link_open" not in kinds and "hr" not in kinds
    rendered = MarkdownIt("gfm-like").render(out)
    assert "see https://evil.example/x, www.evil.example, mail a@evil.example or train.py" in rendered
    assert "hr" in [t.type for t in _gfm_tokens("---\n")] and "link_open" in \
        [t.type for t in _gfm_tokens("see https://evil.example/x")]  # the reader does link and rule
    for escaper in (escape.markdown, escape.latex):  # values the grammar refuses, should one get through
        assert not set("\x1b\x07\x9b\u202e") & set(escaper("a\x1b]0;t\x07b\x9b\u202e"))
    for value in ("---", "===", "+ x", "- x", "1. x", "2) x"):  # a value alone on a line stays a paragraph
        kinds = [t.type for t in _gfm_tokens(f"intro\n\n{escape.markdown(value)}\n")]
        assert kinds.count("paragraph_open") == 2 and not {"hr", "bullet_list_open", "ordered_list_open"} & set(kinds), value


def test_report_o_never_overwrites_or_follows_a_link(tmp_path, capsys):
    mine = tmp_path / "paper.tex"
    mine.write_text("my paper")
    assert main(["report", str(ML), "--format", "latex", "-o", str(mine)]) == 2
    assert mine.read_text() == "my paper" and "--force" in capsys.readouterr().err
    link = tmp_path / "report.md"
    link.symlink_to(tmp_path / "elsewhere.md")
    for target in (link, Path("/dev/null"), tmp_path / "missing" / "r.md", tmp_path):
        assert main(["report", str(ML), "-o", str(target), "--force"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "elsewhere.md").exists() and link.is_symlink()
    assert main(["report", str(ML), "--format", "latex", "-o", str(mine), "--force"]) == 0
    assert mine.read_text().startswith("% Generated by envcapture report")


# --- LaTeX in real paper classes -------------------------------------------------------------------------------

LONG_URL = "https://gitlab.example.org/a-very-long-group-name/another-subgroup/some-project-with-a-long-name.git"
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
CLASSES = {"article": "\\documentclass{article}", "article-twocolumn": "\\documentclass[twocolumn]{article}",
           "IEEEtran": "\\documentclass[conference]{IEEEtran}"}
# Where the text area is, in TeX points, written to the log by the wrapper document.
MEASURE = ("\\typeout{ENVCAPTURE-AREA \\the\\dimexpr1in+\\hoffset+\\oddsidemargin\\relax\\space"
           "\\the\\textwidth\\space\\the\\columnwidth\\space\\the\\columnsep}")


def paper_manifest(tmp_path) -> Path:
    m = json.loads(ML.read_text())
    m["os"]["pretty_name"] = "Þórsdóttir's Debian: þ ð Þ Ð ¤ « » é ü ß æ ø å ñ ¿"
    m["code"]["remote"] = LONG_URL
    m["data"]["sets"][0]["root_hash"] = HASH
    m["data"]["sets"][0]["algorithm"] = "sha256"
    path = tmp_path / "paper.json"
    path.write_text(json.dumps(m))
    return path


def compile_in(tmp_path, section: str, preamble: str, name: str):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "section.tex").write_text(section)
    (folder / "paper.tex").write_text(f"{preamble}\n\\begin{{document}}\\pagestyle{{empty}}\n{MEASURE}\n\\input{{section}}\n"
                                      "\\end{document}\n")
    run = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
                         cwd=folder, capture_output=True, text=True, timeout=180)
    log = (folder / "paper.log").read_text(errors="replace")
    assert run.returncode == 0, (name, run.stdout[-3000:])
    return folder / "paper.pdf", log


def words_outside_the_columns(pdf: Path, log: str) -> list[str]:
    """Every word's box from pdftotext -bbox, against the text area's columns (1 bp of slack)."""
    left, width, column, gap = (float(v[:-2]) * 72 / 72.27 for v in
                                re.search(r"ENVCAPTURE-AREA (\S+) (\S+) (\S+) (\S+)", log).groups())
    columns = [(left, left + width)] if column >= width - 1 else [(left, left + column),
                                                                   (left + column + gap, left + width)]
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    outside = []
    for x_min, x_max, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">'
                                         r"([^<]*)</word>", html):
        x_min, x_max = float(x_min), float(x_max)
        if not any(start - 1 <= x_min and x_max <= end + 1 for start, end in columns):
            outside.append(f"{word} ({x_min:.0f}-{x_max:.0f} not in {[(round(a), round(b)) for a, b in columns]})")
    return outside


@needs_tex
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_latex_section_compiles_in_paper_classes_within_the_text_width(tmp_path, name):
    if name == "IEEEtran" and not subprocess.run(["kpsewhich", "IEEEtran.cls"], capture_output=True).stdout:
        pytest.skip("needs Debian's texlive-publishers (installed by .ci/run)")
    section = run_report(tmp_path, paper_manifest(tmp_path), fmt="latex")
    assert "longtable" not in section and "\\usepackage" not in section
    pdf, log = compile_in(tmp_path, section, CLASSES[name], name)
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*\n.*", log)[:3]
    assert words_outside_the_columns(pdf, log) == []
    # Reading order (columns one after the other), so a value wrapped in a narrow column reads whole.
    text = unicodedata.normalize("NFC", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                                       text=True, check=True).stdout)
    flat = "".join(text.split())
    assert "Þórsdóttir" in text and "þðÞÐ¤" in flat and "éüßæøåñ¿" in flat  # « » too, as glyphs
    # (pdftotext drops a hyphen that ends a line: the URL is checked in parts)
    assert HASH in flat and "gitlab.example.org/a-very" in flat and "some-project-with" in flat
    assert "mlproj0.3.0" in flat and "scikit-learn1.9.1" in flat


@needs_tex
def test_the_page_check_catches_a_line_off_the_page(tmp_path):
    """The measure above can fail: an unbreakable hash set as it is runs past a two-column text width."""
    section = "\\section{x}\\texttt{" + HASH + HASH + "}\n"
    pdf, log = compile_in(tmp_path, section, CLASSES["article-twocolumn"], "control")
    assert words_outside_the_columns(pdf, log)


def test_what_a_report_or_export_quotes_passes_the_secret_scan(tmp_path, monkeypatch):
    """A stranger's manifest may hold what freeze never writes: report and export go through the gate."""
    token = "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH"
    m = json.loads(ML.read_text())
    m["os"]["pretty_name"] = f"Debian token {token}"
    m["hardware"]["cpu_model"] = "AKIAIOSFODNN7EXAMPLE"
    path = tmp_path / "leaky.json"
    path.write_text(json.dumps(m))
    from envcapture.manifest.file import problems

    assert problems(m) == []  # valid as it is: only the scan stands in the way
    for fmt in FORMATS:
        text = run_report(tmp_path, path, fmt=fmt)
        assert token not in text and "AKIAIOSFODNN7EXAMPLE" not in text, fmt
    for fmt in ("cyclonedx", "spdx", "ro-crate"):
        out = tmp_path / (f"crate-{fmt}.zip" if fmt == "ro-crate" else f"sbom-{fmt}.json")
        assert main(["export", str(path), "--format", fmt, "-o", str(out)]) == 0
        blob = out.read_bytes()
        if fmt == "ro-crate":
            import zipfile

            with zipfile.ZipFile(out) as archive:
                blob = b"".join(archive.read(n) for n in archive.namelist() if not n.endswith("/"))
        assert token.encode() not in blob and b"AKIAIOSFODNN7EXAMPLE" not in blob, fmt


def test_a_program_under_the_home_folder_is_named_without_its_folder(tmp_path):
    """A Python under the user's home (pyenv, conda in ~) is recorded as ~/...: the report names the program only,
    as for any other folder of the capturing machine."""
    import os
    import sys

    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "train.py").write_text("print(1)\n")
    record = tmp_path / "run.json"
    run = subprocess.run([sys.executable, "-m", "envcapture", "run", "-o", str(record), "--",
                          str(home / "bin" / "python"), "train.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "HOME": str(home)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(record.read_text())["run"]["argv"] == ["~/bin/python", "train.py"]
    rows = dict(build_report([json.loads(record.read_text())], ["run.json"]).run)
    assert rows["Command"] == "python train.py"


def test_report_of_a_real_run_record(tmp_path):
    """`envcapture run --seed` writes the record; the report shows its command, seed and time, not its paths."""
    import sys

    script = tmp_path / "train.py"
    script.write_text("import random, packaging.version\nprint(random.random())\n"
                      "open('result.txt', 'w').write(str(packaging.version.Version('1.0')))\n")
    record = tmp_path / "run.json"
    run = subprocess.run([sys.executable, "-m", "envcapture", "run", "-o", str(record), "--seed", "7",
                          "--output", "result.txt",
                          "--project", str(tmp_path), "--", sys.executable, str(script)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = dict(build_report([json.loads(record.read_text())], ["run.json"]).run)
    assert rows["Command"] == f"{Path(sys.executable).name} {script}" and rows["Seeds"] == "7"
    assert rows["Runs"] == "1 (1 succeeded)" and rows["Time per run"].endswith(" s")
    assert "random" in rows["Seeded"] and rows["Set by the run: PYTHONHASHSEED"] == "7"
    from importlib.metadata import version

    used = rows["Python packages used"]
    assert re.fullmatch(r"\d+ of \d+ installed: .*", used), used
    assert f"packaging {version('packaging')}" in used.split(": ", 1)[1].split(", "), used
    assert not any(name.startswith("envcapture") for name in used.split(": ", 1)[1].split(", ")), used
    assert rows["Output result.txt"].startswith("1 file, 3 B, blake3:"), rows
    text = run_report(tmp_path, record)
    assert "### Runs" in text and "no run was recorded" not in text
