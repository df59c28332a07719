"""Starts the ranks of a local MPI attempt that run ``roost-execute`` by forking one process that imported
Roost's task runner once, instead of each rank importing it again (a fifth of a second of CPU per rank).

Usage: ``python -m roost_mpi._zygote SOCKET`` with the Python of the task's ``roost-execute``; ``_launch.py``
starts it before ``mpirun`` and stops it after. It listens on the Unix socket ``SOCKET``, then imports the
SDK's task runner and loads its plugins (never the task's module, nor MPI: a rank initialises MPI itself, with
its own launcher's variables) while ``mpirun`` starts the ranks, then serves them. Each rank's wrapper (``_rank.py``) sends the rank's command line, environment and
working folder with three file descriptors (its stdout, the write end of its stderr pipe, and the read end of
a lifeline pipe whose write end only the wrapper holds); the zygote forks, answers with the child's pid, and
once the child ended with its return code (negative for a signal). The child takes the descriptors as its
stdout and stderr, the rank's environment and folder, and runs ``roost-execute``'s ``main``; the kernel kills
it when the lifeline's write end is gone (its wrapper died: what ``PR_SET_PDEATHSIG`` does for a child the wrapper
started itself; see :func:`die_with_lifeline`). A wrapper that cannot reach the zygote starts ``roost-execute`` itself.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import select
import selectors
import shutil
import signal
import socket
import sys
import threading
from typing import Any

MAX_REQUEST = 1 << 20
"""The largest request (command line and environment, JSON) a wrapper may send."""
_FDS = 3


def preload() -> None:
    """Import what ``roost-execute`` imports for every task, and load the SDK's plugins and storage plugins."""
    import roost.execute
    import roost.local.taskrun
    import roost.serialize
    import roost.tasks
    from roost.plugins.manager import sdk_plugins
    from roost.plugins.storage import storage_plugins

    del roost
    sdk_plugins().task_types()
    storage_plugins()


def send_message(conn: socket.socket, data: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """One JSON message, newline-terminated, with ``fds`` passed along (``SCM_RIGHTS``)."""
    payload = json.dumps(data).encode() + b"\n"
    if fds:
        conn.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        conn.sendall(payload)


def _receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    message, ancillary, _, _ = conn.recvmsg(MAX_REQUEST, socket.CMSG_LEN(_FDS * array.array("i").itemsize))
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    while not message.endswith(b"\n"):
        more = conn.recv(MAX_REQUEST)
        if not more:
            break
        message += more
    return json.loads(message), list(fds)


def _become_rank(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: take on the rank's descriptors, environment and folder, and its lifeline."""
    stdout, stderr, lifeline = fds
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in (null, stdout, stderr):
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    script = shutil.which(sys.argv[0])
    if script is not None:
        sys.path[0] = os.path.dirname(script)  # a console script's folder, as when it is run
    die_with_lifeline(lifeline)


def die_with_lifeline(lifeline: int) -> None:
    """Have the kernel SIGKILL this process once ``lifeline`` (a pipe's read end) reaches end-of-file: when the last
    holder of its write end closes it or dies.

    The pipe's read end signals its owner (``O_ASYNC``, ``F_SETOWN``) when its writers are gone, and ``F_SETSIG``
    makes that signal SIGKILL: no code of this process has to run, so a rank blocked in a call that holds the
    interpreter lock (``MPI_Init`` in an import, waiting for ranks that will never come) dies too. Where the system
    refuses, a thread watches the pipe instead."""
    try:
        fcntl.fcntl(lifeline, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(lifeline, fcntl.F_SETSIG, signal.SIGKILL)
        fcntl.fcntl(lifeline, fcntl.F_SETFL, fcntl.fcntl(lifeline, fcntl.F_GETFL) | os.O_ASYNC)
    except (OSError, AttributeError):
        threading.Thread(target=_watch, args=(lifeline,), name="roost-mpi-lifeline", daemon=True).start()
        return
    # The writers may all have gone before O_ASYNC was set: no signal comes then, but the pipe, which nobody
    # writes to, is ready to read (end-of-file).
    if select.select([lifeline], [], [], 0)[0]:
        os.kill(os.getpid(), signal.SIGKILL)


def _watch(lifeline: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(lifeline, 1):
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def serve(path: str) -> tuple[dict[str, Any], list[int]]:
    """Serve wrappers until killed; in a forked child, return its request (the caller runs the rank)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    # Listening is what _launch.py waits for: wrappers that connect meanwhile wait while the SDK is imported,
    # at the same time as mpirun starts them.
    print("ready", flush=True)
    preload()
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ)
    selector.register(wakeup_read, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select():
            if key.fileobj is server:
                conn, _ = server.accept()
                try:
                    request, fds = _receive_request(conn)
                except (OSError, ValueError):
                    conn.close()
                    continue
                if len(fds) != _FDS:
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    server.close()
                    for other in (conn, *children.values()):
                        other.close()
                    os.close(wakeup_read)
                    os.close(wakeup_write)
                    return request, fds
                for fd in fds:
                    os.close(fd)
                children[pid] = conn
                with contextlib.suppress(OSError):
                    send_message(conn, {"pid": pid})
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wakeup_read, 512)
                _reap(children)


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                send_message(conn, {"returncode": os.waitstatus_to_exitcode(status)})
            conn.close()


def main(argv: list[str]) -> None:
    """Serve on ``argv[1]`` (preloading); a forked child runs ``roost-execute`` and exits with it."""
    request, fds = serve(argv[1])
    _become_rank(request, fds)
    from roost.execute import main as execute

    execute()  # a click command: it exits the process itself, running the atexit handlers (MPI's too)


if __name__ == "__main__":
    main(sys.argv)
