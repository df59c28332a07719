"""A rank forked by the zygote dies with its wrapper even while it cannot run Python code: the kernel kills it when
the lifeline's write end is gone. (The whole path, from mpirun to a rank whose wrapper is killed, is
``test_local_handler.py``'s.)"""

from __future__ import annotations

import ctypes
import os
import signal
import time

import pytest

from roost_mpi._zygote import die_with_lifeline

DEADLINE = 10.0
"""Seconds a rank may take to die once its lifeline is cut."""


def _rank_holding_the_interpreter_lock(lifeline: int, write_end: int | None) -> int:
    """Fork a child that takes ``lifeline`` as its own, then blocks for a minute in a C call that keeps the
    interpreter lock, as ``MPI_Init`` does inside an import; its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            if write_end is not None:
                os.close(write_end)
            die_with_lifeline(lifeline)
            ctypes.PyDLL(None).sleep(60)
        finally:
            os._exit(0)
    return pid


def _status_within(pid: int, seconds: float) -> int | None:
    """The child's exit code once it ended within ``seconds``; None (and the child killed) if it did not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.parametrize("cut", ["while it runs", "before it starts watching"])
def test_a_rank_blocked_with_the_interpreter_lock_dies_when_its_lifeline_is_cut(cut: str) -> None:
    lifeline, write_end = os.pipe()
    if cut == "before it starts watching":
        os.close(write_end)
        pid = _rank_holding_the_interpreter_lock(lifeline, None)
    else:
        pid = _rank_holding_the_interpreter_lock(lifeline, write_end)
        time.sleep(0.3)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the rank died before its lifeline was cut"
        os.close(write_end)
    os.close(lifeline)
    assert _status_within(pid, DEADLINE) == -signal.SIGKILL


def test_a_rank_lives_while_its_lifeline_holds() -> None:
    lifeline, write_end = os.pipe()
    pid = _rank_holding_the_interpreter_lock(lifeline, write_end)
    os.close(lifeline)
    try:
        assert _status_within(pid, 1.0) is None  # killed by the check itself, after a second alive
    finally:
        os.close(write_end)
