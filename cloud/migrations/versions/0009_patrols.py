"""patrols: patrol reports with notes beside them, river problems and their steps, photos by their blobs' hashes

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"))


def upgrade() -> None:
    op.create_table(
        "patrol_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("river_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("patrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.Integer(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["river_id"], ["rivers.id"], name=op.f("fk_patrol_reports_river_id_rivers")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["river_sites.id"], name=op.f("fk_patrol_reports_site_id_river_sites")
        ),
        _user_fk("patrol_reports", "filed_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_reports")),
    )
    with op.batch_alter_table("patrol_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_reports_river_id"), ["river_id"], unique=False)
    op.create_table(
        "patrol_report_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["patrol_reports.id"],
            name=op.f("fk_patrol_report_notes_report_id_patrol_reports"),
        ),
        _user_fk("patrol_report_notes", "by_user"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_report_notes")),
    )
    with op.batch_alter_table("patrol_report_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patrol_report_notes_report_id"), ["report_id"], unique=False
        )
    op.create_table(
        "river_problems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("river_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reported_by", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["river_id"], ["rivers.id"], name=op.f("fk_river_problems_river_id_rivers")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["river_sites.id"], name=op.f("fk_river_problems_site_id_river_sites")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["patrol_reports.id"],
            name=op.f("fk_river_problems_report_id_patrol_reports"),
        ),
        _user_fk("river_problems", "assignee_id"),
        _user_fk("river_problems", "reported_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_river_problems")),
    )
    with op.batch_alter_table("river_problems", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_river_problems_river_id"), ["river_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_river_problems_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_river_problems_status"), ["status"], unique=False)
    op.create_table(
        "river_problem_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("by_user", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["problem_id"],
            ["river_problems.id"],
            name=op.f("fk_river_problem_steps_problem_id_river_problems"),
        ),
        _user_fk("river_problem_steps", "by_user"),
        _user_fk("river_problem_steps", "assignee_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_river_problem_steps")),
    )
    with op.batch_alter_table("river_problem_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_river_problem_steps_problem_id"), ["problem_id"], unique=False
        )
    op.create_table(
        "patrol_photos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["patrol_reports.id"],
            name=op.f("fk_patrol_photos_report_id_patrol_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["river_problem_steps.id"],
            name=op.f("fk_patrol_photos_step_id_river_problem_steps"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_photos")),
    )
    with op.batch_alter_table("patrol_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_photos_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_photos_report_id"), ["report_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patrol_photos_step_id"), ["step_id"], unique=False)


def downgrade() -> None:
    op.drop_table("patrol_photos")
    op.drop_table("river_problem_steps")
    op.drop_table("river_problems")
    op.drop_table("patrol_report_notes")
    op.drop_table("patrol_reports")
