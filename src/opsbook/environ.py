"""The effective variables of one environment, and which of them are secret.

Precedence, lowest first (documented in docs/format.md):

1. the contract's ``default``;
2. the process environment, for names declared in the contract only;
3. the environment's ``env_file``;
4. the environment's ``vars``.

The process environment fills gaps but never overrides a file: a developer's shell holding a
local ``DATABASE_URL`` must not leak into a ``--env production`` run.

Secret values are every value of a variable the contract declares ``secret``, and every value
read from an env file whose name looks secret (:mod:`opsbook.secretnames`: KEY, TOKEN, SECRET,
PASSWORD, DSN, a URL with credentials...), and nothing else: ``PORT=8080`` in an env file is
configuration and is shown; ``vars`` are plain configuration, checked in.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values

from opsbook.errors import Problem, SpecError, UsageError
from opsbook.masking import MIN_DECLARED_SECRET as MIN
from opsbook.secretnames import is_secret
from opsbook.spec.loader import LoadedSpec
from opsbook.spec.models import Environment

Source = Literal["default", "process", "env_file", "vars"]


@dataclass
class Effective:
    """Variables of one environment with where each came from."""

    name: str
    environment: Environment
    values: dict[str, str] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)
    env_file: Path | None = None

    @property
    def secrets(self) -> list[str]:
        """Secret values, for masking."""
        return [self.values[n] for n in sorted(self.secret_names) if self.values.get(n)]

    def check_secret_lengths(self) -> None:
        """Refuse a secret too short to mask reliably, instead of leaving it unmasked."""
        short = [n for n in sorted(self.secret_names) if 0 < len(self.values.get(n, "")) < MIN]
        if short:
            where = f" (from {self.env_file.name})" if self.env_file else ""
            raise UsageError(
                f"secret {', '.join(short)}{where} is shorter than {MIN} characters,"
                " too short to be masked reliably in output",
                hint="use the real value; if it is not a secret, rename it or declare"
                " it without secret: true",
            )

    @property
    def vars(self) -> dict[str, str]:
        return {k: _text(v) for k, v in self.environment.vars.items()}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_env_file(path: Path, shown: str | None = None) -> dict[str, str]:
    """Parse a dotenv file (python-dotenv); variables without a value read as empty. A file
    that is not UTF-8 text, or holds a NUL byte (which no command can receive in its
    environment), is a SpecError at its line (``shown``: the name the error gives the file)."""
    from opsbook.utf8 import decode_file

    shown = shown or str(path)
    text = decode_file(path.read_bytes(), shown)
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        message = "holds a NUL byte, which no command can receive; remove it"
        raise SpecError([Problem(shown, line, "", message)])
    values = dotenv_values(stream=io.StringIO(text))
    return {k: (v if v is not None else "") for k, v in values.items()}


def get_environment(loaded: LoadedSpec, name: str) -> Environment:
    """The named environment, or a UsageError listing the known ones."""
    spec = loaded.spec
    if name not in spec.environments:
        known = ", ".join(spec.environments) or "none; add one under environments:"
        raise UsageError(f"unknown environment '{name}'", hint=f"known environments: {known}")
    return spec.environments[name]


def resolve(
    loaded: LoadedSpec, name: str, process_env: Mapping[str, str] | None = None
) -> Effective:
    """The effective variables of environment ``name``."""
    environment = get_environment(loaded, name)
    process = os.environ if process_env is None else process_env
    eff = Effective(name, environment)
    for var, decl in loaded.spec.env.items():
        if decl.default is not None:
            eff.values[var], eff.sources[var] = decl.default, "default"
        if var in process:
            eff.values[var], eff.sources[var] = process[var], "process"
        if decl.secret:
            eff.secret_names.add(var)
    if environment.env_file:
        path = (loaded.root / environment.env_file).resolve()
        eff.env_file = path
        if path.is_file():
            for var, value in read_env_file(path, environment.env_file).items():
                eff.values[var], eff.sources[var] = value, "env_file"
                if is_secret(var, value):
                    eff.secret_names.add(var)
    for var, raw in environment.vars.items():
        eff.values[var], eff.sources[var] = _text(raw), "vars"
        if not _declared_secret(loaded, var):
            eff.secret_names.discard(var)
    return eff


def _declared_secret(loaded: LoadedSpec, var: str) -> bool:
    decl = loaded.spec.env.get(var)
    return bool(decl and decl.secret)
