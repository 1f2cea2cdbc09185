"""Put on PYTHONPATH by ``envcapture run``: start the run's in-process recorder, then run the program's own
``sitecustomize`` (if it has one) exactly as Python would have without this file."""

import os
import sys

_hook_dir = os.path.dirname(os.path.abspath(__file__))
try:
    import _envcapture_hook

    _envcapture_hook.start(_hook_dir)
except Exception:  # the recorder costs only the record, never the program
    pass
_here = os.path.normcase(_hook_dir)
sys.path[:] = [p for p in sys.path if os.path.normcase(os.path.abspath(p or ".")) != _here]
# importlib reads sys.modules["sitecustomize"] back after this file ran: it ends up naming the program's own
# module when there is one, and this one otherwise.
_ours = sys.modules.pop("sitecustomize")
try:
    import sitecustomize  # noqa: F401  the program's own, found on the path without this folder
except ImportError as exc:
    sys.modules["sitecustomize"] = _ours
    if exc.name != "sitecustomize":
        raise  # site.py reports it as it would have
except BaseException:
    sys.modules["sitecustomize"] = _ours
    raise
