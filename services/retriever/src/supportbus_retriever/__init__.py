"""supportbus retriever service."""
