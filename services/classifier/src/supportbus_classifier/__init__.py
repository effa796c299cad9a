"""supportbus classifier service."""
