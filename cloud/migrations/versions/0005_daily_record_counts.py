"""daily record counts: records stored per device and local day, for "readings today"

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_record_counts",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_daily_record_counts_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "day", name=op.f("pk_daily_record_counts")),
    )
    op.create_index(op.f("ix_daily_record_counts_day"), "daily_record_counts", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_daily_record_counts_day"), table_name="daily_record_counts")
    op.drop_table("daily_record_counts")
