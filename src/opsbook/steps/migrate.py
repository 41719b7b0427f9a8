"""``migrate``: apply the pending database migrations, with the same code as ``opsbook db migrate``.

    - id: migrate
      migrate: {}                 # or {dry_run: true}

It reads ``database:`` of opsbook.yaml, renders ``database.url`` against the run (so
``${{ env.DATABASE_URL }}`` is the environment's value), snapshots the database with pg_dump,
and applies each pending file in its own transaction. Outputs: ``snapshot`` (the dump's path),
``applied`` and ``pending`` (counts). The attempt's data records the snapshot and the files.

Irreversible: at run time when a migration it applied was classified irreversible by lint; in
``opsbook plan``, which never connects to the database, when any file of the migrations folder is
(every file might be pending). ``database.restore_on_rollback: true`` makes the step reversible:
its rollback restores the snapshot (see :meth:`MigrateStep.rollback`).

Not safe to rerun blindly after a crash (the engine asks a human), but ``resolve --rerun`` is
safe: each migration is recorded in the database's history inside its own transaction, so a
rerun applies exactly the files that were not committed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from opsbook.steps.base import StepContext, StepKind, StepResult
from opsbook.wording import counted

if TYPE_CHECKING:
    from opsbook.spec.models import Runbook, Spec, Step


class MigrateConfig(BaseModel):
    """The ``migrate:`` value of a step."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False


class MigrateStep(StepKind):
    name = "migrate"
    config_type = MigrateConfig | None
    changes_things = True
    safe_to_rerun = False

    def templates(self, config: Any) -> list[str]:
        return []

    def validate(self, config: Any, spec: Spec, runbook: Runbook, step: Step) -> list[str]:
        if spec.database is None:
            return [
                "a migrate step needs a database: section; add `database: {url: "
                "${{ env.DATABASE_URL }}, migrations: supabase/migrations}`"
            ]
        return []

    def describe(self, config: Any, render: Callable[[str], str]) -> str:
        dry = config is not None and config.dry_run
        return "apply pending database migrations" + (" (dry run, rolled back)" if dry else "")

    def is_irreversible(self, config: Any, step: Step, root: Path, spec: Spec) -> bool:
        if step.irreversible:
            return True
        if spec.database is None or spec.database.restore_on_rollback:
            return False
        if config is not None and config.dry_run:
            return False
        from opsbook.db.files import discover
        from opsbook.db.lint import IRREVERSIBLE, classify
        from opsbook.errors import OpsbookError

        db = spec.database
        try:
            found = discover((root / db.migrations).resolve(), db.naming)
        except OpsbookError:
            return False  # a missing folder fails the step itself, with its own message
        return any(classify(f.path, db.schemas) == IRREVERSIBLE for f in found.files)

    def execute(self, ctx: StepContext, config: Any) -> StepResult:
        from opsbook.db.migrate import MigrateResult, migrate
        from opsbook.db.target import make_target
        from opsbook.errors import OpsbookError

        dry_run = config is not None and config.dry_run
        result = MigrateResult(dry_run)
        reversible = ctx.spec.database is not None and ctx.spec.database.restore_on_rollback
        try:
            target = make_target(ctx.spec, ctx.root, ctx.render, ctx.secrets)
            migrate(
                target,
                dry_run=dry_run,
                operator=ctx.operator,
                run_id=ctx.run_id,
                log=ctx.log,
                result=result,
            )
            ok, message = True, _summary(result)
        except OpsbookError as err:
            ok, message = False, str(err)
            ctx.log(message)
        applied = [a.filename for a in result.applied] if not dry_run else []
        irreversible = not reversible and any(name in result.irreversible for name in applied)
        outputs = {"applied": str(len(applied)), "pending": str(len(result.pending))}
        if result.snapshot:
            outputs["snapshot"] = result.snapshot
        return StepResult(
            ok=ok,
            outputs=outputs,
            message=message,
            irreversible=irreversible,
            data={"snapshot": result.snapshot, **result.to_dict()},
        )

    def can_roll_back(self, config: Any, spec: Spec) -> bool:
        return spec.database is not None and spec.database.restore_on_rollback

    def rollback(self, ctx: StepContext, config: Any, data: dict[str, Any]) -> StepResult:
        """Restore the snapshot the step took, when ``database.restore_on_rollback`` is true."""
        from opsbook.db.snapshot import restore_snapshot
        from opsbook.db.target import make_target
        from opsbook.errors import OpsbookError

        db = ctx.spec.database
        if db is None or not db.restore_on_rollback:
            return StepResult(
                ok=False,
                message="no rollback: set database.restore_on_rollback: true to restore the "
                "snapshot, or roll forward with a new migration",
            )
        snapshot = data.get("snapshot")
        if not snapshot:
            return StepResult(ok=True, message="nothing to restore: no migration was applied")
        try:
            restore_snapshot(
                make_target(ctx.spec, ctx.root, ctx.render, ctx.secrets), Path(snapshot)
            )
        except OpsbookError as err:
            return StepResult(ok=False, message=str(err))
        ctx.log(f"restored snapshot {snapshot}")
        return StepResult(ok=True, message=f"restored snapshot {snapshot}")


def _summary(result: Any) -> str:
    if not result.pending:
        return "database is up to date"
    verb = "would apply" if result.dry_run else "applied"
    text = f"{verb} {counted(len(result.applied), 'migration')}"
    if result.snapshot:
        text += f"; snapshot {result.snapshot}"
    return text
