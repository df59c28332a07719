"""A fork server: one warm interpreter per Python environment that starts attempts by forking.

Usage: ``python _warm.py SOCKET_FD MODULE SCRIPT``, with the task environment's interpreter and variables. Started and
spoken to by :mod:`roost_core.handlers._warm_pool`. It uses only the standard library and the task runtime.

The server imports ``MODULE`` (the module of the task command's console script: Roost's or flytekit's entry
point) once, calls its ``__roost_warm_up__()`` when it has one (an entry point that imports lazily names there
what every attempt needs, so that attempts start with it done; flytekit's entry point gets the warm-up of
:func:`_warm_up_flytekit`), and says ``{"ready": true}`` on the socket (a
``SOCK_SEQPACKET`` pair), or ``{"error": ...}``. Then
each request ``{"spec": PATH, "module": ..., "function": ..., "script": PATH, ...}``, sent with the attempt's locked
``lock`` file descriptor, is answered with ``{"pid": N}`` after a fork. The child

1. claims the attempt by creating its ``claimed`` file exclusively (the handler claims it before a cold start,
   so an attempt is served once whatever happens to this server);
2. leaves the server: its own session (so abort signals reach only its tree), the lock held, its output going
   to the attempt's ``supervisor.log``;
3. becomes the attempt's supervisor exactly as a cold one (:func:`_supervise.supervise`), except that the task
   is a forked child calling the console script's function in this already warm interpreter, with the spec's
   environment, working directory, stdin, stdout and stderr, default signal handlers and ``sys.argv``.

A request ``{"batch": true, ...}`` (first attempts of map indices: the local-process handler's inline runner), sent
with a results pipe's write end and a specs pipe's read end, is answered likewise after one fork: that child leaves
the server's session, lets the entry module import the task's own module before the first attempt (its
``__roost_warm_task__(argv)``, when it has one; what that returns, if anything, is called when the batch ends) and,
for each line ``{"spec_path": PATH, "spec": SPEC,
"env_removed": [NAME, ...]}`` read from the specs pipe (``SPEC["env"]`` holds the variables changed since the line
before), makes the attempt's folder and files, takes its lock and claims it, and is its supervisor itself, with one
fork fewer than above (:func:`_supervise_attempt`): the task is forked from the batch child and leads a process group
of its own, which the ``process`` file names, so that an engine can abort it and re-attach to it as to any attempt.
Once the attempt ended it writes ``{"spec": PATH, "result": ..., "process": ...}`` back on the results pipe, with
what it wrote to the attempt's result and process files. An attempt whose folder exists already (another
process prepared it) or whose lock another process holds is skipped, ``{"spec": PATH}`` written back at once. The
child exits at the end of the specs pipe.

A request for one attempt may also carry its command line (``"argv"``). When the entry module names the code of
that command line (``__roost_warm_code__(argv)``: a key such as a fast registration's bundle and task module; flytekit's
is :func:`_flytekit_code`) and can import it (``__roost_warm_task__``), the attempt's supervisor is forked from a
code child that imported that code once instead of from the server (:class:`_CodeChildren`), so that its attempts
find their task's module imported and their bundle unpacked, as a batch child's do.

Crashes or ``os._exit`` in a task end only that forked child. The server exits when the socket is closed, and its
code children with it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import importlib
import importlib.util
import json
import linecache
import os
import random
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, BinaryIO, NoReturn

_MESSAGE_SIZE = 1 << 16


def _load_supervise() -> ModuleType:
    """The supervisor module, loaded by path: this script runs outside Roost's package and may not import it."""
    location = Path(__file__).with_name("_supervise.py")
    spec = importlib.util.spec_from_file_location("_roost_supervise", location)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warm_up_flytekit(entry: ModuleType) -> None:
    """What flytekit's entry point cannot declare itself: its inner commands run in process
    (:func:`_flytekit_inner_commands_in_process`), an eager task's exit cannot hang on its controller
    (:func:`_flytekit_eager_exit_bounded`), and its batch children fetch a fast registration's code, import the
    task's module (:func:`_flytekit_warm_task`) and convert a map's inputs (:func:`_flytekit_map_inputs_once`) once;
    the server defines a task once, so that attempts find flytekit's first-use work for defining theirs done
    (:func:`_flytekit_task_defined_once`); each attempt gets a data sandbox of its own
    (:func:`_flytekit_sandbox_of_attempt`)."""
    _flytekit_inner_commands_in_process(entry)
    _flytekit_eager_exit_bounded()
    _flytekit_task_defined_once()
    _ATTEMPT_SETUPS.append(_flytekit_sandbox_of_attempt)
    entry.__roost_warm_code__ = _flytekit_code  # type: ignore[attr-defined]

    def warm_task(argv: list[str]) -> Callable[[], None] | None:
        batch_ended = _flytekit_warm_task(entry, argv)
        with contextlib.suppress(Exception):  # left to the indices, which read their inputs as always
            _flytekit_map_inputs_once(argv)
        return batch_ended

    entry.__roost_warm_task__ = warm_task  # type: ignore[attr-defined]


