"""The web console: its pages render real executions on flyteconsole's addresses, the executions list filters,
sorts and pages, the execution page shows the graph, timeline, node panel, errors and logs, and each action
(launch from the typed form, relaunch, terminate, approve a gate, activate a launch plan) works after its
confirmation and shows the admin's refusal when there is one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import example_flows
import execution_flows
import httpx
import pytest
import signal_flows
from conftest import fresh_database
from execution_support import (
    DOMAIN,
    PROJECT,
    VERSION,
    launch,
    lp_id,
    running_admin,
    wait,
    wait_until,
)
from flyteidl.admin import common_pb2, launch_plan_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

Phase = core_execution_pb2.WorkflowExecution
BASE = f"/console/projects/{PROJECT}/domains/{DOMAIN}"


class Site:
    """A running admin with workers, the flows registered, and a few ended executions; an HTTP client."""

    def __init__(self, app: Any, admin: Any, signals: Any) -> None:
        self.app = app
        self.admin = admin
        self.signals = signals
        self.http = httpx.Client(base_url=app.http_url, timeout=30)
        self.done = launch(admin, "one", name="done", x=3)
        self.broken = launch(admin, "failing", name="broken", x=1)
        self.pair = launch(admin, "pair", name="paired", x=4)
        self.dynamic = launch(admin, "dyn", name="dynamic", n=2)
        self.parent = launch(admin, "parent", name="parent", x=1)
        example_flows.register(admin, signal_flows.asks, execution_flows.screened)
        self.nested = [
            example_flows.run(admin, "basics.wf", "subworkflow"),
            example_flows.run(admin, "dynamic.wf", "fibonacci", n=3),
            example_flows.run(admin, "conditional.wf", "tails"),
            example_flows.run(admin, "map.wf", "mapped"),
            example_flows.run(admin, "execution_flows.screened", "screened"),
        ]
        for ident in (self.done, self.broken, self.pair, self.dynamic, self.parent, *self.nested):
            wait(admin, ident)

    def page(self, path: str, status: int = 200, **params: Any) -> str:
        response = self.http.get(path, params=params or None)
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        assert response.headers["content-type"].startswith("text/html")
        return response.text

    def post(self, path: str, data: dict[str, str] | None = None, status: int = 303) -> httpx.Response:
        response = self.http.post(path, data=data or {}, headers={"origin": self.app.http_url})
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        return response


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("console")
    # as under `roost start`, ended attempts' logs stay in the data folder's task-logs (no handler settings)
    with (
        fresh_database("sqlite", folder) as url,
        running_admin(folder, url, engine=example_flows.engine()) as (app, admin, signals),
    ):
        made = Site(app, admin, signals)
        yield made
        made.http.close()


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def links(html: str) -> list[str]:
    return [unescape(link) for link in re.findall(r'href="([^"]+)"', html)]


def test_projects_link_to_each_domains_executions(site: Site) -> None:
    html = site.page("/console")
    assert f"{BASE}/executions" in links(html)
    assert f"/console/projects/{PROJECT}/domains/production/executions" in links(html)
    redirect = site.http.get(f"/console/projects/{PROJECT}")
    assert redirect.status_code == 303 and redirect.headers["location"] == f"{BASE}/executions"
    old_style = site.http.get(f"/console/projects/{PROJECT}/workflows", params={"domain": "staging"})
    assert old_style.headers["location"] == f"/console/projects/{PROJECT}/domains/staging/workflows"


def test_the_executions_list_shows_counts_and_filters(site: Site) -> None:
    html = site.page(f"{BASE}/executions")
    names = re.findall(rf'href="{BASE}/executions/([^"/]+)"', html)
    assert {"done", "broken", "paired"} <= set(names)
    counts = text_of(html)
    assert re.search(r"failed\s+1\b", counts) and re.search(r"succeeded\s+\d+", counts)
    failed = site.page(f"{BASE}/executions", phase="FAILED")
    assert re.findall(rf'href="{BASE}/executions/([^"/]+)"', failed) == ["broken"]
    by_plan = site.page(f"{BASE}/executions", launch_plan="execution_flows.pair")
    assert re.findall(rf'href="{BASE}/executions/([^"/]+)"', by_plan) == ["paired"]
    by_text = site.page(f"{BASE}/executions", text="brok")
    assert re.findall(rf'href="{BASE}/executions/([^"/]+)"', by_text) == ["broken"]
    future = site.page(f"{BASE}/executions", after="2999-01-01T00:00")
    assert "No executions match." in future
    ordered = site.page(f"{BASE}/executions", sort="name", order="asc")
    listed = re.findall(rf'href="{BASE}/executions/([^"/]+)"', ordered)
    assert listed == sorted(listed)


def test_the_executions_list_pages(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from roost_admin.console import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    first = site.page(f"{BASE}/executions", sort="name", order="asc")
    names = re.findall(rf'href="{BASE}/executions/([^"/]+)"', first)
    assert len(names) == 2
    following = [link for link in links(first) if "token=" in link]
    assert following, "a next-page link"
    second = site.page(f"{BASE}/executions{following[0]}")
    assert not set(re.findall(rf'href="{BASE}/executions/([^"/]+)"', second)) & set(names)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"phase": "SLEEPING"}, "phase 'SLEEPING' is not one of"),
        ({"after": "yesterday"}, "after 'yesterday' is not a date and time"),
        ({"sort": "colour"}, "sort 'colour' is not one of created_at, duration, name, updated_at"),
    ],
)
def test_bad_list_filters_are_refused_naming_them(site: Site, params: dict[str, str], message: str) -> None:
    html = site.page(f"{BASE}/executions", 400, **params)
    assert message in text_of(html)


def test_the_execution_page_shows_header_graph_timeline_and_outputs(site: Site) -> None:
    html = site.page(f"{BASE}/executions/paired")
    text = text_of(html)
    assert "succeeded" in text and "execution_flows.pair" in text
    assert (
        f"/console/projects/{PROJECT}/domains/{DOMAIN}/launch_plan/execution_flows.pair/version/{VERSION}"
        in links(html)
    )
    assert '<svg class="graph"' in html and '<svg class="timeline"' in html
    nodes = re.findall(r'<rect class="node kind-task phase-(\w+)', html)
    assert nodes and set(nodes) == {"SUCCEEDED"}
    assert 'class="node kind-start' in html and 'class="node kind-end' in html
    assert re.search(r"o0\s+5", text), "outputs by name"
    assert "Terminate" not in text, "an ended execution cannot be terminated"


def test_a_failed_node_shows_its_error_and_logs(site: Site) -> None:
    page = site.page(f"{BASE}/executions/broken")
    node = re.search(r'<rect class="node kind-task phase-FAILED[^"]*"', page)
    assert node, "the failed node is coloured by its phase"
    node_id = re.search(r'data-node="(n\d+)"', page).group(1)
    html = site.page(f"{BASE}/executions/broken", node=node_id)
    text = text_of(html)
    assert "cannot take 1" in text, "the error with its message"
    assert "Traceback" in text or "ValueError" in text
    log_links = [link for link in links(html) if "/logs/" in link]
    assert {link.rsplit("/", 1)[-1] for link in log_links} == {"stdout", "stderr"}
    stderr = site.http.get(next(link for link in log_links if link.endswith("stderr")))
    assert stderr.status_code == 200 and "about to fail on 1" in stderr.text
    with site.http.stream(
        "GET", next(link for link in log_links if link.endswith("stderr")), params={"follow": 1}
    ) as stream:
        events = [line for line in stream.iter_lines() if line.startswith("event: ")]
    assert events[-1] == "event: end" and "event: line" in events
    missing = site.http.get(f"{BASE}/executions/broken/nodes/{node_id}/attempts/7/logs/stdout")
    assert (
        missing.status_code == 404 and f"node {node_id} of execution broken has no attempt 7" in missing.text
    )
    other = site.http.get(f"{BASE}/executions/broken/nodes/{node_id}/attempts/0/logs/passwd")
    assert other.status_code == 404 and "no log 'passwd'" in other.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"{BASE}/executions/nosuch", f"execution {PROJECT}/{DOMAIN}/nosuch does not exist"),
        ("/console/projects/nosuch/domains/development/executions", "project 'nosuch' does not exist"),
        (
            f"/console/projects/{PROJECT}/domains/nosuch/executions",
            f"project '{PROJECT}' has no domain 'nosuch'",
        ),
        (f"{BASE}/workflows/nosuch", "workflow 'nosuch' does not exist"),
        (f"{BASE}/workflow/nosuch/version/v1", f"workflow '{PROJECT}/{DOMAIN}/nosuch@v1' is not registered"),
        (f"{BASE}/colours", f"no console page {BASE}/colours"),
    ],
)
def test_what_does_not_exist_is_a_404_page_naming_it(site: Site, path: str, message: str) -> None:
    assert message in text_of(site.page(path, 404))


def test_entities_and_versions_follow_flyteconsoles_addresses(site: Site) -> None:
    workflows = site.page(f"{BASE}/workflows")
    assert f"{BASE}/workflows/execution_flows.one" in links(workflows)
    entity = site.page(f"{BASE}/workflows/execution_flows.one")
    assert f"{BASE}/workflow/execution_flows.one/version/{VERSION}" in links(entity)
    assert f"{BASE}/executions/done" in links(entity)
    version = site.page(f"{BASE}/workflow/execution_flows.one/version/{VERSION}")
    assert '<svg class="graph"' in version and "int" in text_of(version)
    task = site.page(f"{BASE}/task/execution_flows.add_one/version/{VERSION}")
    assert "python-task" in text_of(task)
    plans = site.page(f"{BASE}/launchPlans")
    assert f"{BASE}/launchPlans/execution_flows.one_lp" in links(plans)
    assert "execution_flows.add_one" in text_of(site.page(f"{BASE}/tasks"))


def test_launching_from_the_form_validates_then_runs(site: Site) -> None:
    path = f"{BASE}/launch_plan/execution_flows.pair/version/{VERSION}/launch"
    form = site.page(path)
    assert re.search(r'name="x"[^>]*type="number"', form.replace("\n", " ")) and 'value="2"' in form
    refused = site.post(path, {"x": "four", "y": "2"}, status=400)
    assert "x: 'four' is not an integer" in text_of(refused.text)
    missing = site.post(path, {"y": "2"}, status=400)
    assert "x is required (int)" in text_of(missing.text)
    launched = site.post(path, {"x": "5", "y": "", "execution_name": "fromform"})
    assert launched.headers["location"] == f"{BASE}/executions/fromform"
    ended = wait(
        site.admin,
        identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="fromform"),
    )
    assert ended.closure.phase == Phase.SUCCEEDED
    again = site.post(path, {"x": "5", "execution_name": "fromform"}, status=409)
    assert "already exists" in text_of(again.text)


def test_relaunch_and_terminate_after_confirmation(site: Site, tmp_path) -> None:
    confirm = site.page(f"{BASE}/executions/done/relaunch")
    assert "Relaunch execution done with the same inputs" in text_of(confirm) and 'method="post"' in confirm
    relaunched = site.post(f"{BASE}/executions/done/relaunch")
    new_name = relaunched.headers["location"].rsplit("/", 1)[-1]
    assert new_name != "done"
    ident = launch(site.admin, "slow", name="long", path=str(tmp_path / "x"), seconds=60.0, x=1)
    wait(site.admin, ident, {Phase.RUNNING})
    running = site.page(f"{BASE}/executions/long")
    assert f"{BASE}/executions/long/terminate" in links(running)
    assert 'data-events="/api/v1/events/executions/' in running
    assert "Terminate execution long?" in text_of(site.page(f"{BASE}/executions/long/terminate"))
    site.post(f"{BASE}/executions/long/terminate", {"cause": "enough"})
    ended = wait(site.admin, ident)
    assert ended.closure.phase == Phase.ABORTED and ended.closure.abort_metadata.cause == "enough"
    again = site.post(f"{BASE}/executions/long/terminate", {"cause": "again"}, status=400)
    assert "long" in text_of(again.text)


def test_a_post_from_another_site_is_refused(site: Site) -> None:
    response = site.http.post(f"{BASE}/executions/done/relaunch", headers={"origin": "https://evil.example"})
    assert response.status_code == 403 and "posted from another site" in text_of(response.text)


def test_approving_a_gate_resumes_the_execution(site: Site) -> None:
    ident = launch(site.admin, "gated", name="gate", x=1)
    wait_until(
        lambda: f"{BASE}/executions/gate/signals/ok" in links(site.page(f"{BASE}/executions/gate")),
        what="the gate's signal link",
    )
    form = site.page(f"{BASE}/executions/gate/signals/ok")
    assert "Approve" in form and "Reject" in form
    site.post(f"{BASE}/executions/gate/signals/ok", {"decision": "approve"})
    assert wait(site.admin, ident).closure.phase == Phase.SUCCEEDED
    gone = site.page(f"{BASE}/executions/gate/signals/nosuch", 404)
    assert "execution gate has no signal 'nosuch'" in text_of(gone)


def test_activating_a_launch_plan_after_confirmation(site: Site) -> None:
    path = f"{BASE}/launch_plan/execution_flows.one/version/{VERSION}/state"
    assert "Activate launch plan execution_flows.one" in text_of(site.page(path))
    site.post(path)
    plan = site.admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id("one")))
    assert plan.closure.state == launch_plan_pb2.ACTIVE
    assert "Deactivate" in site.page(f"{BASE}/launch_plan/execution_flows.one/version/{VERSION}")
    site.post(path)


def test_assets_ship_in_the_package_and_pages_work_in_both_colour_schemes(site: Site) -> None:
    css = site.http.get("/console/static/console.css")
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    script = site.http.get("/console/static/console.js")
    assert script.status_code == 200 and "EventSource" in script.text


def _workflow(edges: list[tuple[str, str]]) -> Any:
    from flyteidl.core import compiler_pb2, workflow_pb2

    compiled = compiler_pb2.CompiledWorkflow()
    names = {name for edge in edges for name in edge} - {"start-node", "end-node"}
    compiled.template.nodes.extend(workflow_pb2.Node(id=name) for name in sorted(names))
    for source, target in edges:
        compiled.connections.downstream[source].ids.append(target)
    return compiled


def _columns(svg: str) -> dict[str, int]:
    """Each drawn node's column, from where its box is (every box node-sized: nothing open)."""
    from roost_admin.console import graph

    return {
        key: (int(x) - 8) // (graph.NODE_WIDTH + graph.COLUMN_GAP)
        for key, x in re.findall(r'data-node="([^"]+)"><rect class="[^"]*" x="(\d+)"', svg)
    }


