"""The console's pages, one module per area; ``routers`` in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.console.routes import home, language, sign_in

routers: list[APIRouter] = [sign_in.router, language.router, home.router]
