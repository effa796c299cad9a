"""``supportbus handoff list``: the helpdesk's human queue, the requests the classifier handed
off to a person (the customer asked for one, the classifier was unsure, or the intent is one
people always handle). Errors are left to the app's one translation (``supportbus_cli.errors``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from supportbus_cli.progress import console
from supportbus_cli.settings import CliSettings
from supportbus_devtools.helpdesk_keys import bearer_headers
from supportbus_runtime.pii import redact
from supportbus_ticketer.settings import TicketerSettings

handoff_app = typer.Typer(help="Requests handed off to a person.", no_args_is_help=True)

_COLUMNS = ("id", "created_at", "priority", "intent", "request_id", "subject")


def register(app: typer.Typer) -> None:
    """Add the ``handoff`` command group to ``app``."""
    app.add_typer(handoff_app, name="handoff")


def human_queue(helpdesk: httpx.Client, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest ``limit`` tickets of the human queue, and how many it holds. Subjects are the
    customer's words: they come back redacted, like every log line."""
    answer = helpdesk.get("/v1/tickets", params={"queue": "human", "limit": limit})
    answer.raise_for_status()
    page = answer.json()
    items = [{**item, "subject": redact(str(item.get("subject") or ""))} for item in page["items"]]
    return items, int(page["total"])


def queue_lines(items: list[dict[str, Any]], total: int) -> list[str]:
    """A table of the queue, one ticket a line (subjects cut to 60 characters)."""
    rows = [[str(item.get(c) or "")[:60] for c in _COLUMNS] for item in items]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"{len(items)} shown of {total} in the human queue")
    return lines


@handoff_app.command("list")
def handoff_list(
    helpdesk_url: Annotated[
        str | None, typer.Option(help="The helpdesk (default: the ticketer's settings).")
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--helpdesk-key-file",
            help="A helpdesk API key with the tickets:read scope "
            "(default: SUPPORTBUS_HELPDESK_API_KEY_FILE).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """The human queue, newest first."""
    url = helpdesk_url or TicketerSettings().helpdesk_url
    console.print(f"reading the human queue of {url}")
    headers = bearer_headers(key_file or CliSettings().helpdesk_api_key_file)
    with httpx.Client(base_url=url, headers=headers, timeout=10) as helpdesk:
        items, total = human_queue(helpdesk, limit)
    if as_json:
        print(json.dumps({"items": items, "total": total}))
        return
    print("\n".join(queue_lines(items, total)))
