"""rivers: rivers with their chiefs by level; sites on a river or a lake, with a target class; alerts of a site

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rivers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("geometry_json", sa.Text(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rivers")),
        sa.UniqueConstraint("code", name=op.f("uq_rivers_code")),
    )
    with op.batch_alter_table("rivers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rivers_name"), ["name"], unique=False)
    op.create_table(
        "river_chiefs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("river_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["river_id"],
            ["rivers.id"],
            name=op.f("fk_river_chiefs_river_id_rivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_river_chiefs_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_river_chiefs")),
        sa.UniqueConstraint("river_id", "level", "user_id", name=op.f("uq_river_chiefs_river_id")),
    )
    with op.batch_alter_table("river_chiefs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_river_chiefs_river_id"), ["river_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_river_chiefs_user_id"), ["user_id"], unique=False)
    op.create_table(
        "site_conditions",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sample_ts", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("water_class", sa.Integer(), nullable=True),
        sa.Column("deciding_json", sa.Text(), nullable=False),
        sa.Column("suspect_json", sa.Text(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("class_seen_ts", sa.BigInteger(), nullable=True),
        sa.Column("class_seen_for", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["river_sites.id"],
            name=op.f("fk_site_conditions_site_id_river_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_conditions")),
    )
    op.create_table(
        "station_latest",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("boot", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        *(
            sa.Column(name, sa.Float(), nullable=True)
            for name in (
                "water_temp",
                "ph",
                "dissolved_oxygen",
                "conductivity",
                "turbidity",
                "permanganate_index",
                "ammonia_nitrogen",
                "total_phosphorus",
                "total_nitrogen",
            )
        ),
        sa.Column("statuses_json", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_station_latest_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_station_latest")),
    )
    op.create_table(
        "water_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("river_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parameter", sa.String(length=32), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("class_limit", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_water_rules_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["river_id"],
            ["rivers.id"],
            name=op.f("fk_water_rules_river_id_rivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["river_sites.id"],
            name=op.f("fk_water_rules_site_id_river_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_water_rules_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_water_rules")),
    )
    with op.batch_alter_table("water_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_water_rules_river_id"), ["river_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_water_rules_site_id"), ["site_id"], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_site_id"), ["site_id"], unique=False)
    with op.batch_alter_table("river_sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("river_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("waterbody", sa.String(length=8), server_default="river", nullable=False)
        )
        batch_op.add_column(sa.Column("target_class", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_river_sites_river_id"), ["river_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_river_sites_river_id_rivers"), "rivers", ["river_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_site_id"))
        batch_op.drop_column("site_id")
    with op.batch_alter_table("river_sites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_river_sites_river_id_rivers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_river_sites_river_id"))
        batch_op.drop_column("target_class")
        batch_op.drop_column("waterbody")
        batch_op.drop_column("river_id")
    op.drop_table("site_conditions")
    op.drop_table("station_latest")
    with op.batch_alter_table("water_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_water_rules_site_id"))
        batch_op.drop_index(batch_op.f("ix_water_rules_river_id"))
    op.drop_table("water_rules")
    with op.batch_alter_table("river_chiefs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_river_chiefs_user_id"))
        batch_op.drop_index(batch_op.f("ix_river_chiefs_river_id"))
    op.drop_table("river_chiefs")
    with op.batch_alter_table("rivers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rivers_name"))
    op.drop_table("rivers")
