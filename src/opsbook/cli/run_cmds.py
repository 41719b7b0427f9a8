"""``opsbook run``, ``approve``, ``resume``, ``abort``, ``resolve`` and ``worker``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsbook.cli.app import app
from opsbook.cli.common import project_store
from opsbook.cli.options import EnvName, JsonLines, Params, SpecFile, StoreUrl

Yes = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Approve gates of unprotected environments without asking."),
]


@app.command()
def run(
    runbook: str,
    env: EnvName,
    param: Params = None,
    yes: Yes = False,
    json: JsonLines = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Run a runbook durably: exit 0 done, 1 failed, 3 waiting for a human, 4 env locked."""
    from opsbook.console.run import display_for
    from opsbook.engine import raise_for_outcome, start_run
    from opsbook.plan import make_plan, parse_param_args
    from opsbook.spec.loader import load_spec

    loaded = load_spec(file)
    plan = make_plan(loaded, runbook, env, parse_param_args(param or []))
    if not json and plan.protected:
        # A protected environment shows what will happen before anything does (DESIGN.md).
        from opsbook.console.plan import show_plan

        show_plan(plan)
    with display_for(json) as display:
        outcome = start_run(
            project_store(store, root=loaded.root),
            plan,
            yes=yes,
            ask=display.ask,
            observer=display.observe,
        )
    raise_for_outcome(outcome)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN")],
    yes: Yes = False,
    json: JsonLines = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Continue a run nobody is executing (interrupted, approved, resolved)."""
    from opsbook.console.run import display_for
    from opsbook.engine import raise_for_outcome, resume_run

    with display_for(json) as display:
        outcome = resume_run(
            project_store(store, file), run_id, yes=yes, ask=display.ask, observer=display.observe
        )
    raise_for_outcome(outcome)


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN")],
    step: str,
    note: Annotated[str, typer.Option("--note", help="Why; stored with the decision.")] = "",
    reject: Annotated[bool, typer.Option("--reject", help="Reject the gate instead.")] = False,
    sign_with: Annotated[
        Path | None,
        typer.Option("--sign-with", help="SSH private key to sign the answer (approvers:)."),
    ] = None,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Answer a gate of a paused run; then `opsbook resume RUN` (or a worker) continues it."""
    from opsbook.console.run import show_decision
    from opsbook.engine import approve as approve_gate
    from opsbook.engine.identity import operator

    show_decision(
        approve_gate(
            project_store(store, file),
            run_id,
            step,
            operator=operator(Path.cwd()),
            note=note,
            reject=reject,
            sign_with=sign_with,
        )
    )


@app.command()
def abort(
    run_id: Annotated[str, typer.Argument(metavar="RUN")],
    json: JsonLines = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Stop a run cleanly and roll back its completed steps (never past an irreversible one)."""
    from opsbook.console.run import display_for
    from opsbook.engine import abort as abort_run
    from opsbook.engine import raise_for_abort
    from opsbook.engine.identity import operator

    with display_for(json) as display:
        outcome = abort_run(
            project_store(store, file),
            run_id,
            operator=operator(Path.cwd()),
            observer=display.observe,
        )
    display.outcome(outcome)
    raise_for_abort(outcome)


@app.command()
def resolve(
    run_id: Annotated[str, typer.Argument(metavar="RUN")],
    step: str,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run the step again.")] = False,
    skip: Annotated[bool, typer.Option("--skip", help="Skip it; dependents go on.")] = False,
    mark_done: Annotated[
        bool, typer.Option("--mark-done", help="Count it done (you checked it finished).")
    ] = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Decide about a step a crash interrupted (run in needs_attention)."""
    from opsbook.console import info
    from opsbook.engine import resolve as resolve_step
    from opsbook.engine.identity import operator
    from opsbook.errors import UsageError

    chosen = [
        name for name, on in (("rerun", rerun), ("skip", skip), ("mark-done", mark_done)) if on
    ]
    if len(chosen) != 1:
        raise UsageError("choose exactly one of --rerun, --skip, --mark-done")
    resolve_step(project_store(store, file), run_id, step, chosen[0], operator=operator(Path.cwd()))
    info(f"run {run_id} step {step}: {chosen[0]}; continue with `opsbook resume {run_id}`")


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Stop when no run is left to take.")] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between looks.")] = 2.0,
    json: JsonLines = False,
    file: SpecFile = None,
    store: StoreUrl = None,
) -> None:
    """Take over runs whose lease expired, or that were approved or resolved, and continue them."""
    from opsbook.console.run import display_for
    from opsbook.engine import work

    with display_for(json, interactive=False) as display:
        work(project_store(store, file), once=once, poll=poll, observer=display.observe)
