"""Schedules end to end: `roost start` with a webhook, a workflow registered with a cron and a fixed-rate launch
plan by the `roost` CLI, activated with `roost update launchplan`, the scheduled executions arriving, running with
the scheduled time as their input, under the names `roost backfill` gives the same times, and their ends posted
to the webhook, signed."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.server
import json
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from conftest import Starter
from test_roost_cli import roost, succeeded, wait_for

from roost_admin.services.schedules import execution_name
from roost_admin.testing.server import RoostServer

SCHEDULED = """
    import datetime

    from roost import CronSchedule, FixedRate, LaunchPlan, task, workflow


    @task
    def stamp(kickoff: datetime.datetime) -> str:
        return kickoff.isoformat()


    @workflow
    def stamped(kickoff: datetime.datetime) -> str:
        return stamp(kickoff=kickoff)


    every_minute = LaunchPlan.get_or_create(
        stamped, "every_minute", schedule=CronSchedule("* * * * *", kickoff_time_input_arg="kickoff")
    )
    each_minute = LaunchPlan.get_or_create(
        stamped, "each_minute", schedule=FixedRate(datetime.timedelta(minutes=1), kickoff_time_input_arg="kickoff")
    )
"""
WAIT = 150.0
SECRET = "e2e-webhook-secret-0123456789"


class Receiver(http.server.ThreadingHTTPServer):
    """A local webhook receiver keeping every (headers, body) it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/roost"


def _scheduled(env: dict[str, str], server: RoostServer, plan: str) -> list[dict[str, Any]]:
    rows = json.loads(succeeded(roost(env, "get", "executions", "-o", "json"), server))
    return [row for row in rows if row["launch plan"] == plan]


def test_activated_schedules_launch_executions_on_time(roost_server: Starter, tmp_path: Path) -> None:
    receiver = Receiver()
    webhook = {"name": "e2e", "url": receiver.url, "secret": SECRET}
    server = roost_server(settings={"notifications": {"webhooks": [webhook]}})
    env = server.client_env(tmp_path)
    code = tmp_path / "code"
    code.mkdir()
    (code / "scheduled.py").write_text(textwrap.dedent(SCHEDULED))
    registered = succeeded(roost(env, "register", ".", "--version", "v1", cwd=code), server)
    assert "1 task(s), 1 workflow(s), 3 launch plan(s)" in registered
    assert _scheduled(env, server, "every_minute") == [], "a schedule runs only once activated"
    for plan in ("every_minute", "each_minute"):
        activated = succeeded(
            roost(env, "update", "launchplan", plan, "--version", "v1", "--activate"), server
        )
        assert activated == f"launch plan {plan}@v1 is now active\n"

    deadline = time.monotonic() + WAIT
    while not (_scheduled(env, server, "every_minute") and _scheduled(env, server, "each_minute")):
        assert time.monotonic() < deadline, f"no scheduled execution in {WAIT}s:\n{server.log()[-4000:]}"
        time.sleep(1.0)
    for plan in ("every_minute", "each_minute"):
        first = _scheduled(env, server, plan)[-1]
        shown = wait_for(env, server, first["name"])
        assert shown["closure"]["phase"] == "SUCCEEDED", server.log()[-4000:]
        assert shown["spec"]["metadata"]["mode"] == "SCHEDULED"
        moment = datetime.datetime.fromisoformat(
            shown["spec"]["metadata"]["scheduledAt"].replace("Z", "+00:00")
        )
        assert first["name"] == execution_name("flytesnacks", "development", plan, moment)
        if plan == "every_minute":
            assert moment.second == 0 and moment.microsecond == 0
            # `roost backfill` names the same time the same way, and sees it made.
            listed = succeeded(
                roost(
                    env,
                    "backfill",
                    plan,
                    "--data-dir",
                    str(server.data_dir),
                    "--from",
                    moment.isoformat(),
                    "--to",
                    moment.isoformat(),
                    "--dry-run",
                ),
                server,
            )
            assert listed.splitlines()[1] == f"  {moment.isoformat()}  {first['name']}  exists"

    assert "schedule of flytesnacks/development/every_minute fired for" in server.log()

    # Each scheduled execution's end was posted to the webhook, signed with its secret.
    firsts = {_scheduled(env, server, plan)[-1]["name"] for plan in ("every_minute", "each_minute")}
    deadline = time.monotonic() + 30
    while not firsts <= {json.loads(body)["execution"]["name"] for _, body in receiver.received}:
        assert time.monotonic() < deadline, f"no notification:\n{server.log()[-4000:]}"
        time.sleep(0.3)
    for headers, body in receiver.received:
        signed = hmac.new(
            SECRET.encode(), headers["x-roost-timestamp"].encode() + b"." + body, hashlib.sha256
        )
        assert headers["x-roost-signature"] == f"sha256={signed.hexdigest()}"
        assert json.loads(body)["phase"] == "SUCCEEDED"
    receiver.shutdown()
    receiver.server_close()
    for plan in ("every_minute", "each_minute"):
        succeeded(roost(env, "update", "launchplan", plan, "--version", "v1", "--deactivate"), server)