def test_the_graph_lays_out_by_longest_path_at_any_depth() -> None:
    from roost_admin.console.graph import drawing, drawing_svg

    diamond = _workflow(
        [("start-node", "a"), ("a", "b"), ("b", "c"), ("a", "c"), ("c", "end-node"), ("start-node", "d")]
    )
    assert _columns(drawing_svg(drawing(diamond), "/x")) == {
        "start-node": 0,
        "a": 1,
        "d": 1,
        "b": 2,
        "c": 3,
        "end-node": 4,
    }
    chain = [("start-node", "n0")] + [(f"n{i}", f"n{i + 1}") for i in range(2_000)] + [("n2000", "end-node")]
    drawn = drawing(_workflow(chain))
    assert len(drawn.edges) == 2_002
    drawn.boxes[[box.key for box in drawn.boxes].index("n5")].phase = "RUNNING"
    svg = drawing_svg(drawn, "/x")
    assert svg.count('class="node-link"') == 2_003 and "phase-RUNNING" in svg
    assert max(_columns(svg).values()) == 2_002


def test_a_dynamic_nodes_panel_lists_the_nodes_it_ran(site: Site) -> None:
    page = site.page(f"{BASE}/executions/dynamic")
    node_id = re.search(r'data-node="(n\d+)"', page).group(1)
    panel = site.page(f"{BASE}/executions/dynamic", node=node_id)
    # each opens the dynamic node in the graph, where it is drawn
    inside = re.findall(rf'href="{BASE}/executions/dynamic\?node=([^"#&]+)&amp;expand={node_id}#node"', panel)
    assert len(inside) >= 2 and all(child.startswith(f"{node_id}-") for child in inside)
    task = next(child for child in inside if not child.endswith(("start-node", "end-node")))
    child = site.page(f"{BASE}/executions/dynamic", node=task, expand=node_id)
    assert "succeeded" in text_of(child) and "Attempt 0" in text_of(child)
    assert "selected" in box_classes(child)[task], "selected in the opened dynamic node"


