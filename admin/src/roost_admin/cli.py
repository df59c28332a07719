"""``roost start``, ``roost engine``, ``roost scheduler``, ``roost backfill`` and ``roost admin migrate`` (also as
``roost-admin start|engine|scheduler|backfill|migrate``)."""

from __future__ import annotations

import datetime
import faulthandler
import gc
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from roost_admin.auth.cli import clients, roles, users
from roost_admin.cli_options import database_options as _common
from roost_admin.config import load_settings

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

_SIGNAL_CHECK_INTERVAL = 0.5
"""Seconds between the main thread's looks at whether Ctrl-C or SIGTERM came."""
_WAIT_INTERVAL = 1.0
"""Seconds between looks at a backfilled execution that a serial backfill waits for."""


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic announces every plugin it loads at INFO; only what it migrates is worth a line.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _interrupted() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM. Installed before anything starts, so a signal that comes while the
    server starts or prints its banner still stops it cleanly (handing back its leases) instead of aborting.
    SIGUSR1 prints every thread's stack to stderr and changes nothing else: where a stop hangs, it shows where."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return stop


def _wait_until(interrupted: threading.Event) -> None:
    """Block until ``interrupted`` is set, looking again every half second: Python runs signal handlers in the main
    thread between bytecodes, so a signal the system hands to another thread would not end an untimed wait."""
    while not interrupted.wait(_SIGNAL_CHECK_INTERVAL):
        pass


def _stop(app: AdminApp) -> None:
    """Stop ``app``, then spare this process's exit the interpreter's last garbage collections: they walk every
    object the server made (about three quarters of a second of an idle server's stop, many seconds on a loaded
    machine), and nothing is left for them to finalize once the app closed what it opened."""
    app.stop()
    gc.freeze()


@click.command("start")
@_common
@click.option("--grpc-port", type=int, default=None, help="[default: 8089]")
@click.option("--http-port", type=int, default=None, help="[default: 8088]")
@click.option("--workers", type=int, default=None, help="Engine workers in this process [default: 2].")
@click.option(
    "--auth/--no-auth",
    default=None,
    help="Require bearer tokens and roles (the auth.enabled setting) [default: off].",
)
def start(
    config_file: str | None,
    data_dir: str | None,
    db_url: str | None,
    storage: str | None,
    grpc_port: int | None,
    http_port: int | None,
    workers: int | None,
    auth: bool | None,
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
        auth=None if auth is None else {"enabled": auth},
    )
    interrupted = _interrupted()
    app = AdminApp(settings)
    app.start()
    secure = "false" if settings.tls.enabled else "true"
    login = ", authType: ClientSecret or Pkce" if settings.auth.enabled else ""
    click.echo(
        f"Roost is running.\n  gRPC:    {settings.grpc_host}:{app.grpc_port}  (flytekit: endpoint "
        f"{settings.grpc_host}:{app.grpc_port}, insecure: {secure}{login})\n  HTTP:    {app.http_url}\n"
        f"  auth:    {_auth_summary(app)}\n"
        f"  data:    {settings.data_dir}\n  db:      {settings.database_url}\n"
        f"  storage: {settings.storage_prefix}\nPress Ctrl-C to stop."
    )
    try:
        _wait_until(interrupted)
    finally:
        click.echo("stopping...")
        _stop(app)


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
    interrupted = _interrupted()
    app = AdminApp(settings)
    app.start(serve=False)
    click.echo(
        f"{settings.workers if workers is None else workers} engine worker(s) running against "
        f"{settings.database_url}. Press Ctrl-C to stop."
    )
    try:
        _wait_until(interrupted)
    finally:
        _stop(app)


@click.command("scheduler")
@_common
def scheduler(config_file: str | None, data_dir: str | None, db_url: str | None, storage: str | None) -> None:
    """Run the scheduler only: launch plans with a schedule fire from this process, sharing the database and
    storage of a running admin (any number of schedulers may run; each time still fires once)."""
    from roost_admin.app import AdminApp

    _configure_logging()
    settings = load_settings(config_file, data_dir=data_dir, db_url=db_url, storage=storage)
    interrupted = _interrupted()
    app = AdminApp(settings)
    app.start(serve=False, workers=0, scheduler=True)
    click.echo(f"Scheduler running against {settings.database_url}. Press Ctrl-C to stop.")
    try:
        _wait_until(interrupted)
    finally:
        _stop(app)


