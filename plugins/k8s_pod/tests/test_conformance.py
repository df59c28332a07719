"""The Pod handler passes the handler conformance suite (roost_core.testing.conformance) against the Kubernetes
API test server, its pods run by the test kubelet as local processes: the subject the package declares for
`roost plugins check k8s_pod` (roost_k8s_pod.testing.conformance); and `roost plugins check k8s_pod` itself runs
it and prints its table of checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from roost_k8s_pod.testing.conformance import TestPodHandlerConformance

__all__ = ["TestPodHandlerConformance"]


def test_roost_plugins_check_runs_the_declared_subject_and_prints_each_check(tmp_path: Path) -> None:
    roost = Path(sys.executable).with_name("roost")
    done = subprocess.run(
        [str(roost), "plugins", "check", "k8s_pod", "-k", "user_error or abort_is or in_a_local_run"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={"PATH": str(roost.parent), "COLUMNS": "200", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if "TestPodHandlerConformance" in line]
    assert len(rows) == 3, done.stdout
    assert any("user_error_is_a_user_error" in row and "passed" in row for row in rows), rows
    assert any("abort_is_idempotent" in row and "passed" in row for row in rows), rows
    assert any(
        "runs_in_a_local_run" in row and "skipped" in row and "plain Python task" in row for row in rows
    ), rows
    assert "2 passed, 0 failed, 1 skipped" in done.stdout