def test_recover_and_resume_after_confirmation_and_the_refusals_named(site: Site) -> None:
    assert f"{BASE}/executions/broken/recover" in links(site.page(f"{BASE}/executions/broken"))
    confirm = text_of(site.page(f"{BASE}/executions/broken/recover"))
    assert "Recover execution broken" in confirm and "Resume on version" in confirm
    recovered = site.post(f"{BASE}/executions/broken/recover")
    new_name = recovered.headers["location"].rsplit("/", 1)[-1]
    assert new_name != "broken"
    ended = wait(
        site.admin, identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=new_name)
    )
    assert ended.closure.phase == Phase.FAILED, "the same input fails the same node again"
    missing = site.post(f"{BASE}/executions/broken/recover", {"version": "v-nosuch"}, status=404)
    assert "can be resumed only on a registered version of its launch plan" in text_of(missing.text)


def box_classes(html: str) -> dict[str, str]:
    """Each drawn node's classes by its node execution id."""
    return dict(re.findall(r'data-node="([^"]+)"><rect class="([^"]+)"', html))


def test_a_sub_workflow_opens_in_place_and_the_address_keeps_it_open(site: Site) -> None:
    closed = site.page(f"{BASE}/executions/subworkflow")
    assert "kind-workflow" in box_classes(closed)["n0"]
    assert "n0-0-n0" not in box_classes(closed), "a closed sub-workflow's nodes are not drawn"
    toggle = re.search(
        r'<a href="([^"]+)" class="toggle" aria-expanded="false" aria-label="expand n0"', closed
    )
    assert toggle and unescape(toggle.group(1)) == f"{BASE}/executions/subworkflow?expand=n0#graph"
    opened = site.page(f"{BASE}/executions/subworkflow", expand="n0", node="n1")
    inside = {key: classes for key, classes in box_classes(opened).items() if key.startswith("n0-0-")}
    assert set(inside) == {"n0-0-start-node", "n0-0-n0", "n0-0-n1", "n0-0-n2", "n0-0-end-node"}
    assert all("phase-SUCCEEDED" in classes for classes in inside.values())
    assert "open" in box_classes(opened)["n0"].split()
    assert 'aria-expanded="true" aria-label="collapse n0"' in opened
    # links keep what is open and what is selected: selecting a node inside, closing, the panel's close
    assert f"{BASE}/executions/subworkflow?node=n0-0-n1&expand=n0" in links(opened)
    assert f"{BASE}/executions/subworkflow?node=n1#graph" in links(opened)
    assert f"{BASE}/executions/subworkflow?expand=n0" in links(opened)
    # what opens nothing is dropped from the links
    odd = site.page(f"{BASE}/executions/subworkflow", expand=["n0", "nosuch", "<b>"])
    assert not [link for link in links(odd) if "nosuch" in link or "<b>" in link]
    assert f"{BASE}/executions/subworkflow?node=n1&expand=n0" in links(odd)
    panel = site.page(f"{BASE}/executions/subworkflow", expand="n0", node="n0-0-n1")
    assert "selected" in box_classes(panel)["n0-0-n1"] and "Attempt 0" in text_of(panel)


