"""Waiting for the pipeline's replies to a set of requests."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from supportbus_contracts import ResponseReady
from supportbus_contracts.topics import RESPONSE_READY
from supportbus_devtools.topicreader import read_topics


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
