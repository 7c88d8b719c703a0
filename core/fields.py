"""Field checks shared by every message kind (MicroPython subset).

A field spec is a tuple ``(key, name, type, required, low, high)``; ``low`` and
``high`` bound integers and, for text, the length in bytes.
"""

from core.errors import MISSING_KEY, OUT_OF_RANGE, WRONG_TYPE, DecodeError

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated there
    pass

INT = "integer"
BOOL = "boolean"
TEXT = "text string"


def type_name(value: "Any") -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "text string"
    if isinstance(value, (bytes, bytearray)):
        return "byte string"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def where(name: str, key: "int | None") -> str:
    if key is None:
        return name
    return "%s (key %d)" % (name, key)


def check_int(value: "Any", name: str, key: "int | None", low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(
            WRONG_TYPE, "%s must be an integer, got %s" % (where(name, key), type_name(value)), name
        )
    if value < low or value > high:
        raise DecodeError(
            OUT_OF_RANGE, "%s is %d, outside %d..%d" % (where(name, key), value, low, high), name
        )
    return value


def check_value(value: "Any", spec: tuple[Any, ...]) -> "Any":
    key, name, kind, _required, low, high = spec
    if kind == INT:
        return check_int(value, name, key, low, high)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise DecodeError(
                WRONG_TYPE,
                "%s must be a boolean, got %s" % (where(name, key), type_name(value)),
                name,
            )
        return value
    if not isinstance(value, str):
        raise DecodeError(
            WRONG_TYPE,
            "%s must be a text string, got %s" % (where(name, key), type_name(value)),
            name,
        )
    size = len(value.encode("utf-8"))
    if size < low or size > high:
        raise DecodeError(
            OUT_OF_RANGE,
            "%s is %d bytes long, outside %d..%d" % (where(name, key), size, low, high),
            name,
        )
    return value


def read_fields(obj: dict[Any, Any], specs: tuple[Any, ...]) -> dict[Any, Any]:
    """Check each spec'd field of a wire map; return {name: value or None}."""
    values = {}
    for spec in specs:
        key = spec[0]
        name = spec[1]
        if key in obj:
            values[name] = check_value(obj[key], spec)
        elif spec[3]:
            raise DecodeError(MISSING_KEY, "%s is required" % where(name, key), name)
        else:
            values[name] = None
    return values


def check_map(value: "Any", name: str, key: int) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise DecodeError(
            WRONG_TYPE, "%s must be a map, got %s" % (where(name, key), type_name(value)), name
        )
    return value


def check_array(value: "Any", name: str, key: int) -> list[Any]:
    if not isinstance(value, list):
        raise DecodeError(
            WRONG_TYPE, "%s must be an array, got %s" % (where(name, key), type_name(value)), name
        )
    return value
