"""Typed settings built from a handler's configuration section (``ctx.config``).

Every option is a dataclass field whose docstring is its documentation; the README lists them all. An
unknown key, or a value of the wrong shape, is a :class:`~roost_core.errors.ConfigurationError` naming
it. Durations are seconds, as a number or a string with a unit (``"90s"``, ``"3m"``, ``"1h"``).
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from roost_core.errors import ConfigurationError
from roost_k8s_pod._quantity import QuantityError, parse_quantity

__all__ = ["ClusterSettings", "K8sSettings", "LogLink", "PodSettings"]

S = TypeVar("S", bound="K8sSettings")
Parser = Callable[[str, Any], Any]


def _option(default: Any, parse: Parser, *, factory: bool = False) -> Any:
    if factory:
        return field(default_factory=default, metadata={"parse": parse})
    return field(default=default, metadata={"parse": parse})


def _fail(option: str, expected: str, value: Any) -> ConfigurationError:
    return ConfigurationError(f"option {option!r} must be {expected}, got {value!r}")


def _string(option: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(option, "a string", value)
    return value


def _boolean(option: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(option, "true or false", value)
    return value


def _whole(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(option, "a whole number >= 0", value)
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _seconds(option: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _fail(option, "a duration (seconds, or a string such as '90s' or '3m')", value)
    if isinstance(value, int | float):
        if value < 0:
            raise _fail(option, "a duration >= 0", value)
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise _fail(option, "a duration (seconds, or a string such as '90s' or '3m')", value)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _positive_seconds(option: str, value: Any) -> float:
    seconds = _seconds(option, value)
    if seconds <= 0:
        raise _fail(option, "a duration > 0", value)
    return seconds


def _strings(option: str, value: Any) -> tuple[str, ...]:
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        raise _fail(option, "a non-empty list of strings", value)
    return tuple(value)


def _string_map(option: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(option, "a mapping of strings to strings", value)
    return dict(value)


def _mapping(option: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(option, "a mapping", value)
    return dict(value)


def _optional_mapping(option: str, value: Any) -> dict[str, Any] | None:
    return None if value is None else _mapping(option, value)


def _mappings(option: str, value: Any) -> tuple[dict[str, Any], ...]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, Mapping) for v in value)
    ):
        raise _fail(option, "a list of mappings", value)
    return tuple(dict(v) for v in value)


def _choice(*choices: str) -> Parser:
    def parse(option: str, value: Any) -> str:
        if value not in choices:
            raise _fail(option, "one of " + ", ".join(repr(c) for c in choices), value)
        return str(value)

    return parse


def _quantities(option: str, value: Any) -> dict[str, str]:
    result = _string_map(
        option, {k: str(v) for k, v in value.items()} if isinstance(value, Mapping) else value
    )
    for name, quantity in result.items():
        try:
            parse_quantity(quantity)
        except QuantityError as exc:
            raise ConfigurationError(f"option {option!r}: {name}: {exc}") from None
    return result


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """How to reach one cluster: a kubeconfig file and context, or the in-cluster service account."""

    kubeconfig: str = ""
    """The kubeconfig file; empty: ``$KUBECONFIG`` or ``~/.kube/config``."""
    context: str = ""
    """The kubeconfig context; empty: the file's current context."""
    in_cluster: bool = False
    """Use the service account of the pod the engine runs in instead of a kubeconfig."""


def _clusters(option: str, value: Any) -> dict[str, ClusterSettings]:
    if not isinstance(value, Mapping) or not value:
        raise _fail(option, "a non-empty mapping of cluster name to {kubeconfig, context, in_cluster}", value)
    clusters = {}
    for name, entry in value.items():
        if not isinstance(name, str) or not isinstance(entry, Mapping):
            raise _fail(option, "a mapping of cluster name to {kubeconfig, context, in_cluster}", value)
        unknown = sorted(set(entry) - {"kubeconfig", "context", "in_cluster"})
        if unknown:
            raise ConfigurationError(
                f"option {option!r}: cluster {name!r} has unknown key(s) {', '.join(unknown)}; known: kubeconfig, "
                "context, in_cluster"
            )
        clusters[name] = ClusterSettings(
            kubeconfig=_string(f"{option}.{name}.kubeconfig", entry.get("kubeconfig", "")),
            context=_string(f"{option}.{name}.context", entry.get("context", "")),
            in_cluster=_boolean(f"{option}.{name}.in_cluster", entry.get("in_cluster", False)),
        )
    return clusters


@dataclass(frozen=True, slots=True)
class LogLink:
    """A log link shown with a task attempt: its name and URL template (Flyte's ``{{ .podName }}`` syntax)."""

    name: str
    template: str


def _log_links(option: str, value: Any) -> tuple[LogLink, ...]:
    links = []
    for entry in _mappings(option, value):
        if set(entry) != {"name", "template"} or not all(isinstance(v, str) for v in entry.values()):
            raise _fail(option, "a list of {name, template} mappings", value)
        links.append(LogLink(entry["name"], entry["template"]))
    return tuple(links)


