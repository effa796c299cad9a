"""supportbus operator CLI."""
