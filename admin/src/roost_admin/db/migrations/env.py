"""Alembic environment: migrates the database the caller's connection points at."""

from __future__ import annotations

from alembic import context

from roost_admin.auth import models as auth_models
from roost_admin.db import models
from roost_admin.db.base import Base

assert models and auth_models  # every table must be imported for autogenerate and checks to see it

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