_TEMPLATE_FIELDS = {"project", "domain"}


def _namespace_template(option: str, value: Any) -> str:
    text = _string(option, value)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ConfigurationError(f"option {option!r}: {exc} in {text!r}") from None
    unknown = sorted(names - _TEMPLATE_FIELDS)
    if unknown:
        raise ConfigurationError(
            f"option {option!r}: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)} in {text!r}; "
            "known: {project}, {domain}"
        )
    return text


@dataclass(frozen=True, slots=True)
class K8sSettings:
    """Options of the shared Kubernetes machinery, common to every Kubernetes handler."""

    clusters: Mapping[str, ClusterSettings] = _option(
        lambda: {"default": ClusterSettings()}, _clusters, factory=True
    )
    """Cluster name → how to reach it. Default: one cluster ``default`` from the usual kubeconfig."""
    default_cluster: str = _option("default", _string)
    """The cluster used when the execution has no cluster label."""
    cluster_label: str = _option("cluster", _string)
    """The execution label whose value names the cluster to run on."""
    namespace_template: str = _option("{project}-{domain}", _namespace_template)
    """The namespace of an execution's objects; placeholders ``{project}`` and ``{domain}``."""
    default_labels: Mapping[str, str] = _option(dict, _string_map, factory=True)
    """Labels added to every object."""
    default_annotations: Mapping[str, str] = _option(dict, _string_map, factory=True)
    """Annotations added to every object."""
    delete_on_finalize: bool = _option(True, _boolean)
    """Delete an attempt's objects once it ended (or was aborted)."""
    keep_failed_resources: bool = _option(False, _boolean)
    """Keep the objects of failed attempts for inspection (delete_on_finalize still deletes the rest)."""
    log_links: tuple[LogLink, ...] = _option((), _log_links)
    """Log links per attempt: a list of ``{name, template}``. Template variables: ``namespace``, ``podName``
    (the object's name), ``podUID``, ``cluster``, ``executionName``, ``executionProject``,
    ``executionDomain``, ``nodeID``, ``generatedName``, ``taskRetryAttempt``, ``taskID``, ``taskVersion``,
    ``taskProject``, ``taskDomain``, and for pods ``containerName``, ``hostname``, ``podUnixStartTime``,
    ``podUnixFinishTime``, ``podRFC3339StartTime``, ``podRFC3339FinishTime``."""
    informer_scope: str = _option("namespace", _choice("namespace", "cluster"))
    """Watch each namespace on its own (``namespace``, needs only namespaced permissions) or all
    namespaces with one watch per cluster (``cluster``)."""
    resync_interval: float = _option(60.0, _positive_seconds)
    """How often an informer lists its objects again, catching any change a watch missed."""
    watch_timeout: float = _option(300.0, _positive_seconds)
    """How long one watch request lasts before the informer starts the next one from where it was."""
    recheck_interval: float = _option(30.0, _positive_seconds)
    """Longest time between two looks at an attempt, should a watch wake-up get lost."""
    request_timeout: float = _option(30.0, _positive_seconds)
    """Timeout of every other API call."""
    quota_backoff_base: float = _option(2.0, _positive_seconds)
    """First wait after a create was refused for an exceeded ResourceQuota; doubles each time."""
    quota_backoff_max: float = _option(120.0, _positive_seconds)
    """Longest wait between two tries of a create refused for quota."""
    max_api_failures: int = _option(5, _whole)
    """Consecutive failed API calls (unreachable server, 5xx, throttling) tolerated before the attempt fails
    with a retryable SYSTEM error."""

    @classmethod
    def from_config(cls: type[S], section: Mapping[str, Any], *, where: str) -> S:
        """Check ``section``; an unknown option or a bad value is a ConfigurationError naming it and ``where``."""
        fields = dataclasses.fields(cls)
        known = {f.name for f in fields}
        unknown = sorted(str(k) for k in section if k not in known)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = {}
        try:
            for f in fields:
                if f.name in section:
                    values[f.name] = f.metadata["parse"](f.name, section[f.name])
            settings = cls(**values)
            settings.check()
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        return settings

    def check(self) -> None:
        """Checks across options; subclasses extend it."""
        if self.default_cluster not in self.clusters:
            raise ConfigurationError(
                f"default_cluster {self.default_cluster!r} is not one of the clusters ({', '.join(sorted(self.clusters))})"
            )
        if self.quota_backoff_max < self.quota_backoff_base:
            raise ConfigurationError("quota_backoff_max must be at least quota_backoff_base")


