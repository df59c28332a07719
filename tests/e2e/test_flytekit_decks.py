"""A real flytekit task's deck (flytekit 1.16.31, ``enable_deck=True``) in the console: the node panel frames
it, sandboxed, and the deck route serves the HTML flytekit wrote under a sandboxing Content-Security-Policy."""

from __future__ import annotations

import re
from html import unescape

import httpx
from flytekit_support import DOMAIN, PROJECT, Flytekit, user_nodes

pytest_plugins = ["flytekit_support"]

VERSION = "decks-v1"


def test_a_flytekit_deck_shows_in_the_node_panel(flytekit: Flytekit) -> None:
    registered = flytekit.register("decks.py", VERSION)
    assert registered.returncode == 0, flytekit.explain(registered)
    ran = flytekit.run(
        flytekit.command(
            "run",
            "--remote",
            "--wait",
            "--project",
            PROJECT,
            "--domain",
            DOMAIN,
            "--name",
            "deck-run",
            "decks.py",
            "reported_flow",
            "--n",
            "21",
        )
    )
    assert ran.returncode == 0, flytekit.explain(ran)
    page = f"/console/projects/{PROJECT}/domains/{DOMAIN}/executions/deck-run"
    with httpx.Client(base_url=flytekit.server.http_url, timeout=30) as http:
        overview = http.get(page).text
        (node_id,) = {n for n in re.findall(r'data-node="([^"]+)"', overview) if user_nodes({n: None})}
        panel = http.get(page, params={"node": node_id})
        assert panel.status_code == 200, flytekit.explain()
        (frame,) = re.findall(r"<iframe[^>]*>", panel.text)
        assert "allow-scripts" in frame and "allow-same-origin" not in frame
        deck = http.get(unescape(re.search(r'src="([^"]+)"', frame).group(1)))
    assert deck.status_code == 200, deck.text
    assert "<strong>doubled</strong> 21 into 42" in deck.text, deck.text[:2000]
    assert deck.headers["content-security-policy"].startswith("sandbox allow-scripts")
