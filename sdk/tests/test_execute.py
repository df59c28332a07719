"""roost-execute: the container contract, run as a real process on file:// and s3://, and under the engine's
local-process handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flyteidl.core import dynamic_job_pb2, errors_pb2, literals_pb2

from roost.serialize import SerializationSettings

TESTS = Path(__file__).parent
CHECKPOINTS = "flows.checkpoints"


def literal_map(**ints: int) -> literals_pb2.LiteralMap:
    result = literals_pb2.LiteralMap()
    for name, value in ints.items():
        result.literals[name].scalar.primitive.integer = value
    return result


def execute(
    inputs_uri: str,
    prefix: str,
    name: str,
    env: dict[str, str] | None = None,
    *,
    checkpoints: tuple[str, str] | None = None,
    module: str = "flows.simple",
    raw: str | None = None,
    code: str = "from roost.execute import main; main()",
) -> subprocess.CompletedProcess:
    checkpoint, previous = checkpoints or (f"{prefix}/cp", "")
    command = [
        sys.executable,
        "-c",
        code,
        "--inputs",
        inputs_uri,
        "--output-prefix",
        prefix,
        "--raw-output-data-prefix",
        raw or f"{prefix}/raw",
        "--checkpoint-path",
        checkpoint,
        "--prev-checkpoint",
        previous,
        "--task-module",
        module,
        "--task-name",
        name,
    ]
    python_path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, "PYTHONPATH": python_path, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=120, check=False)


WARMED_ATTEMPT = """
import gettext
import sys
import roost.execute
roost.execute.__roost_warm_up__()
{warm_task}
before = set(sys.modules)
lookups = []
translate = gettext.dgettext
gettext.dgettext = lambda *args: lookups.append(args) or translate(*args)
try:
    roost.execute.main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(name for name in set(sys.modules) - before))
print(lookups)
"""


@pytest.mark.parametrize(
    ("warm_task", "imported"),
    [
        ("", "['flows', 'flows.simple']"),
        # What a warm batch child (a map's indices) does before forking them.
        ("roost.execute.__roost_warm_task__(sys.argv)", "[]"),
    ],
)
def test_after_the_warm_up_an_attempt_imports_nothing_but_the_users_module(tmp_path, warm_task, imported):
    # What a warm interpreter's attempts still import is paid by every attempt: it should be nothing. Nor should
    # they look up translations (click's help option, built on first use, which the warm-up does).
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    code = WARMED_ATTEMPT.format(warm_task=warm_task)
    result = execute((tmp_path / "inputs.pb").as_uri(), (tmp_path / "out").as_uri(), "scale", code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [imported, "[]"], result.stdout
    assert (tmp_path / "out" / "outputs.pb").exists()


@pytest.mark.parametrize(("name", "made"), [("scale", False), ("scratch", True)])
def test_an_attempts_working_directory_is_made_only_when_used_and_removed_after(tmp_path, name, made):
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    module = "flows.files" if name == "scratch" else "flows.simple"
    result = execute(
        (tmp_path / "inputs.pb").as_uri(),
        (tmp_path / "out").as_uri(),
        name,
        {"TMPDIR": str(temporary)},
        module=module,
        code=TRACED_ATTEMPT,
    )
    assert result.returncode == 0, result.stderr
    assert ("mkdir" in result.stdout) is made, result.stdout
    if made:
        outputs = literals_pb2.LiteralMap()
        outputs.ParseFromString((tmp_path / "out" / "outputs.pb").read_bytes())
        assert outputs.literals["o0"].scalar.primitive.string_value.startswith(f"{temporary}/roost-execute-")
    assert list(temporary.iterdir()) == []


TRACED_ATTEMPT = """
import os
import sys
import tempfile
import roost.execute
tempfile.gettempdir()
made = []
real_mkdir = os.mkdir
def mkdir(path, *args, **kwargs):
    if "roost-execute-" in str(path):
        made.append("mkdir")
    return real_mkdir(path, *args, **kwargs)
