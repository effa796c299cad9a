from __future__ import annotations

from pathlib import Path

from supportbus_classifier.declaration import DECLARATION as CLASSIFIER
from supportbus_devtools.securekafka import ADMIN, BrokerSecurity, Grant, service_grant


def test_a_service_is_granted_exactly_its_declared_topics_and_group() -> None:
    grant = service_grant(CLASSIFIER, "t.")
    assert grant == Grant(
        principal="classifier",
        reads=("t.support.request.received.v1",),
        group="t.supportbus-classifier",
        writes=("t.support.request.classified.v1", "t.support.request.received.v1.dlq"),
    )


def test_acl_commands_allow_read_and_write_separately_and_nothing_else(tmp_path: Path) -> None:
    security = BrokerSecurity(tmp_path, users=["classifier"])
    security.prepare()
    commands = security.acl_commands("127.0.0.1:1", [service_grant(CLASSIFIER)])
    assert len(commands) == 2
    read, write = commands
    assert read[read.index("--allow-principal") + 1] == "User:classifier"
    assert [read[i + 1] for i, a in enumerate(read) if a == "--operation"] == ["Read", "Describe"]
    assert read[-2:] == ["--group", "supportbus-classifier"]
    assert [write[i + 1] for i, a in enumerate(write) if a == "--operation"] == [
        "Write",
        "Describe",
    ]
    assert "--group" not in write
    for command in commands:
        assert "--producer" not in command  # it would add Create
        assert "--resource-pattern-type" not in command  # literal names only


def test_passwords_are_private_files_and_users_include_admin(tmp_path: Path) -> None:
    security = BrokerSecurity(tmp_path, users=["classifier", "ticketer"])
    security.prepare()
    assert security.users == (ADMIN, "classifier", "ticketer")
    passwords = {security.password(u) for u in security.users}
    assert len(passwords) == 3
    for user in security.users:
        assert security.password_file(user).stat().st_mode & 0o077 == 0
    env = security.client_env("CLASSIFIER_", "classifier")
    assert env["CLASSIFIER_KAFKA_SASL_PASSWORD_FILE"] == str(security.password_file("classifier"))
    assert security.password("classifier") not in str(env)
    settings = security.client_settings("classifier")
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_ssl_ca_file == security.tls.ca_file
    assert security.tls.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
