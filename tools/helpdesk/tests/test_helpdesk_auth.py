from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.auth import ApiKeyFileError, ApiKeyRing, key_file_line, new_api_key
from supportbus_helpdesk.keys_command import add_key, main
from supportbus_helpdesk.settings import HelpdeskSettings

LOCAL_CLIENT = ("127.0.0.1", 50000)
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
def keys(tmp_path: Path) -> dict[str, str]:
    """A keys file with a creator, a reader and a fault operator; their keys by name."""
    scopes = {
        "creator": {"tickets:create"},
        "reader": {"tickets:read"},
        "operator": {"faults:write"},
    }
    for name, granted in scopes.items():
        add_key(tmp_path / "keys", name, granted, tmp_path / f"{name}.key")
    return {name: (tmp_path / f"{name}.key").read_text().strip() for name in scopes}


@pytest.fixture
def helpdesk(tmp_path: Path, keys: dict[str, str]) -> Iterator[TestClient]:
    settings = HelpdeskSettings(
        db_path=tmp_path / "h.sqlite3", api_keys_file=tmp_path / "keys", faults_enabled=True
    )
    with TestClient(build_api(settings), client=LOCAL_CLIENT) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create(client: TestClient, headers: dict[str, str]) -> int:
    answer = client.post("/v1/tickets", json=TICKET, headers={"Idempotency-Key": "k1", **headers})
    return answer.status_code


def test_calls_without_a_key_are_refused_with_the_documented_body(helpdesk: TestClient) -> None:
    for answer in (
        helpdesk.get("/v1/tickets"),
        helpdesk.get("/v1/tickets/TCK-1"),
        helpdesk.post("/v1/tickets", json=TICKET, headers={"Idempotency-Key": "k1"}),
        helpdesk.get("/_faults"),
    ):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json() == {
            "error": "unauthenticated",
            "detail": "send an API key: Authorization: Bearer <key>",
        }


def test_health_needs_no_key(helpdesk: TestClient) -> None:
    assert helpdesk.get("/healthz").status_code == 200


def test_an_unknown_or_malformed_key_is_unauthenticated(helpdesk: TestClient) -> None:
    for headers in (bearer(new_api_key()), bearer(""), {"Authorization": "Basic YWRhOnB3"}):
        assert helpdesk.get("/v1/tickets", headers=headers).status_code == 401


def test_each_key_does_only_what_its_scopes_allow(
    helpdesk: TestClient, keys: dict[str, str]
) -> None:
    assert create(helpdesk, bearer(keys["reader"])) == 403
    assert create(helpdesk, bearer(keys["operator"])) == 403
    assert create(helpdesk, bearer(keys["creator"])) == 201
    assert helpdesk.get("/v1/tickets", headers=bearer(keys["creator"])).status_code == 403
    page = helpdesk.get("/v1/tickets", headers=bearer(keys["reader"]))
    assert page.status_code == 200
    assert page.json()["total"] == 1
    assert helpdesk.get("/_faults", headers=bearer(keys["reader"])).status_code == 403
    assert helpdesk.get("/_faults", headers=bearer(keys["operator"])).status_code == 200


def test_a_forbidden_answer_names_the_missing_scope_but_not_the_key(
    helpdesk: TestClient, keys: dict[str, str]
) -> None:
    answer = helpdesk.get("/v1/tickets", headers=bearer(keys["creator"]))
    assert answer.json() == {
        "error": "forbidden",
        "detail": "the API key 'creator' does not have the scope tickets:read",
    }
    assert keys["creator"] not in answer.text


def test_a_client_can_ask_what_its_key_may_do(helpdesk: TestClient, keys: dict[str, str]) -> None:
    answer = helpdesk.get("/v1/whoami", headers=bearer(keys["creator"]))
    assert answer.json() == {"name": "creator", "scopes": ["tickets:create"]}
    assert helpdesk.get("/v1/whoami").status_code == 401


def test_the_list_leaves_out_the_customers_message_and_address(
    helpdesk: TestClient, keys: dict[str, str]
) -> None:
    create(helpdesk, bearer(keys["creator"]))
    item = helpdesk.get("/v1/tickets", headers=bearer(keys["reader"])).json()["items"][0]
    assert "body" not in item
    assert "customer_email" not in item
    assert "ada@example.com" not in str(item)


def test_the_openapi_document_declares_the_bearer_scheme(helpdesk: TestClient) -> None:
    document = helpdesk.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    listing = document["paths"]["/v1/tickets"]["get"]
    assert listing["security"] == [{"HTTPBearer": []}]
    assert {"401", "403"} <= set(listing["responses"])


def test_a_helpdesk_without_keys_must_say_so_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="HELPDESK_API_KEYS_FILE"):
        HelpdeskSettings(db_path=tmp_path / "h.sqlite3")
    open_settings = HelpdeskSettings(db_path=tmp_path / "h.sqlite3", auth_disabled=True)
    with TestClient(build_api(open_settings)) as client:
        assert client.get("/v1/tickets").status_code == 200


def test_the_keys_file_holds_digests_only_and_both_files_are_private(tmp_path: Path) -> None:
    keys_file = str(tmp_path / "keys")
    for name, scope in (("ticketer", "tickets:create"), ("operator", "tickets:read")):
        key_out = str(tmp_path / f"{name}.key")
        main(["--keys-file", keys_file, "--name", name, "--scope", scope, "--key-out", key_out])
    ring = ApiKeyRing.from_file(tmp_path / "keys")
    for name in ("ticketer", "operator"):
        key = (tmp_path / f"{name}.key").read_text().strip()
        assert key not in (tmp_path / "keys").read_text()
        found = ring.authenticate(key)
        assert found is not None
        assert found.name == name
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "holds no keys"),
        ("ticketer tickets:create\n", "expected 'name scopes sha256:<hex digest>'"),
        ("ticketer tickets:delete sha256:" + "00" * 32, "unknown scope"),
        ("ticketer tickets:create sha256:zz", "not hexadecimal"),
        ("ticketer tickets:create sha256:abcd", "not a SHA-256 digest"),
    ],
)
def test_a_bad_keys_file_is_refused_with_its_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    (tmp_path / "keys").write_text(content)
    with pytest.raises(ApiKeyFileError, match=problem):
        ApiKeyRing.from_file(tmp_path / "keys")


def test_comments_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    key = new_api_key()
    line = key_file_line("a", {"tickets:read"}, key)
    (tmp_path / "keys").write_text(f"# keys\n\n{line}  # the reader\n")
    assert ApiKeyRing.from_file(tmp_path / "keys").authenticate(key) is not None
