"""What the classifier consumes and publishes, declared once: its handlers publish through these
outputs, and its AsyncAPI document is generated from this module alone."""

from __future__ import annotations

from supportbus_contracts import RequestClassified, RequestReceived
from supportbus_contracts.topics import REQUEST_CLASSIFIED, REQUEST_RECEIVED
from supportbus_runtime.kit import Input, Output, ServiceDeclaration

SERVICE = "classifier"

CLASSIFIED = Output(REQUEST_CLASSIFIED, RequestClassified)
RECEIVED = Input(REQUEST_RECEIVED, RequestReceived, outputs=(CLASSIFIED,))

DECLARATION = ServiceDeclaration(SERVICE, inputs=(RECEIVED,))
