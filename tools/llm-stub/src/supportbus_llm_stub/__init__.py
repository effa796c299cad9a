"""A scriptable OpenAI-compatible chat-completions server for tests (never for production)."""
