"""The handler's settings reach `roost run` through the file `$ROOST_CONFIG` names, as `roost start` reads its
configuration file: a database file every query can read, and a bad setting refused naming its key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml


def roost_run(tmp_path: Path, settings: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "roost.yaml"
    config.write_text(yaml.safe_dump({"engine": {"handlers": {"duckdb_sql": settings}}}))
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("ROOST_")},
        "ROOST_CONFIG": str(config),
        "ROOST_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    roost = Path(sys.executable).with_name("roost")
    return subprocess.run(
        [str(roost), "run", "--no-progress", "-o", "json", "cities.py", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def write_workflow(tmp_path: Path) -> None:
    (tmp_path / "cities.py").write_text(
        "import pandas as pd\n"
        "from roost import task, workflow\n"
        "from roost_duckdb_sql import DuckDBSQLTask\n\n"
        "ranked = DuckDBSQLTask(\n"
        '    "ranked", "select name from cities where rank <= $rank order by rank", inputs={"rank": int}\n'
        ")\n\n\n"
        "@task\n"
        "def names(frame: pd.DataFrame) -> list[str]:\n"
        '    return list(frame["name"])\n\n\n'
        "@workflow\n"
        "def wf(rank: int) -> list[str]:\n"
        "    return names(frame=ranked(rank=rank))\n"
    )


def test_queries_read_the_database_the_configuration_names(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "create table cities as select * from (values ('Paris', 1), ('Lyon', 2), ('Nice', 3)) t(name, rank)"
        )
    write_workflow(tmp_path)
    done = roost_run(tmp_path, {"database": str(database), "threads": 1}, "wf", "--rank", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"o0": ["Paris", "Lyon"]}


def test_a_bad_setting_stops_the_run_naming_its_key(tmp_path: Path) -> None:
    write_workflow(tmp_path)
    done = roost_run(tmp_path, {"max_queries": 0}, "wf", "--rank", "2")
    assert done.returncode != 0
    message = "engine.handlers.duckdb_sql.max_queries: input should be greater than or equal to 1, got 0"
    assert message in done.stderr, done.stderr
