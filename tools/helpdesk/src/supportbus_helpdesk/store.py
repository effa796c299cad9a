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
import dataclasses
import hashlib
import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supportbus_helpdesk.errors import IdempotencyConflict, TicketNotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload_hash    TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    customer_email  TEXT,
    category        TEXT NOT NULL,
    intent          TEXT NOT NULL,
    priority        TEXT NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    status          TEXT NOT NULL DEFAULT 'open',
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_by_status ON tickets (status);
"""

_TICKET_COLUMNS = (
    "id, request_id, subject, body, customer_id, customer_email, category, intent, priority, "
    "status, created_at"
)

# Seconds a connection waits for another process's write lock before giving up.
_BUSY_TIMEOUT_S = 5.0
# A fresh random id colliding with an existing one is astronomically unlikely at 48 bits,
# but retrying costs nothing and turns "unlikely" into "never surfaces to the caller".
_ID_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class TicketFields:
    """What a client supplies to open a ticket; the canonical payload behind an idempotency key."""

    request_id: str
    subject: str
    body: str
    customer_id: str
    customer_email: str | None
    category: str
    intent: str
    priority: str

    def payload_hash(self) -> str:
        # Sorted keys and fixed separators make equal payloads hash equal regardless of the
        # order or formatting the client used.
        canonical = json.dumps(
            dataclasses.asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    request_id: str
    subject: str
    body: str
    customer_id: str
    customer_email: str | None
    category: str
    intent: str
    priority: str
    status: str
    created_at: datetime


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
            self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def create_ticket(self, idempotency_key: str, fields: TicketFields) -> tuple[Ticket, bool]:
        """Open a ticket, or return the one already opened under ``idempotency_key``.

        Returns ``(ticket, created)``. Raises ``IdempotencyConflict`` if the key was used
        for a different payload.
        """
        payload_hash = fields.payload_hash()
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
                    f"SELECT {_TICKET_COLUMNS}, payload_hash FROM tickets "
                    "WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
        if row["payload_hash"] != payload_hash:
            raise IdempotencyConflict(
                f"idempotency key {idempotency_key!r} was already used for a different payload"
            )
        return _ticket_from_row(row), created

    def _insert_unless_key_exists(
        self, idempotency_key: str, payload_hash: str, fields: TicketFields, created_at: str
    ) -> bool:
        # The conflict target is the key only: a (vanishingly rare) id collision must raise,
        # not be silently swallowed as if it were a replay.
        for _ in range(_ID_ATTEMPTS):
            try:
                cursor = self._connection.execute(
                    "INSERT INTO tickets (id, idempotency_key, payload_hash, request_id, subject, "
                    "body, customer_id, customer_email, category, intent, priority, status, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) "
                    "ON CONFLICT (idempotency_key) DO NOTHING",
                    (
                        new_ticket_id(),
                        idempotency_key,
                        payload_hash,
                        fields.request_id,
                        fields.subject,
                        fields.body,
                        fields.customer_id,
                        fields.customer_email,
                        fields.category,
                        fields.intent,
                        fields.priority,
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
                f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,)
            ).fetchone()
        if row is None:
            raise TicketNotFound(f"no ticket with id {ticket_id!r}")
        return _ticket_from_row(row)

    def list(self, limit: int, offset: int, status: str | None = None) -> builtins.list[Ticket]:
        """Tickets newest first (by insertion order, which timestamps cannot tie-break)."""
        # (``builtins.list`` above: inside this class, plain ``list`` names this method.)
        query = f"SELECT {_TICKET_COLUMNS} FROM tickets"
        parameters: list[Any] = []
        if status is not None:
            query += " WHERE status = ?"
            parameters.append(status)
        query += " ORDER BY rowid DESC LIMIT ? OFFSET ?"
        parameters += [limit, offset]
        with self._lock:
            rows = self._connection.execute(query, parameters).fetchall()
        return [_ticket_from_row(row) for row in rows]

    def count(self, status: str | None = None) -> int:
        with self._lock:
            if status is None:
                row = self._connection.execute("SELECT COUNT(*) FROM tickets").fetchone()
            else:
                row = self._connection.execute(
                    "SELECT COUNT(*) FROM tickets WHERE status = ?", (status,)
                ).fetchone()
        return int(row[0])


def _ticket_from_row(row: sqlite3.Row) -> Ticket:
    return Ticket(
        id=row["id"],
        request_id=row["request_id"],
        subject=row["subject"],
        body=row["body"],
        customer_id=row["customer_id"],
        customer_email=row["customer_email"],
        category=row["category"],
        intent=row["intent"],
        priority=row["priority"],
        status=row["status"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
