"""The PostgreSQL store (``postgresql://…`` URLs): several collectors on one database."""

from convtrack.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
