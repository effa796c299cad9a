"""The slow-create fault ("timed out but created") and concurrent counting, against a real
uvicorn server: only real sockets give a client timeout and truly parallel requests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.settings import HelpdeskSettings

# Long enough to stay clear of the client's timeout and of a loaded machine's scheduling
# noise, short enough to keep the tests quick.
SLOW_CREATE_S = 1.5
CLIENT_TIMEOUT_S = 0.3

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def helpdesk(tmp_path: Path) -> Iterator[str]:
    """A real server with slow creates always on; tests lower the rates with PUT /_faults."""
    settings = HelpdeskSettings(
        auth_disabled=True,
        db_path=tmp_path / "helpdesk.sqlite3",
        faults_enabled=True,
        faults_slow_create_rate=1.0,
        faults_slow_create_s=SLOW_CREATE_S,
    )
    # A socket bound here, not a port number probed free: no other process can take it between
    # choosing and listening.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(build_api(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "helpdesk exited at start"
        assert time.monotonic() < deadline, "helpdesk did not start"
        time.sleep(0.02)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        listener.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # One client for all threads (its connection pool is thread-safe): a client per request
    # would spend more CPU building TLS contexts than the server spends answering.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    with httpx.Client(limits=limits, timeout=10.0) as client:
        yield client


def ticket_payload(key: str) -> dict[str, Any]:
    return {
        "request_id": key,
        "subject": "Double charge",
        "body": "I was charged twice for order 1234",
        "customer_id": "cust-42",
        "category": "billing",
        "intent": "refund_request",
        "priority": "high",
    }


def post_ticket(
    http: httpx.Client, base_url: str, key: str, timeout: float = 10.0
) -> httpx.Response:
    return http.post(
        f"{base_url}/v1/tickets",
        json=ticket_payload(key),
        headers={"Idempotency-Key": key},
        timeout=timeout,
    )


def total_tickets(http: httpx.Client, base_url: str) -> int:
    return int(http.get(f"{base_url}/v1/tickets").json()["total"])


def test_slow_create_is_written_before_the_answer_and_retries_get_the_same_ticket(
    helpdesk: str, http: httpx.Client
) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        post_ticket(http, helpdesk, "slow-key", timeout=CLIENT_TIMEOUT_S)

    # The first answer is still being held back, yet the ticket exists and the retry is a
    # prompt replay of it.
    during = post_ticket(http, helpdesk, "slow-key")
    assert time.monotonic() - started < SLOW_CREATE_S
    assert total_tickets(http, helpdesk) == 1

    time.sleep(max(0.0, started + SLOW_CREATE_S + 0.2 - time.monotonic()))
    after = post_ticket(http, helpdesk, "slow-key")

    for retry in (during, after):
        assert retry.status_code == 200
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert during.json()["id"] == after.json()["id"]
    assert total_tickets(http, helpdesk) == 1
    faults = http.get(f"{helpdesk}/_faults").json()
    assert faults["injected"] == {"5xx": 0, "slow_create": 1, "header": 0}
    assert (faults["creates"], faults["replays"]) == (1, 2)


def test_held_back_answers_block_no_other_request(helpdesk: str, http: httpx.Client) -> None:
    # More pending slow answers than a small thread pool would hold, all at once.
    pending = 48
    with ThreadPoolExecutor(max_workers=pending) as pool:
        started = time.monotonic()
        slow = [pool.submit(post_ticket, http, helpdesk, f"slow-{n}") for n in range(pending)]
        deadline = started + SLOW_CREATE_S
        while total_tickets(http, helpdesk) < pending:
            assert time.monotonic() < deadline, "slow creates were not written before answering"
            time.sleep(0.02)

        http.put(f"{helpdesk}/_faults", json={"slow_create_rate": 0.0})
        other = post_ticket(http, helpdesk, "other")
        replay = post_ticket(http, helpdesk, "slow-0")
        answered_others_at = time.monotonic()
        originals = [future.result() for future in slow]

    assert answered_others_at - started < SLOW_CREATE_S
    assert (other.status_code, replay.status_code) == (201, 200)
    # The held-back originals still answer as the creates they were.
    assert {response.status_code for response in originals} == {201}
    assert time.monotonic() - started >= SLOW_CREATE_S
    assert replay.json()["id"] == originals[0].json()["id"]
    assert total_tickets(http, helpdesk) == pending + 1


def test_counters_match_what_concurrent_clients_saw(helpdesk: str, http: httpx.Client) -> None:
    http.put(
        f"{helpdesk}/_faults", json={"rate_5xx": 0.5, "slow_create_rate": 0.3, "slow_create_s": 0}
    )
    keys = [f"key-{n}" for n in range(60)]

    def create_until_done(key: str) -> list[int]:
        # What a retrying client does: same key until the helpdesk answers with a ticket.
        statuses = [post_ticket(http, helpdesk, key).status_code]
        while statuses[-1] == 503:
            statuses.append(post_ticket(http, helpdesk, key).status_code)
        # One more call with the same key: a replay, unless it draws a 503 itself.
        statuses.append(post_ticket(http, helpdesk, key).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = [status for statuses in pool.map(create_until_done, keys) for status in statuses]

    faults = http.get(f"{helpdesk}/_faults").json()
    assert faults["injected"]["5xx"] == seen.count(503) > 0
    assert faults["creates"] == seen.count(201) == total_tickets(http, helpdesk) == len(keys)
    assert faults["replays"] == seen.count(200)
    assert 0 < faults["injected"]["slow_create"] < len(keys)
