"""What kb-gaps consumes and publishes, declared once: its handler publishes through this
output, and its AsyncAPI document is generated from this module alone."""

from __future__ import annotations

from supportbus_contracts import KnowledgeRetrieved
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED
from supportbus_kb_gaps.events import KnowledgeGapFound
from supportbus_runtime.kit import Input, Output, ServiceDeclaration

SERVICE = "kb-gaps"
GAP_FOUND_TOPIC = "support.knowledge.gap_found.v1"

GAP_FOUND = Output(GAP_FOUND_TOPIC, KnowledgeGapFound)
RETRIEVED = Input(KNOWLEDGE_RETRIEVED, KnowledgeRetrieved, outputs=(GAP_FOUND,))

DECLARATION = ServiceDeclaration(SERVICE, inputs=(RETRIEVED,))
