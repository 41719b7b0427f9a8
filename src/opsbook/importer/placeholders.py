"""``<prod-project-ref>`` placeholders → ``${{ params.prod_project_ref }}``, and literal ``${{``.

A runbook's commands are templates once imported, so text that already holds ``${{`` is escaped
(``${{ '$' }}{{`` renders back to ``${{``) and never read as an expression.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"(?<![<\w])<([A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*)>(?![>\w])")
_ESCAPE = "${{ '$' }}{{"


def param_name(placeholder: str) -> str:
    """``prod-project-ref`` → ``prod_project_ref``."""
    return re.sub(r"[^a-z0-9]+", "_", placeholder.lower()).strip("_")


def escape(text: str) -> str:
    """Text with every literal ``${{`` made inert."""
    return text.replace("${{", _ESCAPE)


def substitute(text: str, params: dict[str, int], line: int) -> str:
    """Escape text, then replace placeholders by param templates, recording each param."""

    def one(match: re.Match[str]) -> str:
        name = param_name(match.group(1))
        params.setdefault(name, line)
        return "${{ params." + name + " }}"

    return PLACEHOLDER.sub(one, escape(text))
