"""Tickets persisted in SQLite (stdlib ``sqlite3``), with idempotent creation.

Concurrency design: one connection per store, shared by all threads behind a lock.
SQLite serialises writers per database file anyway, so more connections would not buy write
throughput inside one process; they would only add ``SQLITE_BUSY`` waits between our own
threads. The lock is required (not just ``check_same_thread=False``) because a connection
carries a single transaction: two threads interleaving BEGIN/COMMIT on it would commit each
other's half-done work. WAL mode still lets other processes (a second server, ``sqlite3`` CLI)
read while we write, and ``create_ticket`` stays race-free across processes because it relies
on the UNIQUE constraint inside a ``BEGIN IMMEDIATE`` transaction, not on the lock.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportbus_contracts import TicketDraft
from supportbus_helpdesk.errors import IdempotencyConflict, TicketNotFound
from supportbus_helpdesk.ticket_table import (
    ADDED_LATER,
    COLUMN_NAMES,
    COLUMNS,
    FIELD_NAMES,
    INSERT,
    SCHEMA,
    add_missing_columns,
)

# Seconds a connection waits for another process's write lock before giving up.
_BUSY_TIMEOUT_S = 5.0
# A fresh random id colliding with an existing one is astronomically unlikely at 48 bits,
# but retrying costs nothing and turns "unlikely" into "never surfaces to the caller".
_ID_ATTEMPTS = 3


# The name callers of the store (its tests among them) know the draft by.
TicketFields = TicketDraft


class Ticket(TicketDraft):
    """A stored ticket: its fields and what the helpdesk added to them."""

    id: str
    status: str
    created_at: datetime


def _payload_hash(fields: TicketDraft) -> str:
    """The canonical hash of what an idempotency key was used for."""
    # Only the draft's own fields, whatever subclass carries them; sorted keys and fixed
    # separators make equal payloads hash equal regardless of the order or formatting the client
    # used (and equal to the hashes already stored).
    values = fields.model_dump(include=set(FIELD_NAMES))
    for name in ADDED_LATER:  # at their default they hash as before they existed
        if values[name] == TicketDraft.model_fields[name].default:
            del values[name]
    canonical = json.dumps(
        values,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def new_ticket_id() -> str:
    """A short, non-sequential id (``TCK-`` + 12 hex digits): it does not reveal ticket volume
    and needs no coordination between writers."""
    return f"TCK-{uuid.uuid4().hex[:12].upper()}"


class TicketStore:
    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the sqlite3 module must not open transactions behind our back;
        # create_ticket issues BEGIN IMMEDIATE itself.
        self._connection = sqlite3.connect(
            db_path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.executescript(SCHEMA)
            existing = {row[1] for row in self._connection.execute("PRAGMA table_info(tickets)")}
            for statement in add_missing_columns(existing):
                self._connection.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def create_ticket(self, idempotency_key: str, fields: TicketDraft) -> tuple[Ticket, bool]:
        """Open a ticket, or return the one already opened under ``idempotency_key``.

        Returns ``(ticket, created)``. Raises ``IdempotencyConflict`` if the key was used
        for a different payload.
        """
        payload_hash = _payload_hash(fields)
        created_at = datetime.now(UTC).isoformat()
        with self._lock:
            # IMMEDIATE takes the write lock up front. A deferred transaction would read first
            # and then fail to upgrade (SQLITE_BUSY_SNAPSHOT, not retried) if another process
            # wrote in between.
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                created = self._insert_unless_key_exists(
                    idempotency_key, payload_hash, fields, created_at
                )
                row = self._connection.execute(
                    f"SELECT {COLUMNS}, payload_hash FROM tickets WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
        if row["payload_hash"] != payload_hash:
            # The key is not repeated: error answers never echo what the client sent.
            raise IdempotencyConflict(
                "the idempotency key was already used for a different payload"
            )
        return _ticket_from_row(row), created

    def _insert_unless_key_exists(
        self, idempotency_key: str, payload_hash: str, fields: TicketDraft, created_at: str
    ) -> bool:
        # The conflict target is the key only: a (vanishingly rare) id collision must raise,
        # not be silently swallowed as if it were a replay.
        for _ in range(_ID_ATTEMPTS):
            try:
                cursor = self._connection.execute(
                    INSERT,
                    (
                        new_ticket_id(),
                        idempotency_key,
                        payload_hash,
                        *(getattr(fields, name) for name in FIELD_NAMES),
                        created_at,
                    ),
                )
            except sqlite3.IntegrityError as error:
                if "tickets.id" not in str(error):
                    raise
                continue  # id collision: draw another id
            return cursor.rowcount == 1
        raise RuntimeError(f"could not draw a free ticket id in {_ID_ATTEMPTS} attempts")

    def get(self, ticket_id: str) -> Ticket:
        with self._lock:
            row = self._connection.execute(
                f"SELECT {COLUMNS} FROM tickets WHERE id = ?", (ticket_id,)
            ).fetchone()
        if row is None:
            raise TicketNotFound(f"no ticket with id {ticket_id!r}")
        return _ticket_from_row(row)

    def list(
        self, limit: int, offset: int, status: str | None = None, queue: str | None = None
    ) -> builtins.list[Ticket]:
        """Tickets newest first (by insertion order, which timestamps cannot tie-break)."""
        # (``builtins.list`` above: inside this class, plain ``list`` names this method.)
        where, parameters = _filters(status, queue)
        query = f"SELECT {COLUMNS} FROM tickets{where} ORDER BY rowid DESC LIMIT ? OFFSET ?"
        parameters += [limit, offset]
        with self._lock:
            rows = self._connection.execute(query, parameters).fetchall()
        return [_ticket_from_row(row) for row in rows]

    def count(self, status: str | None = None, queue: str | None = None) -> int:
        where, parameters = _filters(status, queue)
        with self._lock:
            row = self._connection.execute(
                f"SELECT COUNT(*) FROM tickets{where}", parameters
            ).fetchone()
        return int(row[0])


def _filters(status: str | None, queue: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause (names fixed here, values as parameters) for the given filters."""
    given = [(column, value) for column, value in (("status", status), ("queue", queue)) if value]
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{column} = ?" for column, _ in given), [
        value for _, value in given
    ]


def _ticket_from_row(row: sqlite3.Row) -> Ticket:
    # model_construct: the row was validated as a TicketCreate on its way in, so reading it back
    # re-checks nothing (and a listing of 200 rows costs no validation).
    values: dict[str, Any] = {name: row[name] for name in COLUMN_NAMES}
    values["created_at"] = datetime.fromisoformat(row["created_at"])
    return Ticket.model_construct(**values)
