"""What a receiver admits as ordinary evidence beyond the wire contract (MicroPython subset).

The gateway and the cloud apply the same two judgements to every record; what
fails one is neither stored as ordinary evidence nor lost: it is kept in the
receiver's quarantine with its reason code (``core.errors``).

**Device time ahead of the receiver's clock** (``implausible_time``). Records
are made before they are received, so a device time later than the receiver's
own clock is a clock fault, never a delay. The receiver's clock is trusted
(gateway and cloud keep NTP time, within tens of milliseconds). The tolerance,
``CLOCK_AHEAD_TOLERANCE_S`` = 120 s, covers a device clock left running on its
own: devices set their clock from GNSS or the network, and between two settings
a 20 ppm crystal drifts at most 1.7 s a day, under a minute in a month without
a setting. Faults that do happen are far larger: a time zone applied to a UTC
clock (8 h ahead in China), a clock set from a wrong network time, a real-time
clock that lost its setting. No bound is set in the past: a record may wait on
a device or a gateway for as long as an outage lasts, and the contract already
refuses times before 2020.

**Two different records with one (boot, seq)** (``conflicting_record``). A
device numbers its records once; a retransmission carries the very same
record. A second, different record that claims the number of one received
before is kept apart, with its reason, and the first stays the evidence.
"""

CLOCK_AHEAD_TOLERANCE_S = 120


def time_implausible(ts_s: int, now_s: float) -> "str | None":
    """Why a record made at device time ``ts_s`` cannot be, by the receiver's clock
    ``now_s`` (Unix seconds); None when it can."""
    ahead = ts_s - now_s
    if ahead > CLOCK_AHEAD_TOLERANCE_S:
        return "device time %d is %d s ahead of the receiver's clock (tolerance %d s)" % (
            ts_s,
            int(ahead),
            CLOCK_AHEAD_TOLERANCE_S,
        )
    return None


def conflict(boot: int, seq: int) -> str:
    """The reason kept with a record that claims the (boot, seq) of a different one."""
    return "record (boot %d, seq %d) differs from the record received before with that number" % (
        boot,
        seq,
    )
