"""Free TCP ports on the loopback interface for the services fieldwatch starts itself."""

from __future__ import annotations

import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on `host` that nothing listens on right now."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return `count` distinct free TCP ports on `host`.

    Every socket stays bound until all are picked, so the kernel cannot hand
    the same port out twice. The kernel picks from its ephemeral range, which
    never includes the well-known ports of system services (1883, 5432, 8086).
    A port is only free at the moment of the call: the service that is given
    it must bind it soon, and reports a clear error if someone was faster.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports
