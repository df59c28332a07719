"""The engine configuration of the workers: defaults, the settings' engine section, and mistakes reported when
the admin starts."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
import yaml
from conftest import make_settings
from execution_support import engine_section, launch, outputs, running_admin, wait
from flyteidl.core import execution_pb2 as core_execution_pb2

from roost_admin.app import AdminApp
from roost_admin.workers.config import (
    DEFAULT_POLL_INTERVAL,
    admin_environment,
    engine_config,
    prune_task_logs,
    storage_environment,
)
from roost_core.errors import ConfigurationError


def test_the_admins_defaults_leave_the_handler_choice_to_the_plugins():
    config = engine_config({})
    assert config.default_for_task_types == {}
    assert config.poll_interval == DEFAULT_POLL_INTERVAL
    chosen = engine_config({"default_for_task_types": {"container": "echo"}, "poll_interval": 0.5})
    assert chosen.default_for_task_types == {"container": "echo"}
    assert chosen.poll_interval == 0.5


def test_task_processes_reach_the_admins_s3_store():
    s3 = {
        "endpoint_url": "http://127.0.0.1:9000",
        "access_key_id": "AK",
        "secret_access_key": "SK",
        "region": "r",
    }
    config = engine_config(
        {"task_environment": {"env": {"AWS_DEFAULT_REGION": "mine"}}},
        storage_environment({"s3": s3}),
    )
    assert config.shared["task_environment"]["env"] == {
        "FLYTE_AWS_ENDPOINT": "http://127.0.0.1:9000",
        "FLYTE_AWS_ACCESS_KEY_ID": "AK",
        "AWS_ACCESS_KEY_ID": "AK",
        "FLYTE_AWS_SECRET_ACCESS_KEY": "SK",
        "AWS_SECRET_ACCESS_KEY": "SK",
        "AWS_DEFAULT_REGION": "mine",
    }
    no_reach = engine_config({}, storage_environment({"file": {"url_base": "http://x"}}))
    assert no_reach.shared["task_environment"]["env"] == {}


def test_the_admins_endpoint_is_given_as_flytekit_and_roost_read_it():
    assert admin_environment("10.0.0.5:81", insecure=False) == {
        "FLYTE_PLATFORM_URL": "10.0.0.5:81",
        "FLYTE_PLATFORM_INSECURE": "False",
        "ROOST_ENDPOINT": "10.0.0.5:81",
        "ROOST_INSECURE": "false",
    }


def test_task_processes_reach_the_admin_on_its_bound_port_or_its_public_endpoint(tmp_path, database_url):
    with running_admin(tmp_path, database_url, workers=1) as (app, admin, _signals):
        assert app.workers is not None
        env = app.workers.engine.config.shared["task_environment"]["env"]
        assert (env["FLYTE_PLATFORM_URL"], env["ROOST_INSECURE"]) == (f"127.0.0.1:{app.grpc_port}", "true")
        ident = launch(admin, "introspect", x=7)
        execution = wait(admin, ident)
        assert execution.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED, (
            execution.closure.error
        )
        # The task reaches the admin and sees its own execution unfinished. The workflow's RUNNING phase is saved
        # at the end of the round that starts the task, so a task quicker than that save reads QUEUED.
        endpoint, phase, x = outputs(admin, ident)["o0"].split()
        assert (endpoint, x) == (f"127.0.0.1:{app.grpc_port}", "7")
        assert phase in {"QUEUED", "RUNNING"}
    for settings, endpoint in [
        ({"grpc_host": "0.0.0.0", "grpc_port": 8089}, "127.0.0.1:8089"),
        ({"grpc_host": "0.0.0.0", "public_grpc_endpoint": "admin.example:443"}, "admin.example:443"),
    ]:
        unstarted = AdminApp(make_settings(tmp_path, database_url, **settings))
        assert unstarted.public_grpc_endpoint == endpoint
        unstarted.stop()


def test_task_processes_never_inherit_the_admins_configuration():
    assert engine_config({}).shared["task_environment"] == {"env": {}, "drop_env": ["ROOST_*", "PG*"]}
    section = {"task_environment": {"drop_env": ["VAULT_*"]}}
    assert engine_config(section).shared["task_environment"]["drop_env"] == ["ROOST_*", "PG*", "VAULT_*"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"polling": 1},
            "engine.polling: unknown key; known: default_active_deadline, default_execution_deadline, ",
        ),
        (
            {"handlers": {"local-process": {"envv": {}}}},
            "engine.handlers.local-process.envv: unknown key; known: image_environments, keep_logs, ",
        ),
        (
            {"handlers": {"local-proces": {}}},
            "engine.handlers.local-proces: unknown handler; installed handlers: echo, local-process, sleep",
        ),
        (
            {"handlers": {"local-process": {"kill_grace_period": "soon"}}},
            "engine.handlers.local-process.kill_grace_period: expected a duration (seconds, or a string such as "
            "'90s' or '3m'), got 'soon'",
        ),
        (
            {"task_environment": {"env": ["A=1"]}},
            "engine.task_environment.env: input should be a valid dictionary",
        ),
        (
            {"default_for_task_types": ["python-task"]},
            "engine.default_for_task_types: expected a mapping of strings to strings, got ['python-task']",
        ),
    ],
)
def test_configuration_mistakes_fail_the_start_naming_the_file_and_key(
    tmp_path, database_url, monkeypatch, section, message
):
    config_file = tmp_path / "roost.yaml"
    config_file.write_text(yaml.safe_dump({"engine": section}))
    monkeypatch.setenv("ROOST_CONFIG", str(config_file))
    app = AdminApp(make_settings(tmp_path, database_url, workers=1))
    try:
        with pytest.raises(ConfigurationError) as caught:
            app.start(serve=False)
        assert str(caught.value).startswith(f"{config_file}: {message}")
    finally:
        app.stop()


def test_a_task_type_mapped_to_a_missing_handler_fails_the_start(tmp_path, database_url):
    settings = make_settings(
        tmp_path, database_url, workers=1, engine={"default_for_task_types": {"python-task": "nope"}}
    )
    app = AdminApp(settings)
    try:
        with pytest.raises(ConfigurationError) as caught:
            app.start(serve=False)
        assert str(caught.value).startswith(
            "engine.default_for_task_types.python-task: handler 'nope' is not installed; installed handlers:"
        )
    finally:
        app.stop()


def test_an_image_mapped_to_an_environment_runs_with_that_environments_interpreter(tmp_path, database_url):
    """The flows' image is mapped to a folder whose bin/roost-execute notes the environment it ran in."""
    environment = tmp_path / "image-env"
    (environment / "bin").mkdir(parents=True)
    marker = tmp_path / "marker"
    script = environment / "bin" / "roost-execute"
    real = Path(sys.executable).parent / "roost-execute"
    script.write_text(f'#!/bin/sh\necho "$VIRTUAL_ENV" > {marker}\nexec {real} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    section = engine_section()
    section["handlers"]["local-process"]["image_environments"] = {
        "ghcr.io/roost/roost:latest": str(environment)
    }
    with running_admin(tmp_path, database_url, workers=1, engine=section) as (app, admin, _signals):
        assert app.workers is not None
        assert app.workers.engine.handlers.for_task_type("python-task").name == "local-process"
        ident = launch(admin, "one", x=1)
        execution = wait(admin, ident)
        assert execution.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED, (
            execution.closure.error
        )
        assert outputs(admin, ident) == {"o0": 2}
    assert marker.read_text().strip() == str(environment)


def test_local_process_logs_are_kept_in_the_given_folder_unless_configured(tmp_path: Path) -> None:
    logs = tmp_path / "task-logs"
    assert engine_config({}, log_dir=logs).handlers["local-process"] == {"log_dir": str(logs)}
    mine = {"handlers": {"local-process": {"log_dir": "/srv/logs"}}}
    assert engine_config(mine, log_dir=logs).handlers["local-process"] == {"log_dir": "/srv/logs"}
    kept = {"handlers": {"local-process": {"keep_logs": True}}}
    assert engine_config(kept, log_dir=logs).handlers["local-process"] == {"keep_logs": True}


def test_old_task_logs_are_pruned_and_fresh_ones_kept(tmp_path: Path) -> None:
    import os
    import time

    old, running, fresh = (tmp_path / name for name in ("old", "running", "fresh"))
    for folder in (old, running, fresh):
        folder.mkdir()
        (folder / "stdout.log").write_text("line")
    week_ago = time.time() - 8 * 86_400
    os.utime(old / "stdout.log", (week_ago, week_ago))
    os.utime(old, (week_ago, week_ago))
    os.utime(running, (week_ago, week_ago))  # an old attempt still writing its log
    assert prune_task_logs(tmp_path, days=7) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "running"]
    assert prune_task_logs(tmp_path / "nosuch", days=7) == 0
