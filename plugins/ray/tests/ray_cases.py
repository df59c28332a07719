"""The configs of ``flytekit_ray_side.py``, written with Roost's names (roost_ray, roost.Resources, and
roost_k8s_pod's PodTemplate)."""

from __future__ import annotations

from roost import Resources
from roost_k8s_pod import PodTemplate
from roost_ray import AutoscalerOptionsConfig, HeadNodeConfig, RayJobConfig, WorkerNodeConfig

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
                pod_spec={
                    "containers": [{"name": "ray-head", "image": "head:1"}],
                    "tolerations": [{"key": "ray", "operator": "Exists"}],
                },
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
            upscaling_mode=AutoscalerOptionsConfig.UpscalingMode.UPSCALING_MODE_AGGRESSIVE,
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
