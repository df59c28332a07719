"""Local runs: compile with the core compiler, run on the core engine in this process, return Python values.

Everything the server does happens here too (retries, timeouts, caching, branches, maps, dynamic tasks,
gates, child launch plans), with tasks run by the in-process handler. The run's data lives in a temporary
folder that is removed at the end; files and folders a workflow returns are kept in the user data folder.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2

from roost import _typing
from roost.eager_workflows import serve_locally
from roost.errors import ExecutionFailedError
from roost.local.eager_children import LocalChildren
from roost.local.handler import HANDLER_NAME, InProcessHandler
from roost.local.progress import ProgressSink
from roost.local.relocate import data_folder, relocate_literals
from roost.local.signals import LocalSignals
from roost.plugins.storage import sdk_storage
from roost.serialize import SerializationSettings, Serializer
from roost.tasks import Task
from roost.types import TypeContext
from roost.types.memo import FrameMemo
from roost.workflows import Workflow
from roost_core import hookimpl
from roost_core.engine import (
    Engine,
    EngineConfig,
    ExecutionOptions,
    InProcessLauncher,
    LaunchPlanEntry,
    ObjectStateStore,
)
from roost_core.engine.graph import id_key
from roost_core.engine.phases import WorkflowPhase
from roost_core.plugins import EnginePlugins

if TYPE_CHECKING:
    from roost.entity import Entity
    from roost.launch_plan import LaunchPlan
    from roost_core.engine import Run


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalOptions:
    """How local runs behave; the CLI sets them, and ``local_options(...)`` does in code."""

    processes: bool = False
    """Run tasks in forked worker processes instead of threads (for CPU-bound Python)."""
    max_workers: int | None = None
    max_parallelism: int | None = None
    cache: bool = True
    """Use the local cache in the user cache folder (``roost cache clear`` empties it)."""
    overwrite_cache: bool = False
    skip_sleep: bool = False
    approvals: frozenset[str] = frozenset()
    signals: Mapping[str, str] = field(default_factory=dict)
    progress: bool | None = None
    """A live progress table (True), log lines (False), or a table on terminals only (None)."""
    project: str = "local"
    domain: str = "development"
    outputs_folder: Path | None = None
    """Where returned files and folders are kept; default ``$XDG_DATA_HOME/roost/outputs/<execution>``."""
    keep_for_resume: bool = False
    """Keep what a later run needs to resume from this one (:mod:`roost.local.resume`); the CLI sets it."""
    resume_from: str = ""
    """The name of a kept local run to resume from: its unchanged deterministic nodes are reused."""


_OPTIONS: contextvars.ContextVar[LocalOptions] = contextvars.ContextVar(
    "roost_local_options",
    default=LocalOptions(),  # noqa: B039 - frozen, never mutated
)


@contextlib.contextmanager
def local_options(**settings: Any) -> Iterator[LocalOptions]:
    """Run the local runs inside the ``with`` block with these options."""
    token = _OPTIONS.set(replace(_OPTIONS.get(), **settings))
    try:
        yield _OPTIONS.get()
    finally:
        _OPTIONS.reset(token)


@dataclass
class LocalResult:
    """A finished local run."""

    name: str
    outputs: Any
    outputs_folder: Path | None
    """Where the files, folders and data frames the outputs refer to were kept (None: there were none)."""
    literals: literals_pb2.LiteralMap = field(default_factory=literals_pb2.LiteralMap)
    """The outputs as literals, pointing at the kept data."""


class _Single(Workflow):
    """A workflow of one node: how a task or map task called outside a workflow runs on the engine."""

    def __init__(self, entity: Entity) -> None:
        self.entity = entity

        def single() -> None:
            """One node."""

        super().__init__(single)
        self.name = f"{entity.name}-run"
        self.interface = entity.interface

    def compile(self) -> Any:
        from roost.nodes import CompilationState, compiling

        if self._compiled is None:
            state = CompilationState(self.short_name, None)
            with compiling(state):
                result = self.entity(**self.input_promises())
            values = self.interface.unpack_outputs(result, what=self.label) if self.interface.outputs else {}
            from roost.entity import binding_for

            outputs = {
                name: binding_for(values[name], t, where=f"{self.label} output {name!r}")
                for name, t in self.interface.outputs.items()
            }
            self._compiled = (state.nodes, outputs, None)
        return self._compiled


def as_workflow(entity: Entity) -> Workflow:
    """A workflow as it is; a task (or map task) as a workflow of one node."""
    return entity if isinstance(entity, Workflow) else _Single(entity)


def run_entity(entity: Entity, values: dict[str, Any], *, launch_plan: LaunchPlan | None = None) -> Any:
    """Run a workflow (or a task, or map task) locally and return its outputs as Python values."""
    return run_local(entity, values, launch_plan=launch_plan).outputs


def run_local(
    entity: Entity,
    values: dict[str, Any],
    *,
    launch_plan: LaunchPlan | None = None,
    options: LocalOptions | None = None,
) -> LocalResult:
    """Run locally; the result also names the execution and where returned files were kept."""
    options = options or _OPTIONS.get()
    wf = as_workflow(entity)
    name = f"local-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="roost-run-") as tmp:
        return _LocalRun(wf, name, Path(tmp), options, launch_plan).execute(values)


class _LocalRun:
    def __init__(
        self, wf: Workflow, name: str, folder: Path, options: LocalOptions, launch_plan: LaunchPlan | None
    ) -> None:
        self.wf = wf
        self.name = name
        self.folder = folder
        self.options = options
        self.launch_plan = launch_plan
        self.settings = SerializationSettings(project=options.project, domain=options.domain, version="local")
        self.serializer = Serializer(self.settings)
        self.raw_prefix = (folder / "raw").as_uri()

    def execute(self, values: dict[str, Any]) -> LocalResult:
        closure = self.serializer.closure(self.wf)
        if self.options.skip_sleep:
            _skip_sleeps(closure)
        storage = sdk_storage()
        tasks = self.serializer.task_entities
        frames = None if self._needs_files(tasks) else FrameMemo()
        handler = InProcessHandler(
            tasks,
            self.folder / "work",
            processes=self.options.processes,
            max_workers=self.options.max_workers,
            serialization=self.settings,
            frames=frames,
        )
        python_types = {t.task_type for t in tasks.values() if _runs_in_process(t)}
        # Tasks run by a plugin's engine handler (a query on a web API) need the installed engine plugins and
        # their configuration, the engine section of $ROOST_CONFIG as `roost start` reads it.
        plugin_handlers = any(not _runs_in_process(t) for t in tasks.values())
        configured = _configured_engine() if plugin_handlers else EngineConfig()
        live = self.options.progress if self.options.progress is not None else sys.stderr.isatty()
        progress = ProgressSink(f"{self.wf.label} ({self.name})", live=live, stream=sys.stderr)
        launcher = InProcessLauncher(self._launch_plans(), (self.folder / "children").as_uri())
        chosen = {**configured.default_for_task_types, **dict.fromkeys(python_types, HANDLER_NAME)}
        # Tasks that do not run in this process need their task type's handler: a plugin's, or a built-in.
        plugins = EnginePlugins([_LocalHandlers(handler, python_types)], entry_points=plugin_handlers)
        if plugin_handlers:  # the installed plugins are loaded: say what needs attention about them
            from roost.plugins.attention import sdk_sides
            from roost_core.plugins.attention import report_attention

            report_attention(plugins, sdk_sides, chosen)
        engine = Engine(
            storage,
            config=EngineConfig(
                default_for_task_types=chosen,
                handlers=configured.handlers,
                shared={**configured.shared, **_out_of_process_environment(tasks)},
                poll_interval=0.5,
            ),
            plugins=plugins,
            catalog=self._catalog(frames),
            state_store=ObjectStateStore(),
            sinks={"progress": progress},
            signals=LocalSignals(set(self.options.approvals), self.options.signals),
            launcher=launcher,
        )
        data_prefix = (self.folder / "data").as_uri() if self._needs_files(tasks) else f"mem://{self.name}"
        children = LocalChildren(
            engine, handler, self.settings, data_prefix=data_prefix, raw_output_prefix=self.raw_prefix
        )
        serve_locally(self.name, children)
        try:
            inputs = _typing.literal_map(
                self.wf,
                values,
                TypeContext(storage, self.raw_prefix, work_dir=self.folder / "inputs", frames=frames),
            )
            recover_from = None
            if self.options.resume_from:
                from roost.local import resume

                recover_from = resume.source(self.options.resume_from, closure)
            run = engine.start(
                identifier_pb2.WorkflowExecutionIdentifier(
                    project=self.settings.project, domain=self.settings.domain, name=self.name
                ),
                closure,
                inputs,
                data_prefix=data_prefix,
                raw_output_prefix=self.raw_prefix,
                options=ExecutionOptions(
                    max_parallelism=self._max_parallelism(),
                    overwrite_cache=self.options.overwrite_cache,
                    launch_plan=self._launch_plan_id(),
                ),
                recover_from=recover_from,
            )
            engine.run(run)
            if self.options.keep_for_resume:
                self._keep(run, storage, frames)
        finally:
            children.close()
            serve_locally(self.name, None)
            engine.close()
            progress.close()
        return self._result(engine, run, storage, frames)

    def _keep(self, run: Run, storage: Any, frames: FrameMemo | None) -> None:
        """Keep the run for ``--resume-from``; best effort: a run that could not be kept still returns."""
        from roost.local import resume

        try:
            resume.keep(run, storage, self.raw_prefix, frames)
        except Exception as exc:  # keeping is a convenience; the run's own result must not depend on it
            log.warning(
                "run %s could not be kept for --resume-from: %s: %s", self.name, type(exc).__name__, exc
            )

    def _result(self, engine: Engine, run: Run, storage: Any, frames: FrameMemo | None) -> LocalResult:
        state = run.state
        if state.phase is not WorkflowPhase.SUCCEEDED:
            message = state.error.message if state.error else state.phase.name.lower()
            raise ExecutionFailedError(
                f"{self.wf.label} {state.phase.name.lower()}: {message}",
                phase=state.phase.name,
                error=state.error,
            )
        kept_folder = self.options.outputs_folder or data_folder() / "outputs" / self.name
        outputs, kept_any = relocate_literals(
            engine.outputs(run), self.raw_prefix, kept_folder, frames=frames, values_too=False
        )
        ctx = TypeContext(storage, kept_folder.as_uri(), work_dir=kept_folder, frames=frames)
        values = _typing.python_values(self.wf, outputs, ctx)
        return LocalResult(
            self.name, self.wf.interface.pack_outputs(values), kept_folder if kept_any else None, outputs
        )

    def _catalog(self, frames: FrameMemo | None) -> Any:
        from roost.local.cache import LocalCatalog, cache_folder
        from roost_core.catalog import MemoryCatalog

        if not self.options.cache:
            return MemoryCatalog()
        return LocalCatalog(cache_folder(), self.raw_prefix, frames=frames)

    def _max_parallelism(self) -> int | None:
        if self.options.max_parallelism is not None:
            return self.options.max_parallelism
        return self.launch_plan.max_parallelism if self.launch_plan is not None else None

    def _launch_plan_id(self) -> dict[str, str]:
        if self.launch_plan is None:
            return {}
        return {
            "project": self.settings.project,
            "domain": self.settings.domain,
            "name": self.launch_plan.name,
            "version": self.settings.version,
        }

    def _needs_files(self, tasks: Mapping[str, Task]) -> bool:
        """Worker processes and container tasks read their inputs from files, not from this process."""
        return self.options.processes or any(not _runs_in_process(t) for t in tasks.values())

    def _launch_plans(self) -> dict[Any, LaunchPlanEntry]:
        from roost_core.compiler import compile_workflow

        entries: dict[Any, LaunchPlanEntry] = {}
        for name, proto in self.serializer.launch_plans.items():
            lp = self.serializer.launch_plan_entities[name]
            template = self.serializer.workflows[lp.workflow.name]
            others = [t for n, t in self.serializer.workflows.items() if n != lp.workflow.name]
            child = compile_workflow(
                template, self.serializer.tasks.values(), others, self.serializer.launch_plans.values()
            )
            defaults = literals_pb2.LiteralMap(
                literals={
                    k: p.default
                    for k, p in proto.spec.default_inputs.parameters.items()
                    if p.HasField("default")
                }
            )
            entries[id_key(proto.id)] = LaunchPlanEntry(child, defaults, proto.spec.fixed_inputs)
        return entries


class _LocalHandlers:
    """The engine plugin that registers the in-process handler for this run's task types."""

    def __init__(self, handler: InProcessHandler, task_types: set[str]) -> None:
        self.handler = handler
        self.task_types = task_types

    @hookimpl
    def roost_task_handlers(self, register: Any) -> None:
        # Chosen for these task types by the run's default_for_task_types, not by a default offer.
        register(HANDLER_NAME, lambda: self.handler, task_types=sorted(self.task_types))


