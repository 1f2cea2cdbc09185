"""One Jinja2 environment per report format: StrictUndefined, and every ``{{ value }}`` escaped for the format.

Escaping is the environment's ``finalize`` (or HTML autoescape), not a filter a template could forget: a
hostile manifest value cannot become Markdown, LaTeX or HTML code.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def environment(fmt: str):
    import jinja2

    from envcapture.report import escape
    from envcapture.render.common import TEMPLATES

    common = dict(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                  keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    if fmt == "html":
        return jinja2.Environment(autoescape=True, **common)
    if fmt == "latex":
        # LaTeX uses { } % # itself: Jinja's delimiters move out of its way.
        return jinja2.Environment(block_start_string="((*", block_end_string="*))",
                                  variable_start_string="(((", variable_end_string=")))",
                                  comment_start_string="((=", comment_end_string="=))",
                                  finalize=escape.latex, **common)
    return jinja2.Environment(finalize=escape.markdown, **common)


def render(fmt: str, template: str, **context) -> str:
    return environment(fmt).get_template(template).render(**context)
