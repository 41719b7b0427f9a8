"""What the monitoring formats' importers share: a YAML value with its line (:class:`Node`), the
checks every format makes of names, durations and PromQL, and the draft they fill
(:class:`SpecDraft`), which :mod:`opsbook.importer.specfiles` turns into opsbook.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NoReturn

from ruamel.yaml.comments import CommentedMap

from opsbook.errors import Problem, SpecError
from opsbook.spec.loader import Document
from opsbook.spec.models import NAME

DEFAULT_URL = "http://127.0.0.1:9090"
"""Where the imported source points until the file's user sets ``vars.PROMETHEUS_URL``."""


class Format(Enum):
    """The monitoring formats ``opsbook import`` reads (Markdown runbooks are the rest)."""

    SLOTH = "Sloth prometheus/v1 spec"
    OPENSLO = "OpenSLO v1 file"
    RULES = "Prometheus rules file"


@dataclass
class Node:
    """A value of a parsed YAML document with its location, so any problem names its line."""

    doc: Document
    loc: tuple[str | int, ...]
    value: Any

    @property
    def line(self) -> int:
        mark = getattr(self.value, "lc", None)
        if not self.loc and mark is not None and mark.line is not None:
            return int(mark.line) + 1
        return self.doc.line(self.loc)

    @property
    def path(self) -> str:
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out

    def fail(self, message: str) -> NoReturn:
        raise SpecError([Problem(self.doc.file, self.line, self.path, message)])

    def get(self, key: str, *, required: bool = False) -> Node | None:
        if not isinstance(self.value, dict):
            self.fail("expected a mapping (key: value)")
        if key not in self.value or self.value[key] is None:
            if required:
                self.fail(f"'{key}' is missing; add it")
            return None
        return Node(self.doc, (*self.loc, key), self.value[key])

    def need(self, key: str) -> Node:
        found = self.get(key, required=True)
        assert found is not None
        return found

    def text(self, key: str, *, required: bool = False) -> str | None:
        node = self.need(key) if required else self.get(key)
        if node is None:
            return None
        if isinstance(node.value, bool) or not isinstance(node.value, str | int | float):
            node.fail("expected a text value")
        return str(node.value)

    def number(self, key: str, *, required: bool = False) -> float | None:
        node = self.need(key) if required else self.get(key)
        if node is None:
            return None
        try:
            if isinstance(node.value, bool):
                raise ValueError
            return float(node.value)
        except (TypeError, ValueError):
            node.fail(f"{node.value!r} is not a number")

    def items(self, key: str, *, required: bool = False) -> list[Node]:
        node = self.need(key) if required else self.get(key)
        if node is None:
            return []
        if not isinstance(node.value, list):
            node.fail("expected a list")
        return [Node(self.doc, (*node.loc, i), v) for i, v in enumerate(node.value)]

    def strings(self, key: str) -> dict[str, str]:
        """A mapping of plain values (labels, annotations) as text."""
        node = self.get(key)
        if node is None:
            return {}
        if not isinstance(node.value, dict):
            node.fail("expected a mapping of names to values")
        return {str(k): str(v) for k, v in node.value.items() if v is not None}


def identifier(node: Node, what: str) -> str:
    """A name opsbook accepts as a metric, alert or SLO key, or an error at its line."""
    name = str(node.value).strip()
    if not NAME.fullmatch(name) or len(name) > 128:
        shown = name if len(name) <= 40 else name[:40] + "..."
        node.fail(
            f"{what} {shown!r} is not a valid name: start with a letter or _, then letters, "
            "digits, _ . - (at most 128); rename it in the source"
        )
    return name


_PROM_DURATION = re.compile(r"^(\d+(?:ms|s|m|h|d|w|y))+$")
_PROM_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def duration(node: Node) -> str:
    """A Prometheus duration (``5m``, ``1h30m``, ``2w``) as opsbook writes it (``14d``)."""
    text = str(node.value).strip()
    if not _PROM_DURATION.fullmatch(text):
        node.fail(f"{text!r} is not a duration; write e.g. 30s, 5m, 1h30m")
    scale = {"w": (7, "d"), "y": (365, "d")}
    parts = []
    for number, unit in _PROM_PART.findall(text):
        factor, unit = scale.get(unit, (1, unit))
        parts.append(f"{int(number) * factor}{unit}")
    return "".join(parts)


def check_promql(node: Node, query: str) -> None:
    """A query Prometheus would reject is an error at its line, before anything is written."""
    import promql_parser

    try:
        promql_parser.parse(query)
    except (ValueError, TypeError) as err:  # the parser's message, e.g. "unclosed left parenthesis"
        node.fail(f"not valid PromQL: {err}; fix the query")


@dataclass
class Note:
    line: int
    what: str
    why: str


@dataclass
class SpecDraft:
    """What one monitoring file becomes, each item tagged with its source line."""

    file: str
    format: Format
    project: str = "monitoring"
    url: str = DEFAULT_URL
    metrics: CommentedMap = field(default_factory=CommentedMap)
    alerts: CommentedMap = field(default_factory=CommentedMap)
    slos: CommentedMap = field(default_factory=CommentedMap)
    notes: list[Note] = field(default_factory=list)

    def add(self, section: str, name: str, item: dict[str, Any], line: int) -> str:
        """Add ``item`` under ``name`` (``name-2`` ... if taken); returns the name used."""
        target: CommentedMap = getattr(self, section)
        key, number = name, 2
        while key in target:
            key = f"{name}-{number}"
            number += 1
        from opsbook.importer.emit import _text

        target[key] = CommentedMap(
            {k: _text(v) if isinstance(v, str) else v for k, v in item.items()}
        )
        target.yaml_add_eol_comment(f"from {self.file}:{line}", key)
        return key

    def note(self, line: int, what: str, why: str) -> None:
        self.notes.append(Note(line, what[:200], why))
