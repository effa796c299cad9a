"""supportbus responder service."""
