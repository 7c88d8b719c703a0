"""The firmware freeze manifest puts exactly the MicroPython-capable core modules on a device."""

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def frozen_core_files() -> set[str]:
    """Run the manifest with stand-ins for the build tool's functions; collect core's files."""
    frozen: set[str] = set()

    def package(name: str, files: list[str] | None = None, **_: Any) -> None:
        if name == "core":
            assert files is not None, "list core's files so CPython-only ones stay off devices"
            frozen.update(files)

    def ignore(*_: Any, **__: Any) -> None:
        return None

    code = (ROOT / "firmware_py" / "manifest.py").read_text()
    exec(code, {"package": package, "include": ignore, "require": ignore, "module": ignore})
    return frozen


@pytest.mark.micropython
def test_manifest_freezes_every_micropython_core_module_and_no_other() -> None:
    skip_lines = (ROOT / "tests" / "micropython" / "cpython_only.txt").read_text().splitlines()
    cpython_only = {line.split("#")[0].strip() for line in skip_lines} - {""}
    on_device = {
        path.name
        for path in (ROOT / "core").glob("*.py")
        if f"core.{path.stem}" not in cpython_only
    }
    assert frozen_core_files() == on_device
