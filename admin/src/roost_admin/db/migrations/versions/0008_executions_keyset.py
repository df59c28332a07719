"""Indexes for executions lists paged by keyset (created_at, id) and for counts per phase.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index(op.f("ix_executions_project_domain_created_at"), table_name="executions")
    op.drop_index(op.f("ix_executions_project_domain_phase_created_at"), table_name="executions")
    op.create_index(
        op.f("ix_executions_project_domain_state_created_at_id"),
        "executions",
        ["project", "domain", "state", "created_at", "id"],
    )
    op.create_index(
        op.f("ix_executions_project_domain_phase_state_created_at_id"),
        "executions",
        ["project", "domain", "phase", "state", "created_at", "id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_executions_project_domain_phase_state_created_at_id"), table_name="executions")
    op.drop_index(op.f("ix_executions_project_domain_state_created_at_id"), table_name="executions")
    op.create_index(
        op.f("ix_executions_project_domain_phase_created_at"),
        "executions",
        ["project", "domain", "phase", "created_at"],
    )
    op.create_index(
        op.f("ix_executions_project_domain_created_at"), "executions", ["project", "domain", "created_at"]
    )
