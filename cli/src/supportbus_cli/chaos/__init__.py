"""The chaos suite: faults injected into the real stack under load (``supportbus chaos``)."""
