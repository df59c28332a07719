"""Dataclasses and pydantic models with File, Directory and StructuredDataset fields, passed between tasks."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pydantic
import pytest

from roost import Directory, File, StructuredDataset, task, workflow


@dataclass
class Bundle:
    report: File
    folder: Directory
    table: StructuredDataset
    count: int


class ModelBundle(pydantic.BaseModel):
    report: File
    folder: Directory
    table: StructuredDataset
    count: int = 0


def _files() -> tuple[str, str]:
    folder = tempfile.mkdtemp()
    for name in ("a.txt", "b.txt"):
        with open(os.path.join(folder, name), "w") as out:
            out.write(name)
    return os.path.join(folder, "a.txt"), folder


@task
def make_dataclass(rows: int) -> Bundle:
    report, folder = _files()
    frame = pd.DataFrame({"v": range(rows)})
    return Bundle(File(report), Directory(folder), StructuredDataset(dataframe=frame), rows)


@task
def make_model(rows: int) -> ModelBundle:
    report, folder = _files()
    frame = pd.DataFrame({"v": range(rows)})
    return ModelBundle(
        report=File(report), folder=Directory(folder), table=StructuredDataset(dataframe=frame), count=rows
    )


def describe(report: File, folder: Directory, table: StructuredDataset, count: int) -> str:
    text = Path(report.download()).read_text()
    names = ",".join(sorted(os.listdir(folder.download())))
    total = int(table.open(pd.DataFrame).all().v.sum())
    return f"{text}|{names}|{total}|{count}"


@task
def use_dataclass(bundle: Bundle) -> str:
    return describe(bundle.report, bundle.folder, bundle.table, bundle.count)


@task
def use_model(bundle: ModelBundle) -> str:
    return describe(bundle.report, bundle.folder, bundle.table, bundle.count)


@workflow
def wf(rows: int) -> tuple[str, str]:
    return use_dataclass(bundle=make_dataclass(rows=rows)), use_model(bundle=make_model(rows=rows))


def test_file_folder_and_dataset_fields_travel_in_dataclasses_and_models():
    expected = "a.txt|a.txt,b.txt|6|4"
    assert wf(rows=4) == (expected, expected)


def test_a_model_with_such_fields_has_flytekits_schema_and_dumps_paths_outside_tasks():
    schema = ModelBundle.model_json_schema()["properties"]
    assert schema["report"]["title"] == "FlyteFile" and schema["folder"]["title"] == "FlyteDirectory"
    report, folder = _files()
    plain = ModelBundle(
        report=File(report), folder=Directory(folder), table=StructuredDataset(uri="s3://b/t")
    )
    assert plain.model_dump()["report"] == {"path": report}
    assert plain.model_dump()["table"] == {"uri": "s3://b/t"}


def test_reading_such_a_model_outside_a_task_is_refused_clearly():
    with pytest.raises(
        pydantic.ValidationError, match=r"a File field is read from data only inside a Roost task"
    ):
        ModelBundle.model_validate(
            {"report": {"path": "/x"}, "folder": {"path": "/y"}, "table": {"uri": "s3://t"}}
        )
