"""Tasks: ``@task`` turns a typed Python function into a unit of work the engine can run anywhere."""

from __future__ import annotations

import datetime
import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeAlias, TypeVar, cast, overload

from flyteidl.core import identifier_pb2, literals_pb2, tasks_pb2, workflow_pb2
from google.protobuf import struct_pb2

from roost import _typing
from roost.context import TaskRunContext
from roost.entity import Entity
from roost.errors import TaskExecutionError, WorkflowDefinitionError
from roost.interface import Interface
from roost.options import Cache, Resources, Secret, as_cache, as_timeout, resources_proto, secret_list

if TYPE_CHECKING:
    from roost.image import ImageSpec
    from roost.nodes import Node
    from roost.serialize import SerializationSettings, Serializer

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")

ROOST_VERSION = "0.1.0"
DETERMINISTIC_TAG = "roost.deterministic"
"""The TaskMetadata tag of deterministic tasks (the engine's ``roost_core.engine.recovery.DETERMINISTIC_TAG``;
not imported from there, which would load the engine with ``import roost``)."""

SERIALIZATION_ENV = "ROOST_SERIALIZATION"
"""The environment variable that hands a dynamic task its serialization settings."""


@dataclass(frozen=True)
class TaskOptions:
    """Everything ``@task`` accepts besides the function and its ``task_config``."""

    cache: Cache | None = None
    retries: int = 0
    timeout: datetime.timedelta | None = None
    interruptible: bool | None = None
    requests: Resources | None = None
    limits: Resources | None = None
    secrets: tuple[Secret, ...] = ()
    container_image: str | ImageSpec | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    deck: bool = False
    deterministic: bool = False
    """Declares the outputs a function of the inputs and the code: resuming an execution on a new version
    may reuse this task's outputs when neither changed (``roost recover --version``)."""
    docs: str = ""