def _configured_engine() -> EngineConfig:
    """The ``engine`` section of the file named by ``$ROOST_CONFIG`` (handler settings, shared sections), if any."""
    import yaml

    from roost_core.errors import ConfigurationError

    path = os.environ.get("ROOST_CONFIG")
    if not path:
        return EngineConfig()
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"$ROOST_CONFIG {path}: cannot read it: {exc}") from None
    section = data.get("engine") if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        return EngineConfig()
    return EngineConfig.from_mapping(section)


def _runs_in_process(task: Task) -> bool:
    """Tasks whose code (or plugin's local execution) runs in Python, as opposed to raw containers and tasks
    that only their engine handler runs (``Task.runs_in_process``)."""
    return task.runs_in_process and type(task).execute is not Task.execute


def _out_of_process_environment(tasks: Mapping[str, Task]) -> dict[str, dict[str, Any]]:
    """The shared ``task_environment`` of tasks run in a process of their own: the source roots of their
    modules go first on ``PYTHONPATH``, so that ``roost-execute`` imports them as this process did."""
    from roost.loader import module_name_for_file

    roots: list[str] = []
    for task in tasks.values():
        module = sys.modules.get(task.name.rpartition(".")[0]) if not _runs_in_process(task) else None
        file = getattr(module, "__file__", None)
        if file:
            root = str(module_name_for_file(file)[1])
            if root not in roots:
                roots.append(root)
    if not roots:
        return {}
    inherited = os.environ.get("PYTHONPATH")
    path = os.pathsep.join([*roots, inherited] if inherited else roots)
    return {"task_environment": {"env": {"PYTHONPATH": path}}}


def _skip_sleeps(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
    def visit(nodes: Any) -> None:
        for node in nodes:
            if node.HasField("gate_node") and node.gate_node.HasField("sleep"):
                node.gate_node.sleep.duration.Clear()
            if node.HasField("branch_node"):
                if_else = node.branch_node.if_else
                visit([if_else.case.then_node, *(c.then_node for c in if_else.other)])
                if if_else.HasField("else_node"):
                    visit([if_else.else_node])

    for workflow in (closure.primary, *closure.sub_workflows):
        visit(workflow.template.nodes)
