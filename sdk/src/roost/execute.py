"""``roost-execute``: the container side of the container contract, for Roost tasks.

    roost-execute --inputs {{.input}} --output-prefix {{.outputPrefix}} \\
        --raw-output-data-prefix {{.rawOutputDataPrefix}} --checkpoint-path {{.checkpointOutputPrefix}} \\
        --prev-checkpoint {{.prevCheckpointPrefix}} --task-module MODULE --task-name NAME

It imports the task, reads ``inputs.pb``, runs it, and writes ``outputs.pb`` (``futures.pb`` for a dynamic
task). A failure is written as ``error.pb`` (an ErrorDocument with the USER or SYSTEM kind and the
traceback) and, like flytekit, the exit code stays 0 unless ``ROOST_FAIL_ON_ERROR=true`` (or
``FLYTE_FAIL_ON_ERROR``). Works with ``file://`` and ``s3://`` prefixes (S3 settings from
``ROOST_S3_ENDPOINT`` and the usual AWS variables), and with the schemes of installed storage plugins.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import traceback
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flyteidl.core import errors_pb2, execution_pb2

if TYPE_CHECKING:
    from roost_core.storage import Storage

FAIL_ON_ERROR = ("ROOST_FAIL_ON_ERROR", "FLYTE_FAIL_ON_ERROR")


def _env(*names: str) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return ""


def storage_from_environment() -> Storage:
    """Storage for file://, s3:// (S3 settings from ``ROOST_S3_ENDPOINT`` and the AWS variables) and the
    schemes of installed storage plugins."""
    from roost.plugins.storage import sdk_storage

    endpoint = _env("ROOST_S3_ENDPOINT", "FLYTE_AWS_ENDPOINT")
    config = {"s3": {"endpoint_url": endpoint, "addressing_style": "path"}} if endpoint else {}
    return sdk_storage(config)


def __roost_warm_up__() -> None:
    """Import and build what every attempt needs (the task runner, storage, the type engine with the installed
    plugins' transformers, the names ``roost`` exports for task modules): called once by a warm interpreter (``roost_core.handlers._warm``) before it forks
    attempts, which then start with it done instead of paying for it each time."""
    import roost
    from roost.local.taskrun import run_task  # noqa: F401
    from roost.plugins.storage import storage_plugins
    from roost.serialize import SerializationSettings  # noqa: F401
    from roost.tasks import Task  # noqa: F401
    from roost.types.engine import default_engine

    storage_plugins()
    default_engine()
    for name in roost.__all__:
        getattr(roost, name)
    # A command line parsed once, here rather than in every attempt: click builds the command's help option (with a
    # translation lookup) on first use and keeps it, and the type checks of parsing are cached from then on.
    main.make_context(
        "roost-execute", [f"--{name}=" for name in ("inputs", "output-prefix", "task-module", "task-name")]
    )


def __roost_warm_task__(argv: list[str]) -> None:
    """Import the module of the task the command line ``argv`` runs: called by a warm interpreter's batch child
    (``roost_core.handlers._warm``, map indices) before it forks their attempts, which then find it imported."""
    for index, arg in enumerate(argv[:-1]):
        if arg == "--task-module":
            importlib.import_module(argv[index + 1])
            return


def _write_error(
    storage: Storage,
    output_prefix: str,
    code: str,
    message: str,
    *,
    user: bool,
    recoverable: bool,
) -> None:
    document = errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code=code,
            message=message,
            kind=errors_pb2.ContainerError.RECOVERABLE
            if recoverable
            else errors_pb2.ContainerError.NON_RECOVERABLE,
            origin=execution_pb2.ExecutionError.USER if user else execution_pb2.ExecutionError.SYSTEM,
        )
    )
    storage.write_proto(storage.join(output_prefix, "error.pb"), document)


def _given_prefixes(raw_output: str, checkpoint: str, prev_checkpoint: str) -> tuple[str, str, str]:
    """The prefixes as given, with "none" spelled as Flyte's executors spell it made empty: a template the
    executor left unfilled, and ``""`` (the rendering of an empty previous checkpoint, which an argv keeps
    as two quote characters) — as flytekit's entrypoint reads them. A raw output prefix given as a plain
    absolute path (the local store's, see ``roost_core.container.local_data_path``) becomes its ``file://``
    URI."""

    def given(value: str, template: str) -> str:
        return "" if value in (template, '""') else value

    raw = given(raw_output, "{{.rawOutputDataPrefix}}")
    # The executor names a raw output prefix in its local store as a plain path (as flytekit records local
    # data); storage serves it as a file:// URI.
    return (
        f"file://{raw}" if raw.startswith("/") else raw,
        given(checkpoint, "{{.checkpointOutputPrefix}}"),
        given(prev_checkpoint, "{{.prevCheckpointPrefix}}"),
    )


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--inputs", required=True, help="URI of inputs.pb.")
@click.option("--output-prefix", required=True, help="Where outputs.pb, futures.pb or error.pb go.")
@click.option("--raw-output-data-prefix", default="", help="Where files and data frames are uploaded.")
@click.option("--checkpoint-path", default="", help="Where this attempt saves checkpoints.")
@click.option("--prev-checkpoint", default="", help="The previous attempt's checkpoints.")
@click.option("--task-module", required=True, help="The module that defines the task.")
@click.option("--task-name", required=True, help="The task's name in that module.")
def main(
    inputs: str,
    output_prefix: str,
    raw_output_data_prefix: str,
    checkpoint_path: str,
    prev_checkpoint: str,
    task_module: str,
    task_name: str,
) -> None:
    """Run one Roost task attempt, following Flyte's container contract."""
    from roost.local.taskrun import TaskRun, run_task
    from roost.serialize import SerializationSettings
    from roost.tasks import SERIALIZATION_ENV, Task

    raw_output_data_prefix, checkpoint_path, prev_checkpoint = _given_prefixes(
        raw_output_data_prefix, checkpoint_path, prev_checkpoint
    )
    storage = storage_from_environment()
    failed = False
    try:
        try:
            module = importlib.import_module(task_module)
            task = getattr(module, task_name)
        except Exception as exc:  # the user's module failed to import: report it as their error
            message = (
                f"cannot load task {task_module}.{task_name}: {type(exc).__name__}: {exc}\n"
                f"{traceback.format_exc()}"
            )
            _write_error(
                storage, output_prefix, f"USER:{type(exc).__name__}", message, user=True, recoverable=False
            )
            failed = True
            return
        if not isinstance(task, Task):
            _write_error(
                storage,
                output_prefix,
                "USER:NotATask",
                f"{task_module}.{task_name} is not a Roost task",
                user=True,
                recoverable=False,
            )
            failed = True
            return
        run = TaskRun(
            inputs_uri=inputs,
            output_prefix=output_prefix,
            raw_output_prefix=raw_output_data_prefix or storage.join(output_prefix, "raw"),
            checkpoint_prefix=checkpoint_path,
            prev_checkpoint_prefix=prev_checkpoint,
            project=_env("FLYTE_INTERNAL_EXECUTION_PROJECT", "_F_PRJ"),
            domain=_env("FLYTE_INTERNAL_EXECUTION_DOMAIN", "_F_DM"),
            execution_name=_env("FLYTE_INTERNAL_EXECUTION_ID", "_F_NM"),
            task_version=_env("FLYTE_INTERNAL_TASK_VERSION", "_F_TK_V"),
            attempt=int(_env("FLYTE_ATTEMPT_NUMBER") or 0),
        )
        settings_json = os.environ.get(SERIALIZATION_ENV)
        settings = SerializationSettings.from_json(settings_json) if settings_json else None
        # Made only if the task uses local files (most do not): two fewer folder operations per attempt.
        work = Path(tempfile.gettempdir(), f"roost-execute-{uuid.uuid4().hex}")
        try:
            outcome = run_task(task, run, storage, work, settings)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if not outcome.ok:
            _write_error(
                storage,
                output_prefix,
                outcome.code,
                outcome.message,
                user=outcome.user_error,
                recoverable=outcome.retryable,
            )
            failed = True
    finally:
        if failed and _env(*FAIL_ON_ERROR).lower() == "true":
            sys.exit(1)
