"""The change feed's topic for devices (``cloud.web.changes``): a device's position,
status or record changed. Ingest publishes it; the live map reads it."""

from __future__ import annotations

DEVICES_CHANGED = "devices"
