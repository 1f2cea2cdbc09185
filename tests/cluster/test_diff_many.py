"""`diff` over a cluster's worth of manifests: grouped by majority, read fast, still validated, escaped in HTML."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest

from envcapture import compare
from envcapture.manifest import file as manifest
from envcapture.cli import main
from envcapture.compare.many import ManifestSet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compare"
ODD = (17, 233, 301)


def node(base: dict, index: int) -> dict:
    m = copy.deepcopy(base)
    m["created"] = f"2026-11-29T12:{index // 60 % 60:02d}:{index % 60:02d}Z"
    m["scheduler"] = {"kind": "slurm", "job_id": "9", "node": f"n{index:03d}", "partition": "gpu", "rank": index,
                      "node_index": index, "nodes": 500, "cluster": None, "namespace": None, "pod": None}
    m["hardware"]["memory_total"] -= (index % 5) * 2**20  # a few MiB apart: the same whole GiB
    if index in ODD:
        next(p for p in m["python_packages"] if p["name"] == "numpy")["version"] = "2.1.2"
    return m


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Path:
    """500 manifests as gather writes them (n001.json ... n500.json); numpy differs on n017, n233, n301."""
    folder = tmp_path_factory.mktemp("cluster")
    base = json.loads((FIXTURES / "node-1.json").read_text())
    for index in range(1, 501):
        (folder / f"n{index:03d}.json").write_text(manifest.dumps(node(base, index)))
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["diff", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_500_manifests_json_names_the_majority_and_the_odd_nodes(cluster, capsys):
    code, out, _ = run(capsys, cluster, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert len(data["manifests"]) == 500 and data["counts"] == {"error": 1, "warning": 0}
    (numpy,) = data["differences"]
    assert numpy["majority"] == {"value": "2.1.3", "count": 497}
    assert numpy["minority"] == [{"value": "2.1.2", "labels": ["n017", "n233", "n301"]}]
    assert numpy["message"] == "numpy: 2.1.3 on 497 nodes; 2.1.2 on n017, n233, n301"
    assert [len(group) for group in data["groups"]] == [497, 3]


def test_500_manifests_text_and_markdown_stay_readable(cluster, capsys):
    code, out, _ = run(capsys, cluster)
    assert code == 1
    assert re.search(r"│ numpy\s+│ 2\.1\.3 on 497 nodes\s+│ 2\.1\.2 on n017, n233, n301\s+│", out), out
    assert "Comparing 500 manifests: n001, n002, n003, n004, n005, n006 and 494 more" in out
    code, md, _ = run(capsys, cluster, "--format", "markdown")
    assert "| Python packages | error | numpy | 2.1.3 on 497 nodes | **2.1.2 on n017, n233, n301** |" in md
    assert max(len(line) for line in md.splitlines()) < 400


def test_glob_folder_and_files_give_the_same_answer(cluster, capsys):
    by_folder = json.loads(run(capsys, cluster, "--format", "json")[1])
    by_pattern = json.loads(run(capsys, cluster / "n*.json", "--format", "json")[1])
    assert by_pattern == by_folder
    code, out, _ = run(capsys, cluster / "n001.json", cluster / "n017.json", "--format", "json")
    assert code == 1 and json.loads(out)["differences"][0]["values"] == ["2.1.3", "2.1.2"]


def test_the_fast_reader_agrees_with_loading_each_file(cluster):
    varied = FIXTURES.parent / "manifests"  # conda, CUDA, git sources, a dev machine: every section filled
    paths = [cluster / f"n{i:03d}.json" for i in (1, 2, 17, 3, 233)] + sorted(FIXTURES.glob("node-*.json")) \
        + [varied / f"{name}.json" for name in ("conda-env", "cuda-11.8", "dev-environment", "mixed-sources")]
    fast = ManifestSet()
    for path in paths:
        fast.add(path)
    labels = [p.stem for p in paths]
    quick = fast.compare(labels, labels)
    slow = compare.compare([manifest.load(p) for p in paths], labels)
    assert [d.to_json(labels) for d in quick.differences] == [d.to_json(labels) for d in slow.differences]
    assert quick.groups == slow.groups and quick.not_compared == slow.not_compared


@pytest.mark.parametrize("spoil", [
    lambda m: m["python_packages"][0].update(version="1.0; rm -rf ~"),  # grammar
    lambda m: m["hardware"].update(physical_cores=True),  # True == 1 in Python, but not an integer
    lambda m: m.update(surprise=1),  # unknown top-level key
    lambda m: m.pop("os"),  # missing section
])
def test_every_file_is_still_validated(cluster, tmp_path, capsys, spoil):
    for index in (1, 2):
        shutil.copy(cluster / f"n{index:03d}.json", tmp_path)
    bad = json.loads((cluster / "n003.json").read_text())
    spoil(bad)
    (tmp_path / "n003.json").write_text(manifest.dumps(bad))
    code, _, err = run(capsys, tmp_path)
    assert code == 2 and "n003.json: invalid manifest" in err and "Traceback" not in err


def test_one_file_says_the_shell_found_one_file(cluster, capsys):
    code, _, err = run(capsys, cluster / "n001.json")
    assert code == 2 and err.count("\n") == 1
    assert "the shell found only this file" in err and "node-{node}.json" in err


def test_a_pattern_or_folder_without_manifests_is_one_line(tmp_path, capsys):
    assert run(capsys, tmp_path / "nothing-*.json")[0] == 2
    assert run(capsys, tmp_path)[2].strip().endswith("a folder with no .json manifest in it")


def page_elements(page: str) -> tuple[set, set]:
    """The tags and attribute names a browser would see in ``page``."""
    from html.parser import HTMLParser

    tags: set = set()
    attributes: set = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)
            attributes.update(name for name, _ in attrs)

    Collect().feed(page)
    return tags, attributes


def test_html_is_one_self_contained_page_with_every_value_escaped(tmp_path, capsys):
    base = json.loads((FIXTURES / "node-1.json").read_text())
    hostile = '<script>alert("x")</script>'
    for index in range(1, 9):
        m = node(base, index)
        if index == 5:
            m["hardware"]["cpu_model"] = hostile
        (tmp_path / f"n{index}.json").write_text(manifest.dumps(m))
    (tmp_path / "n8.json").rename(tmp_path / '"><img src=x onerror=alert(1)>.json')
    code, page, _ = run(capsys, tmp_path, "--format", "html")
    assert code == 1 and page.startswith("<!DOCTYPE html>")
    tags, attributes = page_elements(page)
    assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "table", "thead",
                    "tbody", "tr", "th", "td", "div", "ul", "li"}  # nothing runs, nothing loads
    assert attributes <= {"lang", "charset", "name", "content", "class", "title", "http-equiv"}
    # the one http-equiv is the page's own policy: nothing loads, nothing runs
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; ' \
           "img-src data:\">" in page and page.count("http-equiv") == 1
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert 'title="n5: &lt;script&gt;' in page and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count('<td class="cell-warning"') == 1 and page.count('<td class="cell-same"') == 7
