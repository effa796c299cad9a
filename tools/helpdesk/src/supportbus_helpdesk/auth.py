"""API keys: who may call the helpdesk, and for what.

The server holds only SHA-256 digests of the keys, one per line of ``HELPDESK_API_KEYS_FILE``::

    # name      scopes                       digest
    ticketer    tickets:create               sha256:9f86d0...
    operator    tickets:read,faults:write    sha256:2c26b4...

Keys are 256-bit random tokens (``new_api_key``), so a plain digest is as strong as a slow hash
here: there is nothing to guess from. Clients send ``Authorization: Bearer <key>``. Every
presented key is compared with every digest in constant time, so neither a partial match nor
the position of a key in the file shows in the answer's timing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from supportbus_helpdesk.errors import HelpdeskError
from supportbus_runtime.errors import ConfigurationError

Scope = Literal["tickets:create", "tickets:read", "faults:write"]
SCOPES: frozenset[str] = frozenset(get_args(Scope))
KEY_PREFIX = "sbhd_"
_DIGEST_PREFIX = "sha256:"


class ApiKeyFileError(HelpdeskError, ConfigurationError):
    """The keys file is missing, unreadable, or has a line that is not ``name scopes digest``."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    digest: bytes


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_file_line(name: str, scopes: frozenset[str] | set[str], key: str) -> str:
    """The keys-file line that lets ``key`` in as ``name`` with ``scopes``."""
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {sorted(SCOPES)}, not {unknown}")
    return f"{name} {','.join(sorted(scopes))} {_DIGEST_PREFIX}{digest_of(key).hex()}"


class ApiKeyRing:
    """The keys the helpdesk accepts."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = tuple(keys)

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyRing:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ApiKeyFileError(
                f"cannot read the API keys file {path}: {error.strerror}"
            ) from error
        keys = [_parse_line(line, path, n) for n, line in enumerate(text.splitlines(), 1)]
        ring = cls([key for key in keys if key is not None])
        if not ring._keys:
            raise ApiKeyFileError(f"the API keys file {path} holds no keys")
        return ring

    def authenticate(self, presented: str) -> ApiKey | None:
        """The key ``presented`` matches, or None. Looks at every key whatever matches first."""
        digest = digest_of(presented)
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found


def _parse_line(line: str, path: Path, number: int) -> ApiKey | None:
    line = line.split("#", 1)[0].strip()
    if not line:
        return None
    parts = line.split()
    where = f"{path}, line {number}"
    if len(parts) != 3 or not parts[2].startswith(_DIGEST_PREFIX):
        raise ApiKeyFileError(f"{where}: expected 'name scopes sha256:<hex digest>'")
    name, scope_list, digest_text = parts
    scopes = frozenset(scope_list.split(","))
    if not scopes <= SCOPES:
        raise ApiKeyFileError(
            f"{where}: unknown scope {sorted(scopes - SCOPES)}; known: {sorted(SCOPES)}"
        )
    try:
        digest = bytes.fromhex(digest_text.removeprefix(_DIGEST_PREFIX))
    except ValueError as error:
        raise ApiKeyFileError(f"{where}: the digest is not hexadecimal") from error
    if len(digest) != hashlib.sha256().digest_size:
        raise ApiKeyFileError(f"{where}: the digest is not a SHA-256 digest")
    return ApiKey(name=name, scopes=scopes, digest=digest)
