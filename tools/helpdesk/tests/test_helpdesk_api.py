from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from supportbus_devtools.errors import NotReadyError
from supportbus_devtools.processes import wait_until_http_ok
from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.errors import IdempotencyConflict
from supportbus_helpdesk.keys_command import add_key
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_helpdesk.store import Ticket, TicketFields, TicketStore

PUBLIC_BASE_URL = "http://helpdesk.test"
CUSTOMER_MESSAGE = "I was charged twice for order 1234"
CUSTOMER_EMAIL = "ada@example.com"


def ticket_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "request_id": "req-1",
        "subject": "Double charge",
        "body": CUSTOMER_MESSAGE,
        "customer_id": "cust-42",
        "customer_email": CUSTOMER_EMAIL,
        "category": "billing",
        "intent": "refund_request",
        "priority": "high",
    }
    payload.update(overrides)
    return payload


def ticket_fields(**overrides: Any) -> TicketFields:
    return TicketFields(**ticket_payload(**overrides))


def make_settings(tmp_path: Path, **overrides: Any) -> HelpdeskSettings:
    return HelpdeskSettings(
        auth_disabled=True,
        db_path=tmp_path / "helpdesk.sqlite3",
        public_base_url=PUBLIC_BASE_URL,
        **overrides,
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_api(make_settings(tmp_path))) as test_client:
        yield test_client


@pytest.fixture
def faulty_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(build_api(make_settings(tmp_path, faults_enabled=True))) as test_client:
        yield test_client


def post_ticket(client: TestClient, key: str | None, **overrides: Any) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    response: httpx.Response = client.post(
        "/v1/tickets", json=ticket_payload(**overrides), headers=headers
    )
    return response


def test_first_post_creates_ticket_and_replay_returns_same_ticket(client: TestClient) -> None:
    first = post_ticket(client, "key-1")

    assert first.status_code == 201
    ticket = first.json()
    assert ticket["id"].startswith("TCK-")
    assert ticket["url"] == f"{PUBLIC_BASE_URL}/v1/tickets/{ticket['id']}"
    assert first.headers["Location"] == ticket["url"]
    assert ticket["status"] == "open"
    assert ticket["priority"] == "high"
    assert "Idempotent-Replayed" not in first.headers
    # PII minimisation: the creation response does not echo the message or the address.
    assert "body" not in ticket
    assert "customer_email" not in ticket

    replay = post_ticket(client, "key-1")

    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == ticket
    assert client.get("/v1/tickets").json()["total"] == 1


@pytest.mark.parametrize(
    "key", [None, "", "   ", "k" * 201], ids=["missing", "empty", "blank", "long"]
)
def test_missing_idempotency_key_is_rejected(client: TestClient, key: str | None) -> None:
    response = post_ticket(client, key)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in response.json()["detail"]
    assert client.get("/v1/tickets").json()["total"] == 0


def test_idempotency_key_of_200_chars_is_accepted(client: TestClient) -> None:
    assert post_ticket(client, "k" * 200).status_code == 201


def test_same_key_different_payload_conflicts(client: TestClient) -> None:
    original = post_ticket(client, "key-1").json()

    conflict = post_ticket(client, "key-1", priority="urgent")

    assert conflict.status_code == 409
    assert conflict.json()["error"] == "idempotency_conflict"
    stored = client.get(f"/v1/tickets/{original['id']}").json()
    assert stored["priority"] == "high"
    assert client.get("/v1/tickets").json()["total"] == 1


@pytest.mark.parametrize(
    "payload_change",
    [
        {"priority": "whenever"},
        {"body": ""},
        {"customer_email": "not-an-address"},
        {"unexpected": "field"},
    ],
)
def test_invalid_body_is_rejected(client: TestClient, payload_change: dict[str, Any]) -> None:
    response = post_ticket(client, "key-1", **payload_change)

    assert response.status_code == 422
    assert client.get("/v1/tickets").json()["total"] == 0


