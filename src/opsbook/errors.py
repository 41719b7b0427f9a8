"""The opsbook exception tree.

Every error opsbook raises for a user-facing reason is an :class:`OpsbookError`. Each class has a
stable ``code``, the process ``exit_code`` the CLI uses, and the ``http_status`` a web layer uses.
Context is keyword-only (``file=``, ``line=``, ``run=``, ``step=``) so messages can name what they
are about. Driver errors (SQLAlchemy, httpx, pydantic, YAML) are translated at one boundary each
and never escape as tracebacks.

    OpsbookError                    exit 1   base class; never raised directly
    ├── UsageError                  exit 2   bad command-line input (unknown runbook, bad -p)
    ├── SpecError                   exit 2   opsbook.yaml is invalid; carries a list of Problems
    │   └── SpecNotFound            exit 2   no opsbook.yaml in this directory or its parents
    ├── ParamError                  exit 2   a runbook parameter is missing or not declared
    ├── ExpressionError             exit 2   a ${{ }} expression is malformed or names the unknown
    ├── StoreError                  exit 1   the state store cannot be opened or migrated
    │   └── StoreVersionError       exit 2   the store was written by a newer opsbook
    ├── RunNotFound                 exit 2   no run with that id
    ├── StepNotFound                exit 2   no step with that id in the run
    ├── InvalidState                exit 2   the run or step is not in a state that allows this
    │   └── StateMoved              exit 2   the run or step left the expected state meanwhile
    ├── EnvironmentLocked           exit 4   another run holds the environment
    ├── RunBusy                     exit 4   a live process executes the run (who, since when)
    ├── LeaseLost                   exit 1   this process lost the lease on a run (fencing)
    ├── RunFailed                   exit 1   a run ended failed, rolled back or needs attention
    ├── WaitingForHuman             exit 3   a run paused at a gate with nobody to answer
    ├── DatabaseError               exit 1   the app's database (database:) is unreachable/refused
    │   └── MigrationFailed         exit 1   a migration failed: file, statement, server message
    ├── CheckFailed                 exit 1   a check command found problems
    ├── Unauthenticated             exit 2   no, unknown, revoked or expired token/session/link
    ├── Forbidden                   exit 2   authenticated, but the role or rule refuses this
    └── FlagNotFound                exit 2   a flag key is not declared under flags:
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file.

    >>> str(Problem("opsbook.yaml", 14, "steps[3].needs", "unknown step 'biuld'"))
    "opsbook.yaml:14: steps[3].needs: unknown step 'biuld'"
    """

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


class OpsbookError(Exception):
    """Base class. ``str(err)`` is the whole user-facing message."""

    code = "error"
    exit_code = 1
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        run: str | None = None,
        step: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.run = run
        self.step = step
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        prefix = ""
        if self.file is not None:
            prefix = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        elif self.run is not None:
            prefix = f"run {self.run}" + (f" step {self.step}" if self.step else "") + ": "
        text = prefix + self.message
        if self.hint:
            text += f"; {self.hint}"
        return text


class UsageError(OpsbookError):
    """Raised for command-line input that cannot be acted on."""

    code = "usage"
    exit_code = 2
    http_status = 400


class SpecError(OpsbookError):
    """Raised when opsbook.yaml is invalid; ``problems`` holds every problem, in file order."""

    code = "invalid_spec"
    exit_code = 2
    http_status = 422

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.path))
        first = self.problems[0] if self.problems else None
        super().__init__(
            "\n".join(str(p) for p in self.problems) or "invalid opsbook.yaml",
            file=None,
            line=first.line if first else None,
        )

    def render(self) -> str:
        return self.message


class SpecNotFound(SpecError):
    """Raised when no opsbook.yaml is found in the working directory or its parents."""

    code = "spec_not_found"

    def __init__(self, start: str) -> None:
        self.problems = []
        OpsbookError.__init__(
            self,
            f"no opsbook.yaml in {start} or its parents; "
            "create one with `opsbook init` or `opsbook import RUNBOOK.md`, or pass -f FILE",
        )


