"""The collect stage: wire protocols → canonical events; auth, limits, cookies. Nothing slow."""
