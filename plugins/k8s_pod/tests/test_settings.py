"""Settings: typed, defaults documented, unknown keys and bad values refused with a message naming them."""

from __future__ import annotations

import pytest

from roost_core.errors import ConfigurationError
from roost_k8s_pod import ClusterSettings, K8sSettings, LogLink, PodSettings


def test_defaults():
    settings = PodSettings.from_config({}, where="handler 'k8s-pod'")
    assert settings.clusters == {"default": ClusterSettings()}
    assert settings.namespace_template == "{project}-{domain}"
    assert settings.cluster_label == "cluster"
    assert settings.default_cpu == "500m" and settings.default_memory == "1Gi"
    assert settings.image_pull_backoff_grace_period == 180.0
    assert settings.delete_on_finalize and not settings.keep_failed_resources


def test_values_are_parsed():
    settings = PodSettings.from_config(
        {
            "clusters": {"a": {"kubeconfig": "/k", "context": "ctx"}, "b": {"in_cluster": True}},
            "default_cluster": "b",
            "image_pull_backoff_grace_period": "3m",
            "resync_interval": 90,
            "log_links": [{"name": "logs", "template": "https://x/{{ .podName }}"}],
            "max_resources": {"cpu": 8, "memory": "64Gi"},
        },
        where="handler 'k8s-pod'",
    )
    assert settings.clusters["a"] == ClusterSettings(kubeconfig="/k", context="ctx")
    assert settings.clusters["b"].in_cluster
    assert settings.image_pull_backoff_grace_period == 180.0
    assert settings.resync_interval == 90.0
    assert settings.log_links == (LogLink("logs", "https://x/{{ .podName }}"),)
    assert settings.max_resources == {"cpu": "8", "memory": "64Gi"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"namespace_tmplate": "x", "colour": 1},
            "handler 'k8s-pod': unknown option(s) colour, namespace_tmplate; known: ",
        ),
        (
            {"resync_interval": "soon"},
            "handler 'k8s-pod': option 'resync_interval' must be a duration (seconds, or a string such as '90s' or '3m'), "
            "got 'soon'",
        ),
        ({"resync_interval": 0}, "handler 'k8s-pod': option 'resync_interval' must be a duration > 0, got 0"),
        (
            {"keep_failed_resources": "yes"},
            "handler 'k8s-pod': option 'keep_failed_resources' must be true or false, got 'yes'",
        ),
        (
            {"namespace_template": "{project}-{team}"},
            "handler 'k8s-pod': option 'namespace_template': unknown placeholder(s) {team} in '{project}-{team}'; "
            "known: {project}, {domain}",
        ),
        (
            {"default_cluster": "elsewhere"},
            "handler 'k8s-pod': default_cluster 'elsewhere' is not one of the clusters (default)",
        ),
        (
            {"clusters": {"a": {"kube_config": "/k"}}, "default_cluster": "a"},
            "handler 'k8s-pod': option 'clusters': cluster 'a' has unknown key(s) kube_config; known: kubeconfig, "
            "context, in_cluster",
        ),
        (
            {"max_resources": {"cpu": "lots"}},
            "handler 'k8s-pod': option 'max_resources': cpu: quantities must match the regular expression",
        ),
        (
            {"image_pull_policy": "Sometimes"},
            "handler 'k8s-pod': option 'image_pull_policy' must be one of '', 'Always', 'IfNotPresent', 'Never', "
            "got 'Sometimes'",
        ),
        (
            {"log_links": [{"name": "x"}]},
            "handler 'k8s-pod': option 'log_links' must be a list of {name, template} mappings, got [{'name': 'x'}]",
        ),
        (
            {"pod_templates": {"t": {"spec": []}}},
            "handler 'k8s-pod': pod template 't' must be a PodTemplateSpec ({metadata, spec})",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_option(section, message):
    with pytest.raises(ConfigurationError) as refused:
        PodSettings.from_config(section, where="handler 'k8s-pod'")
    assert str(refused.value).startswith(message)


def test_machinery_settings_refuse_pod_options():
    with pytest.raises(ConfigurationError, match="unknown option\\(s\\) default_cpu"):
        K8sSettings.from_config({"default_cpu": "1"}, where="handler 'spark'")
