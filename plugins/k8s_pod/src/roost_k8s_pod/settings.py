"""Typed settings of Kubernetes handlers: the shared ``engine.kubernetes`` section and the Pod handler's own.

:class:`KubernetesSettings` is what every Kubernetes handler (Pod, and Spark, Ray or MPI built on the
toolkit) reads: how to reach the clusters and watch objects, and the defaults of every pod they create
(resources, tolerations, node selectors, pod templates, the copilot). A handler's settings subclass
:class:`K8sHandlerSettings`, which reads that section and the shared ``engine.task_environment``; the
engine merges ``engine.handlers.<name>.kubernetes`` over the shared section, so each handler can override
any of it. Durations are seconds, as a number or a string with a unit (``"90s"``, ``"3m"``).
"""

from __future__ import annotations

import string
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from roost_core.settings import HandlerSettings, Seconds, SharedSettings, TaskEnvironment
from roost_k8s_pod._quantity import parse_quantity

__all__ = ["ClusterSettings", "K8sHandlerSettings", "KubernetesSettings", "LogLink", "PodSettings"]


def _quantity(value: Any) -> str:
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise ValueError("expected a Kubernetes quantity such as '500m' or '1Gi'")
    parse_quantity(text)  # a QuantityError (a ValueError) says what is wrong
    return text


Quantity = Annotated[str, BeforeValidator(_quantity)]
"""A Kubernetes quantity (``500m``, ``1Gi``, ``8``)."""
PositiveSeconds = Annotated[Seconds, Field(gt=0)]


def _quantities(value: dict[str, Any]) -> dict[str, str]:
    return {name: _quantity(quantity) for name, quantity in value.items()}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ClusterSettings(_Frozen):
    """How to reach one cluster: a kubeconfig file and context, or the in-cluster service account."""

    kubeconfig: str = ""
    """The kubeconfig file; empty: ``$KUBECONFIG`` or ``~/.kube/config``."""
    context: str = ""
    """The kubeconfig context; empty: the file's current context."""
    in_cluster: bool = False
    """Use the service account of the pod the engine runs in instead of a kubeconfig."""


class LogLink(_Frozen):
    """A log link shown with a task attempt: its name and URL template (Flyte's ``{{ .podName }}`` syntax)."""

    name: str
    template: str


_TEMPLATE_FIELDS = {"project", "domain"}


