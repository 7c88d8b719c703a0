"""CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF), used by Modbus RTU and flash slots."""

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass


def _table() -> "list[int]":
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


# Table-driven: a sonde answer of 59 bytes is checked byte by byte on a slow core.
_TABLE = _table()


def crc16(data: "Any") -> int:
    """The CRC-16/MODBUS of ``data`` (bytes-like), as an int 0..0xFFFF."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc
