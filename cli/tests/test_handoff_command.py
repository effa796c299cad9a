"""`supportbus handoff list` reads the helpdesk's human queue and never shows raw PII."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from supportbus_cli.handoff_command import human_queue, queue_lines
from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.settings import HelpdeskSettings


def _ticket(n: int, queue: str, subject: str) -> dict[str, str]:
    return {
        "request_id": f"req-{n}",
        "subject": subject,
        "body": "b",
        "customer_id": "cus-1",
        "category": "cards",
        "intent": "compromised_card",
        "priority": "urgent",
        "queue": queue,
    }


def test_the_human_queue_lists_handed_off_tickets_with_subjects_redacted(tmp_path: Path) -> None:
    settings = HelpdeskSettings(
        auth_disabled=True, db_path=tmp_path / "h.sqlite3", public_base_url="http://h"
    )
    with TestClient(build_api(settings)) as helpdesk:
        for n, (queue, subject) in enumerate(
            [("human", "Mail me at jane.doe@example.com"), ("auto", "Card"), ("human", "Fraud")]
        ):
            answer = helpdesk.post(
                "/v1/tickets", json=_ticket(n, queue, subject), headers={"Idempotency-Key": f"k{n}"}
            )
            assert answer.status_code == 201
        items, total = human_queue(helpdesk, limit=10)
    assert total == 2
    assert [item["request_id"] for item in items] == ["req-2", "req-0"]
    lines = queue_lines(items, total)
    assert "jane.doe@example.com" not in "\n".join(lines)
    assert lines[-1] == "2 shown of 2 in the human queue"
    assert lines[0].split() == ["id", "created_at", "priority", "intent", "request_id", "subject"]
