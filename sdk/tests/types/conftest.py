"""Fixtures of the type engine's tests: an engine, storage and contexts, and the flytekit interop run."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import interop_cases
import pytest
from flyteidl.core import literals_pb2, types_pb2

from roost.types import Directory, File, StructuredDataset, TypeContext, TypeEngine
from roost_core.storage import FileStore, MemoryStore, Storage
from roost_core.testing.virtualenv import cached_virtualenv, kept_folder, requirements_key

FLYTEKIT = "flytekit==1.16.31"
# The libraries whose output both sides must agree on run at the versions the tests run with.
MATCHED_LIBRARIES = ("pandas", "pyarrow", "numpy", "polars", "pydantic")
HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "flytekit: compares with flytekit 1.16.31 running in its own virtualenv (built on first use)",
    )


@pytest.fixture
def engine() -> TypeEngine:
    return TypeEngine.with_builtins()


@pytest.fixture
def storage() -> Storage:
    return Storage({"file": FileStore(), "mem": MemoryStore()})


@pytest.fixture
def ctx(storage: Storage, tmp_path: Path) -> Iterator[TypeContext]:
    """A context uploading under ``file://<tmp>/raw``, downloading under ``<tmp>/work``."""
    (tmp_path / "work").mkdir(exist_ok=True)
    with TypeContext(storage, f"file://{tmp_path}/raw", work_dir=tmp_path / "work") as context:
        yield context


@pytest.fixture
def mem_ctx(storage: Storage, tmp_path: Path) -> Iterator[TypeContext]:
    """A context uploading to ``mem://``, so every read goes through storage and a download."""
    (tmp_path / "work").mkdir(exist_ok=True)
    with TypeContext(storage, "mem://bucket/raw", work_dir=tmp_path / "work") as context:
        yield context


# -------------------------------------------------------------------------------------------------
# flytekit in its own virtualenv


def _requirements() -> list[str]:
    return [FLYTEKIT, *(f"{name}=={importlib.metadata.version(name)}" for name in MATCHED_LIBRARIES)]


@pytest.fixture(scope="session")
def flytekit_python(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a virtualenv with flytekit, kept in pytest's cache folder between runs."""
    requirements = _requirements()
    name = f"flytekit-venv-{requirements_key(requirements)}"
    folder = kept_folder(pytestconfig, tmp_path_factory.mktemp, name)
    return str(cached_virtualenv(folder, requirements) / "bin" / "python")


@dataclasses.dataclass
class Interop:
    """One run of both sides over every case of ``interop_cases``."""

    work: Path
    cases: dict[str, interop_cases.Case]
    expected: dict[str, Any]
    roost_errors: dict[str, str]
    flytekit: dict[str, dict[str, Any]]
    storage: Storage

    def flytekit_type(self, name: str) -> types_pb2.LiteralType:
        return types_pb2.LiteralType.FromString((self.work / "flytekit" / f"{name}.type.pb").read_bytes())

    def flytekit_literal(self, name: str) -> literals_pb2.Literal:
        return literals_pb2.Literal.FromString((self.work / "flytekit" / f"{name}.literal.pb").read_bytes())

    def roost_literal(self, name: str) -> literals_pb2.Literal:
        return literals_pb2.Literal.FromString((self.work / "roost" / f"{name}.literal.pb").read_bytes())


ROOST_SIDE = interop_cases.Side("roost", File, Directory, StructuredDataset)


def _run_both_sides(
    work: Path,
    storage: Storage,
    roost_prefix: str,
    flytekit_python: str,
    flytekit_prefix: str,
    env: dict[str, str],
    only: set[str] | None = None,
) -> Interop:
    """Roost writes a literal per case into ``work/roost``, then flytekit writes its own and reads Roost's
    (``flytekit_side.py``); data goes under the two raw output prefixes."""
    (work / "roost").mkdir()
    cases = {k: v for k, v in interop_cases.build_cases(ROOST_SIDE).items() if only is None or k in only}
    engine = TypeEngine.with_builtins()
    expected: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with TypeContext(storage, roost_prefix, work_dir=work) as context:
        for name, case in cases.items():
            value = case.make(str(work / "roost-data" / name))
            expected[name] = json.loads(json.dumps(interop_cases.canonical(case.expect(value))))
            try:
                literal = engine.to_literal(context, value, case.python_type)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            (work / "roost" / f"{name}.literal.pb").write_bytes(literal.SerializeToString())
    run = subprocess.run(
        [flytekit_python, str(HERE / "flytekit_side.py"), str(work), flytekit_prefix, *sorted(cases)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "FLYTE_SDK_LOGGING_LEVEL": "40", **env},
    )
    if run.returncode != 0:
        pytest.fail(f"flytekit_side.py failed ({run.returncode}):\n{run.stdout}\n{run.stderr}", pytrace=False)
    results = json.loads((work / "flytekit-results.json").read_text())
    return Interop(work, cases, expected, errors, results, storage)


@pytest.fixture(scope="session")
def interop(flytekit_python: str, tmp_path_factory: pytest.TempPathFactory) -> Interop:
    """Both sides over every case, sharing one local folder."""
    work = tmp_path_factory.mktemp("interop")
    return _run_both_sides(
        work,
        Storage({"file": FileStore()}),
        f"file://{work}/roost-raw",
        flytekit_python,
        str(work / "flytekit-raw"),
        {},
    )


@pytest.fixture(scope="session")
def interop_s3(flytekit_python: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interop]:
    """Both sides over the cases that store data, sharing one S3 bucket on a local SeaweedFS server."""
    from roost_core.storage import S3Store
    from roost_core.testing.seaweed import SeaweedS3

    work = tmp_path_factory.mktemp("interop-s3")
    with SeaweedS3(buckets=["interop"]) as server:
        env = {
            "FLYTE_AWS_ENDPOINT": server.endpoint_url,
            "FLYTE_AWS_ACCESS_KEY_ID": server.access_key,
            "FLYTE_AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_DEFAULT_REGION": server.region,
        }
        storage = Storage({"s3": S3Store(**server.store_config())})
        stored = {
            name for name, case in interop_cases.build_cases(ROOST_SIDE).items() if not case.same_literal
        }
        yield _run_both_sides(
            work, storage, "s3://interop/roost-raw", flytekit_python, "s3://interop/flytekit-raw", env, stored
        )
