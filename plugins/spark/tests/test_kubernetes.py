"""The spark-kubernetes handler against the Kubernetes API test server and the spark-operator stand-in:
the SparkApplication it builds (checked against the real CRD schema), phases from recorded operator status
sequences, and Spark tasks end to end (success, user failure, abort, failures the operator reports)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import spark_tasks
from flyteidl.core import literals_pb2

import roost_spark.engine
from roost.serialize import SerializationSettings, Serializer
from roost_core.extend import ErrorKind, TaskContext, TaskPhase
from roost_core.testing.driver import Driver, wait_until
from roost_core.testing.harness import build_handler
from roost_core.testing.tasks import task_context
from roost_k8s_pod import PodTemplate, ResourceContext
from roost_k8s_pod.testing import KubeTestServer, SchemasNotFoundError
from roost_spark import Spark
from roost_spark.kubernetes.handler import SparkKubernetesHandler, spark_memory
from roost_spark.kubernetes.status import read_status
from roost_spark.testing.operator import SparkOperator

HERE = Path(__file__).parent
NAMESPACE = "proj-dev"
NAME = "exec1-n0-0"


@pytest.fixture(scope="module")
def server() -> Iterator[KubeTestServer]:
    with KubeTestServer(kubelet=True) as started:
        try:
            operator = SparkOperator(started).start()
        except SchemasNotFoundError as exc:
            pytest.skip(str(exc))
        started.create_namespace(NAMESPACE)
        started.operator = operator  # type: ignore[attr-defined]
        yield started
        operator.close()


@pytest.fixture
def operator(server: KubeTestServer) -> SparkOperator:
    return server.operator  # type: ignore[attr-defined,no-any-return]


def section(kubeconfig: Path, **own: Any) -> dict[str, Any]:
    return {
        "kubernetes": {"clusters": {"default": {"kubeconfig": str(kubeconfig)}}, "recheck_interval": 600},
        "task_environment": {"env": {"PYTHONPATH": str(HERE)}},
        **own,
    }


@pytest.fixture
def handler(server: KubeTestServer, tmp_path: Path) -> Iterator[SparkKubernetesHandler]:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    built = build_handler([roost_spark.engine], "spark-kubernetes", section=section(kubeconfig))
    assert isinstance(built, SparkKubernetesHandler)
    yield built
    built.close()


def template(task: object) -> Any:
    return Serializer(SerializationSettings(project="proj", domain="dev", version="v1")).task(task)  # type: ignore[arg-type]


def context(tmp_path: Path, task_template: Any, execution: str = "exec1", **inputs: int) -> TaskContext:
    return task_context(tmp_path, task_template, inputs=inputs or {"n": 4}, execution=execution)


# building


def resource_context(handler: SparkKubernetesHandler, ctx: TaskContext) -> ResourceContext:
    return ResourceContext(ctx, handler.settings, "default", NAMESPACE, NAME)


def test_memory_in_sparks_form() -> None:
    assert [spark_memory(q) for q in ("1Gi", "512Mi", "1G", "100")] == ["1024m", "512m", "954m", "1m"]


@pytest.fixture(scope="module")
def pod_task() -> Any:
    from roost import Resources, task

    config = Spark(
        spark_conf={"spark.executor.instances": "3", "spark.executor.memory": "2g"},
        hadoop_conf={"fs.a": "b"},
        driver_pod=PodTemplate(
            pod_spec={
                "containers": [{"name": "primary"}],
                "tolerations": [{"key": "spark", "operator": "Exists"}],
            },
            labels={"role": "driver"},
        ),
        executor_pod=PodTemplate(annotations={"note": "executor"}),
    )

    @task(
        task_config=config, requests=Resources(cpu="1500m", mem="1Gi"), limits=Resources(cpu="2", mem="1Gi")
    )
    def pods(n: int) -> int:
        return n

    return pods


def test_the_application_follows_the_task_and_passes_the_schema(
    server: KubeTestServer, handler: SparkKubernetesHandler, tmp_path: Path, pod_task: Any
) -> None:
    ctx = context(tmp_path, template(pod_task))
    app = handler.build_resource(resource_context(handler, ctx))
    spec = app["spec"]
    assert spec["type"] == "Python" and spec["mode"] == "cluster"
    assert spec["mainApplicationFile"] == "local:///opt/venv/bin/entrypoint.py"
    assert spec["arguments"][0] == "roost-execute"
    assert spec["arguments"][spec["arguments"].index("--inputs") + 1] == ctx.inputs_uri
    assert spec["sparkConf"]["spark.pyspark.python"] == "/opt/venv/bin/python3"
    assert spec["hadoopConf"] == {"fs.a": "b"}
    assert spec["restartPolicy"] == {"type": "Never"}
    driver, executor = spec["driver"], spec["executor"]
    assert (driver["cores"], driver["coreLimit"], driver["memory"]) == (2, "2", "1024m")
    assert (executor["instances"], executor["cores"], executor["memory"]) == (3, 2, "2g")
    assert driver["template"]["metadata"] == {"labels": {"role": "driver"}}
    assert driver["template"]["spec"]["tolerations"] == [{"key": "spark", "operator": "Exists"}]
    assert executor["template"]["metadata"] == {"annotations": {"note": "executor"}}
    assert {"name": "PYTHONPATH", "value": str(HERE)} in driver["env"]
    app["metadata"].update(name=NAME, namespace=NAMESPACE)
    server.validate(app)  # the real CRD schema (spark-operator v2.5.2)


def test_a_bad_setting_is_refused_before_anything_is_created(
    server: KubeTestServer, handler: SparkKubernetesHandler, tmp_path: Path
) -> None:
    bad = template(spark_tasks.fails)
    bad.custom.update({"sparkConf": {"spark.driver.memory": "plenty"}})
    done = handler.handle(context(tmp_path, bad, execution="badconf"))
    assert done.phase is TaskPhase.PERMANENT_FAILURE
    assert done.error.code == "BadSparkConf"
    assert done.error.message == (
        "task 'spark_tasks.fails' (execution proj/dev/badconf, node n0, attempt 0): "
        "spark_conf['spark.driver.memory'] = 'plenty': expected a size such as '512m' or '2g'; "
        "fix the task's Spark(...) config"
    )
    assert server.get("sparkapplications", NAMESPACE, "badconf-n0-0") is None


# phases from recorded status sequences

SUCCESS = [
    {},
    {"applicationState": {"state": "SUBMITTED"}, "driverInfo": {"podName": "a-driver"}},
    {
        "applicationState": {"state": "RUNNING"},
        "driverInfo": {"podName": "a-driver", "webUIAddress": "10.0.0.1:4040"},
    },
    {"applicationState": {"state": "SUCCEEDING"}, "driverInfo": {"podName": "a-driver"}},
    {"applicationState": {"state": "COMPLETED"}, "driverInfo": {"podName": "a-driver"}},
]
FAILURE = [
    {},
    {"applicationState": {"state": "SUBMITTED"}},
    {"applicationState": {"state": "RUNNING"}},
    {
        "applicationState": {
            "state": "FAILING",
            "errorMessage": "driver container failed with ExitCode: 1, Reason: Error",
        }
    },
    {
        "applicationState": {
            "state": "FAILED",
            "errorMessage": "driver container failed with ExitCode: 1, Reason: Error",
        }
    },
]
RERUN = [
    {"applicationState": {"state": "INVALIDATING"}},
    {"applicationState": {"state": "PENDING_RERUN"}},
    {"applicationState": {"state": "SUBMITTED"}},
    {"applicationState": {"state": "UNKNOWN"}},
    {"applicationState": {"state": "SUBMISSION_FAILED", "errorMessage": "failed to run spark-submit"}},
]


@pytest.mark.parametrize(
    ("sequence", "phases"),
    [
        (SUCCESS, ["QUEUED", "INITIALIZING", "RUNNING", "RUNNING", "COMPLETED"]),
        (FAILURE, ["QUEUED", "INITIALIZING", "RUNNING", "RUNNING", "FAILED"]),
        (RERUN, ["INITIALIZING", "INITIALIZING", "INITIALIZING", "RUNNING", "SUBMISSION_FAILED"]),
    ],
)
def test_operator_states_in_order(sequence: list[dict[str, Any]], phases: list[str]) -> None:
    assert [read_status({"status": status}).phase.name for status in sequence] == phases


def test_phases_of_recorded_statuses(handler: SparkKubernetesHandler, tmp_path: Path) -> None:
    ctx = resource_context(handler, context(tmp_path, template(spark_tasks.fails), execution="recorded"))
    seen = [handler.phase_of(ctx, {"status": status}) for status in SUCCESS[:4] + FAILURE[4:]]
    assert [t.phase for t in seen] == [
        TaskPhase.QUEUED,
        TaskPhase.QUEUED,
        TaskPhase.RUNNING,
        TaskPhase.RUNNING,
        TaskPhase.RETRYABLE_FAILURE,
    ]
    assert seen[1].reason == "the SparkApplication is submitted: state SUBMITTED (driver pod a-driver)"
    assert [(log.name, log.uri) for log in seen[2].logs] == [("Spark Driver UI", "http://10.0.0.1:4040")]
    failed = seen[4].error
    assert failed.code == "SparkApplicationFailed" and failed.kind is ErrorKind.USER
    assert failed.message.endswith(
        f"SparkApplication {NAMESPACE}/{NAME} failed: driver container failed with ExitCode: 1, Reason: Error"
    )
    refused = handler.phase_of(ctx, {"status": RERUN[4]})
    assert refused.error.code == "SparkSubmissionFailed" and refused.error.kind is ErrorKind.SYSTEM
    assert refused.phase is TaskPhase.RETRYABLE_FAILURE
    assert (
        "could not submit SparkApplication proj-dev/exec1-n0-0: failed to run spark-submit"
        in refused.error.message
    )
    # completed without outputs: the task's interface wants one
    missing = handler.phase_of(ctx, {"status": SUCCESS[4]})
    assert missing.phase is TaskPhase.RETRYABLE_FAILURE


def test_the_ui_link_follows_the_template(server: KubeTestServer, tmp_path: Path) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    handler = build_handler(
        [roost_spark.engine],
        "spark-kubernetes",
        section=section(kubeconfig, ui_url_template="https://spark.example/{namespace}/{name}/"),
    )
    try:
        assert isinstance(handler, SparkKubernetesHandler)
        ctx = resource_context(handler, context(tmp_path, template(spark_tasks.fails)))
        running = handler.phase_of(ctx, {"status": SUCCESS[2]})
        assert running.logs[0].uri == f"https://spark.example/{NAMESPACE}/{NAME}/"
    finally:
        handler.close()


def test_settings_refuse_a_bad_default_conf(server: KubeTestServer, tmp_path: Path) -> None:
    from roost_core.extend import SettingsError

    with pytest.raises(SettingsError) as raised:
        build_handler(
            [roost_spark.engine], "spark-kubernetes", section={"spark_conf": {"spark.executor.cores": "x"}}
        )
    assert (
        "engine.handlers.spark-kubernetes.spark_conf: spark_conf['spark.executor.cores'] = 'x': expected a whole number"
        in str(raised.value)
    )


# end to end: the operator stand-in runs the driver on the kubelet


def outputs(ctx: TaskContext) -> literals_pb2.LiteralMap:
    return ctx.storage.read_proto(ctx.outputs_uri, literals_pb2.LiteralMap)


def test_a_spark_task_runs_as_a_spark_application(
    server: KubeTestServer, handler: SparkKubernetesHandler, tmp_path: Path
) -> None:
    ctx = context(tmp_path, template(spark_tasks.settings_seen), execution="ok")
    driver = Driver(handler, ctx, wait=300)
    running = driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the application to run")
    assert ("Spark Driver UI", "http://10.96.0.40:4040") in [(log.name, log.uri) for log in running.logs]
    done = driver.until_done()
    assert done.phase is TaskPhase.SUCCESS, done.error
    assert outputs(ctx).literals["o0"].scalar.primitive.string_value == "local[2] 3 z None 6"
    states = [
        (e.get("applicationState") or {}).get("state")
        for e in [server.get("sparkapplications", NAMESPACE, "ok-n0-0")["status"]]
    ]
    assert states == ["COMPLETED"]
    handler.finalize(driver.ctx)
    wait_until(lambda: server.get("sparkapplications", NAMESPACE, "ok-n0-0") is None, "the application to go")


def test_a_failing_spark_job_is_the_users_error(handler: SparkKubernetesHandler, tmp_path: Path) -> None:
    done = Driver(
        handler, context(tmp_path, template(spark_tasks.fails), execution="userfail"), wait=300
    ).until_done()
    assert done.phase.is_failure
    assert done.error.kind is ErrorKind.USER
    assert "ZeroDivisionError" in done.error.message


def test_abort_deletes_the_application_and_stops_the_driver(
    server: KubeTestServer, handler: SparkKubernetesHandler, tmp_path: Path
) -> None:
    ctx = context(tmp_path, template(spark_tasks.waits), execution="aborted", n=600)
    ctx = dataclasses.replace(ctx, environment={"SPARK_TEST_MARKER": str(tmp_path / "marker")})
    driver = Driver(handler, ctx, wait=300)
    driver.until(lambda t: t.phase is TaskPhase.RUNNING, "the application to run")
    pod = "aborted-n0-0-driver"
    assert server.kubelet is not None
    wait_until(
        lambda: server.kubelet.container_running(NAMESPACE, pod, "spark-kubernetes-driver"), "the driver"
    )
    driver.abort()
    wait_until(
        lambda: server.get("sparkapplications", NAMESPACE, "aborted-n0-0") is None, "the application to go"
    )
    wait_until(lambda: server.get("pods", NAMESPACE, pod) is None, "the driver pod to go")
    wait_until(
        lambda: not server.kubelet.container_running(NAMESPACE, pod, "spark-kubernetes-driver"),
        "the driver's process to be stopped",
    )


def test_a_submission_the_operator_refuses(
    operator: SparkOperator, handler: SparkKubernetesHandler, tmp_path: Path
) -> None:
    operator.fail_submission("refused-n0-0", "failed to run spark-submit: exit status 1")
    done = Driver(handler, context(tmp_path, template(spark_tasks.fails), execution="refused")).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert (done.error.code, done.error.kind) == ("SparkSubmissionFailed", ErrorKind.SYSTEM)
    assert done.error.message == (
        "task 'spark_tasks.fails' (execution proj/dev/refused, node n0, attempt 0): the spark-operator could "
        "not submit SparkApplication proj-dev/refused-n0-0: failed to run spark-submit: exit status 1"
    )


def test_a_driver_that_crashes_is_the_failure_the_operator_reports(
    handler: SparkKubernetesHandler, tmp_path: Path
) -> None:
    crashing = template(spark_tasks.fails)
    crashing.container.args[0] = "no-such-command"
    done = Driver(handler, context(tmp_path, crashing, execution="crash"), wait=300).until_done()
    assert done.phase is TaskPhase.RETRYABLE_FAILURE
    assert done.error.code == "SparkApplicationFailed"
    assert done.error.message.endswith(
        "SparkApplication proj-dev/crash-n0-0 failed: driver container failed with ExitCode: 127, Reason: Error"
    )
