"""Downlink relay: config and commands pulled from the cloud, published to devices.

Why a relay in the gateway and not a Mosquitto bridge: see docs/gateway-api.md and
docs/edge.md. Each message is checked before it is published (the device is in the
registry, the payload is a valid config or command); a message that fails goes to
the quarantine and is acknowledged, so the cloud does not offer it forever. A message
is acknowledged to the cloud only after the local broker PUBACKed it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.errors import UNKNOWN_DEVICE, DecodeError
from core.receiver import decode
from core.topics import topic
from edge.backoff import Backoff
from edge.buffer import Buffer, Incoming
from edge.classify import Refused
from edge.cloud import CloudClient, CloudRequestError, DownlinkMessage
from edge.errors import BrokerError
from edge.metrics import EdgeMetrics
from edge.registry import RegistryWatcher

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0

Publish = Callable[[str, bytes, bool], None]


def check_downlink(message: DownlinkMessage, registry_has: Callable[[str], bool]) -> Refused | None:
    """Why a downlink message must not be published, or None if it may."""
    if not registry_has(message.device_id):
        return Refused(
            UNKNOWN_DEVICE,
            f"{UNKNOWN_DEVICE}: downlink for {message.device_id}, not in this gateway's registry",
            message.device_id,
        )
    try:
        decode(message.payload, message.channel)
    except DecodeError as exc:
        return Refused(exc.code, f"downlink {message.id}: {exc}", message.device_id)
    return None


class DownlinkRelay:
    """Long-polls the cloud and publishes what it gets to the local broker."""

    def __init__(
        self,
        cloud: CloudClient,
        publish: Publish,
        quarantine: Buffer,
        registry: RegistryWatcher,
        metrics: EdgeMetrics,
        wait_s: int,
        backoff: Backoff,
    ) -> None:
        self._cloud = cloud
        self._publish = publish
        self._quarantine = quarantine
        self._registry = registry
        self._metrics = metrics
        self._wait_s = wait_s
        self._backoff = backoff

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.relay_once(stop)
            except (CloudRequestError, BrokerError) as exc:
                if stop.is_set():
                    return
                wait = self._backoff.next_wait()
                log.warning("downlink relay: %s; retry in %.1f s", exc, wait)
                stop.wait(wait)
            else:
                self._backoff.reset()

    def relay_once(self, stop: threading.Event | None = None) -> int:
        """One poll: publish, acknowledge; returns how many were handled."""
        messages = self._cloud.fetch_downlink(self._wait_s)
        if stop is not None and stop.is_set():
            return 0  # shutting down: not acknowledged, so the cloud offers them again
        handled: list[str] = []
        try:
            for message in messages:
                self._relay(message)
                handled.append(message.id)
        finally:
            if handled:
                self._cloud.ack_downlink(handled)
        return len(handled)

    def _relay(self, message: DownlinkMessage) -> None:
        registry = self._registry.current()
        name = topic(message.device_id, message.channel)
        refused = check_downlink(message, lambda d: registry.kind_of(d) is not None)
        if refused is not None:
            now_ms = time.time_ns() // 1_000_000
            self._quarantine.commit([Incoming(name, message.payload, now_ms, refused)])
            self._metrics.downlink.labels("refused").inc()
            self._metrics.quarantined.labels(refused.code).inc()
            log.error("downlink refused and quarantined: %s", refused.reason)
            return
        self._publish(name, message.payload, message.channel == "config")
        self._metrics.downlink.labels("relayed").inc()
