"""The ``command`` check type: a shell command's exit code, an output pattern, a number compared.

The command runs with ``sh -c`` in the project directory and the environment's variables, in its
own process group, killed as a group when it overruns the check's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator

from opsbook.checks.base import CheckConfig, CheckContext, CheckResult, CheckType
from opsbook.checks.compare import Comparison, compare, first_number
from opsbook.spec.models import compile_pattern

OUTPUT_LIMIT = 64 * 1024


class CommandExpect(CheckConfig):
    exit: int = 0
    output: str | None = None
    """A regular expression searched in the output (stdout and stderr)."""
    number: Comparison | None = None
    """The number in the output (group 1 of ``output`` if it has a group, else the first number)
    compared: ``< 90``, ``>= 1``, ``== 0``."""

    _check_output = field_validator("output")(compile_pattern)


class CommandConfig(CheckConfig):
    command: str
    expect: CommandExpect = Field(default_factory=CommandExpect)


class CommandCheck(CheckType):
    name = "command"
    config_type = CommandConfig

    def render(self, config: Any, render: Callable[[str], str]) -> Any:
        """Everything but the command: its values reach it through the environment (``run``)."""
        rendered = super().render(config, render)
        rendered.command = config.command
        return rendered

    async def run(self, ctx: CheckContext, config: Any) -> CheckResult:
        from opsbook import shellsafe

        result = CheckResult(ctx.name)
        try:
            bound = shellsafe.bind(config.command, lambda expr: ctx.render("${{" + expr + "}}"))
        except shellsafe.ShellValueError as err:
            result.fail("value", str(err))
            return result
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            bound.command,
            cwd=ctx.root,
            env={**ctx.env, **bound.env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            raw, _ = await asyncio.wait_for(proc.communicate(), ctx.timeout)
        except TimeoutError:
            await _kill(proc)
            result.summary = "timed out"
            result.fail("timeout", f"no exit within {ctx.timeout:g}s; its process group was killed")
            return result
        except asyncio.CancelledError:
            await _kill(proc)
            raise
        output = raw[:OUTPUT_LIMIT].decode("utf-8", errors="replace")
        result.summary = f"exit {proc.returncode}"
        _expect(result, config.expect, proc.returncode or 0, output)
        return result


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's process group and reap it (a check has nothing to clean up)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # Drain and close the pipe; a grandchild that left the group cannot hold it for long.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.communicate(), 1.0)


def _expect(result: CheckResult, expect: CommandExpect, code: int, output: str) -> None:
    if code != expect.exit:
        last = output.strip().splitlines()[-1:] or [""]
        tail = f": {last[0][:200]}" if last[0] else ""
        result.fail("exit_code", f"exit code {code}, expected {expect.exit}{tail}")
    match = re.search(expect.output, output) if expect.output is not None else None
    if expect.output is not None and match is None:
        result.fail("output", f"output does not match {expect.output!r}")
    text = match.group(1) if match is not None and match.re.groups else output
    number = first_number(text or "")
    result.value = number
    if expect.number is None:
        return
    if number is None:
        result.fail("number", f"no number in the output to compare with {expect.number!r}")
    elif not compare(expect.number, number):
        result.fail("number", f"number is {number:g}, expected {expect.number}")
