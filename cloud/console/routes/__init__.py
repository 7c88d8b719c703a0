"""The console's pages, one module per area; ``routers`` in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.console.routes import (
    alerts,
    devices,
    home,
    language,
    live_map,
    persons,
    rivers,
    sign_in,
    sites,
    statistics,
    zones,
)

routers: list[APIRouter] = [
    sign_in.router,
    language.router,
    home.router,
    live_map.router,
    devices.router,
    sites.router,
    rivers.router,
    persons.router,
    zones.router,
    alerts.router,
    statistics.router,
]
