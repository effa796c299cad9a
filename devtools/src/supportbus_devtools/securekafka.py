"""A local broker as a managed Kafka runs it: clients on SASL_SSL (SCRAM-SHA-512), the
StandardAuthorizer on, nobody allowed anything an ACL does not grant.

Listeners, all on 127.0.0.1:

* ``CLIENT`` (SASL_SSL, SCRAM-SHA-512/256): every client, each service as its own principal;
* ``INTERNAL`` (SASL_PLAINTEXT, PLAIN): the broker's own traffic and Kafka's admin tools;
* ``CONTROLLER`` (SASL_PLAINTEXT, PLAIN): KRaft's quorum.

SCRAM users are created with Kafka's own tooling when the storage is formatted
(``kafka-storage format --add-scram``), ACLs with ``kafka-acls`` (``AclCommand``) as ``admin``,
the one super user. Passwords are random, one file each (mode 600), like mounted secrets.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from supportbus_contracts.topics import dead_letter_topic
from supportbus_devtools.kafka_tls import BrokerTls, make_broker_tls
from supportbus_runtime.declaration import ServiceDeclaration
from supportbus_runtime.kafka_security import KafkaSecuritySettings
from supportbus_runtime.settings import ServiceSettings

ADMIN = "admin"
CLIENT_MECHANISM = "SCRAM-SHA-512"
_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


@dataclass(frozen=True)
class Grant:
    """What one principal may do: read ``reads`` as consumer group ``group``, write ``writes``."""

    principal: str
    reads: tuple[str, ...] = ()
    group: str | None = None
    writes: tuple[str, ...] = ()


class BrokerSecurity:
    """The users, passwords and certificates of one secured broker (kept in ``directory``)."""

    def __init__(self, directory: Path, users: Iterable[str]) -> None:
        self.directory = directory
        self.users = tuple(dict.fromkeys([ADMIN, *users]))
        self._tls: BrokerTls | None = None

    def prepare(self) -> None:
        """Passwords and certificates, made once; a restarted broker reuses them."""
        for user in self.users:
            path = self.password_file(user)
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_private(path, secrets.token_urlsafe(24))
        self._tls = make_broker_tls(self.directory / "tls", self.password(ADMIN))

    @property
    def tls(self) -> BrokerTls:
        if self._tls is None:
            raise RuntimeError("BrokerSecurity.prepare() first")
        return self._tls

    def password_file(self, user: str) -> Path:
        return self.directory / "users" / f"{user}.password"

    def password(self, user: str) -> str:
        return self.password_file(user).read_text(encoding="utf-8").strip()

    def format_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments that create every user's SCRAM credential."""
        arguments: list[str] = []
        for user in self.users:
            arguments += [
                "--add-scram",
                f"{CLIENT_MECHANISM}=[name={user},password={self.password(user)}]",
            ]
        return arguments

    def server_properties(
        self, port: int, internal_port: int, controller_port: int
    ) -> dict[str, str]:
        host = "127.0.0.1"
        plain_login = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{self.password(ADMIN)}" '
            f'user_{ADMIN}="{self.password(ADMIN)}";'
        )
        return {
            "listeners": (
                f"CLIENT://{host}:{port},INTERNAL://{host}:{internal_port},"
                f"CONTROLLER://{host}:{controller_port}"
            ),
            "advertised.listeners": f"CLIENT://{host}:{port},INTERNAL://{host}:{internal_port}",
            "listener.security.protocol.map": (
                "CLIENT:SASL_SSL,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
            ),
            "inter.broker.listener.name": "INTERNAL",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256",
            "listener.name.client.scram-sha-512.sasl.jaas.config": _SCRAM_LOGIN,
            "listener.name.client.scram-sha-256.sasl.jaas.config": _SCRAM_LOGIN,
            "listener.name.client.ssl.keystore.type": "PKCS12",
            "listener.name.client.ssl.keystore.location": str(self.tls.keystore_file),
            "listener.name.client.ssl.keystore.password": self.tls.keystore_password,
            "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": plain_login,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": plain_login,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def admin_command_config(self) -> Path:
        """A client config for Kafka's tools, as admin over the INTERNAL listener."""
        path = self.directory / "admin.properties"
        _write_private(
            path,
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{self.password(ADMIN)}";\n',
        )
        return path

    def client_settings(self, user: str) -> KafkaSecuritySettings:
        """What a Python client of ours passes to connect as ``user``."""
        values = {k.lower(): v for k, v in self.client_env("", user).items()}
        return KafkaSecuritySettings.model_validate(values)  # not from the environment

    def client_env(self, prefix: str, user: str) -> dict[str, str]:
        """The ``<prefix>KAFKA_*`` variables that make a service connect as ``user``."""
        return {
            f"{prefix}KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            f"{prefix}KAFKA_SASL_MECHANISM": CLIENT_MECHANISM,
            f"{prefix}KAFKA_SASL_USERNAME": user,
            f"{prefix}KAFKA_SASL_PASSWORD_FILE": str(self.password_file(user)),
            f"{prefix}KAFKA_SSL_CA_FILE": str(self.tls.ca_file),
        }

    def acl_commands(self, bootstrap_internal: str, grants: Iterable[Grant]) -> list[list[str]]:
        """``AclCommand`` argument lists granting exactly ``grants`` (literal resource names)."""
        base = ["--bootstrap-server", bootstrap_internal, "--command-config"]
        base += [str(self.admin_command_config()), "--add"]
        commands: list[list[str]] = []
        for grant in grants:
            who = ["--allow-principal", f"User:{grant.principal}"]
            if grant.reads:
                if grant.group is None:
                    raise ValueError(f"{grant.principal} reads {grant.reads} without a group")
                read = [*base, *who, "--operation", "Read", "--operation", "Describe"]
                read += [arg for topic in grant.reads for arg in ("--topic", topic)]
                commands.append([*read, "--group", grant.group])
            if grant.writes:
                write = [*base, *who, "--operation", "Write", "--operation", "Describe"]
                commands.append([*write, *[a for t in grant.writes for a in ("--topic", t)]])
        return commands


def service_grant(declaration: ServiceDeclaration, topic_prefix: str = "") -> Grant:
    """Exactly what a service needs, from its declaration: read its inputs as its consumer
    group, write its outputs and its inputs' dead-letter topics; nothing else."""
    settings = ServiceSettings.model_validate({"topic_prefix": topic_prefix})
    reads = tuple(settings.topic(i.topic) for i in declaration.inputs)
    outputs = tuple(settings.topic(o.topic) for o in declaration.outputs)
    return Grant(
        principal=declaration.name,
        reads=reads,
        group=settings.effective_group_id(declaration.name),
        writes=outputs + tuple(dead_letter_topic(topic) for topic in reads),
    )


def env_for(security: BrokerSecurity, users: Mapping[str, str]) -> dict[str, str]:
    """Environment for several processes at once: ``{prefix: user}``."""
    env: dict[str, str] = {}
    for prefix, user in users.items():
        env |= security.client_env(prefix, user)
    return env


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
