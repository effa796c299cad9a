"""The human queue: tickets the classifier handed off to a person, listed on their own; and the
databases stored before the queue existed keep working."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_helpdesk.store import TicketFields, TicketStore, _payload_hash

FIELDS = {
    "request_id": "req-1",
    "subject": "Card",
    "body": "Someone used my card",
    "customer_id": "cus-1",
    "category": "cards",
    "intent": "compromised_card",
    "priority": "urgent",
}

# The table as the helpdesk created it before tickets had a queue.
TABLE_BEFORE_QUEUES = """
CREATE TABLE tickets (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, payload_hash TEXT NOT NULL,
    request_id TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,
    customer_id TEXT NOT NULL, customer_email TEXT, category TEXT NOT NULL,
    intent TEXT NOT NULL, priority TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
"""


def test_the_human_queue_lists_only_handed_off_tickets(tmp_path: Path) -> None:
    settings = HelpdeskSettings(
        auth_disabled=True, db_path=tmp_path / "h.sqlite3", public_base_url="http://h"
    )
    with TestClient(build_api(settings)) as client:
        for n, queue in enumerate(["human", "auto", "human"]):
            payload = {**FIELDS, "request_id": f"req-{n}", "queue": queue}
            client.post("/v1/tickets", json=payload, headers={"Idempotency-Key": f"k{n}"})
        human = client.get("/v1/tickets", params={"queue": "human"}).json()
        assert human["total"] == 2
        assert {item["request_id"] for item in human["items"]} == {"req-0", "req-2"}
        assert all(item["queue"] == "human" for item in human["items"])
        assert client.get("/v1/tickets", params={"queue": "auto"}).json()["total"] == 1
        assert client.get("/v1/tickets").json()["total"] == 3
        assert client.get("/v1/tickets", params={"queue": "robots"}).status_code == 422


def test_a_database_from_before_queues_opens_and_its_tickets_are_auto(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(TABLE_BEFORE_QUEUES)
        old.execute(
            "INSERT INTO tickets VALUES ('TCK-OLD', 'k-old', ?, 'req-old', 'Card', 'b', 'cus-1',"
            " NULL, 'cards', 'card_arrival', 'normal', 'open', '2026-01-01T00:00:00+00:00')",
            (_payload_hash(TicketFields(**{**FIELDS, "request_id": "req-old"})),),
        )
    store = TicketStore(path)
    try:
        assert store.get("TCK-OLD").queue == "auto"
        store.create_ticket("k-new", TicketFields(**{**FIELDS, "queue": "human"}))
        assert [t.request_id for t in store.list(10, 0, queue="human")] == ["req-1"]
        assert store.count(queue="auto") == 1
    finally:
        store.close()


def test_a_ticket_in_the_default_queue_hashes_as_it_did_before_queues() -> None:
    # The idempotency hash of a ticket stored before queues existed must still match its
    # redelivery, which now carries queue="auto".
    before = '{"body":"b","category":"c","customer_email":null,"customer_id":"u",'
    before += '"intent":"i","priority":"low","request_id":"r","subject":"s"}'
    fields = TicketFields(
        request_id="r",
        subject="s",
        body="b",
        customer_id="u",
        category="c",
        intent="i",
        priority="low",
    )
    assert _payload_hash(fields) == hashlib.sha256(before.encode()).hexdigest()
    assert _payload_hash(fields.model_copy(update={"queue": "human"})) != _payload_hash(fields)
