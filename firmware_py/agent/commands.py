"""Commands from the cloud: decoded, checked, and run at most once per id.

The ids of the last ``REMEMBERED`` commands are kept in flash (one small
write per command, commands are rare), so a command redelivered after a
reboot is still recognised. An id is written down *before* the command runs:
a power cut in the middle leaves it not run rather than run twice.
"""

import struct

from core import cbor, codec
from core import contract as c
from core.errors import CoreError
from core.messages import Command

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

REMEMBERED = 32
FILE = "commands.bin"


class CommandVerdict:
    """What to do with an incoming command.

    ``command`` is set when it is to be run; otherwise ``result`` (an ACK_*
    code) and ``reason`` say how to answer ``command_id`` (None when the id
    itself could not be read, so there is nobody to answer).
    """

    def __init__(
        self,
        command_id: "int | None",
        command: "Command | None" = None,
        result: "int | None" = None,
        reason: "str | None" = None,
    ) -> None:
        self.command_id = command_id
        self.command = command
        self.result = result
        self.reason = reason


class CommandLog:
    """Remembers recent command ids; turns payloads into verdicts."""

    def __init__(self, flash: "Any", supported: "tuple[int, ...]", device_kind: str) -> None:
        self._flash = flash
        self._supported = supported
        self._kind = device_kind
        self._ids: list[int] = []

    def load(self) -> None:
        raw = self._flash.read(FILE, 0, 4 * REMEMBERED)
        self._ids = [
            struct.unpack(">I", raw[i : i + 4])[0] for i in range(0, len(raw) - len(raw) % 4, 4)
        ]
        self._ids = [i for i in self._ids if i != 0]

    def seen(self, command_id: int) -> bool:
        return command_id in self._ids

    def _remember(self, command_id: int) -> None:
        self._ids.append(command_id)
        if len(self._ids) > REMEMBERED:
            self._ids = self._ids[-REMEMBERED:]
        self._flash.write(FILE, 0, b"".join(struct.pack(">I", i) for i in self._ids))

    def receive(self, payload: bytes, now: int) -> "CommandVerdict":
        """Judge a command payload at device time ``now``."""
        try:
            command = codec.decode(payload, "cmd")
        except CoreError as exc:
            command_id = _readable_id(payload)
            if command_id is None:
                return CommandVerdict(None)
            if self.seen(command_id):
                return CommandVerdict(command_id, None, c.ACK_DUPLICATE)
            self._remember(command_id)
            return CommandVerdict(command_id, None, c.ACK_REJECTED, str(exc)[: c.MAX_TEXT])
        assert isinstance(command, Command)  # the cmd channel admits no other kind
        command_id = command.command_id
        if self.seen(command_id):
            return CommandVerdict(command_id, None, c.ACK_DUPLICATE)
        self._remember(command_id)
        if command.code not in self._supported:
            reason = "%s is not a %s command" % (command.name, self._kind)
            return CommandVerdict(command_id, None, c.ACK_REJECTED, reason)
        if command.expires_ts is not None and now > command.expires_ts:
            return CommandVerdict(command_id, None, c.ACK_EXPIRED)
        return CommandVerdict(command_id, command)


def _readable_id(payload: bytes) -> "int | None":
    try:
        command_id = cbor.decode(payload)[c.K_COMMAND_ID]
    except (CoreError, ValueError, TypeError, KeyError, IndexError):
        return None
    if type(command_id) is int and 1 <= command_id <= c.UINT32_MAX:
        return command_id
    return None
