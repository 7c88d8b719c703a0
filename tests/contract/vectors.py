"""Loads the wire contract v1 test vectors shared by the CPython and MicroPython tests."""

import json
from pathlib import Path
from typing import Any

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "v1"


def valid_vectors() -> list[dict[str, Any]]:
    found = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        if path.name != "invalid.json":
            found.extend(json.loads(path.read_text()))
    return found


def invalid_vectors() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((VECTOR_DIR / "invalid.json").read_text())
    return loaded


def kinds_with_files() -> set[str]:
    return {p.stem for p in VECTOR_DIR.glob("*.json")} - {"invalid"}
