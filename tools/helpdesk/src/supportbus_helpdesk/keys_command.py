"""``supportbus-helpdesk-keys``: make an API key, store its digest in the helpdesk's keys file and
the key itself in a file only its client reads (a secret mounted into that client)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from supportbus_helpdesk.auth import SCOPES, key_file_line, new_api_key


def add_key(keys_file: Path, name: str, scopes: set[str], key_out: Path) -> None:
    """Append a new key for ``name`` to ``keys_file``; write the key to ``key_out`` (mode 600)."""
    key = new_api_key()
    line = key_file_line(name, scopes, key)
    key_out.parent.mkdir(parents=True, exist_ok=True)
    _write_private(key_out, key + "\n", append=False)
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    _write_private(keys_file, line + "\n", append=True)


def _write_private(path: Path, text: str, *, append: bool) -> None:
    # Created 0600 from the start, never world-readable for a moment.
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="supportbus-helpdesk-keys", description=__doc__)
    parser.add_argument("--keys-file", type=Path, required=True, help="HELPDESK_API_KEYS_FILE")
    parser.add_argument("--name", required=True, help="who the key is for, e.g. ticketer")
    parser.add_argument(
        "--scope", action="append", required=True, choices=sorted(SCOPES), dest="scopes"
    )
    parser.add_argument("--key-out", type=Path, required=True, help="where the key is written")
    args = parser.parse_args(argv)
    if any(char.isspace() or char == "#" for char in args.name):
        parser.error("--name may not contain spaces or '#'")
    add_key(args.keys_file, args.name, set(args.scopes), args.key_out)
    print(
        f"added the key '{args.name}' ({', '.join(sorted(args.scopes))}) to {args.keys_file}; "
        f"the key is in {args.key_out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
