"""A private Mosquitto broker: own config, own port, own persistence folder."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

from fieldwatch_dev.local.process import ServiceProcess, find_executable, run_tool

_PROBE_CLIENT_ID = "fieldwatch-ready-probe"
# provisioning/mosquitto/mosquitto.conf: a gateway that is down must not have its QoS 1
# backlog dropped after Mosquitto's default of 1,000 queued messages.
DEPLOYMENT_MAX_QUEUED_MESSAGES = 100_000


class MosquittoServer(ServiceProcess):
    """Mosquitto 2 on 127.0.0.1, configured from scratch in `folder`.

    With no `users`, anonymous clients are allowed. With `users` (username to
    password), only they may connect. `acl` is the text of a Mosquitto ACL
    file (see `provisioning.broker_acl.render_acl`). With `persistence`,
    retained messages, persistent sessions and their queued messages are
    saved to the folder on a clean stop and survive `restart()`; `kill()`
    loses what was not yet saved, as a crash would. `max_queued_messages`
    is how many QoS 1 messages the broker queues per offline persistent
    session before dropping (Mosquitto's default: 1,000; the deployment's
    `provisioning/mosquitto/mosquitto.conf` and the benchmarks: 100,000).
    """

    name = "mosquitto"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        persistence: bool = True,
        max_queued_messages: int | None = None,
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
        if max_queued_messages is not None and max_queued_messages < 0:
            raise ValueError(f"max_queued_messages must be >= 0, got {max_queued_messages}")
        self.max_queued_messages = max_queued_messages

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "mosquitto.conf"

    def _prepare(self) -> None:
        lines = [
            "# Written by fieldwatch_dev.local.mosquitto; rewritten at every start.",
            f"listener {self.port} {self.host}",
            "log_dest stderr",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.folder}",
            "persistence_file mosquitto.db",
        ]
        if self.max_queued_messages is not None:
            lines.append(f"max_queued_messages {self.max_queued_messages}")
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
        try:
            return mqtt_connack(self.host, self.port, _PROBE_CLIENT_ID, username, password) == 0
        except (OSError, ValueError):
            return False


def mqtt_connack(
    host: str,
    port: int,
    client_id: str,
    username: str | None = None,
    password: str | None = None,
    timeout_s: float = 1.0,
) -> int:
    """Connect once with a clean session and disconnect; the broker's CONNACK return code.

    0 is accepted. A clean-session CONNECT also ends the persistent session the client id
    had, with its subscriptions and queued messages. Raises OSError if the broker cannot
    be reached, ValueError if what answered is not a CONNACK.
    """
    packet = connect_packet(client_id, username, password)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(packet)
        connack = _read_exactly(sock, 4)
        sock.sendall(b"\xe0\x00")  # DISCONNECT, so no will and no session linger
    if connack[0] != 0x20:
        raise ValueError(f"not a CONNACK: {connack!r}")
    return connack[3]


def _check_credential(username: str, password: str) -> None:
    if not username or any(c in username for c in ":\n\r") or username != username.strip():
        raise ValueError(f"unusable MQTT username {username!r}")
    if not password or any(c in password for c in "\n\r"):
        raise ValueError(f"unusable MQTT password for {username!r}")


# The readiness probe speaks just enough MQTT 3.1.1 by hand: one CONNECT, one
# CONNACK. A client library would bring a network thread for four bytes.


def utf8_field(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02  # clean session
    payload = utf8_field(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8_field(username)
    if password is not None:
        flags |= 0x40
        payload += utf8_field(password)
    keepalive = (10).to_bytes(2, "big")
    body = utf8_field("MQTT") + bytes([4, flags]) + keepalive + payload
    return b"\x10" + remaining_length(len(body)) + body


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data
