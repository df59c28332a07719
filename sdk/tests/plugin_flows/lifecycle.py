"""A plugin-style task class whose every step is noted in the file ``$LIFECYCLE_LOG`` (so that a container's
steps can be watched too), and a data frame kind whose conversions are noted there as well."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2

from roost.errors import RecoverableError
from roost.extend import (
    ContextAttribute,
    PluginTask,
    SerializationSettings,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    TaskOptions,
    TaskRunContext,
    TypeContext,
    current_context,
    register_dataset_handler,
)
from roost.types import default_engine

LOG_ENV = "LIFECYCLE_LOG"


def note(event: str) -> None:
    with Path(os.environ[LOG_ENV]).open("a") as log:
        log.write(event + "\n")


def events() -> list[str]:
    return Path(os.environ[LOG_ENV]).read_text().splitlines()


@dataclass(frozen=True)
class Probe:
    """A one-number frame kind."""

    value: int


class ProbeWriter(StructuredDatasetEncoder[Probe]):
    keep_in_memory = False  # written during output conversion, so the note lands where it happens

    def __init__(self) -> None:
        super().__init__(Probe, None, "probe")

    def encode(self, ctx: TypeContext, dataset: StructuredDataset, dataset_type: Any) -> Any:
        assert dataset.uri
        note(f"encode {dataset.dataframe.value}")
        ctx.write(f"{dataset.uri}/value", str(dataset.dataframe.value).encode())
        return literals_pb2.StructuredDataset(
            uri=ctx.literal_uri(dataset.uri),
            metadata=literals_pb2.StructuredDatasetMetadata(structured_dataset_type=dataset_type),
        )


class ProbeReader(StructuredDatasetDecoder[Probe]):
    def __init__(self) -> None:
        super().__init__(Probe, None, "probe")

    def decode(self, ctx: TypeContext, dataset: Any, columns: list[str] | None) -> Probe:
        value = int(ctx.read(f"{dataset.uri}/value"))
        note(f"decode {value} (mark {_mark_now()})")
        return Probe(value)


def _mark_now() -> str:
    """The mark of the task running now; "-" outside a task or in a task without one."""
    try:
        return current_context().get(MARK).name
    except (RuntimeError, AttributeError):
        return "-"


def register_probes() -> None:
    """Register the probe kind on the default engine (again, if a test replaced the engine)."""
    if not default_engine().datasets.handles(Probe):
        register_dataset_handler(ProbeWriter())
        register_dataset_handler(ProbeReader())


register_probes()


@dataclass(frozen=True)
class Mark:
    name: str


MARK: ContextAttribute[Mark] = ContextAttribute("mark", Mark, doc="set by Recorded tasks")


@dataclass(frozen=True)
class Recorded:
    """Where the task class should fail: "pre", "post", "cleanup", "first-attempt", or nowhere."""

    fail_in: str = ""


class RecordedTask(PluginTask[Recorded]):
    def custom(self, settings: SerializationSettings) -> dict[str, Any]:
        return {"fail_in": self.task_config.fail_in}

    def pre_execute(self, ctx: TaskRunContext) -> TaskRunContext:
        note(f"pre_execute attempt {ctx.attempt}")
        if self.task_config.fail_in == "pre":
            raise RuntimeError("the session did not start")
        if self.task_config.fail_in == "first-attempt" and ctx.attempt == 0:
            raise RecoverableError("the cluster is still starting")
        ctx.set(MARK, Mark("m1"))
        ctx.cleanup.callback(self._cleanup)
        return ctx

    def _cleanup(self) -> None:
        note("cleanup")
        if self.task_config.fail_in == "cleanup":
            raise OSError("the session did not stop")

    def post_execute(self, ctx: TaskRunContext, outputs: Any) -> Any:
        note(f"post_execute {outputs!r}")
        if self.task_config.fail_in == "post":
            raise KeyError("no summary")
        return Probe(outputs.value * 10)


def _step(p: Probe) -> Probe:
    note(f"function {p.value} (mark {current_context().mark.name}, typed {MARK.get().name})")
    return Probe(p.value + 1)


class _Confused(RecordedTask):
    def pre_execute(self, ctx: TaskRunContext) -> TaskRunContext:
        return "a session"  # type: ignore[return-value]


def _recorded(
    name: str,
    config: Recorded,
    *,
    retries: int = 0,
    body: Any = _step,
    cls: type[RecordedTask] = RecordedTask,
) -> RecordedTask:
    """A task named ``name`` in this module (so that roost-execute finds it by that name)."""

    def function(p: Probe) -> Probe:
        return body(p)  # type: ignore[no-any-return]

    function.__name__ = function.__qualname__ = name
    return cls(function, TaskOptions(retries=retries), config)


def _explode(p: Probe) -> Probe:
    note("function raises")
    raise ValueError(f"cannot take {p.value}")


step = _recorded("step", Recorded())
failing_pre = _recorded("failing_pre", Recorded("pre"))
failing_post = _recorded("failing_post", Recorded("post"))
failing_cleanup = _recorded("failing_cleanup", Recorded("cleanup"))
failing_twice = _recorded("failing_twice", Recorded("cleanup"), body=_explode)
flaky = _recorded("flaky", Recorded("first-attempt"), retries=1)
confused = _recorded("confused", Recorded(), cls=_Confused)
