"""How every Kafka client of ours authenticates: TLS and SASL from ``*_KAFKA_*`` settings.

One translation, used by the services' broker (FastStream), their admin client, the CLI and the
development tools, so no client can be pointed at a secured cluster and forget a piece. The
password and the key are files (secrets mounted into the container), read when the client is
built, never settings values that could be printed with the rest.

``PLAINTEXT`` (the default) needs nothing; ``SSL`` needs a CA file unless the system's trust
store vouches for the brokers; ``SASL_*`` need a username and a password file. A client
certificate (mutual TLS) is optional.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from aiokafka.conn import create_conn
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.helpers import create_ssl_context
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.secret_files import read_secret_file

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

# What the broker answers when the credentials or the ACLs are wrong: retrying cannot help.
AUTHORIZATION_ERRORS: tuple[type[KafkaError], ...] = (
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)


class KafkaSecuritySettings(BaseSettings):
    """The ``*_KAFKA_*`` security settings (a mixin of every service's settings)."""

    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="File holding the SASL password (a mounted secret)."
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle the brokers' certificates chain to."
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None, description="PEM client certificate, for brokers that ask for one."
    )
    kafka_ssl_key_file: Path | None = Field(default=None, description="Its PEM private key.")
    kafka_ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecuritySettings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password_file):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password_file"
            )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError("kafka_ssl_cert_file and kafka_ssl_key_file go together")
        return self


def kafka_client_options(settings: KafkaSecuritySettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = _password(settings)
    return options


def faststream_security(settings: KafkaSecuritySettings) -> BaseSecurity | None:
    """The same, as FastStream's ``security=`` object for ``KafkaBroker``."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[settings.kafka_sasl_mechanism](
        username=settings.kafka_sasl_username,
        password=_password(settings),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def describe_refusal(error: KafkaError, settings: KafkaSecuritySettings) -> str:
    """A one-line reason for an authentication or authorization error, naming what to check."""
    who = settings.kafka_sasl_username or "(no SASL user)"
    prefix = str(settings.model_config.get("env_prefix", "")) or "*_"
    if isinstance(error, SaslAuthenticationFailed):
        return (
            f"Kafka refused the credentials of {who} ({settings.kafka_sasl_mechanism}): check "
            f"{prefix}KAFKA_SASL_USERNAME and {prefix}KAFKA_SASL_PASSWORD_FILE"
        )
    return f"Kafka denied {who} ({type(error).__name__}): check the ACLs of that principal"


async def check_credentials(bootstrap_servers: str, settings: KafkaSecuritySettings) -> None:
    """Authenticate once against the first bootstrap server and raise ``ConfigurationError``
    if the broker refuses the credentials or its certificate does not verify.

    aiokafka's clients only log such a refusal and then report "Unable to bootstrap", which
    reads like a broker that is down; this asks directly. An unreachable broker passes: the
    caller's own connection reports (and waits for) that.
    """
    if settings.kafka_security_protocol == "PLAINTEXT":
        return
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    prefix = str(settings.model_config.get("env_prefix", "")) or "*_"
    try:
        connection = await create_conn(
            host, int(port), request_timeout_ms=10_000, **kafka_client_options(settings)
        )
    except SaslAuthenticationFailed as error:
        raise ConfigurationError(describe_refusal(error, settings)) from error
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"the TLS handshake with Kafka at {host}:{port} failed ({error.reason}): check "
            f"{prefix}KAFKA_SSL_CA_FILE and {prefix}KAFKA_SSL_CHECK_HOSTNAME"
        ) from error
    except (OSError, KafkaError, TimeoutError):
        return
    connection.close()


def _ssl_context(settings: KafkaSecuritySettings) -> ssl.SSLContext:
    for path in (
        settings.kafka_ssl_ca_file,
        settings.kafka_ssl_cert_file,
        settings.kafka_ssl_key_file,
    ):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"Kafka TLS file {path} does not exist")
    context: ssl.SSLContext = create_ssl_context(
        cafile=None if settings.kafka_ssl_ca_file is None else str(settings.kafka_ssl_ca_file),
        certfile=None
        if settings.kafka_ssl_cert_file is None
        else str(settings.kafka_ssl_cert_file),
        keyfile=None if settings.kafka_ssl_key_file is None else str(settings.kafka_ssl_key_file),
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def _password(settings: KafkaSecuritySettings) -> str:
    path = settings.kafka_sasl_password_file
    if path is None:  # the validator makes this unreachable for SASL protocols
        raise ConfigurationError("no kafka_sasl_password_file")
    return read_secret_file(path, "the Kafka SASL password file")
