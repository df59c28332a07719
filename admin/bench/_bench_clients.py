"""A CreateExecution client in a process of its own, as a flytekit client is: it imports only gRPC and
flyteidl (not the admin, SQLAlchemy or roost), so sixteen of them start quickly and none shares the admin's
interpreter lock.

    python _bench_clients.py PORT CALLS OPTIONS_JSON

It connects and makes one call (so its channel is up before the clock starts), prints ``ready``, waits for a
line on its standard input, then makes ``CALLS`` calls one after another and prints one JSON line: how many
succeeded, the errors, the monotonic times it began and ended (comparable between processes on Linux), and the
CPU seconds its calls took (all its threads, gRPC's own included).
:mod:`_bench_support` builds its requests with :func:`create_request` too.
"""

from __future__ import annotations

import json
import sys
import time

import grpc
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc

PROJECT = "flytesnacks"
DOMAIN = "development"
VERSION = "v1"


def create_request(launch_plan: str, x: int = 1) -> execution_pb2.ExecutionCreateRequest:
    """A CreateExecution of the registered launch plan ``launch_plan`` with input ``x``."""
    inputs = literals_pb2.LiteralMap()
    inputs.literals["x"].scalar.primitive.integer = x
    return execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        spec=execution_pb2.ExecutionSpec(
            launch_plan=identifier_pb2.Identifier(
                resource_type=identifier_pb2.LAUNCH_PLAN,
                project=PROJECT,
                domain=DOMAIN,
                name=launch_plan,
                version=VERSION,
            )
        ),
        inputs=inputs,
    )


def main() -> None:
    """One client: connect, say ready, wait for the start, call, report."""
    port, calls, options = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    launch_plan = sys.argv[4]
    # A local subchannel pool: each process has one channel anyway, but the option keeps it like the
    # in-process clients' channels.
    options = [tuple(option) for option in options] + [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        stub.CreateExecution(create_request(launch_plan))
        print("ready", flush=True)
        sys.stdin.readline()
        done = 0
        errors: list[str] = []
        began, cpu = time.monotonic(), time.process_time()
        for _ in range(calls):
            try:
                stub.CreateExecution(create_request(launch_plan))
                done += 1
            except grpc.RpcError as exc:  # reported: a failed call must not pass as a fast one
                errors.append(f"{exc.code()}: {exc.details()}")
        ended, cpu = time.monotonic(), time.process_time() - cpu
    print(
        json.dumps({"done": done, "errors": errors, "began": began, "ended": ended, "cpu": cpu}), flush=True
    )


if __name__ == "__main__":
    main()
