"""MQTT topic names of wire contract v1 (MicroPython subset).

Every topic is ``fw/v1/{device_id}/{suffix}``. Device ids are lower-case ASCII
letters, digits and hyphens, 3 to 32 long, starting with a letter: they become
MQTT usernames and topic levels, so they must never hold ``/``, ``+`` or ``#``.
"""

from core.errors import TopicError

PREFIX = "fw/v1"

# suffix -> channel (the name core.codec.CHANNEL_KINDS uses)
UPLINK = {
    "up/telemetry": "telemetry",
    "up/event": "event",
    "up/ack": "ack",
    "up/batch": "batch",
    "status": "status",
}
DOWNLINK = {"config": "config", "cmd": "cmd"}
SUFFIX_BY_CHANNEL = {}
for _suffix in UPLINK:
    SUFFIX_BY_CHANNEL[UPLINK[_suffix]] = _suffix
for _suffix in DOWNLINK:
    SUFFIX_BY_CHANNEL[DOWNLINK[_suffix]] = _suffix

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` if it follows the scheme, else raise TopicError."""
    if not isinstance(device_id, str) or not 3 <= len(device_id) <= 32:
        raise TopicError("device id must be 3 to 32 characters: %r" % (device_id,))
    if not ("a" <= device_id[0] <= "z"):
        raise TopicError("device id must start with a lower-case letter: %r" % (device_id,))
    for char in device_id:
        if char not in _ID_CHARS:
            raise TopicError("device id may hold only a-z, 0-9 and '-': %r" % (device_id,))
    return device_id


def topic(device_id: str, channel: str) -> str:
    """The topic a device's messages of one channel travel on."""
    if channel not in SUFFIX_BY_CHANNEL:
        raise TopicError("unknown channel %r" % (channel,))
    return PREFIX + "/" + check_device_id(device_id) + "/" + SUFFIX_BY_CHANNEL[channel]


def parse(name: str) -> "tuple[str, str]":
    """Split a topic into (device_id, channel); TopicError if it is not a v1 topic."""
    head = PREFIX + "/"
    if not name.startswith(head):
        raise TopicError("not a %s topic: %r" % (PREFIX, name))
    rest = name[len(head) :]
    cut = rest.find("/")
    if cut < 0:
        raise TopicError("topic has no channel: %r" % (name,))
    device_id = check_device_id(rest[:cut])
    suffix = rest[cut + 1 :]
    channel = UPLINK.get(suffix) or DOWNLINK.get(suffix)
    if channel is None:
        raise TopicError("unknown channel %r in %r" % (suffix, name))
    return device_id, channel


# Subscriptions for a gateway: every device's uplink and status.
GATEWAY_SUBSCRIPTIONS = (PREFIX + "/+/up/#", PREFIX + "/+/status")
