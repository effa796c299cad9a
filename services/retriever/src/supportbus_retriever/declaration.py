"""What the retriever consumes and publishes, declared once: its handlers publish through these
outputs, and its AsyncAPI document is generated from this module alone."""

from __future__ import annotations

from supportbus_contracts import KnowledgeRetrieved, RequestClassified
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, REQUEST_CLASSIFIED
from supportbus_runtime.kit import Input, Output, ServiceDeclaration

SERVICE = "retriever"

RETRIEVED = Output(KNOWLEDGE_RETRIEVED, KnowledgeRetrieved)
CLASSIFIED = Input(REQUEST_CLASSIFIED, RequestClassified, outputs=(RETRIEVED,))

DECLARATION = ServiceDeclaration(SERVICE, inputs=(CLASSIFIED,))
