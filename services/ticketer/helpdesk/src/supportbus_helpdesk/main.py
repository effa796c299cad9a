"""Entry point: ``supportbus-helpdesk`` / ``python -m supportbus_helpdesk.main``."""

from __future__ import annotations

import uvicorn

from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.settings import HelpdeskSettings


def main() -> None:
    settings = HelpdeskSettings()
    uvicorn.run(
        build_api(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvicorn's access log records method, path and status only, never bodies, and nothing
        # in this app logs request bodies: they carry customer PII (message text, email).
        access_log=True,
        # A sandbox does not need to advertise its stack.
        server_header=False,
    )


if __name__ == "__main__":
    main()
