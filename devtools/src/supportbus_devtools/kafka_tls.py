"""Certificates for a secured local broker, made with the ``cryptography`` package: a private CA
(its PEM is what clients trust) and a broker certificate for 127.0.0.1/localhost in a PKCS#12
keystore, the format the JDK reads without keytool."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

_VALID_FOR = datetime.timedelta(days=30)


@dataclass(frozen=True)
class BrokerTls:
    ca_file: Path  # PEM: clients' *_KAFKA_SSL_CA_FILE
    keystore_file: Path  # PKCS#12: the broker's key and certificate chain
    keystore_password: str


def make_broker_tls(directory: Path, password: str) -> BrokerTls:
    """A CA and a broker certificate under ``directory`` (made once, reused while valid)."""
    ca_file, keystore = directory / "ca.pem", directory / "broker.p12"
    if ca_file.is_file() and keystore.is_file():
        return BrokerTls(ca_file, keystore, password)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "supportbus local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    store = pkcs12.serialize_key_and_certificates(
        b"broker",
        broker_key,
        broker_cert,
        [ca_cert],
        serialization.BestAvailableEncryption(password.encode()),
    )
    _write_private(keystore, store)
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return BrokerTls(ca_file, keystore, password)


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
