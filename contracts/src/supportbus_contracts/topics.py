"""Topic names (the major schema version is part of the name) and dead-letter conventions."""

from __future__ import annotations

REQUEST_RECEIVED = "support.request.received.v1"
REQUEST_CLASSIFIED = "support.request.classified.v1"
KNOWLEDGE_RETRIEVED = "support.knowledge.retrieved.v1"
TICKET_CREATED = "support.ticket.created.v1"
RESPONSE_READY = "support.response.ready.v1"

PIPELINE_TOPICS: tuple[str, ...] = (
    REQUEST_RECEIVED,
    REQUEST_CLASSIFIED,
    KNOWLEDGE_RETRIEVED,
    TICKET_CREATED,
    RESPONSE_READY,
)

DEAD_LETTER_SUFFIX = ".dlq"

# A dead letter keeps the original record's value and headers untouched and adds these headers,
# so any tool (in any language) can show why it failed and republish it unchanged.
DLQ_HEADER_ERROR_TYPE = "x-dlq-error-type"
DLQ_HEADER_ERROR_MESSAGE = "x-dlq-error-message"
DLQ_HEADER_SERVICE = "x-dlq-service"
DLQ_HEADER_FAILED_AT = "x-dlq-failed-at"
DLQ_HEADER_ORIGINAL_TOPIC = "x-dlq-original-topic"
DLQ_HEADER_ORIGINAL_PARTITION = "x-dlq-original-partition"
DLQ_HEADER_ORIGINAL_OFFSET = "x-dlq-original-offset"
DLQ_HEADER_ATTEMPTS = "x-dlq-attempts"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic that holds what could not be handled from ``topic``."""
    if topic.endswith(DEAD_LETTER_SUFFIX):
        raise ValueError(f"{topic!r} is already a dead-letter topic")
    return topic + DEAD_LETTER_SUFFIX


def all_topics() -> tuple[str, ...]:
    """Every topic the pipeline uses, dead-letter topics included (for explicit creation)."""
    consumed = PIPELINE_TOPICS[:-1]
    return PIPELINE_TOPICS + tuple(dead_letter_topic(t) for t in consumed)
