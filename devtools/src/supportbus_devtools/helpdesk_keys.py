"""The API keys of a local stack's helpdesk: made once per work directory, like a deployment's
secrets. The ticketer gets a key that can only create tickets; the operator (the CLI, the
chaos suite, the benchmarks, the tests) one that can read tickets and drive the fault switch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supportbus_helpdesk.keys_command import add_key
from supportbus_runtime.secret_files import read_secret_file


@dataclass(frozen=True)
class HelpdeskKeys:
    directory: Path

    @property
    def keys_file(self) -> Path:
        """HELPDESK_API_KEYS_FILE: digests only."""
        return self.directory / "helpdesk-api-keys"

    @property
    def ticketer_key_file(self) -> Path:
        """TICKETER_HELPDESK_API_KEY_FILE."""
        return self.directory / "ticketer-helpdesk.key"

    @property
    def operator_key_file(self) -> Path:
        """SUPPORTBUS_HELPDESK_API_KEY_FILE, for the CLI."""
        return self.directory / "operator-helpdesk.key"

    def ensure(self) -> None:
        """Make the keys unless a complete set is already there (a restarted stack keeps them)."""
        files = (self.keys_file, self.ticketer_key_file, self.operator_key_file)
        if all(path.exists() for path in files):
            return
        for path in files:
            path.unlink(missing_ok=True)
        add_key(self.keys_file, "ticketer", {"tickets:create"}, self.ticketer_key_file)
        add_key(
            self.keys_file, "operator", {"tickets:read", "faults:write"}, self.operator_key_file
        )

    def operator_headers(self) -> dict[str, str]:
        return bearer_headers(self.operator_key_file)


def bearer_headers(key_file: Path | None) -> dict[str, str]:
    """The Authorization header for the key in ``key_file`` (none without a file)."""
    if key_file is None:
        return {}
    return {"Authorization": f"Bearer {read_secret_file(key_file, 'the helpdesk API key file')}"}
