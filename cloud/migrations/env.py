"""Alembic environment: run by ``cloud.db.migrate`` with a live connection."""

from __future__ import annotations

from alembic import context

from cloud.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
