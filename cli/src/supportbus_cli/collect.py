"""Waiting for the pipeline's replies to a set of requests, and for the reviewer agent's reviews."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Mapping
from typing import Any

import jsonschema
from pydantic import ValidationError

from supportbus_contracts import ResponseReady
from supportbus_contracts.topics import RESPONSE_READY
from supportbus_devtools.topicreader import read_topics
from supportbus_runtime.settings import repo_root


async def collect_responses(
    bootstrap_servers: str,
    request_ids: Collection[str],
    *,
    topic_prefix: str = "",
    timeout_s: float = 120.0,
    client_options: Mapping[str, Any] | None = None,
) -> dict[str, list[ResponseReady]]:
    """Every ResponseReady for ``request_ids`` (duplicates from redeliveries kept, so callers can
    check they are identical), until all have one or the timeout passes."""
    wanted = set(request_ids)
    found: dict[str, list[ResponseReady]] = {}
    async for record in read_topics(
        bootstrap_servers,
        [topic_prefix + RESPONSE_READY],
        deadline_s=timeout_s,
        done=lambda: wanted <= found.keys(),
        client_options=client_options,
    ):
        try:
            event = ResponseReady.model_validate_json(record.value or b"")
        except ValidationError:
            continue
        if event.request_id in wanted:
            found.setdefault(event.request_id, []).append(event)
    return found


# The reviewer is a standalone agent (its own environment: CrewAI pins an older pydantic), so
# this environment cannot import its event class: its records are checked against the JSON
# Schema the agent commits, as any other consumer of its topic would check them.
REVIEWED_TOPIC = "support.reply.reviewed.v1"
REVIEWED_SCHEMA = repo_root() / "agents" / "reviewer" / "schemas" / f"{REVIEWED_TOPIC}.json"


async def collect_reviews(
    bootstrap_servers: str,
    request_ids: Collection[str],
    *,
    topic_prefix: str = "",
    timeout_s: float = 120.0,
) -> dict[str, list[dict[str, Any]]]:
    """Every review the reviewer agent published for ``request_ids`` (as JSON objects valid
    against its committed schema; repeats from redeliveries kept), until all have one or the
    timeout passes. The agent may still be starting (CrewAI takes seconds to import; its topic
    may not exist yet), so the topic is read again from the start until then."""
    validator = jsonschema.Draft202012Validator(json.loads(REVIEWED_SCHEMA.read_text()))
    wanted = set(request_ids)
    deadline = time.monotonic() + timeout_s
    found: dict[str, list[dict[str, Any]]] = {}
    while True:
        found.clear()  # each pass reads the topic from its start
        async for record in read_topics(
            bootstrap_servers,
            [topic_prefix + REVIEWED_TOPIC],
            idle_timeout_s=2.0,
            deadline_s=max(deadline - time.monotonic(), 0.1),
            done=lambda: wanted <= found.keys(),
        ):
            review = json.loads(record.value or b"")
            validator.validate(review)
            if review["request_id"] in wanted:
                found.setdefault(review["request_id"], []).append(review)
        if wanted <= found.keys() or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(0.5)