def _flytekit_sandbox_of_attempt() -> None:
    """Give flytekit's default data access a sandbox in the attempt's temporary folder, as a fresh interpreter's
    import would. flytekit makes it at import, so every attempt forked from the server would share the server's,
    and the working folder flytekit makes there for each task (``current_context().working_directory``) would pile
    up until the server stops. A flytekit without this module-level provider is left alone."""
    persistence = sys.modules.get("flytekit.core.data_persistence")
    provider = getattr(persistence, "default_local_file_access_provider", None)
    if provider is None or not hasattr(provider, "_local_sandbox_dir"):
        return
    folder = tempfile.mkdtemp(prefix="flyte-")
    sandbox = Path(folder, "sandbox", "local_flytekit")
    sandbox.mkdir(parents=True)
    provider._local_sandbox_dir = sandbox
    persistence.flyte_tmp_dir = folder  # type: ignore[union-attr]


_EAGER_CONTROLLER_STOP_TIMEOUT = 10.0
"""Seconds an eager task's exit waits for its controller thread (which polls every 2 s) to stop."""


def _flytekit_eager_exit_bounded() -> None:
    """Make the exit handler of flytekit's eager ``Controller`` wait a bounded time for the controller's thread.

    flytekit (1.16) joins that thread at exit with no timeout, in an ``atexit`` handler registered before the
    thread's own event-loop runner, whose handler (run first: last in, first out) stops that loop. A thread caught
    publishing its deck on the loop then waits forever, so does the join, and the finished task never exits (seen
    once in about 150 eager executions under heavy load). The thread is a daemon: after the wait, the exit goes on
    without it. flytekit versions without this handler are left alone."""
    try:
        worker_queue = importlib.import_module("flytekit.core.worker_queue")
    except ImportError:
        return
    controller = getattr(worker_queue, "Controller", None)
    if not callable(getattr(controller, "_close", None)):
        return

    def close(stopping_condition: Any, runner: Any) -> None:
        stopping_condition.set()
        runner.join(_EAGER_CONTROLLER_STOP_TIMEOUT)
        if runner.is_alive():
            print(
                f"roost: flytekit's eager controller thread did not stop within {_EAGER_CONTROLLER_STOP_TIMEOUT:.0f} s "
                "of the task's end (its event loop was stopped first); exiting without it",
                file=sys.stderr,
                flush=True,
            )

    controller._close = staticmethod(close)  # type: ignore[union-attr]


_FLYTEKIT_WARM_UP_TASK = """
from flytekit import task


@task
def warm_up(number: int, ratio: float, text: str, flag: bool, numbers: list[int], names: dict[str, str]) -> int:
    \"\"\"A task as users write them.

    :param number: a number
    :return: the number
    \"\"\"
    return number
"""
"""The module of :func:`_flytekit_task_defined_once`'s task."""


