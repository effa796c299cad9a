"""What the reviewer consumes and publishes, declared once: its handler publishes through this
output, and its AsyncAPI document is generated from this module alone."""

from __future__ import annotations

from supportbus_contracts import ResponseReady
from supportbus_contracts.topics import RESPONSE_READY
from supportbus_reviewer.events import ReplyReviewed
from supportbus_runtime.kit import Input, Output, ServiceDeclaration

SERVICE = "reviewer"
REVIEWED_TOPIC = "support.reply.reviewed.v1"

REVIEWED = Output(REVIEWED_TOPIC, ReplyReviewed)
READY = Input(RESPONSE_READY, ResponseReady, outputs=(REVIEWED,))

DECLARATION = ServiceDeclaration(SERVICE, inputs=(READY,))
