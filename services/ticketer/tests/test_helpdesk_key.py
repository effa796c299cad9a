from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from supportbus_runtime.errors import ConfigurationError
from supportbus_ticketer.app import build_app
from supportbus_ticketer.errors import HelpdeskKeyRefused, TicketRejected
from supportbus_ticketer.helpdesk_client import HelpdeskClient, check_key
from supportbus_ticketer.ports import TicketDraft
from supportbus_ticketer.settings import TicketerSettings

CUSTOMER_TEXT = "Ada Lovelace, my card 4111 1111 1111 1111 was stolen"


def _draft() -> TicketDraft:
    return TicketDraft(
        request_id="req-1",
        subject="Stolen card",
        body=CUSTOMER_TEXT,
        customer_id="c",
        customer_email="ada@example.com",
        category="cards",
        intent="lost_or_stolen_card",
        priority="urgent",
    )


def _client(answer: httpx.Response) -> HelpdeskClient:
    transport = httpx.MockTransport(lambda request: answer)
    return HelpdeskClient(httpx.AsyncClient(base_url="http://helpdesk", transport=transport))


def _probe(answer: httpx.Response | Exception) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(base_url="http://helpdesk", transport=httpx.MockTransport(handle))


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_ticketer_at_start_naming_the_setting(status: int) -> None:
    answer = httpx.Response(status, json={"error": "unauthenticated", "detail": "no"})
    with pytest.raises(HelpdeskKeyRefused, match="TICKETER_HELPDESK_API_KEY_FILE"):
        check_key(_probe(answer))


def test_a_key_that_cannot_create_tickets_stops_the_ticketer_at_start() -> None:
    answer = httpx.Response(200, json={"name": "reader", "scopes": ["tickets:read"]})
    with pytest.raises(HelpdeskKeyRefused, match="may not create tickets"):
        check_key(_probe(answer))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.Response(404),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"name": "ticketer", "scopes": ["tickets:create"]}),
    ],
    ids=["down", "no-whoami", "unreadable", "good-key"],
)
def test_a_helpdesk_down_at_start_or_a_good_key_lets_the_ticketer_start(
    answer: httpx.Response | Exception,
) -> None:
    check_key(_probe(answer))  # no exception: an outage delays tickets, it does not stop us


async def test_a_rejection_echoing_the_ticket_puts_no_customer_text_in_the_reason() -> None:
    # FastAPI's 422 answers echo the offending input; the reason keeps status and code only.
    echo = {"detail": [{"loc": ["body", "body"], "input": CUSTOMER_TEXT, "msg": "too long"}]}
    for body in (echo, {"error": "validation_error", "detail": CUSTOMER_TEXT}):
        with pytest.raises(TicketRejected) as caught:
            await _client(httpx.Response(422, json=body)).create_ticket(
                _draft(), idempotency_key="k"
            )
        assert "4111" not in str(caught.value)
        assert "Ada" not in str(caught.value)
        assert str(caught.value).startswith("helpdesk rejected the ticket: HTTP 422")


def test_the_key_is_read_from_its_file_and_never_shown(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("sbhd_secret-value\n")
    settings = TicketerSettings(helpdesk_api_key_file=tmp_path / "key")
    key = settings.helpdesk_api_key()
    assert key is not None
    assert key.get_secret_value() == "sbhd_secret-value"
    assert "sbhd_secret-value" not in repr(settings) + str(key)


@pytest.mark.parametrize("content", [None, ""], ids=["missing", "empty"])
def test_a_missing_or_empty_key_file_stops_the_ticketer_at_start(
    tmp_path: Path, content: str | None
) -> None:
    if content is not None:
        (tmp_path / "key").write_text(content)
    settings = TicketerSettings(helpdesk_api_key_file=tmp_path / "key")
    with pytest.raises(ConfigurationError, match="TICKETER_HELPDESK_API_KEY_FILE"):
        build_app(settings)