def test_concurrent_posts_with_same_key_create_one_ticket(tmp_path: Path) -> None:
    # Two stores on one file stand in for two server processes: their connections do not share
    # the in-process lock, so only the UNIQUE constraint can keep the key single-use.
    db_path = tmp_path / "helpdesk.sqlite3"
    stores = [TicketStore(db_path), TicketStore(db_path)]
    thread_count = 16
    start_together = threading.Barrier(thread_count)
    results: list[tuple[Ticket, bool]] = []
    errors: list[BaseException] = []

    def create(store: TicketStore) -> None:
        start_together.wait()
        try:
            results.append(store.create_ticket("same-key", ticket_fields()))
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=create, args=(stores[index % 2],)) for index in range(thread_count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == thread_count
    assert sum(created for _, created in results) == 1
    assert len({ticket.id for ticket, _ in results}) == 1
    assert stores[0].count() == stores[1].count() == 1
    for store in stores:
        store.close()


def test_store_rejects_key_reuse_with_different_payload(tmp_path: Path) -> None:
    store = TicketStore(tmp_path / "helpdesk.sqlite3")
    store.create_ticket("key-1", ticket_fields())

    with pytest.raises(IdempotencyConflict):
        store.create_ticket("key-1", ticket_fields(subject="Something else"))
    store.close()


def test_list_and_get(client: TestClient) -> None:
    created = [post_ticket(client, f"key-{n}", request_id=f"req-{n}").json() for n in range(3)]

    page = client.get("/v1/tickets").json()
    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == [ticket["id"] for ticket in reversed(created)]
    assert all("body" not in item and "customer_email" not in item for item in page["items"])

    window = client.get("/v1/tickets", params={"limit": 1, "offset": 1}).json()
    assert [item["id"] for item in window["items"]] == [created[1]["id"]]
    assert window["total"] == 3

    assert client.get("/v1/tickets", params={"status": "open"}).json()["total"] == 3
    assert client.get("/v1/tickets", params={"status": "closed"}).json() == {
        "items": [],
        "total": 0,
    }
    assert client.get("/v1/tickets", params={"limit": 0}).status_code == 422

    single = client.get(f"/v1/tickets/{created[0]['id']}")
    assert single.status_code == 200
    assert single.json()["body"] == CUSTOMER_MESSAGE
    assert single.json()["customer_email"] == CUSTOMER_EMAIL
    assert single.json()["request_id"] == "req-0"

    missing = client.get("/v1/tickets/TCK-DOESNOTEXIST")
    assert missing.status_code == 404
    assert missing.json()["error"] == "ticket_not_found"


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ticket_survives_restart(tmp_path: Path) -> None:
    db_path = tmp_path / "helpdesk.sqlite3"
    first_store = TicketStore(db_path)
    ticket, _ = first_store.create_ticket("key-1", ticket_fields())
    first_store.close()

    reopened = TicketStore(db_path)
    assert reopened.get(ticket.id) == ticket
    # The idempotency record survives too: a retry after a restart is still a replay.
    assert reopened.create_ticket("key-1", ticket_fields()) == (ticket, False)
    reopened.close()


def test_fault_injection_disabled_by_default(tmp_path: Path) -> None:
    settings = HelpdeskSettings(auth_disabled=True, db_path=tmp_path / "helpdesk.sqlite3")
    assert settings.faults_enabled is False

    with TestClient(build_api(settings)) as client:
        response = client.post(
            "/v1/tickets",
            json=ticket_payload(),
            headers={"Idempotency-Key": "key-1", "X-Fault": "500"},
        )

    assert response.status_code == 201


def test_fault_500_creates_nothing(faulty_client: TestClient) -> None:
    failed = faulty_client.post(
        "/v1/tickets", json=ticket_payload(), headers={"Idempotency-Key": "key-1", "X-Fault": "500"}
    )

    assert failed.status_code == 500
    assert failed.json()["error"] == "injected_fault"
    assert faulty_client.get("/v1/tickets").json()["total"] == 0
    # Nothing was recorded under the key, so the client's retry creates the ticket.
    assert post_ticket(faulty_client, "key-1").status_code == 201


def test_fault_delay_sleeps_then_creates(faulty_client: TestClient) -> None:
    started = time.monotonic()
    response = faulty_client.post(
        "/v1/tickets",
        json=ticket_payload(),
        headers={"Idempotency-Key": "key-1", "X-Fault": "delay=0.3"},
    )

    assert response.status_code == 201
    assert time.monotonic() - started >= 0.3


def test_unknown_fault_directive_is_rejected(faulty_client: TestClient) -> None:
    response = faulty_client.post(
        "/v1/tickets", json=ticket_payload(), headers={"Idempotency-Key": "k", "X-Fault": "explode"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_fault_directive"


def free_local_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    def still_running() -> None:
        if server.poll() is not None:
            pytest.fail(f"helpdesk exited with {server.returncode}:\n{log_path.read_text()}")

    try:
        wait_until_http_ok(f"{base_url}/healthz", 30, check=still_running)
    except NotReadyError as exc:
        pytest.fail(f"{exc}:\n{log_path.read_text()}")


def test_real_server_over_http(tmp_path: Path) -> None:
    port = free_local_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "helpdesk.log"
    environment = {
        **os.environ,
        "HELPDESK_HOST": "127.0.0.1",
        "HELPDESK_PORT": str(port),
        "HELPDESK_DB_PATH": str(tmp_path / "helpdesk.sqlite3"),
        "HELPDESK_PUBLIC_BASE_URL": base_url,
        "HELPDESK_FAULTS_ENABLED": "true",
        "HELPDESK_API_KEYS_FILE": str(tmp_path / "keys"),
    }
    add_key(tmp_path / "keys", "client", {"tickets:create", "tickets:read"}, tmp_path / "key")
    auth = {"Authorization": f"Bearer {(tmp_path / 'key').read_text().strip()}"}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "supportbus_helpdesk.main"],
            env=environment,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(base_url, server, log_path)
        headers = {"Idempotency-Key": "real-key", **auth}
        assert httpx.get(f"{base_url}/v1/tickets").status_code == 401

        # The client gives up before the (delayed) server creates the ticket ...
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{base_url}/v1/tickets",
                json=ticket_payload(),
                headers={**headers, "X-Fault": "delay=1"},
                timeout=0.2,
            )
        deadline = time.monotonic() + 10
        while httpx.get(f"{base_url}/v1/tickets", headers=auth).json()["total"] == 0:
            assert time.monotonic() < deadline, "the delayed request never created its ticket"
            time.sleep(0.1)

        # ... so its retry with the same key is a replay of that ticket, not a duplicate.
        retry = httpx.post(f"{base_url}/v1/tickets", json=ticket_payload(), headers=headers)
        assert retry.status_code == 200
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()["url"] == f"{base_url}/v1/tickets/{retry.json()['id']}"
        fetched = httpx.get(retry.json()["url"], headers=auth)
        assert fetched.status_code == 200
        assert fetched.json()["body"] == CUSTOMER_MESSAGE
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    server_log = log_path.read_text()
    # Recent uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean exit
    # too; the lifespan message proves the store was closed.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server_log
    assert "POST /v1/tickets" in server_log
    assert CUSTOMER_MESSAGE not in server_log
    assert CUSTOMER_EMAIL not in server_log
