"""A private Mosquitto broker: own config, own port, own persistence folder."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

from fieldwatch.local.process import ServiceProcess, find_executable, run_tool

_PROBE_CLIENT_ID = "fieldwatch-ready-probe"
_CONNACK_ACCEPTED = 0


class MosquittoServer(ServiceProcess):
    """Mosquitto 2 on 127.0.0.1, configured from scratch in `folder`.

    With no `users`, anonymous clients are allowed. With `users` (username to
    password), only they may connect. `acl` is the text of a Mosquitto ACL
    file (see `provisioning.broker_acl.render_acl`). With `persistence`,
    retained messages, persistent sessions and their queued messages are
    saved to the folder on a clean stop and survive `restart()`; `kill()`
    loses what was not yet saved, as a crash would.
    """

    name = "mosquitto"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        persistence: bool = True,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.users: dict[str, str] = dict(users or {})
        for username, password in self.users.items():
            _check_credential(username, password)
        self.acl = acl
        self.persistence = persistence

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "mosquitto.conf"

    def _prepare(self) -> None:
        lines = [
            "# Written by fieldwatch.local.mosquitto; rewritten at every start.",
            f"listener {self.port} {self.host}",
            "log_dest stderr",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.folder}",
            "persistence_file mosquitto.db",
        ]
        if os.geteuid() == 0:
            # Mosquitto 2 started as root drops to the `mosquitto` user unless
            # told otherwise, and that user cannot use a root-owned temp folder.
            lines.append("user root")
        if self.users:
            passwords = self.folder / "passwd"
            passwords.touch(mode=0o600)
            passwords.chmod(0o600)  # touch() sets the mode of a new file only
            passwords.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
            run_tool([find_executable("mosquitto_passwd"), "-U", str(passwords)], self.folder)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            acl_path = self.folder / "acl"
            acl_path.write_text(self.acl)
            lines.append(f"acl_file {acl_path}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        return [find_executable("mosquitto"), "-c", str(self.config_path)]

    def _is_ready(self) -> bool:
        """Ready once the broker accepts an MQTT CONNECT (with a configured user's password)."""
        username, password = next(iter(self.users.items()), (None, None))
        packet = _connect_packet(_PROBE_CLIENT_ID, username, password)
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                sock.sendall(packet)
                connack = _read_exactly(sock, 4)
                sock.sendall(b"\xe0\x00")  # DISCONNECT, so no will and no session linger
        except OSError:
            return False
        return connack[0] == 0x20 and connack[3] == _CONNACK_ACCEPTED


def _check_credential(username: str, password: str) -> None:
    if not username or any(c in username for c in ":\n\r") or username != username.strip():
        raise ValueError(f"unusable MQTT username {username!r}")
    if not password or any(c in password for c in "\n\r"):
        raise ValueError(f"unusable MQTT password for {username!r}")


# The readiness probe speaks just enough MQTT 3.1.1 by hand: one CONNECT, one
# CONNACK. A client library would bring a network thread for four bytes.


def _utf8_field(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def _connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02  # clean session
    payload = _utf8_field(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8_field(username)
    if password is not None:
        flags |= 0x40
        payload += _utf8_field(password)
    keepalive = (10).to_bytes(2, "big")
    body = _utf8_field("MQTT") + bytes([4, flags]) + keepalive + payload
    return b"\x10" + _remaining_length(len(body)) + body


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data
