"""Matchable attributes (per project, project and domain, or workflow settings of each kind), and executions
held by their launch plan's concurrency policy.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "matchable_attributes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_type", sa.Integer(), nullable=False),
        sa.Column("project", sa.String(length=63), nullable=False),
        sa.Column("domain", sa.String(length=63), nullable=False),
        sa.Column("workflow", sa.String(length=255), nullable=False),
        sa.Column("launch_plan", sa.String(length=255), nullable=False),
        sa.Column("attributes", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matchable_attributes")),
        sa.UniqueConstraint(
            "resource_type",
            "project",
            "domain",
            "workflow",
            "launch_plan",
            name=op.f("uq_matchable_attributes_scope"),
        ),
    )

    with op.batch_alter_table("executions") as table:
        table.add_column(sa.Column("held_limit", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("executions") as table:
        table.drop_column("held_limit")
    op.drop_table("matchable_attributes")
