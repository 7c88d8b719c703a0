# MicroPython freeze manifest for the fieldwatch device firmware.
#
# Build from a MicroPython checkout, e.g. for an ESP32 board:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/firmware_py/manifest.py
# Paths are relative to this file. This is executed by the firmware build's manifest
# tool, which provides include/require/package/module; it is never imported.
# ruff: noqa: F821

# Keep what the port freezes by default (asyncio, network helpers): a custom
# manifest replaces the board's, it does not extend it.
include("$(PORT_DIR)/boards/manifest.py")

# MQTT client from micropython-lib.
require("umqtt.simple")

# The pure domain logic shared with the edge and cloud, frozen as the `core` package.
# Every core module but the CPython-only ones (tests/micropython/cpython_only.txt);
# tests/test_firmware_manifest.py keeps this list true.
package(
    "core",
    files=[
        "__init__.py",
        "cbor.py",
        "codec.py",
        "contract.py",
        "errors.py",
        "fields.py",
        "messages.py",
        "topics.py",
    ],
    base_path="..",
)

# Device agents are added here as they are written, one module() line each, e.g.
# module("agent.py")
