"""The in-process half of ``envcapture run``: loaded by the ``sitecustomize`` beside it in the first Python
process of the run, before the program's own code.

It watches (``sys.addaudithook``) the files the run opens under the project and data folders and the shared
libraries it loads by name (``ctypes.dlopen``); with ``--seed`` it seeds each framework the moment the run
first imports it (``envcapture.seed``, loaded from its file); at exit it writes what it saw, and the
distributions whose modules the run imported, to the file ``envcapture run`` named.

Stdlib-only, Python 3.8+. It must never change what the program does or prints: the environment variables and
``sys.path`` entry that brought it in are removed before the program starts, nothing is printed, and any
failure here costs only the record (``problems`` says what could not be recorded).
"""

import os
import sys

_PREFIX = "ENVCAPTURE_RUN_"
MAX_PATHS = 100_000  # files recorded per kind; more are counted, not listed

_state = None
_seed_module = None


class _State:
    def __init__(self, out_fd, roots, started_modules):
        self.out_fd = out_fd
        self.roots = tuple(root.rstrip(os.sep) + os.sep for root in roots if root)
        self.cwd = os.getcwd()
        # The audit hook only appends what it is given (an open's (path, mode, flags), or a new working folder
        # as (None, folder, None)): it runs on every open of the program, so the sorting out waits for the exit.
        self.events = []
        self.overflow = 0
        self.libraries = []
        self.seed_records = []
        self.problems = []
        self.started_modules = started_modules


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
MAX_EVENTS = 1_000_000


def _make_audit(state):
    """The audit hook. Python calls it for every audited event of the program (every open, import, exec,
    getattr of a frame, ...), so it decides by the event's name at once and only keeps references to what
    it is given: no path is looked at, no object made, until the exit."""
    events = state.events
    append = events.append
    libraries = state.libraries

    def _audit(event, args):
        if event == "open":
            if len(events) < MAX_EVENTS:
                append(args)
            else:
                state.overflow += 1
        elif event == "ctypes.dlopen":
            if args[0] is not None and len(libraries) < 1000:  # None: the process itself (CDLL(None))
                libraries.append(args[0])
        elif event == "os.chdir":
            append((None, args[0], None))
    return _audit


def _opened(state):
    """{absolute path: "read" | "write"} of the files opened under the roots, from the recorded events, in
    order (a write wins)."""
    opened = {}
    cwd = state.cwd
    sep = os.sep
    roots = state.roots
    writes = {}  # mode -> whether it writes: a few modes, thousands of opens
    for path, mode, flags in state.events:
        try:
            if path is None:  # os.chdir
                cwd = os.path.normpath(os.path.join(cwd, os.fsdecode(os.fspath(mode))))
                continue
            if path.__class__ is not str:
                if path.__class__ is int:  # a file descriptor: counted when it was opened
                    continue
                path = os.fsdecode(os.fspath(path))
            if not path.startswith(sep):
                path = cwd + sep + path if cwd != sep else sep + path
            if "/." in path:  # ./ or ../: normalized before the roots decide
                path = os.path.normpath(path)
            if not path.startswith(roots) or "__pycache__" in path:
                continue
        except Exception:
            continue
        if mode is not None:
            write = writes.get(mode)
            if write is None:
                write = writes[mode] = "w" in mode or "a" in mode or "x" in mode or "+" in mode
        else:
            write = flags & _WRITE_FLAGS
        if write:
            opened[path] = "write"
        elif path not in opened:
            opened[path] = "read"
    return opened


def seed_called(record):
    """envcapture.seed hands over the record of the program's own seed_everything call."""
    if _state is not None:
        _state.seed_records.append(record)


def _restore_environment(hook_dir):
    """The program sees the environment and sys.path it would have seen without envcapture run."""
    original = os.environ.get(_PREFIX + "PYTHONPATH")
    if original is not None:
        os.environ["PYTHONPATH"] = original
    elif os.environ.get(_PREFIX + "PYTHONPATH_UNSET"):
        os.environ.pop("PYTHONPATH", None)
    settings = {}
    for name in [n for n in os.environ if n.startswith(_PREFIX)]:
        settings[name[len(_PREFIX):]] = os.environ.pop(name)
    here = os.path.normcase(os.path.abspath(hook_dir))
    sys.path[:] = [p for p in sys.path if os.path.normcase(os.path.abspath(p or ".")) != here]
    return settings


