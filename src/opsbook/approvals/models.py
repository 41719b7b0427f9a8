"""``approvers:`` of an environment (its pydantic model; one field line in ``Environment``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Approvers(BaseModel):
    """Rules for answering this environment's gates.

    ``allowed_signers`` names a file in the format git uses for signed commits
    (``PRINCIPAL KEYTYPE KEY`` per line); every approval must then be signed with one of those
    keys (``opsbook approve --sign-with KEY``), and the approver is the principal of the key, not
    whatever ``OPSBOOK_OPERATOR`` says. ``distinct: true`` refuses the run's own operator.
    """

    model_config = ConfigDict(extra="forbid")

    allowed_signers: str | None = None
    distinct: bool = False
