"""Secrets as files (a Kubernetes Secret or compose secret mounted into the container): read
when a client is built, so a setting holds a path that can be printed, never the secret."""

from __future__ import annotations

from pathlib import Path

from supportbus_runtime.errors import ConfigurationError


def read_secret_file(path: Path, what: str) -> str:
    """The secret in ``path``, surrounding whitespace (a trailing newline) stripped.

    ``ConfigurationError`` naming ``what`` (the setting, e.g. ``TICKETER_HELPDESK_API_KEY_FILE``)
    when the file cannot be read or holds nothing; the message never includes the content.
    """
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigurationError(f"cannot read {what} {path}: {error.strerror}") from None
    if not secret:
        raise ConfigurationError(f"{what} {path} is empty")
    return secret
