"""The ``code`` section: the git state of the project folder (commit, branch, dirty files, remote URL).

Two git commands, each with a timeout: ``git status --porcelain=v2 --branch`` (commit, branch and changed
files in one call) and ``git config --get-regexp`` for the remotes. Outside git the section is null.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from envcapture.manifest import grammar
from envcapture.probes import ProbeContext, ProbeResult, ProbeWarning, ToolError, run_tool, to_data
from envcapture.manifest.redact import strip_url_credentials

SOURCE = "git"
# user@host:path, the scp-like form of an ssh remote.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^/:\s]+):(?P<path>(?!//).*)$")


@dataclass
class CodeState:
    commit: str | None
    branch: str | None
    dirty: bool
    dirty_files: int
    remote: str | None


def git(ctx: ProbeContext, *args: str) -> str:
    # GIT_OPTIONAL_LOCKS=0: status must not refresh the index (and take index.lock) under the user's feet.
    env = {**ctx.env, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return run_tool(["git", *args], timeout=ctx.timeout, cwd=ctx.project, env=env)


def parse_status(out: str) -> tuple[str | None, str | None, int]:
    """(commit, branch, number of changed or untracked paths) from ``status --porcelain=v2 --branch -z``."""
    commit = branch = None
    changed = 0
    records = out.split("\0")
    skip_next = False
    for record in records:
        if skip_next:  # a rename's original path
            skip_next = False
            continue
        if record.startswith("# branch.oid "):
            value = record[len("# branch.oid "):].strip()
            commit = value if grammar.is_git_commit(value) else None
        elif record.startswith("# branch.head "):
            value = record[len("# branch.head "):].strip()
            branch = None if value == "(detached)" else value
        elif record[:2] in ("1 ", "2 ", "u ", "? "):
            changed += 1
            skip_next = record.startswith("2 ")
    return commit, branch, changed


def remote_url(out: str) -> str | None:
    """origin's URL, else the first remote's, from ``git config --get-regexp '^remote\\..*\\.url$'``."""
    urls = []
    for line in out.splitlines():
        key, _, url = line.partition(" ")
        name = key[len("remote."):-len(".url")]
        urls.append((name, url.strip()))
    for name, url in urls:
        if name == "origin":
            return url
    return urls[0][1] if urls else None


def normalise_remote(url: str, ctx: ProbeContext) -> str:
    """A remote as a URL: ``git@host:org/repo`` -> ``ssh://git@host/org/repo``, a path -> ``file://``."""
    if "://" in url:
        return url
    match = _SCP_LIKE.match(url)
    if match and not os.path.isabs(url):
        user = f"{match.group('user')}@" if match.group("user") else ""
        return f"ssh://{user}{match.group('host')}/{match.group('path').lstrip('/')}"
    path = url if os.path.isabs(url) else os.path.normpath(os.path.join(str(ctx.project), url))
    return "file://" + path


def clean_remote(url: str | None, ctx: ProbeContext, warnings: list[ProbeWarning]) -> str | None:
    if not url:
        return None
    url = strip_url_credentials(normalise_remote(url, ctx))
    if url.startswith("file://"):
        home = ctx.home.rstrip("/")
        if home and home != "/" and (url[7:] == home or url[7:].startswith(home + "/")):
            warnings.append(ProbeWarning(SOURCE, "the git remote is a folder in the home directory; not recorded "
                                                 "(it would carry the user name)"))
            return None
    if not grammar.is_url(url):
        warnings.append(ProbeWarning(SOURCE, "the git remote URL has an unusual scheme or characters; not recorded"))
        return None
    return url


def own_output_pathspec(ctx: ProbeContext) -> list[str]:
    """The whole work tree except the manifest freeze is writing: a committed checkout stays clean when the
    manifest is written into it (for the first time, or over the committed copy)."""
    if not ctx.output:
        return []
    project = os.path.realpath(ctx.project)
    output = os.path.join(os.path.realpath(os.path.dirname(ctx.output)), os.path.basename(ctx.output))
    relative = os.path.relpath(output, project)
    if any(c in relative for c in "*?[\\"):  # pathspec wildcards: keep the plain, counted status
        return []
    return ["--", ":/", f":(exclude,literal){relative}"]


def git_status(ctx: ProbeContext) -> str:
    command = ["status", "--porcelain=v2", "--branch", "-z", "--untracked-files=normal"]
    pathspec = own_output_pathspec(ctx)
    if pathspec:
        try:
            return git(ctx, *command, *pathspec)
        except ToolError as exc:
            if "outside repository" not in str(exc):
                raise
    return git(ctx, *command)


def collect(ctx: ProbeContext) -> ProbeResult:
    warnings: list[ProbeWarning] = []
    if not os.path.isdir(ctx.project):
        return ProbeResult(None)
    try:
        status = git_status(ctx)
    except ToolError as exc:
        if "not a git repository" in str(exc):
            return ProbeResult(None)
        return ProbeResult(None, [ProbeWarning(SOURCE, f"git state of the project not recorded: {exc}")])
    commit, branch, changed = parse_status(status)
    if branch is not None and not grammar.is_git_ref(branch):
        warnings.append(ProbeWarning(SOURCE, "the branch name has unusual characters; not recorded"))
        branch = None
    try:
        remotes = git(ctx, "config", "--get-regexp", r"^remote\..*\.url$")
    except ToolError as exc:
        remotes = ""
        if "exited 1:" not in str(exc):  # exit 1 with no output: there are no remotes
            warnings.append(ProbeWarning(SOURCE, f"git remotes not read: {exc}"))
    state = CodeState(commit=commit, branch=branch, dirty=changed > 0, dirty_files=changed,
                      remote=clean_remote(remote_url(remotes), ctx, warnings))
    return ProbeResult(to_data(state), warnings)