def test_a_workflow_versions_graph_opens_its_sub_workflow_on_the_spec(site: Site) -> None:
    path = f"{BASE}/workflow/basics.wf/version/{VERSION}"
    closed = site.page(path)
    assert f"{path}?expand=n0#graph" in links(closed) and "n0-0-n0" not in box_classes(closed)
    opened = box_classes(site.page(path, expand="n0"))
    assert {"n0-0-n0", "n0-0-n1", "n0-0-n2"} <= set(opened)
    assert all("phase-UNDEFINED" in classes for classes in opened.values()), "nothing ran"


def test_a_dynamic_node_opens_to_the_workflow_it_built(site: Site) -> None:
    closed = site.page(f"{BASE}/executions/fibonacci")
    assert 'aria-label="expand n0"' in closed and "n0-0-dn0" not in box_classes(closed)
    opened = site.page(f"{BASE}/executions/fibonacci", expand="n0")
    inside = {key: classes for key, classes in box_classes(opened).items() if key.startswith("n0-0-")}
    assert {"n0-0-dn0", "n0-0-dn1", "n0-0-dn2"} <= set(inside) and "n0-0-dn3" not in inside, (
        "n=3 built 3 steps"
    )
    assert all("phase-SUCCEEDED" in inside[f"n0-0-dn{i}"] for i in range(3))
    assert opened.count('class="edge"') > closed.count('class="edge"'), "the built workflow's edges are drawn"


