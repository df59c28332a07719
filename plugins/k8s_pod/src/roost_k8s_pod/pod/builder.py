"""Building a v1 pod spec from a task, as Flyte's plugins all do (its ``ToK8sPodSpec``): the public toolkit
function :func:`build_pod_spec` serves the Pod handler and any custom-resource plugin that needs a driver,
head or worker pod for a task. It reads the shared settings (``engine.kubernetes`` and
``engine.task_environment``, as the calling handler sees them through its :class:`ResourceContext`), never
the Pod handler's own.

The pod spec comes from ``TaskTemplate.container`` (one container), from ``TaskTemplate.k8s_pod`` (a pod
spec plus the primary container's name), from the ``custom`` field of ``sidecar`` tasks (versions 0 and
1), or from a ``pod_template`` override on the node. Then, as in Flyte:

* every container's command and args are rendered with the container contract's template variables,
  and its environment gets the attempt's identity (``FLYTE_INTERNAL_*``) and ``task_environment.env``;
* the primary container's resources get defaults (requests from configuration, limits equal to
  requests), GPUs become the configured extended resource with requests equal to limits, and every
  container is capped by ``max_resources``;
* tolerations (per requested resource, interruptible, default), node selectors and the required node
  affinity terms for interruptible or non-interruptible pods, the service account, the scheduler, and
  ``activeDeadlineSeconds`` (the task's timeout, else ``active_deadline``) are applied;
* the task's secrets are injected from Kubernetes Secrets (Flyte's layout: ``_FSEC_<GROUP>_<KEY>``
  environment variables, or files under ``/etc/flyte/secrets/<group>/<key>``);
* the result is merged onto the named or default pod template (containers named ``default`` and
  ``primary`` apply to every container and to the primary one).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flyteidl.core import security_pb2, tasks_pb2
from google.protobuf.json_format import MessageToDict

from roost_core.container import TemplateError, render_task_args
from roost_core.copilot import data_loading_config, data_paths, encode_interface
from roost_core.errors import ErrorKind
from roost_k8s_pod._quantity import QuantityError, parse_quantity
from roost_k8s_pod.resource import BuildError, ResourceContext
from roost_k8s_pod.settings import KubernetesSettings

__all__ = [
    "COPILOT_DOWNLOADER",
    "COPILOT_UPLOADER",
    "PRIMARY_CONTAINER_KEY",
    "SECRETS_DIR",
    "PodSpec",
    "build_pod",
    "build_pod_spec",
]

PRIMARY_CONTAINER_KEY = "primary_container_name"
"""The annotation (and task config key) naming the container whose exit decides the task."""
SECRETS_DIR = "/etc/flyte/secrets"
SECRET_ENV_PREFIX = "_FSEC_"
COPILOT_DOWNLOADER = "roost-copilot-downloader"
"""The init container that writes a raw container's inputs into its input volume."""
COPILOT_UPLOADER = "roost-copilot-uploader"
"""The sidecar that reads a raw container's output volume into ``outputs.pb`` once it exited."""
INPUT_VOLUME = "roost-inputs"
OUTPUT_VOLUME = "roost-outputs"
_DEFAULT_TEMPLATE_CONTAINER = "default"
_PRIMARY_TEMPLATE_CONTAINER = "primary"
_RESOURCE_NAMES = {
    tasks_pb2.Resources.CPU: "cpu",
    tasks_pb2.Resources.MEMORY: "memory",
    tasks_pb2.Resources.GPU: "gpu",
    tasks_pb2.Resources.EPHEMERAL_STORAGE: "ephemeral-storage",
    tasks_pb2.Resources.STORAGE: "storage",
}


@dataclass(frozen=True, slots=True)
class PodSpec:
    """A task's pod: its spec and metadata (plain dicts, as the API takes them) and the primary container."""

    spec: dict[str, Any]
    """The v1 PodSpec."""
    metadata: dict[str, Any]
    """Labels and annotations from the task, its pod template and the matching configured template."""
    primary_container: str
    """The container whose exit decides the task."""