class KubernetesSettings(SharedSettings):
    """``engine.kubernetes``: the clusters, how objects are watched, and the defaults of every pod."""

    section: ClassVar[str] = "kubernetes"

    clusters: dict[str, ClusterSettings] = Field(default_factory=lambda: {"default": ClusterSettings()})
    """Cluster name → how to reach it. Default: one cluster ``default`` from the usual kubeconfig."""
    default_cluster: str = "default"
    """The cluster used when the execution has no cluster label."""
    cluster_label: str = "cluster"
    """The execution label whose value names the cluster to run on."""
    namespace_template: str = "{project}-{domain}"
    """The namespace of an execution's objects; placeholders ``{project}`` and ``{domain}``."""
    default_labels: dict[str, str] = Field(default_factory=dict)
    """Labels added to every object."""
    default_annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations added to every object."""
    delete_on_finalize: bool = True
    """Delete an attempt's objects once it ended (or was aborted)."""
    keep_failed_resources: bool = False
    """Keep the objects of failed attempts for inspection (delete_on_finalize still deletes the rest)."""
    log_links: tuple[LogLink, ...] = ()
    """Log links per attempt: a list of ``{name, template}``. Template variables: ``namespace``, ``podName``
    (the object's name), ``podUID``, ``cluster``, ``executionName``, ``executionProject``,
    ``executionDomain``, ``nodeID``, ``generatedName``, ``taskRetryAttempt``, ``taskID``, ``taskVersion``,
    ``taskProject``, ``taskDomain``, and for pods ``containerName``, ``hostname``, ``podUnixStartTime``,
    ``podUnixFinishTime``, ``podRFC3339StartTime``, ``podRFC3339FinishTime``."""
    informer_scope: Literal["namespace", "cluster"] = "namespace"
    """Watch each namespace on its own (``namespace``, needs only namespaced permissions) or all
    namespaces with one watch per cluster (``cluster``)."""
    resync_interval: PositiveSeconds = 60.0
    """How often an informer lists its objects again, catching any change a watch missed."""
    watch_timeout: PositiveSeconds = 300.0
    """How long one watch request lasts before the informer starts the next one from where it was."""
    recheck_interval: PositiveSeconds = 30.0
    """Longest time between two looks at an attempt, should a watch wake-up get lost."""
    request_timeout: PositiveSeconds = 30.0
    """Timeout of every other API call."""
    quota_backoff_base: PositiveSeconds = 2.0
    """First wait after a create was refused for an exceeded ResourceQuota; doubles each time."""
    quota_backoff_max: PositiveSeconds = 120.0
    """Longest wait between two tries of a create refused for quota."""
    max_api_failures: int = Field(default=5, ge=0)
    """Consecutive failed API calls (unreachable server, 5xx, throttling) tolerated before the attempt fails
    with a retryable SYSTEM error."""

    # what every pod gets

    default_cpu: Quantity = "500m"
    """CPU request of a primary container that sets none (its limit defaults to the request)."""
    default_memory: Quantity = "1Gi"
    """Memory request of a primary container that sets none (its limit defaults to the request)."""
    max_resources: Annotated[dict[str, Any], AfterValidator(_quantities)] = Field(default_factory=dict)
    """Caps per resource (``cpu``, ``memory``, ``ephemeral-storage``, the GPU resource): requests and limits
    above are lowered to them, as Flyte's platform limits do."""
    gpu_resource_name: str = "nvidia.com/gpu"
    """The extended resource a task's GPU request becomes."""
    image_pull_policy: Literal["", "Always", "IfNotPresent", "Never"] = ""
    """Image pull policy of the primary container; empty leaves Kubernetes' default."""
    service_account: str = ""
    """Service account of pods whose task names none."""
    scheduler_name: str = ""
    """Scheduler of every pod; empty leaves the cluster's default."""
    default_tolerations: tuple[dict[str, Any], ...] = ()
    """Tolerations of every pod."""
    default_node_selector: dict[str, str] = Field(default_factory=dict)
    """Node selector of every pod."""
    default_affinity: dict[str, Any] | None = None
    """Affinity of pods that set none."""
    interruptible_tolerations: tuple[dict[str, Any], ...] = ()
    """Tolerations added to interruptible (spot) pods."""
    interruptible_node_selector: dict[str, str] = Field(default_factory=dict)
    """Node selector labels added to interruptible pods."""
    interruptible_node_selector_requirement: dict[str, Any] | None = None
    """A required node affinity term added to interruptible pods (``{key, operator, values}``)."""
    non_interruptible_node_selector_requirement: dict[str, Any] | None = None
    """A required node affinity term added to pods that are not interruptible."""
    resource_tolerations: dict[str, tuple[dict[str, Any], ...]] = Field(default_factory=dict)
    """Resource name → tolerations added to pods that request it (GPU nodes)."""
    default_pod_template: dict[str, Any] | None = None
    """The base every pod is merged onto: a PodTemplateSpec (``{metadata, spec}``). Containers named
    ``default`` apply to every container, ``primary`` to the primary one, as in Flyte."""
    pod_templates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Named PodTemplateSpecs a task selects with ``metadata.pod_template_name``."""
    active_deadline: Seconds = 0.0
    """``activeDeadlineSeconds`` of pods whose task sets no timeout (0: none). A task timeout sets it."""
    copilot_image: str = ""
    """The image of the copilot containers that move the data of raw containers with a ``data_config``
    (``ContainerTask``): one with roost-k8s-pod installed. Such tasks fail until it is set."""
    copilot_command: tuple[str, ...] = Field(default=("roost-copilot",), min_length=1)
    """The copilot's command in that image."""
    copilot_cpu: Quantity = "500m"
    """CPU request and limit of each copilot container."""
    copilot_memory: Quantity = "128Mi"
    """Memory request and limit of each copilot container."""
    copilot_timeout: PositiveSeconds = 3600.0
    """Longest upload of a raw container's outputs; also the pod's termination grace period."""

    @field_validator("namespace_template")
    @classmethod
    def _placeholders(cls, text: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        unknown = sorted(names - _TEMPLATE_FIELDS)
        if unknown:
            shown = ", ".join("{" + n + "}" for n in unknown)
            raise ValueError(f"unknown placeholder(s) {shown}; known: {{project}}, {{domain}}")
        return text

    @field_validator("default_pod_template")
    @classmethod
    def _default_template(cls, template: dict[str, Any] | None) -> dict[str, Any] | None:
        if template is not None and not isinstance(template.get("spec", {}), dict):
            raise ValueError("expected a PodTemplateSpec ({metadata, spec})")
        return template

    @field_validator("pod_templates")
    @classmethod
    def _named_templates(cls, templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, template in templates.items():
            if not isinstance(template.get("spec", {}), dict):
                raise ValueError(f"pod template {name!r} must be a PodTemplateSpec ({{metadata, spec}})")
        return templates

    @model_validator(mode="after")
    def _consistent(self) -> KubernetesSettings:
        if self.default_cluster not in self.clusters:
            raise ValueError(
                f"default_cluster {self.default_cluster!r} is not one of the clusters "
                f"({', '.join(sorted(self.clusters))})"
            )
        if self.quota_backoff_max < self.quota_backoff_base:
            raise ValueError("quota_backoff_max must be at least quota_backoff_base")
        return self


class K8sHandlerSettings(HandlerSettings):
    """The base of a Kubernetes handler's settings: the shared sections it reads (each overridable under
    the handler's own section); subclasses add the handler's options."""

    kubernetes: KubernetesSettings = KubernetesSettings()
    """``engine.kubernetes``, with this handler's overrides."""
    task_environment: TaskEnvironment = TaskEnvironment()
    """``engine.task_environment``, with this handler's overrides: ``env`` goes into every container."""


class PodSettings(K8sHandlerSettings):
    """The Pod handler's settings (``engine.handlers.k8s-pod``): the shared sections, plus how pods are judged."""

    image_pull_backoff_grace_period: Seconds = 180.0
    """How long a pod may sit in ImagePullBackOff before the attempt fails (retryable, SYSTEM)."""
    create_container_error_grace_period: Seconds = 180.0
    """How long a container may sit in CreateContainerError before the attempt fails."""
    create_container_config_error_grace_period: Seconds = 0.0
    """How long a container may sit in CreateContainerConfigError (a missing Secret) before failing."""
    pod_pending_timeout: Seconds = 0.0
    """Longest time a pod may stay Pending (0: no limit)."""
    log_tail_lines: int = Field(default=20, ge=0)
    """Lines of a failed container's log put into the error when it wrote no ``error.pb``."""