def test_a_branch_shows_the_path_taken(site: Site) -> None:
    tails = box_classes(site.page(f"{BASE}/executions/tails"))
    assert "phase-SUCCEEDED" in tails["n3"]
    assert {"phase-SUCCEEDED", "taken"} <= set(tails["n3-0-n3-n2"].split()), "p=0.595: the tails case ran"
    assert {"phase-SKIPPED", "not-taken"} <= set(tails["n3-0-n3-n1"].split())
    # launched here, not with the others: the list's tests count one failed execution
    wait(site.admin, example_flows.run(site.admin, "conditional.wf", "edge", seed=500))
    edge = site.page(f"{BASE}/executions/edge")
    cases = box_classes(edge)
    assert "phase-FAILED" in cases["n3"]
    assert all("not-taken" in cases[key].split() for key in cases if key.startswith("n3-0-"))
    fail = re.search(r'<rect class="(node kind-fail[^"]*)"', edge)
    assert fail and {"phase-FAILED", "taken"} <= set(fail.group(1).split()), "p=0.5: the else failed"
    assert "else: fail" in text_of(edge)


def test_a_map_node_counts_its_subtasks_per_phase(site: Site) -> None:
    html = site.page(f"{BASE}/executions/mapped")
    assert "kind-array" in box_classes(html)["n0"]
    counts = re.search(r'<text [^>]*data-counts="n0">(.*?)</text>', html)
    assert counts and text_of(counts.group(1)).strip() == "4 succeeded"
    assert '<tspan class="count phase-SUCCEEDED">' in counts.group(1)
    # two of five fail (the map may lose half): counted apart, in the phases' order
    mixed = site.page(f"{BASE}/executions/screened")
    counts = re.search(r'<text [^>]*data-counts="n0">(.*?)</text>', mixed)
    assert counts and " ".join(text_of(counts.group(1)).split()) == "3 succeeded · 2 failed"
    assert '<tspan class="count phase-FAILED">' in counts.group(1)


