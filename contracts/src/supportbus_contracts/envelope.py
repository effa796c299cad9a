"""The envelope every supportbus event carries.

Identity rules (why they matter): ``request_id`` is the case key and the Kafka message key on
every topic, so all events of one request land in the same partition, in order. Derived events are
*deterministic* functions of their cause: the ``event_id`` is a UUIDv5 of the cause's id and the
event type, and ``occurred_at`` is the time of the fact the event rests on (the cause's, unless the
producer names a time of its own that is just as fixed, such as the ticket's creation time). So a
record that is redelivered and handled again yields the same output event, which consumers can
recognise as a duplicate by ``event_id`` alone. With the embedded models it is byte-identical
(same JSON); with an LLM provider the event_id, ticket and request fields are the same but the
model's text may differ.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

# Fixed namespace for derived event ids: never change it, or redeliveries stop deduplicating.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c9a52-3a57-4c8e-9a0e-2f8f4f6b1d10")

RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The case key: stable for the whole life of one support request.",
    ),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every contract model: immutable, and tolerant of fields added later.

    ``extra="ignore"`` is what lets a consumer on schema 1.0 read an event from a producer that
    already writes 1.1 (new optional fields): forward compatibility within a major version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)


class Event(Contract):
    """Envelope fields shared by all events; each subclass pins ``type`` and adds its payload."""

    type: str
    version: str = Field(
        default="1.0",
        pattern=r"^1\.[0-9]+$",
        description="Schema version MAJOR.MINOR; the major is also in the topic name.",
    )
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    request_id: RequestId
    correlation_id: str = Field(
        default="",
        max_length=128,
        description="Ties together everything caused by one request; defaults to request_id.",
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="event_id of the event this one was derived from."
    )
    producer: str = Field(default="unknown", max_length=64, description="Who wrote the event.")

    @model_validator(mode="before")
    @classmethod
    def _default_correlation(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("correlation_id") and "request_id" in data:
            return {**data, "correlation_id": data["request_id"]}
        return data

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def event_type(cls) -> str:
        default = cls.model_fields["type"].default
        if not isinstance(default, str):
            raise TypeError(f"{cls.__name__} must pin its 'type' with a Literal default")
        return default

    @classmethod
    def derived_from(
        cls,
        cause: Event,
        *,
        producer: str,
        occurred_at: datetime | None = None,
        **payload: Any,
    ) -> Self:
        """Build the event that ``cause`` leads to, in the same case, deterministically.

        The id is a UUIDv5 of the cause's id and this event's type; ``occurred_at`` is the
        cause's unless the caller passes the time of its own fact (it must be as fixed as the
        fact, never the clock). Handling a redelivered cause again therefore yields the same
        event, byte for byte when the payload is the same."""
        return cls(
            event_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{cause.event_id}/{cls.event_type()}"),
            # Not now(): a redelivery handled a minute later must not date the same fact anew.
            occurred_at=cause.occurred_at if occurred_at is None else occurred_at,
            request_id=cause.request_id,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            producer=producer,
            **payload,
        )
