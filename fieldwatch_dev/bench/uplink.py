"""A TCP relay between the gateway and the cloud that can be cut: the district's uplink.

``cut()`` closes the listener and every open connection (requests in flight break,
new ones are refused, as when a WAN link goes down); ``restore()`` listens again on
the same port. Threads only: it relays a gateway's HTTP, not a data centre's.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from fieldwatch_dev.local import free_port

_CHUNK = 65536


class UplinkProxy:
    """Listens on a free loopback port and relays every connection to ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._accepting: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        self.restore()

    def restore(self) -> None:
        """Listen again (no-op while up)."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        self._accepting = threading.Thread(
            target=self._accept, args=(listener,), name="uplink-accept", daemon=True
        )
        self._accepting.start()

    def cut(self) -> None:
        """Close the listener and break every relayed connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._accepting is not None:
            self._accepting.join(5.0)
            self._accepting = None

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self._target, timeout=5.0)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the cloud itself is down: the gateway sees a broken request
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink), name="uplink-pipe", daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                for sock in (source, sink):
                    if sock in self._open:
                        self._open.discard(sock)
                        sock.close()
