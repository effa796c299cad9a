"""``supportbus kb gaps``: what the kb-gaps agent found, grouped by intent. Reads the gap topic
from its start without joining a consumer group, bounded in time, progress on stderr. Errors
are left to the app's one translation (``supportbus_cli.errors``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from supportbus_cli.progress import console
from supportbus_cli.settings import CliSettings
from supportbus_devtools.topicreader import read_topics
from supportbus_kb_gaps.declaration import GAP_FOUND_TOPIC
from supportbus_kb_gaps.events import KnowledgeGapFound

MAX_EXAMPLES = 3
_PROGRESS_EVERY_S = 2.0


@dataclass
class IntentGaps:
    """The gaps of one intent: how many, the best score any of them saw, why, and examples."""

    intent: str
    category: str
    count: int = 0
    best_score: float | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, gap: KnowledgeGapFound) -> None:
        self.count += 1
        self.reasons[gap.reason] += 1
        scores = [s for s in (self.best_score, gap.best_score) if s is not None]
        self.best_score = max(scores, default=None)
        if len(self.examples) < MAX_EXAMPLES and gap.example_question not in self.examples:
            self.examples.append(gap.example_question)

    def as_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "category": self.category,
            "count": self.count,
            "best_score": self.best_score,
            "reasons": dict(sorted(self.reasons.items())),
            "examples": self.examples,
        }


def group_gaps(gaps: Iterable[KnowledgeGapFound]) -> list[IntentGaps]:
    """One group per intent, most gaps first (then by intent). A redelivered gap (the same
    ``event_id``) counts once."""
    groups: dict[str, IntentGaps] = {}
    seen: set[object] = set()
    for gap in gaps:
        if gap.event_id in seen:
            continue
        seen.add(gap.event_id)
        groups.setdefault(gap.intent, IntentGaps(gap.intent, gap.category)).add(gap)
    return sorted(groups.values(), key=lambda g: (-g.count, g.intent))


def gaps_table(groups: list[IntentGaps]) -> str:
    width = max([len("intent"), *(len(g.intent) for g in groups)])
    lines = [f"{'intent':<{width}} {'gaps':>5} {'best':>6}  reasons / examples"]
    for group in groups:
        best = "-" if group.best_score is None else f"{group.best_score:.3f}"
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(group.reasons.items()))
        lines.append(f"{group.intent:<{width}} {group.count:>5} {best:>6}  {reasons}")
        lines += [f"{'':<{width}} {'':>5} {'':>6}    “{_one_line(e)}”" for e in group.examples]
    return "\n".join(lines)


def _one_line(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def read_gaps(
    settings: CliSettings, *, timeout_s: float
) -> tuple[list[KnowledgeGapFound], int]:
    """Every gap on the topic (read until nothing new arrives, at most ``timeout_s``), and how
    many records were not gap events."""
    topic = settings.topic(GAP_FOUND_TOPIC)
    gaps: list[KnowledgeGapFound] = []
    unreadable = 0
    started = last_report = time.monotonic()
    with console.status(f"reading {topic}") as status:
        async for record in read_topics(
            settings.kafka_bootstrap_servers, [topic], idle_timeout_s=1.5, deadline_s=timeout_s
        ):
            try:
                gaps.append(KnowledgeGapFound.model_validate_json(record.value or b""))
            except ValidationError:
                unreadable += 1
            now = time.monotonic()
            if now - last_report >= _PROGRESS_EVERY_S:
                last_report = now
                message = f"reading {topic}: {len(gaps)} gaps, {now - started:.0f} s"
                status.update(message)
                if not console.is_terminal:
                    console.print(message)
    return gaps, unreadable


def gaps_command(
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (default: settings).")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.5, help="Stop reading after this many seconds.")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per intent.")] = False,
) -> None:
    """Where the knowledge base falls short: the kb-gaps agent's findings by intent, with
    counts, the best score seen, the reasons and up to 3 (redacted) example questions."""
    settings = CliSettings()
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    gaps, unreadable = asyncio.run(read_gaps(settings, timeout_s=timeout))
    groups = group_gaps(gaps)
    if as_json:
        for group in groups:
            print(json.dumps(group.as_json()))
    elif groups:
        print(gaps_table(groups))
    skipped = f", {unreadable} record(s) that are no gap event skipped" if unreadable else ""
    console.print(f"{len(gaps)} gap(s) in {len(groups)} intent(s){skipped}")
