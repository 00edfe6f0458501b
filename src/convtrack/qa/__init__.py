"""Tracking QA: health figures, volume anomalies, alerts and modeled conversions (docs/qa.md).

Every figure is portable SQL run through ``EventStore.query`` (DuckDB and PostgreSQL read it
the same way); the little arithmetic on top (medians, intervals) is plain Python.
"""
