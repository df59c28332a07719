"""Options the admin's commands share: where the settings, the data, the database and the storage are."""

from __future__ import annotations

from typing import Any

import click

DATABASE_OPTIONS = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="A YAML settings file (see docs/architecture.md).",
    ),
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Where the embedded database and blob store live [default: ~/.roost].",
    ),
    click.option("--db", "db_url", default=None, help="A database URL (postgresql+psycopg://...)."),
    click.option("--storage", default=None, help="A blob store prefix (s3://bucket/prefix)."),
]


def database_options(function: Any) -> Any:
    """Add the options naming the settings file, data folder, database and storage to a command."""
    for option in reversed(DATABASE_OPTIONS):
        function = option(function)
    return function
