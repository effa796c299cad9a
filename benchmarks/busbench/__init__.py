"""The throughput benchmark behind ``benchmarks/throughput.py``: the real stack (helpdesk, four
services as OS processes, a local Kafka broker) against the same service logic called in
sequence in one process, with loss and duplicate-ticket checks on every run."""
