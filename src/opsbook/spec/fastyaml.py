"""A fast first reading of opsbook.yaml with libyaml, for files written in the common plain way.

ruamel.yaml's round-trip loader, which keeps the line numbers that problems are reported at, is
pure Python: 0.15 s for a 1,000-step runbook, more than opsbook then spends running it (see
docs/performance.md). This reader lets libyaml (PyYAML's C parser) build the node tree and turns
it into plain dicts, lists and scalars exactly as ruamel reads YAML 1.2, for the forms it is sure
about: strings, decimal integers and decimals, true/false, null. Anything else (a tag, an
anchor-merge ``<<``, a duplicate or non-string key, a date, a number in another notation, a
``%YAML`` directive, a syntax error, libyaml missing) raises :class:`Unsure`, and the caller
reads the text with ruamel as before. Line numbers are looked up (with ruamel) only when there is
a problem to report.
"""

from __future__ import annotations

import functools
import re
from typing import Any

try:  # PyYAML's libyaml binding; without it every file is read with ruamel
    from yaml import nodes as _nodes
    from yaml.cyaml import CParser
    from yaml.resolver import BaseResolver
except ImportError:  # pragma: no cover - PyYAML is a dependency; its C part is optional
    CParser = None

_IMPLICIT = "tag:opsbook:implicit"
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
}
# Plain scalars starting with anything else are strings in YAML 1.2 (ruamel's resolver).
# A directive (%YAML 1.1 changes the rules) or a tag, even the non-specific "!", is left to ruamel.
_UNSURE_TEXT = re.compile(r"^%|(?:^[ \t]*|[-:?,\[{][ \t]*)!", re.MULTILINE)
_MAYBE_NOT_TEXT = frozenset("0123456789+-.<=!&*")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
# Every non-text form of ruamel's resolver (ints in any base, floats, .inf/.nan, timestamps, the
# merge key, the value key) is written with these characters only; any other one (the s of 2s,
# the / of ./deploy.sh) makes a scalar text without asking ruamel.
_NOT_TEXT_CHARS = re.compile(r"[0-9a-fA-FxXoObB+\-._:iInNtTzZ<= \t]*")
# Digits then letters without e/E (a duration: 1d, 30d, 5min): no int (its bases start 0x, 0o,
# 0b), float (an exponent needs e and digits after it) or timestamp of YAML 1.2 has this form,
# so it is text without asking ruamel's resolver (importing ruamel costs 20 ms).
_UNIT = re.compile(r"[1-9][0-9]*[a-df-zA-DF-Z]+")


class Unsure(Exception):
    """This reader cannot be sure to read the text as ruamel would; read it with ruamel."""


def load(text: str) -> Any:
    """The document as plain Python data, or Unsure."""
    if CParser is None or _UNSURE_TEXT.search(text):
        raise Unsure
    parser = _Parser(text)
    try:
        node = parser.get_single_node()
    except Exception as err:  # libyaml's syntax errors: ruamel words them with their line
        raise Unsure from err
    finally:
        parser.dispose()
    if node is None:
        raise Unsure
    return _value(node, set())


if CParser is not None:

    class _Parser(CParser, BaseResolver):  # type: ignore[misc]
        """libyaml's parser and composer; every implicit tag is left for ``_value`` to decide."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _IMPLICIT


def _value(node: Any, seen: set[int]) -> Any:
    if node.tag != _IMPLICIT:
        raise Unsure  # an explicit tag (!!int, !custom, ...)
    if isinstance(node, _nodes.ScalarNode):
        if not node.style:  # plain (libyaml: '', PyYAML: None)
            return _plain_scalar(node.value)
        return node.value  # quoted, literal or folded: text
    if id(node) in seen:
        raise Unsure  # an alias of a collection (perhaps of itself): left to ruamel
    seen.add(id(node))
    if isinstance(node, _nodes.SequenceNode):
        return [_value(item, seen) for item in node.value]
    if isinstance(node, _nodes.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _value(key_node, seen)
            if not isinstance(key, str) or key in out or key == "<<":
                raise Unsure  # ruamel reports duplicates; non-string keys are converted there
            out[key] = _value(value_node, seen)
        return out
    raise Unsure


def _plain_scalar(value: str) -> Any:
    if value in _WORDS:
        return _WORDS[value]
    if value[0] not in _MAYBE_NOT_TEXT:
        return value
    if _INT.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value):
        return float(value)
    if not _NOT_TEXT_CHARS.fullmatch(value) or _UNIT.fullmatch(value):
        return value
    if _ruamel_tag(value) == "tag:yaml.org,2002:str":
        return value
    raise Unsure  # a date, 0x1f, 1e3, 1_000, .inf, a merge key, ...


@functools.cache
def _resolver() -> Any:
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver()


def _ruamel_tag(value: str) -> str:
    """The tag ruamel's YAML 1.2 resolver gives a plain scalar."""
    from ruamel.yaml.nodes import ScalarNode

    tag = _resolver().resolve(ScalarNode, value, (True, False))
    return str(getattr(tag, "value", tag))
