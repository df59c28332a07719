"""Run with flytekit's interpreter: prints, as JSON, the ``custom`` flytekitplugins-ray 1.16 writes for each config
of ``CASES`` (the same configs as ``ray_cases.py`` builds with Roost's names)."""

from __future__ import annotations

import json
import sys

from flytekit import PodTemplate, Resources, task
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekitplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from flytekitplugins.ray.task import AutoscalerOptionsConfig
from kubernetes.client import V1Container, V1PodSpec, V1Toleration

CASES = {
    "minimal": RayJobConfig(worker_node_config=[WorkerNodeConfig("workers", 2)]),
    "full": RayJobConfig(
        head_node_config=HeadNodeConfig(ray_start_params={"log-color": "True", "num-cpus": "0"}),
        worker_node_config=[
            WorkerNodeConfig("small", 2, min_replicas=1, max_replicas=4, ray_start_params={"num-cpus": "1"}),
            WorkerNodeConfig("big", 1),
        ],
        runtime_env={"pip": ["numpy", "pandas"], "env_vars": {"MODE": "test"}},
        enable_autoscaling=True,
        shutdown_after_job_finishes=True,
        ttl_seconds_after_finished=60,
    ),
    "clamped": RayJobConfig(
        worker_node_config=[
            WorkerNodeConfig("a", 3, min_replicas=5),
            WorkerNodeConfig("b", 3, max_replicas=1),
        ]
    ),
    "resources": RayJobConfig(
        head_node_config=HeadNodeConfig(requests=Resources(cpu="1", mem="2Gi")),
        worker_node_config=[
            WorkerNodeConfig("gpu", 1, limits=Resources(cpu="2", mem="4Gi", gpu="1")),
            WorkerNodeConfig("both", 1, requests=Resources(cpu="1"), limits=Resources(cpu="2", mem="1Gi")),
        ],
    ),
    "pod_template": RayJobConfig(
        head_node_config=HeadNodeConfig(
            pod_template=PodTemplate(
                pod_spec=V1PodSpec(
                    containers=[V1Container(name="ray-head", image="head:1")],
                    tolerations=[V1Toleration(key="ray", operator="Exists")],
                ),
                primary_container_name="ray-head",
                labels={"team": "ml"},
                annotations={"note": "head"},
            )
        ),
        worker_node_config=[WorkerNodeConfig("w", 1)],
    ),
    "autoscaler": RayJobConfig(
        worker_node_config=[WorkerNodeConfig("w", 1, min_replicas=0, max_replicas=3)],
        enable_autoscaling=True,
        autoscaler_options=AutoscalerOptionsConfig(
            upscaling_mode=AutoscalerOptionsConfig.UpscalingMode.AGGRESSIVE,
            idle_timeout_seconds=30,
            env={"A": "1"},
            image="autoscaler:1",
            requests=Resources(cpu="500m"),
            limits=Resources(mem="512Mi"),
        ),
    ),
    "autoscaler_empty": RayJobConfig(
        worker_node_config=[WorkerNodeConfig("w", 1)], autoscaler_options=AutoscalerOptionsConfig()
    ),
}


def double(n: int) -> int:
    return 2 * n


def main() -> None:
    settings = SerializationSettings(image_config=ImageConfig(default_image=Image("d", "tests/image", "1")))
    out = {}
    for name, config in CASES.items():
        made = task(task_config=config)(double)
        out[name] = {"type": made.task_type, "custom": made.get_custom(settings)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
