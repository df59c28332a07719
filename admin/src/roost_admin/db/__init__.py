"""The admin's database: models, sessions and migrations."""

from roost_admin.db.base import Base, Database, utcnow

__all__ = ["Base", "Database", "utcnow"]
