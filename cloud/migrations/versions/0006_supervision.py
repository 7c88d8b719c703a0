"""supervision: persons' terms, bracelets worn, zones, rule state, travel, roll calls, alerts, scheduler lease

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_level", sa.String(length=16), nullable=True))
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("shape", sa.String(length=16), nullable=False),
        sa.Column("geometry_json", sa.Text(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("dwell_s", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_zones_updated_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_zones_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_key", sa.String(length=160), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("gateway_id", sa.String(length=32), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("happened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_evidence_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("cause_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("explanation_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_alerts_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_alerts_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_alerts_resolved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_cause"), ["cause"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_alerts_status_raised", ["status", "raised_at"], unique=False)
        batch_op.create_index(
            "uq_alerts_one_open_per_subject",
            ["subject_key"],
            unique=True,
            sqlite_where=sa.text("status != 'resolved'"),
            postgresql_where=sa.text("status != 'resolved'"),
        )

    op.create_table(
        "term_renewals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("previous_end", sa.Date(), nullable=False),
        sa.Column("new_end", sa.Date(), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user"], ["users.id"], name=op.f("fk_term_renewals_by_user_users")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_term_renewals_person_id_supervised_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_term_renewals")),
    )
    with op.batch_alter_table("term_renewals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_term_renewals_person_id"), ["person_id"], unique=False)

    op.create_table(
        "travel_permits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("destination_zone_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approval_level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_travel_permits_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["destination_zone_id"],
            ["zones.id"],
            name=op.f("fk_travel_permits_destination_zone_id_zones"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_travel_permits_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_travel_permits_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_travel_permits")),
    )
    with op.batch_alter_table("travel_permits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_travel_permits_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "zone_assignments",
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_zone_assignments_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
            name=op.f("fk_zone_assignments_zone_id_zones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("zone_id", "person_id", name=op.f("pk_zone_assignments")),
    )
    with op.batch_alter_table("zone_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zone_assignments_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "zone_tracks",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("since_ts", sa.BigInteger(), nullable=True),
        sa.Column("candidate", sa.String(length=8), nullable=True),
        sa.Column("candidate_since_ts", sa.BigInteger(), nullable=True),
        sa.Column("candidate_fix_json", sa.Text(), nullable=True),
        sa.Column("violating_since_ts", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("boot", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_zone_tracks_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_zone_tracks_zone_id_zones"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", "zone_id", name=op.f("pk_zone_tracks")),
    )
    op.create_table(
        "alert_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_steps_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["by_user"], ["users.id"], name=op.f("fk_alert_steps_by_user_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_steps")),
    )
    with op.batch_alter_table("alert_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_steps_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "bracelet_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("by_user", sa.Integer(), nullable=True),
        sa.Column("zones_sent_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user"], ["users.id"], name=op.f("fk_bracelet_assignments_by_user_users")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_bracelet_assignments_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_bracelet_assignments_person_id_supervised_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bracelet_assignments")),
    )
    with op.batch_alter_table("bracelet_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bracelet_assignments_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bracelet_assignments_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "device_conditions",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("strap_open_since_ts", sa.BigInteger(), nullable=True),
        sa.Column("low_battery_since_ts", sa.BigInteger(), nullable=True),
        sa.Column("powered_off_boot", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_conditions_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_conditions")),
    )
    op.create_table(
        "locate_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("command_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("located_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fix_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_locate_requests_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_locate_requests_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_locate_requests_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locate_requests")),
    )
    with op.batch_alter_table("locate_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_locate_requests_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "roll_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("command_id", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_s", sa.Integer(), nullable=True),
        sa.Column("fix_json", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_roll_calls_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["supervised_persons.id"],
            name=op.f("fk_roll_calls_person_id_supervised_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_roll_calls_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_calls")),
    )
    with op.batch_alter_table("roll_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roll_calls_command_id"), ["command_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_roll_calls_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("supervised_persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measure", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("legal_basis", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("term_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("term_end", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("prosecutor_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(
            sa.Column("roll_calls_per_day", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_supervised_persons_prosecutor_id"), ["prosecutor_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_supervised_persons_prosecutor_id_users"),
            "users",
            ["prosecutor_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("approval_level")
    with op.batch_alter_table("supervised_persons", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_supervised_persons_prosecutor_id_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_supervised_persons_prosecutor_id"))
        batch_op.drop_column("created_at")
        batch_op.drop_column("roll_calls_per_day")
        batch_op.drop_column("status")
        batch_op.drop_column("prosecutor_id")
        batch_op.drop_column("term_end")
        batch_op.drop_column("term_start")
        batch_op.drop_column("legal_basis")
        batch_op.drop_column("measure")

    with op.batch_alter_table("roll_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roll_calls_person_id"))
        batch_op.drop_index(batch_op.f("ix_roll_calls_command_id"))

    op.drop_table("roll_calls")
    with op.batch_alter_table("locate_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locate_requests_person_id"))

    op.drop_table("locate_requests")
    op.drop_table("device_conditions")
    with op.batch_alter_table("bracelet_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bracelet_assignments_person_id"))
        batch_op.drop_index(batch_op.f("ix_bracelet_assignments_device_id"))

    op.drop_table("bracelet_assignments")
    with op.batch_alter_table("alert_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_steps_alert_id"))

    op.drop_table("alert_steps")
    op.drop_table("zone_tracks")
    with op.batch_alter_table("zone_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_assignments_person_id"))

    op.drop_table("zone_assignments")
    with op.batch_alter_table("travel_permits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_travel_permits_person_id"))

    op.drop_table("travel_permits")
    with op.batch_alter_table("term_renewals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_term_renewals_person_id"))

    op.drop_table("term_renewals")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_one_open_per_subject",
            sqlite_where=sa.text("status != 'resolved'"),
            postgresql_where=sa.text("status != 'resolved'"),
        )
        batch_op.drop_index("ix_alerts_status_raised")
        batch_op.drop_index(batch_op.f("ix_alerts_person_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_device_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_cause"))

    op.drop_table("alerts")
    op.drop_table("zones")
    op.drop_table("scheduler_leases")
