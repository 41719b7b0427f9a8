"""Which database to talk to, and the one boundary where psycopg errors become DatabaseError.

The URL in ``database.url`` is an expression (``${{ env.DATABASE_URL }}``) rendered for one
environment. It is a secret: it, its password, and every secret of the environment are masked in
every message, including psycopg's (which can quote the connection string).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from opsbook import environ
from opsbook.errors import DatabaseError, UsageError
from opsbook.masking import Masker
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Database, Spec


@dataclass
class Target:
    """A resolved ``database:`` section: the rendered URL, its settings, and a masker."""

    url: str
    config: Database
    root: Path
    masker: Masker

    @property
    def migrations_dir(self) -> Path:
        return (self.root / self.config.migrations).resolve()

    @property
    def snapshots_dir(self) -> Path:
        return (self.root / self.config.snapshots).resolve()

    def mask(self, text: str) -> str:
        return self.masker(text)


def database_config(spec: Spec, file: str | None = None) -> Database:
    """The spec's ``database:`` section, or a UsageError saying how to add one."""
    if spec.database is None:
        raise UsageError(
            "no database: section",
            file=file,
            hint="add `database: {url: ${{ env.DATABASE_URL }}, migrations: supabase/migrations}`",
        )
    return spec.database


def url_secrets(url: str) -> list[str]:
    """The URL and its password, both masked wherever they appear."""
    secrets = [url]
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        password = None
    if password:
        secrets.append(str(password))
    return secrets


def make_target(
    spec: Spec,
    root: Path,
    render: Callable[[str], str],
    secrets: Iterable[str] = (),
    *,
    file: str | None = None,
) -> Target:
    """A Target from a spec and a renderer (the CLI's or a running step's)."""
    config = database_config(spec, file)
    masker = Masker(secrets)
    url = render(config.url).strip()
    if not url:
        raise UsageError(
            f"database.url {config.url!r} renders to an empty value",
            file=file,
            hint="set the variable it reads (e.g. DATABASE_URL in the environment's env_file)",
        )
    masker.add(url_secrets(url))
    return Target(url, config, root, masker)


def target_for(
    loaded: LoadedSpec, env_name: str, process_env: dict[str, str] | None = None
) -> Target:
    """The Target of environment ``env_name``, rendering ``database.url`` against it."""
    from opsbook.plan import expression_context
    from opsbook.spec.expressions import render

    effective = environ.resolve(loaded, env_name, process_env)
    context = expression_context(loaded, effective, params={})
    return make_target(
        loaded.spec,
        loaded.root,
        lambda text: render(text, context),
        effective.secrets,
        file=loaded.display,
    )


def describe_error(err: psycopg.Error) -> str:
    """The server's message with its detail and hint, on one line."""
    diag = err.diag
    text = (diag.message_primary or str(err)).strip()
    if diag.message_detail:
        text += f" ({diag.message_detail.strip()})"
    if diag.message_hint:
        text += f"; server hint: {diag.message_hint.strip()}"
    return text


@contextmanager
def connect(
    target: Target, *, autocommit: bool = True
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to the target; connection failures raise DatabaseError with the URL masked."""
    try:
        conn = psycopg.connect(target.url, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as err:
        raise DatabaseError(
            f"cannot connect to the database: {target.mask(' '.join(str(err).split()))}",
            hint="check database.url and that the server is reachable",
        ) from None
    try:
        yield conn
    except psycopg.Error as err:
        raise DatabaseError(f"database error: {target.mask(describe_error(err))}") from None
    finally:
        conn.close()
