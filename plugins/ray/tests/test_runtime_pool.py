"""The local runtime pool on a real Ray head: closing the pool while its idle reaper is stopping a runtime still
ends every process of that runtime (a `roost start` stopped then must not leave a Ray head running); a runtime
stopped while it starts (its attempt aborted) leaves no head behind either."""

from __future__ import annotations

import sys
from pathlib import Path

from roost_core.testing.driver import wait_until
from roost_ray.runtime import MIN_OBJECT_STORE_MEMORY, RuntimePool, RuntimeShape, session_processes, shape_for


def _one_cpu() -> RuntimeShape:
    return shape_for(
        {},
        default_cpus=1,
        default_object_store=MIN_OBJECT_STORE_MEMORY,
        object_store_fraction=0.3,
        ray=str(Path(sys.executable).parent / "ray"),
    )


def test_closing_while_the_reaper_stops_a_runtime_leaves_no_process() -> None:
    # The default temp root: Ray's socket paths under pytest's long tmp_path exceed a Unix socket's 107 bytes.
    pool = RuntimePool(idle_timeout=0.1)
    runtime = pool.acquire(_one_cpu(), "attempt")
    assert runtime.ready.wait(120) and runtime.error is None, runtime.error
    assert runtime.session is not None and session_processes(runtime.session)
    pool.release("attempt")
    # The reaper has taken the idle runtime and is stopping it (SIGTERM, then SIGKILL after a grace period).
    wait_until(lambda: not pool.runtimes(), "the reaper to take the idle runtime", timeout=10)
    pool.close()
    assert not session_processes(runtime.session), "close() returned before the runtime's processes ended"


def test_a_runtime_stopped_while_it_starts_leaves_no_process() -> None:
    pool = RuntimePool()
    try:
        runtime = pool.acquire(_one_cpu(), "attempt")
        # The attempt is aborted while `ray start` is being launched or has not yet said it is ready.
        pool.release("attempt", stop_if_alone=True)
        assert runtime.ready.wait(120)
        assert runtime.error is not None and "stopped" in runtime.error, runtime.error
        if runtime.session is not None:
            assert not session_processes(runtime.session), "a head launched while stopping was left running"
        assert not runtime.temp_dir.exists()
    finally:
        pool.close()
