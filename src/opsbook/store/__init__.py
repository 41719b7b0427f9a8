"""opsbook's own state: runs, steps, attempts, approvals and the hash-chained event log.

All SQL of the store lives in this package. SQLite by default; PostgreSQL by URL.
"""

from opsbook.store.database import URL_ENV, Store, default_url, open_store

__all__ = ["URL_ENV", "Store", "default_url", "open_store"]
