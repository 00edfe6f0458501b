"""The enrich stage: pure functions over canonical events (no I/O)."""
