"""initial schema: gateways, people, sites, devices, completeness, ingest, downlink

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "gateways",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_batch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("buffer_depth", sa.BigInteger(), nullable=True),
        sa.Column("buffer_bytes", sa.BigInteger(), nullable=True),
        sa.Column("oldest_buffered_age_s", sa.Float(), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gateways_token_hash")),
    )
    op.create_table(
        "river_sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("river", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_river_sites")),
    )
    op.create_table(
        "supervised_persons",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervised_persons")),
        sa.UniqueConstraint("reference", name=op.f("uq_supervised_persons_reference")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("gateway_id", sa.String(length=32), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("firmware_version", sa.String(length=64), nullable=True),
        sa.Column("config_version", sa.BigInteger(), nullable=True),
        sa.Column("issued_config_version", sa.BigInteger(), nullable=True),
        sa.Column("presence", sa.String(length=8), nullable=True),
        sa.Column("presence_received_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_record_ts", sa.BigInteger(), nullable=True),
        sa.Column("last_boot", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("battery_pct", sa.Integer(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "person_id IS NULL OR site_id IS NULL", name=op.f("ck_devices_one_assignment")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_devices_gateway_id_gateways")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_devices_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["river_sites.id"], name=op.f("fk_devices_site_id_river_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_gateway_id"), ["gateway_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_site_id"), ["site_id"], unique=False)

    op.create_table(
        "ingested_batches",
        sa.Column("gateway_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=128), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected_json", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_ingested_batches_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "batch_id", name=op.f("pk_ingested_batches")),
    )
    op.create_table(
        "quarantined_readings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gateway_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=128), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["gateways.id"],
            name=op.f("fk_quarantined_readings_gateway_id_gateways"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_readings")),
    )
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantined_readings_gateway_id"), ["gateway_id"], unique=False
        )

    op.create_table(
        "site_assignments",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["river_sites.id"],
            name=op.f("fk_site_assignments_site_id_river_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_site_assignments_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "site_id", name=op.f("pk_site_assignments")),
    )
    op.create_table(
        "downlink_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_downlink_messages_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downlink_messages")),
    )
    with op.batch_alter_table("downlink_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_downlink_messages_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "sequence_gaps",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("boot", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_sequence_gaps_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "boot", "first_seq", name=op.f("pk_sequence_gaps")),
    )
    op.create_table(
        "sequence_ranges",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("boot", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_sequence_ranges_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "boot", "first_seq", name=op.f("pk_sequence_ranges")),
    )


def downgrade() -> None:

    op.drop_table("sequence_ranges")
    op.drop_table("sequence_gaps")
    with op.batch_alter_table("downlink_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_downlink_messages_device_id"))

    op.drop_table("downlink_messages")
    op.drop_table("site_assignments")
    with op.batch_alter_table("quarantined_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_readings_gateway_id"))

    op.drop_table("quarantined_readings")
    op.drop_table("ingested_batches")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_site_id"))
        batch_op.drop_index(batch_op.f("ix_devices_gateway_id"))

    op.drop_table("devices")
    op.drop_table("users")
    op.drop_table("supervised_persons")
    op.drop_table("river_sites")
    op.drop_table("gateways")
