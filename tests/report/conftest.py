import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"

# Values a stranger could put in a manifest's free-text fields (they pass the `text` grammar): LaTeX that
# reads files or runs commands, Markdown and HTML that link, script, or break tables, and Jinja/template syntax.
HOSTILE_PRETTY_NAME = (r"\input{/etc/passwd}\write18{touch /tmp/envcapture-pwned} <script>alert(1)</script> | *x* "
                       r"[a](http://evil.example) $x$ & # % ~ ^ _ `c` <img src=http://evil.example/x.png>")
HOSTILE_CPU = r"\end{longtable}\end{document} ((( report ))) {{ 7*7 }} ((* if 1 *)) </td></table><style>"


@pytest.fixture
def hostile_manifest(tmp_path) -> Path:
    m = json.loads((FIXTURES / "plain-venv.json").read_text())
    m["os"]["pretty_name"] = HOSTILE_PRETTY_NAME
    m["hardware"]["cpu_model"] = HOSTILE_CPU
    m["determinism"]["warnings"] = ["- [x](javascript:alert(1)) \\def\\x{y} </li><script>"]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(m))
    return path