def build_pod(ctx: ResourceContext) -> dict[str, Any]:
    """The Pod for the attempt (name, namespace and identity labels are the machinery's to add)."""
    pod = build_pod_spec(ctx)
    metadata = dict(pod.metadata)
    metadata.setdefault("annotations", {})[PRIMARY_CONTAINER_KEY] = pod.primary_container
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod.spec}


def build_pod_spec(ctx: ResourceContext) -> PodSpec:
    """The pod spec for the attempt's task, from its container, pod spec, sidecar custom or pod template
    override, with the shared settings applied (see the module docstring); :class:`BuildError` for a task
    that cannot be expressed."""
    settings = ctx.kubernetes
    spec, metadata, primary = _raw_pod(ctx)
    containers = spec.get("containers") or []
    if not any(c.get("name") == primary for c in containers):
        names = ", ".join(repr(c.get("name")) for c in containers) or "none"
        raise BuildError(f"the pod spec has no primary container {primary!r} (containers: {names})")
    _add_copilot(ctx, settings, spec, primary)
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or ():
            is_primary = group == "containers" and container.get("name") == primary
            _customize_container(ctx, settings, container, primary=is_primary)
    _apply_pod_settings(ctx, settings, spec, primary)
    _inject_secrets(ctx.task.security_context.secrets, spec)
    spec, metadata = _merge_template(ctx, settings, spec, metadata, primary)
    return PodSpec(spec, metadata, primary)


# where the pod spec comes from


def _raw_pod(ctx: ResourceContext) -> tuple[dict[str, Any], dict[str, Any], str]:
    task = ctx.task
    metadata: dict[str, Any] = {"labels": {}, "annotations": {}}
    _merge_metadata(metadata, task.metadata.metadata.labels, task.metadata.metadata.annotations)
    overrides = ctx.task_context.overrides
    if task.type == "sidecar" and task.task_type_version == 0:
        custom = _struct(task.custom)
        spec = custom.get("podSpec")
        if not isinstance(spec, dict):
            raise BuildError(f"sidecar task (version 0) has no podSpec in its custom field: {sorted(custom)}")
        _merge_metadata(metadata, custom.get("labels") or {}, custom.get("annotations") or {})
        primary = str(custom.get("primaryContainerName") or "")
    elif task.type == "sidecar" and task.task_type_version == 1:
        spec = _struct(task.custom)
        primary = _configured_primary(task)
        _merge_metadata(metadata, task.k8s_pod.metadata.labels, task.k8s_pod.metadata.annotations)
    elif task.HasField("k8s_pod"):
        if not task.k8s_pod.HasField("pod_spec"):
            raise BuildError("the task's k8s_pod target has no pod_spec")
        spec = _struct(task.k8s_pod.pod_spec)
        primary = _configured_primary(task)
        _merge_metadata(metadata, task.k8s_pod.metadata.labels, task.k8s_pod.metadata.annotations)
    elif task.HasField("container"):
        spec = {"containers": [_container(ctx)]}
        primary = spec["containers"][0]["name"]
    else:
        raise BuildError(f"a {task.type!r} task needs a container or a k8s_pod target; this one has neither")
    if (
        overrides is not None
        and overrides.HasField("pod_template")
        and overrides.pod_template.HasField("pod_spec")
    ):
        template = overrides.pod_template
        spec = _struct(template.pod_spec)
        _merge_metadata(metadata, template.metadata.labels, template.metadata.annotations)
        primary = template.primary_container_name or primary
    if not primary:
        raise BuildError("the task names no primary container (primary_container_name)")
    return spec, metadata, primary


def _configured_primary(task: tasks_pb2.TaskTemplate) -> str:
    primary = task.config.get(PRIMARY_CONTAINER_KEY) or task.k8s_pod.primary_container_name
    if not primary:
        raise BuildError(f"the task's config lacks {PRIMARY_CONTAINER_KEY!r} (config: {dict(task.config)})")
    return str(primary)


