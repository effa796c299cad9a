"""supportbus runtime: the mechanisms every service shares."""
