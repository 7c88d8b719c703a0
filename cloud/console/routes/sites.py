"""Console pages: sites (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.console.pages import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
