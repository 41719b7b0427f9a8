"""The audit trail as people read it: runs, one run in full, the release log, chain checks."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from opsbook.errors import SpecError, UsageError
from opsbook.plan import locks_environment
from opsbook.spec.loader import validate_text
from opsbook.store import Store
from opsbook.store import audit as queries
from opsbook.store.events import ChainReport

RUN_STATUSES = (
    "pending",
    "running",
    "waiting",
    "needs_attention",
    "aborting",
    "rolling_back",
    "succeeded",
    "failed",
    "rolled_back",
    "rollback_failed",
    "aborted",
    "interrupted",
)
"""Every state a run can be in (the engine's RunStatus names them once it lands)."""


def list_runs(
    store: Store, *, status: str | None = None, limit: int = 20, **filters: Any
) -> list[queries.RunSummary]:
    """Runs, newest first; a state that does not exist or a limit under 1 is a UsageError,
    so a typo never reads as "no runs yet"."""
    if status is not None and status not in RUN_STATUSES:
        raise UsageError(
            f"--status {status!r} is not a run state",
            hint="one of: " + ", ".join(RUN_STATUSES),
        )
    if limit < 1:
        raise UsageError(f"--limit {limit} lists nothing", hint="give 1 or more")
    with store.begin() as conn:
        return queries.list_runs(conn, status=status, limit=limit, **filters)


def show_run(store: Store, run_id: str) -> dict[str, Any]:
    with store.begin() as conn:
        return queries.run_detail(conn, run_id)


@lru_cache(maxsize=64)
def _changes_things(spec_text: str, runbook: str) -> bool:
    try:
        loaded = validate_text(spec_text, "opsbook.yaml")
    except SpecError:
        return True  # a run was started from it, so it was valid then; count it, never hide it
    book = loaded.spec.runbooks.get(runbook)
    return True if book is None else locks_environment(loaded, book)


def release_log(
    store: Store, *, environment: str | None = None, limit: int = 50
) -> list[queries.Release]:
    """Runs of runbooks that change things (releases, migrations, rollbacks), newest first."""
    found: list[queries.Release] = []
    page, offset = max(limit, 50), 0
    # Read-only runs (diagnostics) are interleaved with releases: read pages until enough.
    while len(found) < limit:
        with store.begin() as conn:
            rows = queries.releases(conn, environment=environment, limit=page, offset=offset)
        found += [r for r in rows if _changes_things(r.spec_text, r.runbook)]
        if len(rows) < page:
            break
        offset += page
    return found[:limit]


def verify_log(store: Store, anchor: Path | None = None) -> ChainReport:
    """The store's checks, then every signed answer against its environment's allowed_signers."""
    with store.begin() as conn:
        report = queries.verify_log(conn, anchor)
        answers = queries.signed_answers(conn)
    for run, row in answers:
        problem = _signature_problem(run, row)
        if problem:
            report.problems.append(f"approval {row.id} (run {run.id}): {problem}")
    return report


def _signature_problem(run: Any, row: Any) -> str | None:
    from opsbook.approvals.policy import recorded_problem

    try:
        loaded = validate_text(run.spec_text, "opsbook.yaml", Path(run.spec_path))
    except SpecError:
        return None  # the file it ran is no longer readable here: nothing to verify against
    return recorded_problem(loaded, run, row)


def anchor(store: Store, path: Path) -> tuple[int, str]:
    """Append the chain head to an anchor file; the anchored (sequence number, hash)."""
    with store.begin() as conn:
        written = queries.write_anchor(conn, path)
    return written.seq, written.hash
