"""The change feed's topic for alerts (``cloud.web.changes``): an alert was raised,
updated or moved on in its lifecycle. The console's inbox reads it."""

from __future__ import annotations

ALERTS_CHANGED = "alerts"