class Task(Entity):
    """A task: Python code (or a plugin's engine) that turns inputs into outputs.

    The contract for plugin task classes (see :class:`PluginTask` for the ones ``@task(task_config=...)``
    makes):

    - :attr:`task_type` and :attr:`task_type_version` name the engine handler that runs it;
    - :meth:`template` builds the flyteidl ``TaskTemplate``: identifier, metadata (retries, cache, timeout,
      interruptible), interface, :meth:`custom` as ``TaskTemplate.custom``, :meth:`config` as
      ``TaskTemplate.config``, and a container whose args run ``roost-execute`` (:meth:`container_args`) with
      the image, environment, resources and secrets. Override it to move the container elsewhere (a pod
      spec), calling ``super().template(settings)`` first;
    - :meth:`execute` runs it in Python, wherever the task runs (locally, ``roost-execute``);
    - :meth:`pre_execute` and :meth:`post_execute` wrap that run (see :mod:`roost.lifecycle`).
    """

    kind = "task"
    task_type: ClassVar[str] = "python-task"
    task_type_version: ClassVar[int] = 0
    runs_in_process: ClassVar[bool] = True
    """False for task classes that only their engine handler can run (an MPI gang needs ``mpirun``): a local
    run (``roost run``) then loads the installed engine plugins and hands these tasks to the handler chosen for
    their task type, in a process of their own, instead of calling :meth:`execute` in its own process."""

    def __init__(
        self, name: str, interface: Interface, options: TaskOptions | None = None, task_config: Any = None
    ) -> None:
        super().__init__(name, interface)
        self.options = options or TaskOptions()
        self.task_config = task_config

    # what a plugin customizes

    def execute(self, **inputs: Any) -> Any:
        """Run the task on Python values and return its Python result."""
        raise NotImplementedError(f"{self.label} cannot run in this process")

    def custom(self, settings: SerializationSettings) -> dict[str, Any] | None:
        """The plugin configuration stored in ``TaskTemplate.custom`` (JSON values); None for plain Python
        tasks. Its engine handler reads it back, usually as the flyteidl plugin message Flyte uses."""
        return None

    def config(self, settings: SerializationSettings) -> dict[str, str]:
        """String settings stored in ``TaskTemplate.config`` (for handlers that read them there)."""
        return {}

    def pre_execute(self, ctx: TaskRunContext) -> TaskRunContext:
        """Prepare an attempt, before its inputs are converted: start what the task needs (a session, a
        client), set the plugin's context attributes (``ctx.set(ATTRIBUTE, value)``) and enter what must be
        closed afterwards into ``ctx.cleanup``. Returns the context to run with (usually ``ctx`` itself)."""
        return ctx

    def post_execute(self, ctx: TaskRunContext, outputs: Any) -> Any:
        """See the function's result before it is converted to outputs; returns the result to convert (not
        called for ``@dynamic`` tasks, whose function builds a workflow)."""
        return outputs

    # running with literals (locally, in the engine's in-process handler, and in roost-execute)

    def dispatch(self, ctx: TaskRunContext, inputs: literals_pb2.LiteralMap) -> Any:
        """Run on a LiteralMap and return the outputs as a LiteralMap (a dynamic task: its DynamicJobSpec),
        converting both ways, inside the attempt's life (:mod:`roost.lifecycle`). A subclass may return None
        when another process writes the attempt's outputs (an MPI rank other than 0): nothing is written."""
        from roost import lifecycle

        with lifecycle.task_attempt(self, ctx) as prepared:
            values = self.inputs_from_literals(prepared, inputs)
            result = lifecycle.post_execute(self, prepared, self.execute(**values))
            return self.outputs_to_literals(prepared, result)

    def inputs_from_literals(self, ctx: TaskRunContext, inputs: literals_pb2.LiteralMap) -> dict[str, Any]:
        """The Python values of the inputs; defaults fill inputs the map leaves out."""
        values: dict[str, Any] = {}
        label = self.label
        for name, python_type in self.interface.inputs.items():
            if name in inputs.literals:
                values[name] = _typing.to_python(
                    ctx.types, inputs.literals[name], python_type, where=f"{label} input {name!r}"
                )
            elif name in self.interface.defaults:
                values[name] = self.interface.defaults[name]
            elif _typing.is_optional(python_type):
                values[name] = None
            else:
                raise TaskExecutionError(f"{self.label} input {name!r} was not given")
        return values

    def outputs_to_literals(self, ctx: TaskRunContext, result: Any) -> literals_pb2.LiteralMap:
        """The task's Python result as a LiteralMap, each output checked against its declared type."""
        try:
            values = self.interface.unpack_outputs(result, what=self.label)
        except TypeError as exc:
            raise TaskExecutionError(str(exc)) from None
        outputs = literals_pb2.LiteralMap()
        label = self.label
        for name, python_type in self.interface.outputs.items():
            outputs.literals[name].CopyFrom(
                _typing.to_literal(
                    values[name],
                    python_type,
                    where=f"{label} output {name!r}",
                    ctx=ctx.types,
                    error=TaskExecutionError,
                )
            )
        return outputs

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here and now, converting inputs and outputs through literals as a real run would."""
        from roost.local.direct import call_task

        return call_task(self, self.bind_arguments(args, kwargs))

    # serialization

    def serialize_target(self, serializer: Serializer, node: Node, proto: workflow_pb2.Node) -> None:
        """A task node."""
        proto.task_node.CopyFrom(serializer.task_node(self, node.overrides))

    def identifier(self, settings: SerializationSettings) -> identifier_pb2.Identifier:
        """The task's identifier under ``settings``."""
        return identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=settings.project,
            domain=settings.domain,
            name=self.name,
            version=settings.version,
        )

    def image(self, settings: SerializationSettings) -> str:
        """The container image: the task's own (a string or an ImageSpec's name), else the default."""
        image = self.options.container_image
        if image is None:
            return settings.image
        return image if isinstance(image, str) else image.image_name()

    def container_args(self, settings: SerializationSettings) -> list[str]:
        """The container command line, following the container contract."""
        return settings.entrypoint(
            [
                "roost-execute",
                "--inputs",
                "{{.input}}",
                "--output-prefix",
                "{{.outputPrefix}}",
                "--raw-output-data-prefix",
                "{{.rawOutputDataPrefix}}",
                "--checkpoint-path",
                "{{.checkpointOutputPrefix}}",
                "--prev-checkpoint",
                "{{.prevCheckpointPrefix}}",
                *self.resolver_args(),
            ]
        )

    def code_digest(self) -> str:
        """A digest of the task's source code ("" where there is none to read)."""
        function = getattr(self, "fn", None)
        try:
            source = inspect.getsource(function) if function is not None else ""
        except (OSError, TypeError):
            source = ""
        return hashlib.sha256(source.encode()).hexdigest() if source else ""

    def resolver_args(self) -> list[str]:
        """How ``roost-execute`` finds this task again: ``--task-module M --task-name N``."""
        module, _, name = self.name.rpartition(".")
        return ["--task-module", module, "--task-name", name]

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """The flyteidl TaskTemplate."""
        options = self.options
        metadata = tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(
                type=tasks_pb2.RuntimeMetadata.OTHER, version=ROOST_VERSION, flavor="roost"
            ),
            retries=literals_pb2.RetryStrategy(retries=options.retries),
            discoverable=options.cache is not None,
            discovery_version=options.cache.version if options.cache else "",
            cache_serializable=bool(options.cache and options.cache.serialize),
            cache_ignore_input_vars=list(options.cache.ignored_inputs) if options.cache else [],
        )
        if options.deck:
            metadata.generates_deck.value = True
        if options.deterministic:
            # The tag's value is the code's digest, so editing the code changes the template's content.
            metadata.tags[DETERMINISTIC_TAG] = self.code_digest()
        if options.interruptible is not None:
            metadata.interruptible = options.interruptible
        if options.timeout is not None:
            metadata.timeout.FromTimedelta(options.timeout)
        template = tasks_pb2.TaskTemplate(
            id=self.identifier(settings),
            type=self.task_type,
            metadata=metadata,
            interface=self.interface.typed(),
            task_type_version=self.task_type_version,
        )
        custom = self.custom(settings)
        if custom is not None:
            struct = struct_pb2.Struct()
            try:
                struct.update(custom)
            except (TypeError, ValueError, AttributeError) as exc:
                raise WorkflowDefinitionError(
                    f"{self.label}: {type(self).__name__}.custom() must return a dict of JSON values (strings, "
                    f"numbers, booleans, None, lists, dicts with string keys), not {custom!r} ({exc})"
                ) from None
            template.custom.CopyFrom(struct)
        for key, value in self.config(settings).items():
            template.config[key] = value
        container = tasks_pb2.Container(
            image=self.image(settings),
            args=self.container_args(settings),
            env=[
                literals_pb2.KeyValuePair(key=k, value=v)
                for k, v in {**settings.environment, **options.environment}.items()
            ],
        )
        resources = resources_proto(options.requests, options.limits)
        if resources is not None:
            container.resources.CopyFrom(resources)
        template.container.CopyFrom(container)
        if options.secrets:
            template.security_context.secrets.extend(s.to_proto() for s in options.secrets)
        return template