def _moment(value: str, option: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"'{value}' is not an ISO 8601 time (e.g. 2026-01-31T06:00 or 2026-01-31T06:00+01:00)",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


@click.command("backfill")
@_common
@click.argument("launch_plan")
@click.option("-p", "--project", default="flytesnacks", show_default=True)
@click.option("-d", "--domain", default="development", show_default=True)
@click.option("--version", default="", help="The launch plan version [default: the active one].")
@click.option(
    "--from", "start", required=True, help="First time of the window (ISO 8601; UTC unless it says)."
)
@click.option("--to", "end", required=True, help="Last time of the window, included.")
@click.option("--parallel", is_flag=True, help="Launch every time at once instead of one after another.")
@click.option("--dry-run", is_flag=True, help="Only list the times and execution names.")
def backfill(
    config_file: str | None,
    data_dir: str | None,
    db_url: str | None,
    storage: str | None,
    launch_plan: str,
    project: str,
    domain: str,
    version: str,
    start: str,
    end: str,
    parallel: bool,
    dry_run: bool,
) -> None:
    """Launch what LAUNCH_PLAN's schedule would have launched from --from to --to, under the names the scheduler
    gives those times (so a backfill and the live schedule never double up). LAUNCH_PLAN is a name, or
    project/domain/name. One after another (each waits for the one before to end) unless --parallel."""
    from roost_admin.app import AdminApp
    from roost_admin.errors import ClientError

    if launch_plan.count("/") == 2:
        project, domain, launch_plan = launch_plan.split("/")
    window = _moment(start, "--from"), _moment(end, "--to")
    settings = load_settings(config_file, data_dir=data_dir, db_url=db_url, storage=storage)
    app = AdminApp(settings)
    app.start(serve=False, workers=0, scheduler=False)
    try:
        services = app.services
        try:
            plan, schedule, runs = services.scheduler.backfill_plan(
                project, domain, launch_plan, *window, version=version
            )
        except ClientError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(
            f"{len(runs)} time(s) of launch plan {project}/{domain}/{launch_plan}@{plan.id.version} from "
            f"{window[0].isoformat()} to {window[1].isoformat()}:"
        )
        for run in runs:
            if dry_run:
                click.echo(
                    f"  {run.moment.isoformat()}  {run.name}  {'exists' if run.exists else 'would launch'}"
                )
                continue
            name, created = services.scheduler.launch_time(plan.id, schedule, run.moment)
            click.echo(f"  {run.moment.isoformat()}  {name}  {'launched' if created else 'exists'}")
            if not parallel:
                _wait_for(services, project, domain, name)
    finally:
        app.stop()


def _wait_for(services: Any, project: str, domain: str, name: str) -> None:
    from flyteidl.admin import execution_pb2
    from flyteidl.core import identifier_pb2

    from roost_admin.services.rows import TERMINAL_WORKFLOW, workflow_phase_name

    ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
    while True:
        phase = services.executions.get_execution(
            execution_pb2.WorkflowExecutionGetRequest(id=ident)
        ).closure.phase
        if phase in TERMINAL_WORKFLOW:
            click.echo(f"    ended {workflow_phase_name(phase)}")
            return
        time.sleep(_WAIT_INTERVAL)


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


@click.command("notifications")
@_common
@click.argument("execution")
@click.option("-p", "--project", default="flytesnacks", show_default=True)
@click.option("-d", "--domain", default="development", show_default=True)
def notifications(
    config_file: str | None,
    data_dir: str | None,
    db_url: str | None,
    storage: str | None,
    execution: str,
    project: str,
    domain: str,
) -> None:
    """The notifications of EXECUTION (a name, or project/domain/name): each channel, its state, attempts and
    last error."""
    from roost_admin.app import AdminApp
    from roost_admin.errors import ClientError

    if execution.count("/") == 2:
        project, domain, execution = execution.split("/")
    settings = load_settings(config_file, data_dir=data_dir, db_url=db_url, storage=storage)
    app = AdminApp(settings)
    app.start(serve=False, workers=0, scheduler=False)
    try:
        try:
            views = app.services.notifier.list_for_execution(project, domain, execution)
        except ClientError as exc:
            raise click.ClickException(exc.message) from None
        if not views:
            click.echo(f"execution {project}/{domain}/{execution} has no notifications")
        for view in views:
            when = view.delivered_at.isoformat(timespec="seconds") if view.delivered_at else ""
            line = f"{view.channel}  {view.phase}  {view.state}  attempts {view.attempts}  {when}".rstrip()
            click.echo(line + (f"  last error: {view.last_error}" if view.last_error else ""))
    finally:
        app.stop()


@click.command("events")
@_common
def events(config_file: str | None, data_dir: str | None, db_url: str | None, storage: str | None) -> None:
    """Each event subscriber's cursor: events delivered, events waiting, failed attempts and the last error."""
    from roost_admin.app import AdminApp

    settings = load_settings(config_file, data_dir=data_dir, db_url=db_url, storage=storage)
    app = AdminApp(settings)
    app.start(serve=False, workers=0, scheduler=False)
    try:
        views = app.services.publisher.cursors()
        if not views:
            click.echo("no event subscribers are configured (events.subscribers)")
        for view in views:
            line = (
                f"{view.subscriber}  delivered {view.delivered}  waiting {view.pending}  "
                f"attempts {view.attempts}"
            )
            click.echo(line + (f"  last error: {view.last_error}" if view.last_error else ""))
    finally:
        app.stop()


@click.group("admin")
def admin() -> None:
    """Administer a Roost deployment."""


admin.add_command(migrate)
admin.add_command(notifications)
admin.add_command(events)
admin.add_command(clients)
admin.add_command(users)
admin.add_command(roles)


def _auth_summary(app: Any) -> str:
    auth = app.settings.auth
    if not auth.enabled:
        return "off (anyone who reaches these ports may do anything; `--auth` turns it on)"
    if auth.external is not None:
        return f"on, tokens of {auth.external.issuer}"
    return f"on, built-in authorization server at {app.auth.issuer if app.auth else app.http_url}"


@click.group()
def main() -> None:
    """roost-admin: the Roost control plane."""


main.add_command(start)
main.add_command(engine)
main.add_command(migrate)
main.add_command(scheduler)
main.add_command(backfill)
