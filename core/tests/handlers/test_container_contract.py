"""Flyte's container contract: argument templating, task environment, what a task leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.core import (
    dynamic_job_pb2,
    errors_pb2,
    execution_pb2,
    literals_pb2,
    tasks_pb2,
)
from google.protobuf import duration_pb2, timestamp_pb2

from roost_core.container import (
    ResultKind,
    TaskResult,
    TemplateError,
    _fixed_length_id,
    completion_transition,
    generated_name,
    local_data_path,
    read_task_result,
    render_args,
    render_task_args,
    task_environment,
)
from roost_core.errors import ErrorKind, ExecutionError
from roost_core.handler import TaskLog, TaskPhase
from roost_core.testing.tasks import (
    file_storage,
    integer,
    interface,
    task_context,
    task_execution_id,
    task_template,
    text,
)

PATHS = {
    "inputs_uri": "s3://bucket/data/inputs.pb",
    "input_prefix": "s3://bucket/data",
    "output_prefix": "s3://bucket/data/0",
    "raw_output_prefix": "s3://bucket/raw/abc",
    "checkpoint_prefix": "s3://bucket/raw/abc/_flytecheckpoints",
    "prev_checkpoint_prefix": "s3://bucket/raw/abb/_flytecheckpoints",
}


def render(args: list[str], **overrides: object) -> list[str]:
    options: dict[str, object] = {**PATHS, "task_name": "tests.my_task", **overrides}
    return render_args(args, **options)  # type: ignore[arg-type]


def literal_map(**literals: literals_pb2.Literal) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals=literals)


def primitive(**value: object) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**value)))


def collection(*items: literals_pb2.Literal) -> literals_pb2.Literal:
    return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))


class TestRenderArgs:
    def test_every_variable(self) -> None:
        args = [
            "pyflyte-execute",
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
            "--prefix={{.inputPrefix}}",
            "--key={{.perRetryUniqueKey}}",
            "--template={{.taskTemplatePath}}",
            "--ns={{.namespace}}",
        ]
        rendered = render(
            args,
            per_retry_unique_key="exec1-n0-0",
            task_template_path=lambda: "s3://bucket/data/task.pb",
            namespace="proj-dev",
        )
        assert rendered == [
            "pyflyte-execute",
            "--inputs",
            "s3://bucket/data/inputs.pb",
            "--output-prefix",
            "s3://bucket/data/0",
            "--raw-output-data-prefix",
            "s3://bucket/raw/abc",
            "--checkpoint-path",
            "s3://bucket/raw/abc/_flytecheckpoints",
            "--prev-checkpoint",
            "s3://bucket/raw/abb/_flytecheckpoints",
            "--prefix=s3://bucket/data",
            "--key=exec1_n0_0",
            "--template=s3://bucket/data/task.pb",
            "--ns=proj-dev",
        ]

    def test_names_are_case_insensitive_and_allow_spaces_and_dollar(self) -> None:
        args = [
            "{{ .Input }}",
            "{{.INPUT}}",
            "{{   .outputprefix   }}",
            "{{ $RawOutputDataPrefix }}",
            "{{.CHECKPOINTOUTPUTPREFIX}}",
            "{{ .prevcheckpointprefix }}",
        ]
        assert render(args) == [
            PATHS["inputs_uri"],
            PATHS["inputs_uri"],
            PATHS["output_prefix"],
            PATHS["raw_output_prefix"],
            PATHS["checkpoint_prefix"],
            PATHS["prev_checkpoint_prefix"],
        ]

    def test_variables_inside_longer_arguments(self) -> None:
        assert render(["--in={{.input}},out={{.outputPrefix}}"]) == [
            f"--in={PATHS['inputs_uri']},out={PATHS['output_prefix']}"
        ]

    def test_unknown_variables_are_left_as_flyte_leaves_them(self) -> None:
        args = ["{{ .wrongOutputDataPrefix }}", "${{input}}", "{{input}}", "{{ .Inputs.blah blah }}"]
        assert render(args) == args

    def test_empty_previous_checkpoint_renders_as_two_quotes(self) -> None:
        rendered = render(["--prev={{.prevCheckpointPrefix}}"], prev_checkpoint_prefix="")
        assert rendered == ['--prev=""']

    def test_per_retry_unique_key_is_made_alphanumeric(self) -> None:
        assert render(["{{.perRetryUniqueKey}}"], per_retry_unique_key="0-exec.1/n0-2") == ["aexec_1_n0_2"]

    def test_namespace_is_left_alone_unless_given(self) -> None:
        assert render(["{{.namespace}}"]) == ["{{.namespace}}"]

    def test_a_value_holding_a_variable_is_rendered_later_as_in_flyte(self) -> None:
        rendered = render(
            ["{{.rawOutputDataPrefix}}"], raw_output_prefix="s3://raw/{{ .Namespace }}", namespace="team"
        )
        assert rendered == ["s3://raw/team"]

    def test_backslashes_in_values_are_kept(self) -> None:
        assert render(["{{.outputPrefix}}"], output_prefix=r"file:///C:\out\1") == [r"file:///C:\out\1"]

    def test_task_template_path_is_only_produced_when_used(self) -> None:
        calls: list[int] = []

        def template_path() -> str:
            calls.append(1)
            return "s3://bucket/data/task.pb"

        render(["{{.input}}"], task_template_path=template_path)
        assert calls == []
        render(["{{.taskTemplatePath}}"], task_template_path=template_path)
        assert calls == [1]

    def test_task_template_path_without_a_provider_is_an_error(self) -> None:
        with pytest.raises(TemplateError) as info:
            render(["--t={{.taskTemplatePath}}"])
        assert str(info.value) == (
            "task 'tests.my_task': argument '--t={{.taskTemplatePath}}' uses "
            "{{.taskTemplatePath}}, which this handler cannot provide"
        )

    @pytest.mark.parametrize(
        ("literal", "expected"),
        [
            (primitive(integer=-42), "-42"),
            (primitive(boolean=True), "true"),
            (primitive(boolean=False), "false"),
            (primitive(string_value="my_table"), "my_table"),
            (primitive(float_value=2.5), "2.5"),
            (primitive(float_value=3.0), "3"),
            (primitive(float_value=123456.0), "123456"),
            (primitive(float_value=1e6), "1e+06"),
            (primitive(float_value=1234567.0), "1.234567e+06"),
            (primitive(float_value=0.0001), "0.0001"),
            (primitive(float_value=0.00001), "1e-05"),
            (primitive(float_value=-1.5e-7), "-1.5e-07"),
            (primitive(float_value=1e100), "1e+100"),
            (primitive(float_value=float("inf")), "+Inf"),
            (primitive(float_value=float("nan")), "NaN"),
            (
                primitive(datetime=timestamp_pb2.Timestamp(seconds=-2208985139, nanos=1)),
                "1900-01-01T01:01:01.000000001Z",
            ),
            (
                primitive(datetime=timestamp_pb2.Timestamp(seconds=1700000000, nanos=500000000)),
                "2023-11-14T22:13:20.5Z",
            ),
            (primitive(datetime=timestamp_pb2.Timestamp(seconds=0)), "1970-01-01T00:00:00Z"),
            (primitive(duration=duration_pb2.Duration(seconds=90)), "90s"),
            (
                literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri="s3://b/f.csv"))),
                "s3://b/f.csv",
            ),
            (
                literals_pb2.Literal(scalar=literals_pb2.Scalar(schema=literals_pb2.Schema(uri="s3://b/s"))),
                "s3://b/s",
            ),
            (
                collection(collection(text("a"), text("b")), collection(integer(1), integer(2))),
                "[[a,b],[1,2]]",
            ),
        ],
    )
    def test_inputs_render_as_text(self, literal: literals_pb2.Literal, expected: str) -> None:
        assert render(["--x={{ .Inputs.x }}"], inputs=literal_map(x=literal)) == [f"--x={expected}"]

    def test_several_inputs_in_one_argument(self) -> None:
        inputs = literal_map(table=text("events"), min=integer(15))
        query = "SELECT * FROM {{ .Inputs.table }} WHERE min = {{.inputs.min}}"
        assert render([query], inputs=inputs) == ["SELECT * FROM events WHERE min = 15"]

    def test_an_unknown_input_is_an_error_naming_it_and_the_task(self) -> None:
        with pytest.raises(TemplateError) as info:
            render(["--n={{.Inputs.count}}"], inputs=literal_map(a=integer(1), b=integer(2)))
        assert str(info.value) == (
            "task 'tests.my_task': argument '--n={{.Inputs.count}}' uses {{.Inputs.count}}, but "
            "the task has no input 'count' (inputs: a, b)"
        )

    def test_an_input_without_inputs_is_an_error(self) -> None:
        with pytest.raises(TemplateError) as info:
            render(["{{.Inputs.count}}"])
        assert str(info.value) == (
            "task 'tests.my_task': argument '{{.Inputs.count}}' uses {{.Inputs.count}}, but the "
            "task has no input 'count' (inputs: none)"
        )

    @pytest.mark.parametrize(
        ("literal", "reason"),
        [
            (literals_pb2.Literal(map=literals_pb2.LiteralMap()), "a map literal has no text form"),
            (
                literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())),
                "a none_type scalar has no text form",
            ),
            (
                literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\x01"))),
                "a binary scalar has no text form",
            ),
        ],
    )
    def test_an_input_without_a_text_form_is_an_error(
        self, literal: literals_pb2.Literal, reason: str
    ) -> None:
        with pytest.raises(TemplateError) as info:
            render(["{{.Inputs.x}}"], inputs=literal_map(x=literal))
        assert str(info.value) == (
            f"task 'tests.my_task': cannot render input 'x' for {{{{.Inputs.x}}}} in "
            f"'{{{{.Inputs.x}}}}': {reason}"
        )


@pytest.mark.parametrize(
    ("uri", "given"),
    [
        ("file:///srv/roost/raw/e1-n0-0", "/srv/roost/raw/e1-n0-0"),
        ("s3://bucket/raw/e1-n0-0", "s3://bucket/raw/e1-n0-0"),
        ("/srv/roost/raw", "/srv/roost/raw"),
        ("mem://raw/e1", "mem://raw/e1"),
    ],
)
def test_task_code_is_told_the_local_stores_data_as_plain_paths(uri: str, given: str) -> None:
    assert local_data_path(uri) == given


class TestRenderTaskArgs:
    def test_values_come_from_the_context(self, tmp_path: Path) -> None:
        task = task_template("raw-container", typed_interface=interface(inputs=["n"]))
        ctx = task_context(tmp_path, task, inputs=literal_map(n=integer(7)), attempt=1)
        rendered = render_task_args(
            ctx,
            [
                "{{.input}}",
                "{{.inputPrefix}}",
                "{{.outputPrefix}}",
                "{{.rawOutputDataPrefix}}",
                "{{.checkpointOutputPrefix}}",
                "{{.prevCheckpointPrefix}}",
                "{{.perRetryUniqueKey}}",
                "{{.Inputs.n}}",
                "{{.taskTemplatePath}}",
            ],
            local_paths=True,
        )
        node_dir = f"file://{tmp_path}/data/exec1/n0"
        assert rendered == [
            f"{node_dir}/inputs.pb",
            node_dir,
            f"{node_dir}/1",
            # The local store's raw output prefix is a plain path: what task code records in literals.
            f"{tmp_path}/data/raw/exec1-n0-1",
            f"{node_dir}/1/_checkpoints",
            f"{node_dir}/0/_checkpoints",
            "exec1_n0_1",
            "7",
            f"{node_dir}/task.pb",
        ]
        assert ctx.storage.read_proto(f"{node_dir}/task.pb", tasks_pb2.TaskTemplate) == task

    def test_the_local_raw_output_prefix_is_a_uri_unless_local_paths_are_asked_for(
        self, tmp_path: Path
    ) -> None:
        ctx = task_context(tmp_path, task_template("container"), attempt=1)
        raw = f"file://{tmp_path}/data/raw/exec1-n0-1"
        assert render_task_args(ctx, ["{{.rawOutputDataPrefix}}"]) == [raw]
        ctx.raw_output_prefix = "s3://bucket/raw/exec1-n0-0"
        assert render_task_args(ctx, ["{{.rawOutputDataPrefix}}"], local_paths=True) == [
            "s3://bucket/raw/exec1-n0-0"
        ]

    def test_inputs_are_not_read_unless_used(self, tmp_path: Path) -> None:
        ctx = task_context(tmp_path, task_template("container"))
        ctx.storage.delete(ctx.inputs_uri)
        assert render_task_args(ctx, ["{{.input}}"]) == [ctx.inputs_uri]


class TestGeneratedName:
    def test_short_names_join_the_parts(self) -> None:
        assert generated_name("exec1", "n0-dn3", 2) == "exec1-n0-dn3-2"

    def test_long_names_are_hashed_deterministically(self) -> None:
        name = generated_name("a" * 40, "node-with-a-long-name", 0)
        assert name == generated_name("a" * 40, "node-with-a-long-name", 0)
        assert name.startswith("f")
        assert len(name) == 8
        assert name != generated_name("a" * 40, "node-with-a-long-name", 1)

    @pytest.mark.parametrize(
        ("text_in", "max_length", "expected"),
        [
            # Flyte's own test vectors for FixedLengthUniqueID / FixedLengthUniqueIDForParts.
            ("x", 5, "x"),
            ("xx", 1, "flfryc2i"),
            ("xxxxxx", 5, "fufiti6i"),
            ("x" * 24, 20, "fuaa3aji"),
            ("x-y-z", 4, "fxzsoqrq"),
            ("x-y-z-m-n-y-z-m-n-y-z-m-n", 15, "fe63sz6y"),
        ],
    )
    def test_hash_matches_flyte(self, text_in: str, max_length: int, expected: str) -> None:
        assert _fixed_length_id(text_in, max_length) == expected


class TestTaskEnvironment:
    def test_identity_under_flyte_names_and_flytekit_aliases(self) -> None:
        env = task_environment(
            task_execution_id(execution="exec9", attempt=2), workflow="wf.main", launch_plan="lp.main"
        )
        assert env == {
            "FLYTE_INTERNAL_EXECUTION_PROJECT": "proj",
            "_F_PRJ": "proj",
            "FLYTE_INTERNAL_EXECUTION_DOMAIN": "dev",
            "_F_DM": "dev",
            "FLYTE_INTERNAL_EXECUTION_ID": "exec9",
            "_F_NM": "exec9",
            "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "wf.main",
            "_F_WF": "wf.main",
            "FLYTE_INTERNAL_EXECUTION_LAUNCHPLAN": "lp.main",
            "_F_LP": "lp.main",
            "FLYTE_INTERNAL_TASK_PROJECT": "proj",
            "_F_TK_PRJ": "proj",
            "FLYTE_INTERNAL_TASK_DOMAIN": "dev",
            "_F_TK_DM": "dev",
            "FLYTE_INTERNAL_TASK_NAME": "tests.my_task",
            "_F_TK_NM": "tests.my_task",
            "FLYTE_INTERNAL_TASK_VERSION": "v7",
            "_F_TK_V": "v7",
            "FLYTE_ATTEMPT_NUMBER": "2",
        }

    def test_unknown_workflow_and_launch_plan_are_left_out(self) -> None:
        env = task_environment(task_execution_id())
        assert "FLYTE_INTERNAL_EXECUTION_WORKFLOW" not in env
        assert "_F_LP" not in env

    def test_layering_container_identity_execution(self) -> None:
        container_env = [
            literals_pb2.KeyValuePair(key="MINE", value="container"),
            literals_pb2.KeyValuePair(key="_F_NM", value="spoofed"),
            literals_pb2.KeyValuePair(key="SHARED", value="container"),
        ]
        env = task_environment(
            task_execution_id(), container_env=container_env, execution_env={"SHARED": "execution"}
        )
        assert env["MINE"] == "container"
        assert env["_F_NM"] == "exec1"
        assert env["SHARED"] == "execution"

    def test_console_url(self) -> None:
        env = task_environment(
            task_execution_id(), console_url="https://roost.example/console/", unique_node_id="n0-0-dn1"
        )
        assert env["FLYTE_EXECUTION_URL"] == (
            "https://roost.example/console/projects/proj/domains/dev/executions/exec1/nodeId/n0-0-dn1/nodes"
        )


def error_document(origin: str, kind: str) -> errors_pb2.ErrorDocument:
    return errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code="USER:ValueError",
            message="bad value",
            kind=errors_pb2.ContainerError.Kind.Value(kind),
            origin=execution_pb2.ExecutionError.ErrorKind.Value(origin),
        )
    )


class TestReadTaskResult:
    @pytest.fixture
    def prefix(self, tmp_path: Path) -> str:
        return f"file://{tmp_path}/out/0"

    @pytest.mark.parametrize(
        ("origin", "kind", "error_kind", "retryable"),
        [
            ("USER", "RECOVERABLE", ErrorKind.USER, True),
            ("USER", "NON_RECOVERABLE", ErrorKind.USER, False),
            ("SYSTEM", "RECOVERABLE", ErrorKind.SYSTEM, True),
            ("SYSTEM", "NON_RECOVERABLE", ErrorKind.SYSTEM, False),
            ("UNKNOWN", "NON_RECOVERABLE", ErrorKind.USER, False),
        ],
    )
    def test_error_document(
        self, tmp_path: Path, prefix: str, *, origin: str, kind: str, error_kind: ErrorKind, retryable: bool
    ) -> None:
        storage = file_storage(tmp_path)
        storage.write_proto(f"{prefix}/error.pb", error_document(origin, kind))
        assert read_task_result(storage, prefix) == TaskResult(
            ResultKind.ERROR,
            f"{prefix}/error.pb",
            ExecutionError("USER:ValueError", "bad value", error_kind, f"{prefix}/error.pb"),
            retryable=retryable,
        )

    def test_error_wins_over_outputs_and_futures(self, tmp_path: Path, prefix: str) -> None:
        storage = file_storage(tmp_path)
        storage.write_proto(f"{prefix}/outputs.pb", literals_pb2.LiteralMap())
        storage.write_proto(f"{prefix}/futures.pb", dynamic_job_pb2.DynamicJobSpec())
        storage.write_proto(f"{prefix}/error.pb", error_document("USER", "RECOVERABLE"))
        assert read_task_result(storage, prefix).kind is ResultKind.ERROR

    def test_futures_win_over_outputs(self, tmp_path: Path, prefix: str) -> None:
        storage = file_storage(tmp_path)
        storage.write_proto(f"{prefix}/outputs.pb", literals_pb2.LiteralMap())
        storage.write_proto(f"{prefix}/futures.pb", dynamic_job_pb2.DynamicJobSpec())
        assert read_task_result(storage, prefix) == TaskResult(ResultKind.FUTURES, f"{prefix}/futures.pb")

    def test_outputs(self, tmp_path: Path, prefix: str) -> None:
        storage = file_storage(tmp_path)
        storage.write_proto(f"{prefix}/outputs.pb", literals_pb2.LiteralMap())
        assert read_task_result(storage, prefix) == TaskResult(ResultKind.OUTPUTS, f"{prefix}/outputs.pb")

    def test_nothing(self, tmp_path: Path, prefix: str) -> None:
        assert read_task_result(file_storage(tmp_path), prefix) == TaskResult(ResultKind.NOTHING)

    def test_error_document_without_an_error(self, tmp_path: Path, prefix: str) -> None:
        storage = file_storage(tmp_path)
        storage.write_proto(f"{prefix}/error.pb", errors_pb2.ErrorDocument())
        result = read_task_result(storage, prefix)
        assert result.retryable
        assert result.error == ExecutionError(
            "ErrorFileBadFormat",
            f"'{prefix}/error.pb' holds an ErrorDocument without an error",
            ErrorKind.SYSTEM,
            f"{prefix}/error.pb",
        )

    def test_error_document_that_does_not_parse(self, tmp_path: Path, prefix: str) -> None:
        storage = file_storage(tmp_path)
        storage.write(f"{prefix}/error.pb", b"\xff\xff\xff")
        result = read_task_result(storage, prefix)
        assert result.error is not None
        assert result.error.kind is ErrorKind.SYSTEM
        assert result.error.code == "ErrorFileBadFormat"
        assert result.error.message.startswith(
            f"'{prefix}/error.pb' is not a valid flyteidl.core.ErrorDocument"
        )


class TestCompletionTransition:
    LOGS = (TaskLog("stdout", "file:///tmp/x.log"),)

    def test_error_is_a_failure_as_documented(self) -> None:
        error = ExecutionError("USER:ValueError", "bad value", ErrorKind.SYSTEM, "s3://b/error.pb")
        result = TaskResult(ResultKind.ERROR, "s3://b/error.pb", error, retryable=False)
        transition = completion_transition(result, task_template("container"), logs=self.LOGS)
        assert transition.phase is TaskPhase.PERMANENT_FAILURE
        assert transition.error == error
        assert transition.logs == self.LOGS

    @pytest.mark.parametrize("kind", [ResultKind.OUTPUTS, ResultKind.FUTURES])
    def test_outputs_or_futures_succeed(self, kind: ResultKind) -> None:
        task = task_template("container", typed_interface=interface(outputs=["o0"]))
        transition = completion_transition(TaskResult(kind, "s3://b/x.pb"), task)
        assert transition.phase is TaskPhase.SUCCESS

    def test_nothing_succeeds_without_declared_outputs(self) -> None:
        result = TaskResult(ResultKind.NOTHING)
        transition = completion_transition(result, task_template("container"))
        assert transition.phase is TaskPhase.SUCCESS

    def test_nothing_fails_when_outputs_are_declared(self) -> None:
        task = task_template("container", typed_interface=interface(outputs=["total", "count"]))
        transition = completion_transition(TaskResult(ResultKind.NOTHING), task)
        assert transition.phase is TaskPhase.RETRYABLE_FAILURE
        assert transition.error == ExecutionError(
            "OutputsNotFound",
            "task 'tests.my_task' finished without writing outputs.pb; its interface declares the "
            "outputs count, total",
            ErrorKind.USER,
        )
