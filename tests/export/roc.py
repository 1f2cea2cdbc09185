"""roc-validator (the RO-Crate project's validator) run in this process with the RO-Crate 1.1 context served on
127.0.0.1: w3id.org cannot be reached here, so every request for the context goes to a local HTTP server that
serves the copy the `rocrate` package ships (the same JSON-LD document)."""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager
from pathlib import Path

CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"


def context_document() -> bytes:
    import rocrate

    return (Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_bytes()


@contextmanager
def context_server():
    body = context_document()
    json.loads(body)  # a broken copy would make every check fail for the wrong reason

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ro/crate/1.1/context"
    finally:
        server.shutdown()
        server.server_close()


def validate(crate: Path, monkeypatch, severity: str = "REQUIRED"):
    """roc-validator's verdict on ``crate`` (a folder or a .zip) for the RO-Crate 1.1 profile: (passed, issues)."""
    import requests
    from rocrate_validator import services
    from rocrate_validator.models import ValidationSettings

    with context_server() as local:
        real_request = requests.Session.request

        def request(self, method, url, *args, **kwargs):
            if str(url).rstrip("/") == CONTEXT_URL:
                url = local
            return real_request(self, method, url, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", request)
        settings = ValidationSettings(rocrate_uri=str(crate), profile_identifier="ro-crate-1.1",
                                      requirement_severity=severity, skip_availability_check=True,
                                      no_cache=True)
        result = services.validate(settings)
    issues = [f"{issue.check.identifier if issue.check else '?'}: {issue.message}" for issue in result.get_issues()]
    return result.passed(), issues
