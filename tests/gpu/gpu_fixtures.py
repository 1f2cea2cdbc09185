"""Helpers for the GPU tests: recorded fixtures and validation of a gpu section against the schema."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gpu"


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


def capture_section(relative: str, banner: str) -> str:
    """The output under one '# <state> :: <what>' banner of nvidia_gpu_exporter's combined capture file."""
    text = fixture_text(relative)
    start = text.index(banner)
    rule = "#" * 80
    body_start = text.index(rule, start) + len(rule) + 1
    end = text.find("\n" + rule, body_start)
    return text[body_start:end if end >= 0 else len(text)].strip("\n")


def gpu_schema_problems(section) -> list[str]:
    """Schema violations of a gpu section alone, with the same format rules manifest.problems applies."""
    import jsonschema

    from envcapture.manifest import grammar
    from envcapture.manifest import file as manifest

    full = manifest.schema()
    schema = dict(full["properties"]["gpu"])
    schema["$defs"] = full["$defs"]
    checker = jsonschema.FormatChecker(formats=())
    for name, (rule, _) in grammar.RULES.items():
        checker.checks(name)(lambda value, rule=rule: not isinstance(value, str) or rule(value))
    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(section)]