class ParamError(OpsbookError):
    """Raised when a runbook parameter is missing, undeclared or malformed."""

    code = "bad_param"
    exit_code = 2
    http_status = 400


class ExpressionError(OpsbookError):
    """Raised when a ${{ }} expression cannot be parsed or evaluated."""

    code = "bad_expression"
    exit_code = 2
    http_status = 422


class StoreError(OpsbookError):
    """Raised when the state store cannot be opened, migrated or written."""

    code = "store"
    exit_code = 1
    http_status = 503


class StoreVersionError(StoreError):
    """Raised when the store's schema is newer than this opsbook understands."""

    code = "store_version"
    exit_code = 2


class RunNotFound(OpsbookError):
    """Raised when a run id names no run."""

    code = "run_not_found"
    exit_code = 2
    http_status = 404


class StepNotFound(OpsbookError):
    """Raised when a step id names no step of the run."""

    code = "step_not_found"
    exit_code = 2
    http_status = 404


class InvalidState(OpsbookError):
    """Raised when a run or step is not in a state that allows the requested action."""

    code = "invalid_state"
    exit_code = 2
    http_status = 409


class EnvironmentLocked(OpsbookError):
    """Raised when another active run holds the environment."""

    code = "environment_locked"
    exit_code = 4
    http_status = 423


class LeaseLost(OpsbookError):
    """Raised inside an executor whose lease on a run was taken over (its writes are fenced)."""

    code = "lease_lost"
    exit_code = 1
    http_status = 409


class RunFailed(OpsbookError):
    """Raised when a run ends failed, rolled back, aborted or in needs_attention."""

    code = "run_failed"
    exit_code = 1
    http_status = 500


class WaitingForHuman(OpsbookError):
    """Raised when a run pauses at a gate and this process cannot ask anyone."""

    code = "waiting_for_human"
    exit_code = 3
    http_status = 202


class CheckFailed(OpsbookError):
    """Raised when a check command found problems (the findings were already reported)."""

    code = "check_failed"
    exit_code = 1
    http_status = 200


class DatabaseError(OpsbookError):
    """Raised when the application's database (``database:``) cannot be used as asked."""

    code = "database"
    exit_code = 1
    http_status = 503


class MigrationFailed(DatabaseError):
    """Raised when a migration fails; names the file, the failing statement and the server's
    message. Earlier migrations of the same run stay applied (each has its own transaction)."""

    code = "migration_failed"


class Unauthenticated(OpsbookError):
    """Raised when a bearer token, session or signed link is missing, unknown, revoked or
    expired."""

    code = "unauthenticated"
    exit_code = 2
    http_status = 401


class Forbidden(OpsbookError):
    """Raised when the caller is known but its role (or a rule such as distinct approvers)
    does not allow the action."""

    code = "forbidden"
    exit_code = 2
    http_status = 403


class FlagNotFound(OpsbookError):
    """Raised when a flag key is not declared under ``flags:`` of opsbook.yaml."""

    code = "flag_not_found"
    exit_code = 2
    http_status = 404


class StateMoved(InvalidState):
    """Raised when a guarded status write finds the run or step no longer in the state it
    expected to leave (another process changed it first, e.g. an abort)."""

    code = "state_moved"

    def __init__(
        self,
        message: str,
        *,
        current: str | None = None,
        run: str | None = None,
        step: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.current = current
        """The state found instead (None when the row is gone)."""
        super().__init__(message, run=run, step=step, hint=hint)


class RunBusy(OpsbookError):
    """Raised when a live process (named, with the time it took the run) executes the run."""

    code = "run_busy"
    exit_code = 4
    http_status = 423


class RunInterrupted(RunFailed):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) stopped a run; exit 128 + the signal's number."""

    code = "run_interrupted"

    def __init__(self, message: str, *, run: str | None = None, exit_code: int = 130) -> None:
        super().__init__(message, run=run)
        self.exit_code = exit_code