def test_a_launch_plan_node_links_to_its_child_execution(site: Site) -> None:
    html = site.page(f"{BASE}/executions/parent")
    child = re.search(r'<a href="([^"]+)" class="child-link" aria-label="child execution of (n\d+)"', html)
    assert child, "the launch plan node links to the execution it launched"
    assert child.group(1) != f"{BASE}/executions/parent" and child.group(1).startswith(f"{BASE}/executions/")
    assert "succeeded" in text_of(site.page(child.group(1)))
    assert child.group(1) in links(html[: html.index("<svg")]), "the header lists it among the children"
    panel = site.page(f"{BASE}/executions/parent", node=child.group(2))
    assert child.group(1) in links(panel), "and the node's panel links to it"


def test_a_signal_refuses_a_wrong_typed_value_next_to_its_field(site: Site) -> None:
    from flyteidl.admin import execution_pb2

    ident = example_flows.run(site.admin, "signal_flows.asks", "asking", x=2)
    path = f"{BASE}/executions/asking/signals/factor"
    wait_until(lambda: path in links(site.page(f"{BASE}/executions/asking")), what="the signal's link")
    form = site.page(path)
    assert "(int)" in text_of(form)
    refused = site.post(path, {"value": "lots"}, status=400)
    assert "factor: 'lots' is not an integer" in text_of(refused.text)
    assert re.search(
        r'name="value"[^>]*></label>\s*<p class="error" role="alert" id="signal-error">', refused.text
    ), "the message follows its field"
    assert re.search(
        r'name="value" value="lots"[^>]*aria-invalid="true" aria-describedby="signal-error"', refused.text
    )
    site.post(path, {"value": "3"})
    again = site.post(path, {"value": "4"}, status=409)
    assert "was already set" in text_of(again.text), "the admin's refusal, on the form"
    assert 'role="alert" id="signal-error"' in again.text and 'value="4"' in again.text
    ended = wait(site.admin, ident)
    assert ended.closure.phase == Phase.SUCCEEDED
    outputs = site.admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident))
    assert outputs.full_outputs.literals["o0"].scalar.primitive.integer == 6