@dataclass(frozen=True, slots=True)
class PodSettings(K8sSettings):
    """Options of the Pod handler: the machinery's, plus how pods are built and judged."""

    default_cpu: str = _option("500m", lambda o, v: _quantities(o, {"cpu": v})["cpu"])
    """CPU request of a container that sets none (its limit defaults to the request)."""
    default_memory: str = _option("1Gi", lambda o, v: _quantities(o, {"memory": v})["memory"])
    """Memory request of a container that sets none (its limit defaults to the request)."""
    max_resources: Mapping[str, str] = _option(dict, _quantities, factory=True)
    """Caps per resource (``cpu``, ``memory``, ``ephemeral-storage``, the GPU resource): requests and limits
    above are lowered to them, as Flyte's platform limits do."""
    gpu_resource_name: str = _option("nvidia.com/gpu", _string)
    """The extended resource a task's GPU request becomes."""
    image_pull_policy: str = _option("", _choice("", "Always", "IfNotPresent", "Never"))
    """Image pull policy of the primary container; empty leaves Kubernetes' default."""
    service_account: str = _option("", _string)
    """Service account of pods whose task names none."""
    scheduler_name: str = _option("", _string)
    """Scheduler of every pod; empty leaves the cluster's default."""
    default_env: Mapping[str, str] = _option(dict, _string_map, factory=True)
    """Environment variables added to every container (they win over the task's)."""
    default_tolerations: tuple[dict[str, Any], ...] = _option((), _mappings)
    """Tolerations of every pod."""
    default_node_selector: Mapping[str, str] = _option(dict, _string_map, factory=True)
    """Node selector of every pod."""
    default_affinity: Mapping[str, Any] | None = _option(None, _optional_mapping)
    """Affinity of pods that set none."""
    interruptible_tolerations: tuple[dict[str, Any], ...] = _option((), _mappings)
    """Tolerations added to interruptible (spot) pods."""
    interruptible_node_selector: Mapping[str, str] = _option(dict, _string_map, factory=True)
    """Node selector labels added to interruptible pods."""
    interruptible_node_selector_requirement: Mapping[str, Any] | None = _option(None, _optional_mapping)
    """A required node affinity term added to interruptible pods (``{key, operator, values}``)."""
    non_interruptible_node_selector_requirement: Mapping[str, Any] | None = _option(None, _optional_mapping)
    """A required node affinity term added to pods that are not interruptible."""
    resource_tolerations: Mapping[str, tuple[dict[str, Any], ...]] = _option(
        dict, lambda o, v: {k: _mappings(f"{o}.{k}", t) for k, t in _mapping(o, v).items()}, factory=True
    )
    """Resource name → tolerations added to pods that request it (GPU nodes)."""
    default_pod_template: Mapping[str, Any] | None = _option(None, _optional_mapping)
    """The base every pod is merged onto: a PodTemplateSpec (``{metadata, spec}``). Containers named
    ``default`` apply to every container, ``primary`` to the primary one, as in Flyte."""
    pod_templates: Mapping[str, Mapping[str, Any]] = _option(dict, _mapping, factory=True)
    """Named PodTemplateSpecs a task selects with ``metadata.pod_template_name``."""
    active_deadline: float = _option(0.0, _seconds)
    """``activeDeadlineSeconds`` of pods whose task sets no timeout (0: none). A task timeout sets it."""
    image_pull_backoff_grace_period: float = _option(180.0, _seconds)
    """How long a pod may sit in ImagePullBackOff before the attempt fails (retryable, SYSTEM)."""
    create_container_error_grace_period: float = _option(180.0, _seconds)
    """How long a container may sit in CreateContainerError before the attempt fails."""
    create_container_config_error_grace_period: float = _option(0.0, _seconds)
    """How long a container may sit in CreateContainerConfigError (a missing Secret) before failing."""
    pod_pending_timeout: float = _option(0.0, _seconds)
    """Longest time a pod may stay Pending (0: no limit)."""
    log_tail_lines: int = _option(20, _whole)
    """Lines of a failed container's log put into the error when it wrote no ``error.pb``."""
    copilot_image: str = _option("", _string)
    """The image of the copilot containers that move the data of raw containers with a ``data_config``
    (``ContainerTask``): one with roost-k8s-pod installed. Such tasks fail until it is set."""
    copilot_command: tuple[str, ...] = _option(("roost-copilot",), _strings)
    """The copilot's command in that image."""
    copilot_cpu: str = _option("500m", lambda o, v: _quantities(o, {"cpu": v})["cpu"])
    """CPU request and limit of each copilot container."""
    copilot_memory: str = _option("128Mi", lambda o, v: _quantities(o, {"memory": v})["memory"])
    """Memory request and limit of each copilot container."""
    copilot_timeout: float = _option(3600.0, _positive_seconds)
    """Longest upload of a raw container's outputs; also the pod's termination grace period."""

    def check(self) -> None:
        """Also: templates are mappings with a spec."""
        K8sSettings.check(self)
        templates = dict(self.pod_templates)
        if self.default_pod_template is not None:
            templates["default_pod_template"] = self.default_pod_template
        for name, template in templates.items():
            if not isinstance(template, Mapping) or not isinstance(template.get("spec", {}), Mapping):
                raise ConfigurationError(
                    f"pod template {name!r} must be a PodTemplateSpec ({{metadata, spec}})"
                )
