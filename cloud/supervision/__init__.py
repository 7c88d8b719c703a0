"""Supervision: people under non-custodial supervision, whose bracelets the fleet serves.

Zones, curfews, travel permits, roll calls and alerts come with their own issue; today
this domain holds the person a bracelet is assigned to.
"""
