"""The shared Kubernetes resource machinery: what every Kubernetes handler (Pod, Spark, Ray, MPI) reuses.

A plugin subclasses :class:`K8sResourceHandler`, names its kind, and supplies two methods::

    class SparkHandler(K8sResourceHandler):
        name = "spark"
        resource_kind = ResourceKind("sparkoperator.k8s.io/v1beta2", "SparkApplication", "sparkapplications")

        def build_resource(self, ctx: ResourceContext) -> dict:
            return {"apiVersion": ..., "kind": "SparkApplication", "spec": {...}}   # a plain object

        def phase_of(self, ctx: ResourceContext, obj: Mapping) -> Transition:
            ...                                  # the object's status as a phase

and optionally :meth:`~K8sResourceHandler.abort_behavior` (patch instead of delete),
:meth:`~K8sResourceHandler.extra_resources` (objects created first and deleted with it),
:meth:`~K8sResourceHandler.on_deleted`, :meth:`~K8sResourceHandler.log_variables` and
:meth:`~K8sResourceHandler.log_links` (links for the pods an operator makes, with :func:`render_log_links`).
:meth:`~K8sResourceHandler.watch_related` follows such a pod (the attempt is woken when it changes).

The machinery does the rest. The first ``handle`` of an attempt picks the cluster (the execution's
cluster label), the namespace (the namespace template) and a deterministic name (Flyte's
``<execution>-<node>-<attempt>``), adds the identity labels and annotations, and creates the object; an
``AlreadyExists`` answer is success, so a retried round never makes a second one. A create refused for
an exceeded ResourceQuota waits (WAITING_FOR_RESOURCES, backing off) unless the request could never fit.
From then on an informer per cluster, kind and namespace watches the objects and wakes the attempt's
execution (``ctx.notify``) when its object changes; ``handle`` maps the cached object through
``phase_of``. The plugin state holds only the cluster, namespace and name (and small counters), so a new
engine process picks up the attempt through its informer without creating anything. ``abort`` deletes
(or patches) the object; ``finalize`` deletes it unless configured to keep it.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from flyteidl.core import tasks_pb2

from roost_core.container import generated_name
from roost_core.errors import ConfigurationError, ErrorKind, RoostError
from roost_core.handler import TaskContext, TaskHandler, TaskLog, TaskPhase, Transition
from roost_core.settings import TaskEnvironment
from roost_k8s_pod._quantity import QuantityError, parse_quantity
from roost_k8s_pod.informer import CachedObject, Informer, Informers
from roost_k8s_pod.kube import Clusters, KubeApiError, KubeClient, KubeUnavailableError, ResourceKind
from roost_k8s_pod.settings import K8sHandlerSettings, KubernetesSettings

__all__ = [
    "MANAGED_BY_LABEL",
    "AbortBehavior",
    "BuildError",
    "K8sResourceHandler",
    "ResourceContext",
    "render_log_links",
    "sanitize_label_value",
]

MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "roost")
"""Every object the machinery creates carries this label; informers select on it."""
ANNOTATION_PREFIX = "roost.io/"

_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9.-]+")
_INVALID_LABEL_CHARS = re.compile(r"[^a-z0-9-]+")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LOG_VARIABLE = re.compile(r"\{\{\s*[.$]([A-Za-z0-9_]+)\s*\}\}")
_QUOTA_PARTS = re.compile(r"(requested|used|limited): ([^,\s]+=[^,\s]+(?:,[^,\s]+=[^,\s]+)*)")


class BuildError(RoostError):
    """Raised by ``build_resource`` when the task cannot become an object: a permanent failure (USER unless
    ``kind`` says otherwise)."""

    def __init__(
        self, message: str, *, code: str = "BadTaskSpecification", kind: ErrorKind = ErrorKind.USER
    ) -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


@dataclass(frozen=True, slots=True)
class AbortBehavior:
    """How ``abort`` stops an object: delete it (the default), or apply a JSON merge ``patch``.

    With ``delete_on_error`` a patch that fails is followed by a delete.
    """

    patch: Mapping[str, Any] | None = None
    delete_on_error: bool = False


@dataclass(frozen=True, slots=True)
class ResourceContext:
    """What a plugin's methods are given: the task attempt, the handler's settings, and where its object lives."""

    task_context: TaskContext
    settings: K8sHandlerSettings
    """The handler's settings (its own subclass of :class:`K8sHandlerSettings`)."""
    cluster: str
    namespace: str
    name: str
    """The object's name: deterministic per attempt, a valid DNS-1123 subdomain."""

    @property
    def task(self) -> tasks_pb2.TaskTemplate:
        """The task template."""
        return self.task_context.task

    @property
    def kubernetes(self) -> KubernetesSettings:
        """The shared Kubernetes settings as this handler sees them (with its overrides)."""
        return self.settings.kubernetes

    @property
    def task_environment(self) -> TaskEnvironment:
        """The shared task environment as this handler sees it (with its overrides)."""
        return self.settings.task_environment

    @property
    def interruptible(self) -> bool:
        """True when the attempt may run on preemptible capacity."""
        return self.task_context.interruptible

    def describe(self) -> str:
        """``task 'name' (execution p/d/e, node n0, attempt 0)``, how messages name the attempt."""
        ctx = self.task_context
        execution = ctx.task_execution_id.node_execution_id.execution_id
        return (
            f"task {ctx.task.id.name!r} (execution {execution.project}/{execution.domain}/{execution.name}, "
            f"node {ctx.node_id}, attempt {ctx.attempt})"
        )