def _struct(message: Any) -> dict[str, Any]:
    value: dict[str, Any] = MessageToDict(message)
    return value


def _merge_metadata(
    metadata: dict[str, Any], labels: Mapping[str, str], annotations: Mapping[str, str]
) -> None:
    metadata["labels"].update(labels)
    metadata["annotations"].update(annotations)


def _container(ctx: ResourceContext) -> dict[str, Any]:
    source = ctx.task.container
    name = ctx.name if len(ctx.name) <= 63 and "." not in ctx.name else "primary"
    container: dict[str, Any] = {
        "name": name,
        "image": source.image,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if source.command:
        container["command"] = list(source.command)
    if source.args:
        container["args"] = list(source.args)
    if source.env:
        container["env"] = [{"name": pair.key, "value": pair.value} for pair in source.env]
    resources = _task_resources(source.resources)
    if resources:
        container["resources"] = resources
    return container


def _task_resources(resources: tasks_pb2.Resources) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for part, entries in (("requests", resources.requests), ("limits", resources.limits)):
        for entry in entries:
            name = _RESOURCE_NAMES.get(entry.name)
            if name is None:
                continue
            try:
                if parse_quantity(entry.value) == 0:
                    continue  # Flyte drops zero quantities: "0" means "not set"
            except QuantityError as exc:
                raise BuildError(f"resource {part}.{name}: {exc}") from None
            result.setdefault(part, {})[name] = entry.value
    return result


def _add_copilot(
    ctx: ResourceContext, settings: KubernetesSettings, spec: dict[str, Any], primary: str
) -> None:
    """Flyte's copilot for a raw container with a ``data_config``, with ``roost-copilot``: an emptyDir
    volume per direction mounted at the task's input and output paths, an init container that writes the
    inputs there, and a native sidecar (an init container with ``restartPolicy: Always``) that reads the
    outputs back once Kubernetes stops it after the primary container exited."""
    config = data_loading_config(ctx.task)
    if config is None:
        return
    if not settings.copilot_image:
        raise BuildError(
            "the task moves its data with the copilot (data_config: a raw container reading its inputs from "
            "files and writing its outputs as files), and engine.kubernetes.copilot_image is not set; "
            "set it to an image with roost-k8s-pod installed",
            code="BadConfiguration",
            kind=ErrorKind.SYSTEM,
        )
    input_path, output_path = data_paths(config)
    if input_path == output_path:
        raise BuildError(f"the task's data_config uses {input_path!r} for both inputs and outputs")
    container = next(c for c in spec["containers"] if c.get("name") == primary)
    interface = ctx.task.interface
    init_containers = spec.get("initContainers") or []
    volumes = spec.setdefault("volumes", [])
    if interface.inputs.variables:
        mount = {"name": INPUT_VOLUME, "mountPath": input_path}
        volumes.append({"name": INPUT_VOLUME, "emptyDir": {}})
        container.setdefault("volumeMounts", []).append(dict(mount))
        args = ["download", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}"]
        args += [
            "--to-local-dir",
            input_path,
            "--format",
            tasks_pb2.DataLoadingConfig.LiteralMapFormat.Name(config.format),
        ]
        init_containers.append(_copilot_container(settings, COPILOT_DOWNLOADER, args, mount))
    if interface.outputs.variables:
        mount = {"name": OUTPUT_VOLUME, "mountPath": output_path}
        volumes.append({"name": OUTPUT_VOLUME, "emptyDir": {}})
        container.setdefault("volumeMounts", []).append(dict(mount))
        timeout = max(1, round(settings.copilot_timeout))
        args = [
            "upload",
            "--output-prefix",
            "{{.outputPrefix}}",
            "--raw-output-prefix",
            "{{.rawOutputDataPrefix}}",
        ]
        args += ["--from-local-dir", output_path, "--interface", encode_interface(interface)]
        args += ["--wait-for-sigterm", "--timeout", str(timeout)]
        uploader = _copilot_container(settings, COPILOT_UPLOADER, args, mount)
        uploader["restartPolicy"] = "Always"
        # First, as in Flyte: a sidecar started before the others is up before the primary container exits.
        init_containers.insert(0, uploader)
        spec["terminationGracePeriodSeconds"] = timeout
    if init_containers:
        spec["initContainers"] = init_containers
    if not volumes:
        del spec["volumes"]


def _copilot_container(
    settings: KubernetesSettings, name: str, args: list[str], mount: dict[str, str]
) -> dict[str, Any]:
    quantities = {"cpu": settings.copilot_cpu, "memory": settings.copilot_memory}
    return {
        "name": name,
        "image": settings.copilot_image,
        "command": list(settings.copilot_command),
        "args": args,
        "workingDir": "/",
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
        "volumeMounts": [dict(mount)],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "imagePullPolicy": "IfNotPresent",
    }


# containers


def _customize_container(
    ctx: ResourceContext, settings: KubernetesSettings, container: dict[str, Any], *, primary: bool
) -> None:
    try:
        for key in ("command", "args"):
            if container.get(key):
                container[key] = render_task_args(ctx.task_context, container[key], namespace=ctx.namespace)
    except TemplateError as exc:
        raise BuildError(str(exc)) from None
    environment = {**ctx.task_context.environment, **ctx.task_environment.env}
    env = [e for e in container.get("env") or () if e.get("name") not in environment]
    env += [{"name": name, "value": value} for name, value in environment.items()]
    container["env"] = env
    overrides = ctx.task_context.overrides
    resources = container.get("resources") or {}
    if primary:
        if overrides is not None and overrides.HasField("resources"):
            for part, values in _task_resources(overrides.resources).items():
                resources.setdefault(part, {}).update(values)
        if overrides is not None and overrides.container_image:
            container["image"] = overrides.container_image
        if settings.image_pull_policy and "imagePullPolicy" not in container:
            container["imagePullPolicy"] = settings.image_pull_policy
    container["resources"] = _adjust_resources(resources, settings, defaults=primary)


def _adjust_resources(
    resources: Mapping[str, Any], settings: KubernetesSettings, *, defaults: bool
) -> dict[str, Any]:
    """Flyte's resource rules: defaults, limit = request, request <= limit, caps; GPUs renamed."""
    requests = {_gpu(k, settings): str(v) for k, v in (resources.get("requests") or {}).items()}
    limits = {_gpu(k, settings): str(v) for k, v in (resources.get("limits") or {}).items()}
    names = set(requests) | set(limits)
    if defaults:
        names |= {"cpu", "memory"}
    fallback = {"cpu": settings.default_cpu, "memory": settings.default_memory}
    for name in sorted(names):
        request, limit = requests.get(name), limits.get(name)
        if name == settings.gpu_resource_name or _extended(name):
            request = limit = limit or request  # extended resources: requests must equal limits
        else:
            request = request or limit or (fallback.get(name) if defaults else None)
            limit = limit or request
        cap = (
            settings.max_resources.get(name)
            if name != settings.gpu_resource_name
            else (settings.max_resources.get(name) or settings.max_resources.get("gpu"))
        )
        request, limit = _capped(request, cap, name), _capped(limit, cap, name)
        if request is not None and limit is not None and _value(request, name) > _value(limit, name):
            request = limit
        if request is not None:
            requests[name] = request
        if limit is not None:
            limits[name] = limit
    result = {k: v for k, v in resources.items() if k not in ("requests", "limits")}
    if requests:
        result["requests"] = requests
    if limits:
        result["limits"] = limits
    return result


def _gpu(name: str, settings: KubernetesSettings) -> str:
    return settings.gpu_resource_name if name == "gpu" else name


def _extended(name: str) -> bool:
    prefix = name.rpartition("/")[0]
    return bool(prefix) and not prefix.endswith("kubernetes.io")


def _value(quantity: str, name: str) -> Any:
    try:
        return parse_quantity(quantity)
    except QuantityError as exc:
        raise BuildError(f"resource {name}: {exc}") from None


def _capped(quantity: str | None, cap: str | None, name: str) -> str | None:
    if quantity is None or cap is None:
        return quantity
    return cap if _value(quantity, name) > _value(cap, name) else quantity


# pod-level settings


def _apply_pod_settings(
    ctx: ResourceContext, settings: KubernetesSettings, spec: dict[str, Any], primary: str
) -> None:
    spec.setdefault("restartPolicy", "Never")
    requested = set()
    for container in spec.get("containers") or ():
        resources = container.get("resources") or {}
        requested |= set(resources.get("requests") or {}) | set(resources.get("limits") or {})
    tolerations: list[dict[str, Any]] = []
    for name in sorted(requested):
        tolerations += [dict(t) for t in settings.resource_tolerations.get(name, ())]
    if ctx.interruptible:
        tolerations += [dict(t) for t in settings.interruptible_tolerations]
    tolerations += [dict(t) for t in settings.default_tolerations]
    tolerations += spec.get("tolerations") or []
    if tolerations:
        spec["tolerations"] = tolerations
    if not spec.get("serviceAccountName"):
        account = ctx.task.security_context.run_as.k8s_service_account or settings.service_account
        if account:
            spec["serviceAccountName"] = account
    if settings.scheduler_name and not spec.get("schedulerName"):
        spec["schedulerName"] = settings.scheduler_name
    selector = {**settings.default_node_selector, **(spec.get("nodeSelector") or {})}
    if ctx.interruptible:
        selector.update(settings.interruptible_node_selector)
    if selector:
        spec["nodeSelector"] = selector
    if "affinity" not in spec and settings.default_affinity is not None:
        spec["affinity"] = copy.deepcopy(dict(settings.default_affinity))
    requirement = (
        settings.interruptible_node_selector_requirement
        if ctx.interruptible
        else settings.non_interruptible_node_selector_requirement
    )
    if requirement is not None:
        _require_node(spec, dict(requirement))
    if "activeDeadlineSeconds" not in spec:
        timeout = (
            ctx.task.metadata.timeout.ToTimedelta().total_seconds()
            if ctx.task.metadata.HasField("timeout")
            else 0
        )
        deadline = timeout or settings.active_deadline
        if deadline > 0:
            spec["activeDeadlineSeconds"] = max(1, round(deadline))


def _require_node(spec: dict[str, Any], requirement: dict[str, Any]) -> None:
    """Add a match expression to every required node selector term (terms are OR'd, expressions AND'd)."""
    affinity = spec.setdefault("affinity", {})
    node = affinity.setdefault("nodeAffinity", {})
    required = node.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.setdefault("nodeSelectorTerms", [])
    if not terms:
        terms.append({"matchExpressions": [requirement]})
    else:
        for term in terms:
            term.setdefault("matchExpressions", []).append(copy.deepcopy(requirement))


# secrets


def _inject_secrets(secrets: Iterable[security_pb2.Secret], spec: dict[str, Any]) -> None:
    for secret in secrets:
        if not secret.group or not secret.key:
            raise BuildError(f"a Kubernetes secret needs both a group and a key; got {MessageToDict(secret)}")
        if secret.mount_requirement == security_pb2.Secret.ENV_VAR:
            name = (SECRET_ENV_PREFIX + secret.group + "_" + secret.key).upper()
            source = {"secretKeyRef": {"name": secret.group, "key": secret.key, "optional": True}}
            variables = [{"name": name, "valueFrom": source}]
            if secret.env_var:
                variables.append({"name": secret.env_var, "valueFrom": copy.deepcopy(source)})
            variables.append({"name": "FLYTE_SECRETS_ENV_PREFIX", "value": SECRET_ENV_PREFIX})
        else:
            volume = _secret_volume(spec, secret)
            mount = {"name": volume, "readOnly": True, "mountPath": f"{SECRETS_DIR}/{secret.group.lower()}"}
            for container in _all_containers(spec):
                mounts = container.setdefault("volumeMounts", [])
                if not any(m.get("name") == volume for m in mounts):
                    mounts.append(dict(mount))
            variables = [
                {"name": "FLYTE_SECRETS_DEFAULT_DIR", "value": SECRETS_DIR},
                {"name": "FLYTE_SECRETS_FILE_PREFIX", "value": ""},
            ]
            if secret.env_var:
                path = f"{SECRETS_DIR}/{secret.group.lower()}/{secret.key.lower()}"
                variables.append({"name": secret.env_var, "value": path})
        for container in _all_containers(spec):
            env = container.setdefault("env", [])
            for variable in variables:
                if not any(e.get("name") == variable["name"] for e in env):
                    env.append(copy.deepcopy(variable))


def _secret_volume(spec: dict[str, Any], secret: security_pb2.Secret) -> str:
    """The secret volume of the secret's group (one per group and version), with the key added."""
    volumes = spec.setdefault("volumes", [])
    item = {"key": secret.key, "path": secret.key.lower()}
    for volume in volumes:
        source = volume.get("secret") or {}
        if source.get("secretName") == secret.group:
            if item not in source.setdefault("items", []):
                source["items"].append(item)
            return str(volume["name"])
    digest = hashlib.sha256(f"{secret.group}_{secret.group_version}".encode()).hexdigest()[:16]
    name = f"secret-{digest}"
    volumes.append({"name": name, "secret": {"secretName": secret.group, "items": [item], "optional": True}})
    return name


def _all_containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]


