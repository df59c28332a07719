"""Settings: the shared engine.kubernetes section and the Pod handler's own, typed, defaults documented, every
mistake refused at start with its key path and what was expected."""

from __future__ import annotations

import pytest

import roost_k8s_pod.engine
from roost_core.engine import EngineConfig
from roost_core.errors import SettingsError
from roost_core.plugins import EnginePlugins
from roost_k8s_pod import ClusterSettings, LogLink, PodHandler, PodSettings


def pod_settings(**engine: object) -> PodSettings:
    """The Pod handler's settings from an ``engine`` section, as an engine builds them."""
    plugins = EnginePlugins([roost_k8s_pod.engine], entry_points=False)
    handler = plugins.handlers(EngineConfig.from_mapping(engine)).by_name("k8s-pod")
    assert isinstance(handler, PodHandler)
    settings = handler.settings
    assert isinstance(settings, PodSettings)
    return settings


def test_defaults():
    settings = pod_settings()
    kubernetes = settings.kubernetes
    assert kubernetes.clusters == {"default": ClusterSettings()}
    assert kubernetes.namespace_template == "{project}-{domain}"
    assert kubernetes.cluster_label == "cluster"
    assert kubernetes.default_cpu == "500m" and kubernetes.default_memory == "1Gi"
    assert kubernetes.delete_on_finalize and not kubernetes.keep_failed_resources
    assert settings.image_pull_backoff_grace_period == 180.0
    assert settings.task_environment.env == {}


def test_values_are_parsed_and_the_handler_overrides_the_shared_section():
    settings = pod_settings(
        kubernetes={
            "clusters": {"a": {"kubeconfig": "/k", "context": "ctx"}, "b": {"in_cluster": True}},
            "default_cluster": "b",
            "resync_interval": 90,
            "log_links": [{"name": "logs", "template": "https://x/{{ .podName }}"}],
            "max_resources": {"cpu": 8, "memory": "64Gi"},
            "default_node_selector": {"pool": "shared"},
        },
        task_environment={"env": {"A": "shared"}},
        handlers={
            "k8s-pod": {
                "image_pull_backoff_grace_period": "3m",
                "kubernetes": {"default_node_selector": {"pool": "pods"}},
                "task_environment": {"env": {"B": "pods"}},
            }
        },
    )
    kubernetes = settings.kubernetes
    assert kubernetes.clusters["a"] == ClusterSettings(kubeconfig="/k", context="ctx")
    assert kubernetes.clusters["b"].in_cluster
    assert kubernetes.resync_interval == 90.0
    assert kubernetes.log_links == (LogLink(name="logs", template="https://x/{{ .podName }}"),)
    assert kubernetes.max_resources == {"cpu": "8", "memory": "64Gi"}
    assert kubernetes.default_node_selector == {"pool": "pods"}
    assert settings.image_pull_backoff_grace_period == 180.0
    assert settings.task_environment.env == {"A": "shared", "B": "pods"}


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (
            {"kubernetes": {"namespace_tmplate": "x"}},
            "engine.kubernetes.namespace_tmplate: unknown key; known: active_deadline, ",
        ),
        (
            {"handlers": {"k8s-pod": {"namespace_template": "x"}}},
            "engine.handlers.k8s-pod.namespace_template: unknown key; known: create_container_config_error_grace_"
            "period, create_container_error_grace_period, image_pull_backoff_grace_period, kubernetes, "
            "log_tail_lines, pod_pending_timeout, task_environment",
        ),
        (
            {"kubernetes": {"resync_interval": "soon"}},
            "engine.kubernetes.resync_interval: expected a duration (seconds, or a string such as '90s' or '3m'), "
            "got 'soon'",
        ),
        (
            {"kubernetes": {"resync_interval": 0}},
            "engine.kubernetes.resync_interval: input should be greater than 0, got 0",
        ),
        (
            {"kubernetes": {"keep_failed_resources": "perhaps"}},
            "engine.kubernetes.keep_failed_resources: input should be a valid boolean, unable to interpret input, "
            "got 'perhaps'",
        ),
        (
            {"handlers": {"k8s-pod": {"kubernetes": {"namespace_template": "{project}-{team}"}}}},
            "engine.handlers.k8s-pod.kubernetes.namespace_template: unknown placeholder(s) {team}; known: "
            "{project}, {domain}, got '{project}-{team}'",
        ),
        (
            {"kubernetes": {"default_cluster": "elsewhere"}},
            "engine.kubernetes: default_cluster 'elsewhere' is not one of the clusters (default), got ",
        ),
        (
            {"kubernetes": {"clusters": {"a": {"kube_config": "/k"}}, "default_cluster": "a"}},
            "engine.kubernetes.clusters.a.kube_config: unknown key; known: context, in_cluster, kubeconfig",
        ),
        (
            {"kubernetes": {"max_resources": {"cpu": "lots"}}},
            "engine.kubernetes.max_resources: quantities must match the regular expression",
        ),
        (
            {"kubernetes": {"image_pull_policy": "Sometimes"}},
            "engine.kubernetes.image_pull_policy: input should be '', 'Always', 'IfNotPresent' or 'Never', "
            "got 'Sometimes'",
        ),
        (
            {"kubernetes": {"log_links": [{"name": "x"}]}},
            "engine.kubernetes.log_links.0.template: required, but not given",
        ),
        (
            {"kubernetes": {"pod_templates": {"t": {"spec": []}}}},
            "engine.kubernetes.pod_templates: pod template 't' must be a PodTemplateSpec ({metadata, spec})",
        ),
        (
            {"handlers": {"k8s-pod": {"log_tail_lines": -1}}},
            "engine.handlers.k8s-pod.log_tail_lines: input should be greater than or equal to 0, got -1",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_key_and_what_was_expected(engine, message):
    with pytest.raises(SettingsError) as refused:
        pod_settings(**engine)
    assert str(refused.value).startswith(message)


def test_the_kubernetes_section_is_unknown_without_a_handler_reading_it():
    with pytest.raises(SettingsError, match=r"^engine.kubernetes: unknown key; known: "):
        EnginePlugins(entry_points=False).handlers(EngineConfig.from_mapping({"kubernetes": {}}))
