"""What became of every request of a chaos run: a live watch of answers and dead letters (so
the run knows when it has settled), then an audit of every output topic and of the helpdesk.

The audit is the judge, not the pipeline's own word: tickets are counted from the helpdesk's
listing, duplicates from the topics' records (same ``event_id`` written more than once), and a
duplicate is "identical" only if its bytes are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord

from supportbus_cli.helpdesk_audit import TicketCheck, check_tickets
from supportbus_contracts.topics import (
    DLQ_HEADER_ERROR_MESSAGE,
    DLQ_HEADER_ERROR_TYPE,
    PIPELINE_TOPICS,
    RESPONSE_READY,
    dead_letter_topic,
)
from supportbus_devtools.topicreader import TopicTail, read_topics


@dataclass
class Sightings:
    """First sighting (wall clock, seconds) of each request's answer or dead letter."""

    answered_at: dict[str, float] = field(default_factory=dict)
    dead_at: dict[str, float] = field(default_factory=dict)
    # Fallback tags seen in answers ("classifier:circuit_open", ...), counted.
    fallbacks: Counter[str] = field(default_factory=Counter)
    llm_answers_after: dict[str, float] = field(default_factory=dict)

    def accounted(self, request_ids: Collection[str]) -> int:
        return sum(1 for r in request_ids if r in self.answered_at or r in self.dead_at)

    def outcome_at(self, request_id: str) -> float | None:
        return self.answered_at.get(request_id, self.dead_at.get(request_id))


def _kind(reason: object) -> str:
    """The first two parts of a fallback reason ("llm_unavailable:circuit_open"), without the
    free text that may follow."""
    return ":".join(str(reason).split(":")[:2])


def _fallback_tags(data: dict[str, object]) -> list[str]:
    tags = []
    classification = data.get("classification")
    if isinstance(classification, dict) and classification.get("fallback_reason"):
        tags.append(f"classifier:{_kind(classification['fallback_reason'])}")
    if data.get("fallback_reason"):
        tags.append(f"responder:{_kind(data['fallback_reason'])}")
    return tags


class OutcomeWatcher:
    """Reads the response and dead-letter topics from their start, without a consumer group,
    in the background, noting when each request's outcome first shows up."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self._responses = prefix + RESPONSE_READY
        topics = [self._responses, *(dead_letter_topic(prefix + t) for t in PIPELINE_TOPICS[:-1])]
        self.sightings = Sightings()
        self._tail = TopicTail(bootstrap, topics, self._note, fetch_max_wait_ms=100)

    def _note(self, record: ConsumerRecord[bytes, bytes], now: float) -> None:
        seen = self.sightings
        key = (record.key or b"").decode("utf-8", errors="replace")
        if record.topic != self._responses:
            seen.dead_at.setdefault(key, now)
            return
        if key in seen.answered_at:
            return
        seen.answered_at[key] = now
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            data = json.loads(record.value or b"")
            seen.fallbacks.update(_fallback_tags(data))
            if data.get("composer") == "llm":
                seen.llm_answers_after[key] = now

    async def start(self) -> None:
        await self._tail.start()

    def check(self) -> None:
        self._tail.check()

    async def stop(self) -> None:
        await self._tail.stop()


@dataclass(frozen=True)
class Audit:
    answered: int
    dead_by_reason: dict[str, int]
    lost: list[str]
    tickets: TicketCheck
    duplicate_events: int  # output records beyond the first of their event_id
    duplicates_identical: bool  # every repeated copy byte-identical to the first
    differing_fields: tuple[str, ...]  # envelope/payload fields that differed, if any

    @property
    def dead(self) -> int:
        return sum(self.dead_by_reason.values())


def _differences(first: bytes, other: bytes) -> set[str]:
    try:
        a, b = json.loads(first), json.loads(other)
    except ValueError:
        return {"<unreadable>"}
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


async def audit(
    bootstrap: str,
    prefix: str,
    request_ids: Sequence[str],
    helpdesk_url: str,
    helpdesk_headers: Mapping[str, str],
) -> Audit:
    """Everything the topics and the helpdesk hold for these requests."""
    wanted = set(request_ids)
    outputs = [prefix + t for t in PIPELINE_TOPICS[1:]]
    dead_topics = [dead_letter_topic(prefix + t) for t in PIPELINE_TOPICS[:-1]]
    copies: dict[str, list[bytes]] = defaultdict(list)
    answered: set[str] = set()
    dead: dict[str, str] = {}
    async for record in read_topics(bootstrap, [*outputs, *dead_topics], idle_timeout_s=3.0):
        key = (record.key or b"").decode("utf-8", errors="replace")
        if key not in wanted:
            continue
        if record.topic in dead_topics:
            headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
            reason = headers.get(DLQ_HEADER_ERROR_TYPE, "unknown")
            if "retry budget" in headers.get(DLQ_HEADER_ERROR_MESSAGE, ""):
                reason += " (retry budget spent)"
            dead.setdefault(key, reason)
            continue
        value = record.value or b""
        try:
            event_id = str(json.loads(value)["event_id"])
        except (ValueError, KeyError, TypeError):
            event_id = f"unreadable:{record.topic}:{record.offset}"
        copies[event_id].append(value)
        if record.topic == prefix + RESPONSE_READY:
            answered.add(key)
    duplicates = sum(len(v) - 1 for v in copies.values())
    differing: set[str] = set()
    for values in copies.values():
        for other in values[1:]:
            if other != values[0]:
                differing |= _differences(values[0], other)
    tickets = await asyncio.to_thread(check_tickets, helpdesk_url, request_ids, helpdesk_headers)
    lost = [r for r in request_ids if r not in answered and r not in dead]
    return Audit(
        answered=len(answered),
        dead_by_reason=dict(Counter(dead.values())),
        lost=lost,
        tickets=tickets,
        duplicate_events=duplicates,
        duplicates_identical=not differing,
        differing_fields=tuple(sorted(differing)),
    )
