"""Kinds of content told apart by their first bytes (magic numbers), never by the name
or the type a client claims. A domain says which kinds it accepts."""

from __future__ import annotations

# How many leading bytes ``kind_of`` needs to tell every kind here apart.
HEAD_BYTES = 16

# ISO BMFF brands of HEIF images (ISO/IEC 23008-12): HEVC-coded HEIC, and generic HEIF.
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1"}

PHOTO_KINDS = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
PHOTO_KIND_NAMES = "a JPEG, PNG, WebP or HEIC image"


def kind_of(head: bytes) -> str | None:
    """The media type the bytes ``head`` begin (at least ``HEAD_BYTES`` of them, when the
    content is that long), or None when they are none of the kinds known here."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    return None
