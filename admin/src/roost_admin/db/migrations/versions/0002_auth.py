"""Authentication and authorization: clients, users, groups, role bindings, refresh tokens, authorization and
device codes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:09:33.171768
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "auth_clients",
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_auth_clients")),
    )
    op.create_table(
        "auth_codes",
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_digest", name=op.f("pk_auth_codes")),
    )
    op.create_table(
        "auth_device_codes",
        sa.Column("device_code_digest", sa.String(length=64), nullable=False),
        sa.Column("user_code_digest", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("device_code_digest", name=op.f("pk_auth_device_codes")),
        sa.UniqueConstraint("user_code_digest", name=op.f("uq_auth_device_codes_user_code_digest")),
    )
    op.create_table(
        "auth_refresh_tokens",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_auth_refresh_tokens")),
    )
    op.create_table(
        "auth_role_bindings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_kind", sa.String(length=16), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=63), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_role_bindings")),
        sa.UniqueConstraint(
            "principal_kind",
            "principal",
            "project",
            "role",
            name=op.f("uq_auth_role_bindings_principal_kind_principal_project_role"),
        ),
    )
    with op.batch_alter_table("auth_role_bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_role_bindings_principal_kind_principal"),
            ["principal_kind", "principal"],
            unique=False,
        )

    op.create_table(
        "auth_users",
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_auth_users")),
    )
    op.create_table(
        "auth_group_members",
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["auth_users.username"],
            name=op.f("fk_auth_group_members_username_auth_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_name", "username", name=op.f("pk_auth_group_members")),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("auth_group_members")
    op.drop_table("auth_users")
    with op.batch_alter_table("auth_role_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_role_bindings_principal_kind_principal"))

    op.drop_table("auth_role_bindings")
    op.drop_table("auth_refresh_tokens")
    op.drop_table("auth_device_codes")
    op.drop_table("auth_codes")
    op.drop_table("auth_clients")