def start(hook_dir):
    global _state
    settings = _restore_environment(hook_dir)
    out = settings.get("OUT")
    if not out:
        return
    try:  # the first Python process of the run claims the record; its children are not watched
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    roots = [r for r in settings.get("ROOTS", "").split(os.pathsep) if r]
    _state = _State(fd, roots, set(sys.modules))
    sys.modules.setdefault("_envcapture_hook", sys.modules.get(__name__))
    import atexit

    atexit.register(_finish)
    try:
        sys.addaudithook(_make_audit(_state))
    except Exception as exc:
        _state.problems.append("files and libraries: %s: %s" % (type(exc).__name__, exc))
    if settings.get("SEED"):
        _seed(settings)


def _seed(settings):
    global _seed_module
    try:
        import importlib.util
        import warnings

        spec = importlib.util.spec_from_file_location("_envcapture_seed", settings["SEED_MODULE"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _seed_module = module
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the program's stderr is not ours to write to
            record = module.seed_everything(int(settings["SEED"]), deterministic=True, warn_only=True,
                                            _mode="hook")
        _state.seed_records.insert(0, record)
    except Exception as exc:
        _state.problems.append("seed: %s: %s" % (type(exc).__name__, exc))


def _imported_modules(modules):
    """{top-level module: its file} for what the run imported after start-up. The distributions are looked up
    by envcapture outside: importing importlib.metadata here, at exit, would turn an exit by Ctrl-C
    (killed by SIGINT) into exit code 1."""
    found = {}
    for name in modules:
        top = name.partition(".")[0]
        if top in found:
            continue
        module = sys.modules.get(top)
        where = getattr(module, "__file__", None)
        if where is None:
            where = next(iter(getattr(module, "__path__", None) or ()), None)
        found[top] = where if isinstance(where, str) else None
    return found


MAX_MAPPED = 5000


def _mapped_objects():
    """The shared objects mapped into the process now (/proc/self/maps), by path; None where there is none."""
    try:
        fd = os.open("/proc/self/maps", os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    found = {}
    for line in b"".join(chunks).split(b"\n"):
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5][:1] == b"/" and b".so" in fields[5]:
            found[os.fsdecode(fields[5])] = None
    return list(found)[:MAX_MAPPED]


def _finish():
    state = _state
    try:
        import json

        modules = [name for name in list(sys.modules) if name not in state.started_modules
                   and not name.startswith("_envcapture")]
        read, written = [], []
        opened = _opened(state)
        if len(opened) > MAX_PATHS:
            state.overflow += len(opened) - MAX_PATHS
        for path, kind in list(opened.items())[:MAX_PATHS]:
            (written if kind == "write" else read).append(path)
        libraries = [name if isinstance(name, str) else os.fsdecode(name) for name in state.libraries
                     if isinstance(name, (str, bytes))]
        try:
            imported = _imported_modules(modules)
        except Exception as exc:
            imported = None
            state.problems.append("packages used: %s: %s" % (type(exc).__name__, exc))
        try:
            mapped = _mapped_objects()
        except Exception as exc:
            mapped = None
            state.problems.append("shared objects mapped: %s: %s" % (type(exc).__name__, exc))
        record = {"format": 1, "mapped": mapped, "pid": os.getpid(), "files_read": sorted(read), "files_written": sorted(written),
                  "files_not_listed": state.overflow, "libraries": libraries, "modules": imported,
                  "seed_records": [dict(r) for r in state.seed_records], "problems": state.problems}
        data = json.dumps(record).encode("utf-8")
        while data:
            data = data[os.write(state.out_fd, data):]
        os.close(state.out_fd)
    except Exception:
        pass  # the record is lost, the program's exit is not
