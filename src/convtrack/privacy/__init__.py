"""Rights and retention: erase or export everything held about one person, purge old rows and
expire raw IPs (docs/privacy.md). Orchestration only: the store does the work through its
``EventStore`` methods."""
