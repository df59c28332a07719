"""A task program for the local-process handler in engine tests, speaking the container contract.

    python container_task.py MODE {{.input}} {{.outputPrefix}}

MODE ``double`` writes x * 2 (and appends a line to ``runs`` beside the attempt folders, so tests can
count how often it ran); ``sleep`` sleeps until killed; ``dynamic`` writes a futures.pb that runs
the ``echo`` task ``x`` times in a chain; ``map`` (a map's index) appends ``x``, its pid, its parent's and its grandparent's to
the file ``$MAP_RUNS``, then kills itself when x is 13, ignores SIGTERM when ``$MAP_IGNORE_TERM`` is set, waits for the file ``$MAP_GO`` when
x is 7, starts a process in a session of its own that sleeps on (its pid appended to the file ``$MAP_ESCAPED``)
when that is set, and writes x * 2 (when x is 21, an outputs.pb that does not parse).

Its ``__roost_warm_task__`` (what a warm batch child calls before its first attempt) appends its pid and the
attempt's ``MAP_RUNS`` to the file ``$WARM_TASK_LOG``, then raises when ``$WARM_TASK_MODE`` is ``raise`` and hangs
when it is ``hang``; otherwise it returns what the batch child calls when its batch ended, which appends ``ended``
and the pid calling it to the same file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flyteidl.core import (
    dynamic_job_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)


def path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def __roost_warm_task__(argv: list[str]) -> Callable[[], None]:
    log = os.environ["WARM_TASK_LOG"]
    with open(log, "a") as file:
        file.write(f"{os.getpid()} {os.environ.get('MAP_RUNS')} {argv[1]}\n")
    mode = os.environ.get("WARM_TASK_MODE")
    if mode == "raise":
        raise RuntimeError("warm task failed")
    if mode == "hang":
        time.sleep(3600)

    def batch_ended() -> None:
        with open(log, "a") as file:
            file.write(f"ended {os.getpid()}\n")

    return batch_ended


def main() -> None:
    mode, inputs_uri, prefix = sys.argv[1:4]
    inputs = literals_pb2.LiteralMap()
    inputs.ParseFromString(path(inputs_uri).read_bytes())
    x = inputs.literals["x"].scalar.primitive.integer
    out = path(prefix)
    out.mkdir(parents=True, exist_ok=True)
    if mode == "sleep":
        time.sleep(3600)
    elif mode == "double":
        with open(out.parent / "runs", "a") as runs:
            runs.write(f"{out.name}\n")
        result = literals_pb2.LiteralMap()
        result.literals["x"].scalar.primitive.integer = 2 * x
        (out / "outputs.pb").write_bytes(result.SerializeToString())
    elif mode == "map":
        # The node's whole list comes in; the index is named by the variable the array contract names.
        index = int(os.environ[os.environ["BATCH_JOB_ARRAY_INDEX_VAR_NAME"]])
        x = inputs.literals["x"].collection.literals[index].scalar.primitive.integer
        stat = Path(f"/proc/{os.getppid()}/stat").read_text()
        with open(os.environ["MAP_RUNS"], "a") as runs:
            runs.write(f"{x} {os.getpid()} {os.getppid()} {stat.rpartition(')')[2].split()[1]}\n")
        if os.environ.get("MAP_ESCAPED"):  # a process that leaves the index's process group, sleeping on
            sleeper = [sys.executable, "-c", "import time; time.sleep(3600)"]
            escaped = subprocess.Popen(sleeper, start_new_session=True)
            with open(os.environ["MAP_ESCAPED"], "a") as pids:
                pids.write(f"{escaped.pid}\n")
        if x == 13:
            os.kill(os.getpid(), signal.SIGKILL)
        if os.environ.get("MAP_IGNORE_TERM"):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while x == 7 and not os.path.exists(os.environ["MAP_GO"]):
            time.sleep(0.01)
        if x == 21:
            (out / "outputs.pb").write_bytes(b"\xff not a literal map")
            return
        result = literals_pb2.LiteralMap()
        result.literals["x"].scalar.primitive.integer = 2 * x
        (out / "outputs.pb").write_bytes(result.SerializeToString())
    elif mode == "dynamic":
        integer = types_pb2.LiteralType(simple=types_pb2.INTEGER)
        variables = interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=integer)})
        echo = tasks_pb2.TaskTemplate(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK,
                project="p",
                domain="d",
                name="echo_in_dynamic",
                version="v1",
            ),
            type="echo",
            interface=interface_pb2.TypedInterface(inputs=variables, outputs=variables),
        )
        nodes = []
        for i in range(x):
            source = (
                literals_pb2.BindingData(scalar=inputs.literals["x"].scalar)
                if i == 0
                else literals_pb2.BindingData(
                    promise=types_pb2.OutputReference(node_id=f"dn{i - 1}", var="x")
                )
            )
            nodes.append(
                workflow_pb2.Node(
                    id=f"dn{i}",
                    inputs=[literals_pb2.Binding(var="x", binding=source)],
                    task_node=workflow_pb2.TaskNode(reference_id=echo.id),
                )
            )
        spec = dynamic_job_pb2.DynamicJobSpec(
            nodes=nodes,
            min_successes=x,
            tasks=[echo],
            outputs=[
                literals_pb2.Binding(
                    var="x",
                    binding=literals_pb2.BindingData(
                        promise=types_pb2.OutputReference(node_id=f"dn{x - 1}", var="x")
                    ),
                )
            ],
        )
        (out / "futures.pb").write_bytes(spec.SerializeToString())


if __name__ == "__main__":
    main()
