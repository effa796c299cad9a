"""Regression tests for what the conformance run (and an outside review) found: every error has
the documented ``ErrorOut`` body and status, and no error body repeats the client's input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from supportbus_helpdesk.api import MAX_OFFSET, build_api
from supportbus_helpdesk.settings import HelpdeskSettings

TICKET = {
    "request_id": "req-1",
    "subject": "Double charge",
    "body": "I was charged twice",
    "customer_id": "cust-42",
    "customer_email": "ada@example.com",
    "category": "billing",
    "intent": "refund_request",
    "priority": "high",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = HelpdeskSettings(auth_disabled=True, db_path=tmp_path / "helpdesk.sqlite3")
    with TestClient(build_api(settings)) as client:
        yield client


def assert_error_body(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]


# --- an offset past SQLite's 64-bit integers was a 500 ---------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"offset": 2**63}, {"offset": 2**64 + 1}, {"offset": MAX_OFFSET + 1}, {"limit": 201}],
    ids=str,
)
def test_out_of_range_paging_is_a_documented_422(
    client: TestClient, params: dict[str, int]
) -> None:
    assert_error_body(client.get("/v1/tickets", params=params), 422, "invalid_request")


def test_the_largest_documented_offset_is_answered(client: TestClient) -> None:
    answer = client.get("/v1/tickets", params={"offset": MAX_OFFSET, "limit": 200})

    assert answer.status_code == 200
    assert answer.json()["items"] == []
    listing = client.app.openapi()["paths"]["/v1/tickets"]["get"]  # type: ignore[attr-defined]
    offset = next(p for p in listing["parameters"] if p["name"] == "offset")
    assert offset["schema"]["maximum"] == MAX_OFFSET


# --- Idempotency-Key was documented as optional ------------------------------------------------


def test_idempotency_key_is_documented_as_required_with_its_400(client: TestClient) -> None:
    create = client.app.openapi()["paths"]["/v1/tickets"]["post"]  # type: ignore[attr-defined]

    keys = [p for p in create["parameters"] if p["name"].lower() == "idempotency-key"]
    assert len(keys) == 1
    assert keys[0]["in"] == "header"
    assert keys[0]["required"] is True
    assert create["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "   "}], ids=["missing", "blank"])
def test_missing_or_blank_idempotency_key_keeps_its_400(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = client.post("/v1/tickets", json=TICKET, headers=headers)

    assert_error_body(answer, 400, "invalid_idempotency_key")


# --- undecodable bodies got FastAPI's own 400 body --------------------------------------------


def test_a_body_that_is_not_utf8_gets_the_documented_400(client: TestClient) -> None:
    answer = client.post(
        "/v1/tickets",
        content=b'{"subject": "\xff\xfe"}',
        headers={"Idempotency-Key": "k1", "Content-Type": "application/json"},
    )

    assert_error_body(answer, 400, "invalid_body")


def test_malformed_json_gets_the_documented_422(client: TestClient) -> None:
    answer = client.post(
        "/v1/tickets",
        content=b'{"subject": ',
        headers={"Idempotency-Key": "k1", "Content-Type": "application/json"},
    )

    assert_error_body(answer, 422, "invalid_request")
    assert answer.json()["detail"] == "body: is not valid JSON"


def test_validation_answers_are_documented_as_error_bodies(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for path, method in [("/v1/tickets", "post"), ("/v1/tickets", "get")]:
        for status in ("400", "422"):
            content = paths[path][method]["responses"][status]["content"]
            assert content["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }


# --- OPTIONS / 405 named one route's methods only ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/tickets", "GET, POST"),
        ("DELETE", "/v1/tickets", "GET, POST"),
        ("PUT", "/v1/tickets/TCK-1", "GET"),
        ("OPTIONS", "/v1/whoami", "GET"),
    ],
)
def test_unsupported_methods_get_405_listing_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    answer = client.request(method, path)

    assert_error_body(answer, 405, "method_not_allowed")
    assert answer.headers["Allow"] == allowed


def test_unknown_paths_keep_the_plain_404(client: TestClient) -> None:
    # LocalOnlyControl imitates this body for /_faults; it must stay FastAPI's own.
    answer = client.get("/no-such-path")

    assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"})


# --- error bodies echoed customer input --------------------------------------------------------

EMAIL = "grace.hopper@example.org"
CARD = "4111 1111 1111 1111"
UNKNOWN_FIELD = "leak.me@example.net"


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    ticket = {
        **TICKET,
        "subject": f"Refund to {EMAIL}, card {CARD} " + "x" * 600,
        "customer_email": f"{CARD} {EMAIL}",
        UNKNOWN_FIELD: f"call {EMAIL}",
    }

    answer = client.post("/v1/tickets", json=ticket, headers={"Idempotency-Key": "k1"})

    assert_error_body(answer, 422, "invalid_request")
    text = answer.text
    for secret in (EMAIL, CARD, UNKNOWN_FIELD, "Refund", "xxxx", "leak", "4111", "example"):
        assert secret not in text
    detail = answer.json()["detail"]
    # It still says where and what.
    assert "body field 'subject'" in detail
    assert "body field 'customer_email'" in detail
    assert "unknown fields are rejected" in detail


def test_query_validation_errors_never_echo_the_input(client: TestClient) -> None:
    answer = client.get("/v1/tickets", params={"limit": EMAIL, "queue": CARD})

    assert_error_body(answer, 422, "invalid_request")
    assert EMAIL not in answer.text
    assert "4111" not in answer.text
    assert "query parameter field 'limit'" in answer.json()["detail"]


def test_an_idempotency_conflict_does_not_repeat_the_key(client: TestClient) -> None:
    key = "order-7731-grace.hopper@example.org"
    client.post("/v1/tickets", json=TICKET, headers={"Idempotency-Key": key})

    answer = client.post(
        "/v1/tickets", json={**TICKET, "subject": "Other"}, headers={"Idempotency-Key": key}
    )

    assert_error_body(answer, 409, "idempotency_conflict")
    assert key not in answer.text
    assert "grace" not in answer.text
