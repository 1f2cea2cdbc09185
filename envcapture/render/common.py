"""What every renderer shares: the Jinja2 environment over templates/, its quoting filters, and the
comment header each generated file starts with. Renderers and kit.py import this; it imports none of them."""

from __future__ import annotations

import json
import shlex
from pathlib import Path


def _templates_folder() -> Path:
    """templates/ beside the package in a checkout; the installed envcapture.templates package otherwise."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    import importlib.util

    spec = importlib.util.find_spec("envcapture.templates")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("envcapture's templates are not installed")
    return Path(list(spec.submodule_search_locations)[0])


TEMPLATES = _templates_folder()


def with_header(plan, prefix: str, body: str, cached: bool = False) -> str:
    """``body`` under the generated-file header. ``cached``: a file a Dockerfile copies before it installs
    something, whose header must not change with every freeze (the manifest's hash), or the layer rebuilds."""
    lines = plan.header_lines[:2] if cached else plan.header_lines
    return comment(lines, prefix) + "\n" + body


def comment(lines, prefix: str) -> str:
    return "\n".join(f"{prefix} {line}".rstrip() for line in lines)


def jinja_environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["sh"] = shlex.quote
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=True)
    env.filters["hcl"] = hcl_string
    env.filters["ruby"] = ruby_string
    env.filters["comment"] = comment
    return env


def hcl_string(value) -> str:
    """A JSON string is an HCL string once template sequences are escaped."""
    return json.dumps(str(value), ensure_ascii=True).replace("${", "$${").replace("%{", "%%{")


def ruby_string(value) -> str:
    """Single-quoted Ruby literal: no interpolation; only \\ and ' are special."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


_ENV = None


def render_template(name: str, plan, **context) -> str:
    global _ENV
    if _ENV is None:
        _ENV = jinja_environment()
    return _ENV.get_template(name).render(plan=plan, header=plan.header_lines, **context)
