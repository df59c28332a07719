"""An index for lists of executions filtered by launch plan, newest first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 23:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        op.f("ix_executions_launch_plan_id_created_at"), "executions", ["launch_plan_id", "created_at"]
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_executions_launch_plan_id_created_at"), table_name="executions")