# pod templates


def _merge_template(
    ctx: ResourceContext,
    settings: KubernetesSettings,
    spec: dict[str, Any],
    metadata: dict[str, Any],
    primary: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    name = ctx.task.metadata.pod_template_name
    if name:
        template = settings.pod_templates.get(name)
        if template is None:
            known = ", ".join(sorted(settings.pod_templates)) or "none"
            raise BuildError(f"pod template {name!r} does not exist (configured pod templates: {known})")
    else:
        template = settings.default_pod_template
    if template is None:
        return spec, metadata
    template = json.loads(json.dumps(template))  # a deep, plain copy
    base_spec = template.get("spec") or {}
    by_name = {c.get("name"): c for c in base_spec.get("containers") or ()}
    merged = _merge({k: v for k, v in base_spec.items() if k not in ("containers", "initContainers")}, spec)
    containers = []
    for container in spec.get("containers") or ():
        layers = [by_name.get(_DEFAULT_TEMPLATE_CONTAINER)]
        if container.get("name") == primary:
            layers.append(by_name.get(_PRIMARY_TEMPLATE_CONTAINER))
        elif container.get("name") not in (_DEFAULT_TEMPLATE_CONTAINER, _PRIMARY_TEMPLATE_CONTAINER):
            layers.append(by_name.get(container.get("name")))
        result: dict[str, Any] = {}
        for layer in layers:
            if layer is not None:
                result = _merge(result, {k: v for k, v in layer.items() if k != "name"})
        containers.append(_merge(result, container))
    merged["containers"] = containers
    init_by_name = {c.get("name"): c for c in base_spec.get("initContainers") or ()}
    if spec.get("initContainers"):
        merged["initContainers"] = [
            _merge({k: v for k, v in (init_by_name.get(c.get("name")) or {}).items() if k != "name"}, c)
            for c in spec["initContainers"]
        ]
    return merged, _merge(template.get("metadata") or {}, metadata)


def _merge(base: Any, override: Any) -> Any:
    """mergo's Merge(WithOverride, WithAppendSlice) on JSON: maps merge, lists append, set scalars win."""
    if isinstance(base, dict) and isinstance(override, dict):
        result = dict(base)
        for key, value in override.items():
            result[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return result
    if isinstance(base, list) and isinstance(override, list):
        return [*copy.deepcopy(base), *copy.deepcopy(override)]
    if override is None or override is False or (not isinstance(override, bool) and override in ("", 0)):
        return copy.deepcopy(base)
    return copy.deepcopy(override)
