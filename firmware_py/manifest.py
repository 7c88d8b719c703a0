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
        "devices.py",
        "errors.py",
        "evidence.py",
        "fields.py",
        "geofence.py",
        "messages.py",
        "schedule.py",
        "topics.py",
        "waterclass.py",
    ],
    base_path="..",
)

# The device agents, their shared logic, parsers and HAL, frozen as the `firmware_py`
# package (the same import names as on the host). Not frozen: host/ (simulated twins and
# the paho transport) and the per-kind main.py files, one of which is copied to the
# board's filesystem as /main.py (see docs/devices.md).
package(
    "firmware_py",
    files=[
        "__init__.py",
        "nmea.py",
        "modbus.py",
        "agent/__init__.py",
        "agent/backoff.py",
        "agent/batch.py",
        "agent/commands.py",
        "agent/crc.py",
        "agent/device.py",
        "agent/persist.py",
        "agent/position.py",
        "agent/settings.py",
        "agent/store.py",
        "agent/uplink.py",
        "bracelet/__init__.py",
        "bracelet/agent.py",
        "bracelet/board.py",
        "bracelet/zones.py",
        "river_sensor/__init__.py",
        "river_sensor/agent.py",
        "river_sensor/board.py",
        "river_sensor/sonde.py",
        "hal/__init__.py",
        "hal/board.py",
        "hal/flash.py",
        "device/__init__.py",
        "device/runtime.py",
    ],
    base_path="..",
)
