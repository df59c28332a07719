"""The crash test: real server processes killed with SIGKILL at many points, restarted, and counted.

Each cycle (re)starts the victim process, with one failpoint armed (``ROOST_FAILPOINT``: the process exits at
once at that point, between two steps of finishing an attempt, around a save, after a claim...) or none (then
it is SIGKILLed after a random delay), launches a couple of executions of ``crash_flows.crashy`` (five task
runs each, three of them array indices), and waits for the victim to die. Executions of earlier cycles are
still in flight, so every crash lands on work of every stage. At the end the processes run unarmed until every
execution ended, then stop with SIGTERM. The assertions count: every execution SUCCEEDED with the right
output, every task run recorded exactly once (no task ran twice, none was lost), and no execution was left
claimed after SIGTERM.

Leases are ten minutes: the test can finish only if a restarted process resumes its own executions at once
(stable worker identity) instead of waiting out its predecessor's leases.

Variants: SQLite with one server; PostgreSQL with one server (both arm every point); PostgreSQL with a server
and a ``roost engine`` process sharing the work (the victim alternates; the attempt-completion points and a
claim). ``pytest -m crash_exhaustive`` runs a longer plan (every
point at several hit counts, more random kills); the seed of the random kills is printed and can be fixed with
``ROOST_CRASH_SEED``.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import crash_flows
import grpc
import pytest
import registry_flows
import yaml
from execution_support import DOMAIN, PROJECT, TERMINAL, literal_map, wait_until
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc
from sqlalchemy import create_engine, select

from roost_admin.db import models
from roost_core.failpoints import EXIT_CODE

TESTS = Path(__file__).parent
ROOST_ADMIN = str(Path(sys.executable).parent / "roost-admin")
VERSION = "v1"
LAUNCH_PLAN = "crash_flows.crashy"
Phase = core_execution_pb2.WorkflowExecution

POINTS = [
    ("attempt.ended", 3),
    ("engine.round.before-save", 12),
    ("engine.round.after-save", 20),
    ("engine.cleanup.before", 2),
    ("engine.cleanup.after", 4),
    ("engine.cleanup.after-inline", 2),
    ("engine.round.after-flush", 9),
    ("worker.claimed", 2),
    ("worker.before-release", 1),
]
"""Each failpoint once, at a hit count that lands mid-workload (the default plan)."""
RANDOM_KILLS = 3
TWO_PROCESS_POINTS = ("attempt.ended", "engine.cleanup.before", "engine.cleanup.after", "worker.claimed")
"""The points the two-process variant arms (the completion steps and a claim; the single-process variants
arm them all), with two random kills: each restart there costs a second process's worth of claims."""
EXHAUSTIVE_HITS = (1, 2, 3, 5, 8)
EXHAUSTIVE_RANDOM_KILLS = 12
EXECUTIONS_PER_CYCLE = 2
START_TIMEOUT = 60.0
CRASH_TIMEOUT = 60.0
FEED_INTERVAL = 4.0
"""Seconds between batches of new executions while an armed process has not reached its failpoint yet."""
FINISH_TIMEOUT = 180.0


@dataclass
class Process:
    """A running ``roost-admin start`` or ``roost-admin engine`` and what it printed."""

    role: str
    popen: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    grpc_endpoint: str = ""

    def log(self) -> str:
        return "".join(self.output[-60:])

    def alive(self) -> bool:
        return self.popen.poll() is None


