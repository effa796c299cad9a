"""Request bodies: Banking77 customer queries (``../shared``), as contract events."""

from __future__ import annotations

import random
from typing import Literal

from supportbus_classifier.training import read_labelled_csv
from supportbus_cli.settings import CliSettings
from supportbus_contracts import RequestReceived, SupportRequest

Channel = Literal["email", "chat", "api", "web"]
CHANNELS: tuple[Channel, ...] = ("email", "chat", "api", "web")
PRODUCER = "supportbus-benchmark"


class Corpus:
    """Hands out Banking77 texts in a fixed shuffled order, never the same text twice in a row
    of runs, so no run is helped by a cache another run warmed."""

    def __init__(self, texts: list[str]) -> None:
        if not texts:
            raise ValueError("no request texts")
        self._texts = list(texts)
        random.Random(77).shuffle(self._texts)
        self._next = 0

    @classmethod
    def banking77(cls) -> Corpus:
        return cls(read_labelled_csv(CliSettings().banking77_train()).texts)

    def requests(self, prefix: str, count: int) -> list[RequestReceived]:
        """``count`` valid RequestReceived events with request ids ``<prefix>-00000`` ...; the
        pydantic contract models validate every field as they are built."""
        events = []
        for n in range(count):
            text = self._texts[self._next % len(self._texts)]
            self._next += 1
            request = SupportRequest(
                channel=CHANNELS[n % len(CHANNELS)],
                customer_id=f"cus_{n % 500:04d}",
                email=f"customer{n % 500}@example.com" if n % 4 == 0 else None,
                body=text,
            )
            events.append(
                RequestReceived(request_id=f"{prefix}-{n:05d}", request=request, producer=PRODUCER)
            )
        return events
