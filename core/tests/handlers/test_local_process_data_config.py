"""The local-process handler's copilot data loading (raw containers with data_config) and pod-spec tasks."""

from __future__ import annotations

import sys
from pathlib import Path

from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2

from roost_core.container import local_data_path
from roost_core.errors import ErrorKind
from roost_core.handler import TaskPhase
from roost_core.handlers.local_process import LocalProcessHandler
from roost_core.testing.driver import Driver
from roost_core.testing.tasks import integer, task_context, task_template, text

INTEGER = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
STRING = types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)
FILE = types_pb2.LiteralType(blob=types_pb2.BlobType())


def typed(
    inputs: dict[str, types_pb2.LiteralType], outputs: dict[str, types_pb2.LiteralType]
) -> interface_pb2.TypedInterface:
    def variables(types: dict[str, types_pb2.LiteralType]) -> interface_pb2.VariableMap:
        return interface_pb2.VariableMap(
            variables={k: interface_pb2.Variable(type=t) for k, t in types.items()}
        )

    return interface_pb2.TypedInterface(inputs=variables(inputs), outputs=variables(outputs))


def shell_task(
    script: str,
    inputs: dict[str, types_pb2.LiteralType],
    outputs: dict[str, types_pb2.LiteralType],
    *,
    input_path: str = "/var/inputs",
    output_path: str = "/var/outputs",
) -> tasks_pb2.TaskTemplate:
    """A raw container running ``sh -c script`` with copilot data loading, as ContainerTask makes it."""
    container = tasks_pb2.Container(
        image="alpine:3",
        command=["sh", "-c", script],
        data_config=tasks_pb2.DataLoadingConfig(enabled=True, input_path=input_path, output_path=output_path),
    )
    return task_template("raw-container", typed_interface=typed(inputs, outputs), container=container)


def file_literal(path: Path) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(uri=path.as_uri(), metadata=literals_pb2.BlobMetadata())
        )
    )


def test_inputs_as_files_and_outputs_read_back(tmp_path: Path, handler: LocalProcessHandler) -> None:
    (tmp_path / "notes.txt").write_text("some notes")
    script = (
        "echo $(( $(cat /var/inputs/a) + {{.inputs.b}} )) > /var/outputs/total; "
        "tr a-z A-Z < /var/inputs/notes > /var/outputs/shout; "
        "cat /var/inputs/name > /var/outputs/greeting; echo ! >> /var/outputs/greeting; "
        "test -f /var/inputs/inputs.pb && test -f /var/inputs/inputs.json"
    )
    task = shell_task(
        script,
        {"a": INTEGER, "b": INTEGER, "notes": FILE, "name": STRING},
        {"total": INTEGER, "shout": FILE, "greeting": STRING},
    )
    inputs = literals_pb2.LiteralMap(
        literals={
            "a": integer(40),
            "b": integer(2),
            "notes": file_literal(tmp_path / "notes.txt"),
            "name": text("hi"),
        }
    )
    ctx = task_context(tmp_path, task, inputs=inputs)
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert outputs.literals["total"] == integer(42)
    assert outputs.literals["greeting"].scalar.primitive.string_value == "hi!"
    shout = outputs.literals["shout"].scalar.blob
    # Recorded by its plain path, as task code records the local store's data (flytekit cannot open file://).
    assert shout.uri == f"{local_data_path(ctx.raw_output_prefix)}/shout"
    assert ctx.storage.read(f"{ctx.raw_output_prefix}/shout") == b"SOME NOTES"


def test_default_folders(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = shell_task(
        "cp /var/flyte/inputs/x /var/flyte/outputs/y",
        {"x": INTEGER},
        {"y": INTEGER},
        input_path="",
        output_path="",
    )
    ctx = task_context(tmp_path, task, inputs=literals_pb2.LiteralMap(literals={"x": integer(7)}))
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap).literals["y"] == integer(7)