def sanitize_label_value(value: str) -> str:
    """A label value made from any text, as Flyte does: lower case, '-' for the rest, at most 63 long."""
    value = _INVALID_LABEL_CHARS.sub("-", value.lower())[:63]
    return value.strip("-")


def _object_name(text: str) -> str:
    """A DNS-1123 subdomain made from an attempt's generated name."""
    name = _INVALID_NAME_CHARS.sub("-", text.lower()).strip(".-")
    return name[:253].rstrip(".-") or "roost-task"


class K8sResourceHandler(TaskHandler):
    """The base of Kubernetes handlers; see the module docstring.

    Subclasses set ``resource_kind`` and ``settings_class`` (a subclass of :class:`K8sHandlerSettings` with
    their own options), and register the class as the factory with that settings class: the engine builds
    it once with the validated settings. One instance serves every attempt from many threads; clients and
    informers are made on first use and stopped by :meth:`close`.
    """

    resource_kind: ClassVar[ResourceKind]
    settings_class: ClassVar[type[K8sHandlerSettings]] = K8sHandlerSettings
    state_version = 1

    def __init__(self, settings: K8sHandlerSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.settings_class()
        if not isinstance(self.settings, self.settings_class):
            raise TypeError(
                f"{type(self).__name__} needs {self.settings_class.__name__}, got {type(self.settings).__name__}"
            )
        self._clusters = Clusters()
        self._informers = Informers()

    # what a plugin supplies

    @abc.abstractmethod
    def build_resource(self, ctx: ResourceContext) -> dict[str, Any]:
        """The object to create, as a plain dict (apiVersion, kind, spec...); raise :class:`BuildError`
        for a task that cannot be expressed. Name, namespace, labels and annotations are added after."""

    @abc.abstractmethod
    def phase_of(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> Transition:
        """The attempt's phase given its object as last seen. No API calls that block for long here.

        On success, outputs must be in place (the task's own process writes them, or this method does).
        Logs are added by the machinery when the transition carries none.
        """

    def extra_resources(self, ctx: ResourceContext) -> Sequence[dict[str, Any]]:
        """Objects to create before the main one (ConfigMaps, Services) and delete with it. Their names
        are the plugin's to choose, deterministically; namespace and labels are added."""
        return ()

    def abort_behavior(self, ctx: ResourceContext) -> AbortBehavior:
        """How to stop the object on abort: delete by default."""
        return AbortBehavior()

    def on_deleted(self, ctx: ResourceContext, last_seen: Mapping[str, Any] | None) -> Transition:
        """The outcome when the object vanished while the attempt was running (``last_seen`` may be None)."""
        return Transition.failure(
            "ResourceDeletedExternally",
            f"{ctx.describe()}: {self.resource_kind.kind} {ctx.namespace}/{ctx.name} was deleted in cluster "
            f"{ctx.cluster!r} before it finished",
            kind=ErrorKind.SYSTEM,
        )

    def log_variables(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> dict[str, str]:
        """The variables of log link templates; subclasses add their own."""
        attempt = ctx.task_context.task_execution_id
        execution = attempt.node_execution_id.execution_id
        return {
            "namespace": ctx.namespace,
            "podName": ctx.name,
            "generatedName": ctx.name,
            "podUID": str((obj.get("metadata") or {}).get("uid", "")),
            "cluster": ctx.cluster,
            "executionName": execution.name,
            "executionProject": execution.project,
            "executionDomain": execution.domain,
            "nodeID": ctx.task_context.node_id,
            "taskRetryAttempt": str(attempt.retry_attempt),
            "taskID": attempt.task_id.name,
            "taskVersion": attempt.task_id.version,
            "taskProject": attempt.task_id.project,
            "taskDomain": attempt.task_id.domain,
        }

    def log_links(self, ctx: ResourceContext, obj: Mapping[str, Any]) -> tuple[TaskLog, ...]:
        """The attempt's log links (``kubernetes.log_links`` rendered with :meth:`log_variables`); a plugin
        whose object makes several pods overrides it to link each one (see :func:`render_log_links`)."""
        return render_log_links(ctx, self.log_variables(ctx, obj))

    def watch_related(self, ctx: ResourceContext, kind: ResourceKind, name: str) -> Mapping[str, Any] | None:
        """Another object of the attempt in its namespace (a pod the operator made from the attempt's object),
        as an informer of ``kind`` last saw it; None before it is seen and once it is deleted. The attempt is
        woken whenever it changes. Only objects labelled with :data:`MANAGED_BY_LABEL` are seen (give the
        operator's pod templates that label). :meth:`unwatch_related` ends it."""
        informer = self._informer(ctx, self._client(ctx), kind)
        informer.subscribe(ctx.namespace, name, ctx.task_context.notify)
        cached = informer.get(ctx.namespace, name)
        return None if cached is None or cached.deleted else cached.obj

    def unwatch_related(self, ctx: ResourceContext, kind: ResourceKind, name: str) -> None:
        """Stop following an object :meth:`watch_related` followed (at ``finalize``)."""
        with contextlib.suppress(ConfigurationError):
            self._informer(ctx, self._client(ctx), kind).unsubscribe(ctx.namespace, name)

    # the TaskHandler contract

    def handle(self, ctx: TaskContext) -> Transition:
        """Create the attempt's object (first round) or report on it; see the module docstring."""
        where = self._where(ctx)
        if isinstance(where, Transition):
            return where
        rctx = ResourceContext(ctx, self.settings, *where)
        try:
            client = self._client(rctx)
        except ConfigurationError as exc:
            return Transition.failure("BadConfiguration", str(exc), kind=ErrorKind.SYSTEM, retryable=False)
        if not ctx.state.get("created"):
            refused = self._create(rctx, client)
            if refused is not None:
                return refused
        return self._observe(rctx, client)

    def abort(self, ctx: TaskContext) -> None:
        """Delete the object, or apply the plugin's abort patch. Missing objects are fine."""
        rctx, client = self._for_cleanup(ctx)
        if rctx is None or client is None:
            return
        kind = self.resource_kind
        behavior = self.abort_behavior(rctx)
        if behavior.patch is not None:
            try:
                patched = client.merge_patch(kind, rctx.namespace, rctx.name, behavior.patch)
                self._informer(rctx, client).put(patched)
                return
            except KubeApiError as exc:
                if exc.status == 404:
                    return
                if not behavior.delete_on_error:
                    raise
            except KubeUnavailableError:
                if not behavior.delete_on_error:
                    raise
        _delete(client, kind, rctx.namespace, rctx.name)

    def finalize(self, ctx: TaskContext) -> None:
        """Stop watching; delete the object (and extras) unless configured to keep it."""
        rctx, client = self._for_cleanup(ctx)
        if rctx is None or client is None:
            return
        informer = self._informer(rctx, client)
        cached = informer.get(rctx.namespace, rctx.name)
        informer.unsubscribe(rctx.namespace, rctx.name)
        settings = rctx.kubernetes
        if not settings.delete_on_finalize:
            return
        if settings.keep_failed_resources and self._failed(rctx, client, cached):
            return
        _delete(client, self.resource_kind, rctx.namespace, rctx.name)
        try:
            extras = self.extra_resources(rctx)
        except BuildError:
            extras = ()
        for extra in extras:
            kind = ResourceKind(extra["apiVersion"], extra["kind"], _plural(extra))
            _delete(client, kind, rctx.namespace, extra["metadata"]["name"])

    def close(self) -> None:
        """Stop the informers and close the clients."""
        self._informers.close()
        self._clusters.close()

    def kube_client(self, ctx: ResourceContext) -> KubeClient:
        """The client of the attempt's cluster, for plugins that read more than the object (logs)."""
        return self._client(ctx)

    @property
    def informers(self) -> list[Informer]:
        """The running informers (for tests and diagnostics)."""
        return self._informers.all()

    # steps

    def _where(self, ctx: TaskContext) -> tuple[str, str, str] | Transition:
        settings = self.settings.kubernetes
        state = ctx.state
        if state.get("name"):
            return str(state["cluster"]), str(state["namespace"]), str(state["name"])
        execution = ctx.task_execution_id.node_execution_id.execution_id
        cluster = ctx.labels.get(settings.cluster_label) or settings.default_cluster
        if cluster not in settings.clusters:
            configured = ", ".join(sorted(settings.clusters))
            return Transition.failure(
                "UnknownCluster",
                f"task {ctx.task.id.name!r}: the execution's label {settings.cluster_label!r} names cluster "
                f"{cluster!r}, which is not configured; configured clusters: {configured}",
                retryable=False,
            )
        namespace = settings.namespace_template.format(project=execution.project, domain=execution.domain)
        if not (len(namespace) <= 63 and _DNS1123_LABEL.match(namespace)):
            return Transition.failure(
                "BadNamespace",
                f"task {ctx.task.id.name!r}: namespace_template {settings.namespace_template!r} gives {namespace!r}, "
                "which is not a valid namespace name (a DNS-1123 label)",
                kind=ErrorKind.SYSTEM,
                retryable=False,
            )
        name = _object_name(generated_name(execution.name, ctx.node_id, ctx.attempt))
        return cluster, namespace, name

    def _client(self, rctx: ResourceContext) -> KubeClient:
        settings = rctx.kubernetes
        cluster = settings.clusters.get(rctx.cluster)
        if cluster is None:
            raise ConfigurationError(
                f"cluster {rctx.cluster!r} (from the attempt's saved state) is no longer configured; configured: "
                f"{', '.join(sorted(settings.clusters))}"
            )
        return self._clusters.client(rctx.cluster, cluster, timeout=settings.request_timeout)

    def _informer(
        self, rctx: ResourceContext, client: KubeClient, kind: ResourceKind | None = None
    ) -> Informer:
        settings = rctx.kubernetes
        namespace = rctx.namespace if settings.informer_scope == "namespace" else None
        return self._informers.get(
            rctx.cluster,
            client,
            kind or self.resource_kind,
            namespace,
            label_selector="=".join(MANAGED_BY_LABEL),
            resync_interval=settings.resync_interval,
            watch_timeout=settings.watch_timeout,
        )

    def _create(self, rctx: ResourceContext, client: KubeClient) -> Transition | None:
        """Create the extras and the object; None on success (AlreadyExists included)."""
        try:
            extras = [
                self._decorate(rctx, extra, name=extra.get("metadata", {}).get("name", ""))
                for extra in self.extra_resources(rctx)
            ]
            obj = self._decorate(rctx, self.build_resource(rctx), name=rctx.name)
        except BuildError as exc:
            return Transition.failure(exc.code, f"{rctx.describe()}: {exc}", kind=exc.kind, retryable=False)
        informer = self._informer(rctx, client)
        informer.subscribe(rctx.namespace, rctx.name, rctx.task_context.notify)
        try:
            for extra in extras:
                kind = ResourceKind(extra["apiVersion"], extra["kind"], _plural(extra))
                _create_once(client, kind, rctx.namespace, extra)
            created = _create_once(client, self.resource_kind, rctx.namespace, obj)
        except KubeApiError as exc:
            return self._refused(rctx, exc)
        except KubeUnavailableError as exc:
            return self._trouble(rctx, exc, TaskPhase.NOT_READY)
        if created is not None:
            informer.put(created)
        return None

    def _observe(self, rctx: ResourceContext, client: KubeClient) -> Transition:
        informer = self._informer(rctx, client)
        informer.subscribe(rctx.namespace, rctx.name, rctx.task_context.notify)
        cached = informer.get(rctx.namespace, rctx.name)
        if cached is None:
            try:
                fetched = client.get(self.resource_kind, rctx.namespace, rctx.name)
            except KubeApiError as exc:
                if exc.status != 404:
                    return self._trouble(rctx, exc, TaskPhase.RUNNING)
                cached = CachedObject({}, deleted=True)
            except KubeUnavailableError as exc:
                return self._trouble(rctx, exc, TaskPhase.RUNNING)
            else:
                informer.put(fetched)
                cached = CachedObject(fetched)
        if cached.deleted:
            transition = self.on_deleted(rctx, cached.obj or None)
        else:
            transition = self.phase_of(rctx, cached.obj)
        return self._complete(rctx, transition, cached.obj)

    def _complete(self, rctx: ResourceContext, transition: Transition, obj: Mapping[str, Any]) -> Transition:
        state = {**(transition.state or {}), **self._state(rctx)}
        logs = transition.logs or (self.log_links(rctx, obj) if obj else ())
        wake_after = transition.wake_after
        if not transition.phase.is_terminal:
            recheck = rctx.kubernetes.recheck_interval
            wake_after = recheck if wake_after is None else min(wake_after, recheck)
        return dataclasses.replace(transition, state=state, logs=logs, wake_after=wake_after)

    def _state(self, rctx: ResourceContext) -> dict[str, Any]:
        return {"cluster": rctx.cluster, "namespace": rctx.namespace, "name": rctx.name, "created": True}

    def _refused(self, rctx: ResourceContext, exc: KubeApiError) -> Transition:
        kind = self.resource_kind.kind
        where = f"{rctx.describe()}: cluster {rctx.cluster!r} refused {kind} {rctx.namespace}/{rctx.name}"
        ctx = rctx.task_context
        if exc.status == 403 and "exceeded quota" in exc.message:
            if _never_fits(exc.message):
                return Transition.failure(
                    "ResourceRequestsExceedLimits",
                    f"{where}: the request exceeds the quota itself: {exc.message}",
                    retryable=False,
                )
            waits = int(ctx.state.get("quota_waits", 0))
            settings = rctx.kubernetes
            backoff = min(settings.quota_backoff_base * 2**waits, settings.quota_backoff_max)
            return Transition.waiting_for_resources(
                f"Exceeded resourcequota: {exc.message}", state={"quota_waits": waits + 1}, wake_after=backoff
            )
        if exc.status == 403:
            return Transition.failure("RuntimeFailure", f"{where}: {exc.message}")
        if exc.status in (400, 422):
            return Transition.failure("BadTaskFormat", f"{where}: {exc.message}", retryable=False)
        if exc.status == 413:
            return Transition.failure("EntityTooLarge", f"{where}: {exc.message}", retryable=False)
        if exc.status == 404:
            return Transition.failure(
                "NamespaceNotFound", f"{where}: {exc.message}", kind=ErrorKind.SYSTEM, retryable=True
            )
        return self._trouble(rctx, exc, TaskPhase.NOT_READY)

    def _trouble(self, rctx: ResourceContext, exc: Exception, phase: TaskPhase) -> Transition:
        """A failed API call: try again soon, and fail (SYSTEM, retryable) after too many in a row."""
        ctx = rctx.task_context
        failures = int(ctx.state.get("api_failures", 0)) + 1
        message = f"{rctx.describe()}: the Kubernetes API of cluster {rctx.cluster!r} failed: {exc}"
        if failures > rctx.kubernetes.max_api_failures:
            return Transition.failure(
                "KubernetesUnavailable",
                f"{message} ({failures} failures in a row)",
                kind=ErrorKind.SYSTEM,
                state=dict(ctx.state),
            )
        state = {**ctx.state, "api_failures": failures}
        return Transition(phase, state=state, reason=message, wake_after=min(2.0**failures, 30.0))

    def _decorate(self, rctx: ResourceContext, obj: dict[str, Any], *, name: str) -> dict[str, Any]:
        """Set name, namespace, and the identity labels and annotations."""
        ctx = rctx.task_context
        settings = rctx.kubernetes
        execution = ctx.task_execution_id.node_execution_id.execution_id
        task = ctx.task.id
        metadata = obj.setdefault("metadata", {})
        metadata["name"] = name
        metadata["namespace"] = rctx.namespace
        metadata["labels"] = {
            **settings.default_labels,
            **(metadata.get("labels") or {}),
            **ctx.labels,
            "execution-id": sanitize_label_value(execution.name),
            "project": sanitize_label_value(execution.project),
            "domain": sanitize_label_value(execution.domain),
            "workflow-name": sanitize_label_value(
                ctx.environment.get("FLYTE_INTERNAL_EXECUTION_WORKFLOW", "")
            ),
            "node-id": sanitize_label_value(ctx.node_id),
            "task-name": sanitize_label_value(task.name),
            "interruptible": "true" if ctx.interruptible else "false",
            MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1],
        }
        metadata["annotations"] = {
            **settings.default_annotations,
            **(metadata.get("annotations") or {}),
            **ctx.annotations,
            ANNOTATION_PREFIX + "execution": f"{execution.project}/{execution.domain}/{execution.name}",
            ANNOTATION_PREFIX + "node-id": ctx.node_id,
            ANNOTATION_PREFIX + "task": f"{task.project}/{task.domain}/{task.name}/{task.version}",
            ANNOTATION_PREFIX + "attempt": str(ctx.attempt),
        }
        return obj

    def _for_cleanup(self, ctx: TaskContext) -> tuple[ResourceContext | None, KubeClient | None]:
        where = self._where(ctx)
        if isinstance(where, Transition):
            return None, None
        rctx = ResourceContext(ctx, self.settings, *where)
        try:
            return rctx, self._client(rctx)
        except ConfigurationError:
            return None, None

    def _failed(self, rctx: ResourceContext, client: KubeClient, cached: CachedObject | None) -> bool:
        obj: Mapping[str, Any] | None = cached.obj if cached is not None and not cached.deleted else None
        if obj is None:
            try:
                obj = client.get(self.resource_kind, rctx.namespace, rctx.name)
            except (KubeApiError, KubeUnavailableError):
                return False
        return self.phase_of(rctx, obj).phase.is_failure


def render_log_links(
    ctx: ResourceContext, variables: Mapping[str, str], *, name_suffix: str = ""
) -> tuple[TaskLog, ...]:
    """The configured ``kubernetes.log_links`` with ``variables`` filled in (names matched case-insensitively),
    each link's name followed by ``name_suffix`` (`` (launcher)``, to tell one pod's links from another's)."""
    if not ctx.kubernetes.log_links:
        return ()
    lowered = {k.lower(): v for k, v in variables.items()}

    def value(match: re.Match[str]) -> str:
        found = lowered.get(match.group(1).lower())
        return found if found else match.group(0)

    return tuple(
        TaskLog(link.name + name_suffix, _LOG_VARIABLE.sub(value, link.template))
        for link in ctx.kubernetes.log_links
    )


def _create_once(
    client: KubeClient, kind: ResourceKind, namespace: str, obj: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Create ``obj``; None if it already exists (a repeated round), the stored object otherwise."""
    try:
        return client.create(kind, namespace, obj)
    except KubeApiError as exc:
        if exc.status == 409 and exc.reason == "AlreadyExists":
            return None
        raise


def _delete(client: KubeClient, kind: ResourceKind, namespace: str, name: str) -> None:
    try:
        client.delete(kind, namespace, name)
    except KubeApiError as exc:
        if exc.status != 404:
            raise


def _plural(obj: Mapping[str, Any]) -> str:
    """The resource name of an extra object's kind (ConfigMap → configmaps), as Kubernetes derives it."""
    kind = str(obj["kind"]).lower()
    if kind.endswith("s"):
        return kind + "es"
    if kind.endswith("y") and kind[-2:-1] not in "aeiou":
        return kind[:-1] + "ies"
    return kind + "s"


def _never_fits(message: str) -> bool:
    """True if a quota error says the request alone exceeds the quota (it can never be admitted)."""
    parts = dict(_QUOTA_PARTS.findall(message))
    if "requested" not in parts or "limited" not in parts:
        return False

    def parse(text: str) -> dict[str, Fraction]:
        values = {}
        for item in text.split(","):
            name, _, amount = item.partition("=")
            try:
                values[name] = parse_quantity(amount)
            except QuantityError:
                continue
        return values

    requested, limited = parse(parts["requested"]), parse(parts["limited"])
    return any(amount > limited[name] for name, amount in requested.items() if name in limited)
