"""The Mosquitto ACL that fences each device into its own topics.

Devices log in with their device id as username, so one set of `pattern`
lines (where Mosquitto puts the username in place of `%u`) covers every
device, present and future, without a line per device. Gateways are
listed by name and get the fleet-wide rights they need.

The topic scheme is the wire contract's (`fw/v1/{device_id}/...`).
"""

from __future__ import annotations

from collections.abc import Sequence

from core import topics

# From core.topics, so the ACL and the clients cannot drift apart.
TOPIC_PREFIX = topics.PREFIX

_FORBIDDEN_IN_USERNAME = frozenset("+#/ \t\r\n")


def render_acl(gateways: Sequence[str], relays: Sequence[str] = ()) -> str:
    """Return the text of a Mosquitto `acl_file` for devices and the given gateway usernames.

    Every line and why it exists:

    - `pattern write fw/v1/%u/up/telemetry`, `.../up/event`, `.../up/ack`,
      `.../up/batch`: a device publishes its readings, its events, its answers
      to commands and its catch-up batches under its own id only, so one device
      cannot speak for another.
    - `pattern write fw/v1/%u/status`: the device's retained online/offline
      status, also its last will. Mosquitto 2.0 accepts any will at CONNECT
      and checks it against the ACL only when it publishes it, so a will
      naming another device's status is dropped then.
    - `pattern read fw/v1/%u/config`, `pattern read fw/v1/%u/cmd`: a device reads
      its own retained configuration and its own commands, never another's.
    - `user <gateway>` with `topic read fw/v1/+/up/#` and `topic read
      fw/v1/+/status`: a gateway collects uplink and status from every device.
    - `topic write fw/v1/+/config` and `topic write fw/v1/+/cmd`: a gateway
      pushes configuration and commands down to any device.
    - for each of ``relays`` (a gateway whose HJ 212 listener publishes the water
      samples of river stations whose data loggers speak TCP, not MQTT; it logs in
      as the gateway): `topic write fw/v1/+/up/telemetry`. The gateway's registry,
      not the broker, decides which stations it speaks for (docs/hj212.md).

    Anything not granted is denied: a device cannot read other devices'
    uplink, and nobody can write another device's uplink. Mosquitto 2.0
    enforces this on each message, not on the request: under MQTT 3.1.1 a
    denied publish still gets its PUBACK and is dropped, and a denied
    subscription still gets a SUBACK granting it, then delivers nothing.

    Gateway names are refused if empty, or if they hold MQTT wildcards,
    `/` or whitespace, which could widen a rule or break the file.
    """
    for gateway in gateways:
        if not gateway or _FORBIDDEN_IN_USERNAME.intersection(gateway):
            raise ValueError(f"unusable gateway username {gateway!r}")
    if len(set(gateways)) != len(gateways):
        raise ValueError(f"gateway usernames repeat: {list(gateways)!r}")
    strangers = set(relays) - set(gateways)
    if strangers:
        raise ValueError(f"relays must be gateways: {sorted(strangers)!r}")

    p = TOPIC_PREFIX
    lines = [
        "# Written by provisioning.broker_acl; see render_acl() for why each line exists.",
        "# Devices: username = device id; each may use its own topics only.",
        *(f"pattern write {p}/%u/{suffix}" for suffix in topics.UPLINK),
        *(f"pattern read {p}/%u/{suffix}" for suffix in topics.DOWNLINK),
    ]
    for gateway in gateways:
        lines += [
            "",
            "# Gateway: reads every device's uplink and status, writes config and commands.",
            f"user {gateway}",
            f"topic read {p}/+/up/#",
            f"topic read {p}/+/status",
            f"topic write {p}/+/config",
            f"topic write {p}/+/cmd",
        ]
        if gateway in relays:
            lines += [
                "# Relays HJ 212 data loggers: publishes their river stations' water samples.",
                f"topic write {p}/+/up/telemetry",
            ]
    return "\n".join(lines) + "\n"
