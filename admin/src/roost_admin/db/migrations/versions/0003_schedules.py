"""Schedules: the running schedule of each active launch plan with one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "schedules",
        sa.Column("project", sa.String(length=63), nullable=False),
        sa.Column("domain", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("launch_plan_id", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["launch_plan_id"],
            ["launch_plans.id"],
            name=op.f("fk_schedules_launch_plan_id_launch_plans"),
        ),
        sa.PrimaryKeyConstraint("project", "domain", "name", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_next_fire_at"), "schedules", ["next_fire_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_schedules_next_fire_at"), table_name="schedules")
    op.drop_table("schedules")
