"""`envcapture report`: the three formats say the same facts, read by their real consumers, and escape everything."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from envcapture.cli import main
from envcapture.report import escape
from envcapture.report.facts import build_report

from .conftest import FIXTURES


def report(tmp_path, *manifests, fmt="markdown", extra=()):
    out = tmp_path / f"report.{fmt}"
    assert main(["report", *map(str, manifests), "--format", fmt, "-o", str(out), "--force", *extra]) == 0
    return out.read_text()


def test_markdown_says_the_facts(tmp_path):
    text = report(tmp_path, FIXTURES / "pytorch-pip-gpu.json")
    m = json.loads((FIXTURES / "pytorch-pip-gpu.json").read_text())
    torch = next(p for p in m["python_packages"] if p["name"] == "torch")
    assert f"| torch | {torch['version']} |" in text
    assert "1 x NVIDIA H100 80GB HBM3 (79.6 GiB); NVIDIA driver 580.159.04 (CUDA 13.0)" in text
    assert "torch 2.11.0: CUDA 13.0, cuDNN 9.19.0.56" in text
    assert "| CUBLAS\\_WORKSPACE\\_CONFIG | :4096:8 |" in text
    assert "envcapture build docker -m pytorch-pip-gpu.json" in text
    assert f"all Python packages ({len(m['python_packages'])})" in text


def _tokens(text):
    return [t for block in MarkdownIt("commonmark").enable("table").parse(text) for t in [block, *(block.children or [])]]


def test_markdown_hostile_values_stay_text(tmp_path, hostile_manifest):
    text = report(tmp_path, hostile_manifest)
    kinds = {t.type for t in _tokens(text)}
    # No link, image, inline HTML or emphasis can come from a manifest value; tables keep their two columns.
    assert not kinds & {"link_open", "image", "html_inline", "html_block", "em_open", "strong_open"}
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script>" not in rendered and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    environment_rows = [line for line in text.splitlines() if line.startswith("| Operating system")]
    assert len(environment_rows) == 1
    cells = MarkdownIt("commonmark").enable("table").parse(environment_rows[0].join(["| | |\n|---|---|\n", "\n"]))
    assert sum(1 for t in cells if t.type == "td_open") == 2


def test_markdown_commands_are_shell_quoted(tmp_path):
    odd = tmp_path / "my manifest;rm -rf ~.json"
    shutil.copy(FIXTURES / "plain-venv.json", odd)
    text = report(tmp_path, odd)
    assert "envcapture build docker -m 'my manifest;rm -rf ~.json'" in text


@pytest.mark.parametrize("line", ["```", "~~~", "  ```bash", "``` # [x](javascript:alert(1))", "~~~~ *em*"])
def test_a_code_line_cannot_close_its_fence(line):
    """A value set in a fenced code block (Code) that starts like a fence is moved off column 0: markdown-it-py
    reads one code block holding the line as written, and nothing after it as Markdown."""
    text = f"```bash\n{escape.markdown(escape.Code(line))}\n```\n\n*after*\n"
    blocks = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    assert len(blocks) == 1 and blocks[0].content.strip() == line.strip(), blocks
    assert escape.markdown(escape.Code("envcapture build docker -m m.json")) == "envcapture build docker -m m.json"


@pytest.mark.skipif(not shutil.which("pdflatex") or not shutil.which("pdftotext"),
                    reason="needs Debian's texlive-latex-base and poppler-utils (installed by .ci/run)")
@pytest.mark.parametrize("standalone", [True, False])
def test_latex_compiles_and_escapes(tmp_path, hostile_manifest, standalone):
    pwned = Path("/tmp/envcapture-pwned")
    pwned.unlink(missing_ok=True)
    body = report(tmp_path, hostile_manifest, FIXTURES / "pytorch-pip-gpu.json", fmt="latex",
                  extra=["--standalone"] if standalone else [])
    if not standalone:  # a \section goes into the user's paper: wrap it as a paper would
        assert "\\documentclass" not in body
        body = "\\documentclass{article}\\begin{document}\n" + body + "\\end{document}\n"  # no package needed
    tex = tmp_path / "paper.tex"
    tex.write_text(body)
    run = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    pdf_text = subprocess.run(["pdftotext", "-layout", "paper.pdf", "-"], cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout
    flat = " ".join(pdf_text.split())
    assert "Computational environment" in flat and "torch" in flat
    assert "\\input{/etc/passwd}\\write18{touch" in flat  # shown as text ...
    assert "root:x:0:0" not in pdf_text and not pwned.exists()  # ... never executed
    assert "\\end{longtable}\\end{document}" in flat
    assert "What differs" in flat


def test_latex_escaper_covers_every_special_character():
    for char in "\\{}$&#%_^~<>|\"'`":
        assert escape.latex(char) != char
    assert escape.latex("Müller") == "Müller"  # Latin-1 is read by pdflatex's utf8 input
    assert escape.latex("þ") == r"{\fontencoding{T1}\selectfont\th}"  # only in T1: set locally
    assert escape.latex("数") == r"\texttt{[U+6570]}"


def test_several_manifests_list_what_differs():
    manifests = [json.loads((FIXTURES / n).read_text()) for n in ("mixed-sources.json", "plain-venv.json")]
    manifests[1]["created"] = "2031-05-06T07:08:09Z"  # the fixtures share a capture time
    assert manifests[0]["created"] != manifests[1]["created"]
    result = build_report(manifests, ["a.json", "b.json"])
    facts = dict(result.differences)
    assert len(manifests[0]["python_packages"]) != len(manifests[1]["python_packages"])
    assert "Python packages" in facts
    assert "Captured" not in facts  # always differs, says nothing
    only_a = {p["name"] for p in manifests[0]["python_packages"]} - {p["name"] for p in manifests[1]["python_packages"]}
    assert only_a
    for name in only_a:
        assert facts[f"package {name}"][1] == "absent"
    assert all(len(set(values)) > 1 for values in facts.values())


def test_missing_manifest_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_data_sets_and_their_root_hashes_are_reported(tmp_path):
    data = tmp_path / "raw-images"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n1,2\n")
    manifest = tmp_path / "m.json"
    assert main(["freeze", "--data", str(data), "--no-cache", "-o", str(manifest)]) == 0
    recorded = json.loads(manifest.read_text())["data"]["sets"][0]
    for fmt in ("markdown", "html"):
        text = report(tmp_path, manifest, fmt=fmt)
        assert recorded["root_hash"] in text and "raw-images" in text
