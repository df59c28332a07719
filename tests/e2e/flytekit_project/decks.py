"""A flytekit task that writes a deck (``enable_deck=True``), for the console's deck test."""

from __future__ import annotations

import flytekit
from flytekit import task, workflow
from flytekit.deck import MarkdownRenderer


@task(enable_deck=True)
def reported(n: int) -> int:
    """Doubles ``n`` and says so in a deck of its own."""
    flytekit.Deck("summary", MarkdownRenderer().to_html(f"**doubled** {n} into {2 * n}"))
    return 2 * n


@workflow
def reported_flow(n: int) -> int:
    """One task that writes a deck."""
    return reported(n=n)
