"""The store stage: durable, idempotent storage behind one interface chosen by URL."""

from convtrack.store.base import EventStore, KeyRecord, QueryResult, open_store

__all__ = ["EventStore", "KeyRecord", "QueryResult", "open_store"]
