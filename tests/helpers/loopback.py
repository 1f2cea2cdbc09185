"""Whether 127.0.0.1 can be reached: not in a network namespace whose lo is down (`unshare -n`)."""

from __future__ import annotations

import socket


def loopback_is_up() -> bool:
    """Binding works with lo down, connecting does not: try both."""
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.settimeout(2)
        try:
            client.connect(server.getsockname())
        except OSError:
            return False
    return True