class FunctionTask(Task):
    """A task that runs a Python function."""

    def __init__(
        self, fn: Callable[..., Any], options: TaskOptions | None = None, task_config: Any = None
    ) -> None:
        name = f"{_module_of(fn)}.{fn.__name__}"
        super().__init__(name, Interface.of(fn, what=f"task {fn.__name__!r}"), options, task_config)
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def execute(self, **inputs: Any) -> Any:
        """Call the function."""
        return self.fn(**inputs)


class PluginTask(FunctionTask, Generic[C]):
    """A task class that ``@task(task_config=config)`` makes for a plugin's config type ``C``.

    Register the pair with the ``roost_task_types`` hook (``register(Spark, SparkTask)``); ``@task`` then calls
    ``SparkTask(function, options, config)``. Subclasses set :attr:`task_type`, and override :meth:`custom`,
    :meth:`pre_execute` and the rest of :class:`Task`'s contract as they need.
    """

    task_config: C

    def __init__(self, fn: Callable[..., Any], options: TaskOptions, task_config: C) -> None:
        super().__init__(fn, options, task_config)


TaskClass: TypeAlias = Callable[[Callable[..., Any], TaskOptions, C], Task]
"""What ``roost_task_types`` registers for a config type ``C``: called as ``task_class(function, options,
config)``, it returns the task (a :class:`PluginTask` subclass, usually)."""