class Deployment:
    """The processes of one crash test: a server, optionally a separate engine process, on one data folder."""

    def __init__(self, folder: Path, db_url: str, roles: tuple[str, ...]) -> None:
        self.folder = folder
        self.db_url = db_url
        self.roles = roles
        self.run_log = folder / "runs.log"
        self.temp = folder / "tmp"
        """The processes' temporary folder, where the attempts get theirs."""
        self.temp.mkdir()
        self.gate = folder / "gate"
        self.config = folder / "roost.yaml"
        # With two processes, each worker holds one execution at a time, so that both always have work
        # (the server's own RPCs would otherwise hand it every new execution first).
        capacity = {"executions_per_worker": 1} if len(roles) > 1 else {}
        self.config.write_text(
            yaml.safe_dump(
                {
                    "lease_seconds": 600,
                    "worker_poll_interval": 0.2,
                    **capacity,
                    "engine": {
                        "poll_interval": 1.0,
                        "task_environment": {
                            "env": {
                                "PYTHONPATH": str(TESTS),
                                "ROOST_CRASH_LOG": str(self.run_log),
                                "ROOST_CRASH_GATE": str(self.gate),
                            }
                        },
                        "handlers": {"local-process": {"work_dir": str(folder / "work")}},
                    },
                }
            )
        )
        self.processes: dict[str, Process] = {}
        self.history: list[str] = []
        self._began = time.monotonic()

    def note(self, event: str) -> None:
        """Add to the history printed when the test fails."""
        self.history.append(f"{time.monotonic() - self._began:7.1f}s {event}")

    def command(self, role: str) -> list[str]:
        common = ["--config", str(self.config), "--data-dir", str(self.folder / "roost")]
        if self.db_url:
            common += ["--db", self.db_url]
        if role == "server":
            workers = "1" if len(self.roles) > 1 else "2"
            return [
                ROOST_ADMIN,
                "start",
                *common,
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--workers",
                workers,
            ]
        return [ROOST_ADMIN, "engine", *common, "--workers", "2"]

    def start(self, role: str, failpoint: str = "") -> Process:
        """Start ``role`` (armed with ``failpoint`` if given); returns once it is ready or has died."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")} | {"TMPDIR": str(self.temp)}
        if failpoint:
            env["ROOST_FAILPOINT"] = failpoint
        popen = subprocess.Popen(
            self.command(role),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=self.folder,
        )
        process = Process(role, popen)
        ready = threading.Event()

        def read() -> None:
            assert popen.stdout is not None
            for line in popen.stdout:
                process.output.append(line)
                if line.startswith("Press Ctrl-C") or "Press Ctrl-C" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_TIMEOUT):
            popen.kill()
            pytest.fail(f"{role} did not come up in {START_TIMEOUT}s:\n{process.log()}", pytrace=False)
        found = re.search(r"gRPC:\s+(\S+)", "".join(process.output))
        process.grpc_endpoint = found.group(1) if found else ""
        self.processes[role] = process
        self.note(f"{role} started{' armed ' + failpoint if failpoint else ''} (pid {popen.pid})")
        return process

    def server(self) -> Process | None:
        """The server, if it runs and is serving."""
        found = self.processes.get("server")
        return found if found is not None and found.alive() and found.grpc_endpoint else None

    def kill(self, role: str) -> None:
        process = self.processes[role]
        if process.alive():
            process.popen.send_signal(signal.SIGKILL)
            self.note(f"{role} SIGKILLed")
        process.popen.wait(30)

    def wait_for_crash(self, role: str, failpoint: str, feed: Callable[[], None]) -> None:
        """The armed process must die at its failpoint (exit code EXIT_CODE), not otherwise; ``feed`` is
        called every few seconds until then, to give it work to pass the point with."""
        process = self.processes[role]
        deadline = time.monotonic() + CRASH_TIMEOUT
        while True:
            try:
                code = process.popen.wait(FEED_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"failpoint {failpoint} of the {role} did not fire in {CRASH_TIMEOUT}s", pytrace=False
                    )
                feed()
        assert code == EXIT_CODE, f"{role} armed with {failpoint} exited {code}:\n{process.log()}"
        self.note(f"{role} crashed at {failpoint}")

    def stop_all(self) -> None:
        """SIGTERM every live process, as a service manager stops it; each must exit cleanly."""
        for role, process in self.processes.items():
            if process.alive():
                process.popen.send_signal(signal.SIGTERM)
                code = process.popen.wait(60)
                assert code == 0, f"{role} exited {code} on SIGTERM:\n{process.log()}"

    def kill_all(self) -> None:
        for process in self.processes.values():
            if process.alive():
                process.popen.kill()
                process.popen.wait(30)


def stub(process: Process) -> tuple[grpc.Channel, admin_pb2_grpc.AdminServiceStub]:
    channel = grpc.insecure_channel(process.grpc_endpoint)
    return channel, admin_pb2_grpc.AdminServiceStub(channel)


def launch_plan() -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name=LAUNCH_PLAN,
        version=VERSION,
    )


class Workload:
    """The executions the test asked for, and which of them the server confirmed it created."""

    def __init__(self) -> None:
        self.inputs: dict[str, int] = {}
        self.confirmed: set[str] = set()

    def launch(self, process: Process, cycle: int, count: int = EXECUTIONS_PER_CYCLE) -> None:
        """Launch executions; a server dying under the call leaves them unconfirmed (created or not)."""
        channel, admin = stub(process)
        with channel:
            for _ in range(count):
                i = sum(1 for name in self.inputs if name.startswith(f"crash{cycle:02d}n"))
                name = f"crash{cycle:02d}n{i}"
                x = cycle * 100 + i
                self.inputs[name] = x
                request = execution_pb2.ExecutionCreateRequest(
                    project=PROJECT,
                    domain=DOMAIN,
                    name=name,
                    spec=execution_pb2.ExecutionSpec(launch_plan=launch_plan()),
                    inputs=literal_map(x=x),
                )
                try:
                    admin.CreateExecution(request, timeout=30)
                except grpc.RpcError:
                    return
                self.confirmed.add(name)


def register(process: Process) -> None:
    channel, admin = stub(process)
    with channel:
        registry_flows.register(admin, registry_flows.serialize(crash_flows.crashy, version=VERSION))


def plan(exhaustive: bool, roles: tuple[str, ...], rng: random.Random) -> list[str]:
    """The kills, in order: a failpoint spec ``name:hit``, or ``""`` for a SIGKILL at a random moment."""
    if exhaustive:
        kills = [f"{name}:{hit}" for name, _ in POINTS for hit in EXHAUSTIVE_HITS]
        kills += [""] * EXHAUSTIVE_RANDOM_KILLS
    elif len(roles) > 1:
        kills = [f"{name}:{hit}" for name, hit in POINTS if name in TWO_PROCESS_POINTS] + [""] * 2
    else:
        kills = [f"{name}:{hit}" for name, hit in POINTS] + [""] * RANDOM_KILLS
    rng.shuffle(kills)
    kills.remove("")
    return ["", *kills]  # the first victim is the server that registered the workflow, killed at random


def run_crash_test(folder: Path, db_url: str, roles: tuple[str, ...], exhaustive: bool) -> None:
    seed = int(os.environ.get("ROOST_CRASH_SEED") or random.randrange(1 << 30))
    print(f"crash test seed: {seed} (ROOST_CRASH_SEED={seed} repeats the plan)")
    rng = random.Random(seed)
    deployment = Deployment(folder, db_url, roles)
    workload = Workload()
    try:
        register(deployment.start("server"))
        for cycle, kill in enumerate(plan(exhaustive, roles, rng)):
            victim = roles[cycle % len(roles)]
            running = deployment.processes.get(victim)
            if kill and running is not None and running.alive():
                deployment.kill(victim)  # to restart it armed
            for role in roles:
                current = deployment.processes.get(role)
                if current is None or not current.alive():
                    deployment.start(role, kill if role == victim else "")

            def feed(cycle: int = cycle) -> None:
                server = deployment.server()
                if server is not None:
                    workload.launch(server, cycle, EXECUTIONS_PER_CYCLE + len(roles) - 1)

            feed()
            if kill:
                deployment.wait_for_crash(victim, kill, feed)
            else:
                time.sleep(rng.uniform(0.3, 3.0))
                deployment.kill(victim)
        for role in roles:
            current = deployment.processes.get(role)
            if current is None or not current.alive():
                deployment.start(role)
        server = deployment.server()
        assert server is not None
        check_every_execution_succeeded_once(deployment, server, workload)
        deployment.stop_all()
        check_nothing_left_claimed(deployment)
        check_nothing_left_behind(deployment)
        print("\n".join(deployment.history))
    except BaseException:
        print("\n".join(deployment.history))
        for process in deployment.processes.values():
            print(f"--- {process.role} (pid {process.popen.pid}) ---\n{process.log()}")
        raise
    finally:
        deployment.kill_all()


def get(admin: admin_pb2_grpc.AdminServiceStub, name: str) -> execution_pb2.Execution | None:
    """The execution called ``name``, or None if there is none."""
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
    try:
        return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident))
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None


def check_every_execution_succeeded_once(deployment: Deployment, server: Process, workload: Workload) -> None:
    channel, admin = stub(server)
    with channel:
        existing = {name: x for name, x in workload.inputs.items() if get(admin, name) is not None}
        lost = workload.confirmed - set(existing)
        assert not lost, f"executions {sorted(lost)} were created, then lost"

        def all_ended() -> bool:
            return all(get(admin, name).closure.phase in TERMINAL for name in existing)

        wait_until(all_ended, timeout=FINISH_TIMEOUT, what="every execution ending")
        for name, x in existing.items():
            execution = get(admin, name)
            assert execution is not None
            closure = execution.closure
            assert closure.phase == Phase.SUCCEEDED, (name, Phase.Name(closure.phase), closure.error)
            data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=execution.id))
            assert data.full_outputs.literals["o0"].scalar.primitive.integer == crash_flows.expected(x), name
    assert len(existing) >= len(workload.confirmed) > 0
    runs = Counter()
    attempts = Counter()
    for line in deployment.run_log.read_text().splitlines():
        execution, task, index, attempt = line.split()
        runs[(execution, task, index)] += 1
        attempts[attempt] += 1
    expected = {(name, task, index) for name in existing for task, index in crash_flows.RUNS}
    twice = sorted(key for key, count in runs.items() if count > 1)
    lost = sorted(expected - set(runs))
    unknown = sorted(set(runs) - expected)
    print(f"{len(existing)} executions, {sum(runs.values())} task runs, attempts {dict(attempts)}")
    assert (twice, lost, unknown) == ([], [], [])


def check_nothing_left_claimed(deployment: Deployment) -> None:
    url = deployment.db_url or f"sqlite:///{deployment.folder / 'roost' / 'roost.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            claimed = connection.execute(
                select(models.Execution.name, models.Execution.claimed_by).where(
                    models.Execution.claimed_by != ""
                )
            ).all()
    finally:
        engine.dispose()
    assert claimed == []


def check_nothing_left_behind(deployment: Deployment) -> None:
    """Every attempt was finalized, whatever the kills: no attempt's folder or temporary folder is left (the
    temporary folders of killed servers' fork servers are left to later sweeps)."""
    folders = [entry.name for entry in (deployment.folder / "work").iterdir()]
    assert sorted(set(folders) - {"trash", "warm-pools"}) == []
    temporary = [
        entry.name
        for entry in deployment.temp.iterdir()
        if not entry.name.startswith(f"roost-{os.getuid()}-warm-")
    ]
    assert temporary == []


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("database_url", "roles"),
    [
        pytest.param("sqlite", ("server",), id="sqlite"),
        pytest.param("postgres", ("server",), marks=pytest.mark.postgres, id="postgres"),
        pytest.param("postgres", ("server", "engine"), marks=pytest.mark.postgres, id="postgres-two-engines"),
    ],
    indirect=["database_url"],
)
def test_no_task_runs_twice_or_is_lost_whatever_kills_the_server(tmp_path, database_url, roles):
    run_crash_test(
        tmp_path, "" if database_url.startswith("sqlite") else database_url, roles, exhaustive=False
    )


