"""A stand-in for a task's container program, run by the local-process handler tests.

    python task_program.py MODE INPUTS_URI OUTPUT_PREFIX [ARG ...]

It speaks the container contract with flyteidl directly: reads ``inputs.pb``, writes ``outputs.pb``,
``error.pb`` or ``futures.pb`` under the output prefix (``file://`` URIs only).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flyteidl.core import dynamic_job_pb2, errors_pb2, execution_pb2, literals_pb2


def path_of(uri: str) -> Path:
    assert uri.startswith("file://"), uri
    return Path(uri[len("file://") :])


def string(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value))
    )


def write(prefix: str, name: str, message: object) -> None:
    path = path_of(prefix) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(message.SerializeToString())  # type: ignore[attr-defined]


def write_outputs(prefix: str, literals: dict[str, literals_pb2.Literal]) -> None:
    write(prefix, "outputs.pb", literals_pb2.LiteralMap(literals=literals))


LEAKS: list[object] = []
"""What attempts leave in this module's globals (a warm server imported it before forking them)."""


def resident_mb() -> int:
    """This process's resident memory in MB."""
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) >> 10


def main() -> int:
    mode, inputs_uri, output_prefix, *rest = sys.argv[1:]
    if mode == "add":
        inputs = literals_pb2.LiteralMap()
        inputs.ParseFromString(path_of(inputs_uri).read_bytes())
        total = sum(inputs.literals[name].scalar.primitive.integer for name in ("a", "b"))
        print(f"adding up to {total}")
        write_outputs(
            output_prefix,
            {
                "sum": literals_pb2.Literal(
                    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=total))
                )
            },
        )
    elif mode == "env":
        seen = {name: string(os.environ.get(name, "<unset>")) for name in rest}
        write_outputs(output_prefix, seen)
    elif mode == "args":
        items = [string(arg) for arg in sys.argv]
        collection = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
        write_outputs(output_prefix, {"argv": collection, "cwd": string(os.getcwd())})
    elif mode == "error":
        origin, kind, exit_code = rest
        document = errors_pb2.ErrorDocument(
            error=errors_pb2.ContainerError(
                code="USER:RuntimeError",
                message="the user code failed",
                kind=errors_pb2.ContainerError.Kind.Value(kind),
                origin=execution_pb2.ExecutionError.ErrorKind.Value(origin),
            )
        )
        write(output_prefix, "error.pb", document)
        return int(exit_code)
    elif mode == "fail":
        for number in range(30):
            print(f"noise line {number}", file=sys.stderr)
        print("ValueError: the last words", file=sys.stderr)
        return 3
    elif mode == "signal":
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "futures":
        write(output_prefix, "futures.pb", dynamic_job_pb2.DynamicJobSpec(min_successes=1))
    elif mode == "tree":
        pids_file, behaviour = rest
        if behaviour == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, __file__, "sleeper", "-", "-", behaviour])
        # One that leaves the task's process group (a session of its own, as a daemon does).
        escaped = subprocess.Popen(
            [sys.executable, __file__, "sleeper", "-", "-", behaviour], start_new_session=True
        )
        Path(pids_file + ".tmp").write_text(json.dumps([os.getpid(), grandchild.pid, escaped.pid]))
        os.replace(pids_file + ".tmp", pids_file)
        time.sleep(3600)
    elif mode == "sleeper":
        if rest[0] == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
    elif mode == "wait":
        starts_file, go_file = rest
        with open(starts_file, "a") as starts:
            starts.write(f"{os.getpid()}\n")
        while not os.path.exists(go_file):
            time.sleep(0.01)
        write_outputs(output_prefix, {})
    elif mode == "state":
        # What the attempt sees of the process it runs in, then global state changed for a next attempt to see.
        parent_stat = Path(f"/proc/{os.getppid()}/stat").read_text()
        seen = {
            "grandparent": parent_stat.rpartition(")")[2].split()[1],
            "leak": os.environ.get("LEAK", "<unset>"),
            "cwd": os.getcwd(),
            "module_leak": str("roost_test_leak" in sys.modules),
            "path_leak": str("/roost-test-leak" in sys.path),
            "global_leak": str(LEAKS),
        }
        write_outputs(output_prefix, {name: string(value) for name, value in seen.items()})
        os.environ["LEAK"] = "leaked"
        sys.modules["roost_test_leak"] = sys
        sys.path.append("/roost-test-leak")
        LEAKS.append("leaked")  # this module is the warm server's: imported before the fork
        os.chdir("/")
    elif mode == "code":
        # Where the task's code (coded_program.py's) was imported, and who forked this attempt's supervisor.
        code = sys.modules.get("code_module")
        parent_stat = Path(f"/proc/{os.getppid()}/stat").read_text()
        seen = {
            "imported_in": str(code.IMPORTED_IN) if code is not None else "<not imported>",
            "grandparent": parent_stat.rpartition(")")[2].split()[1],
            "who": os.environ.get("WHO", "<unset>"),
        }
        write_outputs(output_prefix, {name: string(value) for name, value in seen.items()})
    elif mode == "segfault":
        ctypes.string_at(0)
    elif mode == "hog":
        # Memory held in a module-level list, as a leak holds it, every page touched so that it is resident.
        LEAKS.append(b"\1" * (int(rest[0]) << 20))
        write_outputs(output_prefix, {"rss_mb": string(str(resident_mb()))})
    elif mode == "rss":
        write_outputs(output_prefix, {"rss_mb": string(str(resident_mb())), "leaks": string(str(len(LEAKS)))})
    elif mode == "orphans":
        # Children that outlive the task: a new interpreter, a plain fork of this one, and a new interpreter in a
        # session of its own (out of the task's process group), all sleeping on.
        pids_file = rest[0]
        sleeper = subprocess.Popen([sys.executable, __file__, "sleeper", "-", "-", "plain"])
        escaped = subprocess.Popen(
            [sys.executable, __file__, "sleeper", "-", "-", "plain"], start_new_session=True
        )
        forked = os.fork()
        if forked == 0:
            time.sleep(3600)
            os._exit(0)
        Path(pids_file + ".tmp").write_text(json.dumps([sleeper.pid, forked, escaped.pid]))
        os.replace(pids_file + ".tmp", pids_file)
    elif mode == "warmed":
        # Whether the warm-up of the entry module ran in the interpreter this attempt was forked from.
        entry = sys.modules.get("warmed_program")
        write_outputs(output_prefix, {"warmed_in": string(str(entry.WARMED_IN if entry else None))})
    elif mode == "draw":
        # A number from a generator the entry module made before the fork, and from numpy's when it is there.
        entry = sys.modules["warmed_program"]
        write_outputs(output_prefix, {"drawn": string(str(entry.GENERATOR.getrandbits(64)))})
    elif mode == "tempdir":
        # What a task leaves in its temporary folder, as flytekit leaves its sandboxes.
        tempfile.mkdtemp(prefix="left-")
        write_outputs(output_prefix, {"tempdir": string(tempfile.gettempdir())})
    elif mode == "hard-exit":
        os._exit(int(rest[0]))
    elif mode != "nothing":
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
