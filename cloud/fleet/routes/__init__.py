"""The fleet's routes: people's device views, and the gateways' own calls."""

from __future__ import annotations

from cloud.fleet.routes import devices, gateways

routers = (devices.router, gateways.router)
