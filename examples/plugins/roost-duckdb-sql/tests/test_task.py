"""The SDK side: the task's template, and the errors that name the task and the input at fault."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
from conftest import template_of

from roost.extend import StructuredDataset, WorkflowDefinitionError, run_locally
from roost_duckdb_sql import OUTPUT, TASK_TYPE, DuckDBSQLTask


def test_the_template_carries_the_query_and_no_container() -> None:
    task = DuckDBSQLTask(
        "recent",
        "select * from trips where at > $since",
        inputs={"trips": pd.DataFrame, "since": datetime.datetime},
    )
    template = template_of(task)
    assert template.type == TASK_TYPE == "duckdb-sql"
    assert template.custom["query"] == "select * from trips where at > $since"
    assert not template.HasField("container")
    variables = template.interface.inputs.variables
    assert variables["trips"].type.HasField("structured_dataset_type")
    assert template.interface.outputs.variables[OUTPUT].type.HasField("structured_dataset_type")


@pytest.mark.parametrize(
    ("query", "inputs", "output", "message"),
    [
        ("  ", {}, StructuredDataset, r"DuckDBSQLTask 'bad': query must be a non-empty SQL string"),
        (
            "select $tags",
            {"tags": list[str]},
            StructuredDataset,
            r"DuckDBSQLTask 'bad': input 'tags' has a type DuckDB cannot take \(collection_type\); inputs are "
            r"parameters \(int, float, str, bool, datetime\) or data frames",
        ),
        (
            "select 1 where $min_fares > 0",
            {"min_fare": float},
            StructuredDataset,
            r"DuckDBSQLTask 'bad': input 'min_fare' is a parameter the query never uses: write \$min_fare",
        ),
        (
            "select * from trip",
            {"trips": pd.DataFrame},
            StructuredDataset,
            r"DuckDBSQLTask 'bad': input 'trips' is a data frame the query never uses: query it as the table trips",
        ),
        (
            "select 1",
            {},
            int,
            r"DuckDBSQLTask 'bad': output must be a data frame type \(StructuredDataset, pandas.DataFrame, ...\), "
            r"not <class 'int'>",
        ),
    ],
)
def test_a_bad_definition_is_an_error_naming_the_task_and_input(
    query: str, inputs: dict[str, object], output: object, message: str
) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):
        DuckDBSQLTask("bad", query, inputs=inputs, output=output)


def test_the_task_runs_locally_on_data_frames_and_parameters() -> None:
    top = DuckDBSQLTask(
        "top",
        "select name, score from players where score >= $least and active = $active and team = $team "
        "order by score desc",
        inputs={"players": pd.DataFrame, "least": int, "active": bool, "team": str},
        output=pd.DataFrame,
    )
    players = pd.DataFrame(
        {
            "name": ["ann", "bob", "cyd", "dee"],
            "score": [7, 9, 3, 8],
            "active": [True, True, True, False],
            "team": ["red", "red", "red", "red"],
        }
    )
    result = run_locally(top, {"players": players, "least": 5, "active": True, "team": "red"})
    assert result.to_dict("list") == {"name": ["bob", "ann"], "score": [9, 7]}
