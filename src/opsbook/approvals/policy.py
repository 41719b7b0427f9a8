"""One check every way of answering a gate goes through (CLI, ``confirm:``, the web API).

:func:`check` applies the environment's ``approvers:`` to an answer before it is recorded;
:func:`recorded_problem` re-checks a recorded answer before ``resume`` acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsbook.approvals.models import Approvers
from opsbook.approvals.signing import Statement, sign, signer
from opsbook.errors import Forbidden
from opsbook.spec.loader import LoadedSpec

HUMAN, AUTO, SIGNED = "human", "yes", "ssh"


@dataclass(frozen=True)
class Answer:
    """Who answered a gate, how (human, yes = ``--yes`` auto-approval, ssh = signed)."""

    operator: str
    via: str = HUMAN
    signature: str | None = None


def policy(loaded: LoadedSpec, environment: str) -> Approvers | None:
    env = loaded.spec.environments.get(environment)
    return env.approvers if env is not None else None


def _signers(loaded: LoadedSpec, rules: Approvers) -> Path:
    assert rules.allowed_signers is not None
    return (loaded.root / rules.allowed_signers).resolve()


def check(
    loaded: LoadedSpec,
    run: Any,
    statement: Statement,
    operator: str,
    *,
    sign_with: Path | None = None,
    signature: str | None = None,
) -> Answer:
    """The answer to record, or Forbidden when the environment's ``approvers:`` refuse it.

    With ``allowed_signers`` the approver is the principal whose key signed the statement
    (``sign_with`` signs it here; ``signature`` is one made elsewhere), whatever ``operator``
    says. With ``distinct`` the run's own operator is refused.
    """
    rules = policy(loaded, run.environment)
    if rules is None:
        return Answer(operator)
    answer = Answer(operator)
    if rules.allowed_signers:
        if signature is None and sign_with is None:
            raise Forbidden(
                f"environment {run.environment} takes signed answers only",
                run=run.id,
                hint=f"answer with `opsbook approve {run.id} {statement.step_id}"
                " --sign-with ~/.ssh/id_ed25519` using a key listed in"
                f" {rules.allowed_signers}",
            )
        if signature is None:
            assert sign_with is not None
            signature = sign(statement, sign_with)
        principal = signer(statement, signature, _signers(loaded, rules))
        if principal is None:
            raise Forbidden(
                f"the signature is not by a key listed in {rules.allowed_signers}",
                run=run.id,
                hint="sign with your own key, listed in allowed_signers under your name",
            )
        answer = Answer(principal, SIGNED, signature)
    if rules.distinct and answer.operator == run.operator:
        raise Forbidden(
            f"{answer.operator} started this run and environment {run.environment} requires"
            " a different approver (approvers.distinct)",
            run=run.id,
            hint="ask a colleague to approve",
        )
    return answer


def recorded_problem(loaded: LoadedSpec, run: Any, row: Any) -> str | None:
    """Why a recorded answer must not be acted on (a missing or wrong signature), or None."""
    rules = policy(loaded, run.environment)
    if rules is None:
        return None
    if rules.distinct and row.operator == run.operator:
        return f"{row.operator} started the run and cannot answer its gates (approvers.distinct)"
    if rules.allowed_signers:
        statement = Statement(
            loaded.spec.project, run.id, row.step_id, row.decision, row.note or ""
        )
        if not row.signature or signer(statement, row.signature, _signers(loaded, rules)) != (
            row.operator
        ):
            return (
                f"the answer to gate {row.step_id} by {row.operator!r} has no valid signature"
                f" of a key in {rules.allowed_signers}"
            )
    return None