class DynamicTask(FunctionTask):
    """A task whose function builds a workflow at run time (``@dynamic``), from its actual inputs.

    When it runs, the function is called like a workflow function (task calls add nodes), but its inputs
    are real values; the nodes become ``futures.pb`` and the engine runs them as the node's children.
    """

    def dispatch(self, ctx: TaskRunContext, inputs: literals_pb2.LiteralMap) -> Any:
        """Compile the function on the inputs into a DynamicJobSpec."""
        from roost import lifecycle
        from roost.dynamic_job import compile_dynamic

        with lifecycle.task_attempt(self, ctx) as prepared:
            return compile_dynamic(self, prepared, self.inputs_from_literals(prepared, inputs))

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """As a function task, plus the settings the tasks it generates are serialized with."""
        template = super().template(settings)
        template.container.env.append(
            literals_pb2.KeyValuePair(key=SERIALIZATION_ENV, value=settings.to_json())
        )
        return template


def _module_of(fn: Callable[..., Any]) -> str:
    """The importable module of ``fn``: for code run as a script, the module its file would be."""
    module = fn.__module__
    if module != "__main__":
        return module
    from roost.loader import module_name_for_file

    file = inspect.getsourcefile(fn)
    return module_name_for_file(file)[0] if file else module


@overload
def task(fn: F) -> F: ...


@overload
def task(
    fn: None = None,
    *,
    task_config: Any = None,
    cache: bool | Cache = False,
    cache_version: str | None = None,
    cache_serialize: bool = False,
    cache_ignored_inputs: tuple[str, ...] = (),
    retries: int = 0,
    timeout: datetime.timedelta | int | float | None = None,
    interruptible: bool | None = None,
    requests: Resources | None = None,
    limits: Resources | None = None,
    resources: Resources | None = None,
    secret_requests: list[Secret] | None = None,
    container_image: str | ImageSpec | None = None,
    environment: Mapping[str, str] | None = None,
    deck: bool = False,
    deterministic: bool = False,
) -> Callable[[F], F]: ...


def task(
    fn: Callable[..., Any] | None = None,
    *,
    task_config: Any = None,
    cache: bool | Cache = False,
    cache_version: str | None = None,
    cache_serialize: bool = False,
    cache_ignored_inputs: tuple[str, ...] = (),
    retries: int = 0,
    timeout: datetime.timedelta | int | float | None = None,
    interruptible: bool | None = None,
    requests: Resources | None = None,
    limits: Resources | None = None,
    resources: Resources | None = None,
    secret_requests: list[Secret] | None = None,
    container_image: str | ImageSpec | None = None,
    environment: Mapping[str, str] | None = None,
    deck: bool = False,
    deterministic: bool = False,
) -> Any:
    """Make a task of a typed function: ``@task`` or ``@task(retries=2, cache=Cache(version="1"))``.

    ``resources`` sets requests and limits at once; ``task_config`` selects a plugin task type (e.g.
    ``Spark(...)``); ``deck=True`` keeps the HTML the task adds with ``current_context().deck``;
    ``deterministic=True`` lets resuming an execution on an edited version reuse the task's outputs while its
    code and inputs are unchanged (``cache=True`` declares the same).
    """

    def decorate(function: Callable[..., Any]) -> Any:
        label = function.__name__
        if cache_serialize or cache_ignored_inputs:
            cache_option: Any = (
                Cache(cache_version or "", cache_serialize, cache_ignored_inputs)
                if cache in (True, False)
                else cache
            )
        else:
            cache_option = cache
        if retries < 0:
            raise WorkflowDefinitionError(f"task {label!r}: retries must be 0 or more, not {retries}")
        options = TaskOptions(
            cache=as_cache(cache_option, cache_version, task=label),
            retries=retries,
            timeout=as_timeout(timeout, task=label),
            interruptible=interruptible,
            requests=requests or resources,
            limits=limits or resources,
            secrets=secret_list(secret_requests, task=label),
            container_image=container_image,
            environment=dict(environment or {}),
            deck=deck,
            deterministic=deterministic,
            docs=function.__doc__ or "",
        )
        if task_config is None:
            return FunctionTask(function, options)
        from roost.plugins import task_class_for

        return task_class_for(task_config, task=label)(function, options, task_config)

    return decorate if fn is None else decorate(fn)


def dynamic(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a dynamic task: its function runs at run time and builds the workflow that follows from its
    inputs (loops, data-dependent fan-out). Takes the options of ``@task``."""

    def decorate(function: Callable[..., Any]) -> Any:
        made = cast("Task", task(function, **options))
        return DynamicTask(function, made.options, made.task_config)

    return decorate if fn is None else decorate(fn)
