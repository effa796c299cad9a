"""supportbus ticketer service."""
