"""``ContainerTask``: any container image as a task with typed inputs and outputs, as in flytekit.

The container does not need Roost or flytekit inside. Its inputs are files in ``input_data_dir`` (one per
input, named after it) and it writes its outputs as files into ``output_data_dir``; Flyte's copilot data
loading moves them (``TaskTemplate.container.data_config``), so a ContainerTask registered by flytekit
and one defined here look the same to the engine. Arguments may also use an input's value directly:
``{{.inputs.name}}``.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from flyteidl.core import tasks_pb2

from roost import _typing
from roost.errors import WorkflowDefinitionError
from roost.interface import Interface
from roost.options import Cache, Resources, Secret, as_cache, as_timeout, secret_list
from roost.tasks import Task, TaskOptions
from roost_k8s_pod.sdk.pod import PRIMARY_CONTAINER_KEY, PodTemplate

if TYPE_CHECKING:
    from roost.image import ImageSpec
    from roost.serialize import SerializationSettings

__all__ = ["ContainerTask"]

_INPUT_VALUE = re.compile(r"\{\{\s*[.$]inputs\.(?P<name>[^}\s]+)\s*\}\}", re.IGNORECASE)


class ContainerTask(Task):
    """A raw container with typed inputs and outputs::

        square = ContainerTask(
            name="square",
            image="alpine:3.20",
            command=["sh", "-c", "echo $(( {{.inputs.x}} * {{.inputs.x}} )) > /var/outputs/y"],
            inputs={"x": int},
            outputs={"y": int},
            input_data_dir="/var/inputs",
            output_data_dir="/var/outputs",
        )

    Inputs of any type are written into ``input_data_dir`` (default ``/var/flyte/inputs``): primitives as
    text, files copied, folders copied file by file, plus ``inputs.pb`` and ``inputs.json`` (or
    ``inputs.yaml``, by ``metadata_format``). Outputs are read from ``output_data_dir`` (default
    ``/var/flyte/outputs``): files and folders (``File``, ``Directory``) and simple values (int, float,
    str, bool, datetime, timedelta, dict as JSON). Writing a ``_ERROR`` file there fails the task with its
    text. Locally (``roost run``, calling the task) the command runs on this machine through the
    ``local-process`` handler, the two folders replaced in the command line by local ones; on Kubernetes
    the Pod handler runs it in its image with a copilot init container and sidecar.
    """

    task_type = "raw-container"

    class MetadataFormat(enum.Enum):
        """The file next to ``inputs.pb`` that lists every input: ``inputs.json``, ``inputs.yaml`` or none."""

        JSON = tasks_pb2.DataLoadingConfig.JSON
        YAML = tasks_pb2.DataLoadingConfig.YAML
        PROTO = tasks_pb2.DataLoadingConfig.PROTO

    class IOStrategy(enum.Enum):
        """When inputs are downloaded and outputs uploaded, recorded in ``data_config.io_strategy`` for Flyte
        (Roost's copilot always downloads before the command and uploads after it)."""

        DOWNLOAD_EAGER = ("download_mode", tasks_pb2.IOStrategy.DOWNLOAD_EAGER)
        DOWNLOAD_STREAM = ("download_mode", tasks_pb2.IOStrategy.DOWNLOAD_STREAM)
        DO_NOT_DOWNLOAD = ("download_mode", tasks_pb2.IOStrategy.DO_NOT_DOWNLOAD)
        UPLOAD_EAGER = ("upload_mode", tasks_pb2.IOStrategy.UPLOAD_EAGER)
        UPLOAD_ON_EXIT = ("upload_mode", tasks_pb2.IOStrategy.UPLOAD_ON_EXIT)
        DO_NOT_UPLOAD = ("upload_mode", tasks_pb2.IOStrategy.DO_NOT_UPLOAD)

    def __init__(
        self,
        name: str,
        image: str | ImageSpec,
        command: Sequence[str],
        *,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        arguments: Sequence[str] | None = None,
        input_data_dir: str | None = None,
        output_data_dir: str | None = None,
        metadata_format: MetadataFormat = MetadataFormat.JSON,
        io_strategy: IOStrategy | None = None,
        requests: Resources | None = None,
        limits: Resources | None = None,
        resources: Resources | None = None,
        secret_requests: Sequence[Secret] | None = None,
        environment: Mapping[str, str] | None = None,
        pod_template: PodTemplate | None = None,
        pod_template_name: str | None = None,
        retries: int = 0,
        timeout: datetime.timedelta | int | float | None = None,
        interruptible: bool | None = None,
        cache: bool | Cache = False,
        cache_version: str | None = None,
        docs: str = "",
    ) -> None:
        label = f"ContainerTask {name!r}"
        if not isinstance(name, str) or not name:
            raise WorkflowDefinitionError(f"ContainerTask: name must be a non-empty string, not {name!r}")
        if isinstance(command, str) or not all(isinstance(part, str) for part in command):
            raise WorkflowDefinitionError(f"{label}: command must be a list of strings, not {command!r}")
        if arguments is not None and (
            isinstance(arguments, str) or not all(isinstance(part, str) for part in arguments)
        ):
            raise WorkflowDefinitionError(f"{label}: arguments must be a list of strings, not {arguments!r}")
        if resources is not None and (requests is not None or limits is not None):
            raise WorkflowDefinitionError(f"{label}: give resources, or requests and limits, not both")
        if pod_template is not None and not isinstance(pod_template, PodTemplate):
            raise WorkflowDefinitionError(
                f"{label}: pod_template must be a PodTemplate, not {type(pod_template).__name__}"
            )
        if retries < 0:
            raise WorkflowDefinitionError(f"{label}: retries must be 0 or more, not {retries}")
        interface = Interface(inputs=dict(inputs or {}), outputs=dict(outputs or {}))
        _check_interface(label, interface)
        self.command = list(command)
        self.arguments = list(arguments or [])
        _check_input_references(label, [*self.command, *self.arguments], interface)
        self.input_data_dir = _data_dir(label, "input_data_dir", input_data_dir)
        self.output_data_dir = _data_dir(label, "output_data_dir", output_data_dir)
        if self.input_data_dir and _normal(self.input_data_dir) == _normal(self.output_data_dir):
            raise WorkflowDefinitionError(
                f"{label}: input_data_dir and output_data_dir are both {self.input_data_dir!r}; they must differ"
            )
        self.metadata_format = ContainerTask.MetadataFormat(metadata_format)
        self.io_strategy = None if io_strategy is None else ContainerTask.IOStrategy(io_strategy)
        self.pod_template = pod_template
        self.pod_template_name = pod_template_name or ""
        options = TaskOptions(
            cache=as_cache(cache, cache_version, task=name),
            retries=retries,
            timeout=as_timeout(timeout, task=name),
            interruptible=interruptible,
            requests=requests or resources,
            limits=limits or resources,
            secrets=secret_list(secret_requests, task=name),
            container_image=image,
            environment=dict(environment or {}),
            docs=docs,
        )
        super().__init__(name, interface, options)
        self.__doc__ = docs or None

    @property
    def label(self) -> str:
        """``ContainerTask 'name'`` for messages."""
        return f"ContainerTask {self.name!r}"

    def local_call(self, *args: Any, **kwargs: Any) -> Any:
        """Run the container's command here through the engine's local-process handler."""
        from roost.local.runner import run_entity

        return run_entity(self, self.bind_arguments(args, kwargs))

    def data_config(self) -> tasks_pb2.DataLoadingConfig:
        """The copilot data loading config, as flytekit writes it."""
        config = tasks_pb2.DataLoadingConfig(
            enabled=True,
            input_path=self.input_data_dir,
            output_path=self.output_data_dir,
            format=self.metadata_format.value,
        )
        if self.io_strategy is not None:
            mode, value = self.io_strategy.value
            setattr(config.io_strategy, mode, value)
        return config

    def template(self, settings: SerializationSettings) -> tasks_pb2.TaskTemplate:
        """A ``raw-container`` task: the command and arguments as given, with Flyte's ``data_config``."""
        template = super().template(settings)
        container = template.container
        container.resources.SetInParent()  # flytekit always writes it, empty or not
        container.command[:] = self.command
        container.args[:] = self.arguments
        container.data_config.CopyFrom(self.data_config())
        if self.pod_template_name:
            template.metadata.pod_template_name = self.pod_template_name
        if self.pod_template is not None:
            pod = self.pod_template.k8s_pod(container, raw=True)
            pod.data_config.CopyFrom(self.data_config())
            template.ClearField("container")
            template.k8s_pod.CopyFrom(pod)
            template.config[PRIMARY_CONTAINER_KEY] = self.pod_template.primary_container_name
        return template


def _check_interface(label: str, interface: Interface) -> None:
    for kind, variables in (("input", interface.inputs), ("output", interface.outputs)):
        for name, python_type in variables.items():
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise WorkflowDefinitionError(f"{label}: {kind} name {name!r} cannot be a file name")
            literal_type = _typing.literal_type(python_type, where=f"{label} {kind} {name!r}")
            if kind == "output" and literal_type.WhichOneof("type") not in ("simple", "blob"):
                type_name = python_type.__name__ if isinstance(python_type, type) else repr(python_type)
                raise WorkflowDefinitionError(
                    f"{label}: output {name!r} is a {type_name}; a container's outputs are read back from files, "
                    "which works for File, Directory and simple types (int, float, str, bool, datetime, "
                    "timedelta, dict)"
                )


def _check_input_references(label: str, parts: list[str], interface: Interface) -> None:
    for part in parts:
        for match in _INPUT_VALUE.finditer(part):
            if match.group("name") not in interface.inputs:
                known = ", ".join(interface.inputs) or "none"
                raise WorkflowDefinitionError(
                    f"{label}: {part!r} uses {match.group(0)}, but there is no input {match.group('name')!r} "
                    f"(inputs: {known})"
                )


def _data_dir(label: str, option: str, value: str | None) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not PurePosixPath(value).is_absolute():
        raise WorkflowDefinitionError(f"{label}: {option} must be an absolute path, not {value!r}")
    return value


def _normal(path: str) -> str:
    return path.rstrip("/") or "/"
