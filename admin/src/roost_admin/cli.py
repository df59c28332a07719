"""``roost start``, ``roost engine`` and ``roost admin migrate`` (also as ``roost-admin start|engine|migrate``)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from roost_admin.config import load_settings

_COMMON = [
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


def _common(function: Any) -> Any:
    for option in reversed(_COMMON):
        function = option(function)
    return function


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces every plugin it loads at INFO; only what it migrates is worth a line.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


@click.command("start")
@_common
@click.option("--grpc-port", type=int, default=None, help="[default: 8089]")
@click.option("--http-port", type=int, default=None, help="[default: 8088]")
@click.option("--workers", type=int, default=None, help="Engine workers in this process [default: 2].")
def start(
    config_file: str | None,
    data_dir: str | None,
    db_url: str | None,
    storage: str | None,
    grpc_port: int | None,
    http_port: int | None,
    workers: int | None,
) -> None:
    """Run Roost: the admin (gRPC and HTTP) and engine workers, in one process, until Ctrl-C."""
    from roost_admin.app import AdminApp

    _configure_logging()
    settings = load_settings(
        config_file,
        data_dir=data_dir,
        db_url=db_url,
        storage=storage,
        grpc_port=grpc_port,
        http_port=http_port,
        workers=workers,
    )
    app = AdminApp(settings)
    app.start()
    click.echo(
        f"Roost is running.\n  gRPC:    {settings.grpc_host}:{app.grpc_port}  (flytekit: endpoint "
        f"{settings.grpc_host}:{app.grpc_port}, insecure: true)\n  HTTP:    {app.http_url}\n"
        f"  data:    {settings.data_dir}\n  db:      {settings.database_url}\n"
        f"  storage: {settings.storage_prefix}\nPress Ctrl-C to stop."
    )
    try:
        _wait_for_interrupt()
    finally:
        click.echo("stopping...")
        app.stop()


@click.command("engine")
@_common
@click.option("--workers", type=int, default=None, help="Engine workers in this process [default: 2].")
def engine(
    config_file: str | None,
    data_dir: str | None,
    db_url: str | None,
    storage: str | None,
    workers: int | None,
) -> None:
    """Run engine workers only, sharing the database and storage of a running admin."""
    from roost_admin.app import AdminApp

    _configure_logging()
    settings = load_settings(config_file, data_dir=data_dir, db_url=db_url, storage=storage, workers=workers)
    app = AdminApp(settings)
    app.start(serve=False)
    click.echo(
        f"{settings.workers if workers is None else workers} engine worker(s) running against "
        f"{settings.database_url}. Press Ctrl-C to stop."
    )
    try:
        _wait_for_interrupt()
    finally:
        app.stop()


@click.command("migrate")
@_common
def migrate(config_file: str | None, data_dir: str | None, db_url: str | None, storage: str | None) -> None:
    """Apply database migrations."""
    from roost_admin.db.base import Database
    from roost_admin.db.migrate import current, upgrade

    settings = load_settings(config_file, data_dir=data_dir, db_url=db_url, storage=storage)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    before = current(db)
    upgrade(db)
    click.echo(f"{settings.database_url}: schema {before or 'empty'} -> {current(db)}")


@click.group("admin")
def admin() -> None:
    """Administer a Roost deployment."""


admin.add_command(migrate)


@click.group()
def main() -> None:
    """roost-admin: the Roost control plane."""


main.add_command(start)
main.add_command(engine)
main.add_command(migrate)
