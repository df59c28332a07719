"""The SDK side: templates equal to flytekitplugins-bigquery's and -snowflake's 1.16, and definition errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import tasks_pb2
from google.protobuf import json_format
from helpers import template_of

from roost.errors import WorkflowDefinitionError
from roost.types.structured import StructuredDataset
from roost_core.testing.virtualenv import (
    VirtualenvBuildError,
    cached_virtualenv,
    kept_folder,
    requirements_key,
)
from roost_webapi import BigQueryConfig, BigQueryTask, SnowflakeConfig, SnowflakeTask

FLYTEKIT = ("flytekit==1.16.31", "flytekitplugins-bigquery==1.16.31", "flytekitplugins-snowflake==1.16.31")
SIDE = Path(__file__).with_name("flytekit_side.py")


@pytest.fixture(scope="session")
def flytekit_python(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = kept_folder(
        pytestconfig, tmp_path_factory.mktemp, f"flytekit-webapi-{requirements_key(FLYTEKIT)}"
    )
    try:
        return str(cached_virtualenv(folder, FLYTEKIT) / "bin" / "python")
    except VirtualenvBuildError as exc:
        pytest.fail(str(exc), pytrace=False)


def flytekit_template(python: str, name: str) -> dict[str, Any]:
    run = subprocess.run([python, str(SIDE), name], capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    parsed: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return parsed


def roost_template(task: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(json_format.MessageToJson(template_of(task)))
    return parsed


def same_parts(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    # metadata (runtime flavor and version) says which SDK wrote the template; everything the engine reads matches
    for key in ("type", "custom", "config", "sql", "interface", "container", "taskTypeVersion"):
        assert ours.get(key) == theirs.get(key), key


def test_bigquery_template_matches_flytekit(flytekit_python: str) -> None:
    from google.cloud import bigquery

    task = BigQueryTask(
        name="bq_full",
        query_template="SELECT id,\n\t amount FROM sales.orders\n WHERE amount > @minimum AND customer = @who  ",
        task_config=BigQueryConfig(
            ProjectID="acme",
            Location="EU",
            QueryJobConfig=bigquery.QueryJobConfig(
                use_query_cache=False, priority="BATCH", maximum_bytes_billed=1000
            ),
        ),
        inputs={"minimum": float, "who": str},
        output_structured_dataset_type=StructuredDataset,
    )
    ours, theirs = roost_template(task), flytekit_template(flytekit_python, "bigquery_full")
    same_parts(ours, theirs)
    assert ours["custom"]["priority"] == "BATCH" and ours["type"] == "bigquery_query_job_task"
    bare = BigQueryTask(
        name="bq_bare", query_template="SELECT 1", task_config=BigQueryConfig(ProjectID="acme")
    )
    same_parts(roost_template(bare), flytekit_template(flytekit_python, "bigquery_bare"))


def test_snowflake_template_matches_flytekit(flytekit_python: str) -> None:
    task = SnowflakeTask(
        name="sf",
        query_template="SELECT * FROM ORDERS WHERE AMOUNT > %(minimum)s",
        task_config=SnowflakeConfig(
            account="acme-eu", database="SHOP", schema="PUBLIC", warehouse="WH", user="ROOST"
        ),
        inputs={"minimum": float},
        output_schema_type=StructuredDataset,
    )
    ours, theirs = roost_template(task), flytekit_template(flytekit_python, "snowflake")
    same_parts(ours, theirs)
    assert ours["config"]["warehouse"] == "WH" and "custom" not in ours


def test_the_template_has_the_query_and_no_container() -> None:
    task = BigQueryTask(name="q", query_template="SELECT 1", task_config=BigQueryConfig(ProjectID="p"))
    template = template_of(task)
    assert not template.HasField("container")
    assert template.sql == tasks_pb2.Sql(statement="SELECT 1")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: BigQueryTask(
                name="q",
                query_template="SELECT @day, @limit",
                task_config=BigQueryConfig("p"),
                inputs={"day": str},
            ),
            "BigQueryTask 'q': the query uses 'limit', which is not a declared input (inputs: day); "
            "query: SELECT @day, @limit",
        ),
        (
            lambda: SnowflakeTask(
                name="s",
                query_template="SELECT %(a)s, {{ .inputs.b }}",
                task_config=SnowflakeConfig("u", "a", "d", "s", "w"),
            ),
            "SnowflakeTask 's': the query uses 'a', 'b', which are not declared inputs (inputs: none)",
        ),
        (
            lambda: BigQueryTask(
                name="q", query_template="SELECT 1", task_config=BigQueryConfig(ProjectID="")
            ),
            "BigQueryTask 'q': BigQueryConfig.ProjectID must be a non-empty string, not ''",
        ),
        (
            lambda: SnowflakeTask(
                name="s", query_template="SELECT 1", task_config=SnowflakeConfig("u", "", "d", "s", "w")
            ),
            "SnowflakeTask 's': SnowflakeConfig.account must be a non-empty string, not ''",
        ),
        (
            lambda: BigQueryTask(name="q", query_template="  ", task_config=BigQueryConfig("p")),
            "BigQueryTask 'q': query_template must be a non-empty string",
        ),
        (
            lambda: BigQueryTask(name="q", query_template="SELECT 1", task_config="p"),  # type: ignore[arg-type]
            "BigQueryTask 'q': task_config must be a BigQueryConfig, not str",
        ),
    ],
)
def test_definition_errors_name_the_task_and_what_is_wrong(make: Any, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        make()
    assert message in str(caught.value)


def test_parameters_in_quotes_and_system_variables_are_not_inputs() -> None:
    task = BigQueryTask(
        name="q",
        query_template="SELECT '@not_input', @@project_id, `a@b`, @x",
        task_config=BigQueryConfig("p"),
        inputs={"x": int},
    )
    assert task.query_template.endswith("@x")
