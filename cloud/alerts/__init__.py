"""Alerts: one open alert per subject and cause, its lifecycle, escalation and explanation.

Supervision raises alerts about persons and gateways; rivers will raise them about sites.
"""
