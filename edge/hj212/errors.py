"""Why an HJ 212 packet is refused: one error, a stable reason code, a sentence.

The codes are kept in the gateway's quarantine beside the MQTT ones
(docs/edge.md#quarantine), so, like those, they never change meaning::

    PacketError (edge.errors.EdgeError)
        code: one of the constants below
"""

from __future__ import annotations

from edge.errors import EdgeError

BAD_FRAME = "hj212_bad_frame"  # no "##", a length or CRC field that is not digits, too long
TRUNCATED = "hj212_truncated"  # shorter than its length field says, or cut off by a new packet
OVERSIZE = "hj212_oversize"  # a data segment over the standard's 1,024 characters
BAD_CRC = "hj212_bad_crc"  # the CRC field is not the CRC of the data segment
UNPARSABLE = "hj212_unparsable"  # the data segment does not follow the standard's syntax
UNKNOWN_MN = "hj212_unknown_mn"  # no river station of the registry has this MN
UNSUPPORTED_COMMAND = "hj212_unsupported_command"  # a CN other than the four data uploads
UNMAPPABLE = "hj212_unmappable"  # valid HJ 212 the contract's water sample cannot carry

CODES = (
    BAD_FRAME,
    TRUNCATED,
    OVERSIZE,
    BAD_CRC,
    UNPARSABLE,
    UNKNOWN_MN,
    UNSUPPORTED_COMMAND,
    UNMAPPABLE,
)


class PacketError(EdgeError):
    """A packet the listener refuses; ``reason`` is ``"<code>: <detail>"``."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        self.reason = f"{code}: {detail}"
        super().__init__(self.reason)
