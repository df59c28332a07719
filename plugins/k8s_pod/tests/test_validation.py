"""The test server's admission: the schema walker, the API server's own checks, and where schemas come from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from roost_core.testing.driver import WAIT_SECONDS
from roost_k8s_pod.testing import ApiError, KubeTestServer
from roost_k8s_pod.testing.schemas import core_schemas
from roost_k8s_pod.testing.validation import SchemaWalker


def pod(**container: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "i", **container}]},
    }


@pytest.fixture(scope="module")
def server():
    with KubeTestServer() as running:
        yield running


def refusal(server: KubeTestServer, obj: dict) -> ApiError:
    with pytest.raises(ApiError) as refused:
        server.validate(obj)
    return refused.value


def test_the_walker_reports_unknown_fields_wrong_types_and_missing_fields():
    schemas = core_schemas()
    walker = SchemaWalker(schemas.definitions, kind="Pod")
    obj = pod(portz=[], ports=[{"containerPort": "80"}])
    del obj["spec"]["containers"][0]["name"]
    problems = walker.check(obj, schemas.definition("io.k8s.api.core.v1.Pod"))
    assert [(p.category, p.field) for p in problems] == [
        ("unknown", "spec.containers[0].portz"),
        ("decode", "spec.containers[0].ports[0].containerPort"),
        ("invalid", "spec.containers[0].name"),
    ]
    pruned = pod(portz=[])
    walker.check(pruned, schemas.definition("io.k8s.api.core.v1.Pod"), prune=True)
    assert "portz" not in pruned["spec"]["containers"][0]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda p: p["metadata"]["labels"].update(team="x" * 64),
            "metadata.labels",
            f'Invalid value: "{"x" * 64}": a valid label must be an empty string or consist of',
        ),
        (
            lambda p: p["spec"]["containers"][0].update(
                resources={"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}
            ),
            "spec.containers[0].resources.requests[nvidia.com/gpu]",
            'Invalid value: "1": must be equal to nvidia.com/gpu limit of 2',
        ),
        (
            lambda p: p["spec"]["containers"][0].update(
                volumeMounts=[{"name": "missing", "mountPath": "/m"}]
            ),
            "spec.containers[0].volumeMounts[0].name",
            'Not found: "missing"',
        ),
        (
            lambda p: p["spec"].update(restartPolicy="Sometimes"),
            "spec.restartPolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
        (
            lambda p: p["spec"]["containers"].append(dict(p["spec"]["containers"][0])),
            "spec.containers[1].name",
            'Duplicate value: "main"',
        ),
        (
            lambda p: p["spec"]["containers"][0].update(env=[{"name": "A=B", "value": "1"}]),
            "spec.containers[0].env[0].name",
            'Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII',
        ),
    ],
)
def test_the_api_server_checks_beyond_the_schema(server, change, field, message):
    obj = pod()
    obj["metadata"]["labels"] = {}
    change(obj)
    error = refusal(server, obj)
    assert error.code == 422
    causes = {c["field"]: c["message"] for c in error.details["causes"]}
    assert field in causes
    assert causes[field].startswith(message)


def test_secrets_must_hold_base64(server):
    error = refusal(
        server,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}},
    )
    assert error.code == 400
    assert (
        error.message
        == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0'
    )


def test_without_the_schema_folder_core_types_fall_back_to_kubernetes_validate(tmp_path):
    """In a process whose ROOST_K8S_SCHEMAS names an empty folder (a user's machine), pods are still checked."""
    script = textwrap.dedent(
        """
        import json
        from roost_k8s_pod.testing import ApiError, KubeTestServer
        from roost_k8s_pod.testing.schemas import core_schemas
        with KubeTestServer() as server:
            bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "main", "image": "i", "imagee": "x"}]}}
            try:
                server.validate(bad)
            except ApiError as exc:
                print(json.dumps({"source": core_schemas().source, "code": exc.code, "message": exc.message}))
        """
    )
    env = {**os.environ, "ROOST_K8S_SCHEMAS": str(tmp_path / "absent")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT_SECONDS,
        check=True,
    )
    outcome = json.loads(result.stdout)
    assert outcome["source"].startswith("kubernetes-validate (")
    assert outcome["code"] == 400
    assert outcome["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"'
    )
