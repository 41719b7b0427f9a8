"""What several commands need besides options: finding the project's store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsbook.store import Store

_opened: list[Store] = []
"""Stores this command opened; :func:`close_stores` closes them when the command ends."""


def project_store(url: str | None, file: Path | None = None, root: Path | None = None) -> Store:
    """The store: ``--store``/$OPSBOOK_DATABASE_URL, else SQLite beside the project's opsbook.yaml.

    Without either, the project is found like git finds .git (or named with -f); outside any
    project this raises SpecNotFound rather than creating an empty store in a random directory.
    """
    from opsbook.store import open_store  # SQLAlchemy loads only for commands that use a store

    if url:
        store = open_store(url)
    else:
        if root is None:
            from opsbook.spec.loader import find_spec

            spec_path = file if file is not None else find_spec()
            root = spec_path if spec_path.is_dir() else spec_path.parent
        store = open_store(root=root.resolve())
    _opened.append(store)
    return store


def close_stores() -> None:
    """Close the stores the command opened (their pooled connections, a PostgreSQL server's
    sessions), whether it succeeded or failed: a command run in-process (tests, an embedding
    program) leaves no connection to the garbage collector."""
    while _opened:
        _opened.pop().close()
