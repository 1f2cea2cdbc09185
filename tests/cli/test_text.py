"""envcapture/text.py where a record meets it: a long command-line argument is recorded on one line, cut to
one_line's bound (4000 characters, under the schema's 4096 for a text field), its start kept."""

from __future__ import annotations

import json
import subprocess
import sys

from envcapture.manifest import file as manifest_io
from envcapture.text import one_line


def test_a_long_argument_is_recorded_as_its_first_4000_characters_on_one_line(tmp_path):
    code = "import sys\n" + "#" + "x" * 6000
    record = tmp_path / "run.json"
    run = subprocess.run([sys.executable, "-m", "envcapture", "run", "-o", str(record), "--", sys.executable, "-c",
                          code], cwd=tmp_path, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads(record.read_text())
    manifest_io.validate(data)
    recorded = data["run"]["argv"][2]
    assert recorded == "import sys #" + "x" * (4000 - len("import sys #"))
    assert one_line("a\n b\t c\r\n") == "a b c"