os.mkdir = mkdir
try:
    roost.execute.main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(made)
"""


def test_outputs_on_file_storage(tmp_path):
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    result = execute((tmp_path / "inputs.pb").as_uri(), (tmp_path / "out").as_uri(), "scale")
    assert result.returncode == 0, result.stderr
    outputs = literals_pb2.LiteralMap()
    outputs.ParseFromString((tmp_path / "out" / "outputs.pb").read_bytes())
    assert outputs.literals["o0"].scalar.primitive.float_value == 6.0


@pytest.mark.parametrize("given", ["path", "uri"])
def test_files_go_under_the_local_raw_output_prefix_given_as_a_path_or_uri(tmp_path, given):
    # The engine names the local store's raw output prefix by its plain path (as flytekit records local data).
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    raw = tmp_path / "raw"
    result = execute(
        (tmp_path / "inputs.pb").as_uri(),
        (tmp_path / "out").as_uri(),
        "note",
        module="flows.files",
        raw=str(raw) if given == "path" else raw.as_uri(),
    )
    assert result.returncode == 0, result.stderr
    outputs = literals_pb2.LiteralMap()
    outputs.ParseFromString((tmp_path / "out" / "outputs.pb").read_bytes())
    uri = outputs.literals["o0"].scalar.blob.uri
    assert uri.startswith(f"{raw}/"), uri
    assert Path(uri).read_text() == "4"


def test_a_failure_is_an_error_document_and_exit_zero_unless_asked(tmp_path):
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    result = execute((tmp_path / "inputs.pb").as_uri(), (tmp_path / "out").as_uri(), "explode")
    assert result.returncode == 0
    document = errors_pb2.ErrorDocument()
    document.ParseFromString((tmp_path / "out" / "error.pb").read_bytes())
    assert document.error.code == "USER:ValueError"
    assert document.error.message.startswith("task 'explode' raised ValueError: cannot take 4")
    assert document.error.origin == 1  # USER
    assert document.error.kind == errors_pb2.ContainerError.NON_RECOVERABLE
    strict = execute(
        (tmp_path / "inputs.pb").as_uri(),
        (tmp_path / "out2").as_uri(),
        "explode",
        {"ROOST_FAIL_ON_ERROR": "true"},
    )
    assert strict.returncode == 1


def test_a_retry_reads_the_checkpoint_its_previous_attempt_wrote(tmp_path):
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    inputs = (tmp_path / "inputs.pb").as_uri()
    first, second = (tmp_path / "0").as_uri(), (tmp_path / "1").as_uri()
    # A first attempt's previous checkpoint renders as "" (two quotes, as Flyte renders it): there is none.
    result = execute(inputs, first, "resume", checkpoints=(f"{first}/cp", '""'), module=CHECKPOINTS)
    assert result.returncode == 0, result.stderr
    assert _string_output(tmp_path / "0") == "nothing"
    result = execute(
        inputs, second, "resume", checkpoints=(f"{second}/cp", f"{first}/cp"), module=CHECKPOINTS
    )
    assert result.returncode == 0, result.stderr
    assert _string_output(tmp_path / "1") == "4"


def _string_output(folder: Path) -> str:
    outputs = literals_pb2.LiteralMap()
    outputs.ParseFromString((folder / "outputs.pb").read_bytes())
    assert outputs.literals, (folder / "error.pb").read_bytes() if (folder / "error.pb").exists() else ""
    return str(outputs.literals["o0"].scalar.primitive.string_value)


def test_a_recoverable_error_is_a_recoverable_error_document(tmp_path):
    (tmp_path / "inputs.pb").write_bytes(literal_map(x=4).SerializeToString())
    result = execute((tmp_path / "inputs.pb").as_uri(), (tmp_path / "out").as_uri(), "stumble")
    assert result.returncode == 0, result.stderr
    document = errors_pb2.ErrorDocument()
    document.ParseFromString((tmp_path / "out" / "error.pb").read_bytes())
    assert document.error.code == "USER:Recoverable"
    assert document.error.kind == errors_pb2.ContainerError.RECOVERABLE
    assert document.error.message.startswith("task 'stumble' raised RecoverableError: not now (4)")


def test_an_unknown_task_is_a_user_error(tmp_path):
    (tmp_path / "inputs.pb").write_bytes(literal_map().SerializeToString())
    execute((tmp_path / "inputs.pb").as_uri(), (tmp_path / "out").as_uri(), "nope")
    document = errors_pb2.ErrorDocument()
    document.ParseFromString((tmp_path / "out" / "error.pb").read_bytes())
    assert document.error.message.startswith("cannot load task flows.simple.nope: AttributeError")


def test_a_dynamic_task_writes_futures(tmp_path):
    (tmp_path / "inputs.pb").write_bytes(literal_map(n=3).SerializeToString())
    settings = SerializationSettings(project="p", domain="d", version="v9", image="img:1")
    result = execute(
        (tmp_path / "inputs.pb").as_uri(),
        (tmp_path / "out").as_uri(),
        "fan",
        {"ROOST_SERIALIZATION": settings.to_json()},
    )
    assert result.returncode == 0, result.stderr
    spec = dynamic_job_pb2.DynamicJobSpec()
    spec.ParseFromString((tmp_path / "out" / "futures.pb").read_bytes())
    assert [n.id for n in spec.nodes] == ["dn0", "dn1", "dn2"]
    assert spec.min_successes == 3
    assert spec.tasks[0].id.version == "v9" and spec.tasks[0].container.image == "img:1"
    assert spec.outputs[0].binding.collection.bindings[2].promise.node_id == "dn2"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    from roost_core.testing.seaweed import SeaweedS3

    with SeaweedS3(buckets=["roost"]) as server:
        yield server


def test_outputs_on_s3(s3, tmp_path):
    from roost_core.storage import Storage
    from roost_core.storage.s3 import S3Store

    storage = Storage({"s3": S3Store(**s3.store_config())})
    storage.write_proto("s3://roost/run/inputs.pb", literal_map(x=2))
    env = {
        "ROOST_S3_ENDPOINT": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
    }
    result = execute("s3://roost/run/inputs.pb", "s3://roost/run/out", "scale", env)
    assert result.returncode == 0, result.stderr
    outputs = storage.read_proto("s3://roost/run/out/outputs.pb", literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.float_value == 3.0


def test_the_engine_runs_sdk_tasks_as_containers_through_roost_execute(tmp_path, monkeypatch):
    """The remote path, locally: python-task containers run by the local-process handler."""
    from flows import simple
    from flyteidl.core import identifier_pb2

    from roost.serialize import Serializer
    from roost_core.engine import Engine, EngineConfig
    from roost_core.engine.phases import WorkflowPhase
    from roost_core.plugins import EnginePlugins
    from roost_core.storage import Storage
    from roost_core.storage.file import FileStore

    closure = Serializer(SerializationSettings(project="p", domain="d", version="v1")).closure(simple.fan_wf)
    engine = Engine(
        Storage({"file": FileStore()}),
        plugins=EnginePlugins(entry_points=False),
        config=EngineConfig(
            shared={"task_environment": {"env": {"PYTHONPATH": str(TESTS)}}}, poll_interval=0.1
        ),
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["n"].scalar.primitive.integer = 2
    run = engine.execute(
        identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="c1"),
        closure,
        inputs,
        data_prefix=(tmp_path / "data").as_uri(),
        timeout=120,
    )
    assert run.state.phase is WorkflowPhase.SUCCEEDED, run.state.error
    values = engine.outputs(run).literals["o0"].collection.literals
    assert [v.scalar.primitive.float_value for v in values] == [0.0, 1.5]
