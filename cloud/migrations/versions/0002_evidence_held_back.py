"""evidence held back: a device's held records, and the quarantine of gateways and records

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held_implausible_time", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("held_conflicting", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("last_held_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_held_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_held_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=8), server_default="cloud", nullable=False)
        )
        batch_op.add_column(sa.Column("gateway_entry_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("record_index", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("topic", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("boot", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.alter_column("batch_id", existing_type=sa.String(length=128), nullable=True)
        batch_op.alter_column("item_index", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("device_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=True)
        batch_op.create_unique_constraint(
            batch_op.f("uq_quarantined_readings_gateway_id"),
            ["gateway_id", "gateway_entry_id", "record_index"],
        )
        batch_op.create_index("ix_quarantined_readings_device_boot", ["device_id", "boot"])


def downgrade() -> None:
    kept = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM quarantined_readings WHERE source = 'gateway'")
    )
    if kept:
        raise RuntimeError(
            f"{kept} quarantine rows uploaded by gateways have no place in revision 0001; "
            "export them before downgrading"
        )
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantined_readings_device_boot")
        batch_op.drop_constraint(batch_op.f("uq_quarantined_readings_gateway_id"), type_="unique")
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("device_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("item_index", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("batch_id", existing_type=sa.String(length=128), nullable=False)
        batch_op.drop_column("seq")
        batch_op.drop_column("boot")
        batch_op.drop_column("topic")
        batch_op.drop_column("record_index")
        batch_op.drop_column("gateway_entry_id")
        batch_op.drop_column("source")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("last_held_reason")
        batch_op.drop_column("last_held_code")
        batch_op.drop_column("last_held_at")
        batch_op.drop_column("held_conflicting")
        batch_op.drop_column("held_implausible_time")
