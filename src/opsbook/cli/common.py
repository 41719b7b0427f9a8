"""What several commands need besides options: finding the project's store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsbook.store import Store


def project_store(url: str | None, file: Path | None = None, root: Path | None = None) -> Store:
    """The store: ``--store``/$OPSBOOK_DATABASE_URL, else SQLite beside the project's opsbook.yaml.

    Without either, the project is found like git finds .git (or named with -f); outside any
    project this raises SpecNotFound rather than creating an empty store in a random directory.
    """
    from opsbook.store import open_store  # SQLAlchemy loads only for commands that use a store

    if url:
        return open_store(url)
    if root is None:
        from opsbook.spec.loader import find_spec

        spec_path = file if file is not None else find_spec()
        root = spec_path if spec_path.is_dir() else spec_path.parent
    return open_store(root=root.resolve())
