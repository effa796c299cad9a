"""The ticketer's HTTP adapter against the real helpdesk server (API keys required), with its
fault injection on."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from supportbus_contracts import Ticket
from supportbus_devtools.helpdesk_keys import HelpdeskKeys, bearer_headers
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.processes import wait_until_http_ok
from supportbus_ticketer.errors import HelpdeskUnavailable
from supportbus_ticketer.helpdesk_client import HelpdeskClient
from supportbus_ticketer.ports import TicketDraft

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass(frozen=True)
class Helpdesk:
    url: str
    keys: HelpdeskKeys


@pytest.fixture
def helpdesk(tmp_path: Path) -> Iterator[Helpdesk]:
    port = find_free_port()
    keys = HelpdeskKeys(tmp_path / "secrets")
    keys.ensure()
    env = {
        **os.environ,
        "HELPDESK_PORT": str(port),
        "HELPDESK_DB_PATH": str(tmp_path / "h.db"),
        "HELPDESK_FAULTS_ENABLED": "true",
        "HELPDESK_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HELPDESK_API_KEYS_FILE": str(keys.keys_file),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "supportbus_helpdesk.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def still_running() -> None:
        assert process.poll() is None, f"helpdesk exited with {process.returncode}"

    try:
        wait_until_http_ok(f"{url}/healthz", 30, check=still_running)
        yield Helpdesk(url, keys)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _draft() -> TicketDraft:
    return TicketDraft(
        request_id="req-1",
        subject="Card stolen",
        body="It was stolen",
        customer_id="c1",
        customer_email="a@example.com",
        category="cards",
        intent="lost_or_stolen_card",
        priority="urgent",
    )


def _faulty_client(helpdesk: Helpdesk, faults: list[str], timeout: float = 5.0) -> HelpdeskClient:
    async def inject(request: httpx.Request) -> None:
        if faults:
            request.headers["X-Fault"] = faults.pop(0)

    http = httpx.AsyncClient(
        base_url=helpdesk.url,
        headers=bearer_headers(helpdesk.keys.ticketer_key_file),
        timeout=timeout,
        event_hooks={"request": [inject]},
    )
    return HelpdeskClient(http)


async def _create_retrying(client: HelpdeskClient, attempts: int = 4) -> Ticket:
    """What the delivery policy does with a HelpdeskUnavailable: try again, same key."""
    for _ in range(attempts - 1):
        try:
            return await client.create_ticket(_draft(), idempotency_key="req-1")
        except HelpdeskUnavailable:
            await asyncio.sleep(0.05)
    return await client.create_ticket(_draft(), idempotency_key="req-1")


async def test_server_errors_are_retried_into_exactly_one_ticket(helpdesk: Helpdesk) -> None:
    client = _faulty_client(helpdesk, ["500", "500"])
    ticket = await _create_retrying(client)
    again = await client.create_ticket(_draft(), idempotency_key="req-1")
    assert again == ticket
    assert client.attempts_made == 4
    assert (await _total(helpdesk)) == 1
    assert ticket.url.startswith(helpdesk.url)


async def test_timed_out_request_that_did_create_a_ticket_is_not_duplicated(
    helpdesk: Helpdesk,
) -> None:
    # The first attempt is slower than the client's timeout but the server still creates the
    # ticket; the retry carries the same key and gets that ticket back.
    client = _faulty_client(helpdesk, ["delay=1.0"], timeout=0.3)
    ticket = await _create_retrying(client)
    await asyncio.sleep(1.0)
    assert (await _total(helpdesk)) == 1
    assert (await client.create_ticket(_draft(), idempotency_key="req-1")) == ticket


async def test_helpdesk_down_is_a_transient_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{find_free_port()}"
    client = HelpdeskClient(httpx.AsyncClient(base_url=url, timeout=1))
    with pytest.raises(HelpdeskUnavailable):
        await client.create_ticket(_draft(), idempotency_key="req-1")


async def _total(helpdesk: Helpdesk) -> int:
    headers = helpdesk.keys.operator_headers()
    async with httpx.AsyncClient(base_url=helpdesk.url, headers=headers) as http:
        answer = await http.get("/v1/tickets")
        answer.raise_for_status()
        return int(answer.json()["total"])


def _start_ticketer(helpdesk: Helpdesk, key_file: Path) -> subprocess.CompletedProcess[str]:
    """The ticketer as an operator starts it; Kafka is never reached (nothing listens there)."""
    env = {
        **os.environ,
        "TICKETER_HELPDESK_URL": helpdesk.url,
        "TICKETER_HELPDESK_API_KEY_FILE": str(key_file),
        "TICKETER_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{find_free_port()}",
        "TICKETER_HTTP_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "supportbus_ticketer.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("key", ["unknown", "operator"])
def test_a_ticketer_with_a_wrong_key_fails_at_start_saying_which_setting(
    helpdesk: Helpdesk, tmp_path: Path, key: str
) -> None:
    key_file = tmp_path / "wrong.key"
    if key == "operator":  # a real key, but one that may not create tickets
        key_file.write_text(helpdesk.keys.operator_key_file.read_text())
    else:
        key_file.write_text("sbhd_not-a-key-this-helpdesk-holds\n")
    started = _start_ticketer(helpdesk, key_file)
    assert started.returncode == 2
    assert "supportbus-ticketer: cannot start:" in started.stderr
    assert "TICKETER_HELPDESK_API_KEY_FILE" in started.stderr
    assert "Traceback" not in started.stderr
    assert key_file.read_text().strip() not in started.stderr
