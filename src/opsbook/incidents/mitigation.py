"""Mitigating an incident, optionally by running a linked runbook (its gates still ask)."""

from __future__ import annotations

import datetime as dt

from opsbook.errors import UsageError
from opsbook.incidents import service
from opsbook.spec.loader import LoadedSpec
from opsbook.store import Store


def mitigate_incident(
    store: Store,
    loaded: LoadedSpec,
    ref: str,
    *,
    runbook: str | None,
    env: str | None,
    note: str | None,
    now: dt.datetime,
    actor: str,
) -> service.Incident:
    """Run ``runbook`` in ``env`` (when given) and record the mitigation with the run's id.

    A run that stops at a gate or fails leaves the incident as it was and raises, so nobody
    records a mitigation that did not happen.
    """
    spec = loaded.spec
    incident = service.get(store, spec.project, ref)  # a bad ref fails before anything runs
    run_id = None
    if runbook is not None:
        if env is None:
            raise UsageError("--runbook needs --env", hint="name the environment to run it in")
        from opsbook.engine.lifecycle import raise_for_outcome, start_run
        from opsbook.plan import make_plan

        outcome = start_run(store, make_plan(loaded, runbook, env, {}))
        raise_for_outcome(outcome)
        run_id = outcome.run_id
    return service.mitigate(
        store, spec.project, incident.ref, now=now, actor=actor, note=note, run_id=run_id
    )