@pytest.mark.crash_exhaustive
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    ("database_url", "roles"),
    [
        pytest.param("sqlite", ("server",), id="sqlite"),
        pytest.param("postgres", ("server", "engine"), marks=pytest.mark.postgres, id="postgres-two-engines"),
    ],
    indirect=["database_url"],
)
def test_exhaustive_crash_plan(tmp_path, database_url, roles):
    run_crash_test(
        tmp_path, "" if database_url.startswith("sqlite") else database_url, roles, exhaustive=True
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_stopping_the_server_hands_back_its_executions_and_a_restart_resumes_them(tmp_path, signum):
    """SIGTERM (a service manager) or Ctrl-C releases every claim at once (due now, for whoever comes next)."""
    deployment = Deployment(tmp_path, "", ("server",))
    workload = Workload()
    try:
        server = deployment.start("server")
        register(server)
        # Held in flight by the gate until the server has stopped: warm tasks would end them first.
        deployment.gate.touch()
        workload.launch(server, 0)
        wait_until(lambda: deployment.run_log.exists(), what="a task's start")
        server.popen.send_signal(signum)
        assert server.popen.wait(60) == 0, server.log()
        url = f"sqlite:///{tmp_path / 'roost' / 'roost.db'}"
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(
                        models.Execution.claimed_by, models.Execution.lease_until, models.Execution.wake_at
                    )
                ).all()
        finally:
            engine.dispose()
        # Released, and due now: the next worker to look (here, the restarted server) takes them at once.
        assert [(claimed, lease, due is not None) for claimed, lease, due in rows] == [
            ("", None, True)
        ] * EXECUTIONS_PER_CYCLE
        deployment.gate.unlink()
        check_every_execution_succeeded_once(deployment, deployment.start("server"), workload)
        deployment.stop_all()
    finally:
        deployment.kill_all()
