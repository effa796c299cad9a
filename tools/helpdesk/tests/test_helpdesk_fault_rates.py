"""Rate-based fault injection and the ``/_faults`` control endpoint, in process (TestClient).

The slow-create fault needs real client timeouts; it is tested against a real server in
``test_helpdesk_slow_create.py``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.faults import FaultInjector, FaultRates
from supportbus_helpdesk.settings import HelpdeskSettings

# TestClient's default client host is "testclient"; the control endpoint serves loopback only.
LOCAL_CLIENT = ("127.0.0.1", 50000)
NO_FAULTS_INJECTED = {"5xx": 0, "slow_create": 0, "header": 0}


def ticket_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "request_id": "req-1",
        "subject": "Double charge",
        "body": "I was charged twice for order 1234",
        "customer_id": "cust-42",
        "category": "billing",
        "intent": "refund_request",
        "priority": "high",
    }
    payload.update(overrides)
    return payload


def faulty_client(tmp_path: Path, **settings: Any) -> TestClient:
    options: dict[str, Any] = {"faults_enabled": True, **settings}
    api = build_api(
        HelpdeskSettings(auth_disabled=True, db_path=tmp_path / "helpdesk.sqlite3", **options)
    )
    return TestClient(api, client=LOCAL_CLIENT)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with faulty_client(tmp_path) as test_client:
        yield test_client


def post_ticket(client: TestClient, key: str, **headers: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/v1/tickets",
        json=ticket_payload(request_id=key),
        headers={"Idempotency-Key": key, **headers},
    )
    return response


def total_tickets(client: TestClient) -> int:
    return int(client.get("/v1/tickets").json()["total"])


def test_rate_1_answers_every_create_503_and_writes_nothing(tmp_path: Path) -> None:
    with faulty_client(tmp_path, faults_5xx_rate=1.0) as client:
        responses = [post_ticket(client, f"key-{n}") for n in range(5)]

        assert [response.status_code for response in responses] == [503] * 5
        assert {response.json()["error"] for response in responses} == {"injected_fault"}
        assert total_tickets(client) == 0
        faults = client.get("/_faults").json()

    assert faults == {
        "rate_5xx": 1.0,
        "slow_create_rate": 0.0,
        "slow_create_s": 5.0,
        "injected": {"5xx": 5, "slow_create": 0, "header": 0},
        "creates": 0,
        "replays": 0,
    }


def test_seeded_rate_fails_a_binomial_share_and_the_counter_matches(tmp_path: Path) -> None:
    attempts, rate = 200, 0.3
    with faulty_client(tmp_path, faults_5xx_rate=rate, faults_seed=1234) as client:
        statuses = [post_ticket(client, f"key-{n}").status_code for n in range(attempts)]
        faults = client.get("/_faults").json()
        stored = total_tickets(client)

    failed = statuses.count(503)
    # Mean 60, standard deviation ~6.5: five deviations either way is generous.
    spread = 5 * math.sqrt(attempts * rate * (1 - rate))
    assert attempts * rate - spread <= failed <= attempts * rate + spread
    assert set(statuses) == {201, 503}
    assert faults["injected"]["5xx"] == failed
    assert faults["creates"] == stored == attempts - failed


def test_same_seed_gives_the_same_faults(tmp_path: Path) -> None:
    runs = []
    for run in range(2):
        run_dir = tmp_path / f"run-{run}"
        with faulty_client(run_dir, faults_5xx_rate=0.5, faults_seed=7) as client:
            runs.append([post_ticket(client, f"key-{n}").status_code for n in range(30)])

    assert runs[0] == runs[1]
    assert set(runs[0]) == {201, 503}


def test_rate_0_injects_nothing_and_counts_creates_and_replays(client: TestClient) -> None:
    statuses = [post_ticket(client, f"key-{n}").status_code for n in range(20)]
    replay = post_ticket(client, "key-0")

    assert statuses == [201] * 20
    assert replay.status_code == 200
    faults = client.get("/_faults").json()
    assert faults["injected"] == NO_FAULTS_INJECTED
    assert (faults["creates"], faults["replays"]) == (20, 1)


def test_put_changes_the_rate_mid_run(client: TestClient) -> None:
    before = [post_ticket(client, f"before-{n}").status_code for n in range(3)]

    changed = client.put("/_faults", json={"rate_5xx": 1.0})
    during = [post_ticket(client, f"during-{n}").status_code for n in range(3)]
    client.put("/_faults", json={"rate_5xx": 0.0})
    after = [post_ticket(client, f"after-{n}").status_code for n in range(3)]

    assert changed.status_code == 200
    assert changed.json()["rate_5xx"] == 1.0
    assert (before, during, after) == ([201] * 3, [503] * 3, [201] * 3)
    faults = client.get("/_faults").json()
    assert faults["injected"]["5xx"] == 3
    assert faults["creates"] == total_tickets(client) == 6


def test_put_changes_only_the_fields_it_sends(client: TestClient) -> None:
    client.put("/_faults", json={"rate_5xx": 0.2, "slow_create_rate": 0.4, "slow_create_s": 2})

    response = client.put("/_faults", json={"slow_create_s": 0.5})

    assert response.status_code == 200
    body = response.json()
    assert (body["rate_5xx"], body["slow_create_rate"], body["slow_create_s"]) == (0.2, 0.4, 0.5)
    assert client.put("/_faults", json={}).json() == client.get("/_faults").json()


@pytest.mark.parametrize(
    "update",
    [
        {"rate_5xx": 1.5},
        {"rate_5xx": -0.1},
        {"slow_create_rate": 2},
        {"slow_create_rate": "0.5"},
        {"rate_5xx": True},
        {"rate_5xx": None},
        {"slow_create_s": -1},
        {"slow_create_s": 31},
        {"rate_500": 0.5},
    ],
    ids=str,
)
def test_invalid_fault_update_is_rejected_and_changes_nothing(
    client: TestClient, update: dict[str, Any]
) -> None:
    before = client.get("/_faults").json()

    response = client.put("/_faults", json={"rate_5xx": 0.5, **update})

    assert response.status_code == 422
    assert client.get("/_faults").json() == before


@pytest.mark.parametrize("body", ["[0.5]", "not json", '{"rate_5xx": NaN}'])
def test_fault_update_that_is_not_a_json_object_of_rates_is_rejected(
    client: TestClient, body: str
) -> None:
    response = client.put("/_faults", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 422


def test_reset_zeroes_the_counters_and_keeps_the_rates(client: TestClient) -> None:
    client.put("/_faults", json={"rate_5xx": 1.0})
    post_ticket(client, "failed")
    client.put("/_faults", json={"rate_5xx": 0.0, "slow_create_s": 0.25})
    post_ticket(client, "created")
    post_ticket(client, "created")

    reset = client.post("/_faults/reset")

    assert reset.status_code == 200
    assert reset.json() == {
        "rate_5xx": 0.0,
        "slow_create_rate": 0.0,
        "slow_create_s": 0.25,
        "injected": NO_FAULTS_INJECTED,
        "creates": 0,
        "replays": 0,
    }
    assert client.get("/_faults").json() == reset.json()
    assert total_tickets(client) == 1


def test_header_faults_are_counted_and_get_no_rate_fault_on_top(tmp_path: Path) -> None:
    with faulty_client(tmp_path, faults_5xx_rate=1.0) as client:
        failed = post_ticket(client, "key-1", **{"X-Fault": "500"})
        delayed = post_ticket(client, "key-1", **{"X-Fault": "delay=0.05"})
        drawn = post_ticket(client, "key-2")
        faults = client.get("/_faults").json()

    assert (failed.status_code, delayed.status_code, drawn.status_code) == (500, 201, 503)
    assert faults["injected"] == {"5xx": 1, "slow_create": 0, "header": 2}
    assert faults["creates"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/_faults"), ("PUT", "/_faults"), ("POST", "/_faults/reset")],
)
def test_control_endpoint_does_not_exist_when_faults_are_disabled(
    tmp_path: Path, method: str, path: str
) -> None:
    settings = HelpdeskSettings(
        auth_disabled=True, db_path=tmp_path / "helpdesk.sqlite3", faults_5xx_rate=1.0
    )
    with TestClient(build_api(settings), client=LOCAL_CLIENT) as client:
        response = client.request(method, path, json={"rate_5xx": 1.0})
        # The rate is not honoured either.
        created = post_ticket(client, "key-1")

    assert response.status_code == 404
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/_faults", None),
        ("PUT", "/_faults", {"rate_5xx": 1.0}),
        ("PUT", "/_faults", {"rate_5xx": "invalid"}),
        ("POST", "/_faults/reset", None),
        ("DELETE", "/_faults", None),
    ],
)
def test_control_endpoint_looks_absent_to_remote_clients(
    tmp_path: Path, method: str, path: str, body: dict[str, Any] | None
) -> None:
    settings = HelpdeskSettings(
        auth_disabled=True, db_path=tmp_path / "helpdesk.sqlite3", faults_enabled=True
    )
    with TestClient(build_api(settings), client=("203.0.113.9", 40000)) as remote:
        response = remote.request(method, path, json=body)
        unknown = remote.request(method, "/no-such-path", json=body)
        created = post_ticket(remote, "key-1")

    # Not 405 or 422 either: nothing may tell the path apart from one that does not exist.
    assert (response.status_code, response.json()) == (404, unknown.json())
    assert created.status_code == 201


def test_fault_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_FAULTS_5XX_RATE", "0.25")
    monkeypatch.setenv("HELPDESK_FAULTS_SLOW_CREATE_RATE", "0.5")
    monkeypatch.setenv("HELPDESK_FAULTS_SLOW_CREATE_S", "1.5")
    monkeypatch.setenv("HELPDESK_FAULTS_SEED", "42")
    monkeypatch.setenv("HELPDESK_AUTH_DISABLED", "true")

    settings = HelpdeskSettings()

    assert settings.faults_5xx_rate == 0.25
    assert settings.faults_slow_create_rate == 0.5
    assert settings.faults_slow_create_s == 1.5
    assert settings.faults_seed == 42


@pytest.mark.parametrize(
    "invalid",
    [
        {"faults_5xx_rate": 1.01},
        {"faults_slow_create_rate": -0.5},
        {"faults_slow_create_s": 30.5},
        {"faults_5xx_rate": float("nan")},
    ],
    ids=str,
)
def test_invalid_fault_settings_are_rejected(invalid: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HelpdeskSettings(auth_disabled=True, **invalid)


def test_counters_are_exact_under_concurrent_requests() -> None:
    # Drives the injector directly from many threads: the HTTP layer adds nothing to the
    # counting, and this way the threads really do race.
    faults = FaultInjector(FaultRates(rate_5xx=0.5, slow_create_rate=0.5, slow_create_s=1.0))
    threads, rounds = 8, 2_000
    failed = [0] * threads
    slowed = [0] * threads
    start_together = threading.Barrier(threads)

    def hammer(index: int) -> None:
        start_together.wait()
        for round_number in range(rounds):
            try:
                faults.before_create()
            except Exception:
                failed[index] += 1
                continue
            # Every other call stands for a replay (nothing written, never slowed).
            created = round_number % 2 == 0
            slowed[index] += faults.after_create(created=created) > 0
            faults.record_header_fault()

    workers = [threading.Thread(target=hammer, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    _, counters = faults.snapshot()
    passed = threads * rounds - sum(failed)
    assert counters.injected_5xx == sum(failed)
    assert counters.injected_header == passed
    assert counters.creates + counters.replays == passed
    assert counters.injected_slow_create == sum(slowed)
