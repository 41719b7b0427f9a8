"""``opsbook db status|lint|migrate|rls|restore``: the application's database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.app import subgroup
from opsbook.cli.options import EnvName, Json, SpecFile
from opsbook.wording import counted

db = subgroup("db", "The application's database: migrations, lint, snapshots, RLS audit.")

DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Apply inside one transaction, then roll it back.")
]


@db.command()
def status(env: EnvName, json: Json = False, file: SpecFile = None) -> None:
    """Applied vs pending migrations, gaps, duplicates, drift; exit 1 on an error-level problem."""
    from opsbook.console import print_json
    from opsbook.console.db import show_status
    from opsbook.db import get_status, target_for
    from opsbook.errors import CheckFailed
    from opsbook.spec.loader import load_spec

    result = get_status(target_for(load_spec(file), env))
    if json:
        print_json(result.to_dict())
    else:
        show_status(result)
    if not result.ok:
        raise CheckFailed("migration problems found (listed above)")


@db.command()
def lint(
    files: Annotated[
        list[Path] | None, typer.Argument(help="SQL files (default: every migration file).")
    ] = None,
    json: Json = False,
    file: SpecFile = None,
) -> None:
    """Dangerous statements in migrations; exit 1 on any finding."""
    from opsbook.console import print_json
    from opsbook.console.db import show_lint
    from opsbook.db.lint import lint_migrations
    from opsbook.errors import CheckFailed, SpecNotFound
    from opsbook.spec.loader import load_spec

    try:
        loaded = load_spec(file)
        root, config = loaded.root, loaded.spec.database
    except SpecNotFound:
        if not files:
            raise
        root, config = Path.cwd(), None  # explicit files need no opsbook.yaml
    report = lint_migrations(root, config, files)
    if json:
        print_json(report.to_dict())
    else:
        show_lint(report)
    if not report.ok:
        raise CheckFailed(f"{counted(len(report.findings), 'dangerous statement')} found")


@db.command()
def migrate(
    env: EnvName, dry_run: DryRun = False, json: Json = False, file: SpecFile = None
) -> None:
    """Snapshot, then apply pending migrations, each in its own transaction, under a lock."""
    from opsbook.console import print_json
    from opsbook.console.db import progress, show_migrate
    from opsbook.db import migrate as run_migrations
    from opsbook.db import target_for
    from opsbook.spec.loader import load_spec

    result = run_migrations(target_for(load_spec(file), env), dry_run=dry_run, log=progress)
    if json:
        print_json(result.to_dict())
    else:
        show_migrate(result)


@db.command()
def rls(env: EnvName, json: Json = False, file: SpecFile = None) -> None:
    """Row level security audit of the exposed schemas; exit 1 on findings."""
    from opsbook.console import print_json
    from opsbook.console.db import show_rls
    from opsbook.db import audit, target_for
    from opsbook.errors import CheckFailed
    from opsbook.spec.loader import load_spec

    report = audit(target_for(load_spec(file), env))
    if json:
        print_json(report.to_dict())
    else:
        show_rls(report)
    if not report.ok:
        raise CheckFailed(counted(len(report.findings), "row level security finding"))


@db.command()
def restore(
    env: EnvName,
    snapshot: Annotated[Path, typer.Argument(help="A .dump file printed by `db migrate`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the database is overwritten.")
    ] = False,
    file: SpecFile = None,
) -> None:
    """Restore a snapshot over the environment's database (needs --yes)."""
    from opsbook.console import info
    from opsbook.db import target_for
    from opsbook.db.snapshot import restore_snapshot
    from opsbook.errors import UsageError
    from opsbook.spec.loader import load_spec

    if not yes:
        raise UsageError(
            f"restoring {snapshot} overwrites the {env} database", hint="pass --yes to confirm"
        )
    restore_snapshot(target_for(load_spec(file), env), snapshot)
    info(f"restored {snapshot}")
