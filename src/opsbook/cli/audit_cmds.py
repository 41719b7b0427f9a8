"""``opsbook runs``, ``show``, ``releases`` and ``verify-log``: reading the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.app import app, subgroup
from opsbook.cli.common import project_store
from opsbook.cli.options import Json, SpecFile, StoreUrl
from opsbook.wording import counted

Limit = Annotated[int, typer.Option("--limit", "-n", help="At most this many rows.")]


@app.command()
def runs(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    runbook: Annotated[str | None, typer.Option("--runbook", help="Only this runbook.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs in this state.")] = None,
    limit: Limit = 20,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """List runs, newest first."""
    from opsbook.console import print_json
    from opsbook.console.audit import show_runs
    from opsbook.history import list_runs

    rows = list_runs(
        project_store(store, file), environment=env, runbook=runbook, status=status, limit=limit
    )
    if json:
        print_json([vars(r) for r in rows])
    else:
        show_runs(rows)


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of it, or 'last'.")],
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Everything recorded about one run: steps, attempts, outputs, approvals, events."""
    from opsbook.console import print_json
    from opsbook.console.audit import show_detail
    from opsbook.history import show_run

    detail = show_run(project_store(store, file), run)
    if json:
        print_json(detail)
    else:
        show_detail(detail)


@app.command()
def releases(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    limit: Limit = 20,
    json: Json = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """The release log: when, runbook, version, git SHA, operator, approvals, outcome, duration."""
    from opsbook.console import print_json
    from opsbook.console.audit import show_releases
    from opsbook.history import release_log

    rows = release_log(project_store(store, file), environment=env, limit=limit)
    if json:
        print_json([{k: v for k, v in vars(r).items() if k != "spec_text"} for r in rows])
    else:
        show_releases(rows)


AnchorFile = Annotated[
    Path | None,
    typer.Option(
        "--anchor",
        help="Append-only file of chain heads kept outside the store: check it, then append.",
    ),
]


@app.command("verify-log")
def verify_log(
    anchor: AnchorFile = None, json: Json = False, file: SpecFile = None, store: StoreUrl = None
) -> None:
    """Check the event chain, every run/approval/attempt row against its events, and anchors."""
    from opsbook.console import print_json
    from opsbook.console.audit import show_chain
    from opsbook.errors import CheckFailed
    from opsbook.history import verify_log as verify

    report = verify(project_store(store, file), anchor)
    if json:
        print_json({"ok": report.ok, "checked": report.checked, "problems": report.problems})
    else:
        show_chain(report)
    if not report.ok:
        raise CheckFailed(f"event log tampered: {counted(len(report.problems), 'problem')}")


audit = subgroup("audit", "The audit trail's anchors outside the store.")


@audit.command("anchor")
def audit_anchor(
    path: Annotated[Path, typer.Argument(help="The append-only anchor file (commit it).")],
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Append the event chain's head to an anchor file, for verify-log --anchor to check."""
    from opsbook.console.audit import show_anchor
    from opsbook.history import anchor

    seq, digest = anchor(project_store(store, file), path)
    show_anchor(path, seq, digest)
