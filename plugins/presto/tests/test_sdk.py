"""TrinoTask and PrestoTask: definitions, bad templates, the template and its custom, local runs."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import pytest
from flyteidl.plugins import presto_pb2
from google.protobuf import json_format

from roost import task, workflow
from roost.errors import WorkflowDefinitionError
from roost.extend import check_task_template
from roost_presto import PrestoTask, TrinoTask
from roost_presto.testing import TrinoTestServer
from roost_presto.testing.conformance import SETTINGS

QUERY = "SELECT id, fare FROM trips WHERE city = {{ .inputs.city }} ORDER BY id LIMIT {{ .Inputs.limit }}"


def trips(**options: object) -> TrinoTask:
    return TrinoTask(
        name="trips",
        query_template=QUERY,
        inputs={"city": str, "limit": int},
        catalog="memory",
        schema="default",
        **options,  # type: ignore[arg-type]
    )


def test_the_template_is_a_presto_task_with_a_presto_query() -> None:
    template = check_task_template(
        trips(routing_group="adhoc"), SETTINGS, custom_message=presto_pb2.PrestoQuery
    )
    assert template.type == "presto"
    assert not template.HasField("container")
    query = json_format.ParseDict(json_format.MessageToDict(template.custom), presto_pb2.PrestoQuery())
    assert query == presto_pb2.PrestoQuery(
        routing_group="adhoc", catalog="memory", schema="default", statement=QUERY
    )
    # protobuf JSON, as Flyte's presto plugin reads it
    assert json_format.MessageToDict(template.custom) == json_format.MessageToDict(query)
    assert sorted(template.interface.inputs.variables) == ["city", "limit"]
    assert template.interface.outputs.variables["results"].type.HasField("structured_dataset_type")


def test_presto_task_is_the_same_task_type() -> None:
    task = PrestoTask(name="p", query_template="SELECT 1")
    template = task.template(SETTINGS)
    assert template.type == "presto" and json_format.MessageToDict(template.custom) == {
        "statement": "SELECT 1"
    }


def test_declared_columns_are_the_output_type() -> None:
    task = trips(output_structured_dataset_type=Annotated[pd.DataFrame, {"id": int, "fare": float}])
    columns = (
        task.template(SETTINGS).interface.outputs.variables["results"].type.structured_dataset_type.columns
    )
    assert [c.name for c in columns] == ["id", "fare"]


def test_an_undeclared_input_is_an_error_naming_task_and_input() -> None:
    with pytest.raises(WorkflowDefinitionError) as failed:
        TrinoTask(
            name="daily", query_template="SELECT * FROM t WHERE ds = {{ .inputs.day }}", inputs={"ds": str}
        )
    message = str(failed.value)
    assert "Trino query 'daily'" in message and "'day'" in message and "(inputs: ds)" in message


def test_a_quoted_reference_is_an_error() -> None:
    with pytest.raises(WorkflowDefinitionError, match="inside a quoted string; remove the quotes"):
        TrinoTask(
            name="q", query_template="SELECT * FROM t WHERE ds = '{{ .inputs.ds }}'", inputs={"ds": str}
        )


def test_other_templates_are_errors() -> None:
    with pytest.raises(
        WorkflowDefinitionError, match=r"Presto query 'q'.*'\{\{ \.rawOutputDataPrefix \}\}' is not"
    ):
        PrestoTask(name="q", query_template="INSERT INTO t SELECT '{{ .rawOutputDataPrefix }}'")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"query_template": "  "}, "query_template must be a non-empty string"),
        ({"catalog": 3}, "catalog must be a string"),
        ({"retries": -1}, "retries must be 0 or more"),
        ({"inputs": {"not ok": str}}, "input name 'not ok' is not an identifier"),
    ],
)
def test_bad_arguments_name_the_task(options: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "bad", "query_template": "SELECT 1", **options}
    with pytest.raises(WorkflowDefinitionError, match=message) as failed:
        TrinoTask(**arguments)  # type: ignore[arg-type]
    assert "'bad'" in str(failed.value)


def test_it_runs_locally_and_feeds_a_pandas_task(
    trino_server: TrinoTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOST_TRINO_COORDINATOR", trino_server.url)
    query = trips()

    @task
    def total(frame: pd.DataFrame) -> float:
        return float(frame["fare"].sum())

    @workflow
    def wf(city: str, limit: int) -> float:
        return total(frame=query(city=city, limit=limit))

    assert wf(city="ams", limit=2) == 15.5
    assert trino_server.submissions == 1
    frame = query(city="ber", limit=5).open(pd.DataFrame).all()
    assert frame["id"].tolist() == [2]