def test_the_error_file_fails_the_attempt(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = shell_task("echo 'no good input' > /var/outputs/_ERROR; exit 1", {}, {"y": INTEGER})
    done = Driver(handler, task_context(tmp_path, task)).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None
    assert (done.error.code, done.error.message) == ("OutputUploadFailed", "User Error: no good input\n")
    assert done.error.kind is ErrorKind.USER


def test_a_missing_output_fails_the_attempt(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = shell_task("true", {}, {"y": INTEGER})
    done = Driver(handler, task_context(tmp_path, task)).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error is not None
    assert done.error.code == "OutputUploadFailed"
    assert done.error.message.startswith("output 'y': the task wrote no file '")
    assert done.error.message.endswith("/outputs/y' in its output folder")


def test_a_failed_command_without_error_file_reports_its_exit(
    tmp_path: Path, handler: LocalProcessHandler
) -> None:
    task = shell_task("echo broken >&2; exit 4", {}, {"y": INTEGER})
    done = Driver(handler, task_context(tmp_path, task)).until_done()
    assert done.error is not None
    assert done.error.code == "NonZeroExit"
    assert done.error.message == "task 'tests.my_task' exited with code 4; last lines of stderr:\nbroken"


def test_an_input_that_cannot_be_fetched(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = shell_task("touch /var/outputs/started", {"f": FILE}, {})
    inputs = literals_pb2.LiteralMap(literals={"f": file_literal(tmp_path / "missing.txt")})
    transition = Driver(handler, task_context(tmp_path, task, inputs=inputs)).round()
    assert transition.phase is TaskPhase.RETRYABLE_FAILURE
    assert transition.error is not None
    assert transition.error.code == "InputDownloadFailed"
    assert transition.error.kind is ErrorKind.SYSTEM
    assert transition.error.message.startswith(
        f"task 'tests.my_task': input 'f': cannot copy {(tmp_path / 'missing.txt').as_uri()!r} to "
    )


def test_one_folder_for_inputs_and_outputs_is_refused(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = shell_task("true", {}, {}, input_path="/data", output_path="/data/")
    transition = Driver(handler, task_context(tmp_path, task)).round()
    assert transition.phase is TaskPhase.PERMANENT_FAILURE
    assert transition.error is not None
    assert (
        transition.error.message
        == "task 'tests.my_task': its data_config uses '/data' for both inputs and outputs"
    )


def pod_task(
    primary: str, containers: list[dict[str, object]], *, task_type: str = "python-task"
) -> tasks_pb2.TaskTemplate:
    spec = struct_pb2.Struct()
    spec.update({"containers": containers})
    template = task_template(task_type, typed_interface=typed({"x": INTEGER}, {"o0": INTEGER}))
    template.k8s_pod.pod_spec.CopyFrom(spec)
    template.config["primary_container_name"] = primary
    return template


def test_a_pod_spec_task_runs_its_primary_container(tmp_path: Path, handler: LocalProcessHandler) -> None:
    program = Path(__file__).with_name("task_program.py")
    task = pod_task(
        "main",
        [
            {"name": "sidecar", "image": "busybox", "command": ["false"]},
            {
                "name": "main",
                "image": "tests/image:1",
                "command": [sys.executable, str(program)],
                "args": ["env", "{{.input}}", "{{.outputPrefix}}", "FROM_POD", "FROM_SECRET"],
                "env": [
                    {"name": "FROM_POD", "value": "pod value"},
                    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
            },
        ],
    )
    ctx = task_context(tmp_path, task, inputs=literals_pb2.LiteralMap(literals={"x": integer(1)}))
    done = Driver(handler, ctx).until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    seen = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
    assert seen.literals["FROM_POD"].scalar.primitive.string_value == "pod value"
    assert seen.literals["FROM_SECRET"].scalar.primitive.string_value == "<unset>"


def test_a_pod_spec_without_its_primary_container(tmp_path: Path, handler: LocalProcessHandler) -> None:
    task = pod_task("main", [{"name": "other", "image": "busybox"}])
    transition = Driver(handler, task_context(tmp_path, task)).round()
    assert transition.phase is TaskPhase.PERMANENT_FAILURE
    assert transition.error is not None
    assert transition.error.message == (
        "task 'tests.my_task': its pod spec has no primary container 'main' (containers: 'other')"
    )