def test_an_open_node_holds_its_nested_graph_and_a_closed_one_stays_node_sized() -> None:
    from roost_admin.console import graph

    outer = graph.drawing(_workflow([("start-node", "a"), ("a", "b"), ("b", "end-node")]))
    inner = graph.drawing(_workflow([("start-node", "x"), ("x", "y"), ("y", "end-node")]), "a")
    outer.boxes[[box.spec_id for box in outer.boxes].index("a")].inner = inner
    svg = graph.drawing_svg(outer, "/e", expanded={"a"})
    rects = {
        key: tuple(int(rect[name]) for name in ("x", "y", "width", "height"))
        for key, rect in (
            (key, dict(re.findall(r'(\w+)="(\d+)"', attributes)))
            for key, attributes in re.findall(r'data-node="([^"]+)"><rect ([^>]+)>', svg)
        )
    }
    ax, ay, aw, ah = rects["a"]
    for key in ("a-0-x", "a-0-y", "a-0-start-node", "a-0-end-node"):
        x, y, w, h = rects[key]
        assert ax < x and x + w < ax + aw and ay < y and y + h < ay + ah, f"{key} inside a"
    bx, _, bw, bh = rects["b"]
    assert (bw, bh) == (graph.NODE_WIDTH, graph.NODE_HEIGHT) and bx > ax + aw, "b after the open a"
    assert rects["a-0-x"][0] < rects["a-0-y"][0], "the nested graph is laid out left to right too"
    assert 'href="/e?node=a-0-x&amp;expand=a"' in svg


DECK = (
    '<html><head><link href="https://fonts.googleapis.com/css?family=Lato" rel="stylesheet"></head>'
    "<body><h2>Deck</h2><script>document.body.dataset.ran = '1'</script><table><tr><td>7</td></tr></table>"
    "</body></html>"
)


def test_a_nodes_deck_shows_in_a_sandboxed_frame(site: Site) -> None:
    from flyteidl.admin import node_execution_pb2

    nodes = site.admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=site.done, limit=10)
    ).node_executions
    node = next(n for n in nodes if n.closure.output_uri and n.id.node_id not in ("start-node", "end-node"))
    node_id = node.id.node_id
    page = f"{BASE}/executions/done"
    assert "<iframe" not in site.page(page, node=node_id), "no deck written yet, so none shown"
    absent = site.http.get(f"{page}/nodes/{node_id}/deck")
    assert (
        absent.status_code == 404
        and f"node execution '{PROJECT}/{DOMAIN}/done/{node_id}' wrote no deck" in (unescape(absent.text))
    )
    # where flytekit writes it: deck.html beside the outputs, in the attempt's output folder
    site.app.storage.write(node.closure.output_uri.rsplit("/", 1)[0] + "/deck.html", DECK.encode())
    html = site.page(page, node=node_id)
    (frame,) = re.findall(r"<iframe[^>]*>", html)
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1).split()
    assert "allow-scripts" in sandbox and "allow-same-origin" not in sandbox, frame
    source = unescape(re.search(r'src="([^"]+)"', frame).group(1))
    assert source == f"{page}/nodes/{node_id}/deck"
    served = site.http.get(source)
    assert served.status_code == 200 and served.text == DECK
    assert served.headers["content-type"].startswith("text/html")
    policy = served.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts") and "allow-same-origin" not in policy
    assert (
        "connect-src 'none'" in policy
        and "form-action 'none'" in policy
        and "frame-ancestors 'self'" in policy
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    missing = site.http.get(f"{page}/nodes/n99/deck")
    assert missing.status_code == 404 and "does not exist" in missing.text
