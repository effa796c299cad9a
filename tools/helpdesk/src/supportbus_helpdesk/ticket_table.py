"""The SQLite ``tickets`` table, derived from the one definition of a ticket's fields.

The ticket's own columns are ``TicketDraft``'s fields, in their order; the store adds its
bookkeeping around them (id, idempotency key and payload hash before, status and creation time
after). A field added to ``TicketDraft`` later (it always has a default: contract changes are
additive) becomes a column of new databases, and ``add_missing_columns`` adds it, with its
default, to a database created before it, when the store opens it.
"""

from __future__ import annotations

from typing import Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from supportbus_contracts import TicketDraft

FIELD_NAMES: tuple[str, ...] = tuple(TicketDraft.model_fields)
# Fields added after the first tickets were stored: at their default they are left out of the
# idempotency hash, so a ticket stored before them still matches its redelivery.
ADDED_LATER: tuple[str, ...] = ("queue",)
# What a ticket read back consists of (the key and hash stay inside the store).
COLUMN_NAMES: tuple[str, ...] = ("id", *FIELD_NAMES, "status", "created_at")
COLUMNS = ", ".join(COLUMN_NAMES)


def _column_sql(name: str, field: FieldInfo) -> str:
    # Every ticket field is text; an optional one is nullable, a Literal one gets a CHECK so the
    # database refuses what the API would. Any other type has no column mapping yet: fail at
    # import rather than store it wrongly.
    arguments = get_args(field.annotation)
    nullable = type(None) in arguments
    annotation = field.annotation
    if nullable:
        rest = [argument for argument in arguments if argument is not type(None)]
        annotation = rest[0] if len(rest) == 1 else annotation
    column = f"    {name:<15} TEXT" + ("" if nullable else " NOT NULL")
    if isinstance(field.default, str):  # a field added later: old rows take its default
        column += f" DEFAULT '{field.default}'"
    if annotation is str:
        return column
    values = get_args(annotation)
    if get_origin(annotation) is Literal and all(isinstance(value, str) for value in values):
        allowed = ", ".join(f"'{value}'" for value in values)
        return f"{column} CHECK ({name} IN ({allowed}))"
    raise TypeError(f"no SQLite column type for ticket field {name!r}: {field.annotation!r}")


def _field_columns_sql(model: type[BaseModel]) -> str:
    return "".join(f"{_column_sql(name, f)},\n" for name, f in model.model_fields.items())


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tickets (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload_hash    TEXT NOT NULL,
{_field_columns_sql(TicketDraft)}    status          TEXT NOT NULL DEFAULT 'open',
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (status);
"""

# Parameters: id, idempotency key, payload hash, the fields in FIELD_NAMES order, created_at.
INSERT = (
    f"INSERT INTO tickets (id, idempotency_key, payload_hash, {', '.join(FIELD_NAMES)}, status, "
    f"created_at) VALUES (?, ?, ?, {', '.join('?' for _ in FIELD_NAMES)}, 'open', ?) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


def add_missing_columns(existing: set[str]) -> list[str]:
    """The ALTER TABLE statements that give a table with ``existing`` columns every field's."""
    return [
        f"ALTER TABLE tickets ADD COLUMN {_column_sql(name, field).strip()}"
        for name, field in TicketDraft.model_fields.items()
        if name not in existing
    ]
