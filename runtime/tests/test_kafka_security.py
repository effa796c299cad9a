from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.kafka_security import (
    KafkaSecuritySettings,
    faststream_security,
    kafka_client_options,
)


def _settings(**values: object) -> KafkaSecuritySettings:
    return KafkaSecuritySettings.model_validate(values)


@pytest.fixture
def password(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text("s3cret-password\n")
    return path


def test_plaintext_needs_nothing_and_adds_nothing() -> None:
    assert kafka_client_options(_settings()) == {}
    assert faststream_security(_settings()) is None


def test_sasl_without_a_username_or_password_file_is_an_invalid_setting(password: Path) -> None:
    with pytest.raises(ValidationError, match="kafka_sasl_username and kafka_sasl_password_file"):
        _settings(kafka_security_protocol="SASL_SSL", kafka_sasl_password_file=password)
    with pytest.raises(ValidationError, match="kafka_sasl_username and kafka_sasl_password_file"):
        _settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="classifier")


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValidationError, match="go together"):
        _settings(kafka_security_protocol="SSL", kafka_ssl_cert_file="/c.pem")


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
def test_sasl_ssl_reads_the_password_from_its_file_for_every_client(
    password: Path, mechanism: str, kind: type[BaseSecurity]
) -> None:
    settings = _settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="classifier",
        kafka_sasl_password_file=password,
    )
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "classifier",
        "s3cret-password",
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname is True
    security = faststream_security(settings)
    assert isinstance(security, kind)
    assert security.use_ssl is True
    assert "s3cret-password" not in repr(settings)


def test_sasl_plaintext_has_no_tls(password: Path) -> None:
    settings = _settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="u",
        kafka_sasl_password_file=password,
    )
    assert "ssl_context" not in kafka_client_options(settings)
    security = faststream_security(settings)
    assert security is not None
    assert security.use_ssl is False


def test_a_missing_or_empty_password_file_stops_the_client_naming_the_file(tmp_path: Path) -> None:
    for content in (None, "  \n"):
        path = tmp_path / "password"
        if content is not None:
            path.write_text(content)
        settings = _settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_username="u",
            kafka_sasl_password_file=path,
        )
        with pytest.raises(ConfigurationError, match=str(path)):
            kafka_client_options(settings)


def test_a_missing_ca_file_stops_the_client(tmp_path: Path) -> None:
    settings = _settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=tmp_path / "ca.pem")
    with pytest.raises(ConfigurationError, match="does not exist"):
        kafka_client_options(settings)
