"""The web stage: operator API, health checks and pages served beside the collector."""
