"""Benchmarks of roost-k8s-pod against its test server; prints numbers, asserts nothing.

nox -s bench -- k8s_pod
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from helpers import NAMESPACE, handler_config, make_context, program_task

from roost_core.handler import TaskPhase
from roost_k8s_pod import PodHandler
from roost_k8s_pod.testing import KubeletOptions, KubeTestServer

PODS = 200
TASKS = 20


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "i",
                    "command": ["true"],
                    "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}},
                }
            ]
        },
    }


def admission(server: KubeTestServer) -> None:
    started = time.perf_counter()
    for i in range(PODS):
        server.validate(pod(f"p{i}"))
    elapsed = time.perf_counter() - started
    print(f"admission (schema + API server checks), in process: {PODS / elapsed:,.0f} pods/s")


def creates_and_wakeups(server: KubeTestServer, root: Path) -> None:
    handler = PodHandler()
    config = handler_config(server.write_kubeconfig(root / "kubeconfig"))
    latencies = []
    started = time.perf_counter()
    contexts = []
    for i in range(PODS):
        ctx = make_context(root, program_task("nothing"), config, execution=f"e{i}")
        woken = threading.Event()
        ctx = dataclasses.replace(ctx, notify=woken.set)
        transition = handler.handle(ctx)
        contexts.append((transition.state["name"], woken))
    create_elapsed = time.perf_counter() - started
    for name, woken in contexts[:50]:
        woken.clear()
        sent = time.perf_counter()
        server.set_status("pods", NAMESPACE, name, {"phase": "Running"})
        woken.wait(10)
        latencies.append(time.perf_counter() - sent)
    handler.close()
    print(f"first round (build + validate + create over HTTP): {PODS / create_elapsed:,.0f} attempts/s")
    print(
        f"status change to ctx.notify through the informer's watch: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )


def end_to_end(root: Path) -> None:
    with KubeTestServer(kubelet=KubeletOptions(work_dir=root / "kubelet")) as server:
        server.create_namespace(NAMESPACE)
        handler = PodHandler()
        config = handler_config(server.write_kubeconfig(root / "kubeconfig2"))
        started = time.perf_counter()
        pending = {}
        for i in range(TASKS):
            woken = threading.Event()
            ctx = dataclasses.replace(
                make_context(root, program_task("nothing"), config, execution=f"t{i}"), notify=woken.set
            )
            transition = handler.handle(ctx)
            pending[i] = (dataclasses.replace(ctx, state=transition.state), woken)
        while pending:
            for i, (ctx, woken) in list(pending.items()):
                if not woken.wait(0.01):
                    continue
                woken.clear()
                transition = handler.handle(ctx)
                if transition.phase is TaskPhase.SUCCESS:
                    del pending[i]
        elapsed = time.perf_counter() - started
        handler.close()
    print(
        f"tasks run to success as pods (kubelet starts a Python process each): {TASKS / elapsed:.1f} tasks/s"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, KubeTestServer() as server:
        root = Path(folder)
        server.create_namespace(NAMESPACE)
        admission(server)
        creates_and_wakeups(server, root)
        end_to_end(root)


if __name__ == "__main__":
    main()