def _flytekit_task_defined_once() -> None:
    """Define one flytekit task in the server (and forget it), so that each attempt's import of its own task module
    finds flytekit's first-use work for a task definition done: the docstring parsers' regular expressions compiled,
    the type engine's first look-ups for common types, the interpreter's specialized code on that path. An attempt's
    import of a module of three tasks and two workflows took 10-14 ms after it against 21-23 ms before.

    The task's module is made for it, with its source where ``inspect`` finds it (flytekit finds a task's module
    through ``sys.modules`` and the calling frames, and reads its function's source), and taken back out of
    ``sys.modules`` and ``linecache`` after; the task is taken back out of ``FlyteEntities.entities``, the list of
    what a process declared (dynamic tasks walk it), so attempts see only their own. Nothing runs. A flytekit where
    this fails is left as it is."""
    try:
        entities = importlib.import_module("flytekit.core.context_manager").FlyteEntities.entities
    except (ImportError, AttributeError):
        return
    module = ModuleType("_roost_flytekit_warm_up")
    source = module.__file__ = f"<{module.__name__}>"
    declared = len(entities)
    sys.modules[module.__name__] = module
    lines = _FLYTEKIT_WARM_UP_TASK.splitlines(keepends=True)
    linecache.cache[source] = (len(_FLYTEKIT_WARM_UP_TASK), None, lines, source)
    try:
        with contextlib.suppress(Exception):
            exec(compile(_FLYTEKIT_WARM_UP_TASK, source, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
        linecache.cache.pop(source, None)
        del entities[declared:]


def _flytekit_inner_commands_in_process(entry: ModuleType) -> None:
    """Make ``pyflyte-fast-execute`` run its inner ``pyflyte-execute`` (or ``pyflyte-map-execute``) in its own
    process instead of starting a new interpreter.

    flytekit starts a new one because a process that imported the task's code before unpacking the new bundle
    would run the old code; a child forked from this server imported no task code (a batch child, only the code of
    the one bundle its attempts unpack), so the inner command runs in it, with the environment and ``sys.path`` the
    new interpreter would have had. Other commands, and flytekit versions without the private ``_run_subprocess``,
    keep starting a process.
    """
    start_process = getattr(entry, "_run_subprocess", None)
    commands = {
        "pyflyte-execute": getattr(entry, "execute_task_cmd", None),
        "pyflyte-map-execute": getattr(entry, "map_execute_task_cmd", None),
    }
    if start_process is None or None in commands.values():
        return

    def run_in_process(cmd: list[str], env: dict[str, str] | None = None) -> int:
        command = commands.get(Path(cmd[0]).name)
        if command is None:
            result: int = start_process(cmd, env)
            return result
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        # A new interpreter would put PYTHONPATH's entries (the unpacked bundle among them) after its script's.
        added = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
        sys.path[1:1] = added
        try:
            command.main(args=cmd[1:], prog_name=cmd[0])
        except SystemExit as exc:
            return _exit_status(exc.code)
        return 0

    entry._run_subprocess = run_in_process  # type: ignore[attr-defined]


def _flytekit_warm_task(entry: ModuleType, argv: list[str]) -> Callable[[], None] | None:
    """flytekit's ``__roost_warm_task__``: for a fast-registered task (``pyflyte-fast-execute
    --additional-distribution BUNDLE``), fetch and unpack the bundle once into a folder of this batch child, put that
    folder on ``sys.path`` as a new interpreter's ``PYTHONPATH`` would, and make each attempt's fetch of the same
    bundle a copy of that folder into its ``--dest-dir`` (the files a fetch leaves there, without fetching and
    unpacking again); then import the task's module (``task-module`` of the resolver's arguments) from there, in
    that folder as its working directory. Returns what removes the folder when the batch ends."""
    distribution = _flytekit_bundle(argv)
    fetch = getattr(entry, "_download_distribution", None)
    if distribution is None or fetch is None:
        _import_task_module(argv)
        return None
    folder = tempfile.mkdtemp(prefix="roost-flytekit-code-")
    try:
        fetch(distribution, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def fetch_once(additional_distribution: str, destination: str) -> None:
        if additional_distribution != distribution or not os.path.isdir(destination):
            fetch(additional_distribution, destination)
            return
        shutil.copytree(folder, destination, dirs_exist_ok=True)

    entry._download_distribution = fetch_once  # type: ignore[attr-defined]
    sys.path.insert(1, folder)
    # Imported where an attempt would import it: in a working directory that holds the bundle's files. What fails
    # is left to the attempts, which import it again and report it as their own.
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.suppress(Exception):
            _import_task_module(argv)
    finally:
        os.chdir(here)
    return lambda: shutil.rmtree(folder, ignore_errors=True)


def _flytekit_map_inputs_once(argv: list[str]) -> None:
    """Read and convert a map task's inputs once in this batch child, for all the indices it forks.

    flytekit's map contract hands every index the whole ``inputs.pb`` of its array node, and each index turns all of
    it into flytekit's literal models before it picks its own element: work that grows with the list, for every
    index (7 ms an index for 1,000 integers here, over a third of flytekit's own work for a trivial index). This
    child reads the ``--inputs`` of an inner ``pyflyte-map-execute`` with flytekit's own data access and converts
    them; in each index forked next, the first conversion of a literal map equal to them (compared as bytes) returns
    that index's copy of the converted models instead. Conversion depends on nothing but the bytes, and the copy is
    the index's own (a fork's), so an index sees what it would have made itself."""
    fast = Path(argv[0]).name == "pyflyte-fast-execute" and "--" in argv
    command = argv[argv.index("--") + 1 :] if fast else argv
    if not command or Path(command[0]).name != "pyflyte-map-execute":
        return
    inputs = _option(command, "--inputs")
    if inputs is None:
        return
    from flyteidl.core import literals_pb2

    data_persistence = importlib.import_module("flytekit.core.data_persistence")
    literal_map = importlib.import_module("flytekit.models.literals").LiteralMap
    folder = tempfile.mkdtemp(prefix="roost-flytekit-inputs-")
    try:
        local = os.path.join(folder, "inputs.pb")
        access = data_persistence.FileAccessProvider(local_sandbox_dir=folder, raw_output_prefix=folder)
        access.get_data(inputs, local)
        proto = literals_pb2.LiteralMap.FromString(Path(local).read_bytes())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    serialized = proto.SerializeToString(deterministic=True)
    convert = literal_map.__dict__["from_flyte_idl"].__func__
    converted = [convert(literal_map, proto)]

    def from_flyte_idl(cls: type, pb2_object: Any) -> Any:
        if (
            converted
            and pb2_object.ByteSize() == len(serialized)
            and pb2_object.SerializeToString(deterministic=True) == serialized
        ):
            return converted.pop()  # once: a second conversion in the same index gets models of its own
        return convert(cls, pb2_object)

    literal_map.from_flyte_idl = classmethod(from_flyte_idl)


def _flytekit_code(argv: list[str]) -> str | None:
    """flytekit's ``__roost_warm_code__``: a fast-registered task's code bundle and task module (the bundle's name is
    its content's digest, so equal keys are equal code), or None for a task whose code is not in a bundle."""
    distribution, module = _flytekit_bundle(argv), _task_module(argv)
    return f"{distribution} {module}" if distribution and module else None


def _flytekit_bundle(argv: list[str]) -> str | None:
    """The code bundle of a ``pyflyte-fast-execute`` command line (its ``--additional-distribution``), else None."""
    if not argv or Path(argv[0]).name != "pyflyte-fast-execute":
        return None
    return _option(argv, "--additional-distribution")


def _option(argv: list[str], name: str) -> str | None:
    """The value of option ``name`` in ``argv`` before its first ``--``, or None."""
    for index, arg in enumerate(argv[:-1]):
        if arg == "--":
            return None
        if arg == name:
            return argv[index + 1]
    return None


def _task_module(argv: list[str]) -> str | None:
    """The module the last ``task-module`` of flytekit's resolver arguments names, if any."""
    for index in range(len(argv) - 2, -1, -1):
        if argv[index] == "task-module":
            return argv[index + 1]
    return None


def _import_task_module(argv: list[str]) -> None:
    """Import the module the last ``task-module`` of flytekit's resolver arguments names, if any."""
    module = _task_module(argv)
    if module is not None:
        importlib.import_module(module)


_WARM_UPS: dict[str, Callable[[ModuleType], None]] = {"flytekit.bin.entrypoint": _warm_up_flytekit}
"""Warm-ups for entry modules that cannot declare their own ``__roost_warm_up__``."""


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.send(json.dumps(message).encode())


def _exit_status(code: object) -> int:
    """The status Python's own exit would give for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


_GENERATORS: list[random.Random] = []
"""The random generators the server's imports made (flytekit keeps its own): each task reseeds them, since a fork
copies their state and every attempt would draw the same "random" names a cold start draws afresh."""


_ATTEMPT_SETUPS: list[Callable[[], None]] = []
"""What each task's forked child calls once its environment is the attempt's, before the entry point: a fresh
interpreter's import-time state that a fork would otherwise share with every attempt (see the warm-ups)."""


def _find_generators() -> None:
    # type(), not isinstance(): the latter asks objects for __class__, which lazy modules answer by importing.
    _GENERATORS.extend(obj for obj in gc.get_objects() if issubclass(type(obj), random.Random))


def _reseed() -> None:
    """What a fresh interpreter's randomness would be: the generators made before the fork, and numpy's global
    one when the server imported numpy, seeded from the system's entropy."""
    for generator in _GENERATORS:
        generator.seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def _run_task(
    request: dict[str, Any], spec: dict[str, Any], stdout: int, stderr: int, lock_fd: int
) -> NoReturn:
    """In the task's forked child: set up what a fresh process would have, call the entry point, exit."""
    status = 1
    try:
        os.close(lock_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.close(devnull)
        for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(spec["cwd"])
        os.environ.clear()
        os.environ.update(spec["env"])
        # The attempt's own temporary folder, which prepare_attempt made; one the task names is found afresh.
        tempfile.tempdir = spec["temp"] if os.environ.get("TMPDIR") == spec["temp"] else None
        _reseed()
        for setup in _ATTEMPT_SETUPS:
            setup()
        sys.argv = [request["script"], *spec["argv"][1:]]
        sys.path[0] = str(Path(request["script"]).parent)
        target: Any = importlib.import_module(request["module"])
        for part in request["function"].split("."):
            target = getattr(target, part)
        status = _exit_status(target())
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _attempt(supervise: ModuleType, request: dict[str, Any], lock_fd: int) -> int:
    """In the forked supervisor: claim the attempt, leave the server, supervise the task."""
    spec_path = Path(request["spec"])
    folder = spec_path.parent
    try:
        os.close(os.open(folder / "claimed", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return 0  # the handler gave up on this server and started the attempt cold
    os.setsid()
    log = os.open(folder / "supervisor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    spec = json.loads(spec_path.read_text())

    def start(spec: dict[str, Any], stdout: BinaryIO, stderr: BinaryIO) -> Callable[[], int]:
        pid = os.fork()
        if pid == 0:
            _run_task(request, spec, stdout.fileno(), stderr.fileno(), lock_fd)
        return lambda: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    result: int = supervise.supervise(spec, start)
    return result


def _warm_task(request: dict[str, Any], spec: dict[str, Any]) -> Callable[[], None] | None:
    """In a batch or code child, before its first attempt: the entry module's ``__roost_warm_task__(argv)`` imports
    what the task of the command line needs (its module), with the attempt's environment, so that the attempts
    forked next start with it done; it may return what to call when the child ends (flytekit's removes the code it
    fetched). Raises what the import raised, TimeoutError when it took longer than ``start_timeout``: the callers
    leave a failure to the attempts, which import the module again and report what fails as their own."""
    warm_task = getattr(sys.modules.get(request["module"]), "__roost_warm_task__", None)
    if warm_task is None:
        return None
    os.environ.clear()
    os.environ.update(spec["env"])

    def timed_out(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, timed_out)
    signal.setitimer(signal.ITIMER_REAL, float(request["start_timeout"]))
    try:
        done: Callable[[], None] | None = warm_task(spec["argv"])
        return done
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _batch(supervise: ModuleType, request: dict[str, Any], results_fd: int, specs_fd: int) -> int:
    """In the forked batch child: supervise the attempts whose specs arrive on ``specs_fd``, one after another."""
    os.setsid()
    supervise.become_subreaper()
    env: dict[str, str] = {}
    warmed = False
    # BrokenPipeError: the handler stopped listening; the attempts started keep running, as any.
    with (
        contextlib.ExitStack() as cleanups,
        contextlib.suppress(BrokenPipeError),
        open(specs_fd) as specs,
        open(results_fd, "w", buffering=1) as results,
    ):
        for line in specs:
            sent = json.loads(line)
            # Each spec's environment comes as the changes from the one before.
            env.update(sent["spec"]["env"])
            for name in sent["env_removed"]:
                env.pop(name, None)
            attempt = {**sent["spec"], "env": dict(env)}
            if not warmed:
                warmed = True
                try:
                    batch_ended = _warm_task(request, attempt)
                except BaseException:  # the attempts import it again and report the failure as theirs
                    batch_ended = None
                if batch_ended is not None:  # after the last attempt
                    cleanups.callback(batch_ended)
            spec = sent["spec_path"]
            done = json.dumps({"spec": spec}) + "\n"
            try:
                os.makedirs(Path(spec).parent, 0o700)
                supervise.prepare_attempt(spec, attempt)
            except OSError:  # prepared by another process, which starts it; or it cannot be: it is lost
                results.write(done)
                continue
            lock_fd = os.open(Path(spec).with_name("lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process runs it
                os.close(lock_fd)
                results.write(done)
                continue
            try:
                written = _supervise_attempt(
                    supervise, request, spec, attempt, lock_fd, (results_fd, specs_fd)
                )
            finally:
                os.close(lock_fd)
            results.write(json.dumps({"spec": spec, **written}) + "\n")
    return 0


_ABORT_POLL = 0.1
"""Seconds between a batch child's looks for its running attempt's abort marker."""


def _supervise_attempt(
    supervise: ModuleType,
    request: dict[str, Any],
    spec_path: str,
    spec: dict[str, Any],
    lock_fd: int,
    pipes: tuple[int, int],
) -> dict[str, Any]:
    """In a batch child holding the attempt's lock: claim the attempt, then be its supervisor as a cold one is
    (:func:`_supervise.supervise`) with one process fewer. The task is forked from here and leads its own process
    group, which the ``process`` file names (an abort signals that group); an abort makes this child SIGTERM the
    group too (the abort may have come before the group existed) and SIGKILL it after ``kill_grace_period``. When
    the task ended, whatever it left in its group is killed and the ``result`` file is written; the lock is let go
    after that, by the caller. Returns what it wrote of the ``result`` and ``process`` files (nothing when another
    process claimed the attempt, or when its folder was gone for the result)."""
    try:
        os.close(os.open(Path(spec_path).with_name("claimed"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return {}  # the handler gave up on this server and started the attempt cold
    if os.path.exists(spec["abort_marker"]):
        result: dict[str, Any] = {"aborted": True}
        supervise.write_json_atomically(spec["result"], result)
        return {"result": result}
    try:
        with open(spec["stdout"], "ab") as stdout, open(spec["stderr"], "ab") as stderr:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    os.setsid()
                    for fd in pipes:  # the handler's end of file comes when the batch child exits
                        os.close(fd)
                finally:  # whatever happened, this process is the task's and ends there
                    _run_task(request, spec, stdout.fileno(), stderr.fileno(), lock_fd)
    except OSError as exc:
        result = {"start_error": exc.strerror or str(exc), "errno": exc.errno or 0}
        supervise.write_json_atomically(spec["result"], result)
        return {"result": result}
    process = {"pid": pid, "start_time": supervise.process_start_time(pid)}
    # Not synced to disk: after a crash of the machine this process is gone whatever the file says.
    supervise.write_json_atomically(spec["process"], process, durable=False)
    result = {"returncode": _wait_for_task(supervise, pid, spec_path, spec)}
    try:
        supervise.write_json_atomically(spec["result"], result)
    except OSError:  # the attempt folder was removed (finalized), so nobody will read the result
        return {}
    return {"result": result, "process": process}


def _wait_for_task(supervise: ModuleType, pid: int, spec_path: str, spec: dict[str, Any]) -> int:
    """Wait for the task ``pid`` (leader of its process group) to exit, ending its group on an abort (its marker, or
    the attempt's spec gone: an aborted attempt is finalized at once); then kill what it left, in its group or not,
    and return its exit status (negative for a signal)."""
    kill_at: float | None = None
    exited = os.pidfd_open(pid)  # readable once the task exited
    try:
        while not select.select([exited], [], [], _ABORT_POLL)[0]:
            if kill_at is None and (os.path.exists(spec["abort_marker"]) or not os.path.exists(spec_path)):
                supervise.signal_group(pid, signal.SIGTERM)
                kill_at = time.monotonic() + float(spec["kill_grace_period"])
            elif kill_at is not None and time.monotonic() >= kill_at:
                supervise.signal_group(pid, signal.SIGKILL)
    finally:
        os.close(exited)
    # The task is a zombie until reaped, so its group's id is still ours: kill what it left there, and what it
    # started that left the group (handed to this process, its subreaper, as their parents ended).
    supervise.signal_group(pid, signal.SIGKILL)
    supervise.kill_descendants()
    status = os.waitpid(pid, 0)[1]
    with contextlib.suppress(ChildProcessError):  # the zombies of those killed: this process lives on
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    return os.waitstatus_to_exitcode(status)


def serve(sock: socket.socket, module: str, script: str) -> int:
    """Import ``module`` (as ``script`` would), then fork a supervisor per request until the socket closes."""
    supervise = _load_supervise()
    # This script's folder is not the task's and must not shadow its modules: the console script's is.
    sys.path[0] = str(Path(script).parent)
    try:
        entry = importlib.import_module(module)
        warm_up = getattr(entry, "__roost_warm_up__", None)
        if warm_up is not None:
            warm_up()
        elif module in _WARM_UPS:
            _WARM_UPS[module](entry)
    except BaseException:
        _send(sock, {"error": traceback.format_exc()})
        return 1
    _find_generators()
    # Found once for the server and its batch children, whose folders (a map's code, its inputs) live there.
    tempfile.gettempdir()
    # What the server imported lives as long as it does: the collector leaves it alone from now on, in every child
    # too, so that a collection in a child does not write to (and copy) every page the server filled.
    gc.collect()
    gc.freeze()
    _send(sock, {"ready": True})
    # Supervisors and code children are reaped by the system; a supervisor sets the default back before forking
    # its task.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    children = _CodeChildren(supervise, entry)
    while True:
        readable = select.select([sock, *children.sockets()], [], [])[0]
        for said in readable:
            if said is not sock:
                children.heard(said)
        if sock not in readable:
            continue
        try:
            data, fds, _flags, _address = socket.recv_fds(sock, _MESSAGE_SIZE, 2)
        except OSError:
            return 0
        if not data:
            return 0
        request = json.loads(data)
        pid = None if "batch" in request else children.start(request, fds, sock)
        if pid is None:
            pid = _fork_child(supervise, request, fds, [sock, *children.sockets()])
        for fd in fds:
            os.close(fd)
        _send(sock, {"pid": pid})


def _forked(run: Callable[[], int]) -> int:
    """Fork a child that calls ``run`` and exits with its status (1, its traceback printed, if it raised); its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            status = run()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    return pid


def _fork_child(
    supervise: ModuleType, request: dict[str, Any], fds: list[int], sockets: list[socket.socket]
) -> int:
    """Fork the child a request asks for: a batch child, or an attempt's supervisor; its pid. The child closes
    ``sockets`` (its parent's)."""

    def child() -> int:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for other in sockets:
            other.close()
        if "batch" in request:
            return _batch(supervise, request, fds[0], fds[1])
        return _attempt(supervise, request, fds[0])

    return _forked(child)


_CODE_CHILDREN = 2
"""Code children a server keeps at most; the least recently used one ends for a new one."""
_FORWARD_TIMEOUT = 5.0
"""Seconds a server waits for a ready code child to answer; then it forks the attempt itself."""
_UNUSABLE_KEPT = 64
"""Codes whose child could not import them that a server remembers (it forks their attempts itself)."""


class _CodeChildren:
    """A server's code children: per code (what the entry module's ``__roost_warm_code__(argv)`` names, such as a
    fast registration's bundle and task module), a child forked from the server that imported that code once, as
    a batch child does (:func:`_warm_task`), and forks the supervisors of that code's attempts.

    The first attempt of a code is forked by the server, while its child imports the code with that attempt's
    environment; the attempts after it come from the child once it said it is ready. A child whose import failed,
    took longer than ``start_timeout`` or left it larger than ``max_memory_mb`` ends without being used, and the
    server forks that code's attempts itself from then on. A child ends when the server closes its socket: when
    it is evicted, and when the server itself ends."""

    def __init__(self, supervise: ModuleType, entry: ModuleType) -> None:
        self.supervise = supervise
        importable = hasattr(entry, "__roost_warm_task__")
        self.code_of: Callable[[list[str]], str | None] | None = (
            getattr(entry, "__roost_warm_code__", None) if importable else None
        )
        self.children: dict[str, tuple[socket.socket, bool]] = {}
        """Per code: the server's end of its child's socket, and whether the child is ready; least recently used
        first."""
        self.unusable: set[str] = set()

    def sockets(self) -> list[socket.socket]:
        """The server's ends of its children's sockets."""
        return [end for end, _ready in self.children.values()]

    def heard(self, end: socket.socket) -> None:
        """Read what a child said unasked: ready, or not usable (then it exits), or nothing (it exited)."""
        code = next(code for code, (other, _ready) in self.children.items() if other is end)
        with contextlib.suppress(OSError, ValueError):
            said = end.recv(_MESSAGE_SIZE)
            if said and json.loads(said).get("ready"):
                self.children[code] = (end, True)
                return
            if said:
                if len(self.unusable) >= _UNUSABLE_KEPT:
                    self.unusable.clear()
                self.unusable.add(code)
        self._drop(code)

    def start(self, request: dict[str, Any], fds: list[int], server: socket.socket) -> int | None:
        """Start the attempt of ``request`` from its code's child: the supervisor's pid, or None when the server is
        to fork it (no code, or its child not ready: started now if there was none)."""
        code = self._code(request)
        if code is None or code in self.unusable:
            return None
        child = self.children.pop(code, None)
        if child is None:
            self._fork(code, request, fds, server)
            return None
        self.children[code] = child
        end, ready = child
        if not ready:
            return None
        pid = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            end.settimeout(_FORWARD_TIMEOUT)
            socket.send_fds(end, [json.dumps(request).encode()], fds)
            reply = end.recv(_MESSAGE_SIZE)
            end.settimeout(None)
            pid = int(json.loads(reply)["pid"]) if reply else None
        if pid is None:
            # The server forks the attempt instead; should the child have forked it too, the attempt's claim lets
            # only one of the two run it.
            self._drop(code)
        return pid

    def _code(self, request: dict[str, Any]) -> str | None:
        argv = request.get("argv")
        if self.code_of is None or not isinstance(argv, list):
            return None
        try:
            code = self.code_of(argv)
        except Exception:  # an entry module's mistake must not stop the server: its attempts start as before
            return None
        return code if isinstance(code, str) and code else None

    def _fork(self, code: str, request: dict[str, Any], fds: list[int], server: socket.socket) -> None:
        while len(self.children) >= _CODE_CHILDREN:
            self._drop(next(iter(self.children)))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        others = [server, ours, *self.sockets()]

        def child() -> int:
            # Not the attempt's lock: it is held as long as the attempt's own processes live.
            for fd in fds:
                os.close(fd)
            for other in others:
                other.close()
            return _code_child(self.supervise, request, theirs)

        _forked(child)
        theirs.close()
        self.children[code] = (ours, False)

    def _drop(self, code: str) -> None:
        end, _ready = self.children.pop(code)
        end.close()


def _code_child(supervise: ModuleType, request: dict[str, Any], sock: socket.socket) -> int:
    """In a code child: import the code of the attempt ``request`` names, with that attempt's environment; say
    whether this child is usable; then fork a supervisor for each attempt the server sends, until the server closes
    the socket."""
    spec = json.loads(Path(request["spec"]).read_text())
    try:
        done = _warm_task(request, spec)
    except BaseException:  # the attempts import it themselves and report the failure as theirs
        _send(sock, {"ready": False})
        return 0
    try:
        usable = supervise.resident_mb(os.getpid()) <= float(request["max_memory_mb"])
        _send(sock, {"ready": usable})
        while usable:
            try:
                data, fds, _flags, _address = socket.recv_fds(sock, _MESSAGE_SIZE, 1)
            except OSError:
                return 0
            if not data:
                return 0
            pid = _fork_child(supervise, json.loads(data), fds, [sock])
            for fd in fds:
                os.close(fd)
            _send(sock, {"pid": pid})
        return 0
    finally:
        if done is not None:
            done()


if __name__ == "__main__":
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2], sys.argv[3]))
