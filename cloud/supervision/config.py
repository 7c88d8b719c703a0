"""Supervision's settings, from the cloud's (``cloud.settings``), as its parts take them."""

from __future__ import annotations

from cloud.errors import InvalidRequestError
from cloud.settings import CloudSettings
from cloud.supervision.causes import DEFAULT_SEVERITIES
from cloud.supervision.checks import CheckSettings
from cloud.supervision.evaluate import AlertPolicy

SEVERITY_NAMES = ("critical", "major", "minor", "warning")


def alert_policy(settings: CloudSettings) -> AlertPolicy:
    severities = dict(DEFAULT_SEVERITIES)
    for cause, severity in settings.alert_severities.items():
        if cause not in DEFAULT_SEVERITIES or severity not in SEVERITY_NAMES:
            raise InvalidRequestError(f"alert_severities: {cause} = {severity} is not known")
        severities[cause] = severity
    return AlertPolicy(
        severities=severities,
        low_battery_pct=settings.low_battery_pct,
        battery_recovered_pct=min(100, settings.low_battery_pct + 10),
        trip_grace_s=settings.trip_grace_s,
    )


def check_settings(settings: CloudSettings) -> CheckSettings:
    return CheckSettings(
        absent_after_s=settings.absent_after_s,
        gateway_silent_after_s=settings.gateway_silent_after_s,
        term_reminder_days=settings.term_reminder_days,
        roll_call_grace_s=settings.roll_call_grace_s,
        roll_call_window_s=settings.roll_call_window_s,
        trip_grace_s=settings.trip_grace_s,
        salt=settings.secret_key.get_secret_value().encode(),
    )
