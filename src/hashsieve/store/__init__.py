"""The store: hash sets, cases and scan results behind SQLAlchemy (SQLite now, PostgreSQL later)."""

from hashsieve.store.store import Store

__all__ = ["Store"]
