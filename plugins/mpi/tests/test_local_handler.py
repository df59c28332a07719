"""The ``mpi-local`` handler runs every rank under a real ``mpirun`` (Open MPI from pip): rank 0's outputs come
back; a rank that fails ends the attempt within seconds, naming the rank; abort leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import mpi_tasks
import pytest
from flyteidl.core import literals_pb2
from helpers import context, integers, mpi_handler, template

from roost_core.handler import TaskPhase
from roost_core.testing.driver import Driver, wait_until


def test_every_rank_runs_and_rank_zero_answers(tmp_path: Path) -> None:
    with mpi_handler(tmp_path) as handler:
        ctx = context(tmp_path, mpi_tasks.allreduce, {"n": 10})
        started = time.monotonic()
        with Driver(handler, ctx) as driver:
            done = driver.until_done()
        elapsed = time.monotonic() - started
        assert done.phase is TaskPhase.SUCCESS, done
        outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
        assert integers(outputs.literals["o0"]) == [0 + 1 + 2 + 3 + 4 * 10, 4, 0]
        print(f"4 ranks in {elapsed:.1f} s")


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("raise", "rank 2 of 4 failed: "),
        ("exit", "rank 2 of 4 exited with code 3; last lines of its stderr:\nrank 2 exits"),
        ("segv", "rank 2 of 4 was killed by signal SIGSEGV (11)"),
    ],
)
def test_a_crashing_rank_ends_the_attempt_within_seconds_naming_it(
    tmp_path: Path, how: str, says: str
) -> None:
    with mpi_handler(tmp_path) as handler:
        ctx = context(tmp_path, mpi_tasks.crash, {"rank": 2, "how": how})
        driver = Driver(handler, ctx)
        first = driver.round()
        started = time.monotonic()
        done = driver.until_done()
        assert (
            time.monotonic() - started < 30
        )  # seconds, not a hang (the load of a shared CI machine included)
        assert first.phase is TaskPhase.RUNNING
        # A user exception is not retryable (as roost-execute says); a crash is, as a non-zero exit is.
        assert done.phase is (TaskPhase.PERMANENT_FAILURE if how == "raise" else TaskPhase.RETRYABLE_FAILURE)
        assert done.error is not None
        assert done.error.message.startswith("task 'mpi_tasks.crash': ")
        assert says in done.error.message, done.error.message
        if how == "raise":
            assert "RuntimeError: rank 2 gives up" in done.error.message
        driver.finalize()
        assert not list((tmp_path / "work").glob("mpi-ranks/*"))


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (whatever process group or session it put itself in)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_abort_kills_every_process_of_the_gang(tmp_path: Path) -> None:
    with mpi_handler(tmp_path) as handler:
        ctx = context(tmp_path, mpi_tasks.sleeper, {"seconds": 600})
        driver = Driver(handler, ctx)
        running = driver.round()
        assert running.phase is TaskPhase.RUNNING
        ranks = wait_until(
            lambda: (
                [
                    json.loads(p.read_text())["pid"]
                    for p in (tmp_path / "work").glob("mpi-ranks/*/*/rank.json")
                ]
                if len(list((tmp_path / "work").glob("mpi-ranks/*/*/rank.json"))) == 4
                else None
            ),
            "4 ranks started",
        )
        supervisor = int(driver.ctx.state["pid"])
        gang = descendants(supervisor)
        # the launcher, mpirun, and per rank its wrapper and the task (mpirun's own helpers may add more)
        assert set(ranks) <= gang and len(gang) >= 2 + 2 * 4
        started = time.monotonic()
        handler.abort(driver.ctx)
        wait_until(lambda: not any(alive(pid) for pid in gang), "every process of the gang gone", timeout=30)
        assert time.monotonic() - started < 30
        done = driver.until_done()
        assert done.phase.is_terminal and done.phase is not TaskPhase.SUCCESS
        driver.finalize()


def test_a_missing_mpirun_says_what_to_do(tmp_path: Path) -> None:
    with (
        mpi_handler(tmp_path, mpirun="no-such-mpirun") as handler,
        Driver(handler, context(tmp_path, mpi_tasks.allreduce, {"n": 1})) as driver,
    ):
        done = driver.until_done()
        assert done.phase is TaskPhase.PERMANENT_FAILURE
        assert done.error is not None
        assert done.error.message == (
            "task 'mpi_tasks.allreduce': cannot start the MPI launcher 'no-such-mpirun': it is not on the task's "
            "PATH; install roost-mpi[local] (Open MPI and mpi4py) in the task's environment, or set "
            "engine.handlers.mpi-local.mpirun"
        )


def test_a_task_without_mpi_custom_is_refused(tmp_path: Path) -> None:
    bare = template(mpi_tasks.allreduce)
    bare.ClearField("custom")
    with mpi_handler(tmp_path) as handler:
        done = Driver(handler, context(tmp_path, bare, {"n": 1})).until_done()
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error is not None
    assert done.error.message == (
        "task 'mpi_tasks.allreduce': its custom holds no DistributedMPITrainingTask (an MPI task needs workerReplicas)"
    )
    bad = template(mpi_tasks.allreduce)
    bad.custom["workerReplicas"]["replicas"] = 0
    with mpi_handler(tmp_path) as handler:
        done = Driver(handler, context(tmp_path, bad, {"n": 1})).until_done()
    assert done.error is not None
    assert (
        done.error.message
        == "task 'mpi_tasks.allreduce': custom.workerReplicas.replicas must be at least 1, not 0"
    )


@pytest.mark.parametrize(
    ("environment", "expected"), [({}, "self,sm"), ({"OMPI_MCA_btl": "self,tcp"}, "self,tcp")]
)
def test_ranks_get_one_machine_transports_unless_the_environment_names_some(
    tmp_path: Path, environment: dict[str, str], expected: str
) -> None:
    # Open MPI's default transports include libfabric's, whose probing costs every rank about a second.
    with mpi_handler(tmp_path, task_environment={"env": environment}) as handler:
        ctx = context(tmp_path, mpi_tasks.transports, {})
        with Driver(handler, ctx) as driver:
            done = driver.until_done()
        assert done.phase is TaskPhase.SUCCESS, done
        outputs = ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)
        assert outputs.literals["o0"].scalar.primitive.string_value == expected


def test_only_rank_zero_writes_outputs(tmp_path: Path) -> None:
    with mpi_handler(tmp_path) as handler:
        ctx = context(tmp_path, mpi_tasks.world, {"n": 1})
        with Driver(handler, ctx) as driver:
            done = driver.until_done()
            assert done.phase is TaskPhase.SUCCESS, done
            written = sorted(
                int(p.parent.parent.name) for p in (tmp_path / "work").glob("mpi-ranks/*/*/out/outputs.pb")
            )
        assert written == [0]


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_roost_ranks_are_forked_from_one_zygote_and_die_with_their_wrapper(tmp_path: Path) -> None:
    # Each rank of a Roost task is forked from one process that imported the task runner once (a fifth of a
    # second of CPU less per rank); it still dies with the wrapper mpirun started for it.
    with mpi_handler(tmp_path) as handler:
        ctx = context(tmp_path, mpi_tasks.sleeper, {"seconds": 600})
        driver = Driver(handler, ctx)
        driver.round()
        records = wait_until(
            lambda: (
                found
                if len(found := list((tmp_path / "work").glob("mpi-ranks/*/*/rank.json"))) == 4
                else None
            ),
            "4 ranks started",
        )
        ranks = {
            int(json.loads(p.read_text())["rank"]): int(json.loads(p.read_text())["pid"]) for p in records
        }
        zygotes = {parent_of(pid) for pid in ranks.values()}
        assert len(zygotes) == 1
        assert "roost_mpi._zygote" in command_line(zygotes.pop())
        wrapper = next(
            pid
            for pid in descendants(int(driver.ctx.state["pid"]))
            if "_rank.py" in command_line(pid)
            and b"OMPI_COMM_WORLD_RANK=1\0" in Path(f"/proc/{pid}/environ").read_bytes()
        )
        os.kill(wrapper, signal.SIGKILL)
        wait_until(lambda: not alive(ranks[1]), "rank 1 to die with its wrapper", timeout=30)
        handler.abort(driver.ctx)
        wait_until(lambda: not any(alive(pid) for pid in ranks.values()), "every rank gone", timeout=30)
        driver.until_done()
        driver.finalize()
