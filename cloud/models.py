"""Every domain's models on the one declarative base, so Alembic and the tests see one
metadata. Wiring, like ``cloud.api``: no domain imports it."""

from __future__ import annotations

from cloud.alerts import models as alerts
from cloud.cases import models as cases
from cloud.console import models as console
from cloud.db.base import Base
from cloud.fleet import models as fleet
from cloud.identity import models as identity
from cloud.ingest import models as ingest
from cloud.rivers import models as rivers
from cloud.scheduler import models as scheduler
from cloud.supervision import models as supervision

DOMAIN_MODELS = (identity, fleet, ingest, rivers, supervision, cases, alerts, scheduler, console)

__all__ = ["DOMAIN_MODELS", "Base"]
