"""positions on the map: a device's last fix accuracy and time, a site's location

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as table:
        table.add_column(sa.Column("last_accuracy_m", sa.Integer(), nullable=True))
        table.add_column(sa.Column("last_fix_ts", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("river_sites") as table:
        table.add_column(sa.Column("lat", sa.Float(), nullable=True))
        table.add_column(sa.Column("lon", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("river_sites") as table:
        table.drop_column("lon")
        table.drop_column("lat")
    with op.batch_alter_table("devices") as table:
        table.drop_column("last_fix_ts")
        table.drop_column("last_accuracy_m")
