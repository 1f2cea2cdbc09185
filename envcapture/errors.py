"""Exit codes shared by every command, and the exceptions that map onto them.

A user mistake is raised as one of these and printed as one line by the CLI; anything else is a bug: exit 4,
one summary line, then the traceback to report.
"""

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_BAD_INPUT = 2
EXIT_TOOL_FAILED = 3
EXIT_INTERNAL_ERROR = 4  # a bug in envcapture (1 is reserved for "a difference was found")


class EnvcaptureError(Exception):
    exit_code = EXIT_BAD_INPUT


class BadInput(EnvcaptureError):
    """Bad arguments, a bad or hostile manifest, a file we refuse to overwrite."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class ToolFailed(EnvcaptureError):
    """A required external tool (docker, packer, vagrant, uv, a Python) is missing or failed."""

    exit_code = EXIT_TOOL_FAILED

    def __init__(self, message, tail=""):
        super().__init__(message)
        self.tail = tail
