"""Local runs keep the data their outputs refer to (files, folders, data frames, also inside dataclasses)
under the kept-outputs folder, print data frames as a URI in `-o json`, and keep nothing when there is
nothing to keep."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from roost import Directory, File, StructuredDataset, current_context, task, workflow
from roost.cli import main
from roost.local.runner import run_local


@dataclasses.dataclass
class Report:
    summary: File
    pages: Directory
    table: StructuredDataset
    count: int


@task
def make_report(n: int) -> Report:
    work = Path(current_context().working_directory)
    (work / "summary.txt").write_text(f"{n} pages")
    (work / "pages").mkdir()
    for page in range(n):
        (work / "pages" / f"{page}.txt").write_text(f"page {page}")
    frame = StructuredDataset(dataframe=table(n))
    return Report(File(str(work / "summary.txt")), Directory(str(work / "pages")), frame, n)


def table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"page": list(range(n))})


@task
def frame(n: int) -> pd.DataFrame:
    return table(n)


@workflow
def report_wf(n: int = 2) -> Report:
    return make_report(n=n)


@workflow
def frames_wf(n: int = 3) -> pd.DataFrame:
    return frame(n=n)


@task
def frame_list(n: int) -> list[StructuredDataset]:
    return [StructuredDataset(dataframe=pd.DataFrame({"a": [n]}))]


@workflow
def frame_list_wf(n: int = 3) -> tuple[pd.DataFrame, list[StructuredDataset], int]:
    return frame(n=n), frame_list(n=n), n


@task
def count(n: int) -> int:
    return n


@workflow
def plain_wf(n: int = 3) -> tuple[int, list[int]]:
    return count(n=n), [n, n]


def kept_under(path: str | Path, folder: Path) -> bool:
    return Path(str(path).removeprefix("file://")).resolve().is_relative_to(folder.resolve())


def test_files_folders_and_frames_inside_a_dataclass_are_kept(tmp_path):
    result = run_local(report_wf, {"n": 2})
    folder = result.outputs_folder
    assert folder is not None and folder.is_relative_to(tmp_path / "data")
    report = result.outputs
    assert kept_under(report.summary.path, folder) and Path(report.summary.path).read_text() == "2 pages"
    assert kept_under(report.pages.path, folder)
    assert sorted(p.name for p in Path(report.pages.path).iterdir()) == ["0.txt", "1.txt"]
    assert kept_under(report.table.uri, folder)
    assert report.table.open(pd.DataFrame).all()["page"].tolist() == [0, 1]
    literal = result.literals.literals["o0"]
    assert literal.scalar.binary.tag == "msgpack"
    # Nothing in the outputs points into the run's temporary folder, which is gone.
    assert "roost-run-" not in literal.scalar.binary.value.decode("latin-1")
    assert sum(1 for p in folder.rglob("*") if p.is_file()) == 4  # summary, two pages, one parquet file


def test_data_frames_are_kept_and_printed_as_their_uri(tmp_path):
    result = run_local(frames_wf, {"n": 3})
    assert result.outputs_folder is not None
    uri = result.literals.literals["o0"].scalar.structured_dataset.uri
    assert kept_under(uri, result.outputs_folder)
    assert pd.read_parquet(uri.removeprefix("file://"))["page"].tolist() == [0, 1, 2]

    shown = CliRunner().invoke(main, ["run", "--no-progress", "-o", "json", __file__, "frame_list_wf"])
    assert shown.exit_code == 0, shown.output
    outputs = json.loads(shown.output)
    kept = tmp_path / "data" / "roost" / "outputs"
    assert kept_under(outputs["o0"], kept) and kept_under(outputs["o1"][0], kept)
    assert outputs["o2"] == 3
    assert pd.read_parquet(outputs["o0"].removeprefix("file://"))["page"].tolist() == [0, 1, 2]


def test_nothing_to_keep_makes_no_folder(tmp_path):
    result = run_local(plain_wf, {"n": 3})
    assert result.outputs == (3, [3, 3])
    assert result.outputs_folder is None
    assert not (tmp_path / "data" / "roost" / "outputs").exists()

    shown = CliRunner().invoke(main, ["run", "--no-progress", __file__, "plain_wf"])
    assert shown.exit_code == 0, shown.output
    assert "files kept" not in shown.output
    assert not (tmp_path / "data" / "roost" / "outputs").exists()
