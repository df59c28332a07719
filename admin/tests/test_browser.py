"""The console in a real Chromium (Debian's ``chromium``, driven by Playwright through ``executable_path``; no
browser download): the executions list filters and pages, the execution page's graph shows node phases and a
failed node's error and logs, live phases arrive without a reload, relaunch, terminate and a gate's approval work
through their confirmation forms, a node's deck runs sandboxed (no reach into the console or its cookies), and with
auth on a browser signs in, keeps an HttpOnly session cookie and signs out. On the examples: a sub-workflow and a
dynamic node open in the graph, a branch shows the path taken, a map node its subtasks per phase; a signal of the
wrong type is refused next to its field. Screenshots of each page go to ``$ROOST_SCREENSHOTS`` when it is set.

Skipped, saying why, when Chromium or Playwright is missing (CI installs Chromium: see ``.ci/run``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import example_flows
import pytest
import signal_flows
from conftest import fresh_database
from execution_support import DOMAIN, PROJECT, launch, running_admin, wait
from flyteidl.core import execution_pb2 as core_execution_pb2

CHROMIUM = os.environ.get("ROOST_CHROMIUM", "/usr/bin/chromium")
if not shutil.which(CHROMIUM):
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ROOST_CHROMIUM)",
        allow_module_level=True,
    )
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")

Phase = core_execution_pb2.WorkflowExecution
BASE = f"/console/projects/{PROJECT}/domains/{DOMAIN}"
WAIT_MS = 30_000


class Console:
    """A running admin with a few ended executions, and a Chromium page on its console."""

    def __init__(self, app: Any, admin: Any, browser: Any) -> None:
        self.app = app
        self.admin = admin
        self.browser = browser
        self.page = browser.new_page()
        shots = os.environ.get("ROOST_SCREENSHOTS")
        self.shots = Path(shots) if shots else None
        self.examples_ran = False
        for ident in (
            launch(admin, "one", name="done", x=3),
            launch(admin, "failing", name="broken", x=1),
            launch(admin, "pair", name="paired", x=4),
        ):
            wait(admin, ident)

    def run_examples(self) -> None:
        """Run the examples whose graphs nest (once per module)."""
        if self.examples_ran:
            return
        example_flows.register(self.admin, signal_flows.asks)
        for ident in (
            example_flows.run(self.admin, "basics.wf", "subworkflow"),
            example_flows.run(self.admin, "dynamic.wf", "fibonacci", n=3),
            example_flows.run(self.admin, "conditional.wf", "tails"),
            example_flows.run(self.admin, "map.wf", "mapped"),
        ):
            wait(self.admin, ident)
        self.examples_ran = True

    def open(self, path: str) -> Any:
        """A fresh page at ``path``: a page left by an earlier test may still be following live updates."""
        self.page.close()
        self.page = self.browser.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.page.goto(self.app.http_url + path)
        return self.page

    def shot(self, name: str) -> None:
        """Write a screenshot of the page as a test artifact (when asked for)."""
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def listed(self) -> list[str]:
        return [
            name.strip()
            for name in self.page.locator("table.executions tbody td:first-child a").all_inner_texts()
        ]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("browser")
    with (
        fresh_database("sqlite", folder) as url,
        running_admin(folder, url, engine=example_flows.engine()) as (app, admin, _),
        playwright.sync_playwright() as driver,
    ):
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            yield Console(app, admin, browser)
        finally:
            browser.close()


def test_the_executions_list_filters_and_pages(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    page = console.open(f"{BASE}/executions")
    assert {"done", "broken", "paired"} <= set(console.listed())
    console.shot("executions")
    page.select_option("select[name=phase]", "FAILED")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**phase=FAILED**")
    assert console.listed() == ["broken"]
    from roost_admin.console import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    page = console.open(f"{BASE}/executions?sort=name&order=asc")
    first = console.listed()
    assert len(first) == 2 and first == sorted(first)
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url("**token=**")
    second = console.listed()
    assert second and not set(second) & set(first)


def test_the_graph_shows_node_phases_and_a_failed_nodes_error_and_logs(console: Console) -> None:
    page = console.open(f"{BASE}/executions/paired")
    tasks = page.locator("svg.graph rect.node.kind-task")
    assert tasks.count() >= 2
    assert all("phase-SUCCEEDED" in (tasks.nth(i).get_attribute("class") or "") for i in range(tasks.count()))
    console.shot("execution")
    page = console.open(f"{BASE}/executions/broken")
    failed = page.locator("svg.graph a.node-link", has=page.locator("rect.phase-FAILED"))
    failed.first.click()
    page.wait_for_url("**node=**")
    panel = page.locator("section.panel")
    assert "cannot take 1" in panel.inner_text()
    # a failed attempt's stderr is open, its text streamed in from the log route
    panel.locator("details[data-log][open] .log-text", has_text="about to fail on 1").wait_for()
    console.shot("failed-node")


def test_a_gate_is_approved_from_its_form(console: Console) -> None:
    ident = launch(console.admin, "gated", name="gate", x=1)
    page = console.open(f"{BASE}/executions/gate")
    # the gate's link appears once the execution waits on it; until then the page is reloaded by hand
    for _ in range(60):
        if page.get_by_role("link", name="Signal ok…").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    page.get_by_role("link", name="Signal ok…").click()
    console.shot("gate")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/executions/gate")
    assert wait(console.admin, ident).closure.phase == Phase.SUCCEEDED


def test_live_phases_arrive_without_a_reload(console: Console, tmp_path: Path) -> None:
    started = tmp_path / "lingering"
    ident = launch(
        console.admin, "noted", name="live", log=str(tmp_path / "note"), path=str(started), seconds=4.0, x=1
    )
    for _ in range(100):
        if started.exists():
            break
        console.page.wait_for_timeout(100)
    page = console.open(f"{BASE}/executions/live")
    page.evaluate("window.notReloaded = true")
    succeeded = "document.querySelectorAll('svg.graph rect.node.kind-task.phase-SUCCEEDED').length"
    assert page.evaluate(succeeded) <= 1, "only the first task had ended when the page loaded"
    # the long task turns SUCCEEDED from the event stream while the page's own state survives (the page
    # reloads only at the execution's end, after the last task ran)
    page.wait_for_function(f"window.notReloaded === true && {succeeded} >= 2")
    assert wait(console.admin, ident).closure.phase == Phase.SUCCEEDED


def test_relaunch_and_terminate_through_their_confirmations(console: Console, tmp_path: Path) -> None:
    page = console.open(f"{BASE}/executions/done")
    page.get_by_role("link", name="Relaunch…").click()
    page.wait_for_url("**/relaunch")
    console.shot("relaunch-confirmation")
    page.locator("form.confirm button[type=submit]").click()
    page.wait_for_url(lambda url: "/executions/" in url and not url.endswith(("/done", "/relaunch")))
    assert page.locator("h1").inner_text().split()[0] != "done"

    ident = launch(console.admin, "slow", name="long", path=str(tmp_path / "pid"), seconds=60.0, x=1)
    wait(console.admin, ident, {Phase.RUNNING})
    page = console.open(f"{BASE}/executions/long")
    page.get_by_role("link", name="Terminate…").click()
    page.fill("input[name=cause]", "enough from the browser")
    page.locator("form.confirm button[type=submit]").click()
    ended = wait(console.admin, ident)
    assert ended.closure.phase == Phase.ABORTED
    assert ended.closure.abort_metadata.cause == "enough from the browser"


def test_sub_workflows_and_dynamic_nodes_open_in_the_graph(console: Console) -> None:
    console.run_examples()
    page = console.open(f"{BASE}/executions/subworkflow")
    assert page.locator('svg.graph [data-node="n0-0-n1"]').count() == 0
    page.get_by_role("link", name="expand n0").click()
    page.wait_for_url("**expand=n0**")
    inside = page.locator('svg.graph a.node-link[data-node^="n0-0-n"] rect.kind-task')
    assert inside.count() == 3
    assert all("phase-SUCCEEDED" in (inside.nth(i).get_attribute("class") or "") for i in range(3))
    console.shot("subworkflow-open")
    # selecting a node inside keeps the sub-workflow open, and its panel shows
    page.locator('svg.graph a.node-link[data-node="n0-0-n1"]').click()
    page.wait_for_url("**node=n0-0-n1**")
    assert "expand=n0" in page.url and "Attempt 0" in page.locator("section.panel").inner_text()
    page.get_by_role("link", name="collapse n0").click()
    page.wait_for_url(lambda url: "expand=" not in url)
    assert page.locator('svg.graph [data-node="n0-0-n1"]').count() == 0

    page = console.open(f"{BASE}/executions/fibonacci")
    page.get_by_role("link", name="expand n0").click()
    page.wait_for_url("**expand=n0**")
    steps = page.locator('svg.graph a.node-link[data-node^="n0-0-dn"] rect')
    assert steps.count() == 3
    assert all("phase-SUCCEEDED" in (steps.nth(i).get_attribute("class") or "") for i in range(3))
    console.shot("dynamic-open")


def test_a_branch_shows_its_path_and_a_map_its_counts(console: Console) -> None:
    console.run_examples()
    page = console.open(f"{BASE}/executions/tails")
    taken = page.locator('svg.graph a.node-link[data-node="n3-0-n3-n2"] rect')
    skipped = page.locator('svg.graph a.node-link[data-node="n3-0-n3-n1"] rect')
    assert "taken" in (taken.get_attribute("class") or "").split()
    assert "not-taken" in (skipped.get_attribute("class") or "").split()
    # the path not taken is drawn dashed and grey, the one taken in its phase's colour
    assert skipped.evaluate("e => getComputedStyle(e).strokeDasharray") not in ("", "none")
    stroke = "e => getComputedStyle(e).stroke"
    assert taken.evaluate(stroke) != skipped.evaluate(stroke)
    console.shot("branch")
    page = console.open(f"{BASE}/executions/mapped")
    assert page.locator('svg.graph text[data-counts="n0"]').text_content().strip() == "4 succeeded"
    console.shot("map")


def test_a_signal_of_the_wrong_type_is_refused_next_to_its_field(console: Console) -> None:
    console.run_examples()
    ident = example_flows.run(console.admin, "signal_flows.asks", "asking", x=2)
    page = console.open(f"{BASE}/executions/asking")
    for _ in range(60):  # the signal's link appears once the execution waits on it
        if page.get_by_role("link", name="Signal factor…").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    page.get_by_role("link", name="Signal factor…").click()
    page.fill("input[name=value]", "lots")
    page.get_by_role("button", name="Set signal").click()
    field = page.locator("input[name=value]")
    assert field.get_attribute("aria-invalid") == "true"
    assert "factor: 'lots' is not an integer" in page.get_by_role("alert").inner_text()
    console.shot("signal-refused")
    field.fill("3")
    page.get_by_role("button", name="Set signal").click()
    page.wait_for_url("**/executions/asking")
    assert wait(console.admin, ident).closure.phase == Phase.SUCCEEDED


SPYING_DECK = (
    "<html><body><h2>Report</h2><p id='probe'>not run</p><script>"
    "let seen;"
    "try { seen = 'read ' + window.parent.document.title; } catch (e) { seen = 'parent blocked'; }"
    "try { document.cookie; seen += ', cookies blocked: no'; } catch (e) { seen += ', cookies blocked'; }"
    "document.getElementById('probe').textContent = seen;"
    "</script></body></html>"
)


def test_a_deck_runs_sandboxed_in_the_node_panel(console: Console) -> None:
    from flyteidl.admin import node_execution_pb2
    from flyteidl.core import identifier_pb2

    done = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="done")
    nodes = console.admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=done, limit=10)
    ).node_executions
    node = next(n for n in nodes if n.closure.output_uri and n.id.node_id not in ("start-node", "end-node"))
    folder = node.closure.output_uri.rsplit("/", 1)[0]
    console.app.storage.write(folder + "/deck.html", SPYING_DECK.encode())
    page = console.open(f"{BASE}/executions/done?node={node.id.node_id}")
    probe = page.frame_locator("section.deck iframe").locator("#probe")
    probe.filter(has_text="blocked").wait_for()
    # the deck's script ran, but in an opaque origin: neither the console's page nor its cookies are reachable
    assert probe.inner_text() == "parent blocked, cookies blocked"
    console.shot("deck")


def test_signing_in_to_the_console_when_auth_is_on(console: Console, tmp_path: Path) -> None:
    from roost_admin.auth import directory
    from roost_admin.auth.roles import Role

    with (
        fresh_database("sqlite", tmp_path) as url,
        running_admin(tmp_path, url, workers=0, register=False, auth={"enabled": True}) as (app, _, _s),
    ):
        with app.db.begin() as session:
            directory.create_user(session, "carol", "pw")
            directory.grant(session, "user", "carol", PROJECT, Role.VIEWER)
        context = console.browser.new_context()  # a cookie jar of its own
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(app.http_url + f"{BASE}/executions")
            page.get_by_label("Username").fill("carol")
            page.get_by_label("Password").fill("pw")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"**{BASE}/executions")
            assert page.get_by_role("button", name="Sign out").is_visible()
            (session_cookie,) = [c for c in context.cookies() if c["name"] == "roost_session"]
            assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
            page.get_by_role("button", name="Sign out").click()
            page.get_by_text("You are signed out").wait_for()
            page.goto(app.http_url + f"{BASE}/executions")
            page.get_by_label("Username").wait_for()
        finally:
            context.close()
