"""The part of an agent every device shares: identity, records, link, config, commands.

``DeviceAgent`` is sans-IO. Its runtime (``main.py`` on a board, the fleet
simulator on a host) calls it with the time and what happened, and collects
what to publish::

    agent.start(now)
    if agent.wants_connection(now): connect with agent.will(), then
        agent.on_connected(now) / agent.on_connect_failed(now)
    agent.on_message(topic, payload, now)     # config and commands
    agent.on_published(token)                  # PUBACKs
    agent.on_connection_lost(now)
    agent.tick(now)                            # sampling, catch-up batches
    for out in agent.take_outgoing(): publish(out.topic, out.payload, out.retain)

Kinds of device (bracelet, river station) subclass it and add their
readings, schedule and commands.
"""

from core import codec, topics
from core import contract as c
from core.messages import Ack, Health, Status
from firmware_py.agent.backoff import Backoff
from firmware_py.agent.commands import CommandLog
from firmware_py.agent.persist import next_boot_id
from firmware_py.agent.settings import DeviceSettings
from firmware_py.agent.store import RecordBuffer
from firmware_py.agent.uplink import Outgoing, Uplink

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

FIRMWARE = "fieldwatch-fw 0.1"


class DeviceAgent:
    """Shared behaviour of every fieldwatch device (see the module docstring)."""

    DEVICE_KIND = "device"
    DEFAULTS: "dict[str, int]" = {}
    SUPPORTED_COMMANDS: "tuple[int, ...]" = (c.CMD_REBOOT,)
    MAX_RECORD = c.MAX_SIZE_BY_KIND[c.ACK]

    def __init__(
        self,
        device_id: str,
        flash: "Any",
        capacity: int = 1000,
        reserve: "int | None" = None,
        window: int = 8,
        seed: int = 1,
    ) -> None:
        self.device_id = topics.check_device_id(device_id)
        self.flash = flash
        self.boot = 0
        self.seq = 0
        self.started_at = 0
        self.unset_clock_skipped = 0  # records not made because the clock was not set
        self.reboot_requested = False
        self.halted = False  # about to power off: records no more, only sends what waits
        if reserve is None:
            reserve = max(1, capacity // 10)
        self.buffer = RecordBuffer(flash, capacity, self.MAX_RECORD, reserve)
        self.uplink = Uplink(device_id, self.buffer, window)
        self.settings = DeviceSettings(self.DEFAULTS, self.DEVICE_KIND, flash, self.vet_config)
        self.commands = CommandLog(flash, self.SUPPORTED_COMMANDS, self.DEVICE_KIND)
        self.backoff = Backoff(seed=seed)
        self.created_by_kind: dict[int, int] = {}
        self._next_health = 0

    # --- life cycle ------------------------------------------------------------------

    def start(self, now: int) -> None:
        """Count the boot and restore what flash holds; call once per start."""
        self.boot = next_boot_id(self.flash)
        self.seq = 0
        self.started_at = now
        self.buffer.load()
        self.settings.load()
        self.commands.load()
        self._settings_changed()
        self._next_health = now + self.settings.get("health_interval_s")

    def _settings_changed(self) -> None:
        """A config was applied, or restored at start: take up its settings."""
        self.uplink.batch_max_records = self.settings.get("batch_max_records")

    def vet_config(self, config: "Any") -> "str | None":
        """A reason to refuse a config the contract allows, or None (subclasses: zones)."""
        return None

    # --- records -----------------------------------------------------------------------

    def emit(self, cls: "Any", now: int, **fields: "Any") -> "Any":
        """Make a record of ``cls`` with the next (boot, seq) and hand it to the uplink.

        Returns the message, or None when the clock is not set (before 2020):
        such a record would be refused, so it is not made and no number is used.
        """
        if now < c.TS_MIN:
            self.unset_clock_skipped += 1
            return None
        message = cls(self.boot, self.seq, now, **fields)
        payload = codec.encode(message)  # raises before a number is used up
        self.seq += 1
        self.created_by_kind[message.KIND] = self.created_by_kind.get(message.KIND, 0) + 1
        self.uplink.submit(message.boot, message.seq, message.KIND, payload)
        return message

    @property
    def created(self) -> int:
        """Records made in this boot (the next seq)."""
        return self.seq

    def ack(self, now: int, result: int, reason: "str | None" = None, **ids: "Any") -> None:
        self.emit(Ack, now, result=result, reason=reason, **ids)

    # --- link --------------------------------------------------------------------------

    def wants_connection(self, now: int) -> bool:
        return not self.uplink.connected and self.backoff.due(now)

    def will(self) -> "tuple[str, bytes]":
        """Topic and payload of the retained last will (offline), set at every connect."""
        return topics.topic(self.device_id, "status"), codec.encode(Status(self.boot, c.OFFLINE))

    def subscriptions(self) -> "list[str]":
        return [topics.topic(self.device_id, "config"), topics.topic(self.device_id, "cmd")]

    def on_connect_failed(self, now: int) -> None:
        self.backoff.failed(now)

    def on_connected(self, now: int) -> None:
        """The broker accepted us: say online (retained), report health, resume sending."""
        self.backoff.succeeded()
        self.uplink.on_connected()
        self.publish_status(c.ONLINE, now)
        self.report_health(now)

    def publish_status(self, state: int, now: int) -> None:
        status = Status(
            self.boot,
            state,
            ts=now if now >= c.TS_MIN else None,
            config_version=self.settings.version,
            firmware=FIRMWARE,
        )
        self.uplink.publish_other(
            topics.topic(self.device_id, "status"), codec.encode(status), True
        )

    def on_connection_lost(self, now: int) -> None:
        self.uplink.on_lost()
        self.backoff.failed(now)

    def on_published(self, token: int) -> None:
        self.uplink.acked(token)

    def take_outgoing(self) -> "list[Outgoing]":
        return self.uplink.take_outgoing()

    # --- downlink ------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes, now: int) -> None:
        """A config or a command arrived."""
        try:
            _, channel = topics.parse(topic)
        except ValueError:
            return  # not ours: the broker's ACL should not even let it through
        if channel == "config":
            answer = self.settings.apply(payload)
            if answer is not None:
                if answer.result == c.ACK_DONE:
                    self._settings_changed()
                    self._reschedule(now)
                self.ack(now, answer.result, answer.reason, config_version=answer.version)
        elif channel == "cmd":
            verdict = self.commands.receive(payload, now)
            if verdict.command_id is None:
                return
            if verdict.result is not None:  # answered without running it
                self.ack(now, verdict.result, verdict.reason, command_id=verdict.command_id)
                return
            result, reason = self.run_command(verdict.command, now)
            self.ack(now, result, reason, command_id=verdict.command_id)
            self.after_command(verdict.command, now)

    def run_command(self, command: "Any", now: int) -> "tuple[int, Any]":
        """Carry out a command; return the ack result and reason. Subclasses add commands."""
        if command.code == c.CMD_REBOOT:
            self.reboot_requested = True
            return c.ACK_DONE, None
        return c.ACK_REJECTED, "not supported"

    def after_command(self, command: "Any", now: int) -> None:
        """Work a command leads to once its ack is made (a roll call's response, a sample)."""

    def _reschedule(self, now: int) -> None:
        self._next_health = min(self._next_health, now + self.settings.get("health_interval_s"))

    # --- periodic work -------------------------------------------------------------------

    def tick(self, now: int) -> None:
        """Do what is due at ``now``: the device's own work, health, catch-up batches."""
        if not self.halted:
            self.work(now)
            if now >= self._next_health:
                self.report_health(now)
        self.uplink.poll(now)

    def work(self, now: int) -> None:
        """The device's own periodic work (subclasses)."""

    def next_wake(self, now: int) -> int:
        """The next time ``tick`` has something to do (the runtime may sleep until then)."""
        return self._next_health

    def health_fields(self, now: int) -> "dict[str, Any]":
        """battery_pct, charging and what else the hardware tells (subclasses)."""
        return {"battery_pct": 100, "charging": False}

    def report_health(self, now: int) -> None:
        fields = self.health_fields(now)
        fields["uptime_s"] = max(0, now - self.started_at)
        fields["buffered"] = len(self.buffer)
        fields["dropped"] = self.buffer.dropped
        self.emit(Health, now, **fields)
        self._next_health = now + self.settings.get("health_interval_s")
