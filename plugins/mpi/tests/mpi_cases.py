"""MPI task configs written once for both SDKs: ``cases(ns)`` builds them from ``ns``'s classes (roost_mpi's or
flytekitplugins.kfmpi's, and the SDK's ``Resources``), so the two serializations are of the same source."""

from __future__ import annotations

from typing import Any


def cases(ns: Any) -> dict[str, Any]:
    """Name → task config."""
    return {
        "minimal": ns.MPIJob(launcher=ns.Launcher(replicas=1), worker=ns.Worker(replicas=1)),
        "full": ns.MPIJob(
            launcher=ns.Launcher(
                replicas=1,
                image="launcher:1",
                command=["mpirun", "-np", "4", "python", "train.py"],
                requests=ns.Resources(cpu="1", mem="1Gi"),
                restart_policy=ns.RestartPolicy.FAILURE,
            ),
            worker=ns.Worker(
                replicas=2,
                image="worker:1",
                command=["/usr/sbin/sshd", "-De"],
                requests=ns.Resources(cpu="2", mem="2Gi", gpu="1"),
                limits=ns.Resources(cpu="4", mem="4Gi", gpu="1", ephemeral_storage="10Gi"),
                restart_policy=ns.RestartPolicy.ALWAYS,
            ),
            slots=2,
            run_policy=ns.RunPolicy(
                clean_pod_policy=ns.CleanPodPolicy.RUNNING,
                ttl_seconds_after_finished=600,
                active_deadline_seconds=3600,
                backoff_limit=3,
            ),
        ),
        "never": ns.MPIJob(
            launcher=ns.Launcher(replicas=1, restart_policy=ns.RestartPolicy.NEVER),
            worker=ns.Worker(replicas=3, restart_policy=ns.RestartPolicy.NEVER),
            slots=3,
            run_policy=ns.RunPolicy(clean_pod_policy=ns.CleanPodPolicy.NONE, backoff_limit=0),
        ),
        "legacy": ns.MPIJob(num_workers=3, num_launcher_replicas=1, slots=2),
    }
