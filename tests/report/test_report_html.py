"""The HTML report in a real headless Chromium: it renders at desktop and phone widths and loads nothing."""

import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from html.parser import HTMLParser

import pytest

from envcapture.cli import main
from tests.helpers.loopback import loopback_is_up

from .conftest import FIXTURES

CHROMIUM = shutil.which("chromium")
# Chromium's own background requests (clock, component updates, sign-in), seen here even with
# --disable-background-networking; anything else that reaches the proxy was asked for by the page.
CHROMIUM_SERVICES = {"clients2.google.com", "update.googleapis.com", "accounts.google.com"}
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="needs Debian's chromium (installed by .ci/run)")



class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.references = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.references += [value for name, value in attrs if name in ("src", "href", "action", "srcset") and value]


def html_report(tmp_path, *manifests):
    out = tmp_path / "report.html"
    assert main(["report", *map(str, manifests), "--format", "html", "-o", str(out)]) == 0
    return out


def test_html_is_self_contained_and_escapes(tmp_path, hostile_manifest):
    text = html_report(tmp_path, hostile_manifest, FIXTURES / "mixed-sources.json").read_text()
    page = _Collector()
    page.feed(text)
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    assert page.references == []
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert page.tags.count("svg") == 1 and page.tags.count("details") == 1


class _CountingProxy:
    """A proxy that answers nothing and counts who tried: Chromium sends every network request through it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.requests = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def page_hosts(self):
        hosts = set()
        for line in self.requests:
            parts = line.split()
            target = parts[1] if len(parts) > 1 else "?"
            host = target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
            hosts.add(host)
        return hosts - CHROMIUM_SERVICES

    @property
    def address(self):
        return "http://127.0.0.1:%d" % self.server.getsockname()[1]

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            threading.Thread(target=self._read_request_line, args=(conn,), daemon=True).start()

    def _read_request_line(self, conn):
        # Chromium may open a socket and send nothing (a speculative connection): only a request line counts.
        conn.settimeout(10)
        try:
            line = conn.recv(200).split(b"\r\n")[0].decode("latin-1")
        except OSError:
            line = ""
        finally:
            conn.close()
        if line:
            self.requests.append(line)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.server.close()


def chromium(tmp_path, proxy, *args):
    profile = tmp_path / "profile"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", f"--user-data-dir={profile}", f"--proxy-server={proxy.address}",
               "--proxy-bypass-list=<-loopback>", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def png_size_and_colours(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset:offset + 4])[0]
        if data[offset + 4:offset + 8] == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels[i:i + 3] for i in range(1, min(len(pixels), 3_000_000), 3)))


@needs_chromium
def test_html_renders_in_chromium_and_loads_nothing(tmp_path):
    if not loopback_is_up():
        pytest.skip("needs the loopback interface (the counting proxy listens on 127.0.0.1); it is down here")
    report = html_report(tmp_path, FIXTURES / "pytorch-pip-gpu.json")
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://evil.example/x.png">x</body></html>')
    proxy = _CountingProxy()
    try:
        # The proxy does see a page's loads: a page with one remote image reaches it.
        chromium(tmp_path, proxy, "--dump-dom", control.as_uri())
        deadline = time.monotonic() + 15
        while "evil.example" not in proxy.page_hosts() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "evil.example" in proxy.page_hosts()
        proxy.requests.clear()
        dom = chromium(tmp_path, proxy, "--dump-dom", report.as_uri())
        assert dom.returncode == 0, dom.stderr[-2000:]
        shots = {}
        for name, size in (("desktop", "1280,900"), ("phone", "390,844")):
            shot = tmp_path / f"{name}.png"
            run = chromium(tmp_path, proxy, f"--screenshot={shot}", f"--window-size={size}", "--hide-scrollbars",
                           report.as_uri())
            assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
            shots[name] = png_size_and_colours(shot)
        time.sleep(1)  # a request line still being read is counted before the verdict
    finally:
        proxy.stop()
    assert "<title>Computational environment</title>" in dom.stdout
    assert "NVIDIA H100 80GB HBM3" in dom.stdout and ">torch<" in dom.stdout
    assert proxy.page_hosts() == set(), "\n".join(r[:80] for r in proxy.requests)
    assert shots["desktop"][0] == 1280 and shots["phone"][0] == 390
    # Not blank: text, table rules and the chart's bars give many colours on a white page.
    assert shots["desktop"][2] > 20 and shots["phone"][2] > 20


def test_diff_html_has_a_content_security_policy(tmp_path, capsys):
    """`diff --format html` loads nothing either: the same policy as the report (issue 19)."""
    assert main(["diff", str(FIXTURES / "plain-venv.json"), str(FIXTURES / "mixed-sources.json"),
                 "--format", "html"]) == 1
    page = capsys.readouterr().out
    head = page.split("</head>", 1)[0]
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; ' \
           'img-src data:">' in head
