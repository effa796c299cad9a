"""Development tools for supportbus: what the CLI, the tests and the benchmarks need and no running
service does (local servers, the process stack, the topic reader, AsyncAPI, test helpers)."""
